/**
 * Typed errors. Every error Concord throws on bad input carries a stable `code`
 * and is recognised by a symbol brand rather than `instanceof`, so an error
 * made by one copy of the package is still recognised by another (two bundled
 * copies of core in one web page, or a relay and a test runner).
 */
const BRAND: unique symbol = Symbol.for('concord.error') as never

export type ErrorCode =
  // input validation
  | 'INVALID_ID'
  | 'INVALID_DECIMAL'
  | 'INVALID_MONEY'
  | 'INVALID_CURRENCY'
  | 'INVALID_DATE'
  | 'INVALID_ARGUMENT'
  // purchase commands refused at write time
  | 'COMMAND_REFUSED'
  /** A command whose input alone exceeds the replica's maxEventBytes (the relay's frame limit): nothing was applied. */
  | 'EVENT_TOO_LARGE'
  | 'NOT_FOUND'
  | 'BLOCKED_BY_CONFLICT'
  /** A write the purchase schema does not allow (purchase/schema.ts): refused by the relay, or by a device before it saves its own change. */
  | 'SCHEMA_VIOLATION'
  /** A write the token may not make: a right it lacks, or an actor that belongs to another writer. */
  | 'FORBIDDEN'
  // documents and backends
  | 'BACKEND_MISMATCH'
  | 'INVALID_UPDATE'
  | 'CORRUPT_SNAPSHOT'
  | 'DOC_NOT_CREATED'
  // event log
  | 'INVALID_EVENT'
  /** One event id, two contents (eventHash): never a duplicate, refused by every log and store. */
  | 'ID_CONFLICT'
  | 'UNKNOWN_EVENT'
  /** A point in history before the snapshot a copy started from: that copy does not hold it event by event. */
  | 'HISTORY_TRUNCATED'
  // wire protocol
  | 'MALFORMED_FRAME'
  | 'UNKNOWN_MESSAGE_TYPE'
  | 'UNSUPPORTED_VERSION'
  | 'FRAME_TOO_LARGE'
  // conflicts
  | 'UNKNOWN_CONFLICT'
  | 'INVALID_RESOLUTION'
  // relay storage
  | 'STORE_CORRUPT'
  /** A local store opened with the wrong encryption key, without its key, or a plain store given a key. */
  | 'STORE_KEY_MISMATCH'
  | 'STORE_SCHEMA_TOO_NEW'
  | 'STORE_CLOSED'
  /** Another running instance holds the part of a local store (its seat) this one was writing. */
  | 'STORE_IN_USE'

export class ConcordError extends Error {
  readonly [BRAND] = true
  readonly code: ErrorCode
  readonly details: Readonly<Record<string, unknown>>
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ConcordError'
    this.code = code
    this.details = details
  }
}

/** True for any Concord error (optionally of one code), whichever copy of core made it. */
export function isConcordError(e: unknown, code?: ErrorCode): e is ConcordError {
  if (typeof e !== 'object' || e === null || (e as Record<symbol, unknown>)[BRAND] !== true) return false
  return code === undefined || (e as ConcordError).code === code
}

export function fail(code: ErrorCode, message: string, details: Record<string, unknown> = {}): never {
  throw new ConcordError(code, message, details)
}
