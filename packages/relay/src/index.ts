// @concord/relay: start a relay in-process (embedding, tests, benchmarks), its
// configuration, and the token helpers. The stores are at
// @concord/relay/store. The relay's core without HTTP (what the simulation
// drives), its document host and other machinery are at
// @concord/relay/internal. test/core/public-surface.test.ts pins these names.
export { type Relay, type RelayOptions, startRelay } from './server.js'
export { type RelayConfig, type StoreKind, type Durability, type LogLevel, ConfigError, parseConfig, usage } from './config.js'
export { type Session, type TokenClaims, type TokenVerifier, AuthError, createTokenVerifier, signToken } from './auth.js'
export { RelayMetrics } from './metrics.js'
