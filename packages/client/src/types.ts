/**
 * The client's public types: options, status, summaries, notifications.
 */
import type { BackendName, CreatePurchaseInput, Priority, PurchaseId, ReplicaId, Timers } from '@concord/core'
import type { LocalStorage } from './storage/kv.js'
import type { SeatLiveness } from './storage/seats.js'

/** The part of the WebSocket API the client uses (browsers' WebSocket and `ws` both fit). */
export interface SocketLike {
  binaryType: string
  readonly readyState: number
  onopen: ((ev: unknown) => void) | null
  onmessage: ((ev: { readonly data: unknown }) => void) | null
  onclose: ((ev: { readonly code: number; readonly reason: string }) => void) | null
  onerror: ((ev: unknown) => void) | null
  send(data: Uint8Array): void
  close(code?: number, reason?: string): void
}
export type WebSocketConstructor = new (url: string) => SocketLike

/** Timers, injected so tests and the simulation control time (core's port); defaults are the global ones. */
export type { Timers } from '@concord/core'

export type SyncState = 'offline' | 'connecting' | 'syncing' | 'synced' | 'error'
export type NetworkQuality = 'unknown' | 'offline' | 'poor' | 'fair' | 'good'

export interface NetworkInfo {
  /** The platform says it is online (navigator.onLine; true where there is no such signal) and goOffline() was not called. */
  readonly online: boolean
  /** A socket to the relay is open and past the handshake. */
  readonly connected: boolean
  /** Smoothed round-trip time of ping/pong, in ms; null before the first pong. */
  readonly rttMs: number | null
  readonly quality: NetworkQuality
  /** navigator.connection.type / effectiveType where the platform gives them. */
  readonly type: string | null
  /** navigator.connection.saveData (the user asked to save data), where given. */
  readonly saveData: boolean
}

export type BreakerState = 'closed' | 'open' | 'half-open'

export interface ClientError {
  /** An upper-case code: UNAUTHORIZED, UNSUPPORTED_VERSION, PIN_MISMATCH, TOKEN_EXPIRED, STORE_CORRUPT... */
  readonly code: string
  readonly message: string
  /** True when the client stopped trying: the application must act (new token, update, new pin). */
  readonly fatal: boolean
}

export interface ConnectionStatus {
  readonly state: 'idle' | 'offline' | 'policy' | 'waiting' | 'connecting' | 'connected' | 'stopped'
  /** Failed attempts since the last successful handshake. */
  readonly attempt: number
  /** When the next attempt is due (ISO 8601), while waiting. */
  readonly nextRetryAt: string | null
  /** The last delay chosen by the backoff, in ms. */
  readonly lastDelayMs: number | null
  readonly breaker: BreakerState
  readonly lastError: ClientError | null
}

export interface DocStatus {
  readonly state: SyncState
  /** Own events saved here and not yet acknowledged by the relay (the outbox). */
  readonly pending: number
  readonly pendingByPriority: { readonly high: number; readonly normal: number; readonly low: number }
  /** Own sequence number of the latest event saved here, and of the latest the relay stored (all before it too). */
  readonly localHead: number
  readonly acked: number
  /** The relay sequence number the relay validated up to, and whether every acknowledged own event is covered. */
  readonly validatedCursor: number
  readonly validated: boolean
  /** Own events the relay refused. */
  readonly rejected: number
  readonly caughtUp: boolean
  /** The relay sequence number this device has every event of the document up to. */
  readonly cursor: number
  readonly deadLetter: boolean
  readonly lastSyncedAt: string | null
  /** Why it is not synced, in a sentence; null when synced. */
  readonly reason: string | null
}

export interface ClientStatus {
  readonly overall: SyncState
  readonly docs: ReadonlyMap<PurchaseId, DocStatus>
  readonly pending: { readonly high: number; readonly normal: number; readonly low: number }
  readonly lastSyncedAt: string | null
  readonly connection: ConnectionStatus
  readonly network: NetworkInfo
  readonly error?: ClientError
}

export type EventAckStatus = 'saved' | 'stored' | 'validated' | 'rejected'

export interface PurchaseSummary {
  readonly id: PurchaseId
  readonly number: string | null
  readonly supplier: string
  /** Lifecycle state: draft, sent, toApprove, confirmed, locked, closed, cancelled... */
  readonly status: string
  /** The total, formatted in major units with its currency ("1234.50 EUR"). */
  readonly total: string
  readonly currency: string
  readonly conflicts: number
  readonly sync: SyncState
  readonly pending: number
  /** False until the purchase's first event has arrived (opened by id, not yet received). */
  readonly exists: boolean
}

export type Notification =
  | { readonly type: 'sync-failed'; readonly at: string; readonly message: string; readonly code: string; readonly fatal: boolean; readonly suppressed: number }
  | { readonly type: 'offline'; readonly at: string; readonly pending: number; readonly suppressed: number }
  | { readonly type: 'online'; readonly at: string; readonly pending: number; readonly suppressed: number }
  | { readonly type: 'conflict-raised'; readonly at: string; readonly docId: PurchaseId; readonly conflicts: readonly string[]; readonly suppressed: number }
  | { readonly type: 'conflict-resolved-elsewhere'; readonly at: string; readonly docId: PurchaseId; readonly conflicts: readonly string[]; readonly by: string; readonly suppressed: number }
  | { readonly type: 'rejected'; readonly at: string; readonly docId: PurchaseId; readonly eventId: string; readonly code: string; readonly reason: string; readonly suppressed: number }
  | { readonly type: 'dead-letter'; readonly at: string; readonly docId: PurchaseId; readonly reason: string; readonly suppressed: number }
  /**
   * The relay held other content under own event ids (a restored backup, a
   * second writer of the actor): those events were taken out and what they
   * did was written again as `as`, under a fresh actor.
   */
  | { readonly type: 'reissued'; readonly at: string; readonly docId: PurchaseId; readonly eventIds: readonly string[]; readonly as: string | null; readonly reason: string; readonly suppressed: number }
  /** The relay sent an event its schema refuses (an older relay stored it): applied, so this device stays in step, and reported. */
  | { readonly type: 'invalid-received'; readonly at: string; readonly docId: PurchaseId; readonly eventId: string; readonly reason: string; readonly suppressed: number }

export interface QueueStats {
  readonly byDoc: Readonly<Record<string, number>>
  readonly byKind: Readonly<Record<string, number>>
  readonly byPriority: { readonly high: number; readonly normal: number; readonly low: number }
  readonly inFlight: number
  readonly inFlightBytes: number
  /** When the oldest pending event was saved (ISO 8601), or null. */
  readonly oldestSavedAt: string | null
}

export interface DeadLetter {
  readonly docId: PurchaseId
  readonly reason: string
  readonly at: string
  /** The pending own events held back (not sent until retryDeadLetter). */
  readonly events: readonly { readonly id: string; readonly kind: string; readonly priority: Priority }[]
  /**
   * Own events refused and undone on this device: the refused one with the
   * relay's (or the client's) code and reason, and each own event built on it
   * with code DEPENDS_ON_REFUSED. `kind` tells the app what was undone.
   */
  readonly rejected: readonly { readonly id: string; readonly code: string; readonly reason: string; readonly kind?: string }[]
}

export interface RetryOptions {
  /** First backoff ceiling in ms (default 500). */
  readonly initialDelayMs?: number
  /** Largest backoff ceiling in ms (default 30 000). */
  readonly maxDelayMs?: number
  /** Consecutive failed attempts that open the breaker (default 5). */
  readonly breakerThreshold?: number
  /** How long the breaker stays open before one trial attempt, in ms (default 30 000). */
  readonly halfOpenAfterMs?: number
}

export interface ClientOptions {
  /** The relay's native endpoint, ws(s)://host:port/sync. */
  readonly url: string
  /** A token, or a function called for one at each connect and again when it expires. */
  readonly token: string | (() => Promise<string>)
  readonly storage: LocalStorage
  /** Default: generated once and kept in the store. A different id than the store's is refused. */
  readonly replicaId?: ReplicaId
  readonly user?: string
  readonly device?: string
  /** CRDT backend for new purchases (default yjs). */
  readonly backend?: BackendName
  /** AES-GCM key for encryption at rest (CryptoKey, or 16/32 raw bytes). */
  readonly encryptionKey?: CryptoKey | Uint8Array
  /** WebSocket constructor: the global one by default; in Node use '@concord/client/node'. */
  readonly WebSocket?: WebSocketConstructor
  readonly now?: () => number
  readonly random?: () => number
  readonly timers?: Timers
  /** Return false to hold syncing (for example on metered links); re-evaluated on every network change. */
  readonly policy?: (net: NetworkInfo) => boolean
  /** Node wss:// only: SHA-256 fingerprint of the relay's certificate (given to '@concord/client/node'). */
  readonly pinSha256?: string
  /** Connect at once (default true). */
  readonly autoConnect?: boolean
  readonly retry?: RetryOptions
  /** Liveness: ping every pingIntervalMs (default 15 000); no pong within pongTimeoutMs (default 10 000) = dead socket. */
  readonly pingIntervalMs?: number
  readonly pongTimeoutMs?: number
  /** No welcome within this many ms = failed attempt (default 10 000). */
  readonly handshakeTimeoutMs?: number
  /** Send window: at most this many own events and bytes unacknowledged at once (defaults 512 and 1 MiB). */
  readonly maxInFlightEvents?: number
  readonly maxInFlightBytes?: number
  /** Consecutive refusals that move a document to the dead-letter list (default 3). */
  readonly deadLetterAfter?: number
  /** Notifications of one type at most once per this many ms; the rest are counted (default 5 000). */
  readonly notificationIntervalMs?: number
  /** How many purchases to keep loaded besides the open handles (default 16). */
  readonly cacheSize?: number
  /** Client name sent in hello. */
  readonly clientName?: string
  /**
   * How this instance tells a live holder of a store seat from a gone one
   * (storage/seats.ts). Default: Web Locks where the runtime has them;
   * '@concord/client/node' adds the process check.
   */
  readonly seatLiveness?: SeatLiveness
  /** How long a seat lease lasts without renewal, in ms (default 5 minutes; renewed every third of it). */
  readonly seatTtlMs?: number
  /**
   * How the store's running instances tell each other at once that one saved
   * changes: default a BroadcastChannel of that name where the runtime has
   * one; null for none (the others then read the store at their renewal).
   */
  readonly seatChannel?: ((name: string) => SeatChannel) | null
}

/** The part of BroadcastChannel the seat keeper uses. */
export interface SeatChannel {
  onmessage: ((m: { readonly data: unknown }) => void) | null
  postMessage(message: unknown): void
  close(): void
}

export interface CreateOptions extends CreatePurchaseInput {
  /** The purchase id (default: a new ULID). */
  readonly id?: PurchaseId | string
  /** A floor for the document's priority in the outbox. */
  readonly priority?: Priority
  readonly backend?: BackendName
}
