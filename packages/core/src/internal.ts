// @concord/core/internal: the machinery under the public surface, for this
// repository's own tests and benchmarks and for what the relay and the client
// build inside themselves (the event log, hashing, backend documents, the write
// inspector, snapshot headers). No stability promise: names here change or go
// with the code they belong to. An application imports @concord/core.
export { fail } from './errors.js'
export { seededRandom } from './ids.js'
export { canonicalJson, isJsonObject } from './json.js'
export { hashText, sha256Hex } from './hash.js'
export { HybridLogicalClock } from './time/hlc.js'
export { validateEnvelope } from './log/envelope.js'
export { type BackendInfo, BACKENDS, backendList, backendOfWireId, backendOfSnapshotCode } from './backends/registry.js'
export {
  type CrdtDoc, type DocSnapshot, type DocWriter, type DocWriteOp, type RegisterEntry, type SetName, type VersionVector,
  SET_NAMES,
} from './backends/backend.js'
export { YjsDoc, validateYjsUpdate, yjsClientIdOf } from './backends/yjs.js'
export { AutomergeDoc, validateAutomergeUpdate, automergeActorOf, registerBucketOf, AUTOMERGE_GENESIS_HEX, REGISTER_BUCKETS } from './backends/automerge.js'
export { wrapSnapshot, unwrapSnapshot, unwrapSnapshotFormat, YJS_V2_FORMAT } from './backends/snapshot-header.js'
export { PatchedMap } from './backends/patched-map.js'
export type { UpdateEffect, EffectOp } from './backends/effect.js'
export { eventHash, sameContent, EVENT_HASH_VERSION } from './log/event-hash.js'
export { EventLog, type AppendResult, type LogSnapshot, type EventLogOptions, replay, eventsUpTo } from './log/event-log.js'
export { readPurchase, hasPurchase } from './purchase/read.js'
export { recordWrites, replayWrites } from './purchase/writes.js'
export {
  checkWrite, effectOfWrites, type WriteRefusal, type WriteRefusalCode, type WriteAuthor, type WriteCheckContext,
} from './purchase/inspect.js'
export { registerSpecOf, checkEntry, checkRecord, RECORD_SCHEMA, TEXTS, type RegisterSpec, type RegisterArea } from './purchase/schema.js'
export { foldLifecycle } from './purchase/lifecycle.js'
export { keyBetween } from './purchase/sort-key.js'
export { priorityOf } from './purchase/event-kinds.js'
export { detectConflicts, detectViolations, conflictIdOf } from './conflicts/detect.js'
export { optionSpec } from './conflicts/registry.js'
export { auditTrailFrom, flattenPurchase } from './purchase/audit.js'
export { decodeLegacyEvent } from './protocol/events.js'
