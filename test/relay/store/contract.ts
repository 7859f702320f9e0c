/**
 * The EventStore contract: one suite that every implementation passes (as
 * automerge-repo's runStorageAdapterTests does for its adapters). Each test
 * gets a fresh store from `setup` and tears it down, even when it fails.
 *
 * Optional capabilities widen the suite: `reopen` (durable stores) checks
 * that everything survives a close; `openAnother` (stores several relays can
 * share) checks concurrent appends and numbering from two instances.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  BACKEND_NAMES, DEFAULT_BACKEND, type ConcordError, type ErrorCode, type EventEnvelope, type PurchaseId, type ReplicaId, instantFromEpochMs, isConcordError, parseReplicaId,
} from '@concord/core'
import type { AppendResult, EventOutcome, EventStore, StoredEvent } from '@concord/relay/store'
import { type StoreTestHooks, loadDocument } from '@concord/relay/internal'
import { checkAsync, SEED } from '../../support/seed.js'
import { type EventSpec, T0, actor, doc, ev, evs } from './events.js'

export interface ContractHarness {
  readonly store: EventStore
  readonly teardown: () => Promise<void>
  /** Durable stores: closes the current store and opens the same data again. */
  readonly reopen?: () => Promise<EventStore>
  /** Shareable stores: another instance over the same data, as a second relay process would open it. */
  readonly openAnother?: () => Promise<EventStore>
}

/**
 * The harness of a durable store reachable by an `open` function (SQLite file,
 * Postgres schema): reopening closes and opens again, `openAnother` opens a
 * second instance on the same data, teardown closes everything then `cleanup`.
 */
export async function durableHarness(open: () => Promise<EventStore>, cleanup: () => Promise<void> | void): Promise<ContractHarness> {
  let current = await open()
  const others: EventStore[] = []
  return {
    store: current,
    teardown: async () => {
      await current.close()
      for (const o of others) await o.close()
      await cleanup()
    },
    reopen: async () => {
      await current.close()
      current = await open()
      return current
    },
    openAnother: async () => {
      const o = await open()
      others.push(o)
      return o
    },
  }
}

export interface ContractSetupOptions {
  readonly testHooks?: StoreTestHooks
}

export interface ContractOptions {
  /** Cases for the model property (fewer for slow stores). Default 60. */
  readonly propertyRuns?: number
}

type Setup = (options: ContractSetupOptions) => Promise<ContractHarness>

async function rejectsWith(p: Promise<unknown> | (() => Promise<unknown>), code: ErrorCode): Promise<ConcordError> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    if (isConcordError(e, code)) return e
    throw new Error(`expected a ConcordError ${code}, got ${String((e as Error)?.stack ?? e)}`)
  }
  throw new Error(`expected a ConcordError ${code}, but it resolved`)
}

function okSeqs(result: AppendResult): (number | string)[] {
  return result.events.map((o) => (o.ok ? (o.duplicate ? `dup:${o.seq}` : o.seq) : `err:${o.error.code}`))
}

/** The refusal at `i` of a result (fails the test if that event was not refused). */
function refusal(result: AppendResult, i: number): ConcordError {
  const o = result.events[i]
  if (o === undefined || o.ok) throw new Error(`event ${i} was not refused: ${JSON.stringify(o)}`)
  return o.error
}

/** actorOwners as a plain object, for assert.equal. */
async function owners(store: EventStore, ...actors: string[]): Promise<Record<string, string>> {
  return Object.fromEntries(await store.actorOwners(actors.map(actor)))
}

async function readAll(store: EventStore, docId: PurchaseId): Promise<StoredEvent[]> {
  const out: StoredEvent[] = []
  for await (const page of store.readPages(docId, 0, 333)) out.push(...page)
  return out
}

/** Compares what came back with what went in, field by field (bytes as arrays: Buffer vs Uint8Array must not matter). */
function assertSameEvent(actual: EventEnvelope, expected: EventEnvelope, where: string): void {
  const norm = (e: EventEnvelope) => ({ ...e, deps: [...e.deps], payload: Array.from(e.payload), meta: { ...e.meta } })
  assert.equal(norm(actual), norm(expected), where)
  assert.ok(actual.payload instanceof Uint8Array, `${where}: payload is a Uint8Array`)
}

export function runEventStoreContract(name: string, setup: Setup, options: ContractOptions = {}): void {
  const s = suite(`EventStore contract: ${name}`)

  const withStore = (title: string, body: (h: ContractHarness) => Promise<void>, opts: ContractSetupOptions = {}) => {
    s(title, async () => {
      const h = await setup(opts)
      try {
        await body(h)
      } finally {
        await h.teardown()
      }
    })
  }

  withStore('an empty store has no documents, events, snapshots', async ({ store }) => {
    const d = doc('PO-EMPTY')
    assert.is(await store.getDoc(d), undefined)
    assert.equal(await store.readFrom(d, 0), [])
    assert.equal(await store.readSummaries(d, 0), [])
    assert.equal(await store.listDocs({ limit: 10 }), [])
    assert.is(await store.latestSnapshot(d), undefined)
    assert.equal(await store.listSnapshots(d), [])
    assert.is(await loadDocument(store, d), undefined)
    await store.ping()
  })

  withStore('sequences each document 1, 2, 3... gapless, in batch order, and returns events as stored', async ({ store }) => {
    const a = doc('PO-A')
    const b = doc('PO-B')
    const first = await store.append([
      { docId: a, backend: 'yjs', events: evs('PO-A', 'x', 1, 3) },
      { docId: b, backend: 'automerge', events: evs('PO-B', 'y', 1, 2, { backend: 'automerge' }) },
    ])
    assert.equal(first.map(okSeqs), [[1, 2, 3], [1, 2]])
    assert.equal(first.map((r) => [r.docId, r.lastSeq, r.error]), [[a, 3, undefined], [b, 2, undefined]])
    const second = await store.append([{ docId: a, backend: 'yjs', events: [...evs('PO-A', 'z', 1, 1), ...evs('PO-A', 'x', 4, 4)] }])
    assert.equal(okSeqs(second[0]!), [4, 5])
    const stored = await store.readFrom(a, 0)
    assert.equal(stored.map((e) => e.seq), [1, 2, 3, 4, 5])
    const expected = [...evs('PO-A', 'x', 1, 3), ev('PO-A', 'z', 1), ev('PO-A', 'x', 4)]
    stored.forEach((e, i) => assertSameEvent(e.event, expected[i]!, `event ${i + 1}`))
    assert.ok(stored.every((e) => typeof e.storedAt === 'string' && e.storedAt.endsWith('Z')))
    const info = await store.getDoc(a)
    assert.is(info?.backend, 'yjs')
    assert.is(info?.lastSeq, 5)
    assert.is(info?.number, undefined)
    assert.is((await store.getDoc(b))?.backend, 'automerge')
  })

  withStore('re-appending an event is idempotent: same seq, duplicate: true, nothing new stored', async ({ store }) => {
    const d = doc('PO-IDEM')
    await store.append([{ docId: d, backend: 'yjs', events: evs('PO-IDEM', 'a', 1, 3) }])
    const again = await store.append([{ docId: d, backend: 'yjs', events: [...evs('PO-IDEM', 'a', 2, 3), ev('PO-IDEM', 'a', 4)] }])
    assert.equal(okSeqs(again[0]!), ['dup:2', 'dup:3', 4])
    assert.is(again[0]!.lastSeq, 4)
    // The same event twice in one batch, and a retry with a different meta (display only).
    const inBatch = await store.append([
      { docId: d, backend: 'yjs', events: [ev('PO-IDEM', 'b', 1), ev('PO-IDEM', 'b', 1), ev('PO-IDEM', 'a', 1, { user: 'someone else' })] },
    ])
    assert.equal(okSeqs(inBatch[0]!), [5, 'dup:5', 'dup:1'])
    // deps are compared as a set.
    const twoDeps = ev('PO-IDEM', 'c', 1, { deps: ['a.4', 'b.1'] })
    await store.append([{ docId: d, backend: 'yjs', events: [twoDeps] }])
    const reordered = await store.append([{ docId: d, backend: 'yjs', events: [{ ...twoDeps, deps: [...twoDeps.deps].reverse() }] }])
    assert.equal(okSeqs(reordered[0]!), ['dup:6'])
    const all = await store.readFrom(d, 0)
    assert.is(all.length, 6)
    assert.is(all[0]!.event.meta.user, 'user-a', 'the stored meta wins over a retry’s')
    assert.is((await store.getDoc(d))?.lastSeq, 6)
  })

  withStore('one id with other content (hlc, kind, deps, payload) is an ID_CONFLICT, in a later batch or the same one, for that event only', async ({ store }) => {
    const name = 'PO-CONFLICT'
    const d = doc(name)
    await store.append([{ docId: d, backend: 'yjs', events: evs(name, 'a', 1, 2) }])
    const variants: [string, EventSpec][] = [
      ['payload', { payload: new Uint8Array([9, 9]) }],
      ['hlc', { hlcShift: 1 }],
      ['deps', { deps: ['zz.9'] }],
      ['kind', { kind: 'line.add' }],
    ]
    const conflict = (error: ConcordError, eventId: string, seq: number, field: string) => {
      assert.is(error.code, 'ID_CONFLICT', `${field}: ${error.message}`)
      assert.equal(error.details, { docId: d, eventId, seq }, `${field}: details name the document, the id and the stored event's seq`)
      assert.ok(error.message.includes(eventId) && error.message.includes(name), `${field}: the message names both: ${error.message}`)
    }
    let seq = 2
    for (const [i, [field, spec]] of variants.entries()) {
      const n = i + 1
      // Later batch: a.2 is stored (seq 2); the events around it are stored.
      const later = await store.append([{ docId: d, backend: 'yjs', events: [ev(name, 'b', n), ev(name, 'a', 2, spec), ev(name, 'c', n)] }])
      assert.equal(okSeqs(later[0]!), [seq + 1, 'err:ID_CONFLICT', seq + 2], field)
      assert.is(later[0]!.events[1]!.id, 'a.2')
      conflict(refusal(later[0]!, 1), 'a.2', 2, field)
      // Same batch: within one request, and across two requests for the document.
      const same = await store.append([
        { docId: d, backend: 'yjs', events: [ev(name, 'x', n), ev(name, 'x', n, spec)] },
        { docId: d, backend: 'yjs', events: [ev(name, 'y', n)] },
        { docId: d, backend: 'yjs', events: [ev(name, 'y', n, spec), ev(name, 'y', n)] },
      ])
      assert.equal(same.map(okSeqs), [[seq + 3, 'err:ID_CONFLICT'], [seq + 4], ['err:ID_CONFLICT', `dup:${seq + 4}`]], field)
      conflict(refusal(same[0]!, 1), `x.${n}`, seq + 3, field)
      conflict(refusal(same[2]!, 0), `y.${n}`, seq + 4, field)
      seq += 4
    }
    const stored = await store.readFrom(d, 0)
    assert.is(stored.length, seq)
    assertSameEvent(stored[1]!.event, ev(name, 'a', 2), 'the first version is kept')
    assertSameEvent(stored[4]!.event, ev(name, 'x', 1), 'the first version is kept (same batch)')
    assert.is((await store.getDoc(d))?.lastSeq, seq)
  })

  withStore('after an ID_CONFLICT, the later events of that actor in the request are refused too: they are built on the other content', async ({ store }) => {
    const name = 'PO-AFTER-CONFLICT'
    const d = doc(name)
    await store.append([{ docId: d, backend: 'yjs', events: evs(name, 'a', 1, 2) }])
    // A device restored from an older copy writes a.2 and a.3 again, with other content; b.1 of another actor goes in.
    const again = await store.append([{ docId: d, backend: 'yjs', events: [ev(name, 'a', 2, { hlcShift: 1 }), ev(name, 'a', 3), ev(name, 'b', 1), ev(name, 'a', 4)] }])
    assert.equal(okSeqs(again[0]!), ['err:ID_CONFLICT', 'err:ID_CONFLICT', 3, 'err:ID_CONFLICT'])
    const follows = refusal(again[0]!, 1)
    assert.ok(follows.message.includes('a.3') && follows.message.includes('a.2'), follows.message)
    assert.equal((await store.readFrom(d, 0)).map((e) => e.event.id), ['a.1', 'a.2', 'b.1'])
    // The device's real a.3, alone in a later request, is not held against it.
    assert.equal(okSeqs((await store.append([{ docId: d, backend: 'yjs', events: [ev(name, 'a', 3)] }]))[0]!), [4])
  })

  withStore('meta is not content: a re-send that differs only in meta is a duplicate, earlier or in the same batch, and the stored meta wins', async ({ store }) => {
    const name = 'PO-META'
    const d = doc(name)
    const other = (e: EventEnvelope): EventEnvelope => ({ ...e, meta: { at: instantFromEpochMs(T0 + 999_999), user: 'someone else', device: 'another phone' } })
    const [a1, a2] = [ev(name, 'a', 1), ev(name, 'a', 2)]
    assert.equal(okSeqs((await store.append([{ docId: d, backend: 'yjs', events: [a1] }]))[0]!), [1])
    assert.equal(okSeqs((await store.append([{ docId: d, backend: 'yjs', events: [other(a1)] }]))[0]!), ['dup:1'])
    const same = await store.append([{ docId: d, backend: 'yjs', events: [a2] }, { docId: d, backend: 'yjs', events: [other(a2), { ...a2, meta: {} } as never] }])
    assert.equal(same.map(okSeqs), [[2], ['dup:2', 'err:INVALID_EVENT']])
    assert.equal((await store.readFrom(d, 0)).map((e) => e.event.meta), [a1.meta, a2.meta])
  })

  withStore('an actor belongs to the subject that first stored one of its events: another subject is FORBIDDEN, naming the actor', async ({ store }) => {
    const name = 'PO-OWN'
    const d = doc(name)
    const push = async (subject: string | undefined, ...events: EventEnvelope[]) =>
      (await store.append([{ docId: d, backend: 'yjs', events, ...(subject === undefined ? {} : { subject }) }]))[0]!
    const e = (a: string, n: number) => ev(name, a, n)
    assert.equal(okSeqs(await push('alice', e('x', 1), e('x', 2))), [1, 2], 'the first writer binds x')
    assert.equal(await owners(store, 'x', 'nobody'), { x: 'alice' })
    // Another subject: x's new event is refused and takes no seq; the rest is stored, y bound to bob.
    const bob = await push('bob', e('y', 1), e('x', 3), e('y', 2))
    assert.equal(okSeqs(bob), [3, 'err:FORBIDDEN', 4])
    assert.is(bob.events[1]!.id, 'x.3')
    const forbidden = refusal(bob, 1)
    assert.match(forbidden.message, /actor x belongs to another writer; write as your own actor/)
    assert.equal(forbidden.details, { actor: 'x' })
    assert.is(bob.lastSeq, 4)
    assert.equal(okSeqs(await push('alice', e('x', 3))), [5], 'the same subject writes on')
    // No subject (the relay's own events): neither checked nor bound.
    assert.equal(okSeqs(await push(undefined, e('y', 3), e('z', 1))), [6, 7])
    assert.equal(await owners(store, 'x', 'y', 'z'), { x: 'alice', y: 'bob' })
    // '' (a token naming no subject) is a subject like any other.
    assert.equal(okSeqs(await push('', e('z', 2))), [8])
    assert.equal(okSeqs(await push('bob', e('z', 3))), ['err:FORBIDDEN'])
    // A duplicate is not a new event: neither refused nor binding.
    assert.equal(okSeqs(await push('bob', e('x', 1))), ['dup:1'])
    assert.equal(okSeqs(await push(undefined, e('w', 1))), [9])
    assert.equal(okSeqs(await push('alice', e('w', 1))), ['dup:9'])
    assert.equal(await owners(store, 'w'), {}, 'w is still unbound')
    assert.equal(okSeqs(await push('bob', e('w', 2))), [10], 'its first new event binds it')
    assert.equal(await owners(store, 'w', 'x', 'y', 'z'), { w: 'bob', x: 'alice', y: 'bob', z: '' })
    assert.equal((await store.readFrom(d, 0)).map((x) => x.event.id), ['x.1', 'x.2', 'y.1', 'y.2', 'x.3', 'y.3', 'z.1', 'z.2', 'w.1', 'w.2'])
  })

  withStore('a binding made earlier in a batch holds for the rest of it, across requests and documents', async ({ store }) => {
    const [a, b] = ['PO-BIND-A', 'PO-BIND-B']
    const r = await store.append([
      { docId: doc(a), backend: 'yjs', subject: 'alice', events: [ev(a, 'n', 1), ev(a, 'n', 2)] },
      { docId: doc(b), backend: 'yjs', subject: 'bob', events: [ev(b, 'n', 1), ev(b, 'm', 1)] },
      { docId: doc(a), backend: 'yjs', subject: 'bob', events: [ev(a, 'n', 3), ev(a, 'm', 2)] },
      { docId: doc(b), backend: 'yjs', subject: 'alice', events: [ev(b, 'n', 2), ev(b, 'm', 2)] },
    ])
    assert.equal(r.map(okSeqs), [[1, 2], ['err:FORBIDDEN', 1], ['err:FORBIDDEN', 3], [2, 'err:FORBIDDEN']])
    assert.equal(r.map((x) => x.lastSeq), [2, 1, 3, 2])
    assert.equal(await owners(store, 'n', 'm'), { n: 'alice', m: 'bob' })
  })

  withStore('refused events bind nobody: invalid, ID_CONFLICT, BACKEND_MISMATCH', async ({ store }) => {
    const name = 'PO-NOBIND'
    const d = doc(name)
    await store.append([{ docId: d, backend: 'yjs', events: [ev(name, 'k', 1)] }])
    const r = await store.append([
      { docId: d, backend: 'yjs', subject: 'eve', events: [{ ...ev(name, 'u', 1), hlc: 'not a clock' } as never, ev(name, 'k', 1, { payload: new Uint8Array([1]) })] },
      { docId: d, backend: 'automerge', subject: 'eve', events: [ev(name, 'v', 1, { backend: 'automerge' })] },
    ])
    assert.equal(r.map(okSeqs), [['err:INVALID_EVENT', 'err:ID_CONFLICT'], ['err:BACKEND_MISMATCH']])
    assert.equal(await owners(store, 'u', 'k', 'v'), {})
  })

  withStore('a document whose events are all FORBIDDEN is not created; the first request that stores one gives it its backend', async ({ store }) => {
    await store.append([{ docId: doc('PO-OWNED'), backend: 'yjs', subject: 'alice', events: [ev('PO-OWNED', 'x', 1)] }])
    const [n1, n2] = ['PO-NEW-1', 'PO-NEW-2']
    const r = await store.append([
      { docId: doc(n1), backend: 'yjs', subject: 'bob', events: [ev(n1, 'x', 1)] },
      { docId: doc(n1), backend: 'automerge', subject: 'bob', events: [ev(n1, 'b', 1, { backend: 'automerge' })] },
      { docId: doc(n1), backend: 'yjs', subject: 'bob', events: [ev(n1, 'b', 2)] },
      { docId: doc(n2), backend: 'yjs', subject: 'bob', events: [ev(n2, 'x', 1), ev(n2, 'x', 2)] },
    ])
    assert.equal(r.map((x) => [okSeqs(x), x.lastSeq, x.error?.code]), [
      [['err:FORBIDDEN'], 0, undefined], [[1], 1, undefined], [['err:BACKEND_MISMATCH'], 1, 'BACKEND_MISMATCH'], [['err:FORBIDDEN', 'err:FORBIDDEN'], 0, undefined],
    ])
    assert.equal({ ...(await store.getDoc(doc(n1))), createdAt: 'x' }, { docId: n1, backend: 'automerge', lastSeq: 1, createdAt: 'x' })
    assert.is(await store.getDoc(doc(n2)), undefined)
    assert.equal((await store.listDocs({ limit: 10 })).map((x) => x.docId), ['PO-NEW-1', 'PO-OWNED'])
    // It can still be created later, by its rightful writer.
    assert.equal(okSeqs((await store.append([{ docId: doc(n2), backend: 'yjs', subject: 'alice', events: [ev(n2, 'x', 1)] }]))[0]!), [1])
    assert.is((await store.getDoc(doc(n2)))?.backend, 'yjs')
  })

  withStore('actorOwners and actorHeads: one entry per known actor; a head is the highest actor seq stored in that document', async ({ store }) => {
    const [d1, d2] = ['PO-HEADS-1', 'PO-HEADS-2']
    await store.append([
      { docId: doc(d1), backend: 'yjs', subject: 'alice', events: [...evs(d1, 'a', 1, 3), ev(d1, 'a', 7)] },
      { docId: doc(d1), backend: 'yjs', subject: 'bob', events: [ev(d1, 'b', 1)] },
      { docId: doc(d2), backend: 'yjs', events: [...evs(d2, 'a', 1, 9), ev(d2, 'c', 4)] },
    ])
    const heads = async (d: string, ...actors: string[]) => Object.fromEntries(await store.actorHeads(doc(d), actors.map(actor)))
    assert.equal(await heads(d1, 'a', 'b', 'c'), { a: 7, b: 1 })
    assert.equal(await heads(d2, 'a', 'b', 'c', 'a'), { a: 9, c: 4 })
    assert.equal(await heads('PO-HEADS-NONE', 'a'), {})
    assert.equal(await heads(d1), {})
    assert.equal(await owners(store, 'a', 'b', 'c', 'a'), { a: 'alice', b: 'bob' })
    assert.equal(await owners(store), {})
    await rejectsWith(() => store.actorOwners('a' as never), 'INVALID_ARGUMENT')
    await rejectsWith(() => store.actorOwners(['not an actor!' as ReplicaId]), 'INVALID_ID')
    await rejectsWith(() => store.actorHeads('../x' as PurchaseId, []), 'INVALID_ID')
    await rejectsWith(() => store.actorHeads(doc(d1), [42 as never]), 'INVALID_ID')
  })

  withStore('stored bytes are the store’s own: mutating what went in or came out changes nothing', async ({ store }) => {
    const d = doc('PO-BYTES')
    const e = ev('PO-BYTES', 'a', 1, { payload: new Uint8Array([1, 2, 3]) })
    await store.append([{ docId: d, backend: 'yjs', events: [e] }])
    e.payload.fill(0)
    const [first] = await store.readFrom(d, 0)
    assert.equal(Array.from(first!.event.payload), [1, 2, 3])
    first!.event.payload.fill(9)
    const [again] = await store.readFrom(d, 0)
    assert.equal(Array.from(again!.event.payload), [1, 2, 3])
    await store.putSnapshot(d, { upToSeq: 1, heads: [e.id], bytes: e.payload.fill(4) })
    const snap = await store.latestSnapshot(d)
    snap!.bytes.fill(7)
    assert.equal(Array.from((await store.latestSnapshot(d))!.bytes), [4, 4, 4])
  })

  withStore('a document keeps the backend it was created with', async ({ store }) => {
    const d = doc('PO-BACKEND')
    await store.append([{ docId: d, backend: 'yjs', events: [ev('PO-BACKEND', 'a', 1)] }])
    const other = await store.append([{ docId: d, backend: 'automerge', events: evs('PO-BACKEND', 'a', 2, 3, { backend: 'automerge' }) }])
    assert.equal(okSeqs(other[0]!), ['err:BACKEND_MISMATCH', 'err:BACKEND_MISMATCH'])
    assert.is(other[0]!.error?.code, 'BACKEND_MISMATCH', 'the request as a whole is refused')
    assert.equal(other[0]!.error?.details, { docId: d, expected: 'yjs', actual: 'automerge' })
    assert.is(other[0]!.lastSeq, 1)
    // An event whose own backend is not the request's is refused on its own.
    const mixed = await store.append([{ docId: d, backend: 'yjs', events: [ev('PO-BACKEND', 'a', 2, { backend: 'automerge' }), ev('PO-BACKEND', 'b', 1)] }])
    assert.equal(okSeqs(mixed[0]!), ['err:BACKEND_MISMATCH', 2])
    assert.is(mixed[0]!.error, undefined, 'one event refused, not the request')
    // Within one batch, requests see the document as the requests before them left it.
    const n = doc('PO-BACKEND-NEW')
    const seq = await store.append([
      { docId: n, backend: 'automerge', events: [] },
      { docId: n, backend: 'yjs', events: [ev('PO-BACKEND-NEW', 'a', 1)] },
      { docId: n, backend: 'automerge', events: [ev('PO-BACKEND-NEW', 'b', 1, { backend: 'automerge' })] },
      { docId: n, backend: 'yjs', events: [ev('PO-BACKEND-NEW', 'a', 2)] },
    ])
    assert.equal(seq.map((x) => [okSeqs(x), x.lastSeq, x.error?.code]), [
      [[], 0, undefined], [[1], 1, undefined], [['err:BACKEND_MISMATCH'], 1, 'BACKEND_MISMATCH'], [[2], 2, undefined],
    ])
    assert.is((await store.getDoc(d))?.backend, 'yjs')
    assert.is((await store.getDoc(d))?.lastSeq, 2)
  })

  withStore('a batch across documents: refused events take no seq, everything valid commits (per-event results)', async ({ store }) => {
    const a = doc('PO-BATCH-A')
    const b = doc('PO-BATCH-B')
    const invalid = { ...ev('PO-BATCH-A', 'a', 2), kind: 'Not A Kind' } as EventEnvelope
    const wrongDoc = ev('PO-BATCH-B', 'a', 9)
    const r = await store.append([
      { docId: a, backend: 'yjs', events: [ev('PO-BATCH-A', 'a', 1), invalid, wrongDoc, ev('PO-BATCH-A', 'a', 3)] },
      { docId: b, backend: 'yjs', events: evs('PO-BATCH-B', 'b', 1, 2) },
      { docId: 'not a doc id!' as PurchaseId, backend: 'yjs', events: [ev('PO-BATCH-B', 'b', 3)] },
      { docId: b, backend: 'yjs', events: [ev('PO-BATCH-B', 'b', 3)] },
    ])
    assert.equal(r.map(okSeqs), [[1, 'err:INVALID_EVENT', 'err:INVALID_EVENT', 2], [1, 2], ['err:INVALID_ID'], [3]])
    assert.equal(r.map((x) => x.error?.code), [undefined, undefined, 'INVALID_ID', undefined])
    const refused = r[0]!.events[1] as Extract<EventOutcome, { ok: false }>
    assert.is(refused.id, 'a.2', 'a refused event is named by its id so the relay can nack it')
    assert.is(refused.error.details.field, 'kind')
    assert.equal((await store.readFrom(a, 0)).map((e) => e.event.id), ['a.1', 'a.3'])
    assert.equal((await store.readFrom(b, 0)).map((e) => e.event.id), ['b.1', 'b.2', 'b.3'])
    // A request with nothing valid creates no document.
    const none = await store.append([{ docId: doc('PO-NOTHING'), backend: 'yjs', events: [invalid] }, { docId: doc('PO-EMPTY-REQ'), backend: 'yjs', events: [] }])
    assert.equal(none.map((x) => x.lastSeq), [0, 0])
    assert.is(await store.getDoc(doc('PO-NOTHING')), undefined)
    assert.is(await store.getDoc(doc('PO-EMPTY-REQ')), undefined)
    assert.equal(await store.append([]), [])
  })

  withStore('bad arguments are typed errors, never crashes', async ({ store }) => {
    await rejectsWith(store.append('nope' as never), 'INVALID_ARGUMENT')
    const r = await store.append([{ docId: doc('PO-ARGS'), backend: 'crdt' as never, events: [ev('PO-ARGS', 'a', 1)] }, null as never])
    assert.equal(r.map(okSeqs), [['err:INVALID_ARGUMENT'], []])
    assert.equal(r.map((x) => x.error?.code), ['INVALID_ARGUMENT', 'INVALID_ARGUMENT'])
    const badSubject = await store.append([{ docId: doc('PO-ARGS'), backend: 'yjs', subject: null as never, events: [ev('PO-ARGS', 'a', 1)] }])
    assert.equal(badSubject.map(okSeqs), [['err:INVALID_ARGUMENT']], 'a subject that is not a string is refused, not taken for none')
    assert.is(await store.getDoc(doc('PO-ARGS')), undefined)
    await rejectsWith(() => store.readFrom('../etc' as PurchaseId, 0), 'INVALID_ID')
    await rejectsWith(() => store.readFrom(doc('PO-ARGS'), -1), 'INVALID_ARGUMENT')
    await rejectsWith(() => store.readFrom(doc('PO-ARGS'), 0, 0), 'INVALID_ARGUMENT')
    await rejectsWith(() => store.readFrom(doc('PO-ARGS'), 0, 1e9), 'INVALID_ARGUMENT')
    await rejectsWith(() => store.readFrom(doc('PO-ARGS'), 1.5), 'INVALID_ARGUMENT')
    await rejectsWith(() => store.listDocs({ limit: -1 }), 'INVALID_ARGUMENT')
    await rejectsWith(() => store.getDoc(42 as never), 'INVALID_ID')
    await rejectsWith(() => store.allocateNumber(doc('PO-ARGS'), 20260), 'INVALID_ARGUMENT')
    await rejectsWith(() => store.allocateNumber(doc('PO-ARGS'), 2026.5), 'INVALID_ARGUMENT')
    await rejectsWith(() => store.putSnapshot(doc('PO-ARGS'), { upToSeq: 0, heads: [], bytes: 'x' as never }), 'INVALID_ARGUMENT')
    await rejectsWith(() => store.putSnapshot(doc('PO-ARGS'), { upToSeq: 0, heads: ['bad id' as never], bytes: new Uint8Array() }), 'INVALID_ID')
    await rejectsWith(async () => {
      for await (const _ of store.readPages(doc('PO-ARGS'), 0, 0)) break
    }, 'INVALID_ARGUMENT')
  })

  withStore('readFrom pages by cursor; readPages streams the tail in bounded pages', async ({ store }) => {
    const d = doc('PO-PAGES')
    for (let i = 0; i < 5; i++) await store.append([{ docId: d, backend: 'yjs', events: evs('PO-PAGES', 'a', i * 5 + 1, i * 5 + 5) }])
    const seqs = async (after: number, limit?: number) => (await store.readFrom(d, after, limit)).map((e) => e.seq)
    assert.equal(await seqs(0, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.equal(await seqs(10, 10), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
    assert.equal(await seqs(20, 10), [21, 22, 23, 24, 25])
    assert.equal(await seqs(25), [])
    assert.equal(await seqs(99), [])
    assert.equal((await seqs(0)).length, 25)
    const pages: number[][] = []
    for await (const page of store.readPages(d, 3, 7)) pages.push(page.map((e) => e.seq))
    assert.equal(pages.map((p) => p.length), [7, 7, 7, 1])
    assert.equal(pages.flat(), Array.from({ length: 22 }, (_, i) => i + 4))
    // Exactly a multiple of the page size: no empty page at the end.
    const exact: number[] = []
    for await (const page of store.readPages(d, 0, 5)) exact.push(page.length)
    assert.equal(exact, [5, 5, 5, 5, 5])
    // Events appended while streaming are included (each page is a fresh read).
    const seen: number[] = []
    let appended = false
    for await (const page of store.readPages(d, 20, 5)) {
      seen.push(...page.map((e) => e.seq))
      if (!appended) {
        appended = true
        await store.append([{ docId: d, backend: 'yjs', events: evs('PO-PAGES', 'a', 26, 27) }])
      }
    }
    assert.equal(seen, [21, 22, 23, 24, 25, 26, 27])
    const summaries = await store.readSummaries(d, 25, 5)
    assert.equal(summaries.map((x) => [x.seq, x.id, x.actor, x.actorSeq, x.kind, x.deps]), [
      [26, 'a.26', 'a', 26, 'yjs.update', ['a.25']],
      [27, 'a.27', 'a', 27, 'yjs.update', ['a.26']],
    ])
    assert.is(summaries[0]!.payloadSize, new TextEncoder().encode('PO-PAGES/a/26').byteLength)
    assert.is(summaries[0]!.hlc, ev('PO-PAGES', 'a', 26).hlc)
    assert.equal(summaries[0]!.meta, ev('PO-PAGES', 'a', 26).meta)
  })

  withStore('any seq range: readFrom, readSummaries and readPages agree from every cursor (the admin history pages by them)', async ({ store }) => {
    const d = doc('PO-RANGE')
    await store.append([{ docId: d, backend: 'yjs', events: evs('PO-RANGE', 'a', 1, 12) }, { docId: doc('PO-RANGE-OTHER'), backend: 'yjs', events: evs('PO-RANGE-OTHER', 'a', 1, 3) }])
    await store.append([{ docId: d, backend: 'yjs', events: [...evs('PO-RANGE', 'b', 1, 6), ...evs('PO-RANGE', 'a', 13, 16)] }])
    const all = await store.readFrom(d, 0)
    assert.is(all.length, 22)
    const project = (s: StoredEvent) => ({
      seq: s.seq, id: s.event.id, actor: s.event.actor, actorSeq: s.event.seq, hlc: s.event.hlc, kind: s.event.kind,
      deps: [...s.event.deps], meta: s.event.meta, payloadSize: s.event.payload.byteLength, storedAt: s.storedAt,
    })
    for (let after = 0; after <= all.length + 1; after++) {
      for (const limit of [1, 3, 7, 22, 1000]) {
        const want = all.slice(after, after + limit)
        const got = await store.readFrom(d, after, limit)
        assert.equal(got.map((x) => x.seq), want.map((x) => x.seq), `readFrom after=${after} limit=${limit}`)
        const summaries = await store.readSummaries(d, after, limit)
        assert.equal(summaries.map((x) => ({ ...x, deps: [...x.deps] })), got.map(project), `readSummaries after=${after} limit=${limit}`)
      }
      const paged: number[] = []
      for await (const page of store.readPages(d, after, 1 + (after % 5))) paged.push(...page.map((x) => x.seq))
      assert.equal(paged, all.slice(after).map((x) => x.seq), `readPages after=${after}`)
    }
  })

  withStore('getDoc and listDocs page through documents in id order', async ({ store }) => {
    const ids = ['PO-c', 'PO-A', 'PO-b', 'PO-B', 'PO-a', 'PO-0']
    for (const id of ids) await store.append([{ docId: doc(id), backend: 'yjs', events: [ev(id, 'a', 1)] }])
    const sorted = [...ids].sort()
    const first = await store.listDocs({ limit: 4 })
    assert.equal(first.map((d) => d.docId), sorted.slice(0, 4))
    const rest = await store.listDocs({ after: first[3]!.docId, limit: 4 })
    assert.equal(rest.map((d) => d.docId), sorted.slice(4))
    assert.equal(await store.listDocs({ after: doc('PO-z'), limit: 4 }), [])
    const info = first[0]!
    assert.is(info.lastSeq, 1)
    assert.is(info.backend, 'yjs')
    assert.ok(/^\d{4}-\d\d-\d\dT/.test(info.createdAt))
    await store.allocateNumber(doc('PO-A'), 2026)
    assert.is((await store.listDocs({ limit: 10 })).find((d) => d.docId === 'PO-A')?.number, 'PO-2026-00001')
  })

  withStore('snapshots: latest wins, older ones are deleted after, stale ones are ignored, events stay', async ({ store }) => {
    const d = doc('PO-SNAP')
    await rejectsWith(() => store.putSnapshot(d, { upToSeq: 0, heads: [], bytes: new Uint8Array([1]) }), 'NOT_FOUND')
    await store.append([{ docId: d, backend: 'yjs', events: evs('PO-SNAP', 'a', 1, 10) }])
    await rejectsWith(() => store.putSnapshot(d, { upToSeq: 11, heads: [], bytes: new Uint8Array([1]) }), 'INVALID_ARGUMENT')
    const heads5 = [ev('PO-SNAP', 'a', 5).id]
    assert.equal(await store.putSnapshot(d, { upToSeq: 5, heads: heads5, bytes: new Uint8Array([5, 5]) }), { written: true })
    const first = await store.latestSnapshot(d)
    assert.equal({ ...first, bytes: Array.from(first!.bytes), createdAt: 'x' }, { docId: d, upToSeq: 5, heads: heads5, bytes: [5, 5], createdAt: 'x' })
    assert.equal(await store.putSnapshot(d, { upToSeq: 8, heads: [ev('PO-SNAP', 'a', 8).id], bytes: new Uint8Array([8]) }), { written: true })
    assert.equal((await store.listSnapshots(d)).map((x) => [x.upToSeq, x.size]), [[8, 1]])
    // Behind the latest: not written.
    assert.equal(await store.putSnapshot(d, { upToSeq: 6, heads: [], bytes: new Uint8Array([6]) }), { written: false })
    assert.equal((await store.listSnapshots(d)).map((x) => x.upToSeq), [8])
    // Same upToSeq: replaces.
    assert.equal(await store.putSnapshot(d, { upToSeq: 8, heads: [], bytes: new Uint8Array([8, 8, 8]) }), { written: true })
    assert.equal((await store.listSnapshots(d)).map((x) => [x.upToSeq, x.size]), [[8, 3]])
    assert.equal(Array.from((await store.latestSnapshot(d))!.bytes), [8, 8, 8])
    // Events are never deleted; loading is the snapshot plus what follows it.
    assert.is((await store.readFrom(d, 0)).length, 10)
    const loaded = await loadDocument(store, d, 1)
    assert.is(loaded?.snapshot?.upToSeq, 8)
    const tail: number[] = []
    for await (const page of loaded!.tail) tail.push(...page.map((e) => e.seq))
    assert.equal(tail, [9, 10])
  })

  {
    // Write-before-delete: a crash between the two steps of putSnapshot.
    let crash = false
    withStore(
      'snapshots are written before older ones are deleted: a crash in between leaves both, and the new one loads',
      async ({ store }) => {
        const d = doc('PO-CRASHSNAP')
        await store.append([{ docId: d, backend: 'yjs', events: evs('PO-CRASHSNAP', 'a', 1, 6) }])
        await store.putSnapshot(d, { upToSeq: 3, heads: [], bytes: new Uint8Array([3]) })
        crash = true
        let failed = false
        try {
          await store.putSnapshot(d, { upToSeq: 6, heads: [], bytes: new Uint8Array([6]) })
        } catch (e) {
          failed = (e as Error).message === 'simulated crash'
        }
        crash = false
        assert.ok(failed, 'the hook stopped putSnapshot between its steps')
        assert.equal((await store.listSnapshots(d)).map((x) => x.upToSeq), [3, 6], 'the old snapshot is still there')
        assert.is((await store.latestSnapshot(d))?.upToSeq, 6)
        const loaded = await loadDocument(store, d)
        assert.is(loaded?.snapshot?.upToSeq, 6)
        // The next snapshot cleans up.
        await store.append([{ docId: d, backend: 'yjs', events: [ev('PO-CRASHSNAP', 'a', 7)] }])
        await store.putSnapshot(d, { upToSeq: 7, heads: [], bytes: new Uint8Array([7]) })
        assert.equal((await store.listSnapshots(d)).map((x) => x.upToSeq), [7])
      },
      {
        testHooks: {
          afterSnapshotWrite: () => {
            if (crash) throw new Error('simulated crash')
          },
        },
      },
    )
  }

  withStore('numbers: per year, gapless, idempotent per document', async ({ store }) => {
    const n = (id: string, year: number) => store.allocateNumber(doc(id), year)
    assert.is(await n('PO-N1', 2026), 'PO-2026-00001')
    assert.is(await n('PO-N2', 2026), 'PO-2026-00002')
    assert.is(await n('PO-N1', 2026), 'PO-2026-00001')
    assert.is(await n('PO-N1', 2027), 'PO-2026-00001', 'a numbered document keeps its number')
    assert.is(await n('PO-N3', 2027), 'PO-2027-00001')
    assert.is(await n('PO-N4', 2026), 'PO-2026-00003')
    // Concurrent requests: distinct documents get distinct consecutive numbers,
    // the same document gets one number.
    const many = await Promise.all([...Array.from({ length: 10 }, (_, i) => n(`PO-M${i}`, 2030)), n('PO-SAME', 2030), n('PO-SAME', 2030)])
    const same = many.slice(10)
    assert.is(same[0], same[1])
    assert.equal(new Set(many).size, 11)
    assert.equal([...new Set(many)].sort(), Array.from({ length: 11 }, (_, i) => `PO-2030-${String(i + 1).padStart(5, '0')}`))
    // A number can come before the first event; getDoc shows it once the document exists.
    await store.append([{ docId: doc('PO-N1'), backend: 'yjs', events: [ev('PO-N1', 'a', 1)] }])
    assert.is((await store.getDoc(doc('PO-N1')))?.number, 'PO-2026-00001')
  })

  withStore('relayId is a stable replica id; ping answers; close is final and idempotent', async ({ store }) => {
    const id = await store.relayId()
    assert.is(parseReplicaId(id), id)
    assert.is(await store.relayId(), id)
    await store.ping()
    await store.close()
    await store.close()
    await rejectsWith(() => store.ping(), 'STORE_CLOSED')
    await rejectsWith(() => store.append([]), 'STORE_CLOSED')
    await rejectsWith(() => store.readFrom(doc('PO-X'), 0), 'STORE_CLOSED')
    await rejectsWith(() => store.getDoc(doc('PO-X')), 'STORE_CLOSED')
    await rejectsWith(() => store.allocateNumber(doc('PO-X'), 2026), 'STORE_CLOSED')
    await rejectsWith(() => store.relayId(), 'STORE_CLOSED')
    await rejectsWith(() => store.actorOwners([]), 'STORE_CLOSED')
    await rejectsWith(() => store.actorHeads(doc('PO-X'), []), 'STORE_CLOSED')
  })

  withStore('reopening keeps events, documents, snapshots, numbers, bindings and the relay id', async (h) => {
    if (h.reopen === undefined) return
    const d = doc('PO-REOPEN')
    await h.store.append([{ docId: d, backend: 'automerge', subject: 'alice', events: evs('PO-REOPEN', 'a', 1, 4, { backend: 'automerge' }) }])
    await h.store.putSnapshot(d, { upToSeq: 2, heads: [ev('PO-REOPEN', 'a', 2).id], bytes: new Uint8Array([1, 2, 3]) })
    const number = await h.store.allocateNumber(d, 2026)
    const id = await h.store.relayId()
    const before = { doc: await h.store.getDoc(d), events: await h.store.readFrom(d, 0), snap: await h.store.latestSnapshot(d) }
    const store = await h.reopen()
    assert.is(await store.relayId(), id)
    assert.equal(await store.getDoc(d), before.doc)
    assert.is((await store.getDoc(d))?.number, number)
    const events = await store.readFrom(d, 0)
    assert.is(events.length, 4)
    events.forEach((e, i) => {
      assert.is(e.seq, before.events[i]!.seq)
      assertSameEvent(e.event, before.events[i]!.event, `reopened event ${i + 1}`)
    })
    const snap = await store.latestSnapshot(d)
    assert.equal(Array.from(snap!.bytes), [1, 2, 3])
    assert.equal(snap!.heads, before.snap!.heads)
    const more = await store.append([{ docId: d, backend: 'automerge', subject: 'alice', events: evs('PO-REOPEN', 'a', 4, 5, { backend: 'automerge' }) }])
    assert.equal(okSeqs(more[0]!), ['dup:4', 5])
    // Content identity and ownership survive too.
    const after = await store.append([{ docId: d, backend: 'automerge', subject: 'bob', events: [ev('PO-REOPEN', 'a', 1, { backend: 'automerge', hlcShift: 1 }), ev('PO-REOPEN', 'a', 6, { backend: 'automerge' })] }])
    assert.equal(okSeqs(after[0]!), ['err:ID_CONFLICT', 'err:FORBIDDEN'])
    assert.equal(await owners(store, 'a'), { a: 'alice' })
    assert.equal(Object.fromEntries(await store.actorHeads(d, [actor('a')])), { a: 5 })
  })

  withStore('an actor bound through one instance is refused through another', async (h) => {
    if (h.openAnother === undefined) return
    const other = await h.openAnother()
    const name = 'PO-SHARED-OWN'
    const push = (store: EventStore, subject: string, e: EventEnvelope) => store.append([{ docId: doc(name), backend: 'yjs', subject, events: [e] }])
    assert.equal(okSeqs((await push(h.store, 'alice', ev(name, 's', 1)))[0]!), [1])
    assert.equal(okSeqs((await push(other, 'bob', ev(name, 's', 2)))[0]!), ['err:FORBIDDEN'])
    assert.equal(okSeqs((await push(other, 'alice', ev(name, 's', 2)))[0]!), [2])
    assert.equal(await owners(other, 's'), { s: 'alice' })
  })

  withStore('two instances appending to the same document concurrently: gapless, each event once', async (h) => {
    if (h.openAnother === undefined) return
    const other = await h.openAnother()
    try {
      const d = doc('PO-RACE')
      // Four actors, two per instance, in batches of 1..4; plus actor e whose
      // events both instances send (a client retrying through two relays).
      const plan = (a: string, sizes: number[]) => {
        let n = 1
        return sizes.map((k) => {
          const batch = evs('PO-RACE', a, n, n + k - 1)
          n += k
          return batch
        })
      }
      const sizes = [1, 3, 2, 4, 1, 1, 2, 3, 4, 2, 1]
      const run = async (store: EventStore, actors: string[]) => {
        const batches = actors.map((a) => plan(a, sizes))
        for (let i = 0; i < sizes.length; i++) {
          await store.append(batches.map((b) => ({ docId: d, backend: 'yjs' as const, events: b[i]! })))
          await store.append([{ docId: d, backend: 'yjs', events: evs('PO-RACE', 'e', i + 1, i + 1) }])
        }
      }
      await Promise.all([run(h.store, ['a', 'b']), run(other, ['c', 'd']), run(h.store, []), run(other, [])])
      const perActor = sizes.reduce((x, y) => x + y, 0)
      const all = await readAll(h.store, d)
      const total = perActor * 4 + sizes.length
      assert.equal(all.map((e) => e.seq), Array.from({ length: total }, (_, i) => i + 1), 'gapless 1..N')
      assert.is(new Set(all.map((e) => e.event.id)).size, total, 'each event once')
      for (const a of ['a', 'b', 'c', 'd']) {
        const mine = all.filter((e) => e.event.actor === a).map((e) => e.event.seq)
        assert.equal(mine, Array.from({ length: perActor }, (_, i) => i + 1), `actor ${a} in its own order`)
      }
      assert.is((await other.getDoc(d))?.lastSeq, total)
      // Numbers from both instances at once: distinct and gapless.
      const numbers = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? h.store : other).allocateNumber(doc(`PO-RN${i >> 1}`), 2031)))
      for (let i = 0; i < 12; i += 2) assert.is(numbers[i], numbers[i + 1], 'one document, one number, whichever instance asked')
      assert.equal(numbers.filter((_, i) => i % 2 === 0).sort(), Array.from({ length: 6 }, (_, i) => `PO-2031-${String(i + 1).padStart(5, '0')}`))
      assert.is(await other.relayId(), await h.store.relayId())
    } finally {
      await other.close()
    }
  })

  withStore(`random batches with duplicates, conflicts and writers match a simple model (SEED=${SEED})`, async ({ store }) => {
    let run = 0
    const eventArb = fc.record({
      actor: fc.constantFrom('a', 'b'),
      n: fc.integer({ min: 1, max: 4 }),
      variant: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
      invalid: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    })
    const requestArb = fc.record({
      doc: fc.integer({ min: 0, max: 2 }),
      // Mostly the default backend, sometimes any other of the registry.
      backend: fc.oneof({ weight: 8, arbitrary: fc.constant(DEFAULT_BACKEND) }, { weight: 1, arbitrary: fc.constantFrom(...BACKEND_NAMES.filter((n) => n !== DEFAULT_BACKEND)) }),
      subject: fc.constantFrom(undefined, 's1', 's2'),
      events: fc.array(eventArb, { maxLength: 6 }),
    })
    const batchesArb = fc.array(fc.array(requestArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 })
    await checkAsync(
      fc.asyncProperty(batchesArb, async (batches) => {
        run++
        const docName = (i: number) => `PO-R${run}-${i}`
        // Actors are global to a store: each run has its own.
        const actorName = (a: string) => `${a}${run}`
        // The model: per document its backend and its events' (seq, variant) by id; per actor its subject.
        const model = new Map<string, { backend: string; ids: Map<string, { seq: number; variant: number }>; order: string[] }>()
        const bound = new Map<string, string>()
        for (const batch of batches) {
          const expected: (string | number)[][] = []
          const expectedErrors: (string | undefined)[] = []
          const requests = batch.map((r) => {
            const name = docName(r.doc)
            const backend = r.backend
            const events = r.events.map((e) => {
              const made = ev(name, actorName(e.actor), e.n, { backend, payload: new Uint8Array([e.n, e.variant]) })
              return e.invalid ? ({ ...made, hlc: 'not a clock' } as unknown as EventEnvelope) : made
            })
            return { r, name, backend, events }
          })
          for (const { r, name, backend } of requests) {
            let m = model.get(name)
            const out: (string | number)[] = []
            if (m !== undefined && m.backend !== backend) {
              expected.push(r.events.map((e) => (e.invalid ? 'err:INVALID_EVENT' : 'err:BACKEND_MISMATCH')))
              expectedErrors.push('BACKEND_MISMATCH')
              continue
            }
            expectedErrors.push(undefined)
            // Per actor, the lowest n of this request refused as an ID_CONFLICT: its later events are refused too.
            const conflicted = new Map<string, number>()
            for (const e of r.events) {
              if (e.invalid) {
                out.push('err:INVALID_EVENT')
                continue
              }
              const a = actorName(e.actor)
              const id = `${a}.${e.n}`
              const known = m?.ids.get(id)
              if (known !== undefined) {
                if (known.variant !== e.variant) conflicted.set(a, Math.min(conflicted.get(a) ?? Infinity, e.n))
                out.push(known.variant === e.variant ? `dup:${known.seq}` : 'err:ID_CONFLICT')
                continue
              }
              const owner = r.subject === undefined ? undefined : bound.get(a)
              if (owner !== undefined && owner !== r.subject) {
                out.push('err:FORBIDDEN')
                continue
              }
              if (e.n > (conflicted.get(a) ?? Infinity)) {
                out.push('err:ID_CONFLICT')
                continue
              }
              if (r.subject !== undefined && owner === undefined) bound.set(a, r.subject)
              // A document exists from its first stored event.
              m ??= { backend, ids: new Map(), order: [] }
              model.set(name, m)
              m.order.push(id)
              m.ids.set(id, { seq: m.order.length, variant: e.variant })
              out.push(m.order.length)
            }
            expected.push(out)
          }
          const results = await store.append(
            requests.map(({ r, name, backend, events }) => ({ docId: doc(name), backend, events, ...(r.subject === undefined ? {} : { subject: r.subject }) })),
          )
          assert.equal(results.map(okSeqs), expected)
          assert.equal(results.map((x) => x.error?.code), expectedErrors)
        }
        for (let i = 0; i <= 2; i++) {
          const m = model.get(docName(i))
          const info = await store.getDoc(doc(docName(i)))
          if (m === undefined) {
            assert.is(info, undefined)
            continue
          }
          assert.is(info?.lastSeq, m.order.length)
          assert.is(info?.backend, m.backend)
          const stored = await readAll(store, doc(docName(i)))
          assert.equal(stored.map((e) => e.event.id), m.order)
          assert.equal(stored.map((e) => e.event.payload[1]), m.order.map((id) => m.ids.get(id)!.variant))
        }
        assert.equal(await owners(store, actorName('a'), actorName('b')), Object.fromEntries(bound))
      }),
      { numRuns: options.propertyRuns ?? 60 },
    )
  })

  s.run()
}
