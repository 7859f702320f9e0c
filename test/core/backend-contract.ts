/**
 * The contract every CrdtBackend passes: the semantics the
 * purchase layer relies on, checked the same way on Yjs and Automerge.
 * `runBackendContract(backend)` registers one uvu suite; the caller runs it.
 */
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type CrdtBackend, type EventId, type Hlc, type Json, type ReplicaId, ALL_BACKENDS, isConcordError } from '@concord/core'
import { type CrdtDoc, type DocSnapshot, type RegisterEntry, type SetName, canonicalJson, SET_NAMES, wrapSnapshot } from '@concord/core/internal'
import { check } from '../support/seed.js'

/** Every backend, whatever BACKEND selects: the mismatch checks need the others. */

const rid = (s: string) => s as ReplicaId

/** A register entry written by event `ev` at logical time `t`. */
export function entry(value: Json, ev: string, t: number): RegisterEntry {
  return { value, ev: ev as EventId, hlc: String(t).padStart(12, '0') as Hlc }
}

/** A snapshot as canonical JSON: equal text iff equal content. */
export function canonicalSnapshot(s: DocSnapshot): string {
  const obj = (m: ReadonlyMap<string, unknown>) => Object.fromEntries([...m].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
  return canonicalJson({
    init: obj(s.init),
    registers: obj(s.registers),
    sets: Object.fromEntries(SET_NAMES.map((n) => [n, obj(s.sets[n])])),
    texts: obj(s.texts),
    clock: obj(s.clock),
  })
}

function throwsCode(fn: () => unknown, code: string, what: string): void {
  try {
    fn()
  } catch (e) {
    assert.ok(isConcordError(e), `${what}: expected a ConcordError, got ${String(e)}`)
    assert.is((e as { code: string }).code, code, what)
    return
  }
  assert.unreachable(`${what}: expected ${code}`)
}

function values(doc: CrdtDoc, key: string): Json[] {
  return (doc.read().registers.get(key) ?? []).map((e) => e.value)
}


// ---------------------------------------------------------------- random ops

type RandomOp =
  | { readonly t: 'reg'; readonly key: string; readonly value: number }
  | { readonly t: 'rec'; readonly set: SetName; readonly id: string; readonly value: number }
  | { readonly t: 'ins'; readonly key: string; readonly at: number; readonly text: string }
  | { readonly t: 'del'; readonly key: string; readonly at: number; readonly len: number }
  | { readonly t: 'init'; readonly value: number }
  | { readonly t: 'tick' }

const opArb: fc.Arbitrary<RandomOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('reg' as const), key: fc.constantFrom('a', 'b', 'c'), value: fc.integer({ min: 0, max: 99 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('rec' as const), set: fc.constantFrom<SetName>('lines', 'payments', 'voids'), id: fc.constantFrom('r1', 'r2', 'r3', 'r4'), value: fc.integer({ min: 0, max: 99 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('ins' as const), key: fc.constantFrom('notes', 'memo'), at: fc.nat(), text: fc.string({ minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('del' as const), key: fc.constantFrom('notes', 'memo'), at: fc.nat(), len: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('init' as const), value: fc.integer({ min: 0, max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('tick' as const)}) },
)

/** One step of a random run: a local op on a doc, or a delivery of some payloads to a doc. */
type Step =
  | { readonly s: 'op'; readonly doc: number; readonly op: RandomOp }
  | { readonly s: 'deliver'; readonly doc: number; readonly pick: readonly number[]; readonly batched: boolean }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ s: fc.constant('op' as const), doc: fc.nat(3), op: opArb }) },
  { weight: 1, arbitrary: fc.record({ s: fc.constant('deliver' as const), doc: fc.nat(3), pick: fc.array(fc.nat(), { maxLength: 6 }), batched: fc.boolean() }) },
)

/** Plays a random run on `n` fresh docs and returns them with every payload made. */
function playRun(backend: CrdtBackend, n: number, steps: readonly Step[]) {
  const docs = Array.from({ length: n }, (_, i) => backend.create(rid(`rep${i}`)))
  const made: Uint8Array[] = []
  const seq = new Array<number>(n).fill(0)
  let time = 0
  for (const step of steps) {
    const i = step.doc % n
    const doc = docs[i]!
    if (step.s === 'deliver') {
      if (made.length === 0) continue
      const payloads = step.pick.map((k) => made[k % made.length]!)
      if (step.batched) doc.applyBatch(payloads)
      else for (const p of payloads) doc.applyBatch([p])
      continue
    }
    const op = step.op
    const ev = `rep${i}.${++seq[i]!}`
    time++
    made.push(doc.change((w) => {
      switch (op.t) {
        case 'reg': w.setRegister(op.key, entry(op.value, ev, time)); break
        case 'rec': w.addRecord(op.set, op.id, { v: op.value, by: i }); break
        case 'ins': {
          const len = doc.read().texts.get(op.key)?.length ?? 0
          w.insertText(op.key, op.at % (len + 1), op.text)
          break
        }
        case 'del': {
          const len = doc.read().texts.get(op.key)?.length ?? 0
          if (len === 0) w.insertText(op.key, 0, 'x')
          else {
            const at = op.at % len
            w.deleteText(op.key, at, Math.min(op.len, len - at))
          }
          break
        }
        case 'init': w.init(`i${i}.${op.value}`, op.value); break
        case 'tick': w.tickClock(rid(`rep${i}`), seq[i]!); break
      }
    }))
    // The fast length path (local edits validate with it) agrees with the text itself.
    if ((op.t === 'ins' || op.t === 'del') && doc.textLength !== undefined) {
      assert.is(doc.textLength(op.key), doc.read().texts.get(op.key)?.length ?? 0, `textLength of ${op.key}`)
    }
  }
  return { docs, made }
}

// ---------------------------------------------------------------- the contract

export function runBackendContract(backend: CrdtBackend): ReturnType<typeof suite> {
  const t = suite(`backend contract: ${backend.name}`)
  const create = (r: string) => backend.create(rid(r))

  t('textLength counts UTF-16 code units like the text read, for local and remote texts', () => {
    const a = create('a')
    const b = create('b')
    assert.is(a.textLength?.('notes') ?? 0, 0)
    const p = a.change((w) => w.insertText('notes', 0, 'a😀é中'))
    assert.is(a.textLength?.('notes') ?? 5, 5)
    b.applyBatch([p])
    // b learnt the text remotely, then edits it locally.
    b.change((w) => w.insertText('notes', 3, '🎉'))
    for (const d of [a, b]) assert.is(d.textLength?.('notes') ?? d.read().texts.get('notes')!.length, d.read().texts.get('notes')!.length)
    assert.is(b.read().texts.get('notes'), 'a😀🎉é中')
    assert.is(b.textLength?.('notes') ?? 7, 7)
  })

  t('a sequential write supersedes the value it saw', () => {
    const a = create('a')
    a.change((w) => w.setRegister('k', entry(1, 'a.1', 1)))
    a.change((w) => w.setRegister('k', entry(2, 'a.2', 2)))
    assert.equal(values(a, 'k'), [2])
    const b = create('b')
    const p = a.change((w) => w.setRegister('k', entry(3, 'a.3', 3)))
    b.applyBatch([p])
    // b got only the last change: its causal predecessors are missing, so it
    // may hold it back, but it must never show a superseded value.
    assert.ok(!values(b, 'k').some((v) => v === 1 || v === 2))
  })

  t('concurrent writes both survive, sorted by (hlc, ev); a write that saw both supersedes both', () => {
    const a = create('a')
    const b = create('b')
    const c = create('c')
    const pa = a.change((w) => w.setRegister('k', entry('A', 'a.1', 5)))
    const pb = b.change((w) => w.setRegister('k', entry('B', 'b.1', 4)))
    a.applyBatch([pb])
    b.applyBatch([pa])
    assert.equal(values(a, 'k'), ['B', 'A'])
    assert.equal(values(b, 'k'), ['B', 'A'])
    assert.equal(a.read().registers.get('k')!.map((e) => e.ev), ['b.1', 'a.1'])
    const pa2 = a.change((w) => w.setRegister('k', entry('AB', 'a.2', 6)))
    assert.equal(values(a, 'k'), ['AB'])
    b.applyBatch([pa2])
    assert.equal(values(b, 'k'), ['AB'])
    // c learns everything at once, in another order.
    c.applyBatch([pa2, pb, pa])
    assert.equal(values(c, 'k'), ['AB'])
  })

  t('a write concurrent with one side of a conflict keeps the other side', () => {
    const a = create('a')
    const b = create('b')
    const pa = a.change((w) => w.setRegister('k', entry('A', 'a.1', 1)))
    const pb = b.change((w) => w.setRegister('k', entry('B', 'b.1', 1)))
    const pa2 = a.change((w) => w.setRegister('k', entry('A2', 'a.2', 2)))
    b.applyBatch([pa, pa2])
    a.applyBatch([pb])
    assert.equal(values(a, 'k'), ['B', 'A2'])
    assert.equal(values(b, 'k'), ['B', 'A2'])
  })

  t('register entries keep their optional fields and drop undefined ones', () => {
    const a = create('a')
    const e: RegisterEntry = { value: { on: true, reason: 'x' }, ev: 'a.1' as EventId, hlc: '000000000001' as Hlc, by: 'u', dev: 'd', res: 'c1', ...{ extra: undefined } }
    a.change((w) => w.setRegister('h.hold', e))
    assert.equal(a.read().registers.get('h.hold'), [{ value: { on: true, reason: 'x' }, ev: 'a.1', hlc: '000000000001', by: 'u', dev: 'd', res: 'c1' }])
  })

  t('init is set once: the same value again is a no-op, another value throws and changes nothing', () => {
    const a = create('a')
    a.change((w) => w.init('settings', { currency: 'EUR', n: 2 }))
    a.change((w) => w.init('settings', { currency: 'EUR', n: 2 }))
    const before = canonicalSnapshot(a.read())
    const version = a.version()
    throwsCode(() => a.change((w) => w.init('settings', { currency: 'USD', n: 2 })), 'INVALID_ARGUMENT', 'second init')
    assert.is(canonicalSnapshot(a.read()), before)
    assert.is(a.version(), version)
  })

  t('sets are grow-only and idempotent by id', () => {
    const a = create('a')
    const b = create('b')
    const p1 = a.change((w) => w.addRecord('payments', 'p1', { amount: '100' }))
    a.change((w) => w.addRecord('payments', 'p1', { amount: '999' }))
    assert.equal(a.read().sets.payments.get('p1'), { amount: '100' })
    b.applyBatch([p1])
    b.applyBatch([p1])
    b.applyBatch([p1, p1])
    assert.is(b.read().sets.payments.size, 1)
    const p2 = b.change((w) => w.addRecord('payments', 'p2', { amount: '5' }))
    a.applyBatch([p2])
    assert.equal([...a.read().sets.payments.keys()].sort(), ['p1', 'p2'])
    for (const s of SET_NAMES) if (s !== 'payments') assert.is(a.read().sets[s].size, 0, s)
  })

  t('concurrent text inserts merge; deletes apply', () => {
    const a = create('a')
    const b = create('b')
    const p0 = a.change((w) => w.insertText('notes', 0, 'hello world'))
    b.applyBatch([p0])
    const pa = a.change((w) => w.insertText('notes', 5, ', dear'))
    const pb = b.change((w) => {
      w.deleteText('notes', 0, 1)
      w.insertText('notes', 0, 'H')
      w.insertText('notes', 11, '!')
    })
    a.applyBatch([pb])
    b.applyBatch([pa])
    assert.is(a.read().texts.get('notes'), 'Hello, dear world!')
    assert.is(b.read().texts.get('notes'), 'Hello, dear world!')
  })

  t('the clock is monotonic per replica', () => {
    const a = create('a')
    a.change((w) => w.tickClock(rid('a'), 5))
    a.change((w) => w.tickClock(rid('a'), 3))
    a.change((w) => w.tickClock(rid('z'), 2))
    assert.equal([...a.read().clock].sort(), [['a', 5], ['z', 2]])
  })

  t('read() is cached until the next change or apply', () => {
    const a = create('a')
    const b = create('b')
    a.change((w) => w.setRegister('k', entry(1, 'a.1', 1)))
    const s1 = a.read()
    assert.is(a.read(), s1)
    a.change((w) => w.setRegister('k', entry(2, 'a.2', 2)))
    const s2 = a.read()
    assert.is.not(s2, s1)
    assert.equal(values(a, 'k'), [2])
    // The earlier snapshot is immutable: it still shows the old value.
    assert.equal(s1.registers.get('k')!.map((e) => e.value), [1])
    a.applyBatch([b.change((w) => w.setRegister('j', entry(3, 'b.1', 3)))])
    assert.is.not(a.read(), s2)
    assert.equal(s2.registers.get('j'), undefined)
  })

  t('save/load round trip keeps content, version and the ability to merge', () => {
    const { docs, made } = playRun(backend, 2, fc.sample(fc.array(stepArb, { minLength: 30, maxLength: 30 }), { numRuns: 1, seed: 7 })[0]!)
    const a = docs[0]!
    const loaded = backend.load(a.save(), rid('rep0'))
    assert.is(canonicalSnapshot(loaded.read()), canonicalSnapshot(a.read()))
    assert.is(loaded.version(), a.version())
    // A different replica loads it and keeps working; everyone converges.
    const c = backend.load(a.save(), rid('rep9'))
    const pc = c.change((w) => w.setRegister('a', entry('from c', 'rep9.1', 999)))
    for (const d of [...docs, c]) d.applyBatch([...made, pc])
    for (const d of docs) assert.is(canonicalSnapshot(d.read()), canonicalSnapshot(c.read()))
  })

  t('applyBatch equals applying singly; re-applying is a no-op', () => {
    const steps = fc.sample(fc.array(stepArb, { minLength: 40, maxLength: 40 }), { numRuns: 1, seed: 11 })[0]!
    const { made } = playRun(backend, 3, steps)
    const batched = create('x')
    const single = create('y')
    batched.applyBatch(made)
    for (const p of made) single.applyBatch([p])
    assert.is(canonicalSnapshot(single.read()), canonicalSnapshot(batched.read()))
    assert.is(single.version(), batched.version())
    const before = canonicalSnapshot(batched.read())
    batched.applyBatch(made)
    assert.is(canonicalSnapshot(batched.read()), before)
  })

  t('applyBatch with a bad payload throws INVALID_UPDATE and leaves the document unchanged', () => {
    const a = create('a')
    const b = create('b')
    a.change((w) => w.setRegister('k', entry(1, 'a.1', 1)))
    const good = b.change((w) => w.setRegister('k', entry(2, 'b.1', 2)))
    const before = canonicalSnapshot(a.read())
    const version = a.version()
    const bad: Uint8Array[] = [
      new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
      new Uint8Array(0),
      good.subarray(0, good.length - 3),
      Uint8Array.from(good, (x, i) => (i === good.length >> 1 ? x ^ 0xff : x)),
    ]
    for (const [i, p] of bad.entries()) {
      if (i === 3) {
        // A flipped byte may still decode in some formats; it must then at least not crash.
        try {
          backend.validateUpdate(p)
        } catch (e) {
          assert.ok(isConcordError(e, 'INVALID_UPDATE'), String(e))
        }
        continue
      }
      throwsCode(() => backend.validateUpdate(p), 'INVALID_UPDATE', `validateUpdate bad[${i}]`)
      throwsCode(() => a.applyBatch([good, p]), 'INVALID_UPDATE', `applyBatch bad[${i}]`)
      assert.is(canonicalSnapshot(a.read()), before)
      assert.is(a.version(), version)
    }
    backend.validateUpdate(good)
    a.applyBatch([good])
    assert.equal(values(a, 'k'), [1, 2])
  })

  t('a document opened with another backend fails with BACKEND_MISMATCH, both ways', () => {
    const a = create('a')
    a.change((w) => w.setRegister('k', entry(1, 'a.1', 1)))
    for (const other of ALL_BACKENDS) {
      if (other.name === backend.name) continue
      throwsCode(() => other.load(a.save(), rid('o')), 'BACKEND_MISMATCH', `${other.name}.load(${backend.name} bytes)`)
      const o = other.create(rid('o'))
      o.change((w) => w.setRegister('k', entry(1, 'o.1', 1)))
      throwsCode(() => backend.load(o.save(), rid('a')), 'BACKEND_MISMATCH', `${backend.name}.load(${other.name} bytes)`)
    }
  })

  t('garbage snapshots fail with CORRUPT_SNAPSHOT', () => {
    const a = create('a')
    a.change((w) => w.insertText('notes', 0, 'some text to make the body longer'))
    const saved = a.save()
    const garbage: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([1, 2, 3]),
      new Uint8Array(64).fill(7),
      saved.subarray(0, 5),
      saved.subarray(0, saved.length - 7),
      Uint8Array.from(saved, (x, i) => (i >= 5 ? (x * 31 + i) & 0xff : x)),
    ]
    for (const [i, g] of garbage.entries()) throwsCode(() => backend.load(g, rid('z')), 'CORRUPT_SNAPSHOT', `garbage[${i}]`)
  })

  t('a snapshot that refers to changes it does not contain fails with CORRUPT_SNAPSHOT', () => {
    const a = create('a')
    a.change((w) => w.insertText('notes', 0, 'first'))
    // The second change alone builds on the first: a well-formed body that is not a whole document.
    const second = a.change((w) => w.insertText('notes', 5, ' second'))
    throwsCode(() => backend.load(wrapSnapshot(backend.name, second), rid('z')), 'CORRUPT_SNAPSHOT', 'the second change alone')
  })

  t('version() is equal iff the same changes are applied', () => {
    const a = create('a')
    const b = create('b')
    assert.is(a.version(), b.version())
    const pa = a.change((w) => w.setRegister('k', entry(1, 'a.1', 1)))
    const pb = b.change((w) => w.addRecord('lines', 'l1', { id: 'l1' }))
    assert.is.not(a.version(), b.version())
    const x = create('x')
    const y = create('y')
    x.applyBatch([pa, pb])
    y.applyBatch([pb])
    assert.is.not(x.version(), y.version())
    y.applyBatch([pa])
    assert.is(x.version(), y.version())
    a.applyBatch([pb])
    assert.is(a.version(), x.version())
  })

  t('two replicas created independently share one skeleton: merging loses nothing', () => {
    const write = (d: CrdtDoc, me: string, t0: number) => d.change((w) => {
      w.init(`init-${me}`, { by: me })
      w.init('shared', 'same')
      w.setRegister(`reg-${me}`, entry(me, `${me}.1`, t0))
      w.setRegister('reg-both', entry(me, `${me}.1`, t0))
      for (const s of SET_NAMES) w.addRecord(s, `${s}-${me}`, { by: me })
      w.insertText('notes', 0, me)
      w.insertText(`text-${me}`, 0, me)
      w.tickClock(rid(me), 1)
    })
    const a = create('a')
    const b = create('b')
    const pa = write(a, 'a', 1)
    const pb = write(b, 'b', 2)
    a.applyBatch([pb])
    b.applyBatch([pa])
    for (const d of [a, b]) {
      const s = d.read()
      assert.equal(s.init.get('init-a'), { by: 'a' })
      assert.equal(s.init.get('init-b'), { by: 'b' })
      assert.is(s.init.get('shared'), 'same')
      assert.equal(values(d, 'reg-a'), ['a'])
      assert.equal(values(d, 'reg-b'), ['b'])
      assert.equal(values(d, 'reg-both'), ['a', 'b'])
      for (const n of SET_NAMES) assert.equal([...s.sets[n].keys()].sort(), [`${n}-a`, `${n}-b`], n)
      assert.is(s.texts.get('notes')!.length, 2)
      assert.ok(['ab', 'ba'].includes(s.texts.get('notes')!))
      assert.is(s.texts.get('text-a'), 'a')
      assert.is(s.texts.get('text-b'), 'b')
      assert.equal([...s.clock].sort(), [['a', 1], ['b', 1]])
    }
    assert.is(canonicalSnapshot(a.read()), canonicalSnapshot(b.read()))
    // And after a round trip through save/load, a third independent replica still merges.
    const c = create('c')
    const pc = write(c, 'c', 3)
    const a2 = backend.load(a.save(), rid('a'))
    a2.applyBatch([pc])
    c.applyBatch([pa, pb])
    assert.is(canonicalSnapshot(a2.read()), canonicalSnapshot(c.read()))
    assert.is(c.read().texts.get('notes')!.length, 3)
  })

  t('property: random ops on 2-4 replicas with random delivery converge', () => {
    check(
      fc.property(fc.integer({ min: 2, max: 4 }), fc.array(stepArb, { maxLength: 40 }), fc.boolean(), (n, steps, batchedEnd) => {
        const { docs, made } = playRun(backend, n, steps)
        for (const d of docs) {
          if (batchedEnd) d.applyBatch(made)
          else for (const p of made) d.applyBatch([p])
        }
        const first = canonicalSnapshot(docs[0]!.read())
        for (const d of docs) {
          assert.is(canonicalSnapshot(d.read()), first)
          assert.is(d.version(), docs[0]!.version())
        }
        // A fresh replica fed everything in reverse agrees too.
        const late = create('late')
        late.applyBatch([...made].reverse())
        assert.is(canonicalSnapshot(late.read()), first)
        for (const d of [...docs, late]) d.destroy()
      }),
      { numRuns: 60 },
    )
  })

  t('property: snapshot plus later payloads equals everything from scratch', () => {
    check(
      fc.property(fc.array(stepArb, { maxLength: 30 }), fc.nat(), (steps, cut) => {
        const { made } = playRun(backend, 3, steps)
        const k = made.length === 0 ? 0 : cut % (made.length + 1)
        const head = create('h')
        head.applyBatch(made.slice(0, k))
        const restored = backend.load(head.save(), rid('h'))
        restored.applyBatch(made.slice(k))
        const scratch = create('s')
        scratch.applyBatch(made)
        assert.is(canonicalSnapshot(restored.read()), canonicalSnapshot(scratch.read()))
        assert.is(restored.version(), scratch.version())
      }),
      { numRuns: 40 },
    )
  })

  t('viewAt, where a backend has it, equals replaying the same payloads', () => {
    const probe = create('probe')
    const hasView = typeof probe.viewAt === 'function'
    probe.destroy()
    if (!hasView) return
    check(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 30 }), fc.nat(), (steps, cut) => {
        const { made } = playRun(backend, 3, steps)
        const full = create('f')
        full.applyBatch(made)
        // Payloads are made in an order where each depends only on earlier ones: every prefix is causally closed.
        const k = cut % (made.length + 1)
        const past = full.viewAt!(made.slice(0, k))
        const replayed = create('r')
        replayed.applyBatch(made.slice(0, k))
        assert.is(canonicalSnapshot(past.read()), canonicalSnapshot(replayed.read()))
        assert.is(past.version(), replayed.version())
        // A view saves the past, not the present.
        assert.is(canonicalSnapshot(backend.load(past.save(), rid('v')).read()), canonicalSnapshot(replayed.read()))
        // And the live document is untouched by the view.
        const again = create('g')
        again.applyBatch(made)
        assert.is(canonicalSnapshot(full.read()), canonicalSnapshot(again.read()))
      }),
      { numRuns: 30 },
    )
  })

  return t
}
