/**
 * The backend registry: every number that stands for a backend is unique,
 * every backend has its code, and the encoders write exactly what the
 * registry says (the wire id after an event's flags, the snapshot code in a
 * saved document's header), so that the registry is the one place to read.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  type EventEnvelope, type EventId, type Hlc, type IsoInstant, type PurchaseId, type ReplicaId, ALL_BACKENDS, BACKEND_NAMES, backendNamed, DEFAULT_BACKEND, isBackendName, parseBackendName,
} from '@concord/core'
import { backendList, backendOfSnapshotCode, backendOfWireId, BACKENDS, unwrapSnapshot, wrapSnapshot } from '@concord/core/internal'
import { decodeEvent, encodeEvent } from '@concord/core/protocol'
import { errorCode } from '../support/errors.js'


test('names, wire ids and snapshot codes are unique bytes; the first backend is the default', () => {
  assert.equal(BACKEND_NAMES, Object.keys(BACKENDS))
  assert.equal(DEFAULT_BACKEND, 'yjs')
  const wire = BACKEND_NAMES.map((n) => BACKENDS[n].wireId)
  const snap = BACKEND_NAMES.map((n) => BACKENDS[n].snapshotCode)
  for (const ids of [wire, snap]) {
    assert.is(new Set(ids).size, ids.length)
    for (const id of ids) assert.ok(Number.isInteger(id) && id >= 0 && id <= 0xff, String(id))
  }
  // The wire ids of the first two are what protocol 2's flag bit meant, so old stores migrate by them.
  assert.equal([BACKENDS.yjs.wireId, BACKENDS.automerge.wireId], [0, 1])
  for (const n of BACKEND_NAMES) {
    assert.is(backendOfWireId(BACKENDS[n].wireId), n)
    assert.is(backendOfSnapshotCode(BACKENDS[n].snapshotCode), n)
    assert.ok(BACKENDS[n].snapshotFormats.length > 0)
  }
  assert.is(backendOfWireId(0xff), undefined)
  assert.is(backendOfSnapshotCode(0), undefined)
  assert.is(backendList(), 'yjs or automerge')
})

test('every registry name has its implementation, in registry order; other names are INVALID_ARGUMENT', () => {
  assert.equal(ALL_BACKENDS.map((b) => b.name), BACKEND_NAMES)
  for (const n of BACKEND_NAMES) assert.is(backendNamed(n).name, n)
  for (const bad of ['loro', 'YJS', '', '__proto__', 'toString', null, 3]) {
    assert.not.ok(isBackendName(bad), String(bad))
    assert.is(errorCode(() => backendNamed(bad as never)), 'INVALID_ARGUMENT', String(bad))
    assert.is(errorCode(() => parseBackendName(bad)), 'INVALID_ARGUMENT', String(bad))
    assert.is(errorCode(() => wrapSnapshot(bad as never, new Uint8Array(1))), 'INVALID_ARGUMENT', String(bad))
  }
})

test('a saved document carries its snapshot code and default format; another code is BACKEND_MISMATCH, an unknown one CORRUPT_SNAPSHOT', () => {
  for (const b of ALL_BACKENDS) {
    const info = BACKENDS[b.name]
    const saved = b.create('a' as ReplicaId).save()
    assert.is(saved[4], info.snapshotCode, b.name)
    assert.ok((info.snapshotFormats as readonly number[]).includes(saved[3]!), `${b.name} format ${saved[3]}`)
    const wrapped = wrapSnapshot(b.name, new Uint8Array([7]))
    assert.equal([wrapped[3], wrapped[4]], [info.snapshotFormats[0], info.snapshotCode])
    assert.equal(unwrapSnapshot(b.name, wrapped), new Uint8Array([7]))
    for (const other of BACKEND_NAMES.filter((n) => n !== b.name)) assert.is(errorCode(() => unwrapSnapshot(other, wrapped)), 'BACKEND_MISMATCH')
    const unknown = wrapped.slice()
    unknown[4] = 0xee
    assert.is(errorCode(() => unwrapSnapshot(b.name, unknown)), 'CORRUPT_SNAPSHOT')
  }
})

test('an event body names its backend by the wire id right after the flags', () => {
  const docId = 'PO-1' as PurchaseId
  for (const backend of BACKEND_NAMES) {
    const e: EventEnvelope = {
      id: 'a.1' as EventId, docId, actor: 'a' as ReplicaId, seq: 1, hlc: '000000000000001-000000-a' as Hlc, deps: [],
      kind: 'line.add', backend, payload: new Uint8Array([1, 2]), meta: { at: '2026-01-01T00:00:00.000Z' as IsoInstant },
    }
    const bytes = encodeEvent(e)
    // docId: a length byte and its text; then flags; then the backend.
    assert.is(bytes[1 + docId.length + 1], BACKENDS[backend].wireId, backend)
    assert.is(decodeEvent(bytes).backend, backend)
  }
})

test.run()
