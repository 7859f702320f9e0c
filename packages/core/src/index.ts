// The public surface of @concord/core, what an application builds on: ids,
// money, time, errors, the purchase model and PurchaseReplica, conflicts, the
// backends to pick from. Named exports only, so that an import cycle cannot
// hide behind a barrel. The wire formats are at @concord/core/protocol; the
// machinery that only tests, benchmarks and the sibling packages' internals
// reach into is at @concord/core/internal. test/core/public-surface.test.ts
// pins these names: adding one is a decision, not an accident.
export { ConcordError, isConcordError, type ErrorCode } from './errors.js'
export {
  type PurchaseId, type LineId, type EventId, type ReplicaId, type RecordId, type ConflictId, type RandomSource,
  parsePurchaseId, parseLineId, parseRecordId, parseReplicaId, parseEventId, parseConflictId,
  eventIdOf, splitEventId, createUlidFactory,
} from './ids.js'
export type { Json, JsonObject } from './json.js'
export { type Timers, type Runtime, systemRuntime } from './runtime.js'
export { type Decimal, type DecimalParts, parseDecimal, decimalParts, decimalFromParts, compareDecimal } from './money/decimal.js'
export { type RoundingMode, type TaxRounding, type RoundingPolicy, roundDiv } from './money/rounding.js'
export { type CurrencyCode, type CurrencyExponent, parseCurrencyCode, currencyExponent } from './money/currency.js'
export { type MinorString, parseMinor, minorToString, majorToMinor, formatMinor, multiplyToMinor } from './money/amount.js'
export { type Hlc, type HlcParts, encodeHlc, decodeHlc, parseHlc, compareHlc } from './time/hlc.js'
export {
  type IsoDate, type IsoInstant, type TimeZoneId,
  parseIsoDate, parseIsoInstant, instantFromEpochMs, epochMsOf, parseTimeZone, businessDateOf,
} from './time/dates.js'
export {
  type EventEnvelope, type EventMeta, type Priority,
  PRIORITIES,
} from './log/envelope.js'
export { type BackendName, BACKEND_NAMES, DEFAULT_BACKEND, isBackendName, parseBackendName } from './backends/registry.js'
export { ALL_BACKENDS, backendNamed } from './backends/implementations.js'
export type { CrdtBackend } from './backends/backend.js'
export { yjsBackend } from './backends/yjs.js'
export {
  type PurchaseSettings, type PurchaseState, type PurchaseLine, type PurchaseHeader, type Guarded, type Stamp,
  type LifecycleState, type TransitionAction, type TaxMode, type LineKind, type TaxSnapshot, type UnitPrice,
  type ReceiptRecord, type ReturnRecord, type BillRecord, type PaymentRecord, type RefundRecord, type VoidRecord, type TransitionRecord,
  type ResolutionRecord, type LineRecord, type VoidableSet, type HeaderField, type GuardedField, type StoredClock,
  HEADER_FIELDS, GUARDED_FIELDS,
} from './purchase/model.js'
export { invalidValues, type InvalidValue } from './purchase/invalid.js'
export { BOUNDS } from './purchase/schema.js'
export { derivePurchase, lineAmount, type PurchaseDerived, type PurchaseTotals, type LineTotals, type FlowStatus } from './purchase/derive.js'
export { allowedActions, nextState, type Lifecycle } from './purchase/lifecycle.js'
export { type EventKind, EVENT_KINDS, isEventKind } from './purchase/event-kinds.js'
export { PurchaseReplica, type ReplicaOptions, type ChangeListener, type ChangeOrigin } from './purchase/replica.js'
export type { CreatePurchaseInput } from './purchase/commands/header.js'
export { EDITABLE as EDITABLE_STATES, RECEIVABLE as RECEIVABLE_STATES, BILLABLE as BILLABLE_STATES } from './purchase/commands/context.js'
export type { LineInput, LinePatch } from './purchase/commands/lines.js'
export { type Conflict, type ConflictKind, type ConflictBranch, type ResolutionOption, type Severity, CONFLICT_KINDS } from './conflicts/types.js'
export { SEVERITY } from './conflicts/detect.js'
export { CONFLICT_SPECS, KIND_LABEL, type ConflictOption, isConflictKind } from './conflicts/registry.js'
export type { ConflictSpec, OptionSpec } from './conflicts/spec.js'
export { auditTrail, type AuditEntry, type FieldChange } from './purchase/audit.js'
export { automergeBackend } from './backends/automerge.js'
