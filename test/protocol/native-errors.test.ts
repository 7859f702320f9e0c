// Native protocol: every bad frame is a typed error naming its field, never a
// crash, and every frame a decoder accepts is the one canonical encoding.
import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type EventEnvelope, type EventId, type Hlc, type IsoInstant, type PurchaseId, type ReplicaId, isConcordError } from '@concord/core'
import {
  type ClientMessage, type ServerMessage,
  CLIENT_MESSAGE_TYPES, DEFAULT_MAX_FRAME_BYTES, PROTOCOL_VERSION, SERVER_MESSAGE_TYPES,
  decodeClientMessage, decodeEvent, decodeServerMessage, encodeClientMessage, encodeEvent, encodeServerMessage,
} from '@concord/core/protocol'
import { check } from '../support/seed.js'
import { clientMessageArb, envelopeArb, expectError, hex, serverMessageArb } from './arbitraries.js'

type Part = number | string | Uint8Array | { readonly v: number }
/** Builds a frame by hand: a number is a raw byte, `{ v }` a varuint, a string a varString. */
function frame(...parts: Part[]): Uint8Array {
  const e = encoding.createEncoder()
  for (const p of parts) {
    if (typeof p === 'number') encoding.writeUint8(e, p)
    else if (typeof p === 'string') encoding.writeVarString(e, p)
    else if (p instanceof Uint8Array) encoding.writeUint8Array(e, p)
    else encoding.writeVarUint(e, p.v)
  }
  return encoding.toUint8Array(e)
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

const DOC = 'PO-1' as PurchaseId
function event(over: Partial<Record<keyof EventEnvelope, unknown>> = {}): EventEnvelope {
  return {
    id: 'A.1' as EventId,
    docId: DOC,
    actor: 'A' as ReplicaId,
    seq: 1,
    hlc: '001700000000000-000000-A' as Hlc,
    deps: [],
    kind: 'line.add',
    backend: 'yjs',
    payload: new Uint8Array([1, 2, 3]),
    meta: { at: '2026-01-01T00:00:00.000Z' as IsoInstant },
    ...over,
  } as EventEnvelope
}

const decodeC = (b: Uint8Array) => (): unknown => decodeClientMessage(b)
const decodeS = (b: Uint8Array) => (): unknown => decodeServerMessage(b)

function field(e: { details: Record<string, unknown> }): unknown {
  return e.details.field
}

// ---------------------------------------------------------------- truncation, type bytes, trailing bytes

test('every strict prefix of a valid client frame is MALFORMED_FRAME', () => {
  check(
    fc.property(clientMessageArb, (m) => {
      const bytes = encodeClientMessage(m)
      for (let k = 0; k < bytes.length; k++) expectError(decodeC(bytes.subarray(0, k)), 'MALFORMED_FRAME', `${m.t} cut at ${k}/${bytes.length}`)
    }),
    { numRuns: 60 },
  )
})

test('every strict prefix of a valid relay frame is MALFORMED_FRAME', () => {
  check(
    fc.property(serverMessageArb, (m) => {
      const bytes = encodeServerMessage(m)
      for (let k = 0; k < bytes.length; k++) expectError(decodeS(bytes.subarray(0, k)), 'MALFORMED_FRAME', `${m.t} cut at ${k}/${bytes.length}`)
    }),
    { numRuns: 60 },
  )
})

test('every unknown type byte is UNKNOWN_MESSAGE_TYPE, in both directions', () => {
  const client = new Set<number>(Object.values(CLIENT_MESSAGE_TYPES))
  const server = new Set<number>(Object.values(SERVER_MESSAGE_TYPES))
  for (const t of client) assert.not.ok(server.has(t), 'client and relay type bytes are disjoint')
  for (let b = 0; b < 256; b++) {
    for (const tail of [new Uint8Array(), new Uint8Array([0, 1, 2, 3])]) {
      const bytes = concat(new Uint8Array([b]), tail)
      if (!client.has(b)) assert.is(expectError(decodeC(bytes), 'UNKNOWN_MESSAGE_TYPE').details.type, b)
      if (!server.has(b)) assert.is(expectError(decodeS(bytes), 'UNKNOWN_MESSAGE_TYPE').details.type, b)
    }
  }
})

test('trailing bytes after a valid frame are MALFORMED_FRAME', () => {
  check(
    fc.property(clientMessageArb, serverMessageArb, fc.uint8Array({ minLength: 1, maxLength: 16 }), (c, s, junk) => {
      assert.is(field(expectError(decodeC(concat(encodeClientMessage(c), junk)), 'MALFORMED_FRAME')), 'frame')
      assert.is(field(expectError(decodeS(concat(encodeServerMessage(s), junk)), 'MALFORMED_FRAME')), 'frame')
    }),
  )
  const e = encodeEvent(event())
  assert.is(field(expectError(() => decodeEvent(concat(e, new Uint8Array([0]))), 'MALFORMED_FRAME')), 'frame')
})

// ---------------------------------------------------------------- varints and UTF-8

test('varints: overlong, longer than 8 bytes, or above 2^53 - 1 are refused; the maximum is accepted', () => {
  const ping = CLIENT_MESSAGE_TYPES.ping
  assert.is(field(expectError(decodeC(new Uint8Array([ping, 0x80, 0x00])), 'MALFORMED_FRAME')), 'nonce')
  assert.is(field(expectError(decodeC(new Uint8Array([ping, 0xac, 0x82, 0x00])), 'MALFORMED_FRAME')), 'nonce')
  assert.is(field(expectError(decodeC(new Uint8Array([ping, ...Array(8).fill(0xff), 0x01])), 'MALFORMED_FRAME')), 'nonce')
  assert.is(field(expectError(decodeC(new Uint8Array([ping, ...Array(200).fill(0x80), 0x01])), 'MALFORMED_FRAME')), 'nonce')
  // 2^53 is 8 bytes: seven 0x80 then 0x10.
  assert.is(field(expectError(decodeC(new Uint8Array([ping, ...Array(7).fill(0x80), 0x10])), 'MALFORMED_FRAME')), 'nonce')
  const max = encodeClientMessage({ t: 'ping', nonce: Number.MAX_SAFE_INTEGER })
  assert.is(hex(max), '06 ff ff ff ff ff ff ff 0f')
  assert.equal(decodeClientMessage(max), { t: 'ping', nonce: Number.MAX_SAFE_INTEGER })
  // An overlong length prefix is refused too, naming the field it belongs to.
  assert.is(field(expectError(decodeC(new Uint8Array([CLIENT_MESSAGE_TYPES.auth, 0x81, 0x00, 0x41])), 'MALFORMED_FRAME')), 'token length')
})

test('strings that are not valid UTF-8 are MALFORMED_FRAME naming the field', () => {
  const auth = CLIENT_MESSAGE_TYPES.auth
  for (const bad of [[0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0x80], [0xff], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
    const e = expectError(decodeC(new Uint8Array([auth, bad.length, ...bad])), 'MALFORMED_FRAME', hex(new Uint8Array(bad)))
    assert.is(field(e), 'token')
  }
  // A leading byte-order mark is text like any other and survives.
  const bom = '\uFEFFtoken'
  assert.equal(decodeClientMessage(encodeClientMessage({ t: 'auth', token: bom })), { t: 'auth', token: bom })
})

test('encoders refuse unpaired surrogates instead of sending U+FFFD', () => {
  expectError(() => encodeClientMessage({ t: 'auth', token: 'a\uD800' }), 'INVALID_ARGUMENT')
  expectError(() => encodeServerMessage({ t: 'error', code: 'X', message: '\uDC00', fatal: false }), 'INVALID_ARGUMENT')
  const e = expectError(() => encodeEvent(event({ meta: { at: '2026-01-01T00:00:00.000Z', user: '\uD83D' } })), 'INVALID_EVENT')
  assert.is(field(e), 'meta.user')
})

// ---------------------------------------------------------------- frame size

test('frames over maxFrameBytes are FRAME_TOO_LARGE, decoding and encoding', () => {
  const m: ClientMessage = { t: 'push', docId: DOC, events: [event({ payload: new Uint8Array(1000) })] }
  const bytes = encodeClientMessage(m)
  const e = expectError(() => decodeClientMessage(bytes, { maxFrameBytes: bytes.length - 1 }), 'FRAME_TOO_LARGE')
  assert.equal(e.details, { size: bytes.length, max: bytes.length - 1 })
  assert.ok(decodeClientMessage(bytes, { maxFrameBytes: bytes.length }))
  expectError(() => encodeClientMessage(m, { maxFrameBytes: bytes.length - 1 }), 'FRAME_TOO_LARGE')
  expectError(() => decodeServerMessage(new Uint8Array(101), { maxFrameBytes: 100 }), 'FRAME_TOO_LARGE')
  expectError(() => decodeEvent(encodeEvent(event()), { maxFrameBytes: 10 }), 'FRAME_TOO_LARGE')
  // Decoders apply the default limit without options; encoders only apply a limit they are given.
  expectError(() => decodeClientMessage(new Uint8Array(DEFAULT_MAX_FRAME_BYTES + 1)), 'FRAME_TOO_LARGE')
  const huge = encodeClientMessage({ t: 'auth', token: 'x'.repeat(DEFAULT_MAX_FRAME_BYTES) })
  assert.is(huge.length, DEFAULT_MAX_FRAME_BYTES + 5)
  assert.is(expectError(() => decodeClientMessage(huge), 'FRAME_TOO_LARGE').details.max, DEFAULT_MAX_FRAME_BYTES)
  expectError(() => encodeClientMessage({ t: 'ping', nonce: 1 }, { maxFrameBytes: 0 }), 'INVALID_ARGUMENT')
  for (const maxFrameBytes of [0, -1, 1.5, Number.NaN]) expectError(() => decodeClientMessage(bytes, { maxFrameBytes }), 'INVALID_ARGUMENT')
})

test('input that is not bytes is MALFORMED_FRAME', () => {
  for (const bad of ['hello', null, undefined, [1, 2], new ArrayBuffer(2)]) expectError(() => decodeClientMessage(bad as never), 'MALFORMED_FRAME')
})

// ---------------------------------------------------------------- versions

test('hello and welcome of another protocol version are UNSUPPORTED_VERSION, whatever follows', () => {
  // 2 is the layout before event bodies named their backend by a wire id byte.
  for (const version of [0, 1, 2, 300]) {
    const e = expectError(decodeC(frame(CLIENT_MESSAGE_TYPES.hello, { v: version }, 0xff, 0xff)), 'UNSUPPORTED_VERSION')
    assert.equal(e.details, { version, supported: [PROTOCOL_VERSION] })
    const hello = encodeClientMessage({ t: 'hello', version, token: 't', client: 'c', device: 'd' })
    expectError(decodeC(hello), 'UNSUPPORTED_VERSION')
    const welcome = encodeServerMessage({ t: 'welcome', version, relayId: 'r', session: 's', maxFrameBytes: 1, expiresAt: null, user: null, grants: [] })
    expectError(decodeS(welcome), 'UNSUPPORTED_VERSION')
  }
})

// ---------------------------------------------------------------- envelopes

test('encoders refuse envelopes the bytes cannot carry: id/seq mismatch, bad seq, hlc, deps, backend, payload', () => {
  const cases: [Partial<Record<keyof EventEnvelope, unknown>>, string][] = [
    [{ id: 'A.2' }, 'id'],
    [{ id: 'B.1' }, 'id'],
    [{ seq: 0, id: 'A.0' }, 'seq'],
    [{ seq: 1.5, id: 'A.1.5' }, 'seq'],
    [{ hlc: 'yesterday' }, 'hlc'],
    [{ deps: ['A'] }, 'deps'],
    [{ deps: ['A.0'] }, 'deps'],
    [{ deps: ['A.01'] }, 'deps'],
    [{ deps: ['.3'] }, 'deps'],
    [{ deps: 'A.1' }, 'deps'],
    [{ backend: 'sqlite' }, 'backend'],
    [{ payload: [1, 2] }, 'payload'],
    [{ meta: null }, 'meta'],
    [{ meta: { at: 5 } }, 'meta.at'],
    [{ meta: { at: '2026-01-01T00:00:00.000Z', priority: 'urgent' } }, 'meta.priority'],
    [{ kind: 7 }, 'kind'],
  ]
  for (const [over, f] of cases) {
    const e = expectError(() => encodeEvent(event(over)), 'INVALID_EVENT', JSON.stringify(over))
    assert.is(field(e), f, JSON.stringify(over))
  }
  // An event of another document cannot ride in a frame for this one.
  const other = event({ docId: 'PO-2' })
  expectError(() => encodeClientMessage({ t: 'push', docId: DOC, events: [other] }), 'INVALID_EVENT')
  expectError(() => encodeServerMessage({ t: 'events', docId: DOC, events: [{ seq: 1, event: other }], cursor: 1 }), 'INVALID_EVENT')
})

test('decoders validate every envelope: INVALID_EVENT naming the event and the field', () => {
  // The encoder checks only what the bytes need; the decoder runs validateEnvelope.
  const cases: [Partial<Record<keyof EventEnvelope, unknown>>, string][] = [
    [{ actor: 'bad actor', id: 'bad actor.1' }, 'id'],
    [{ kind: 'Not A Kind' }, 'kind'],
    [{ meta: { at: 'yesterday' } }, 'meta.at'],
    [{ deps: ['A.1'] }, 'deps'],
    [{ deps: ['B.1', 'B.1'] }, 'deps'],
    [{ meta: { at: '2026-01-01T00:00:00.000Z', user: 'x'.repeat(201) } }, 'meta.user'],
  ]
  for (const [over, f] of cases) {
    const bytes = encodeClientMessage({ t: 'push', docId: DOC, events: [event(), event(over)] })
    const e = expectError(decodeC(bytes), 'INVALID_EVENT', JSON.stringify(over))
    assert.is(e.details.field, f, JSON.stringify(over))
    assert.is(e.details.event, 'events[1]')
    expectError(() => decodeEvent(encodeEvent(event(over))), 'INVALID_EVENT')
  }
  // seq 0 cannot be encoded; written by hand it makes the id A.0, which is refused.
  const zero = encodeEvent(event())
  assert.is(hex(zero.subarray(0, 10)), '04 50 4f 2d 31 20 00 01 41 01', 'docId, flags, backend, actor, seq')
  zero[9] = 0
  assert.is(expectError(() => decodeEvent(zero), 'INVALID_EVENT').details.field, 'id')
})

// ---------------------------------------------------------------- field values

test('bad field values are MALFORMED_FRAME naming the field', () => {
  const C = CLIENT_MESSAGE_TYPES
  const S = SERVER_MESSAGE_TYPES
  const atMs = { v: Date.parse('2026-01-01T00:00:00.000Z') }
  // An event body written by hand: flags, backend, actor, seq, hlc wall, counter, ref, deps, kind, payload, at.
  const body = (flags: number, ...tail: Part[]): Part[] => bodyOf(flags, 0, ...tail)
  const bodyOf = (flags: number, backend: number, ...tail: Part[]): Part[] => [flags, backend, 'A', { v: 1 }, { v: 1 }, { v: 0 }, { v: 0 }, ...tail]
  // Room for the rest of an event, so that the count check passes and the field itself is at fault.
  const pad = new Uint8Array(12)
  const ev = body(0x20, { v: 0 }, 'k', { v: 0 }, atMs)
  const cases: [string, Uint8Array, 'client' | 'server', string][] = [
    ['a valid hand-written event, as a control', frame(C.push, 'PO-1', { v: 1 }, ...ev, 0), 'client', 'frame'],
    ['unknown backend', frame(C.subscribe, 'PO-1', 2, { v: 0 }), 'client', 'backend'],
    ['empty docId', frame(C.unsubscribe, ''), 'client', 'docId'],
    ['docId with a space', frame(C.unsubscribe, 'PO 1'), 'client', 'docId'],
    ['docId too long', frame(C.unsubscribe, 'P'.repeat(129)), 'client', 'docId'],
    ['push of no events', frame(C.push, 'PO-1', { v: 0 }), 'client', 'events'],
    ['push count beyond the frame', frame(C.push, 'PO-1', { v: 1000 }), 'client', 'events'],
    ['reserved event flag', frame(C.push, 'PO-1', { v: 1 }, ...body(0x80 | 0x20, { v: 0 }, 'k', { v: 0 }, atMs)), 'client', 'events[0].flags'],
    // Protocol 2's backend bit is reserved now: an old body is refused, never read as Yjs.
    ['backend as the old flag bit', frame(C.push, 'PO-1', { v: 1 }, ...body(0x01 | 0x20, { v: 0 }, 'k', { v: 0 }, atMs)), 'client', 'events[0].flags'],
    ['unknown backend id in an event', frame(C.push, 'PO-1', { v: 1 }, ...bodyOf(0x20, 2, { v: 0 }, 'k', { v: 0 }, atMs)), 'client', 'events[0].backend'],
    ['unknown backend id in an events frame', frame(S.events, 'PO-1', { v: 1 }, { v: 5 }, ...bodyOf(0x20, 0xff, { v: 0 }, 'k', { v: 0 }, atMs), { v: 5 }), 'server', 'events[0].backend'],
    ['hlc replica ref past the table', frame(C.push, 'PO-1', { v: 1 }, 0x20, 0, 'A', { v: 1 }, { v: 1 }, { v: 0 }, { v: 2 }, pad), 'client', 'events[0].hlc'],
    ['new replica repeating the actor', frame(C.push, 'PO-1', { v: 1 }, 0x20, 0, 'A', { v: 1 }, { v: 1 }, { v: 0 }, { v: 1 }, 'A', pad), 'client', 'events[0].hlc'],
    ['at as text that has the ms form', frame(C.push, 'PO-1', { v: 1 }, ...body(0x00, { v: 0 }, 'k', { v: 0 }, '2026-01-01T00:00:00.000Z')), 'client', 'events[0].meta.at'],
    ['at past year 9999', frame(C.push, 'PO-1', { v: 1 }, ...body(0x20, { v: 0 }, 'k', { v: 0 }, { v: 253_402_300_800_000 })), 'client', 'events[0].meta.at'],
    ['extra meta not JSON', frame(C.push, 'PO-1', { v: 1 }, ...body(0x60, { v: 0 }, 'k', { v: 0 }, atMs, '{x')), 'client', 'events[0].meta'],
    ['extra meta not canonical', frame(C.push, 'PO-1', { v: 1 }, ...body(0x60, { v: 0 }, 'k', { v: 0 }, atMs, '{ "x": 1 }')), 'client', 'events[0].meta'],
    ['extra meta repeating a known key', frame(C.push, 'PO-1', { v: 1 }, ...body(0x60, { v: 0 }, 'k', { v: 0 }, atMs, '{"user":"u"}')), 'client', 'events[0].meta'],
    ['extra meta empty', frame(C.push, 'PO-1', { v: 1 }, ...body(0x60, { v: 0 }, 'k', { v: 0 }, atMs, '{}')), 'client', 'events[0].meta'],
    ['extra meta an array', frame(C.push, 'PO-1', { v: 1 }, ...body(0x60, { v: 0 }, 'k', { v: 0 }, atMs, '[1]')), 'client', 'events[0].meta'],
    ['events seq not increasing', frame(S.events, 'PO-1', { v: 2 }, { v: 5 }, ...ev, { v: 0 }, ...ev, { v: 0 }), 'server', 'events[1].seq'],
    ['events of none', frame(S.events, 'PO-1', { v: 0 }, { v: 0 }), 'server', 'events'],
    ['ack of no ids', frame(S.ack, 'PO-1', { v: 0 }, { v: 0 }), 'server', 'ids'],
    ['ack id with seq 0', frame(S.ack, 'PO-1', { v: 0 }, { v: 1 }, { v: 0 }, 'A', { v: 0 }), 'server', 'ids[0]'],
    ['ack id with a bad replica', frame(S.ack, 'PO-1', { v: 0 }, { v: 1 }, { v: 0 }, 'A B', { v: 3 }), 'server', 'ids[0]'],
    ['reject with a bad event id', frame(S.reject, 'PO-1', 'A.0', 'CODE', 'why'), 'server', 'id'],
    ['reject with a lower-case code', frame(S.reject, 'PO-1', 'A.1', 'bad', 'why'), 'server', 'code'],
    ['validated with a bad conflict id', frame(S.validated, 'PO-1', { v: 0 }, { v: 1 }, 'c_short'), 'server', 'conflicts[0]'],
    ['error with unknown flags', frame(S.error, 0x04, 'CODE', 'm'), 'server', 'error flags'],
    ['welcome with maxFrameBytes 0', frame(S.welcome, { v: PROTOCOL_VERSION }, 'r', 's', { v: 0 }, 0, { v: 0 }), 'server', 'maxFrameBytes'],
    ['auth info with unknown flags', frame(S.authorized, 0x04, { v: 0 }), 'server', 'auth flags'],
    ['expiresAt not canonical', frame(S.authorized, 0x01, '2026-01-01T00:00Z', { v: 0 }), 'server', 'expiresAt'],
    ['expiresAt not a date', frame(S.authorized, 0x01, 'soon', { v: 0 }), 'server', 'expiresAt'],
    ['grant with no rights', frame(S.authorized, 0x00, { v: 1 }, '*', 0), 'server', 'grants[0].rights'],
    ['grant with an unknown right', frame(S.authorized, 0x00, { v: 1 }, '*', 16), 'server', 'grants[0].rights'],
    ['grant with a bad pattern', frame(S.authorized, 0x00, { v: 1 }, 'a*b', 1), 'server', 'grants[0].doc'],
  ]
  for (const [name, bytes, dir, f] of cases) {
    const e = expectError(dir === 'client' ? decodeC(bytes) : decodeS(bytes), 'MALFORMED_FRAME', name)
    assert.is(field(e), f, name)
    assert.type(e.details.offset, 'number')
  }
})

test('encoders refuse bad field values with INVALID_ARGUMENT', () => {
  const bad: (ClientMessage | ServerMessage)[] = [
    { t: 'ping', nonce: -1 },
    { t: 'ping', nonce: 1.5 },
    { t: 'subscribe', docId: 'bad id' as PurchaseId, backend: 'yjs', cursor: 0, actors: [] },
    { t: 'subscribe', docId: DOC, backend: 'sqlite' as never, cursor: 0, actors: [] },
    { t: 'subscribe', docId: DOC, backend: 'yjs', cursor: 0, actors: ['a b' as ReplicaId] },
    { t: 'subscribe', docId: DOC, backend: 'yjs', cursor: 0, actors: ['a' as ReplicaId, 'a' as ReplicaId] },
    { t: 'subscribe', docId: DOC, backend: 'yjs', cursor: 0, actors: Array.from({ length: 17 }, (_, i) => `a${i}` as ReplicaId) },
    { t: 'caughtUp', docId: DOC, cursor: 0, actorHeads: [{ actor: 'a' as ReplicaId, seq: 0 }] },
    { t: 'push', docId: DOC, events: [] },
    { t: 'events', docId: DOC, events: [{ seq: 2, event: event() }, { seq: 2, event: event() }], cursor: 2 },
    { t: 'events', docId: DOC, events: [{ seq: 2, event: event() }], cursor: 1 },
    { t: 'ack', docId: DOC, ids: [], cursor: 0 },
    { t: 'ack', docId: DOC, ids: ['nope' as EventId], cursor: 0 },
    { t: 'reject', docId: DOC, id: 'A.1' as EventId, code: 'lower', reason: '' },
    { t: 'validated', docId: DOC, cursor: 0, conflicts: ['c_x' as never] },
    { t: 'authorized', expiresAt: '2026-01-01T00:00Z' as IsoInstant, user: null, grants: [] },
    { t: 'authorized', expiresAt: null, user: null, grants: [{ doc: '*', rights: [] }] },
    { t: 'authorized', expiresAt: null, user: null, grants: [{ doc: '*', rights: ['read', 'read'] }] },
    { t: 'authorized', expiresAt: null, user: null, grants: [{ doc: '*', rights: ['admin' as never] }] },
    { t: 'welcome', version: PROTOCOL_VERSION, relayId: 'r', session: 's', maxFrameBytes: 0, expiresAt: null, user: null, grants: [] },
    { t: 'nope' } as never,
  ]
  for (const m of bad) {
    const encode = (): unknown => (m.t in CLIENT_MESSAGE_TYPES ? encodeClientMessage(m as ClientMessage) : encodeServerMessage(m as ServerMessage))
    expectError(encode, 'INVALID_ARGUMENT', JSON.stringify(m))
  }
  expectError(() => encodeServerMessage({ t: 'nope' } as never), 'INVALID_ARGUMENT')
})

test('hostile sizes stay linear: 200,000 distinct dep replicas, an ack of 100,000 replicas', () => {
  // Deps are bounded only by the frame until validateEnvelope runs; a replica
  // table searched linearly would make this take minutes rather than milliseconds.
  const n = 200_000
  const e = encoding.createEncoder()
  encoding.writeUint8(e, CLIENT_MESSAGE_TYPES.push)
  encoding.writeVarString(e, 'PO-1')
  encoding.writeVarUint(e, 1)
  for (const b of [0x20, 0]) encoding.writeUint8(e, b)
  encoding.writeVarString(e, 'A')
  for (const v of [1, 1, 0, 0, n]) encoding.writeVarUint(e, v)
  for (let i = 0; i < n; i++) {
    encoding.writeVarUint(e, i + 1)
    encoding.writeVarString(e, `r${i}`)
    encoding.writeVarUint(e, 1)
  }
  encoding.writeVarString(e, 'k')
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, Date.parse('2026-01-01T00:00:00.000Z'))
  const push = encoding.toUint8Array(e)
  const started = performance.now()
  assert.is(expectError(decodeC(push), 'INVALID_EVENT').details.field, 'deps')
  const ids = Array.from({ length: 100_000 }, (_, i) => `r${i}.${i + 1}` as EventId)
  const ack = decodeServerMessage(encodeServerMessage({ t: 'ack', docId: DOC, ids, cursor: 7 }))
  assert.is(ack.t === 'ack' && ack.ids.length, ids.length)
  console.log(`  ${push.length} + ack bytes decoded in ${(performance.now() - started).toFixed(0)} ms`)
})

// ---------------------------------------------------------------- fuzz

/** Decodes; any failure must be a ConcordError, and anything accepted must re-encode to the same bytes. */
function decodeOrTypedError(bytes: Uint8Array): void {
  for (const [decode, encode] of [
    [decodeClientMessage, encodeClientMessage],
    [decodeServerMessage, encodeServerMessage],
  ] as const) {
    let m: ClientMessage | ServerMessage
    try {
      m = decode(bytes)
    } catch (e) {
      if (!isConcordError(e)) throw new Error(`not a ConcordError for ${hex(bytes)}: ${String(e)}`, { cause: e })
      continue
    }
    assert.equal((encode as (m: unknown) => Uint8Array)(m), bytes, `accepted ${hex(bytes)} is not canonical`)
  }
  try {
    const e = decodeEvent(bytes)
    assert.equal(encodeEvent(e), bytes)
  } catch (e) {
    if (!isConcordError(e)) throw new Error(`not a ConcordError for ${hex(bytes)}: ${String(e)}`, { cause: e })
  }
}

test('fuzz: arbitrary bytes decode or throw a ConcordError, nothing else', () => {
  check(fc.property(fc.uint8Array({ maxLength: 300 }), decodeOrTypedError), { numRuns: 2000 })
  // Starting with a real type byte gets past the first check more often.
  const types = [...Object.values(CLIENT_MESSAGE_TYPES), ...Object.values(SERVER_MESSAGE_TYPES)]
  check(
    fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 100 }), (t, rest) => decodeOrTypedError(concat(new Uint8Array([t]), rest))),
    { numRuns: 3000 },
  )
})

test('fuzz: valid frames with bytes changed, cut or inserted decode or throw a ConcordError', () => {
  const mutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 4 })
  const mutate = (bytes: Uint8Array, muts: [number, number, string][]): Uint8Array => {
    const out = Array.from(bytes)
    for (const [pos, val, op] of muts) {
      const i = pos % (out.length + 1)
      if (op === 'set' && i < out.length) out[i] = val
      else if (op === 'insert') out.splice(i, 0, val)
      else out.splice(i, 1)
    }
    return new Uint8Array(out)
  }
  check(fc.property(clientMessageArb, mutation, (m, muts) => decodeOrTypedError(mutate(encodeClientMessage(m), muts))), { numRuns: 1500 })
  check(fc.property(serverMessageArb, mutation, (m, muts) => decodeOrTypedError(mutate(encodeServerMessage(m), muts))), { numRuns: 1500 })
  check(fc.property(envelopeArb(), mutation, (e, muts) => decodeOrTypedError(mutate(encodeEvent(e), muts))), { numRuns: 1000 })
})

test.run()
