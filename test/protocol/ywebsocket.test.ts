// y-websocket codec: round trips, documented bytes, and the error discipline.
import fc from 'fast-check'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isConcordError } from '@concord/core'
import {
  type YMessage,
  decodeAwarenessUpdate, decodeYMessage, encodeAwarenessUpdate, encodeYMessage, isAwarenessRemoval,
} from '@concord/core/protocol'
import { check } from '../support/seed.js'
import { awarenessEntriesArb, expectError, hex, plain, yMessageArb, yMessageArbs } from './arbitraries.js'

for (const t of Object.keys(yMessageArbs) as YMessage['t'][]) {
  test(`${t}: decode(encode(m)) = m and encode(decode(bytes)) = bytes`, () => {
    check(
      fc.property(yMessageArbs[t] as fc.Arbitrary<YMessage>, (m) => {
        const bytes = encodeYMessage(m)
        const back = decodeYMessage(bytes)
        assert.equal(back, plain(m))
        assert.equal(encodeYMessage(back), bytes)
      }),
    )
  })
}

test('known bytes of the y-protocols framing', () => {
  const b = new Uint8Array([7, 8])
  assert.is(hex(encodeYMessage({ t: 'syncStep1', stateVector: b })), '00 00 02 07 08')
  assert.is(hex(encodeYMessage({ t: 'syncStep2', update: b })), '00 01 02 07 08')
  assert.is(hex(encodeYMessage({ t: 'update', update: b })), '00 02 02 07 08')
  assert.is(hex(encodeYMessage({ t: 'awareness', update: b })), '01 02 07 08')
  assert.is(hex(encodeYMessage({ t: 'authPermissionDenied', reason: 'no' })), '02 00 02 6e 6f')
  assert.is(hex(encodeYMessage({ t: 'queryAwareness' })), '03')
  assert.is(hex(encodeAwarenessUpdate([{ clientId: 300, clock: 2, state: 'null' }])), '01 ac 02 02 04 6e 75 6c 6c')
})

test('every strict prefix of a valid frame is MALFORMED_FRAME', () => {
  check(
    fc.property(yMessageArb, (m) => {
      const bytes = encodeYMessage(m)
      for (let k = 0; k < bytes.length; k++) expectError(() => decodeYMessage(bytes.subarray(0, k)), 'MALFORMED_FRAME', `${m.t} cut at ${k}`)
    }),
  )
})

test('unknown outer types (4 and up), sync sub-types (3 and up) and auth sub-types (1 and up) are UNKNOWN_MESSAGE_TYPE', () => {
  const varuint = (n: number): number[] => {
    const out: number[] = []
    while (n > 0x7f) {
      out.push(0x80 | (n & 0x7f))
      n = Math.floor(n / 128)
    }
    out.push(n)
    return out
  }
  for (const t of [4, 5, 100, 127, 128, 255, 300, 2 ** 40]) {
    assert.is(expectError(() => decodeYMessage(new Uint8Array([...varuint(t), 0, 0])), 'UNKNOWN_MESSAGE_TYPE').details.type, t)
  }
  for (const t of [3, 4, 127, 128, 1000]) {
    assert.is(expectError(() => decodeYMessage(new Uint8Array([0, ...varuint(t), 0])), 'UNKNOWN_MESSAGE_TYPE').details.type, t)
  }
  for (const t of [1, 2, 200]) expectError(() => decodeYMessage(new Uint8Array([2, ...varuint(t), 0])), 'UNKNOWN_MESSAGE_TYPE')
})

test('overlong type varints, trailing bytes, two messages in a frame, bad UTF-8 and big frames are refused', () => {
  expectError(() => decodeYMessage(new Uint8Array([0x80, 0x00, 0x00, 0x00])), 'MALFORMED_FRAME')
  expectError(() => decodeYMessage(new Uint8Array([0x00, 0x80, 0x00, 0x00])), 'MALFORMED_FRAME')
  assert.is(expectError(() => decodeYMessage(new Uint8Array([3, 3])), 'MALFORMED_FRAME').details.field, 'frame')
  const two = new Uint8Array([...encodeYMessage({ t: 'update', update: new Uint8Array([1]) }), ...encodeYMessage({ t: 'queryAwareness' })])
  assert.is(expectError(() => decodeYMessage(two), 'MALFORMED_FRAME').details.field, 'frame')
  assert.is(expectError(() => decodeYMessage(new Uint8Array([2, 0, 2, 0xc3, 0x28])), 'MALFORMED_FRAME').details.field, 'reason')
  const big = encodeYMessage({ t: 'update', update: new Uint8Array(100) })
  expectError(() => decodeYMessage(big, { maxFrameBytes: 99 }), 'FRAME_TOO_LARGE')
  expectError(() => encodeYMessage({ t: 'update', update: new Uint8Array(100) }, { maxFrameBytes: 99 }), 'FRAME_TOO_LARGE')
  expectError(() => encodeYMessage({ t: 'update', update: [1] as never }), 'INVALID_ARGUMENT')
  expectError(() => encodeYMessage({ t: 'authPermissionDenied', reason: '\uD800' }), 'INVALID_ARGUMENT')
  expectError(() => encodeYMessage({ t: 'sync' } as never), 'INVALID_ARGUMENT')
})

test('decoded byte arrays are copies of the frame', () => {
  const frame = encodeYMessage({ t: 'update', update: new Uint8Array([1, 2, 3]) })
  const m = decodeYMessage(frame)
  frame.fill(9)
  assert.equal(m, { t: 'update', update: new Uint8Array([1, 2, 3]) })
})

test('awareness updates round-trip, canonically', () => {
  check(
    fc.property(awarenessEntriesArb, (entries) => {
      const bytes = encodeAwarenessUpdate(entries)
      const back = decodeAwarenessUpdate(bytes)
      assert.equal(back, plain(entries))
      assert.equal(encodeAwarenessUpdate(back), bytes)
      for (const e of back) assert.is(isAwarenessRemoval(e), JSON.parse(e.state) === null)
    }),
  )
})

test('awareness updates: truncation, bad JSON, trailing bytes and bad entries are refused', () => {
  check(
    fc.property(awarenessEntriesArb, (entries) => {
      const bytes = encodeAwarenessUpdate(entries)
      for (let k = 0; k < bytes.length; k++) expectError(() => decodeAwarenessUpdate(bytes.subarray(0, k)), 'MALFORMED_FRAME')
      expectError(() => decodeAwarenessUpdate(new Uint8Array([...bytes, 0])), 'MALFORMED_FRAME')
    }),
    { numRuns: 50 },
  )
  const notJson = new Uint8Array([1, 5, 1, 2, 0x7b, 0x78]) // one entry, state "{x"
  assert.is(expectError(() => decodeAwarenessUpdate(notJson), 'MALFORMED_FRAME').details.field, 'entries[0].state')
  expectError(() => decodeAwarenessUpdate(new Uint8Array([100, 1, 1, 0])), 'MALFORMED_FRAME')
  expectError(() => encodeAwarenessUpdate([{ clientId: 1, clock: 1, state: '{x' }]), 'INVALID_ARGUMENT')
  expectError(() => encodeAwarenessUpdate([{ clientId: -1, clock: 1, state: 'null' }]), 'INVALID_ARGUMENT')
  assert.ok(isAwarenessRemoval({ clientId: 1, clock: 2, state: ' null\n' }))
  assert.not.ok(isAwarenessRemoval({ clientId: 1, clock: 2, state: '"null"' }))
})

function decodeOrTypedError(bytes: Uint8Array): void {
  try {
    assert.equal(encodeYMessage(decodeYMessage(bytes)), bytes)
  } catch (e) {
    if (!isConcordError(e)) throw new Error(`not a ConcordError for ${hex(bytes)}: ${String(e)}`, { cause: e })
  }
  try {
    assert.equal(encodeAwarenessUpdate(decodeAwarenessUpdate(bytes)), bytes)
  } catch (e) {
    if (!isConcordError(e)) throw new Error(`not a ConcordError for ${hex(bytes)}: ${String(e)}`, { cause: e })
  }
}

test('fuzz: arbitrary bytes decode (canonically) or throw a ConcordError', () => {
  check(fc.property(fc.uint8Array({ maxLength: 64 }), decodeOrTypedError), { numRuns: 3000 })
  check(fc.property(fc.constantFrom(0, 1, 2, 3), fc.uint8Array({ maxLength: 32 }), (t, rest) => decodeOrTypedError(new Uint8Array([t, ...rest]))), {
    numRuns: 2000,
  })
})

test.run()
