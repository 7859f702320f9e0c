/**
 * Refusal codes, named once here and shared by the relay (which sends them in
 * `reject`, and in a document's non-fatal `error`) and the client (which
 * decides from them what becomes of a person's change), as close-codes.ts
 * does for the socket. Only a final refusal undoes a change: a relay that
 * lacks a dependency, could not reach its store or holds other content under
 * the id says nothing about the change itself.
 *
 * What a client does:
 * - `undo`: the change is refused for what it does (schema, rights, size):
 *   undo it and its own dependents, tell the person;
 * - `catch-up`: the relay lacks something the change depends on: subscribe
 *   again (the relay reads its store), then send the change again;
 * - `retry`: a passing failure (the store, a rate limit): send again after a
 *   pause;
 * - `refresh-token`: send again once the application gives a fresh token;
 * - `reissue`: the id names other content on the relay (a restored backup, a
 *   second writer of the actor): move to a fresh actor and send the change
 *   again under it;
 * - `stop`: retrying cannot help and the change is not at fault (a backend
 *   mismatch, a protocol bug): keep the change, stop sending the document,
 *   surface the error.
 */
export type RejectAction = 'undo' | 'catch-up' | 'retry' | 'refresh-token' | 'reissue' | 'stop'

export interface RejectCodeInfo {
  readonly code: string
  readonly action: RejectAction
  /** True only for `undo`: the relay will never take this change. */
  readonly final: boolean
  /** What it means, in a sentence a person can read. */
  readonly meaning: string
}

function info(code: string, action: RejectAction, meaning: string): RejectCodeInfo {
  return Object.freeze({ code, action, final: action === 'undo', meaning })
}

/** Every code a Concord relay (or a client, before sending) refuses an event with. */
export const REJECT_CODES = Object.freeze({
  SCHEMA_VIOLATION: info('SCHEMA_VIOLATION', 'undo', 'the change writes something the purchase schema does not allow'),
  FORBIDDEN: info('FORBIDDEN', 'undo', 'the token does not allow this change'),
  INVALID_EVENT: info('INVALID_EVENT', 'undo', 'the event is malformed'),
  INVALID_UPDATE: info('INVALID_UPDATE', 'undo', 'the change does not decode'),
  COMMAND_REFUSED: info('COMMAND_REFUSED', 'undo', 'the purchase does not allow this change now'),
  FRAME_TOO_LARGE: info('FRAME_TOO_LARGE', 'undo', 'the change is larger than the relay accepts'),
  EVENT_TOO_LARGE: info('EVENT_TOO_LARGE', 'undo', 'the change is larger than the relay accepts'),
  UNKNOWN_EVENT: info('UNKNOWN_EVENT', 'catch-up', 'the relay lacks an event the change depends on'),
  STORE_UNAVAILABLE: info('STORE_UNAVAILABLE', 'retry', 'the relay could not reach its store'),
  RATE_LIMITED: info('RATE_LIMITED', 'retry', 'too many changes too fast'),
  TOKEN_EXPIRED: info('TOKEN_EXPIRED', 'refresh-token', 'the token expired'),
  ID_CONFLICT: info('ID_CONFLICT', 'reissue', 'the relay holds other content under this event id'),
  BACKEND_MISMATCH: info('BACKEND_MISMATCH', 'stop', 'the purchase uses the other CRDT backend'),
} satisfies Record<string, RejectCodeInfo>)

export type RejectCode = keyof typeof REJECT_CODES

/**
 * What a refusal code means. An unknown code (a newer relay's) is handled
 * conservatively: the change is kept, not undone, and the document stops
 * sending until someone looks, because undoing on a guess would lose work.
 */
export function rejectCodeInfo(code: string): RejectCodeInfo {
  return Object.hasOwn(REJECT_CODES, code) ? REJECT_CODES[code as RejectCode] : info(code, 'stop', `refused with ${code}, a code this client does not know`)
}
