/**
 * The admin history, a page at a time: every page lists exactly what a full
 * replay of the log says each event changed, whichever way the history is
 * read (front to back, from a random cursor, after a snapshot, after the
 * checkpoints were dropped), and reading a history front to back reads each
 * stored event a bounded number of times instead of replaying the log from
 * event 1 for every page. Real stores (memory), real purchase events (Yjs and
 * Automerge).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  type CrdtBackend, type EventEnvelope, type PurchaseId, type ReplicaId, ALL_BACKENDS, auditTrail, createUlidFactory, parsePurchaseId, PurchaseReplica, yjsBackend,
} from '@concord/core'
import { seededRandom } from '@concord/core/internal'
import { AuditCheckpoints, encodeSnapshot, historyPage } from '@concord/relay/internal'
import { type EventStore, type StoredEvent, MemoryEventStore } from '@concord/relay/store'
import { SEED } from '../support/seed.js'

const DOC: PurchaseId = parsePurchaseId('01J8HIST000000000000000001')

/** A purchase edited `n` times by two devices, in a causal order a relay could have stored. */
function purchaseLog(backend: CrdtBackend, n: number, seed: number): { events: EventEnvelope[]; replicaAt: (k: number) => PurchaseReplica } {
  const rng = seededRandom(seed)
  let time = 1_750_000_000_000
  const now = () => time
  const opts = (name: string) => ({ docId: DOC, replica: name as ReplicaId, backend, now, newId: createUlidFactory(now, rng), user: name, device: 'test' })
  const a = PurchaseReplica.create(opts('histA'), { currency: 'EUR', supplier: 'First' })
  const b = PurchaseReplica.fromEvents(opts('histB'), [...a.log.events()])
  const events: EventEnvelope[] = [...a.log.events()]
  while (events.length < n) {
    time += 1000
    const who = rng() < 0.5 ? a : b
    const other = who === a ? b : a
    const roll = rng()
    let e: EventEnvelope
    if (roll < 0.3) {
      e = who.addLine({ product: `P${events.length}`, qty: String(1 + Math.floor(rng() * 9)), price: String(10 + Math.floor(rng() * 90)) }).event
    } else if (roll < 0.6) {
      e = who.setSupplier(`Supplier ${events.length}`)
    } else {
      e = who.editNotes(0, 0, `n${events.length} `)
    }
    other.receive([e])
    events.push(e)
  }
  return { events, replicaAt: (k) => PurchaseReplica.fromEvents(opts('snap'), events.slice(0, k)) }
}

/** The store, counting every event it hands out (payload reads). */
function counting(store: EventStore): { store: EventStore; read: () => number } {
  let read = 0
  const wrapped: EventStore = Object.create(store)
  wrapped.readFrom = async (d, after, limit) => {
    const out = await store.readFrom(d, after, limit)
    read += out.length
    return out
  }
  wrapped.readPages = (d, after, size) => ({
    async *[Symbol.asyncIterator]() {
      for await (const page of store.readPages(d, after, size)) {
        read += page.length
        yield page as StoredEvent[]
      }
    },
  })
  return { store: wrapped, read: () => read }
}

async function storeOf(backend: CrdtBackend, events: readonly EventEnvelope[]): Promise<MemoryEventStore> {
  const store = new MemoryEventStore({ newRelayId: () => 'relay-hist' })
  for (let i = 0; i < events.length; i += 50) await store.append([{ docId: DOC, backend: backend.name, events: events.slice(i, i + 50) }])
  return store
}

async function readAll(store: EventStore, backend: CrdtBackend, checkpoints: AuditCheckpoints, limit: number, after = 0) {
  const info = (await store.getDoc(DOC))!
  const out: { id: string; seq: number; changes: unknown }[] = []
  let pages = 0
  for (let cursor: number | null = after; cursor !== null; ) {
    const page = await historyPage(store, checkpoints, backend, info, cursor, limit)
    out.push(...page.events.map((e) => ({ id: e.id, seq: e.seq, changes: e.changes })))
    pages++
    cursor = page.next
  }
  return { out, pages }
}

for (const backend of ALL_BACKENDS) {
  test(`${backend.name}: every page agrees with a full replay, however the history is read`, async () => {
    const n = 120
    const { events, replicaAt } = purchaseLog(backend, n, SEED)
    const expected = auditTrail(backend, events).map((t, i) => ({ id: t.event, seq: i + 1, changes: t.changes }))
    assert.ok(expected.filter((e) => e.changes.length > 0).length > n / 2, 'most events change something')
    const store = await storeOf(backend, events)
    const info = (await store.getDoc(DOC))!

    // One page with everything; then front to back in pages of 7.
    assert.equal((await historyPage(store, new AuditCheckpoints(), backend, info, 0, 1000)).events.map((e) => ({ id: e.id, seq: e.seq, changes: e.changes })), expected)
    const front = await readAll(store, backend, new AuditCheckpoints(), 7)
    assert.equal(front.out, expected)
    assert.is(front.pages, Math.ceil(n / 7) + (n % 7 === 0 ? 1 : 0))

    // From random cursors with no checkpoint (a bookmark, a restarted relay).
    const rng = seededRandom(SEED + 1)
    for (let i = 0; i < 8; i++) {
      const after = Math.floor(rng() * n)
      const limit = 1 + Math.floor(rng() * 20)
      const page = await historyPage(store, new AuditCheckpoints(), backend, info, after, limit)
      assert.equal(page.events.map((e) => ({ id: e.id, seq: e.seq, changes: e.changes })), expected.slice(after, after + limit), `after=${after} limit=${limit}`)
    }

    // With a snapshot in the store at 60: pages after it start there, pages before it do not use it.
    await store.putSnapshot(DOC, { upToSeq: 60, heads: replicaAt(60).log.snapshot().heads, bytes: encodeSnapshot(replicaAt(60).log.snapshot()) })
    for (const [after, limit] of [[60, 10], [75, 5], [10, 30], [59, 3]] as const) {
      const page = await historyPage(store, new AuditCheckpoints(), backend, info, after, limit)
      assert.equal(page.events.map((e) => ({ id: e.id, seq: e.seq, changes: e.changes })), expected.slice(after, after + limit), `snapshot, after=${after}`)
    }

    // Tiny checkpoint limits (every state evicted at once) change nothing but the cost.
    assert.equal((await readAll(store, backend, new AuditCheckpoints({ maxEntries: 1, maxBytes: 1 }), 9)).out, expected)
  })
}

test('reading a history front to back reads each stored event about twice, not once per page', async () => {
  const n = 300
  const { events } = purchaseLog(yjsBackend, n, SEED + 2)
  const base = await storeOf(yjsBackend, events)
  const limit = 10
  const cached = counting(base)
  await readAll(cached.store, yjsBackend, new AuditCheckpoints(), limit)
  // Each page reads its own events (readFrom); nothing before the cursor is replayed.
  assert.ok(cached.read() <= n + limit, `read ${cached.read()} events for a ${n}-event history`)
  // Without checkpoints every page replays from the start: the quadratic cost this replaces.
  const uncached = counting(base)
  await readAll(uncached.store, yjsBackend, new AuditCheckpoints({ maxEntries: 0 }), limit)
  assert.ok(uncached.read() > (n * n) / (2 * limit), `without checkpoints: ${uncached.read()}`)
})

test('checkpoints are bounded by count and bytes, least recently used out first', () => {
  const cps = new AuditCheckpoints({ maxEntries: 3, maxBytes: 100 })
  const d = DOC
  for (let seq = 1; seq <= 5; seq++) cps.put({ docId: d, seq: seq * 10, bytes: new Uint8Array(10) })
  assert.is(cps.size, 3)
  assert.is(cps.best(d, 25), undefined, 'the oldest were evicted')
  assert.is(cps.best(d, 35)?.seq, 30)
  assert.is(cps.best(d, 1000)?.seq, 50)
  assert.is(cps.best(parsePurchaseId('01J8OTHER00000000000000001'), 1000), undefined, 'per document')
  cps.put({ docId: d, seq: 60, bytes: new Uint8Array(95) })
  assert.ok(cps.size <= 1, 'bytes bound')
  cps.put({ docId: d, seq: 70, bytes: new Uint8Array(101) })
  assert.is(cps.best(d, 70)?.seq, 60, 'a state larger than the whole budget is not kept')
})

test.run()
