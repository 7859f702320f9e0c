/**
 * Protocol-level bytes for the load clients: just enough of the y-websocket
 * protocol (and of Hocuspocus' variant, which prefixes every message with the
 * document name and adds an auth step) to handshake, send prepared update
 * frames and recognise the updates that come back. No Y.Doc on the receive
 * path: a load client that decoded every update would saturate a core long
 * before the servers do.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as Y from 'yjs'

export type WireProtocol = 'y-websocket' | 'hocuspocus'

// ---- framing: lib0's encoding, as y-protocols and every y-websocket server use ----

/** A lib0 decoder whose reads past the end throw (lib0 clamps a short byte read and returns undefined for a byte). */
class Reader {
  private readonly d: decoding.Decoder
  constructor(buf: Uint8Array) { this.d = decoding.createDecoder(buf) }
  get done(): boolean { return !decoding.hasContent(this.d) }
  private need(n: number): void {
    if (this.d.pos + n > this.d.arr.length) throw new RangeError('unexpected end of message')
  }
  byte(): number {
    this.need(1)
    return decoding.readUint8(this.d)
  }
  varUint(): number { return decoding.readVarUint(this.d) }
  bytes(len: number): Uint8Array {
    this.need(len)
    return decoding.readUint8Array(this.d, len)
  }
  varBytes(): Uint8Array { return this.bytes(this.varUint()) }
}

/** Builds one message: the writes in order, lib0-encoded. */
function message(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder()
  write(e)
  return encoding.toUint8Array(e)
}

// ---- y-websocket message bodies ----

const SYNC = 0
const STEP1 = 0
const STEP2 = 1
const UPDATE = 2
/** Hocuspocus message types beyond y-websocket's. */
const HP_AUTH = 2
const HP_SYNC_REPLY = 4
const HP_SYNC_STATUS = 8
const HP_AUTH_TOKEN = 0
const HP_AUTHENTICATED = 2

export const EMPTY_STATE_VECTOR = new Uint8Array([0])
/** A v1 update with no structs and an empty delete set. */
export const EMPTY_UPDATE = new Uint8Array([0, 0])

/** Frames a y-websocket message for a protocol (Hocuspocus prefixes the document name). */
export function frame(protocol: WireProtocol, doc: string, body: (e: encoding.Encoder) => void): Buffer {
  return Buffer.from(message((e) => {
    if (protocol === 'hocuspocus') encoding.writeVarString(e, doc)
    body(e)
  }))
}

function syncMessage(protocol: WireProtocol, doc: string, sub: number, bytes: Uint8Array): Buffer {
  return frame(protocol, doc, (e) => {
    encoding.writeVarUint(e, SYNC)
    encoding.writeVarUint(e, sub)
    encoding.writeVarUint8Array(e, bytes)
  })
}

export function syncStep1(protocol: WireProtocol, doc: string, sv: Uint8Array = EMPTY_STATE_VECTOR): Buffer {
  return syncMessage(protocol, doc, STEP1, sv)
}

export function syncStep2(protocol: WireProtocol, doc: string, update: Uint8Array = EMPTY_UPDATE): Buffer {
  return syncMessage(protocol, doc, STEP2, update)
}

export function updateFrame(protocol: WireProtocol, doc: string, update: Uint8Array): Buffer {
  return syncMessage(protocol, doc, UPDATE, update)
}

/** Hocuspocus: the auth message every connection sends first (empty token; the bench server has no auth hook). */
export function hocuspocusAuth(doc: string, token = ''): Buffer {
  return frame('hocuspocus', doc, (e) => {
    encoding.writeVarUint(e, HP_AUTH)
    encoding.writeVarUint(e, HP_AUTH_TOKEN)
    encoding.writeVarString(e, token)
  })
}

export type Incoming =
  | { readonly kind: 'update'; readonly update: Uint8Array }
  | { readonly kind: 'step1'; readonly stateVector: Uint8Array }
  | { readonly kind: 'step2'; readonly update: Uint8Array }
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'other'; readonly type: number }

/** Classifies one received frame. */
export function parseIncoming(protocol: WireProtocol, data: Uint8Array): Incoming {
  const r = new Reader(data)
  if (protocol === 'hocuspocus') r.varBytes()
  const type = r.varUint()
  if (type === SYNC || (protocol === 'hocuspocus' && type === HP_SYNC_REPLY)) {
    const sub = r.varUint()
    if (sub === UPDATE) return { kind: 'update', update: r.varBytes() }
    if (sub === STEP2) return { kind: 'step2', update: r.varBytes() }
    if (sub === STEP1) return { kind: 'step1', stateVector: r.varBytes() }
    return { kind: 'other', type: 100 + sub }
  }
  if (protocol === 'hocuspocus' && type === HP_AUTH) {
    const sub = r.varUint()
    if (sub === HP_AUTHENTICATED) return { kind: 'authenticated' }
  }
  if (protocol === 'hocuspocus' && type === HP_SYNC_STATUS) return { kind: 'other', type }
  return { kind: 'other', type }
}

/** A run of consecutive clocks of one client inside an update. */
export interface ClockRange {
  readonly client: number
  readonly clock: number
  readonly length: number
}

/**
 * Which (client, clock) ranges an update carries. Fast path for the shape the
 * load clients send and simple servers echo (one client, one string item);
 * anything else (Hocuspocus merges the updates of one event-loop turn) goes
 * through Yjs' own parser.
 */
export function updateRanges(update: Uint8Array): ClockRange[] {
  try {
    const r = new Reader(update)
    if (r.varUint() === 1 && r.varUint() === 1) {
      const client = r.varUint()
      const clock = r.varUint()
      const info = r.byte()
      if ((info & 0x80) !== 0) { r.varUint(); r.varUint() }
      if ((info & 0x40) !== 0) { r.varUint(); r.varUint() }
      if ((info & 0xc0) === 0) {
        if (r.varUint() === 1) r.varBytes()
        else { r.varUint(); r.varUint() }
        if ((info & 0x20) !== 0) r.varBytes()
      }
      if ((info & 0x1f) === 4) {
        // ContentString: the load clients only send ASCII, so bytes = clocks.
        const length = r.varUint()
        r.bytes(length)
        if (r.varUint() === 0 && r.done) return [{ client, clock, length }]
      }
    }
  } catch {
    // Fall through to the full parser.
  }
  const meta = Y.parseUpdateMeta(update)
  const out: ClockRange[] = []
  for (const [client, to] of meta.to) {
    const from = meta.from.get(client) ?? 0
    if (to > from) out.push({ client, clock: from, length: to - from })
  }
  return out
}
