// @concord/relay/internal: the relay's machinery, for this repository's tests,
// simulation and benchmarks: the relay core without HTTP, the document host,
// the group committer, the snapshot codec, the audit history pages and the
// stores' migrations and test hooks. No stability promise: names here change
// with the code they belong to. An operator or embedder imports
// @concord/relay and @concord/relay/store.
export { type RelayCore, type RelayCoreOptions, createRelayCore } from './relay-core.js'
export { type RelaySocket } from './peer.js'
export { DocHost, type ClusterSink } from './doc-host.js'
export { relayRuntime } from './runtime.js'
export { GroupCommitter } from './group-commit.js'
export { encodeSnapshot, decodeSnapshot } from './snapshot-codec.js'
export { AuditCheckpoints, historyPage, type HistoryPage } from './admin-history.js'
export { AWARENESS_TIMEOUT_MS, MAX_CLIENT_IDS_PER_CONNECTION } from './awareness.js'
export type { StoreTestHooks } from './store/types.js'
export { type SqliteMigration, SQLITE_MIGRATIONS } from './store/sqlite-migrations.js'
export { type PostgresMigration, POSTGRES_MIGRATIONS } from './store/postgres-migrations.js'
export { type LoadedDocument, loadDocument } from './store/load.js'
