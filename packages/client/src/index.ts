/**
 * @concord/client: the offline-first sync client (browser-safe entry; Node
 * extras such as SQLite storage, the `ws` transport and certificate pinning
 * are in '@concord/client/node').
 *
 * Deviations from the contract in the task brief, for the web app's side:
 * - `createClient` also takes `timers`, `retry`, `pingIntervalMs`,
 *   `pongTimeoutMs`, `handshakeTimeoutMs`, `maxInFlightEvents`,
 *   `maxInFlightBytes`, `deadLetterAfter`, `notificationIntervalMs`,
 *   `cacheSize`, `clientName` (all optional, documented in types.ts).
 * - `WebSocket` is typed as `WebSocketConstructor` (the part of the API used),
 *   so both the browser's WebSocket and `ws` fit. `pinSha256` only has an
 *   effect through `nodeWebSocket({ pinSha256 })` / `createNodeClient` from
 *   '@concord/client/node' (browsers cannot pin certificates).
 * - `createPurchase(input)` also takes `id` and `backend`; `open(id, { backend })`
 *   names the backend of a purchase not yet on the device (default: the
 *   client's `backend`).
 * - `client.status` also has `connection` (state, attempt, nextRetryAt,
 *   lastDelayMs, breaker: closed | open | half-open, lastError) and `network`
 *   (online, connected, rttMs, quality, type, saveData).
 * - DocStatus: `{ state, pending, pendingByPriority, localHead, acked,
 *   validatedCursor, validated (boolean), rejected (count), caughtUp,
 *   deadLetter, lastSyncedAt, reason }`.
 * - Extra client methods: `retryDeadLetter(docId)`, `docStatus(docId)`;
 *   `close({ abandon: true })` simulates a crash (tests).
 * - Extra handle members: `exists`, `resolve(conflictId, option, params, note)`,
 *   `saved()` (for commands called on `handle.replica` directly), `close()`.
 *   `handle.onChange` reports `{ origin: 'local' | 'remote' | 'reload' | 'status', events }`.
 * - Notifications also include `rejected` and `dead-letter`; every one has
 *   `at` (ISO 8601) and `suppressed` (how many of its type the rate limit held back).
 * - Browser storage does not use y-indexeddb; see storage/indexeddb.ts for why.
 * - A wrong key, a missing key or a key given to a plain store is ConcordError
 *   STORE_KEY_MISMATCH (`details.reason` WRONG_KEY | KEY_REQUIRED |
 *   NOT_ENCRYPTED); an unreadable store is STORE_CORRUPT; a newer store is
 *   STORE_SCHEMA_TOO_NEW.
 */
export { createClient, SyncClient } from './client.js'
export { PurchaseHandle, type DocChange } from './handle.js'
export { memoryStorage, type MemoryStorage } from './storage/memory.js'
export { indexedDbStorage } from './storage/indexeddb.js'
export { type LocalStorage, type KvBackend, type KvOp, type ScanOptions, type Table, type WriteGuard } from './storage/kv.js'
export { DEFAULT_RETRY } from './retry.js'
export type {
  ClientOptions, ClientStatus, ClientError, ConnectionStatus, CreateOptions, DeadLetter, DocStatus, EventAckStatus,
  NetworkInfo, NetworkQuality, Notification, PurchaseSummary, QueueStats, RetryOptions, SocketLike, SyncState, Timers,
  WebSocketConstructor, BreakerState, SeatChannel,
} from './types.js'
export type { Lease, SeatLiveness } from './storage/seats.js'
