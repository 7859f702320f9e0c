// @concord/relay: start a relay in-process (tests, benchmarks, embedding), or
// only its core without HTTP (a simulation), its configuration, and the token
// helpers. The store is at @concord/relay/store.
export { type Relay, type RelayOptions, startRelay } from './server.js'
export { type RelayCore, type RelayCoreOptions, createRelayCore } from './relay-core.js'
export { type RelaySocket } from './peer.js'
export { DocHost, type ClusterSink } from './doc-host.js'
export { relayRuntime } from './runtime.js'
export { type RelayConfig, type StoreKind, type Durability, type LogLevel, ConfigError, parseConfig, usage } from './config.js'
export { type Session, type TokenClaims, type TokenVerifier, AuthError, createTokenVerifier, signToken } from './auth.js'
export { RelayMetrics } from './metrics.js'
export { GroupCommitter } from './group-commit.js'
export { encodeSnapshot, decodeSnapshot } from './snapshot-codec.js'
export { AuditCheckpoints, historyPage, type HistoryPage } from './admin-history.js'
