// Interop with y-protocols, which the unmodified y-websocket client uses: bytes
// its encoders write go through our decoder and back unchanged, and bytes we
// write are read by its decoders as the client would read them.
import fc from 'fast-check'
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as authProtocol from 'y-protocols/auth'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import {
  type YMessage,
  Y_MESSAGE_TYPES, decodeAwarenessUpdate, decodeYMessage, encodeAwarenessUpdate, encodeYMessage, isAwarenessRemoval,
} from '@concord/core/protocol'
import { check } from '../support/seed.js'
import { awarenessEntriesArb } from './arbitraries.js'

/** A frame as y-websocket builds it: the outer type, then what y-protocols writes. */
function yFrame(outer: number, write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, outer)
  write(e)
  return encoding.toUint8Array(e)
}

/** Decodes with our codec and checks that re-encoding gives the same bytes. */
function roundTrip(bytes: Uint8Array): YMessage {
  const m = decodeYMessage(bytes)
  assert.equal(encodeYMessage(m), bytes)
  return m
}

function docWith(text: string, clientID: number): Y.Doc {
  const doc = new Y.Doc()
  doc.clientID = clientID
  doc.getText('t').insert(0, text)
  doc.getMap('m').set('k', text.length)
  return doc
}

test('y-protocols sync step 1 and 2 and updates decode to what Yjs encodes, and re-encode byte for byte', () => {
  check(
    fc.property(fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 8 }), fc.nat(2 ** 31), (edits, clientID) => {
      const doc = new Y.Doc()
      doc.clientID = clientID
      const updates: Uint8Array[] = []
      doc.on('update', (u: Uint8Array) => updates.push(u))
      for (const s of edits) doc.getText('t').insert(0, s)

      const step1 = roundTrip(yFrame(Y_MESSAGE_TYPES.sync, (e) => syncProtocol.writeSyncStep1(e, doc)))
      assert.equal(step1, { t: 'syncStep1', stateVector: Y.encodeStateVector(doc) })

      const step2 = roundTrip(yFrame(Y_MESSAGE_TYPES.sync, (e) => syncProtocol.writeSyncStep2(e, doc, Y.encodeStateVector(new Y.Doc()))))
      assert.ok(step2.t === 'syncStep2')
      const copy = new Y.Doc()
      Y.applyUpdate(copy, step2.update)
      assert.is(copy.getText('t').toString(), doc.getText('t').toString())

      for (const u of updates) {
        assert.equal(roundTrip(yFrame(Y_MESSAGE_TYPES.sync, (e) => syncProtocol.writeUpdate(e, u))), { t: 'update', update: u })
      }
    }),
    { numRuns: 50 },
  )
})

test('y-protocols awareness, permission denied and query awareness round-trip', () => {
  const doc = docWith('hi', 11)
  const other = docWith('yo', 22)
  const aw = new awarenessProtocol.Awareness(doc)
  const aw2 = new awarenessProtocol.Awareness(other)
  try {
    aw.setLocalState({ user: { name: 'Anna', color: '#f00' }, cursor: null })
    aw2.setLocalState({ user: { name: 'Bo ✓' } })
    // One update naming both peers, as a server forwarding several would.
    awarenessProtocol.applyAwarenessUpdate(aw, awarenessProtocol.encodeAwarenessUpdate(aw2, [22]), 'remote')
    const update = awarenessProtocol.encodeAwarenessUpdate(aw, [11, 22])
    const m = roundTrip(yFrame(Y_MESSAGE_TYPES.awareness, (e) => encoding.writeVarUint8Array(e, update)))
    assert.equal(m, { t: 'awareness', update })
    const entries = decodeAwarenessUpdate(update)
    assert.equal(
      entries.map((x) => ({ id: x.clientId, state: JSON.parse(x.state) as unknown })),
      [
        { id: 11, state: { user: { name: 'Anna', color: '#f00' }, cursor: null } },
        { id: 22, state: { user: { name: 'Bo ✓' } } },
      ],
    )
    assert.equal(encodeAwarenessUpdate(entries), update)

    // A peer leaving: y-protocols sends its state as null.
    aw.setLocalState(null)
    const left = decodeAwarenessUpdate(awarenessProtocol.encodeAwarenessUpdate(aw, [11]))
    assert.is(left.length, 1)
    assert.ok(isAwarenessRemoval(left[0]!))
  } finally {
    aw.destroy()
    aw2.destroy()
  }

  assert.equal(roundTrip(yFrame(Y_MESSAGE_TYPES.auth, (e) => authProtocol.writePermissionDenied(e, 'no access to PO-7'))), {
    t: 'authPermissionDenied',
    reason: 'no access to PO-7',
  })
  assert.equal(roundTrip(yFrame(Y_MESSAGE_TYPES.queryAwareness, () => {})), { t: 'queryAwareness' })
})

test('y-protocols reads what we write, as the y-websocket client does', () => {
  const server = docWith('stored on the relay', 1)
  const client = docWith('typed offline', 2)

  // The relay's sync step 1 makes the client answer with sync step 2.
  const step1 = encodeYMessage({ t: 'syncStep1', stateVector: Y.encodeStateVector(server) })
  const d = decoding.createDecoder(step1)
  assert.is(decoding.readVarUint(d), Y_MESSAGE_TYPES.sync)
  const reply = encoding.createEncoder()
  encoding.writeVarUint(reply, Y_MESSAGE_TYPES.sync)
  assert.is(syncProtocol.readSyncMessage(d, reply, client, 'relay'), syncProtocol.messageYjsSyncStep1)
  const answer = decodeYMessage(encoding.toUint8Array(reply))
  assert.ok(answer.t === 'syncStep2')
  Y.applyUpdate(server, answer.update)

  // The relay's sync step 2 and updates are applied by the client.
  for (const m of [
    { t: 'syncStep2', update: Y.encodeStateAsUpdate(server, Y.encodeStateVector(client)) },
    { t: 'update', update: Y.encodeStateAsUpdate(server) },
  ] as const) {
    const dec = decoding.createDecoder(encodeYMessage(m))
    assert.is(decoding.readVarUint(dec), Y_MESSAGE_TYPES.sync)
    syncProtocol.readSyncMessage(dec, encoding.createEncoder(), client, 'relay')
    assert.not.ok(decoding.hasContent(dec), 'the client reads the whole frame')
  }
  assert.is(client.getText('t').toString(), server.getText('t').toString())
  assert.equal(client.getMap('m').toJSON(), server.getMap('m').toJSON())

  // Permission denied reaches the client's handler with its reason.
  let reason = ''
  const denied = decoding.createDecoder(encodeYMessage({ t: 'authPermissionDenied', reason: 'token expired' }))
  assert.is(decoding.readVarUint(denied), Y_MESSAGE_TYPES.auth)
  authProtocol.readAuthMessage(denied, client, (_y, r) => (reason = r))
  assert.is(reason, 'token expired')
})

test('awareness updates we encode are read and re-written identically by y-protocols', () => {
  check(
    fc.property(awarenessEntriesArb, (entries) => {
      const ours = encodeAwarenessUpdate(entries)
      // modifyAwarenessUpdate decodes with y-protocols and re-encodes with it.
      assert.equal(awarenessProtocol.modifyAwarenessUpdate(ours, (s: unknown) => s), ours)
    }),
    { numRuns: 100 },
  )
})

test('a client applying our awareness update knows every peer state it carries', () => {
  // Unique peers with clocks of 1 and up: y-protocols ignores an unknown peer at clock 0.
  const peers = fc.uniqueArray(
    fc.record({
      clientId: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      clock: fc.integer({ min: 1, max: 1000 }),
      state: fc.oneof(fc.constant(null), fc.jsonValue({ maxDepth: 3 })).map((v) => JSON.stringify(v)),
    }),
    { selector: (e) => e.clientId, maxLength: 6 },
  )
  check(
    fc.property(peers, (entries) => {
      const d = decoding.createDecoder(encodeYMessage({ t: 'awareness', update: encodeAwarenessUpdate(entries) }))
      assert.is(decoding.readVarUint(d), Y_MESSAGE_TYPES.awareness)
      const doc = new Y.Doc()
      doc.clientID = 0
      const aw = new awarenessProtocol.Awareness(doc)
      try {
        awarenessProtocol.applyAwarenessUpdate(aw, decoding.readVarUint8Array(d), 'relay')
        for (const e of entries) {
          const state = JSON.parse(e.state) as unknown
          if (state === null) assert.not.ok(aw.getStates().has(e.clientId))
          else assert.equal(aw.getStates().get(e.clientId), state)
        }
      } finally {
        aw.destroy()
      }
    }),
    { numRuns: 100 },
  )
})

test.run()
