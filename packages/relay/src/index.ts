// @concord/relay: start a relay in-process (tests, benchmarks, embedding),
// its configuration, and the token helpers. The store is at @concord/relay/store.
export { type Relay, type RelayOptions, startRelay } from './server.js'
export { type RelayConfig, type StoreKind, type Durability, type LogLevel, ConfigError, parseConfig, usage } from './config.js'
export { type Session, type TokenClaims, type TokenVerifier, AuthError, createTokenVerifier, signToken } from './auth.js'
export { RelayMetrics } from './metrics.js'
export { GroupCommitter } from './group-commit.js'
export { encodeSnapshot, decodeSnapshot } from './snapshot-codec.js'
export { AuditCheckpoints, historyPage, type HistoryPage } from './admin-history.js'
