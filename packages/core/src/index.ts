// The public surface of @concord/core: named exports only, so that what is
// internal stays internal and an import cycle cannot hide behind a barrel.
export { ConcordError, isConcordError, fail, type ErrorCode } from './errors.js'
export {
  type PurchaseId, type LineId, type EventId, type ReplicaId, type RecordId, type ConflictId, type RandomSource,
  parsePurchaseId, parseLineId, parseRecordId, parseReplicaId, parseEventId, parseConflictId,
  eventIdOf, splitEventId, createUlidFactory, seededRandom,
} from './ids.js'
export { type Json, type JsonObject, canonicalJson, isJsonObject } from './json.js'
export { hashText, sha256Hex } from './hash.js'
export { type Timers, type Runtime, systemRuntime } from './runtime.js'
export { type Decimal, type DecimalParts, parseDecimal, decimalParts, decimalFromParts, compareDecimal } from './money/decimal.js'
export { type RoundingMode, type TaxRounding, type RoundingPolicy, roundDiv } from './money/rounding.js'
export { type CurrencyCode, type CurrencyExponent, parseCurrencyCode, currencyExponent } from './money/currency.js'
export { type MinorString, parseMinor, minorToString, majorToMinor, formatMinor, multiplyToMinor } from './money/amount.js'
export { type Hlc, type HlcParts, HybridLogicalClock, encodeHlc, decodeHlc, parseHlc, compareHlc } from './time/hlc.js'
export {
  type IsoDate, type IsoInstant, type TimeZoneId,
  parseIsoDate, parseIsoInstant, instantFromEpochMs, epochMsOf, parseTimeZone, businessDateOf,
} from './time/dates.js'
export {
  type EventEnvelope, type EventMeta, type Priority,
  PRIORITIES, validateEnvelope,
} from './log/envelope.js'
export {
  type BackendName, type BackendInfo,
  BACKENDS, BACKEND_NAMES, DEFAULT_BACKEND, isBackendName, parseBackendName, backendList, backendOfWireId, backendOfSnapshotCode,
} from './backends/registry.js'
export { ALL_BACKENDS, backendNamed } from './backends/implementations.js'
export {
  type CrdtBackend, type CrdtDoc, type DocSnapshot, type DocWriter, type DocWriteOp, type RegisterEntry, type SetName, type VersionVector,
  SET_NAMES,
} from './backends/backend.js'
export { yjsBackend, YjsDoc, validateYjsUpdate, yjsClientIdOf } from './backends/yjs.js'
export { wrapSnapshot, unwrapSnapshot, unwrapSnapshotFormat, YJS_V2_FORMAT } from './backends/snapshot-header.js'
export { PatchedMap } from './backends/patched-map.js'
export { eventHash, sameContent, EVENT_HASH_VERSION } from './log/event-hash.js'
export { EventLog, type AppendResult, type LogSnapshot, type EventLogOptions, replay, eventsUpTo } from './log/event-log.js'
export {
  type PurchaseSettings, type PurchaseState, type PurchaseLine, type PurchaseHeader, type Guarded, type Stamp,
  type LifecycleState, type TransitionAction, type TaxMode, type LineKind, type TaxSnapshot, type UnitPrice,
  type ReceiptRecord, type ReturnRecord, type BillRecord, type PaymentRecord, type VoidRecord, type TransitionRecord,
  type ResolutionRecord, type LineRecord, type VoidableSet, type HeaderField, type GuardedField, type StoredClock,
  HEADER_FIELDS, GUARDED_FIELDS,
} from './purchase/model.js'
export { readPurchase, hasPurchase } from './purchase/read.js'
export { invalidValues, type InvalidValue } from './purchase/invalid.js'
export { recordWrites, replayWrites } from './purchase/writes.js'
export {
  checkWrite, effectOfWrites, type WriteRefusal, type WriteRefusalCode, type WriteAuthor, type WriteCheckContext,
} from './purchase/inspect.js'
export { BOUNDS, registerSpecOf, checkEntry, checkRecord, RECORD_SCHEMA, TEXTS, type RegisterSpec, type RegisterArea } from './purchase/schema.js'
export type { UpdateEffect, EffectOp } from './backends/effect.js'
export { derivePurchase, lineAmount, type PurchaseDerived, type PurchaseTotals, type LineTotals, type FlowStatus } from './purchase/derive.js'
export { foldLifecycle, allowedActions, nextState, type Lifecycle } from './purchase/lifecycle.js'
export { keyBetween } from './purchase/sort-key.js'
export { type EventKind, EVENT_KINDS, isEventKind, priorityOf } from './purchase/event-kinds.js'
export {
  PurchaseReplica,
  type ReplicaOptions, type CreatePurchaseInput, type LineInput, type LinePatch, type ChangeListener, type ChangeOrigin,
} from './purchase/replica.js'
export { type Conflict, type ConflictKind, type ConflictBranch, type ResolutionOption, type Severity, CONFLICT_KINDS } from './conflicts/types.js'
export { detectConflicts, detectViolations, conflictIdOf, SEVERITY } from './conflicts/detect.js'
export { auditTrail, auditTrailFrom, flattenPurchase, type AuditEntry, type FieldChange } from './purchase/audit.js'
export { automergeBackend, AutomergeDoc, validateAutomergeUpdate, automergeActorOf, registerBucketOf, AUTOMERGE_GENESIS_HEX, REGISTER_BUCKETS } from './backends/automerge.js'
