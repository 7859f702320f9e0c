/** The event log: causal buffering, idempotence, typed refusals, snapshots, history. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type EventEnvelope, type PurchaseReplica, BACKEND_NAMES, isConcordError, PurchaseReplica as Replica } from '@concord/core'
import { seededRandom, validateEnvelope } from '@concord/core/internal'
import { BACKENDS } from '../support/backends.js'
import { type Sim, makeReplica, replicaOptions } from '../support/replicas.js'

function world(backend: (typeof BACKENDS)[number]) {
  const sim: Sim = { rng: seededRandom(11), time: 1_760_000_000_000 }
  const a = Replica.create(replicaOptions(sim, backend, 0), { currency: 'EUR', supplier: 'ACME' })
  return { sim, a }
}

const fingerprint = (r: PurchaseReplica) => JSON.stringify([...r.log.doc.read().registers.keys()].sort()) + r.log.doc.version()

for (const backend of BACKENDS) {
  test(`[${backend.name}] events with missing dependencies wait in a visible pending buffer`, () => {
    const { sim, a } = world(backend)
    const { lineId } = a.addLine({ product: 'Widget', qty: '1', price: '2' })
    a.updateLine(lineId, { qty: '5' })
    const events = a.log.events()
    const b = makeReplica(sim, backend, 1)
    const last = events[events.length - 1]!
    const r1 = b.receive([last])
    assert.equal(r1.applied, [])
    assert.equal(r1.pending, [last.id])
    assert.ok(b.log.pending().missing.length > 0, 'names what it waits for')
    assert.not.ok(b.exists)
    const r2 = b.receive(events.slice(0, -1))
    assert.is(r2.applied.length, events.length, 'the buffered event applied with the rest, in causal order')
    assert.equal(b.log.pending().events, [])
    assert.is(b.state().lines[0]!.qty, '5')
  })

  test(`[${backend.name}] appending is idempotent by id; the same id with other content is refused`, () => {
    const { sim, a } = world(backend)
    a.addLine({ product: 'Widget', qty: '1', price: '2' })
    const b = makeReplica(sim, backend, 1, a.log.events())
    const before = fingerprint(b)
    const again = b.receive(a.log.events())
    assert.equal(again.applied, [])
    assert.is(again.duplicates.length, a.log.events().length)
    const e = a.log.events()[1]!
    const forged: EventEnvelope = { ...e, payload: a.log.events()[0]!.payload }
    const r = b.receive([forged])
    assert.is(r.rejected.length, 1)
    assert.ok(isConcordError(r.rejected[0]!.error, 'ID_CONFLICT'))
    assert.is(fingerprint(b), before, 'state unchanged')
  })

  test(`[${backend.name}] garbage payloads and bad envelopes are refused with typed errors; the rest applies`, () => {
    const { sim, a } = world(backend)
    a.addLine({ product: 'Widget', qty: '1', price: '2' })
    const [create, add] = a.log.events() as [EventEnvelope, EventEnvelope]
    const b = makeReplica(sim, backend, 1, [create])
    const before = fingerprint(b)
    const garbage: EventEnvelope = { ...add, payload: new Uint8Array([0xff, 0xfe, 0x01, 0x80, 0x80]) }
    const r = b.receive([garbage])
    assert.is(r.rejected.length, 1, 'garbage refused')
    assert.ok(isConcordError(r.rejected[0]!.error, 'INVALID_UPDATE'), r.rejected[0]!.error.code)
    assert.is(fingerprint(b), before, 'nothing applied')
    const bad = [
      { ...add, id: 'nonsense' },
      { ...add, seq: 7 },
      { ...add, docId: 'other-doc' },
      { ...add, deps: [add.id] },
      { ...add, kind: 'Not A Kind' },
      { ...add, meta: { at: 'yesterday' } },
      { ...add, backend: BACKEND_NAMES.find((n) => n !== backend.name) },
    ] as unknown as EventEnvelope[]
    const codes = bad.map((e) => b.receive([e]).rejected[0]?.error.code)
    assert.equal(codes, ['INVALID_EVENT', 'INVALID_EVENT', 'INVALID_EVENT', 'INVALID_EVENT', 'INVALID_EVENT', 'INVALID_EVENT', 'BACKEND_MISMATCH'])
    assert.throws(() => validateEnvelope(null), (e: unknown) => isConcordError(e, 'INVALID_EVENT'))
    // The good event still applies afterwards.
    assert.is(b.receive([add]).applied.length, 1)
    assert.is(b.state().lines.length, 1)
  })

  test(`[${backend.name}] snapshot plus tail equals the full log; re-sent events are recognised`, () => {
    const { sim, a } = world(backend)
    for (let i = 0; i < 20; i++) a.addLine({ product: `P${i}`, qty: String(i + 1), price: '3' })
    const events = a.log.events()
    const head = makeReplica(sim, backend, 1, events.slice(0, 12))
    const snap = head.log.snapshot()
    const restored = Replica.fromSnapshot({ ...replicaOptions(sim, backend, 2) }, snap, events.slice(12))
    assert.is(restored.derived().totals.total, a.derived().totals.total)
    assert.equal(restored.log.heads(), a.log.heads())
    const again = restored.receive(events)
    assert.equal(again.applied, [])
    assert.is(again.duplicates.length, events.length)
    // A snapshot of the wrong backend is refused with a typed error.
    const other = BACKENDS.find((x) => x !== backend)
    if (other !== undefined) {
      assert.throws(() => Replica.fromSnapshot({ ...replicaOptions(sim, other, 3) }, snap), (e: unknown) => isConcordError(e, 'BACKEND_MISMATCH'))
    }
    assert.throws(
      () => Replica.fromSnapshot({ ...replicaOptions(sim, backend, 3) }, { ...snap, doc: new Uint8Array([1, 2, 3, 4, 5, 6]) }),
      (e: unknown) => isConcordError(e, 'CORRUPT_SNAPSHOT'),
    )
  })

  test(`[${backend.name}] stateAt gives the order as it was; history says who changed what from where`, () => {
    const { sim, a } = world(backend)
    const { lineId } = a.addLine({ product: 'Widget', qty: '2', price: '10' })
    const mid = a.updateLine(lineId, { qty: '3' })
    sim.time += 60_000
    const b = makeReplica(sim, backend, 1, a.log.events())
    b.updateLine(lineId, { qty: '7' })
    a.receive(b.log.events())
    assert.is(a.stateAt({ event: mid.id }).lines[0]!.qty, '3')
    assert.is(a.stateAt({ hlc: mid.hlc }).lines[0]!.qty, '3')
    assert.is(a.state().lines[0]!.qty, '7')
    const h = a.history()
    const last = h[h.length - 1]!
    assert.is(last.user, 'user1')
    assert.is(last.device, 'device1')
    assert.equal(last.changes.map((c) => [c.field, c.from, c.to]), [[`lines.${lineId}.qty`, '3', '7']])
    assert.throws(() => a.stateAt({ event: 'zz.9' as never }), (e: unknown) => isConcordError(e, 'UNKNOWN_EVENT'))
  })
  test(`[${backend.name}] a replica opened from a snapshot rebuilds the past after it, and names the past before it HISTORY_TRUNCATED`, () => {
    const { sim, a } = world(backend)
    const { lineId } = a.addLine({ product: 'Widget', qty: '2', price: '10' })
    const folded = a.updateLine(lineId, { qty: '3' })
    const snap = a.log.snapshot()
    // After the snapshot: one change that saw it, and one from a peer that had not.
    const b = makeReplica(sim, backend, 1, a.log.events().slice(0, 2))
    const seen = a.updateLine(lineId, { price: '12' })
    sim.time += 60_000
    const beside = b.updateLine(lineId, { product: 'Bolt' })
    a.receive([beside])
    const tail = a.log.events().slice(3)
    const r = Replica.fromSnapshot(replicaOptions(sim, backend, 0), snap, tail)
    const full = a

    assert.equal(r.stateAt({ event: seen.id }).lines, full.stateAt({ event: seen.id }).lines, 'after the snapshot: as the full log says')
    assert.is(r.stateAt({ event: seen.id }).lines[0]!.price.amount, '12')
    assert.is(r.stateAt({ hlc: seen.hlc }).lines[0]!.product, 'Widget')
    const truncated = (fn: () => unknown, what: string) => assert.throws(fn, (e: unknown) => isConcordError(e, 'HISTORY_TRUNCATED'), what)
    truncated(() => r.stateAt({ event: folded.id }), 'an event folded into the snapshot')
    // The peer's change did not see the snapshot's last event: its past is not "snapshot + tail".
    truncated(() => r.stateAt({ event: beside.id }), 'a change beside the snapshot')
    truncated(() => r.log.pastEvents({ clock: { [b.replica]: beside.seq } }), 'a clock that does not cover the snapshot')
    assert.equal(r.log.pastEvents({ clock: Object.fromEntries(r.log.versionVector()) }).map((e) => e.id), tail.map((e) => e.id))
    assert.throws(() => r.stateAt({ event: 'zz.9' as never }), (e: unknown) => isConcordError(e, 'UNKNOWN_EVENT'))

    // History: the entries after the snapshot, each with its fields, as the full log lists them.
    const h = r.history()
    assert.equal(h.map((e) => e.event), tail.map((e) => e.id))
    const fullTail = full.history().slice(-tail.length)
    assert.equal(h.map((e) => e.changes), fullTail.map((e) => e.changes))
    assert.ok(h.every((e) => e.changes.length > 0), 'every change has its fields')
    assert.equal(r.historyBase, snap.clock)
    assert.is(full.historyBase, undefined)
  })
}

test.run()
