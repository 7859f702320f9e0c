/**
 * The Yjs update inspector beyond the backend-neutral contract: updates
 * made by hand, with Yjs's own API on a copy of a Concord document (what a
 * y-websocket client can send) or struct by struct with Yjs's encoder (what
 * no Yjs API makes but a hostile writer can), robust reads of values Concord
 * never writes, and random raw updates checked against what applying them
 * to a copy of the document really changes.
 */
import fc from 'fast-check'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as Y from 'yjs'
import { type EventId, type Hlc, type ReplicaId, yjsBackend } from '@concord/core'
import { type CrdtDoc, type YjsDoc, canonicalJson } from '@concord/core/internal'
import { check } from '../support/seed.js'
import { canonicalSnapshot } from './backend-contract.js'
import { type EffectOp, type UpdateEffect, assertShape, historyArb, mutate, mutationArb, setUp, throwsCode } from './inspect-contract.js'

const rid = (s: string) => s as ReplicaId
const inspect = (doc: CrdtDoc, payload: Uint8Array): UpdateEffect => yjsBackend.inspectUpdate!(doc, payload)
const entry = (value: unknown, ev: string, t: number) => ({ value, ev: ev as EventId, hlc: String(t).padStart(12, '0') as Hlc })
const canonOps = (ops: readonly EffectOp[]) => ops.map((o) => canonicalJson(o)).sort()
const MALLORY = 777

/** A Concord document with a little of everything, and a copy of it under another replica (the relay's). */
function purchase(): { a: YjsDoc; b: YjsDoc } {
  const a = yjsBackend.create(rid('ra')) as YjsDoc
  a.change((w) => {
    w.init('settings', { currency: 'EUR' })
    w.setRegister('h.supplier', entry('ACME', 'ra.1', 1) as never)
    w.addRecord('payments', 'p1', { amount: '100' })
    w.addRecord('lines', 'l1', { id: 'l1' })
    w.insertText('notes', 0, 'hello')
    w.tickClock(rid('ra'), 1)
  })
  return { a, b: yjsBackend.load(a.save(), rid('rb')) as YjsDoc }
}

/** A raw Y.Doc holding what `doc` holds, writing as `client`. */
function rawCopy(doc: YjsDoc, client = MALLORY): Y.Doc {
  const r = new Y.Doc()
  Y.applyUpdate(r, Y.encodeStateAsUpdate(doc.ydoc))
  r.clientID = client
  return r
}

/** The update of each transaction `fns` make on a raw copy of `doc`, merged into one (or each, with `each`). */
function rawUpdates(doc: YjsDoc, fns: readonly ((r: Y.Doc) => void)[], client = MALLORY): Uint8Array[] {
  const r = rawCopy(doc, client)
  const out: Uint8Array[] = []
  r.on('update', (u: Uint8Array) => out.push(u))
  for (const fn of fns) r.transact(() => fn(r))
  r.destroy()
  return out
}
const raw = (doc: YjsDoc, ...fns: ((r: Y.Doc) => void)[]): Uint8Array => {
  const ups = rawUpdates(doc, fns)
  return ups.length === 1 ? ups[0]! : Y.mergeUpdates(ups)
}

// Updates struct by struct, for what no Yjs API writes.
interface Group {
  readonly client: number
  readonly clock: number
  readonly items: readonly Y.Item[]
}
function encode(groups: readonly Group[], ds: readonly { client: number; ranges: readonly (readonly [number, number])[] }[] = []): Uint8Array {
  const e = new Y.UpdateEncoderV1()
  e.writeLen(groups.length)
  for (const g of groups) {
    e.writeLen(g.items.length)
    e.writeClient(g.client)
    e.writeLen(g.clock)
    for (const it of g.items) it.write(e, 0)
  }
  e.writeLen(ds.length)
  for (const d of ds) {
    e.writeLen(d.client)
    e.writeLen(d.ranges.length)
    for (const [clock, len] of d.ranges) {
      e.writeDsClock(clock)
      e.writeDsLen(len)
    }
  }
  return e.toUint8Array()
}
const item = (client: number, clock: number, o: { origin?: Y.ID; right?: Y.ID; parent?: string | Y.ID; sub?: string }, content: Y.AbstractStruct | object) =>
  new Y.Item(Y.createID(client, clock), null, o.origin ?? null, null, o.right ?? null, (o.parent ?? null) as never, o.sub ?? null, content as never)

/** The live item holding a key of a root map. */
const live = (doc: Y.Doc, root: string, key: string) => {
  const it = doc.share.get(root)?._map.get(key)
  return it === undefined || it.deleted ? undefined : it
}

// ---------------------------------------------------------------- by Yjs's API

test('a null and a number written into regs are listed as register entries, and reads skip them', () => {
  const { b } = purchase()
  const p = raw(b, (r) => {
    r.getMap('regs').set('h.supplier\u0000x.1', null)
    r.getMap('regs').set('h.supplier\u0000x.2', 5)
  })
  const e = inspect(b, p)
  assert.equal(canonOps(e.ops), canonOps([
    { k: 'reg', key: 'h.supplier', slot: 'x.1', entry: null, existing: undefined },
    { k: 'reg', key: 'h.supplier', slot: 'x.2', entry: 5, existing: undefined },
  ]))
  assert.equal(e.authors, [String(MALLORY)])
  assert.is(e.incomplete, false)
  b.read()
  b.applyBatch([p])
  // Patched read, then a read from scratch: both skip what no Concord write makes.
  assert.equal(b.read().registers.get('h.supplier')!.map((x) => x.ev), ['ra.1'])
  assert.equal(yjsBackend.load(b.save(), rid('rc')).read().registers.get('h.supplier')!.map((x) => x.ev), ['ra.1'])
})

test('read() of a register holding null, a number, a nested type or an entry without hlc does not throw', () => {
  const { b } = purchase()
  b.read()
  b.ydoc.transact(() => {
    const regs = b.ydoc.getMap('regs')
    regs.set('h.supplier\u0000x.1', null)
    regs.set('h.supplier\u0000x.2', 7)
    regs.set('h.supplier\u0000x.3', new Y.Map())
    regs.set('h.supplier\u0000x.4', { value: 1, ev: 'x.4' })
    regs.set('h.supplier\u0000x.5', [1, 2])
    regs.set('h.nosep', entry(1, 'x.6', 9))
    regs.set('h.other\u0000x.7', null)
  })
  for (const s of [b.read(), yjsBackend.load(b.save(), rid('rc')).read()]) {
    assert.equal(s.registers.get('h.supplier')!.map((x) => x.ev), ['ra.1'])
    assert.is(s.registers.has('h.other'), false, 'a register holding only unreadable entries is absent')
    assert.is(s.registers.has('h.nose'), false, 'a key without the separator belongs to no register')
    canonicalSnapshot(s)
  }
})

test('set reads agree from scratch and patched, and leave out undefined and live Yjs types', () => {
  const { b } = purchase()
  b.read()
  b.ydoc.transact(() => {
    const lines = b.ydoc.getMap('set:lines')
    lines.set('undef', undefined)
    lines.set('nested', new Y.Map([['id', 'nested']]))
    lines.set('null', null)
    lines.set('num', 3)
  })
  const patched = b.read()
  const scratch = yjsBackend.load(b.save(), rid('rc')).read()
  assert.is(canonicalSnapshot(patched), canonicalSnapshot(scratch))
  assert.equal([...patched.sets.lines.keys()].sort(), ['l1', 'null', 'num'])
})

test('a nested Y.Map in a set is malformed', () => {
  const { b } = purchase()
  const p = raw(b, (r) => {
    const m = new Y.Map<unknown>()
    r.getMap('set:lines').set('l9', m)
    m.set('id', 'l9')
  })
  const e = inspect(b, p)
  assert.ok(e.ops.some((o) => o.k === 'malformed' && o.where === 'set:lines["l9"]'), JSON.stringify(e.ops))
  assert.ok(e.ops.some((o) => o.k === 'malformed' && o.where === 'set:lines' && /nested/.test(o.why)), 'its content too')
  assert.not.ok(e.ops.some((o) => o.k === 'record'))
})

test('text formatting and embeds are malformed; plain inserts and deletes are counted', () => {
  const { b } = purchase()
  const fmt = inspect(b, raw(b, (r) => r.getText('t:notes').format(0, 2, { bold: true })))
  assert.ok(fmt.ops.some((o) => o.k === 'malformed' && o.where === 't:notes' && /format/.test(o.why)), JSON.stringify(fmt.ops))
  const embed = inspect(b, raw(b, (r) => r.getText('t:notes').insertEmbed(1, { img: 'x' })))
  assert.ok(embed.ops.some((o) => o.k === 'malformed' && /embed/.test(o.why)), JSON.stringify(embed.ops))
  const plain = inspect(b, raw(b, (r) => {
    r.getText('t:notes').delete(0, 2)
    r.getText('t:notes').insert(1, 'XYZ')
  }))
  assert.equal(plain.ops, [{ k: 'text', key: 'notes', inserted: 3, deleted: 2 }])
})

test('writes to roots that are not Concord\'s are foreign, one op per root, deletes included', () => {
  const { b } = purchase()
  const p = raw(b, (r) => {
    r.getMap('cursors').set('me', 1)
    r.getMap('cursors').set('you', 2)
    r.getArray('list').push([1, 2])
    r.getMap('set:unknown').set('x', 1)
  })
  const e = inspect(b, p)
  assert.equal(canonOps(e.ops), canonOps([{ k: 'foreign', root: 'cursors' }, { k: 'foreign', root: 'list' }, { k: 'foreign', root: 'set:unknown' }]))
  b.applyBatch([p])
  const del = inspect(b, raw(b, (r) => r.getArray('list').delete(0, 1)))
  assert.equal(del.ops, [{ k: 'foreign', root: 'list' }])
})

test('an overwrite of an existing record id is a record with its existing value, not a delete', () => {
  const { b } = purchase()
  const e = inspect(b, raw(b, (r) => r.getMap('set:payments').set('p1', { amount: '999' })))
  assert.equal(e.ops, [{ k: 'record', set: 'payments', id: 'p1', record: { amount: '999' }, existing: { amount: '100' } }])
})

test('a delete of an existing payment is a recordDelete; of init, clock and registers their deletes', () => {
  const { b } = purchase()
  const e = inspect(b, raw(b, (r) => {
    r.getMap('set:payments').delete('p1')
    r.getMap('init').delete('settings')
    r.getMap('clock').delete('ra')
    r.getMap('regs').delete('h.supplier\u0000ra.1')
    r.getMap('set:payments').delete('never-there')
  }))
  assert.equal(canonOps(e.ops), canonOps([
    { k: 'recordDelete', set: 'payments', id: 'p1' },
    { k: 'initDelete', key: 'settings' },
    { k: 'clockDelete', replica: 'ra' },
    { k: 'regDelete', key: 'h.supplier', slot: 'ra.1' },
  ]))
  assert.equal(e.authors, [], 'a delete set names no author')
})

test('an update whose origin or delete the document lacks is incomplete', () => {
  const { b } = purchase()
  const [first, second] = rawUpdates(b, [(r) => r.getText('t:memo').insert(0, 'abc'), (r) => r.getText('t:memo').insert(3, 'def')])
  assert.is(inspect(b, second!).incomplete, true, 'an origin in a change the document lacks')
  const [, del] = rawUpdates(b, [(r) => r.getText('t:memo').insert(0, 'abc'), (r) => r.getText('t:memo').delete(0, 1)])
  const e = inspect(b, del!)
  assert.is(e.incomplete, true, 'a delete of an item the document lacks')
  b.applyBatch([first!])
  assert.equal(inspect(b, second!), { ops: [{ k: 'text', key: 'memo', inserted: 3, deleted: 0 }], authors: [String(MALLORY)], incomplete: false })
})

test('changes made and undone within one update do nothing', () => {
  const { b } = purchase()
  const p = raw(b,
    (r) => r.getMap('set:payments').set('p9', { amount: '1' }),
    (r) => r.getMap('set:payments').delete('p9'),
    (r) => r.getText('t:notes').insert(0, 'zz'),
    (r) => r.getText('t:notes').delete(0, 2),
    (r) => r.getMap('regs').set('k\u0000m.1', entry(1, 'm.1', 5)),
    (r) => {
      r.getMap('regs').delete('k\u0000m.1')
      r.getMap('regs').set('k\u0000m.2', entry(2, 'm.2', 6))
    },
  )
  const e = inspect(b, p)
  assert.equal(e.ops, [{ k: 'reg', key: 'k', slot: 'm.2', entry: entry(2, 'm.2', 6), existing: undefined }])
})

test('a register key without an event id is malformed', () => {
  const { b } = purchase()
  const e = inspect(b, raw(b, (r) => r.getMap('regs').set('h.supplier', entry(1, 'x', 1))))
  assert.equal(e.ops, [{ k: 'malformed', where: 'regs["h.supplier"]', why: 'a register entry without an event id' }])
})

test('list content in a Concord map root is malformed', () => {
  const { b } = purchase()
  const other = new Y.Doc()
  other.clientID = MALLORY
  let p: Uint8Array | undefined
  other.on('update', (u: Uint8Array) => (p = u))
  other.getArray('set:lines').push([{ id: 'l7' }])
  const e = inspect(b, p!)
  assert.equal(e.ops, [{ k: 'malformed', where: 'set:lines', why: 'a value as a list item of a map' }])
})

// ---------------------------------------------------------------- struct by struct

test('a deleted item that takes a key\'s place is a hidden delete of the value there', () => {
  const { b } = purchase()
  const old = live(b.ydoc, 'set:payments', 'p1')!
  const p = encode([{ client: MALLORY, clock: 0, items: [item(MALLORY, 0, { origin: old.lastId }, new Y.ContentDeleted(1))] }])
  assert.equal(inspect(b, p).ops, [{ k: 'recordDelete', set: 'payments', id: 'p1' }])
  // What Yjs does with it:
  b.applyBatch([p])
  assert.is(b.read().sets.payments.has('p1'), false)
})

test('a write that takes a key\'s place without deleting the old value says what it replaces', () => {
  const { b } = purchase()
  const old = live(b.ydoc, 'set:payments', 'p1')!
  const p = encode([{ client: MALLORY, clock: 0, items: [item(MALLORY, 0, { origin: old.lastId }, new Y.ContentAny([{ amount: '1' }]))] }])
  assert.equal(inspect(b, p).ops, [{ k: 'record', set: 'payments', id: 'p1', record: { amount: '1' }, existing: { amount: '100' } }])
  b.applyBatch([p])
  assert.equal(b.read().sets.payments.get('p1'), { amount: '1' })
})

test('a reference to a later change of the same author is malformed (Yjs throws applying it)', () => {
  const { b } = purchase()
  const p = encode([{ client: MALLORY, clock: 0, items: [
    item(MALLORY, 0, { origin: Y.createID(MALLORY, 1) }, new Y.ContentString('x')),
    item(MALLORY, 1, { parent: 't:notes' }, new Y.ContentString('y')),
  ] }])
  const e = inspect(b, p)
  assert.ok(e.ops.some((o) => o.k === 'malformed' && /later change/.test(o.why)), JSON.stringify(e.ops))
  const copy = rawCopy(b, 1)
  assert.throws(() => Y.applyUpdate(copy, p))
})

test('a client given twice in one update is malformed', () => {
  const { b } = purchase()
  const p = encode([
    { client: MALLORY, clock: 0, items: [item(MALLORY, 0, { parent: 'set:lines', sub: 'a' }, new Y.ContentAny([1]))] },
    { client: MALLORY + 1, clock: 0, items: [item(MALLORY + 1, 0, { parent: 'set:lines', sub: 'b' }, new Y.ContentAny([2]))] },
    { client: MALLORY, clock: 1, items: [item(MALLORY, 1, { parent: 'set:lines', sub: 'c' }, new Y.ContentAny([3]))] },
  ])
  const e = inspect(b, p)
  assert.ok(e.ops.some((o) => o.k === 'malformed' && o.where === 'update' && /twice/.test(o.why)), JSON.stringify(e.ops))
  // Yjs drops the first group and parks the last (it starts at clock 1): incomplete.
  assert.is(e.incomplete, true)
})

test('an item whose origin is a GC struct in the document is dropped by Yjs, so does nothing', () => {
  const { b } = purchase()
  const seed = raw(b, (r) => {
    const inner = new Y.Map<unknown>()
    r.getMap('scratch').set('n', inner)
    inner.set('a', 1)
  })
  b.applyBatch([seed])
  b.applyBatch([raw(b, (r) => r.getMap('scratch').delete('n'))])
  const gc = b.ydoc.store.clients.get(MALLORY)!.find((s) => s instanceof Y.GC)
  assert.ok(gc !== undefined, 'the nested map\'s content is collected')
  const state = Y.getState(b.ydoc.store, MALLORY + 1)
  const p = encode([{ client: MALLORY + 1, clock: state, items: [item(MALLORY + 1, state, { origin: gc.id }, new Y.ContentAny(['x']))] }])
  assert.equal(inspect(b, p), { ops: [], authors: [String(MALLORY + 1)], incomplete: false })
})

test('a key written twice in one update is one write, over the value the document held', () => {
  const { b } = purchase()
  const e = inspect(b, raw(b, (r) => {
    r.getMap('clock').set('ra', 2)
    r.getMap('clock').set('ra', 3)
  }))
  assert.equal(e.ops, [{ k: 'clock', replica: 'ra', value: 3, existing: 1 }])
})

test('items on one key that do not chain from its current item may win or lose: every value and the delete are listed', () => {
  const { b } = purchase()
  const old = live(b.ydoc, 'set:payments', 'p1')!
  // A deleted run of three, then a write whose origin is the run's first clock: Yjs puts the write
  // left of the run's rest, so the key ends deleted.
  const p = encode([{ client: MALLORY, clock: 0, items: [
    item(MALLORY, 0, { origin: old.lastId }, new Y.ContentDeleted(3)),
    item(MALLORY, 3, { origin: Y.createID(MALLORY, 0) }, new Y.ContentAny([{ amount: '1' }])),
  ] }])
  assert.equal(canonOps(inspect(b, p).ops), canonOps([
    { k: 'record', set: 'payments', id: 'p1', record: { amount: '1' }, existing: { amount: '100' } },
    { k: 'recordDelete', set: 'payments', id: 'p1' },
  ]))
  b.applyBatch([p])
  assert.is(b.read().sets.payments.has('p1'), false)
})

test('an update that overlaps what the document holds counts only the rest, unless the overlap lands elsewhere', () => {
  const { b } = purchase()
  b.applyBatch([encode([{ client: MALLORY, clock: 0, items: [item(MALLORY, 0, { parent: 't:memo' }, new Y.ContentString('ab'))] }])])
  // What merged updates hold: the document's item and what followed it, as one struct.
  const longer = encode([{ client: MALLORY, clock: 0, items: [item(MALLORY, 0, { parent: 't:memo' }, new Y.ContentString('abcd'))] }])
  assert.equal(inspect(b, longer).ops, [{ k: 'text', key: 'memo', inserted: 2, deleted: 0 }])
  // The same clocks claimed for a map entry: Yjs would link it after the text and delete the text's last item.
  const hostile = encode([{ client: MALLORY, clock: 0, items: [item(MALLORY, 0, { parent: 'set:payments', sub: 'p1' }, new Y.ContentAny([1, 2, 3]))] }])
  assert.ok(inspect(b, hostile).ops.some((o) => o.k === 'malformed' && o.where === 'update' && /overlaps/.test(o.why)))
})

test('updates Yjs throws applying are malformed: an empty struct, an empty delete range past the document', () => {
  const { b } = purchase()
  const empty = encode([{ client: MALLORY, clock: 0, items: [
    item(MALLORY, 0, { parent: 'set:lines', sub: 'x' }, new Y.ContentAny([1])),
    item(MALLORY, 1, { parent: 'set:lines', sub: 'y' }, new Y.ContentAny([])),
  ] }])
  assert.ok(inspect(b, empty).ops.some((o) => o.k === 'malformed' && o.where === 'update' && /empty change/.test(o.why)))
  const emptyDelete = encode([], [{ client: MALLORY, ranges: [[0, 0]] }])
  assert.ok(inspect(b, emptyDelete).ops.some((o) => o.k === 'malformed' && o.where === 'update' && /empty delete/.test(o.why)))
  for (const p of [empty, emptyDelete]) assert.throws(() => Y.applyUpdate(rawCopy(b, 1), p))
})

test('a change the document already holds is still parked when it refers to one it lacks', () => {
  const { b } = purchase()
  const ra = Number(yjsBackend.authorOf!(rid('ra')))
  const p = encode([{ client: ra, clock: 0, items: [item(ra, 0, { origin: Y.createID(424242, 0) }, new Y.ContentAny([1]))] }])
  const e = inspect(b, p)
  assert.equal(e.ops, [])
  assert.is(e.incomplete, true)
})

test('inspection of a Concord change resolves origins through the document and the update itself', () => {
  const { a, b } = purchase()
  const p = a.change((w) => {
    w.insertText('notes', 5, ' world')
    w.insertText('notes', 0, '> ')
    w.deleteText('notes', 3, 2)
    w.setRegister('h.supplier', entry('Globex', 'ra.2', 2) as never)
    w.tickClock(rid('ra'), 2)
    w.tickClock(rid('ra'), 3)
  })
  const e = inspect(b, p)
  assert.equal(canonOps(e.ops), canonOps([
    { k: 'text', key: 'notes', inserted: 8, deleted: 2 },
    { k: 'reg', key: 'h.supplier', slot: 'ra.2', entry: entry('Globex', 'ra.2', 2), existing: undefined },
    { k: 'regDelete', key: 'h.supplier', slot: 'ra.1' },
    { k: 'clock', replica: 'ra', value: 3, existing: 1 },
  ]))
  assert.equal(e.authors, [yjsBackend.authorOf!(rid('ra'))])
})

test('a document of another backend and bytes that are not an update are refused', () => {
  const { a, b } = purchase()
  const p = a.change((w) => w.tickClock(rid('ra'), 2))
  throwsCode(() => inspect({ ...b, backend: 'automerge' } as unknown as CrdtDoc, p), 'BACKEND_MISMATCH', 'not a YjsDoc')
  throwsCode(() => inspect(b, p.slice(0, p.length - 3)), 'INVALID_UPDATE', 'a cut update')
  throwsCode(() => inspect(b, new Uint8Array([1])), 'INVALID_UPDATE', 'one byte')
})

// ---------------------------------------------------------------- against applying

type RawOp =
  | { readonly o: 'set'; readonly root: number; readonly key: number; readonly value: number }
  | { readonly o: 'del'; readonly root: number; readonly key: number }
  | { readonly o: 'ins'; readonly text: number; readonly at: number; readonly s: string }
  | { readonly o: 'cut'; readonly text: number; readonly at: number; readonly len: number }
  | { readonly o: 'fmt'; readonly text: number; readonly at: number; readonly len: number }
  | { readonly o: 'nest'; readonly root: number; readonly key: number }
  | { readonly o: 'push' }

const MAP_ROOTS = ['init', 'regs', 'clock', 'set:lines', 'set:payments', 'voids-not', 'cursors']
const TEXT_ROOTS = ['t:notes', 't:memo']
const VALUES: readonly unknown[] = [null, 0, 5, 'x', { amount: '1' }, { value: 1, ev: 'm.1', hlc: '000000000009' }, [1], true]

const rawOpArb: fc.Arbitrary<RawOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ o: fc.constant('set' as const), root: fc.nat(), key: fc.nat(), value: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ o: fc.constant('del' as const), root: fc.nat(), key: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ o: fc.constant('ins' as const), text: fc.nat(), at: fc.nat(), s: fc.string({ unit: fc.constantFrom('a', 'é', '😀'), minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ o: fc.constant('cut' as const), text: fc.nat(), at: fc.nat(), len: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ o: fc.constant('fmt' as const), text: fc.nat(), at: fc.nat(), len: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ o: fc.constant('nest' as const), root: fc.nat(), key: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ o: 'push' as const }) },
)

function playRaw(r: Y.Doc, op: RawOp): void {
  const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!
  const keysOf = (m: Y.Map<unknown>, root: string) => [...m.keys(), root === 'regs' ? 'h.supplier\u0000m.9' : 'new', root === 'regs' ? 'nosep' : 'p1']
  switch (op.o) {
    case 'set':
    case 'del':
    case 'nest': {
      const root = pick(MAP_ROOTS, op.root)
      const m = r.getMap<unknown>(root)
      const key = pick(keysOf(m, root), op.key)
      if (op.o === 'set') m.set(key, pick(VALUES, op.value))
      else if (op.o === 'del') m.delete(key)
      else {
        const inner = new Y.Map<unknown>()
        m.set(key, inner)
        inner.set('id', key)
      }
      break
    }
    case 'ins':
    case 'cut':
    case 'fmt': {
      const t = r.getText(pick(TEXT_ROOTS, op.text))
      if (op.o === 'ins') t.insert(op.at % (t.length + 1), op.s)
      else if (t.length > 0) {
        const at = op.at % t.length
        if (op.o === 'cut') t.delete(at, Math.min(op.len, t.length - at))
        else t.format(at, Math.min(op.len, t.length - at), { bold: true })
      }
      break
    }
    case 'push':
      r.getArray('list').push([1])
      break
  }
}

/** A text root's length as Y.Text reads it: its live strings. */
function textLength(doc: Y.Doc, root: string): number {
  let n = 0
  for (let it = doc.share.get(root)?._start ?? null; it !== null; it = it.right) if (!it.deleted && it.content instanceof Y.ContentString) n += it.length
  return n
}

function rootOf(doc: Y.Doc, type: Y.AbstractType<Y.YEvent<never>>): { root: string; nested: boolean } {
  let t = type
  let nested = false
  while (t._item !== null) {
    t = t._item.parent as typeof t
    nested = true
  }
  for (const [name, s] of doc.share) if ((s as unknown) === t) return { root: name, nested }
  throw new Error('a type without a root')
}

const isConcordRoot = (root: string) => ['init', 'regs', 'clock'].includes(root) || (root.startsWith('set:') && ['set:lines', 'set:payments', 'set:voids'].includes(root)) || root.startsWith('t:')
const valueOfItem = (it: Y.Item): unknown => { const c = it.content.getContent(); return c[c.length - 1] }
const sameItem = (x: Y.Item, y: Y.Item) => x.id.client === y.id.client && x.lastId.clock === y.lastId.clock

/**
 * What applying `payload` to a copy of `b` really changes, checked against
 * the effect: every change is listed (or the update is flagged malformed
 * or incomplete), and for unharmed updates every op listed happened.
 */
function checkAgainstApply(b: YjsDoc, payload: Uint8Array, effect: UpdateEffect, exact: boolean): void {
  try {
    compareWithApply(b, payload, effect, exact)
  } catch (e) {
    // The bytes, to replay a failure outside the property.
    ;(e as Error).message += `\nupdate ${Buffer.from(payload).toString('hex')}\neffect ${JSON.stringify(effect)}`
    throw e
  }
}

function compareWithApply(b: YjsDoc, payload: Uint8Array, effect: UpdateEffect, exact: boolean): void {
  const copy = new Y.Doc()
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(b.ydoc))
  const changed: [Y.AbstractType<Y.YEvent<never>>, Set<string | null>][] = []
  copy.on('afterTransaction', (tr: Y.Transaction) => {
    for (const [type, keys] of tr.changed) changed.push([type as never, keys])
  })
  const malformed = effect.ops.filter((o): o is Extract<EffectOp, { k: 'malformed' }> => o.k === 'malformed')
  const flagged = (root: string) => malformed.some((o) => o.where === 'update' || o.where === root || o.where.startsWith(`${root}[`))
  try {
    Y.applyUpdate(copy, payload)
  } catch (e) {
    assert.ok(malformed.some((o) => o.where === 'update'), `Yjs threw (${(e as Error).message}) on an update not flagged malformed: ${JSON.stringify(effect.ops)}`)
    return
  }
  if (copy.store.pendingStructs !== null || copy.store.pendingDs !== null) assert.ok(effect.incomplete, 'Yjs parked part of it: incomplete')
  // Flagged as a whole (Yjs would throw or corrupt the document): nothing more is promised.
  if (effect.incomplete || malformed.some((o) => o.where === 'update')) return
  const ops = effect.ops
  const keyed = (root: string, key: string) => ops.filter((o) => {
    switch (o.k) {
      case 'init': case 'initDelete': return root === 'init' && o.key === key
      case 'reg': case 'regDelete': return root === 'regs' && `${o.key}\u0000${o.slot}` === key
      case 'clock': case 'clockDelete': return root === 'clock' && o.replica === key
      case 'record': case 'recordDelete': return root === `set:${o.set}` && o.id === key
      default: return false
    }
  })
  const seen = new Set<string>()
  for (const [type, keys] of changed) {
    const { root, nested } = rootOf(copy, type)
    seen.add(root)
    if (!isConcordRoot(root)) {
      assert.ok(ops.some((o) => o.k === 'foreign' && o.root === root), `a change in ${root} is foreign`)
      continue
    }
    if (nested) {
      assert.ok(flagged(root), `a change inside a nested type in ${root} is malformed`)
      continue
    }
    if (root.startsWith('t:')) {
      const key = root.slice(2)
      const mine = ops.filter((o): o is Extract<EffectOp, { k: 'text' }> => o.k === 'text' && o.key === key)
      if (!flagged(root)) assert.is(mine.reduce((s, o) => s + o.inserted - o.deleted, 0), textLength(copy, root) - textLength(b.ydoc, root), `${root} length change`)
      continue
    }
    for (const key of keys) {
      if (key === null) {
        let holds = false
        for (let it = type._start; it !== null; it = it.right) holds ||= !it.deleted
        if (holds) assert.ok(flagged(root), `list content in ${root} is malformed`)
        continue
      }
      const was = live(b.ydoc, root, key)
      const now = live(copy, root, key)
      const mine = keyed(root, key)
      if (now !== undefined && (was === undefined || !sameItem(was, now))) {
        if (flagged(root)) continue
        const value = valueOfItem(now)
        const w = mine.find((o) => o.k === 'init' || o.k === 'reg' || o.k === 'clock' || o.k === 'record')
        assert.ok(w !== undefined, `${root}[${JSON.stringify(key)}] written: listed (${JSON.stringify(ops)})`)
        const got = w.k === 'init' ? w.value : w.k === 'reg' ? w.entry : w.k === 'clock' ? w.value : w.k === 'record' ? w.record : undefined
        assert.is(canonicalJson(got), canonicalJson(value), `${root}[${JSON.stringify(key)}] value`)
        if (exact && w.k !== 'clock' && 'existing' in w) assert.is(canonicalJson(w.existing), canonicalJson(was === undefined ? undefined : valueOfItem(was)), 'existing')
      } else if (now === undefined && was !== undefined) {
        if (flagged(root)) continue
        assert.ok(mine.some((o) => o.k.endsWith('Delete')), `${root}[${JSON.stringify(key)}] deleted: listed (${JSON.stringify(ops)})`)
      }
    }
  }
  if (!exact) return
  // Nothing listed that did not happen.
  for (const o of ops) {
    if (o.k === 'foreign') assert.ok(seen.has(o.root), `foreign ${o.root} changed`)
    const at = o.k === 'init' || o.k === 'initDelete' ? ['init', o.key] : o.k === 'reg' || o.k === 'regDelete' ? ['regs', `${o.key}\u0000${o.slot}`]
      : o.k === 'clock' || o.k === 'clockDelete' ? ['clock', o.replica] : o.k === 'record' || o.k === 'recordDelete' ? [`set:${o.set}`, o.id] : undefined
    if (at === undefined) continue
    const now = live(copy, at[0]!, at[1]!)
    if (o.k.endsWith('Delete')) assert.is(now, undefined, `${JSON.stringify(o)} happened`)
    else assert.ok(now !== undefined, `${JSON.stringify(o)} happened`)
  }
}

test('random raw updates: the effect lists what applying them changes, and only that', () => {
  check(fc.property(historyArb, fc.array(fc.array(rawOpArb, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 }), (history, txs) => {
    const n = { seq: 0, time: 0 }
    const { a, b } = setUp(yjsBackend, history, n)
    a.destroy()
    const yb = b as YjsDoc
    const p = raw(yb, ...txs.map((ops) => (r: Y.Doc) => { for (const op of ops) playRaw(r, op) }))
    const held = canonicalSnapshot(yb.read())
    const effect = inspect(yb, p)
    assertShape(effect, 'raw update')
    assert.is(effect.incomplete, false, 'made on the state the document holds')
    assert.ok(effect.authors.every((x) => x === String(MALLORY)))
    checkAgainstApply(yb, p, effect, true)
    assert.is(canonicalSnapshot(yb.read()), held, 'inspection leaves the document as it was')
    yb.applyBatch([p])
    yb.read()
    b.destroy()
  }), { numRuns: 200 })
})

test('damaged raw updates: whatever Yjs would change is listed, flagged malformed or incomplete', () => {
  check(fc.property(historyArb, fc.array(rawOpArb, { minLength: 1, maxLength: 6 }), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (history, ops, ms) => {
    const n = { seq: 0, time: 0 }
    const { a, b } = setUp(yjsBackend, history, n)
    a.destroy()
    const yb = b as YjsDoc
    const p = mutate(raw(yb, (r) => { for (const op of ops) playRaw(r, op) }), ms)
    let effect: UpdateEffect
    try {
      effect = inspect(yb, p)
    } catch (e) {
      assert.is((e as { code?: string }).code, 'INVALID_UPDATE')
      return
    }
    assertShape(effect, 'damaged update')
    checkAgainstApply(yb, p, effect, false)
    b.destroy()
  }), { numRuns: 400 })
})

// Struct by struct at random: origins anywhere in the document or the update, any content, any delete set.
type RefPick = { readonly from: 'doc' | 'update' | 'unknown'; readonly n: number; readonly off: number } | null
interface RawItem {
  readonly origin: RefPick
  readonly right: RefPick
  readonly parent: { readonly root: number; readonly sub: number | null } | { readonly nested: RefPick }
  readonly content: number
  readonly n: number
}
interface RawGroup { readonly client: number; readonly start: number; readonly items: readonly RawItem[] }

const refArb: fc.Arbitrary<RefPick> = fc.option(fc.record({ from: fc.constantFrom('doc' as const, 'update' as const, 'unknown' as const), n: fc.nat(), off: fc.nat(3) }), { freq: 3 })
const rawItemArb: fc.Arbitrary<RawItem> = fc.record({
  origin: refArb,
  right: fc.option(refArb.filter((r) => r !== null), { freq: 3, nil: null }),
  parent: fc.oneof(fc.record({ root: fc.nat(), sub: fc.option(fc.nat(), { nil: null }) }), fc.record({ nested: refArb })),
  content: fc.nat(9),
  n: fc.nat(),
})
const rawGroupArb: fc.Arbitrary<RawGroup> = fc.record({ client: fc.nat(3), start: fc.integer({ min: -2, max: 2 }), items: fc.array(rawItemArb, { minLength: 1, maxLength: 5 }) })

const STRUCT_ROOTS = ['init', 'regs', 'clock', 'set:lines', 'set:payments', 't:notes', 't:memo', 'cursors']

function encodeRaw(b: YjsDoc, groups: readonly RawGroup[], dels: readonly { client: number; clock: number; len: number }[]): Uint8Array {
  const docIds: Y.ID[] = []
  for (const structs of b.ydoc.store.clients.values()) for (const st of structs) docIds.push(st.id, Y.createID(st.id.client, st.id.clock + st.length - 1))
  const made: Y.ID[] = []
  const clients = [MALLORY, MALLORY + 1, ...b.ydoc.store.clients.keys()]
  const ref = (r: RefPick): Y.ID | null => {
    if (r === null) return null
    if (r.from === 'doc' && docIds.length > 0) return docIds[r.n % docIds.length]!
    if (r.from === 'update' && made.length > 0) { const id = made[r.n % made.length]!; return Y.createID(id.client, id.clock + (r.off % 2)) }
    return Y.createID(424242 + (r.n % 2), r.off)
  }
  const seen = new Set<number>()
  const out: Group[] = []
  for (const g of groups) {
    const client = clients[g.client % clients.length]!
    if (seen.has(client)) continue
    seen.add(client)
    const clock = Math.max(0, Y.getState(b.ydoc.store, client) + g.start)
    let at = clock
    const items: Y.Item[] = []
    for (const ri of g.items) {
      const contents = [
        () => new Y.ContentAny([VALUES[ri.n % VALUES.length]]), () => new Y.ContentAny([1, 2]), () => new Y.ContentDeleted(1 + (ri.n % 3)),
        () => new Y.ContentString('ab'.slice(0, 1 + (ri.n % 2))), () => new Y.ContentFormat('bold', true), () => new Y.ContentType(new Y.Map()),
        () => new Y.ContentBinary(new Uint8Array([1])), () => new Y.ContentEmbed({ x: 1 }), () => new Y.ContentJSON([1]), () => new Y.ContentString('😀'),
      ]
      const content = contents[ri.content % contents.length]!()
      const origin = ref(ri.origin)
      const right = ref(ri.right)
      let parent: string | Y.ID | null = null
      let sub: string | null = null
      if (origin === null && right === null) {
        if ('root' in ri.parent) {
          parent = STRUCT_ROOTS[ri.parent.root % STRUCT_ROOTS.length]!
          if (ri.parent.sub !== null) {
            const keys = [...(b.ydoc.share.get(parent)?._map.keys() ?? []), 'new\u0000m.1', 'p1']
            sub = keys[ri.parent.sub % keys.length]!
          }
        } else parent = ref(ri.parent.nested) ?? STRUCT_ROOTS[0]!
      }
      const it = new Y.Item(Y.createID(client, at), null, origin, null, right, parent as never, sub, content as never)
      items.push(it)
      for (let k = 0; k < it.length; k++) made.push(Y.createID(client, at + k))
      at += it.length
    }
    out.push({ client, clock, items })
  }
  const byClient = new Map<number, [number, number][]>()
  for (const d of dels) {
    const client = clients[d.client % clients.length]!
    const list = byClient.get(client) ?? []
    list.push([d.clock, d.len])
    byClient.set(client, list)
  }
  return encode(out, [...byClient].map(([client, ranges]) => ({ client, ranges })))
}

test('random structs: whatever Yjs would change is listed, flagged malformed or incomplete', () => {
  const delArb = fc.array(fc.record({ client: fc.nat(3), clock: fc.nat(12), len: fc.nat(4) }), { maxLength: 3 })
  check(fc.property(historyArb, fc.array(rawGroupArb, { minLength: 1, maxLength: 3 }), delArb, (history, groups, dels) => {
    const n = { seq: 0, time: 0 }
    const { a, b } = setUp(yjsBackend, history, n)
    a.destroy()
    const yb = b as YjsDoc
    const p = encodeRaw(yb, groups, dels)
    const held = canonicalSnapshot(yb.read())
    const effect = inspect(yb, p)
    assertShape(effect, 'random structs')
    checkAgainstApply(yb, p, effect, false)
    assert.is(canonicalSnapshot(yb.read()), held, 'inspection leaves the document as it was')
    b.destroy()
  }), { numRuns: 400 })
})

test.run()
