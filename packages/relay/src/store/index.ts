// The relay's event store: the interface the relay server builds on (see
// types.ts for the contract, method by method) and its three implementations:
//   SqliteEventStore.open({ path, durability })   embedded default, one file
//   PostgresEventStore.open({ connectionString, schema })   cluster mode
//   new MemoryEventStore()   tests and simulations
// The relay acknowledges an event once the append carrying it resolved, and
// loads a document with loadDocument (latest snapshot + the events after it).
// Named exports only; the migrations, loadDocument and the test hooks are at
// @concord/relay/internal.
export {
  type EventStore, type AppendRequest, type AppendResult, type EventOutcome, type StoredEvent, type EventSummary,
  type DocInfo, type ListDocsOptions, type SnapshotInput, type StoredSnapshot, type SnapshotInfo, type PutSnapshotResult,
  DEFAULT_PAGE, MAX_PAGE,
} from './types.js'
export { MemoryEventStore, type MemoryEventStoreOptions } from './memory.js'
export { SqliteEventStore, type SqliteEventStoreOptions, type SqliteDurability, type SqliteSettings } from './sqlite.js'
export { PostgresEventStore, type PostgresEventStoreOptions } from './postgres.js'
