// Native protocol: every message type round-trips, encodings are canonical,
// and the event encoding stays small.
import fc from 'fast-check'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type EventEnvelope, type EventId, type Hlc, type IsoInstant, type PurchaseId, type ReplicaId } from '@concord/core'
import { validateEnvelope } from '@concord/core/internal'
import {
  type ClientMessage, type ServerMessage,
  CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES, PROTOCOL_VERSION,
  decodeClientMessage, decodeEvent, decodeServerMessage, encodeClientMessage, encodeEvent, encodeEventBody, encodeEventsFrame, encodeEventsFrameOfBodies,
  encodeServerMessage,
  grantCovers, rightsFor,
} from '@concord/core/protocol'
import { check } from '../support/seed.js'
import { clientMessageArbs, envelopeArb, expectError, hex, plain, serverMessageArbs } from './arbitraries.js'

test('generated envelopes are valid (the generator itself is checked)', () => {
  check(fc.property(envelopeArb(), (e) => void validateEnvelope(e)), { numRuns: 300 })
})

for (const t of Object.keys(clientMessageArbs) as ClientMessage['t'][]) {
  test(`client ${t}: decode(encode(m)) = m and encode(decode(bytes)) = bytes`, () => {
    check(
      fc.property(clientMessageArbs[t] as fc.Arbitrary<ClientMessage>, (m) => {
        const bytes = encodeClientMessage(m)
        assert.is(bytes[0], CLIENT_MESSAGE_TYPES[t])
        const back = decodeClientMessage(bytes)
        assert.equal(back, plain(m))
        assert.equal(encodeClientMessage(back), bytes)
      }),
      { numRuns: t === 'push' ? 150 : 100 },
    )
  })
}

for (const t of Object.keys(serverMessageArbs) as ServerMessage['t'][]) {
  test(`server ${t}: decode(encode(m)) = m and encode(decode(bytes)) = bytes`, () => {
    check(
      fc.property(serverMessageArbs[t] as fc.Arbitrary<ServerMessage>, (m) => {
        const bytes = encodeServerMessage(m)
        assert.is(bytes[0], SERVER_MESSAGE_TYPES[t])
        const back = decodeServerMessage(bytes)
        assert.equal(back, plain(m))
        assert.equal(encodeServerMessage(back), bytes)
      }),
      { numRuns: t === 'events' ? 150 : 100 },
    )
  })
}

test('encodeEvent / decodeEvent round-trip, canonically', () => {
  check(
    fc.property(envelopeArb(), (e) => {
      const bytes = encodeEvent(e)
      const back = decodeEvent(bytes)
      assert.equal(back, plain(e))
      assert.equal(encodeEvent(back), bytes)
    }),
    { numRuns: 300 },
  )
})

test('encodeEventsFrame gives the bytes of the events message', () => {
  check(
    fc.property(serverMessageArbs.events, (m) => {
      assert.equal(encodeEventsFrame(m.docId, m.events, m.cursor), encodeServerMessage(m))
    }),
  )
})

test('a frame spliced from bodies encoded once is byte for byte the encoded frame, for any selection of its events', () => {
  check(
    fc.property(serverMessageArbs.events, fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), (m, keep) => {
      const bodies = m.events.map((s) => ({ seq: s.seq, body: encodeEventBody(s.event) }))
      assert.equal(encodeEventsFrameOfBodies(m.docId, bodies, m.cursor), encodeServerMessage(m))
      // What a sender gets: the group without its own events, same cursor.
      const picked = m.events.filter((_, i) => keep[i % keep.length])
      if (picked.length === 0) return
      const frame = encodeEventsFrameOfBodies(m.docId, bodies.filter((_, i) => keep[i % keep.length]), m.cursor)
      assert.equal(frame, encodeEventsFrame(m.docId, picked, m.cursor))
      assert.equal(decodeServerMessage(frame), plain({ t: 'events', docId: m.docId, events: picked, cursor: m.cursor }))
    }),
  )
})

test('a spliced frame refuses what the encoder refuses: no events, seqs out of order, a cursor behind', () => {
  const e = sampleEvent()
  const body = encodeEventBody(e)
  expectError(() => encodeEventsFrameOfBodies(e.docId, [], 1), 'INVALID_ARGUMENT')
  expectError(() => encodeEventsFrameOfBodies(e.docId, [{ seq: 2, body }, { seq: 2, body }], 2), 'INVALID_ARGUMENT')
  expectError(() => encodeEventsFrameOfBodies(e.docId, [{ seq: 3, body }], 2), 'INVALID_ARGUMENT')
  expectError(() => encodeEventsFrameOfBodies(e.docId, [{ seq: 3, body: new Uint8Array(0) }], 3), 'INVALID_ARGUMENT')
})

test('decoded payloads are copies: changing the frame afterwards changes nothing', () => {
  const e = sampleEvent()
  const frame = encodeClientMessage({ t: 'push', docId: e.docId, events: [e] })
  const m = decodeClientMessage(frame)
  assert.ok(m.t === 'push')
  frame.fill(0)
  assert.equal(m.events[0]?.payload, e.payload)
})

test('a meta key the format has no slot for (even __proto__) survives as data', () => {
  const base = sampleEvent()
  const meta = JSON.parse('{"at":"2026-01-02T03:04:05.678Z","__proto__":{"x":1},"reason":"late"}') as EventEnvelope['meta']
  const e = { ...base, meta }
  const back = decodeEvent(encodeEvent(e))
  assert.equal(Object.keys(back.meta).sort(), ['__proto__', 'at', 'reason'])
  assert.equal(JSON.stringify(back.meta), JSON.stringify({ ...JSON.parse('{"__proto__":{"x":1},"reason":"late"}'), at: meta.at }))
  assert.is(Object.getPrototypeOf(back.meta), Object.prototype)
})

test('a meta.at outside the millisecond form keeps its exact text', () => {
  for (const at of ['2026-01-01T02:00:00+02:00', '1969-12-31T23:59:59.999Z', '2026-01-01T00:00:00Z']) {
    const e = { ...sampleEvent(), meta: { at: at as IsoInstant } }
    assert.is(decodeEvent(encodeEvent(e)).meta.at, at)
  }
})

test('grants: patterns and rights', () => {
  const doc = 'PO-2026-0042' as PurchaseId
  assert.ok(grantCovers('*', doc))
  assert.ok(grantCovers('PO-2026-*', doc))
  assert.ok(grantCovers('PO-2026-0042', doc))
  assert.not.ok(grantCovers('PO-2026-004', doc))
  assert.not.ok(grantCovers('PO-2025-*', doc))
  const rights = rightsFor([{ doc: 'PO-*', rights: ['read'] }, { doc: doc, rights: ['write', 'resolve'] }, { doc: 'X', rights: ['write'] }], doc)
  assert.equal([...rights].sort(), ['read', 'resolve', 'write'])
  // Rights come back in RIGHTS order whatever order they were given in.
  const m = decodeServerMessage(encodeServerMessage({ t: 'authorized', expiresAt: null, user: null, grants: [{ doc: '*', rights: ['resolve', 'read'] }] }))
  assert.equal(m.t === 'authorized' && m.grants[0]?.rights, ['read', 'resolve'])
})

test('known bytes: hello and ping have the documented layout', () => {
  assert.is(PROTOCOL_VERSION, 3)
  assert.is(hex(encodeClientMessage({ t: 'hello', version: PROTOCOL_VERSION, token: 'tk', client: 'c', device: 'd' })), '01 03 02 74 6b 01 63 01 64')
  assert.is(hex(encodeClientMessage({ t: 'ping', nonce: 300 })), '06 ac 02')
  assert.is(hex(encodeServerMessage({ t: 'pong', nonce: 0 })), '49 00')
})

/** A typical event: a 26-character ULID-like actor, a ULID document, two deps, user and device. */
function sampleEvent(payloadBytes = 40): EventEnvelope {
  const actor = '01JD3QZ7G8H9K2M4N6P8R0T2VW' as ReplicaId
  return {
    id: `${actor}.1234` as EventId,
    docId: '01JD3QZ7G8H9K2M4N6P8R0T2XY' as PurchaseId,
    actor,
    seq: 1234,
    hlc: `001763780000123-000002-${actor}` as Hlc,
    deps: [`${actor}.1233` as EventId, '01JD3R0000000000000000000A.87' as EventId],
    kind: 'line.setQuantity',
    backend: 'yjs',
    payload: new Uint8Array(payloadBytes).map((_, i) => (i * 37) & 0xff),
    meta: { at: '2025-11-22T01:02:03.456Z' as IsoInstant, user: 'anna.berg@example.com', device: "Anna's phone", priority: 'high' },
  }
}

test('size: one typical event costs 37 bytes of framing and numbers, and about 28 per event in a catch-up', () => {
  const e = sampleEvent()
  const utf8 = (s: string): number => new TextEncoder().encode(s).length
  const frame = encodeEventsFrame(e.docId, [{ seq: 98765, event: e }], 98765)
  // The text a receiver could not guess: document, actor, the other dep's replica, kind, user, device.
  const text = utf8(e.docId) + utf8(e.actor) + utf8('01JD3R0000000000000000000A') + utf8(e.kind) + utf8(e.meta.user!) + utf8(e.meta.device!)
  const overhead = frame.length - e.payload.length - text
  const json = JSON.stringify({ t: 'events', docId: e.docId, cursor: 98765, events: [{ seq: 98765, event: { ...e, payload: Buffer.from(e.payload).toString('base64') } }] })
  console.log(`  events frame of one typical event: ${frame.length} bytes (${overhead} of framing and numbers); as JSON with a base64 payload: ${json.length}`)
  // type 1, docId length 1, count 1, relay seq 3, flags 1, backend 1, actor length 1, seq 2,
  // HLC 6 + 1 + ref 1, deps count 1 + (ref 1, seq 2) + (new ref 1, length 1, seq 1),
  // kind length 1, payload length 1, at 6, user length 1, device length 1, cursor 1.
  assert.ok(overhead <= 37, `overhead ${overhead} bytes`)
  // A catch-up of consecutive events of one actor: each adds its seq gap and its body.
  const items = Array.from({ length: 10 }, (_, i) => ({
    seq: 1000 + i,
    event: { ...e, id: `${e.actor}.${e.seq + i}` as EventId, seq: e.seq + i, deps: [`${e.actor}.${e.seq + i - 1}` as EventId] },
  }))
  const ten = encodeEventsFrame(e.docId, items, 1009)
  const perEvent = (ten.length - (1 + 1 + utf8(e.docId) + 1 + 1)) / 10
  const perEventOverhead = perEvent - e.payload.length - utf8(e.actor) - utf8(e.kind) - utf8(e.meta.user!) - utf8(e.meta.device!)
  console.log(`  catch-up of 10 events: ${ten.length} bytes, ${perEvent} per event (${perEventOverhead} of framing and numbers)`)
  assert.ok(perEventOverhead <= 28.5, `per-event overhead ${perEventOverhead} bytes`)
})

test.run()
