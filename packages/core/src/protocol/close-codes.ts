/**
 * WebSocket close codes, named once here and shared by the relay (which sends
 * them) and the client (which decides from them whether to reconnect). Ours
 * are in the private-use range 4000-4999; the standard ones are those a
 * browser, `ws` or a proxy may produce on its own, so the client can classify
 * every close it sees.
 */
import type { ErrorCode } from '../errors.js'

/**
 * What a client should do after a close:
 * - `reconnect`: try again with backoff (the relay is restarting, busy, or
 *   closed a slow socket);
 * - `refresh-token`: do not retry with the same token; reconnect once the
 *   application supplies a new one;
 * - `stop`: retrying cannot help (a bug, a forged token, a version or backend
 *   mismatch); surface the error.
 */
export type CloseAction = 'reconnect' | 'refresh-token' | 'stop'

export interface CloseCodeInfo {
  readonly code: number
  readonly name: string
  readonly action: CloseAction
  /** True only for `reconnect`: the client may retry on its own. */
  readonly retryable: boolean
  /** A reason for the close frame: at most 123 bytes of UTF-8, as RFC 6455 allows. */
  readonly reason: string
  /** False for codes that must never be sent in a close frame (1005, 1006, 1015). */
  readonly sendable: boolean
}

function info(code: number, name: string, action: CloseAction, reason: string, sendable = true): CloseCodeInfo {
  return Object.freeze({ code, name, action, retryable: action === 'reconnect', reason, sendable })
}

/** The codes Concord sends, by name. */
export const CLOSE = {
  /** The conversation is over by agreement (a client that closes itself). */
  NORMAL: 1000,
  /** The peer is leaving (a browser tab closing, a proxy draining). */
  GOING_AWAY: 1001,
  /** A policy the other codes do not name, such as a text frame on a binary protocol. */
  POLICY_VIOLATION: 1008,
  /** A frame over the relay's maxFrameBytes; `ws` sends 1009 by itself too. */
  FRAME_TOO_LARGE: 1009,
  /** An unexpected relay error; the client retries with backoff. */
  INTERNAL: 1011,
  /** The relay is shutting down gracefully; reconnect, to it or another relay. */
  SHUTTING_DOWN: 4000,
  /** The token is missing, malformed, forged or for another audience. */
  UNAUTHORIZED: 4001,
  /** The token has expired: reconnect only with a fresh one. */
  TOKEN_EXPIRED: 4002,
  /** The token does not grant this document (y-websocket rooms: one document per socket). */
  FORBIDDEN: 4003,
  /** The client speaks a protocol version the relay does not. */
  UNSUPPORTED_VERSION: 4004,
  /** A frame that does not decode, or a message out of place (anything before hello). */
  MALFORMED: 4005,
  /** Too many messages too fast; back off. */
  RATE_LIMITED: 4006,
  /** The client did not read its socket fast enough; it reconnects and catches up. */
  SLOW_CONSUMER: 4007,
  /** No hello (or, for y-websocket, no auth) within the handshake time limit. */
  HANDSHAKE_TIMEOUT: 4008,
  /** The document exists with the other CRDT backend. */
  BACKEND_MISMATCH: 4009,
} as const

export type CloseCodeName = keyof typeof CLOSE

/** Everything known about each code that Concord sends. */
export const CLOSE_CODES: Readonly<Record<CloseCodeName, CloseCodeInfo>> = Object.freeze({
  NORMAL: info(CLOSE.NORMAL, 'NORMAL', 'stop', 'closed normally'),
  GOING_AWAY: info(CLOSE.GOING_AWAY, 'GOING_AWAY', 'reconnect', 'going away'),
  POLICY_VIOLATION: info(CLOSE.POLICY_VIOLATION, 'POLICY_VIOLATION', 'stop', 'policy violation'),
  FRAME_TOO_LARGE: info(CLOSE.FRAME_TOO_LARGE, 'FRAME_TOO_LARGE', 'stop', 'frame too large'),
  INTERNAL: info(CLOSE.INTERNAL, 'INTERNAL', 'reconnect', 'internal relay error'),
  SHUTTING_DOWN: info(CLOSE.SHUTTING_DOWN, 'SHUTTING_DOWN', 'reconnect', 'relay shutting down'),
  UNAUTHORIZED: info(CLOSE.UNAUTHORIZED, 'UNAUTHORIZED', 'stop', 'invalid token'),
  TOKEN_EXPIRED: info(CLOSE.TOKEN_EXPIRED, 'TOKEN_EXPIRED', 'refresh-token', 'token expired'),
  FORBIDDEN: info(CLOSE.FORBIDDEN, 'FORBIDDEN', 'stop', 'document not granted by the token'),
  UNSUPPORTED_VERSION: info(CLOSE.UNSUPPORTED_VERSION, 'UNSUPPORTED_VERSION', 'stop', 'unsupported protocol version'),
  MALFORMED: info(CLOSE.MALFORMED, 'MALFORMED', 'stop', 'protocol violation'),
  RATE_LIMITED: info(CLOSE.RATE_LIMITED, 'RATE_LIMITED', 'reconnect', 'rate limited'),
  SLOW_CONSUMER: info(CLOSE.SLOW_CONSUMER, 'SLOW_CONSUMER', 'reconnect', 'slow consumer'),
  HANDSHAKE_TIMEOUT: info(CLOSE.HANDSHAKE_TIMEOUT, 'HANDSHAKE_TIMEOUT', 'reconnect', 'handshake timeout'),
  BACKEND_MISMATCH: info(CLOSE.BACKEND_MISMATCH, 'BACKEND_MISMATCH', 'stop', 'document uses another backend'),
})

// Standard codes Concord never sends but a client can observe.
const OBSERVED: readonly CloseCodeInfo[] = [
  info(1002, 'PROTOCOL_ERROR', 'stop', 'websocket protocol error'),
  info(1003, 'UNSUPPORTED_DATA', 'stop', 'unsupported data'),
  info(1005, 'NO_STATUS', 'reconnect', 'no status code', false),
  info(1006, 'ABNORMAL', 'reconnect', 'connection lost', false),
  info(1007, 'INVALID_PAYLOAD', 'stop', 'invalid payload data'),
  info(1012, 'SERVICE_RESTART', 'reconnect', 'service restart'),
  info(1013, 'TRY_AGAIN_LATER', 'reconnect', 'try again later'),
  info(1014, 'BAD_GATEWAY', 'reconnect', 'bad gateway'),
  info(1015, 'TLS_HANDSHAKE', 'reconnect', 'TLS handshake failed', false),
]

const BY_CODE: ReadonlyMap<number, CloseCodeInfo> = new Map(
  [...Object.values(CLOSE_CODES), ...OBSERVED].map((i) => [i.code, i] as const),
)

/**
 * What a close code means. Unknown codes (another server's private codes, a
 * future relay's) are treated as transient: reconnecting with backoff is the
 * safe default for a client that cannot tell, and every fatal case Concord
 * knows has a code above.
 */
export function closeCodeInfo(code: number): CloseCodeInfo {
  return BY_CODE.get(code) ?? info(code, 'UNKNOWN', 'reconnect', `close code ${code}`, code >= 3000 && code <= 4999)
}

/** The close code for a typed error the relay could not answer any other way. */
export function closeCodeForError(code: ErrorCode): CloseCodeInfo {
  switch (code) {
    case 'MALFORMED_FRAME':
    case 'UNKNOWN_MESSAGE_TYPE':
    case 'INVALID_EVENT':
      return CLOSE_CODES.MALFORMED
    case 'UNSUPPORTED_VERSION':
      return CLOSE_CODES.UNSUPPORTED_VERSION
    case 'FRAME_TOO_LARGE':
      return CLOSE_CODES.FRAME_TOO_LARGE
    case 'BACKEND_MISMATCH':
      return CLOSE_CODES.BACKEND_MISMATCH
    default:
      return CLOSE_CODES.INTERNAL
  }
}
