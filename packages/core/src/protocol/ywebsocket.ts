/**
 * The y-websocket protocol, byte for byte as y-protocols writes it, so that
 * the unmodified y-websocket client can talk to the relay:
 *
 *   00 00 <varbytes state vector>   sync step 1
 *   00 01 <varbytes update>         sync step 2
 *   00 02 <varbytes update>         update
 *   01 <varbytes awareness update>  awareness
 *   02 00 <varstring reason>        permission denied
 *   03                              query awareness
 *
 * Type and sub-type are varints in y-protocols; every value in use fits one
 * byte, and a longer (overlong) encoding is refused like any other. Updates
 * stay opaque bytes here: whether they are valid Yjs is the backend's call.
 * The v3 client reads one message per frame, so a frame holding more (or
 * anything after its message) is refused as trailing bytes.
 */
import { fail } from '../errors.js'
import { type CodecOptions, FrameReader, FrameWriter } from './wire.js'

export interface YSyncStep1 {
  readonly t: 'syncStep1'
  readonly stateVector: Uint8Array
}
export interface YSyncStep2 {
  readonly t: 'syncStep2'
  readonly update: Uint8Array
}
export interface YUpdate {
  readonly t: 'update'
  readonly update: Uint8Array
}
export interface YAwareness {
  /** The payload is an awareness update: see decodeAwarenessUpdate. */
  readonly t: 'awareness'
  readonly update: Uint8Array
}
export interface YAuthPermissionDenied {
  readonly t: 'authPermissionDenied'
  readonly reason: string
}
export interface YQueryAwareness {
  readonly t: 'queryAwareness'
}

export type YMessage = YSyncStep1 | YSyncStep2 | YUpdate | YAwareness | YAuthPermissionDenied | YQueryAwareness

/** Outer message types (y-websocket). */
export const Y_MESSAGE_TYPES = { sync: 0, awareness: 1, auth: 2, queryAwareness: 3 } as const
/** Sub-types of a sync message (y-protocols/sync). */
export const Y_SYNC_TYPES = { syncStep1: 0, syncStep2: 1, update: 2 } as const
/** Sub-types of an auth message (y-protocols/auth). */
export const Y_AUTH_TYPES = { permissionDenied: 0 } as const

function unknownType(kind: string, type: number, offset: number): never {
  return fail('UNKNOWN_MESSAGE_TYPE', `unknown y-websocket ${kind} type ${type}`, { type, offset })
}

export function encodeYMessage(m: YMessage, options?: CodecOptions): Uint8Array {
  const w = new FrameWriter()
  switch (m.t) {
    case 'syncStep1':
      w.u8(Y_MESSAGE_TYPES.sync)
      w.u8(Y_SYNC_TYPES.syncStep1)
      w.bytes('stateVector', m.stateVector)
      break
    case 'syncStep2':
      w.u8(Y_MESSAGE_TYPES.sync)
      w.u8(Y_SYNC_TYPES.syncStep2)
      w.bytes('update', m.update)
      break
    case 'update':
      w.u8(Y_MESSAGE_TYPES.sync)
      w.u8(Y_SYNC_TYPES.update)
      w.bytes('update', m.update)
      break
    case 'awareness':
      w.u8(Y_MESSAGE_TYPES.awareness)
      w.bytes('update', m.update)
      break
    case 'authPermissionDenied':
      w.u8(Y_MESSAGE_TYPES.auth)
      w.u8(Y_AUTH_TYPES.permissionDenied)
      w.string('reason', m.reason)
      break
    case 'queryAwareness':
      w.u8(Y_MESSAGE_TYPES.queryAwareness)
      break
    default:
      return fail('INVALID_ARGUMENT', `cannot encode a y-websocket message of unknown type ${JSON.stringify((m satisfies never as { t: unknown }).t)}`, {
        field: 't',
      })
  }
  return w.finish(options)
}

/**
 * Decodes one y-websocket frame. Throws MALFORMED_FRAME, UNKNOWN_MESSAGE_TYPE
 * (outer type 4 and above, sync sub-type 3 and above, auth sub-type 1 and
 * above) or FRAME_TOO_LARGE. Byte arrays are copies, not views of the frame.
 */
export function decodeYMessage(bytes: Uint8Array, options?: CodecOptions): YMessage {
  const r = new FrameReader(bytes, options)
  const m = readYMessage(r)
  r.end()
  return m
}

function readYMessage(r: FrameReader): YMessage {
  const typeAt = r.offset
  const type = r.uint('message type')
  switch (type) {
    case Y_MESSAGE_TYPES.sync: {
      const subAt = r.offset
      const sub = r.uint('sync type')
      switch (sub) {
        case Y_SYNC_TYPES.syncStep1:
          return { t: 'syncStep1', stateVector: r.bytes('stateVector') }
        case Y_SYNC_TYPES.syncStep2:
          return { t: 'syncStep2', update: r.bytes('update') }
        case Y_SYNC_TYPES.update:
          return { t: 'update', update: r.bytes('update') }
        default:
          return unknownType('sync message', sub, subAt)
      }
    }
    case Y_MESSAGE_TYPES.awareness:
      return { t: 'awareness', update: r.bytes('update') }
    case Y_MESSAGE_TYPES.auth: {
      const subAt = r.offset
      const sub = r.uint('auth type')
      if (sub !== Y_AUTH_TYPES.permissionDenied) return unknownType('auth message', sub, subAt)
      return { t: 'authPermissionDenied', reason: r.string('reason') }
    }
    case Y_MESSAGE_TYPES.queryAwareness:
      return { t: 'queryAwareness' }
    default:
      return unknownType('message', type, typeAt)
  }
}

// ---------------------------------------------------------------- awareness

/** One client's entry in an awareness update. */
export interface AwarenessEntry {
  /** The Yjs client id of the peer whose state this is. */
  readonly clientId: number
  /** Increases with each change of that peer's state; the newer clock wins. */
  readonly clock: number
  /**
   * The state as JSON text, exactly as sent (so the relay can forward it
   * unchanged); `null` when the peer has left. Checked to be valid JSON.
   */
  readonly state: string
}

/** True when an entry says its peer has left (its state is JSON null). */
export function isAwarenessRemoval(entry: AwarenessEntry): boolean {
  // Valid JSON whose trimmed text is `null` is exactly the JSON null value.
  return entry.state.trim() === 'null'
}

export function encodeAwarenessUpdate(entries: readonly AwarenessEntry[], options?: CodecOptions): Uint8Array {
  const w = new FrameWriter()
  if (!Array.isArray(entries)) w.invalid('entries', 'must be an array')
  w.uint('entries', entries.length)
  entries.forEach((e, i) => {
    w.uint(`entries[${i}].clientId`, e?.clientId)
    w.uint(`entries[${i}].clock`, e.clock)
    if (typeof e.state !== 'string' || !isJsonText(e.state)) w.invalid(`entries[${i}].state`, 'must be JSON text')
    w.string(`entries[${i}].state`, e.state)
  })
  return w.finish(options)
}

/**
 * Reads an awareness update (the payload of an `awareness` message): a count,
 * then per peer its client id, clock and state as JSON text. A state that is
 * not JSON is refused here, since y-protocols' `JSON.parse` would otherwise
 * throw in every client it is forwarded to.
 */
export function decodeAwarenessUpdate(bytes: Uint8Array, options?: CodecOptions): AwarenessEntry[] {
  const r = new FrameReader(bytes, options)
  // Each entry takes at least three bytes: id, clock, and a state length.
  const n = r.count('entries', 3)
  const entries: AwarenessEntry[] = []
  for (let i = 0; i < n; i++) {
    const clientId = r.uint(`entries[${i}].clientId`)
    const clock = r.uint(`entries[${i}].clock`)
    const at = r.offset
    const state = r.string(`entries[${i}].state`)
    if (!isJsonText(state)) r.malformed(`entries[${i}].state`, 'is not JSON', at)
    entries.push({ clientId, clock, state })
  }
  r.end()
  return entries
}

function isJsonText(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
