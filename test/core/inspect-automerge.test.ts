/**
 * The Automerge update inspector, beyond the backend-neutral contract:
 * hostile changes made with Automerge's own API on a copy of a Concord
 * document (what a client that bypasses Concord can send), Concord's own
 * changes checked against what applying them really does, and robust reads
 * of values Concord never writes.
 */
import { createHash } from 'node:crypto'
import * as A from '@automerge/automerge'
import fc from 'fast-check'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type CrdtBackend, type Json, type ReplicaId, automergeBackend, isConcordError } from '@concord/core'
import {
  type AutomergeDoc, type CrdtDoc, type DocSnapshot, type SetName, automergeActorOf, canonicalJson, registerBucketOf,
} from '@concord/core/internal'
import { canonicalSnapshot, entry } from './backend-contract.js'
import { check } from '../support/seed.js'

type UpdateEffect = ReturnType<NonNullable<CrdtBackend['inspectUpdate']>>
type EffectOp = UpdateEffect['ops'][number]

const rid = (s: string) => s as ReplicaId
const create = (r: string) => automergeBackend.create(rid(r)) as AutomergeDoc
const inspect = (doc: CrdtDoc, payload: Uint8Array): UpdateEffect => automergeBackend.inspectUpdate!(doc, payload)
const MALLORY = automergeActorOf('mallory')

type Root = {
  init: Record<string, unknown>
  regs: Record<string, Record<string, unknown>>
  sets: Record<string, Record<string, unknown>>
  texts: Record<string, string>
  clock: Record<string, unknown>
}

/** A JSON text stored as a scalar string, the way Concord stores values. */
const json = (v: unknown) => new A.ImmutableString(JSON.stringify(v))

/** A change made with Automerge's own API on a copy of `doc`, by an actor of our choosing. */
function hostile(doc: AutomergeDoc, fn: (d: Root) => void, actor = MALLORY): Uint8Array {
  const copy = A.clone(doc.toAutomerge() as A.Doc<Root>, { actor })
  const next = A.change(copy, (d) => fn(d))
  return A.getLastLocalChange(next)!
}

/** Several hostile changes in a row on one copy, each returned alone. */
function hostileChain(doc: AutomergeDoc, fns: readonly ((d: Root) => void)[]): Uint8Array[] {
  let copy = A.clone(doc.toAutomerge() as A.Doc<Root>, { actor: MALLORY })
  return fns.map((fn) => {
    copy = A.change(copy, (d) => fn(d))
    return A.getLastLocalChange(copy)!
  })
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]))
}

const malformed = (e: UpdateEffect) => e.ops.filter((o) => o.k === 'malformed')

/** Inspects, checking on the way that inspection leaves the document as it was. */
function inspectUnchanged(doc: CrdtDoc, payload: Uint8Array): UpdateEffect {
  const version = doc.version()
  const before = canonicalSnapshot(doc.read())
  const effect = inspect(doc, payload)
  assert.is(doc.version(), version, 'inspection changes no heads')
  assert.is(canonicalSnapshot(doc.read()), before, 'inspection changes no content')
  return effect
}

function throwsInvalidUpdate(fn: () => unknown, what: string): void {
  try {
    fn()
  } catch (e) {
    assert.ok(isConcordError(e, 'INVALID_UPDATE'), `${what}: expected INVALID_UPDATE, got ${String(e)}`)
    return
  }
  assert.unreachable(`${what}: expected INVALID_UPDATE`)
}

/** A purchase-like document: a register, a payment, a line, a text, a clock counter. */
function seeded(): AutomergeDoc {
  const a = create('alice')
  a.change((w) => {
    w.init('settings', { id: 'po-1' })
    w.setRegister('h.supplier', entry('ACME', 'alice.1', 1))
    w.addRecord('payments', 'pay-1', { amount: '10.00', ev: 'alice.1' })
    w.addRecord('lines', 'l1', { id: 'l1' })
    w.insertText('notes', 0, 'hello')
    w.tickClock(rid('alice'), 1)
  })
  return a
}

// ------------------------------------------------------------ hostile changes

test('a register written into another bucket is malformed', () => {
  const doc = seeded()
  const key = 'h.supplier'
  const wrong = registerBucketOf(key) === '00' ? '01' : '00'
  const e = inspectUnchanged(doc, hostile(doc, (d) => { d.regs[wrong]![key] = json(entry('X', 'mallory.1', 2)) }))
  assert.equal(e.ops, [{ k: 'malformed', where: `regs/${wrong}/${key}`, why: `register ${key} belongs in bucket ${registerBucketOf(key)}` }])
  assert.equal(e.authors, [MALLORY])
  assert.is(e.incomplete, false)
})

test('values that are not JSON text are malformed, wherever they are', () => {
  const doc = seeded()
  const b = registerBucketOf('h.supplier')
  const cases: [string, (d: Root) => void][] = [
    ['an int in init', (d) => { d.init.settings = 5 }],
    ['a float record', (d) => { d.sets.payments!['pay-2'] = 1.5 }],
    ['a null register', (d) => { d.regs[b]!['h.supplier'] = null }],
    ['a boolean register', (d) => { d.regs[b]!['h.supplier'] = true }],
    ['bytes in a set', (d) => { d.sets.lines!.l2 = new Uint8Array([1, 2]) }],
    ['a timestamp in init', (d) => { d.init.when = new Date(0) }],
    ['a string that is not JSON', (d) => { d.sets.lines!.l2 = new A.ImmutableString('{nope') }],
    ['a str in the clock', (d) => { d.clock.alice = new A.ImmutableString('2') }],
    ['a float in the clock', (d) => { d.clock.alice = 2.5 }],
    ['a counter in the clock', (d) => { d.clock.alice = new A.Counter(2) }],
  ]
  for (const [what, fn] of cases) {
    const e = inspectUnchanged(doc, hostile(doc, fn))
    assert.is(e.ops.length, 1, what)
    assert.is(e.ops[0]!.k, 'malformed', what)
  }
})

test('a plain JS string is a text object in Automerge 3: made inside a set, it is malformed, and so are its characters', () => {
  const doc = seeded()
  const e = inspectUnchanged(doc, hostile(doc, (d) => { d.sets.lines!.l2 = 'abc' }))
  assert.ok(e.ops.length >= 2)
  assert.ok(e.ops.every((o) => o.k === 'malformed'), JSON.stringify(e.ops))
  assert.equal(e.ops[0], { k: 'malformed', where: 'sets/lines/l2', why: 'makes a text' })
  assert.is(e.incomplete, false)
})

test('deleting an existing payment record is listed as a record delete', () => {
  const doc = seeded()
  const e = inspectUnchanged(doc, hostile(doc, (d) => { delete d.sets.payments!['pay-1'] }))
  assert.equal(e.ops, [{ k: 'recordDelete', set: 'payments', id: 'pay-1' }])
  assert.equal(e.authors, [MALLORY])
})

test('deletes of init, registers and clock counters are listed, each with what it removes', () => {
  const doc = seeded()
  const e = inspectUnchanged(doc, hostile(doc, (d) => {
    delete d.init.settings
    delete d.regs[registerBucketOf('h.supplier')]!['h.supplier']
    delete d.clock.alice
  }))
  assert.equal(e.ops, [
    { k: 'initDelete', key: 'settings' },
    { k: 'regDelete', key: 'h.supplier', slot: 'alice.1' },
    { k: 'clockDelete', replica: 'alice' },
  ])
})

test('overwriting a record id carries the record it replaces; overwriting init carries the value it replaces', () => {
  const doc = seeded()
  const e = inspectUnchanged(doc, hostile(doc, (d) => {
    d.sets.payments!['pay-1'] = json({ amount: '99999.00' })
    d.init.settings = json({ id: 'po-2' })
  }))
  assert.equal(e.ops, [
    { k: 'record', set: 'payments', id: 'pay-1', record: { amount: '99999.00' }, existing: { amount: '10.00', ev: 'alice.1' } },
    { k: 'init', key: 'settings', value: { id: 'po-2' }, existing: { id: 'po-1' } },
  ])
})

test('a nested map in a set is malformed, and so is everything written inside it', () => {
  const doc = seeded()
  const e = inspectUnchanged(doc, hostile(doc, (d) => { d.sets.lines!.l2 = { qty: json('1'), deep: { x: 1 } } }))
  const ms = malformed(e)
  assert.is(ms.length, e.ops.length)
  assert.equal(ms[0], { k: 'malformed', where: 'sets/lines/l2', why: 'makes a map' })
  assert.ok(ms.length >= 4, JSON.stringify(ms))
  assert.is(e.incomplete, false, 'objects made by the payload are not missing objects')
})

test('maps, lists and values written over Concord\'s own containers are malformed', () => {
  const doc = seeded()
  const cases: [string, (d: Root) => void, string][] = [
    ['a new init map', (d) => { (d as Record<string, unknown>).init = {} }, '/init'],
    ['a value over a bucket', (d) => { d.regs['00'] = json(1) as never }, 'regs/00'],
    ['a list as a set', (d) => { d.sets.lines = [] as never }, 'sets/lines'],
    ['a value over a text', (d) => { d.texts.notes = json('x') as never }, 'texts/notes'],
    ['a text deleted', (d) => { delete (d.texts as Record<string, unknown>).notes }, 'texts/notes'],
    ['a root key', (d) => { (d as Record<string, unknown>).extra = json(1) }, '/extra'],
  ]
  for (const [what, fn, where] of cases) {
    const e = inspectUnchanged(doc, hostile(doc, fn))
    assert.ok(e.ops.length > 0 && e.ops.every((o) => o.k === 'malformed'), `${what}: ${JSON.stringify(e.ops)}`)
    assert.is((e.ops[0] as { where: string }).where, where, what)
  }
})

test('a counter and its inc are malformed', () => {
  const doc = seeded()
  const [put, inc] = hostileChain(doc, [
    (d) => { d.clock.mallory = new A.Counter(1) },
    (d) => { (d.clock.mallory as A.Counter).increment(5) },
  ])
  const e = inspectUnchanged(doc, concat(put!, inc!))
  assert.equal(e.ops, [
    { k: 'malformed', where: 'clock/mallory', why: 'a counter value where Concord stores an int' },
    { k: 'malformed', where: 'clock/mallory', why: 'an op Concord never writes (inc)' },
  ])
  assert.is(e.incomplete, false)
})

test('marks in a text are malformed; characters are counted per text', () => {
  const doc = seeded()
  const e = inspectUnchanged(doc, hostile(doc, (d) => {
    A.splice(d, ['texts', 'notes'], 0, 2, 'Hé😀')
    A.mark(d, ['texts', 'notes'], { start: 0, end: 2, expand: 'after' }, 'bold', true)
  }))
  assert.equal(e.ops[0], { k: 'text', key: 'notes', inserted: 4, deleted: 2 })
  assert.equal(e.ops.slice(1).map((o) => o.k), ['malformed', 'malformed'])
  assert.equal(e.ops[1], { k: 'malformed', where: 'texts/notes', why: 'an op Concord never writes (markBegin)' })
})

test('a change whose dependency is missing makes the effect incomplete; with the dependency in front it is complete', () => {
  const doc = seeded()
  const [c1, c2] = hostileChain(doc, [
    (d) => { d.sets.lines!.l2 = json({ id: 'l2' }) },
    (d) => { d.sets.lines!.l3 = json({ id: 'l3' }) },
  ])
  const alone = inspectUnchanged(doc, c2!)
  assert.is(alone.incomplete, true)
  assert.equal(alone.ops, [{ k: 'record', set: 'lines', id: 'l3', record: { id: 'l3' }, existing: undefined }])
  const both = inspectUnchanged(doc, concat(c1!, c2!))
  assert.is(both.incomplete, false)
  assert.is(both.ops.length, 2)
  // Out of order, the dependency is not earlier in the payload.
  assert.is(inspectUnchanged(doc, concat(c2!, c1!)).incomplete, true)
  // Also for Concord's own changes: a replica's second event without its first.
  const a = create('a')
  const b = create('b')
  a.change((w) => w.addRecord('lines', 'x', { id: 'x' }))
  assert.is(inspectUnchanged(b, a.change((w) => w.addRecord('lines', 'y', { id: 'y' }))).incomplete, true)
})

test('an op inside an object the document lacks is incomplete, not malformed', () => {
  const doc = seeded()
  const other = create('other')
  // A text the inspected document has never heard of: its creation change is left out.
  const payload = other.change((w) => w.insertText('memo', 0, 'ab'))
  const chunks = splitForTest(payload)
  assert.is(chunks.length, 2)
  const e = inspectUnchanged(doc, chunks[1]!)
  assert.is(e.incomplete, true)
  assert.equal(e.ops, [])
})

test('a creation change lists nothing and is no author; a set creation for a set genesis has is malformed', () => {
  const doc = seeded()
  const other = create('other')
  const payload = other.change((w) => w.insertText('memo', 0, 'ab'))
  const e = inspectUnchanged(doc, payload)
  assert.equal(e.ops, [{ k: 'text', key: 'memo', inserted: 2, deleted: 0 }])
  assert.equal(e.authors, [automergeActorOf('other')])
  // The same op by another actor is no creation change.
  const fake = inspectUnchanged(doc, hostile(doc, (d) => { d.texts.memo = '' }))
  assert.equal(fake.ops, [{ k: 'malformed', where: 'texts/memo', why: 'makes a text' }])
  // The deterministic set change, made with the creation actor, for a set the document has from genesis.
  const setActor = automergeActorOf('concord:set\u0000lines')
  const g = A.clone(create('g').toAutomerge() as A.Doc<Root>, { actor: setActor })
  const made = A.getLastLocalChange(A.change(g, { time: 0 }, (d) => { d.sets.lines = {} }))!
  const s = inspectUnchanged(doc, made)
  assert.equal(s.ops, [{ k: 'malformed', where: 'sets/lines', why: 'makes a map' }])
  assert.equal(s.authors, [setActor])
})

test('many creation changes in one payload are each recognised', () => {
  const doc = seeded()
  const maker = create('maker')
  const creations = Array.from({ length: 40 }, (_, i) => splitForTest(maker.change((w) => w.insertText(`t${i}`, 0, 'x')))[0]!)
  assert.equal(inspectUnchanged(doc, concat(...creations)), { ops: [], authors: [], incomplete: false })
})

test('a register write supersedes exactly the entries its author had seen', () => {
  const a = create('a')
  const b = create('b')
  const relay = create('relay')
  const pa = a.change((w) => w.setRegister('h.supplier', entry('A', 'a.1', 1)))
  const pb = b.change((w) => w.setRegister('h.supplier', entry('B', 'b.1', 2)))
  relay.applyBatch([pa, pb])
  // a has seen only its own entry: b's concurrent one stays.
  const pa2 = a.change((w) => w.setRegister('h.supplier', entry('A2', 'a.2', 3)))
  assert.equal(inspectUnchanged(relay, pa2).ops, [
    { k: 'reg', key: 'h.supplier', slot: 'a.2', entry: entry('A2', 'a.2', 3), existing: undefined },
    { k: 'regDelete', key: 'h.supplier', slot: 'a.1' },
  ])
  // b, having seen both, supersedes both.
  b.applyBatch([pa])
  const pb2 = b.change((w) => w.setRegister('h.supplier', entry('B2', 'b.2', 4)))
  const e = inspectUnchanged(relay, pb2)
  assert.equal(e.ops.filter((o) => o.k === 'regDelete').map((o) => (o as { slot: string }).slot).sort(), ['a.1', 'b.1'])
  // Two writes of one key in one payload: what is listed is what the payload leaves, the second write.
  relay.applyBatch([pa2])
  const p3 = a.change((w) => w.setRegister('h.supplier', entry(1, 'a.3', 5)))
  const p4 = a.change((w) => w.setRegister('h.supplier', entry(2, 'a.4', 6)))
  assert.equal(inspectUnchanged(relay, concat(p3, p4)).ops, [
    { k: 'regDelete', key: 'h.supplier', slot: 'a.2' },
    { k: 'reg', key: 'h.supplier', slot: 'a.4', entry: entry(2, 'a.4', 6), existing: undefined },
  ])
  // Also inside one change.
  const p5 = a.change((w) => {
    w.setRegister('k', entry(1, 'a.5', 7))
    w.setRegister('k', entry(2, 'a.5', 7))
  })
  assert.equal(inspectUnchanged(relay, p5).ops, [{ k: 'reg', key: 'k', slot: 'a.5', entry: entry(2, 'a.5', 7), existing: undefined }])
})

test('a put and its delete in one payload list what is left: the entries the put superseded, and an explicit delete', () => {
  const doc = seeded()
  const b = registerBucketOf('h.supplier')
  const [put, del] = hostileChain(doc, [
    (d) => { d.regs[b]!['h.supplier'] = json(entry(1, 'm.1', 1)) },
    (d) => { delete d.regs[b]!['h.supplier'] },
  ])
  // Not a write that supersedes alice's entry (a checker allows those), but its removal.
  assert.equal(inspectUnchanged(doc, concat(put!, del!)).ops, [
    { k: 'regDelete', key: 'h.supplier', slot: 'alice.1' },
    { k: 'regDelete', key: 'h.supplier', slot: '' },
  ])
})

test('a register delete that supersedes nothing the document holds is still listed', () => {
  const doc = seeded()
  const h = A.getBackend(doc.toAutomerge())
  const regs = (h.getWithType('_root', 'regs') as ['map', string])[1]
  const bucket = (h.getWithType(regs, registerBucketOf('h.never')) as ['map', string])[1]
  // Automerge's API emits no delete of a missing key: the change is encoded by hand.
  const del = A.encodeChange({
    actor: MALLORY, author: null, seq: 1, startOp: 1000, time: 0, message: null, deps: A.getHeads(doc.toAutomerge()),
    ops: [{ action: 'del', obj: bucket, key: 'h.never', pred: [] }],
  })
  assert.equal(inspectUnchanged(doc, del).ops, [{ k: 'regDelete', key: 'h.never', slot: '' }])
})

test('a change the document already holds does nothing, whoever sent it', () => {
  const a = create('a')
  const b = create('b')
  const p = a.change((w) => w.addRecord('lines', 'x', { id: 'x' }))
  b.applyBatch([p])
  assert.equal(inspectUnchanged(b, p), { ops: [], authors: [], incomplete: false })
  assert.equal(inspectUnchanged(a, concat(p, p)), { ops: [], authors: [], incomplete: false })
})

test('bytes that are no Automerge change are INVALID_UPDATE; nothing else ever throws', () => {
  const doc = seeded()
  const good = doc.change((w) => w.setRegister('h.supplier', entry('Z', 'alice.2', 2)))
  const other = create('x')
  throwsInvalidUpdate(() => inspect(other, new Uint8Array([1, 2, 3])), 'garbage')
  throwsInvalidUpdate(() => inspect(other, new Uint8Array()), 'empty')
  throwsInvalidUpdate(() => inspect(other, good.subarray(0, good.length - 1)), 'truncated')
  const flipped = good.slice()
  flipped[flipped.length - 3]! ^= 0xff
  throwsInvalidUpdate(() => inspect(other, flipped), 'checksum')
  throwsInvalidUpdate(() => inspect(other, 'abc' as never), 'a string')
  const yjs = { backend: 'yjs' } as unknown as CrdtDoc
  try {
    inspect(yjs, good)
    assert.unreachable('another backend\'s document')
  } catch (e) {
    assert.ok(isConcordError(e, 'BACKEND_MISMATCH'), String(e))
  }
  check(fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }), (noise, flips) => {
    for (const bytes of [noise, mutate(good, flips)]) {
      try {
        const e = inspect(other, bytes)
        assert.type(e.incomplete, 'boolean')
      } catch (err) {
        assert.ok(isConcordError(err, 'INVALID_UPDATE'), String(err))
      }
    }
  }), { numRuns: 300 })
})

test('changes corrupted behind a valid checksum: INVALID_UPDATE or an effect, never another error', () => {
  const doc = seeded()
  const base = seeded()
  const payloads = [
    base.change((w) => w.setRegister('h.supplier', entry('Z', 'alice.2', 2))),
    base.change((w) => {
      w.addRecord('payments', 'pay-2', { amount: '1.00' })
      w.tickClock(rid('alice'), 2)
      w.insertText('notes', 2, 'xyz')
      w.deleteText('notes', 0, 1)
    }),
    create('other').change((w) => w.insertText('memo', 0, 'ab')),
  ].flatMap(splitForTest)
  let decoded = 0
  check(fc.property(fc.nat(payloads.length - 1), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 }), (which, flips) => {
    const bytes = mutateBody(payloads[which]!, flips)
    try {
      const e = inspect(doc, bytes)
      decoded++
      assert.ok(Array.isArray(e.ops) && Array.isArray(e.authors))
    } catch (err) {
      assert.ok(isConcordError(err, 'INVALID_UPDATE'), String(err))
    }
  }), { numRuns: 500 })
  // The inspector is reached, not only the decoder.
  assert.ok(decoded > 0, 'some corrupted changes decode')
  // And the document still works.
  assert.not.throws(() => doc.read())
  doc.applyBatch([payloads[0]!])
})

/** A copy with some bytes replaced (decodeChange checks the checksum, so most such copies fail there). */
function mutate(bytes: Uint8Array, flips: readonly (readonly [number, number])[]): Uint8Array {
  const out = bytes.slice()
  for (const [at, v] of flips) out[at % out.length] = v
  return out
}

/**
 * A chunk with body bytes replaced and its checksum made right again (the
 * first 4 bytes of sha256 over type, length and body), so the corruption
 * reaches decodeChange's op columns and the inspector.
 */
function mutateBody(chunk: Uint8Array, flips: readonly (readonly [number, number])[]): Uint8Array {
  const out = chunk.slice()
  const start = 12
  for (const [at, v] of flips) out[start + (at % (out.length - start))] = v
  out.set(createHash('sha256').update(out.subarray(8)).digest().subarray(0, 4), 4)
  return out
}

/** Splits a payload on the length in each chunk header (test-side, independent of the backend's parser). */
function splitForTest(p: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let pos = 0
  while (pos < p.length) {
    let len = 0
    let shift = 0
    let q = pos + 9
    for (;;) {
      const x = p[q++]!
      len += (x & 0x7f) * 2 ** shift
      shift += 7
      if ((x & 0x80) === 0) break
    }
    out.push(p.subarray(pos, q + len))
    pos = q + len
  }
  return out
}

// ------------------------------------------------ Concord's own changes, exactly

/** What Concord's own writes look like through the inspector, as plain state to apply effects to. */
interface Model {
  init: Map<string, string>
  regs: Map<string, Map<string, string>>
  sets: Map<string, string>
  texts: Map<string, number>
  clock: Map<string, number>
}

function modelOf(s: DocSnapshot): Model {
  return {
    init: new Map([...s.init].map(([k, v]) => [k, canonicalJson(v)])),
    regs: new Map([...s.registers].map(([k, es]) => [k, new Map(es.map((e) => [e.ev as string, canonicalJson(e as unknown as Json)]))])),
    sets: new Map(Object.entries(s.sets).flatMap(([set, m]) => [...(m as ReadonlyMap<string, Json>)].map(([id, r]) => [`${set}/${id}`, canonicalJson(r)] as const))),
    // An empty text reads like no text: creating one lists nothing.
    texts: new Map([...s.texts].filter(([, t]) => t.length > 0).map(([k, t]) => [k, t.length])),
    clock: new Map(s.clock),
  }
}

/** Applies an effect's ops to a model: what the document should hold once the payload applies. */
function applyEffect(m: Model, ops: readonly EffectOp[]): void {
  for (const o of ops) {
    switch (o.k) {
      case 'init': m.init.set(o.key, canonicalJson(o.value as Json)); break
      case 'reg': {
        let es = m.regs.get(o.key)
        if (es === undefined) m.regs.set(o.key, (es = new Map()))
        es.set(o.slot, canonicalJson(o.entry as Json))
        break
      }
      case 'regDelete': {
        const es = m.regs.get(o.key)
        es?.delete(o.slot)
        if (es?.size === 0) m.regs.delete(o.key)
        break
      }
      case 'record': m.sets.set(`${o.set}/${o.id}`, canonicalJson(o.record as Json)); break
      case 'text': {
        const n = (m.texts.get(o.key) ?? 0) + o.inserted - o.deleted
        if (n === 0) m.texts.delete(o.key)
        else m.texts.set(o.key, n)
        break
      }
      case 'clock': m.clock.set(o.replica, o.value as number); break
      default: assert.unreachable(`Concord never writes ${o.k}: ${JSON.stringify(o)}`)
    }
  }
}

const sortedModel = (m: Model) => canonicalJson({
  init: Object.fromEntries(m.init),
  regs: Object.fromEntries([...m.regs].map(([k, es]) => [k, Object.fromEntries(es)])),
  sets: Object.fromEntries(m.sets),
  texts: Object.fromEntries(m.texts),
  clock: Object.fromEntries(m.clock),
})

type Write =
  | { t: 'init'; key: string; value: number }
  | { t: 'reg'; key: string; value: number }
  | { t: 'rec'; set: SetName; id: string; value: number }
  | { t: 'ins'; key: string; at: number; text: string }
  | { t: 'del'; key: string; at: number; len: number }
  | { t: 'tick' }

const KEYS = ['h.supplier', 'h.ref', 'l.1.qty', 'l.2.qty', 'k']
const writeArb: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ t: fc.constant('init' as const), key: fc.constantFrom('settings', 'currency'), value: fc.nat(3) }),
  fc.record({ t: fc.constant('reg' as const), key: fc.constantFrom(...KEYS), value: fc.nat(99) }),
  fc.record({ t: fc.constant('rec' as const), set: fc.constantFrom<SetName>('lines', 'payments', 'receipts'), id: fc.constantFrom('a', 'b', 'c'), value: fc.nat(9) }),
  // BMP text only: the inspector counts deleted elements, which are UTF-16 units only below U+10000.
  fc.record({ t: fc.constant('ins' as const), key: fc.constantFrom('notes', 'memo'), at: fc.nat(), text: fc.string({ unit: fc.constantFrom('a', 'b', 'é', '中', ' '), maxLength: 6 }) }),
  fc.record({ t: fc.constant('del' as const), key: fc.constantFrom('notes', 'memo'), at: fc.nat(), len: fc.nat(5) }),
  fc.record({ t: fc.constant('tick' as const) }),
)
const stepArb = fc.record({
  writer: fc.nat(2),
  writes: fc.array(writeArb, { minLength: 0, maxLength: 4 }),
  /** Whether the writers exchange what they made before this step (else they write concurrently). */
  sync: fc.boolean(),
})

test('Concord\'s own changes: the effect lists exactly what applying them does, and inspection changes nothing', () => {
  check(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 12 }), (steps) => {
    const names = ['w0', 'w1', 'w2']
    const writers = names.map(create)
    const relay = create('relay')
    const seqs = [0, 0, 0]
    const made: Uint8Array[][] = [[], [], []]
    let ev = 0
    for (const step of steps) {
      const i = step.writer
      const w = writers[i]!
      if (step.sync) {
        for (let j = 0; j < 3; j++) if (j !== i && made[j]!.length > 0) w.applyBatch(made[j]!)
      }
      const writes = step.writes
      const inited = new Set<string>()
      // The document's lengths do not move inside a change.
      const lens = new Map<string, number>()
      const lenOf = (key: string) => lens.get(key) ?? w.textLength(key)
      const payload = w.change((dw) => {
        for (const x of writes) {
          ev++
          switch (x.t) {
            case 'init': {
              // Per writer: concurrent first values of one set-once key would be a conflict, which Concord never makes.
              const key = `${x.key}.${names[i]}`
              if (!w.read().init.has(key) && !inited.has(key)) dw.init(key, x.value)
              inited.add(key)
              break
            }
            case 'reg': dw.setRegister(x.key, entry(x.value, `${names[i]}.${ev}`, ev)); break
            case 'rec': dw.addRecord(x.set, `${x.id}.${names[i]}`, { v: x.value, ev }); break
            case 'ins': {
              const len = lenOf(x.key)
              dw.insertText(x.key, x.at % (len + 1), x.text)
              lens.set(x.key, len + x.text.length)
              break
            }
            case 'del': {
              const len = lenOf(x.key)
              const at = len === 0 ? 0 : x.at % len
              const n = Math.min(x.len, len - at)
              dw.deleteText(x.key, at, n)
              lens.set(x.key, len - n)
              break
            }
            case 'tick': dw.tickClock(rid(names[i]!), ++seqs[i]!); break
          }
        }
      })
      made[i]!.push(payload)
      const model = modelOf(relay.read())
      const effect = inspectUnchanged(relay, payload)
      assert.is(effect.incomplete, false)
      assert.equal(effect.authors, [automergeActorOf(names[i]!)])
      assert.equal(malformed(effect), [])
      // One reg op per register written: a second write of one key in a change overwrites the first.
      const regs = effect.ops.filter((o) => o.k === 'reg').length
      assert.is(regs, new Set(writes.flatMap((x) => (x.t === 'reg' ? [x.key] : []))).size, 'one reg op per register written')
      for (const o of effect.ops) {
        if (o.k === 'init' || o.k === 'record') assert.is(o.existing, undefined, 'Concord never writes over a value')
        if (o.k === 'reg') assert.is(o.existing, undefined)
      }
      applyEffect(model, effect.ops)
      relay.applyBatch([payload])
      assert.is(sortedModel(model), sortedModel(modelOf(relay.read())), 'the effect, applied to the document before, is the document after')
    }
  }), { numRuns: 60 })
})

test('a clock tick carries the counter it replaces; a new counter none', () => {
  const a = create('a')
  const relay = create('relay')
  const p1 = a.change((w) => w.tickClock(rid('a'), 1))
  assert.equal(inspectUnchanged(relay, p1).ops, [{ k: 'clock', replica: 'a', value: 1, existing: undefined }])
  relay.applyBatch([p1])
  const p2 = a.change((w) => w.tickClock(rid('a'), 2))
  assert.equal(inspectUnchanged(relay, p2).ops, [{ k: 'clock', replica: 'a', value: 2, existing: 1 }])
})

test('text counts are UTF-16 units: a deleted character is looked up for its width', () => {
  const a = create('a')
  const relay = create('relay')
  const p1 = a.change((w) => w.insertText('notes', 0, 'a😀b'))
  assert.equal(inspectUnchanged(relay, p1).ops, [{ k: 'text', key: 'notes', inserted: 4, deleted: 0 }])
  relay.applyBatch([p1])
  const p2 = a.change((w) => w.deleteText('notes', 0, 3))
  assert.equal(inspectUnchanged(relay, p2).ops, [{ k: 'text', key: 'notes', inserted: 0, deleted: 3 }])
  // Once the document knows the text's object (a length asked), the text is found without its path: the same answer.
  assert.is(relay.textLength('notes'), 4)
  assert.equal(inspectUnchanged(relay, p2).ops, [{ k: 'text', key: 'notes', inserted: 0, deleted: 3 }])
  // Inserted and deleted by one payload: the width is the insertion's.
  const p3 = a.change((w) => w.insertText('notes', 0, '😀😀x'))
  const p4 = a.change((w) => w.deleteText('notes', 0, 2))
  assert.equal(inspectUnchanged(relay, concat(p3, p4)).ops, [{ k: 'text', key: 'notes', inserted: 5, deleted: 2 }])
})

test('a character someone already deleted counts as no deletion', () => {
  const a = create('a')
  const c = create('c')
  const relay = create('relay')
  const p0 = a.change((w) => w.insertText('notes', 0, 'abc'))
  c.applyBatch([p0])
  relay.applyBatch([p0])
  const pa = a.change((w) => w.deleteText('notes', 1, 1))
  const pc = c.change((w) => {
    w.deleteText('notes', 1, 1)
    w.insertText('notes', 0, 'xy')
  })
  relay.applyBatch([pa])
  // Counted, it would say the text keeps its length while it grows by two.
  assert.equal(inspectUnchanged(relay, pc).ops, [{ k: 'text', key: 'notes', inserted: 2, deleted: 0 }])
  relay.applyBatch([pc])
  assert.is(relay.read().texts.get('notes'), 'xyac')
})

test('text elements Automerge\'s splice never makes are malformed; a repeated delete counts once', () => {
  const doc = seeded()
  const am = doc.toAutomerge()
  const h = A.getBackend(am)
  const texts = (h.getWithType('_root', 'texts') as ['map', string])[1]
  const notes = (h.getWithType(texts, 'notes') as ['text', string])[1]
  const first = h.getCursor(notes, 0)
  const second = h.getCursor(notes, 1)
  let seq = 0
  const encode = (ops: unknown[]) => A.encodeChange({
    actor: MALLORY, author: null, seq: ++seq, startOp: 1000 + seq * 10, time: 0, message: null, deps: A.getHeads(am), ops: ops as never,
  })
  const cases: [unknown, string][] = [
    [{ action: 'set', obj: notes, elemId: '_head', insert: true, value: 'abc', pred: [] }, 'an element of 3 UTF-16 units'],
    [{ action: 'set', obj: notes, elemId: '_head', insert: true, value: '', pred: [] }, 'an element of 0 UTF-16 units'],
    [{ action: 'set', obj: notes, elemId: first, insert: false, value: 'z', pred: [first] }, 'a character overwritten in place'],
    [{ action: 'set', obj: notes, elemId: '_head', insert: true, datatype: 'int', value: 5, pred: [] }, 'a int element in a text'],
  ]
  for (const [op, why] of cases) {
    assert.equal(inspectUnchanged(doc, encode([op])).ops, [{ k: 'malformed', where: 'texts/notes', why }], why)
  }
  const twice = encode([
    { action: 'del', obj: notes, elemId: second, pred: [second] },
    { action: 'del', obj: notes, elemId: second, pred: [second] },
  ])
  assert.equal(inspectUnchanged(doc, twice).ops, [{ k: 'text', key: 'notes', inserted: 0, deleted: 1 }])
  // A delete of a character the document does not hold: Automerge could not apply it.
  const unknown = encode([{ action: 'del', obj: notes, elemId: `999@${MALLORY}`, pred: [`999@${MALLORY}`] }])
  assert.is(inspectUnchanged(doc, unknown).incomplete, true)
})

test('deleted characters are looked up within bounds: runs cheaply and exactly, scattered ones up to a budget', () => {
  const a = create('a')
  const relay = create('relay')
  // Typed in pieces, so that the text is made of many runs.
  const typed = Array.from({ length: 30 }, (_, i) => a.change((w) => w.insertText('notes', i * 50, `${'x😀'.repeat(49)}y`)))
  relay.applyBatch(typed)
  const len = relay.read().texts.get('notes')!.length
  assert.is(len, 30 * 148)
  // One run, the whole text: every character counted, astral ones as two.
  assert.equal(inspectUnchanged(relay, a.change((w) => w.deleteText('notes', 0, len))).ops, [{ k: 'text', key: 'notes', inserted: 0, deleted: len }])
  // Scattered deletes (every third character, from the end): each needs a cursor lookup; 256 are made, the rest count as nothing.
  const c = create('c')
  const relay2 = create('relay2')
  const plain = c.change((w) => w.insertText('notes', 0, 'x'.repeat(2000)))
  relay2.applyBatch([plain])
  const scattered = c.change((w) => {
    for (let i = 0; i < 600; i++) w.deleteText('notes', 1998 - i * 3, 1)
  })
  assert.equal(inspectUnchanged(relay2, scattered).ops, [{ k: 'text', key: 'notes', inserted: 0, deleted: 256 }])
})

// ------------------------------------------------------------- robust reads

test('read() skips register values that are not entries, and never throws on them', () => {
  const texts = ['null', '"banana"', 'banana', '{"ev":1,"hlc":"x"}', '{"ev":"e"}', '{"hlc":"h"}', '[1,2]', '5', '']
  const values: [string, unknown][] = [
    ...texts.map((t): [string, unknown] => [`str ${JSON.stringify(t)}`, new A.ImmutableString(t)]),
    ['null', null], ['int', 5], ['boolean', true], ['bytes', new Uint8Array([1])], ['timestamp', new Date(0)], ['a map', {}], ['a text', 'x'],
  ]
  const b = registerBucketOf('h.supplier')
  for (const [what, v] of values) {
    // Read incrementally (the document was read before), and from scratch (loaded).
    const doc = seeded()
    doc.read()
    // Concurrent with the good entry: the good one still reads.
    const concurrent = hostile(create('empty'), (d) => { d.regs[b]!['h.supplier'] = v as never }, automergeActorOf('eve'))
    // Superseding the good entry: the register reads as absent.
    const over = hostile(doc, (d) => { d.regs[registerBucketOf('h.bad')]!['h.bad'] = v as never })
    doc.applyBatch([concurrent, over])
    let s: DocSnapshot | undefined
    assert.not.throws(() => (s = doc.read()), what)
    assert.equal(s!.registers.get('h.supplier')?.map((e) => e.ev), ['alice.1'], `${what}: the good entry reads`)
    assert.is(s!.registers.has('h.bad'), false, `${what}: alone, it is no register`)
    const loaded = automergeBackend.load(doc.save(), rid('l'))
    assert.not.throws(() => (s = loaded.read()), `${what}, loaded`)
    assert.equal(s!.registers.get('h.supplier')?.map((e) => e.ev), ['alice.1'], `${what}, loaded`)
    assert.is(s!.registers.has('h.bad'), false, `${what}, loaded`)
  }
})

test.run()
