/**
 * The contract every backend's update inspector passes (`inspectUpdate`,
 * effect.ts): for Concord's own changes it lists exactly the writes the
 * change made, resolved against a document holding the state the change was
 * made on, and it never changes that document. Written through `CrdtDoc`
 * and `DocWriter` only, so it runs unchanged on every backend.
 * `runInspectContract(backend)` registers one uvu suite; the caller runs it.
 *
 * Within one change the random writes touch each register and each clock
 * entry once: writing one twice in a change is a write then an overwrite,
 * which backends may list as one op or as two.
 */
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type CrdtBackend, type EventId, type Hlc, type Json, type ReplicaId, ALL_BACKENDS, isConcordError } from '@concord/core'
import { type CrdtDoc, type DocSnapshot, type RegisterEntry, type SetName, canonicalJson } from '@concord/core/internal'
import { check } from '../support/seed.js'
import { canonicalSnapshot } from './backend-contract.js'

export type UpdateEffect = ReturnType<NonNullable<CrdtBackend['inspectUpdate']>>
export type EffectOp = UpdateEffect['ops'][number]

const OP_KINDS = new Set(['init', 'initDelete', 'reg', 'regDelete', 'record', 'recordDelete', 'text', 'clock', 'clockDelete', 'foreign', 'malformed'])

const rid = (s: string) => s as ReplicaId

// ---------------------------------------------------------------- random writes

type Call =
  | { readonly c: 'reg'; readonly key: string; readonly value: Json; readonly stamp: 'bare' | 'by' | 'both' }
  | { readonly c: 'rec'; readonly set: SetName; readonly id: string; readonly value: Json }
  | { readonly c: 'init'; readonly key: string }
  | { readonly c: 'ins'; readonly key: string; readonly at: number; readonly text: string }
  | { readonly c: 'del'; readonly key: string; readonly at: number; readonly len: number }
  /** `ahead` 0 ticks to the value held (a no-op). */
  | { readonly c: 'tick'; readonly replica: string; readonly ahead: number }

const valueArb: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.string({ maxLength: 6 }),
  fc.boolean(),
  fc.constant(null),
  fc.record({ amount: fc.integer({ min: 0, max: 99999 }).map(String), currency: fc.constantFrom('EUR', 'USD') }, { noNullPrototype: true }),
  fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
)
const textArb = fc.string({ unit: fc.constantFrom('a', 'b', 'é', '中', ' '), minLength: 1, maxLength: 5 })

const callArb: fc.Arbitrary<Call> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ c: fc.constant('reg' as const), key: fc.constantFrom('h.supplier', 'l.1.qty', 'l.2.qty'), value: valueArb, stamp: fc.constantFrom('bare' as const, 'by' as const, 'both' as const) }) },
  { weight: 3, arbitrary: fc.record({ c: fc.constant('rec' as const), set: fc.constantFrom<SetName>('lines', 'payments', 'voids'), id: fc.constantFrom('r1', 'r2', 'r3'), value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('init' as const), key: fc.constantFrom('settings', 'currency', 'supplier') }) },
  { weight: 3, arbitrary: fc.record({ c: fc.constant('ins' as const), key: fc.constantFrom('notes', 'memo'), at: fc.nat(), text: textArb }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('del' as const), key: fc.constantFrom('notes', 'memo'), at: fc.nat(), len: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('tick' as const), replica: fc.constantFrom('ra', 'rc', 'rx'), ahead: fc.nat(3) }) },
)
const changeArb = fc.array(callArb, { maxLength: 7 })

/** A history of two replicas: changes on either, and syncs that deliver everything one has made to the other. */
export type Step = { readonly s: 'change'; readonly on: 0 | 1; readonly calls: readonly Call[] } | { readonly s: 'sync'; readonly to: 0 | 1 }
export const historyArb: fc.Arbitrary<readonly Step[]> = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ s: fc.constant('change' as const), on: fc.constantFrom(0 as const, 1 as const), calls: changeArb }) },
    { weight: 1, arbitrary: fc.record({ s: fc.constant('sync' as const), to: fc.constantFrom(0 as const, 1 as const) }) },
  ),
  { maxLength: 8 },
)

/** An init value derived from its key, so two inits of one key never disagree. */
const initValue = (key: string): Json => ({ key, n: key.length })

export interface Counters {
  seq: number
  time: number
}

/** What one change should be inspected as: its ops, except texts, which are checked by length. */
interface Expected {
  readonly ops: EffectOp[]
  /** Per text key: UTF-16 units the change's calls inserted and deleted. */
  readonly texts: Map<string, { inserted: number; deleted: number }>
}

/** Makes `calls` as one change on `doc` and says what an inspector must list for it. */
function play(doc: CrdtDoc, replica: string, calls: readonly Call[], n: Counters): { payload: Uint8Array; expected: Expected } {
  const before = doc.read()
  const ops: EffectOp[] = []
  const texts = new Map<string, { inserted: number; deleted: number }>()
  const lengths = new Map<string, number>([...before.texts].map(([k, v]) => [k, v.length]))
  const regs = new Set<string>()
  const ticks = new Set<string>()
  const added = new Set<string>()
  const text = (key: string) => {
    let t = texts.get(key)
    if (t === undefined) texts.set(key, (t = { inserted: 0, deleted: 0 }))
    return t
  }
  const payload = doc.change((w) => {
    for (const call of calls) {
      switch (call.c) {
        case 'reg': {
          if (regs.has(call.key)) break
          regs.add(call.key)
          const ev = `${replica}.${++n.seq}`
          const entry: RegisterEntry = {
            value: call.value, ev: ev as EventId, hlc: String(++n.time).padStart(12, '0') as Hlc,
            ...(call.stamp === 'bare' ? {} : { by: 'user-1' }), ...(call.stamp === 'both' ? { dev: 'dev-1' } : {}),
          }
          w.setRegister(call.key, entry)
          ops.push({ k: 'reg', key: call.key, slot: ev, entry, existing: undefined })
          for (const old of before.registers.get(call.key) ?? []) ops.push({ k: 'regDelete', key: call.key, slot: old.ev })
          break
        }
        case 'rec': {
          w.addRecord(call.set, call.id, call.value)
          const id = `${call.set}/${call.id}`
          if (!before.sets[call.set].has(call.id) && !added.has(id)) ops.push({ k: 'record', set: call.set, id: call.id, record: call.value, existing: undefined })
          added.add(id)
          break
        }
        case 'init': {
          w.init(call.key, initValue(call.key))
          const id = `init/${call.key}`
          if (!before.init.has(call.key) && !added.has(id)) ops.push({ k: 'init', key: call.key, value: initValue(call.key), existing: undefined })
          added.add(id)
          break
        }
        case 'ins': {
          const len = lengths.get(call.key) ?? 0
          w.insertText(call.key, call.at % (len + 1), call.text)
          lengths.set(call.key, len + call.text.length)
          text(call.key).inserted += call.text.length
          break
        }
        case 'del': {
          const len = lengths.get(call.key) ?? 0
          if (len === 0) break
          const at = call.at % len
          const k = Math.min(call.len, len - at)
          w.deleteText(call.key, at, k)
          lengths.set(call.key, len - k)
          text(call.key).deleted += k
          break
        }
        case 'tick': {
          if (ticks.has(call.replica)) break
          ticks.add(call.replica)
          const existing = before.clock.get(rid(call.replica))
          const seq = (existing ?? 0) + call.ahead
          w.tickClock(rid(call.replica), seq)
          if (call.ahead > 0) ops.push({ k: 'clock', replica: call.replica, value: seq, existing })
          break
        }
      }
    }
  })
  return { payload, expected: { ops, texts } }
}

/** A document with a random history behind it, its replica id, and a document B holding the same state under another replica. */
export function setUp(backend: CrdtBackend, history: readonly Step[], n: Counters): { a: CrdtDoc; b: CrdtDoc } {
  const docs = [backend.create(rid('ra')), backend.create(rid('rc'))] as const
  const made: Uint8Array[][] = [[], []]
  for (const step of history) {
    if (step.s === 'change') made[step.on]!.push(play(docs[step.on], step.on === 0 ? 'ra' : 'rc', step.calls, n).payload)
    else docs[step.to].applyBatch(made[step.to === 0 ? 1 : 0]!)
  }
  const a = docs[0]
  docs[1].destroy()
  return { a, b: backend.load(a.save(), rid('rb')) }
}

// ---------------------------------------------------------------- checks

const canon = (op: EffectOp) => canonicalJson(op)

/** Throws unless `e` looks like an UpdateEffect. */
export function assertShape(e: UpdateEffect, what: string): void {
  assert.ok(Array.isArray(e.ops), `${what}: ops is an array`)
  for (const op of e.ops) assert.ok(OP_KINDS.has(op.k), `${what}: unknown op ${JSON.stringify(op)}`)
  assert.ok(Array.isArray(e.authors) && e.authors.every((a) => typeof a === 'string'), `${what}: authors are strings`)
  assert.type(e.incomplete, 'boolean', `${what}: incomplete is a boolean`)
}

/** The document's content and version, to show inspection left it alone. */
const fingerprint = (d: CrdtDoc) => `${d.version()}\n${canonicalSnapshot(d.read())}`

function checkEffect(effect: UpdateEffect, expected: Expected, before: DocSnapshot, after: DocSnapshot, author: string | undefined): void {
  assertShape(effect, 'effect')
  assert.is(effect.incomplete, false, 'a change made on the state the document holds is complete')
  const got = effect.ops.filter((o) => o.k !== 'text').map(canon).sort()
  const want = expected.ops.map(canon).sort()
  assert.equal(got, want, 'the ops are exactly the writes of the change')
  const textOps = effect.ops.filter((o): o is Extract<EffectOp, { k: 'text' }> => o.k === 'text')
  for (const key of new Set([...textOps.map((o) => o.key), ...expected.texts.keys(), ...before.texts.keys(), ...after.texts.keys()])) {
    const mine = textOps.filter((o) => o.key === key)
    const inserted = mine.reduce((s, o) => s + o.inserted, 0)
    const deleted = mine.reduce((s, o) => s + o.deleted, 0)
    const calls = expected.texts.get(key) ?? { inserted: 0, deleted: 0 }
    const change = (after.texts.get(key)?.length ?? 0) - (before.texts.get(key)?.length ?? 0)
    assert.is(inserted - deleted, change, `text ${key}: inserted - deleted is the length change`)
    // Characters inserted and deleted by the same change may be listed or netted out.
    assert.ok(inserted >= 0 && inserted <= calls.inserted, `text ${key}: inserted ${inserted} within the ${calls.inserted} the change inserted`)
    assert.ok(deleted >= 0 && deleted <= calls.deleted, `text ${key}: deleted ${deleted} within the ${calls.deleted} the change deleted`)
    if (calls.deleted === 0) assert.is(inserted, calls.inserted, `text ${key}: an insert-only change lists every character`)
    if (calls.inserted === 0) assert.is(deleted, calls.deleted, `text ${key}: a delete-only change lists every character`)
  }
  if (author !== undefined) {
    for (const a of effect.authors) assert.is(a, author, 'every author is the changing replica')
    // A Yjs delete set names no author: only a change that adds content must name one.
    const adds = effect.ops.some((o) => o.k === 'reg' || o.k === 'record' || o.k === 'init' || o.k === 'clock' || (o.k === 'text' && o.inserted > 0))
    if (adds) assert.equal(effect.authors, [author], 'a change that adds content names its author')
  }
}

export function throwsCode(fn: () => unknown, code: string, what: string): void {
  try {
    fn()
  } catch (e) {
    assert.ok(isConcordError(e), `${what}: expected a ConcordError, got ${String(e)}`)
    assert.is((e as { code: string }).code, code, what)
    return
  }
  assert.unreachable(`${what}: expected ${code}`)
}

/** A payload with some bytes changed, cut or added: what a buggy or hostile writer sends. */
export type Mutation = { readonly m: 'flip' | 'set' | 'cut' | 'insert'; readonly at: number; readonly byte: number }
export const mutationArb: fc.Arbitrary<Mutation> = fc.record({ m: fc.constantFrom('flip' as const, 'set' as const, 'cut' as const, 'insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) })

export function mutate(payload: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let p = Uint8Array.from(payload)
  for (const { m, at, byte } of ms) {
    if (p.length === 0) break
    const i = at % p.length
    if (m === 'flip') p[i] = p[i]! ^ (1 << (byte % 8))
    else if (m === 'set') p[i] = byte
    else if (m === 'cut') p = p.slice(0, i)
    else p = Uint8Array.from([...p.slice(0, i), byte, ...p.slice(i)])
  }
  return p
}

// ---------------------------------------------------------------- the contract

export function runInspectContract(backend: CrdtBackend): ReturnType<typeof suite> {
  const t = suite(`inspect contract: ${backend.name}`)
  const inspectUpdate = backend.inspectUpdate
  if (inspectUpdate === undefined) throw new Error(`${backend.name} has no inspector`)
  const inspect = (doc: CrdtDoc, payload: Uint8Array): UpdateEffect => inspectUpdate(doc, payload)
  const author = (r: string) => backend.authorOf?.(rid(r))

  t('a change is inspected as exactly its writes, without changing the document; applying it then gives the same state', () => {
    check(fc.property(historyArb, changeArb, (history, calls) => {
      const n = { seq: 0, time: 0 }
      const { a, b } = setUp(backend, history, n)
      const before = a.read()
      const { payload, expected } = play(a, 'ra', calls, n)
      const held = fingerprint(b)
      const effect = inspect(b, payload)
      checkEffect(effect, expected, before, a.read(), author('ra'))
      assert.is(fingerprint(b), held, 'inspection leaves the document as it was')
      // Twice gives the same answer: nothing was cached from the first look.
      assert.equal(inspect(b, payload), effect, 'inspection is repeatable')
      b.applyBatch([payload])
      assert.is(canonicalSnapshot(b.read()), canonicalSnapshot(a.read()), 'the inspected payload applies to the same state')
      a.destroy()
      b.destroy()
    }), { numRuns: 150 })
  })

  t('an update the document already holds does nothing', () => {
    check(fc.property(historyArb, changeArb, (history, calls) => {
      const n = { seq: 0, time: 0 }
      const { a, b } = setUp(backend, history, n)
      const { payload } = play(a, 'ra', calls, n)
      b.applyBatch([payload])
      const effect = inspect(a, payload)
      assertShape(effect, 'effect')
      assert.equal(effect.ops, [], 'no ops')
      assert.is(effect.incomplete, false)
      assert.equal(inspect(b, payload).ops, [], 'no ops on a copy either')
      a.destroy()
      b.destroy()
    }), { numRuns: 50 })
  })

  t('an update that follows a change the document lacks is incomplete', () => {
    check(fc.property(historyArb, (history) => {
      const n = { seq: 0, time: 0 }
      const { a, b } = setUp(backend, history, n)
      const first = play(a, 'ra', [{ c: 'reg', key: 'h.supplier', value: 'first', stamp: 'bare' }, { c: 'ins', key: 'notes', at: 0, text: 'ab' }], n).payload
      const second = play(a, 'ra', [{ c: 'reg', key: 'h.other', value: 'second', stamp: 'bare' }], n).payload
      assert.is(inspect(b, second).incomplete, true, 'missing its predecessor')
      b.applyBatch([first])
      const effect = inspect(b, second)
      assert.is(effect.incomplete, false, 'complete once the predecessor is in')
      assert.equal(effect.ops.map(canon), [canon({ k: 'reg', key: 'h.other', slot: `ra.${n.seq}`, entry: { value: 'second', ev: `ra.${n.seq}`, hlc: String(n.time).padStart(12, '0') }, existing: undefined })])
      a.destroy()
      b.destroy()
    }), { numRuns: 30 })
  })

  t('text counts are UTF-16 code units', () => {
    const a = backend.create(rid('ra'))
    const b = backend.load(a.save(), rid('rb'))
    const p1 = a.change((w) => w.insertText('notes', 0, 'a😀é'))
    const e1 = inspect(b, p1)
    assert.equal(e1.ops, [{ k: 'text', key: 'notes', inserted: 4, deleted: 0 }])
    b.applyBatch([p1])
    const p2 = a.change((w) => w.deleteText('notes', 1, 2))
    assert.equal(inspect(b, p2).ops, [{ k: 'text', key: 'notes', inserted: 0, deleted: 2 }])
  })

  t('overwrites and supersedes name what they replace', () => {
    const a = backend.create(rid('ra'))
    const c = backend.create(rid('rc'))
    const pa = a.change((w) => w.setRegister('k', { value: 1, ev: 'ra.1' as EventId, hlc: '000000000001' as Hlc }))
    const pc = c.change((w) => w.setRegister('k', { value: 2, ev: 'rc.1' as EventId, hlc: '000000000002' as Hlc }))
    a.applyBatch([pc])
    c.applyBatch([pa])
    a.change((w) => w.tickClock(rid('ra'), 1))
    const b = backend.load(a.save(), rid('rb'))
    const p = a.change((w) => {
      w.setRegister('k', { value: 3, ev: 'ra.2' as EventId, hlc: '000000000003' as Hlc })
      w.tickClock(rid('ra'), 2)
    })
    const got = inspect(b, p).ops.map(canon).sort()
    assert.equal(got, [
      { k: 'reg', key: 'k', slot: 'ra.2', entry: { value: 3, ev: 'ra.2', hlc: '000000000003' } },
      { k: 'regDelete', key: 'k', slot: 'ra.1' },
      { k: 'regDelete', key: 'k', slot: 'rc.1' },
      { k: 'clock', replica: 'ra', value: 2, existing: 1 },
    ].map((o) => canonicalJson(o)).sort())
  })

  t('damaged payloads are refused as INVALID_UPDATE or inspected; nothing else is thrown and the document is untouched', () => {
    check(fc.property(historyArb, changeArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (history, calls, ms) => {
      const n = { seq: 0, time: 0 }
      const { a, b } = setUp(backend, history, n)
      const { payload } = play(a, 'ra', calls, n)
      const held = fingerprint(b)
      const bad = mutate(payload, ms)
      try {
        assertShape(inspect(b, bad), 'damaged payload')
      } catch (e) {
        if (!isConcordError(e, 'INVALID_UPDATE')) throw e
      }
      assert.is(fingerprint(b), held, 'inspection leaves the document as it was')
      a.destroy()
      b.destroy()
    }), { numRuns: 200 })
  })

  t('bytes that are no update throw INVALID_UPDATE', () => {
    const b = backend.create(rid('rb'))
    for (const bytes of [new Uint8Array(0), new Uint8Array([0]), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff]), new TextEncoder().encode('{"not":"an update"}')]) {
      throwsCode(() => inspect(b, bytes), 'INVALID_UPDATE', `${bytes.length} bytes`)
    }
    throwsCode(() => inspect(b, 'text' as unknown as Uint8Array), 'INVALID_UPDATE', 'not bytes')
  })

  t('a document of another backend is refused', () => {
    for (const other of ALL_BACKENDS) {
      if (other.name === backend.name) continue
      const mine = backend.create(rid('ra'))
      const payload = mine.change((w) => w.setRegister('k', { value: 1, ev: 'ra.1' as EventId, hlc: '000000000001' as Hlc }))
      throwsCode(() => inspect(other.create(rid('rb')), payload), 'BACKEND_MISMATCH', `${backend.name} update on a ${other.name} document`)
    }
  })

  return t
}
