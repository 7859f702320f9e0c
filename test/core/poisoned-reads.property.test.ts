/**
 * Reads that cannot be poisoned. A real purchase (lines, taxes, a receipt,
 * a bill, a payment, a concurrent supplier conflict) gets garbage written
 * straight into its document, as a raw Yjs client or a newer version could:
 * Yjs through the Y.Doc's own maps (`regs`, `set:<name>`, `init`, `clock`,
 * texts, foreign roots), Automerge through the DocWriter, which stores any
 * JSON. Each write is made on a fresh document of its own, so it is
 * concurrent with everything and supersedes nothing, and arrives as an
 * event like any other. Then reading, deriving, conflict detection, the
 * replica's views, history and stateAt must not throw; the purchase must
 * read exactly as before; every garbage value the snapshot holds must be
 * reported by invalidValues under its key; and commands must go on working.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import * as Y from 'yjs'
import {
  type Conflict, type CrdtBackend, type EventEnvelope, type EventId, type FieldChange, type InvalidValue, type Json, type LineId,
  type PurchaseDerived, type PurchaseReplica, type PurchaseState, type ReplicaId, PurchaseReplica as Replica, auditTrail, derivePurchase,
  encodeHlc, instantFromEpochMs, invalidValues, isConcordError,
} from '@concord/core'
import {
  type CrdtDoc, type DocSnapshot, type RegisterEntry, type SetName, type YjsDoc, SET_NAMES, canonicalJson, checkEntry, checkRecord,
  detectConflicts, flattenPurchase, hasPurchase, readPurchase, seededRandom,
} from '@concord/core/internal'
import { canonicalOf } from '../support/canonical.js'
import { BACKENDS } from '../support/backends.js'
import { SEED, check } from '../support/seed.js'
import { type Sim, makeReplica, replicaOptions } from '../support/replicas.js'

const RUNS = Number(process.env.POISON_RUNS ?? 40)
const ACTOR = 'x-poison' as ReplicaId
const CTX = { currencyExponent: 2 }

// ------------------------------------------------------------ the purchase

interface Base {
  readonly sim: Sim
  readonly events: readonly EventEnvelope[]
  readonly lines: readonly LineId[]
}

/** A purchase with some of everything, and an open CONCURRENT_GUARDED_WRITE from two devices. */
function basePurchase(backend: CrdtBackend): Base {
  const sim: Sim = { rng: seededRandom(SEED), time: 1_760_000_000_000 }
  const a = Replica.create(replicaOptions(sim, backend, 0), { currency: 'EUR', supplier: 'ACME', approvalThreshold: '100000', receiptTolerance: '10' })
  const tick = () => (sim.time += 1000)
  const l1 = a.addLine({ product: 'Widget', qty: '10', price: '12.5', taxes: [{ code: 'VAT', rate: '20' }] }).lineId
  tick()
  const l2 = a.addLine({ product: 'Gadget', description: 'Blue', qty: '3', price: '99', discount: '5', uom: 'box' }).lineId
  tick()
  a.setHeader('incoterm', 'FOB')
  a.editNotes(0, 0, 'Call first.')
  const b = makeReplica(sim, backend, 1, a.log.events())
  tick()
  a.setSupplier('Globex')
  b.setSupplier('Initech')
  a.receive(b.log.events())
  a.transition('send')
  tick()
  a.transition('confirm')
  a.recordReceipt({ line: l1, qty: '4', deliveryNote: 'DN-1' })
  tick()
  a.recordBill({ line: l1, qty: '2', ref: 'INV-1' })
  a.recordPayment({ amount: '10.00', ref: 'PAY-1' })
  assert.ok(a.conflicts().some((c) => c.kind === 'CONCURRENT_GUARDED_WRITE'), 'the base purchase has a conflict')
  const events = [...a.log.events()]
  a.log.doc.destroy()
  b.log.doc.destroy()
  return { sim, events, lines: [l1, l2] }
}

// ----------------------------------------------------------------- garbage

type Poison =
  | { readonly t: 'entry'; readonly key: string; readonly entry: unknown }
  /** Yjs only: a `regs` key of its own making (no separator, an odd event part). */
  | { readonly t: 'rawKey'; readonly full: string; readonly value: unknown }
  | { readonly t: 'record'; readonly set: SetName; readonly id: string; readonly record: unknown }
  | { readonly t: 'init'; readonly key: string; readonly value: unknown }
  | { readonly t: 'clock'; readonly replica: string; readonly n: unknown }
  | { readonly t: 'text'; readonly key: string; readonly text: string }
  /** Yjs only: roots Concord does not know. */
  | { readonly t: 'foreign' }

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constantFrom('banana', '1e9999', '-5', '', ' 3 ', '1,5', 'NaN', '0.0000001', '9'.repeat(40), `-${'9'.repeat(35)}`, 'x'.repeat(10_000), 'EURO', 'eur'),
  fc.string({ maxLength: 12 }),
  fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 4 })), { maxLength: 3 }),
  fc.constant({ amount: '-5', currency: 'EUR' }),
  fc.constant({ amount: '1e9999', currency: 'EUR' }),
  fc.constant({ amount: '12.5', currency: 'EUR', extra: true }),
  fc.constant({ amount: '12.5' }),
  fc.constant({ on: 'yes', code: 'VAT', name: 'VAT', rate: '20' }),
  fc.constant({ on: true, code: 'ECO', name: 'VAT', rate: '20' }),
  fc.constant({ on: true, code: 'VAT', name: 'VAT', rate: '101' }),
  fc.constant({ on: true, reason: 7 }),
  fc.constant({ a: { b: [1, 'x', { c: null }] } }),
)

const ulid = (n: number) => `01K${String(n).padStart(23, '0')}`

function keysOf(lines: readonly LineId[]): string[] {
  const line = lines.flatMap((l) => [
    ...['product', 'description', 'qty', 'price', 'discount', 'uom', 'sortKey', 'removed'].map((f) => `l.${l}.${f}`),
    `x.${l}.VAT`, `x.${l}.ECO`,
  ])
  const header = ['supplier', 'currency', 'fxRate', 'statedTotal', 'orderDate', 'requiredBy', 'paymentTerm', 'incoterm', 'buyer', 'supplierRef', 'hold', 'number']
  // Keys no register may have: unknown fields, a line id that is no ULID, a bad tax code, no namespace at all.
  const unknown = ['h.bogus', 'zz', 'l.NOTALINE.qty', `l.${lines[0]!}.bogus`, `x.${lines[0]!}.bad code!`, 'h.']
  return [...header.map((f) => `h.${f}`), ...line, ...unknown]
}

function entryArb(keys: readonly string[], n: number): fc.Arbitrary<Poison> {
  const ev = `${ACTOR}.${n}`
  const hlc = encodeHlc({ wall: 1_770_000_000_000 + n, counter: 0, replica: ACTOR })
  return fc.tuple(fc.constantFrom(...keys), junk, fc.nat({ max: 6 })).map(([key, value, shape]): Poison => {
    const fine = 'banana'
    const entry = [
      // A well-formed entry holding a value of the wrong type.
      { value, ev, hlc },
      { value: fine, ev: value, hlc },
      { value: fine, ev, hlc: value },
      { value, ev, hlc, by: 'someone', extra: value },
      { value: fine, ev, hlc, res: 'not-a-conflict' },
      { value: fine },
      // No entry at all.
      value,
    ][shape]
    return { t: 'entry', key, entry }
  })
}

function recordArb(base: DocSnapshot, n: number): fc.Arbitrary<Poison> {
  const id = ulid(n)
  return fc.tuple(fc.constantFrom(...SET_NAMES), junk, fc.nat({ max: 4 }), fc.nat({ max: 20 })).map(([set, value, shape, pick]): Poison => {
    const existing = [...base.sets[set].values()]
    const model = existing.length > 0 ? (existing[pick % existing.length] as Record<string, Json>) : { id, ev: 'x.1' }
    const fields = Object.keys(model)
    const field = fields[pick % fields.length]!
    const record = [
      value,
      // A real record under a new id, one field replaced by garbage.
      { ...model, id, [field]: value },
      { ...model, id, extra: value },
      // A real record whose id is not its key.
      { ...model },
      { ...model, id, qty: '-1', amount: '-500', date: '2026-13-45' },
    ][shape]
    return { t: 'record', set, id, record }
  })
}

const poisonArb = (base: DocSnapshot, keys: readonly string[], yjs: boolean) => (n: number): fc.Arbitrary<Poison> => fc.oneof(
  { weight: 6, arbitrary: entryArb(keys, n) },
  { weight: 4, arbitrary: recordArb(base, n) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('future', 'schemaVersion', 'constructor'), junk).map(([key, value]): Poison => ({ t: 'init', key, value })) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.tuple(fc.constantFrom('bad name', '', 'x'.repeat(70), 'ünï'), fc.nat()).map(([replica, n]): Poison => ({ t: 'clock', replica, n })),
      fc.constantFrom<unknown>(-1, 1.5, 2 ** 60, 'banana', null, { n: 1 }).map((n): Poison => ({ t: 'clock', replica: 'x-clock', n })),
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom('foreign', 'description.x', 'constructor').map((key): Poison => ({ t: 'text', key, text: 'not a text of a purchase' })) },
  ...(yjs
    ? [
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('nosep', `h.supplier\u0000`, `h.buyer\u0000\u0000x`, '\u0000'), junk).map(([full, value]): Poison => ({ t: 'rawKey', full, value })) },
      { weight: 1, arbitrary: fc.constant<Poison>({ t: 'foreign' }) },
    ]
    : []),
)

function poisonsArb(base: DocSnapshot, keys: readonly string[], yjs: boolean): fc.Arbitrary<Poison[]> {
  return fc.integer({ min: 1, max: 8 }).chain((k) => fc.tuple(...Array.from({ length: k }, (_, i) => poisonArb(base, keys, yjs)(i + 1))))
}

/** Whether a poison is garbage at all: a generated value can happen to be valid for where it goes. */
function isGarbage(p: Poison): boolean {
  if (p.t === 'entry') return checkEntry(p.key, p.entry, CTX) !== undefined
  if (p.t === 'record') return checkRecord(p.set, p.id, p.record) !== undefined
  return true
}

/** One payload writing `p`, made on a fresh document: concurrent with everything, superseding nothing. Undefined when the writer refuses it. */
function payloadOf(backend: CrdtBackend, p: Poison, n: number): Uint8Array | undefined {
  // A document (Yjs client, Automerge actor) per write: two fresh ones of one actor would both make its first change.
  const doc = backend.create(`${ACTOR}-${n}` as ReplicaId)
  try {
    if (backend.name === 'yjs') return rawYjs((doc as YjsDoc).ydoc, p, n)
    return doc.change((w) => {
      switch (p.t) {
        case 'entry': w.setRegister(p.key, p.entry as RegisterEntry); break
        case 'record': w.addRecord(p.set, p.id, p.record as Json); break
        case 'init': w.init(p.key, p.value as Json); break
        case 'clock': w.tickClock(p.replica as ReplicaId, p.n as number); break
        case 'text': w.insertText(p.key, 0, p.text); break
        default: break
      }
    })
  } catch (e) {
    // The writer may refuse what is not JSON or not a counter: nothing reaches the document then.
    if (isConcordError(e) || e instanceof Error) return undefined
    throw e
  } finally {
    doc.destroy()
  }
}

function rawYjs(ydoc: Y.Doc, p: Poison, n: number): Uint8Array | undefined {
  let update: Uint8Array | undefined
  ydoc.on('update', (u: Uint8Array) => (update = u))
  ydoc.transact(() => {
    switch (p.t) {
      case 'entry': {
        const e = p.entry as { ev?: unknown } | null
        const ev = typeof e === 'object' && e !== null && typeof e.ev === 'string' ? e.ev : `${ACTOR}.${n}`
        ydoc.getMap('regs').set(`${p.key}\u0000${ev}`, p.entry)
        break
      }
      case 'rawKey': ydoc.getMap('regs').set(p.full, p.value); break
      case 'record': ydoc.getMap(`set:${p.set}`).set(p.id, p.record); break
      case 'init': ydoc.getMap('init').set(p.key, p.value); break
      case 'clock': ydoc.getMap('clock').set(p.replica, p.n); break
      case 'text': ydoc.getText(`t:${p.key}`).insert(0, p.text); break
      case 'foreign':
        ydoc.getMap('foreign').set('a', { deep: [1, { x: null }] })
        ydoc.getArray('list').push([1, 'two', null])
        ydoc.getText('plain').insert(0, 'hello')
        break
    }
  })
  return update
}

function envelope(r: PurchaseReplica, payload: Uint8Array, at: number): EventEnvelope {
  const seq = r.log.seqOf(ACTOR) + 1
  return {
    id: `${ACTOR}.${seq}` as EventId, docId: r.docId, actor: ACTOR, seq, hlc: encodeHlc({ wall: at, counter: seq, replica: ACTOR }),
    deps: r.log.heads(), kind: r.log.backend.name === 'yjs' ? 'yjs.update' : 'raw.write', backend: r.log.backend.name, payload,
    meta: { at: instantFromEpochMs(at), priority: 'normal' },
  }
}

// ---------------------------------------------------------------- checks


/** Everything a reader sees but the raw registers and the clock (which hold the garbage). */
function print(state: PurchaseState, derived: PurchaseDerived, conflicts: readonly Conflict[]): string {
  const { registers: _r, clock: _c, ...rest } = state
  return canonicalOf({ state: rest, derived: { ...derived, lifecycle: derived.lifecycle.state }, conflicts })
}

function fromScratch(snap: DocSnapshot): string {
  const state = readPurchase(snap)
  const derived = derivePurchase(state)
  return print(state, derived, detectConflicts({ state, derived }))
}

const registersPrint = (state: PurchaseState) =>
  canonicalJson([...state.registers].sort(([a], [b]) => (a < b ? -1 : 1)) as never)

/** The trail as a plain comparison of whole flattened states makes it, event by event. */
function referenceTrail(backend: CrdtBackend, events: readonly EventEnvelope[]): FieldChange[][] {
  const doc = backend.create('reference' as ReplicaId)
  try {
    let before = new Map<string, string>()
    return events.map((e) => {
      doc.applyBatch([e.payload])
      const snap = doc.read()
      const after = hasPurchase(snap) ? flattenPurchase(readPurchase(snap)) : new Map<string, string>()
      const changes: FieldChange[] = []
      for (const [k, v] of after) if (before.get(k) !== v) changes.push({ field: k, from: before.get(k) ?? null, to: v })
      for (const [k, v] of before) if (!after.has(k)) changes.push({ field: k, from: v, to: null })
      before = after
      return changes
    })
  } finally {
    doc.destroy()
  }
}

/** Where invalidValues must name a poison, if the snapshot holds it (a backend may drop what is no entry at all). */
function expectedReport(p: Poison, before: DocSnapshot, snap: DocSnapshot): Pick<InvalidValue, 'part' | 'key'> | undefined {
  switch (p.t) {
    case 'entry': {
      // By value: a backend may re-read a register's old entries as new objects.
      const had = new Set((before.registers.get(p.key) ?? []).map((e) => canonicalJson(e)))
      const now = snap.registers.get(p.key) ?? []
      return now.some((e) => !had.has(canonicalJson(e))) ? { part: 'register', key: p.key } : undefined
    }
    case 'record': {
      const r = snap.sets[p.set].get(p.id)
      return r !== undefined && checkRecord(p.set, p.id, r) !== undefined ? { part: 'record', key: `${p.set}/${p.id}` } : undefined
    }
    case 'init': return snap.init.has(p.key) ? { part: 'init', key: p.key } : undefined
    case 'clock': {
      const n = snap.clock.get(p.replica as ReplicaId) as unknown
      return n !== undefined && canonicalJson(n) === canonicalJson(p.n) ? { part: 'clock', key: p.replica } : undefined
    }
    case 'text': return snap.texts.has(p.key) ? { part: 'text', key: p.key } : undefined
    default: return undefined
  }
}

const reportPrint = (report: readonly InvalidValue[]) => report.map((v) => `${v.part} ${v.key}: ${v.reason}`).join('\n')

function loadCopy(doc: CrdtDoc, backend: CrdtBackend): CrdtDoc {
  return backend.load(doc.save(), 'fresh-copy' as ReplicaId)
}

function assertSameAsScratch(r: PurchaseReplica, what: string): void {
  const snap = r.log.doc.read()
  assert.is(print(r.state(), r.derived(), r.conflicts()), fromScratch(snap), `${what}: the replica's incremental view equals a from-scratch read`)
  assert.is(registersPrint(r.state()), registersPrint(readPurchase(snap)), `${what}: incremental registers equal from-scratch ones`)
  // The report patched from the previous snapshot's equals one made from nothing.
  const copy = loadCopy(r.log.doc, r.log.backend)
  try {
    const patched = reportPrint(invalidValues(snap))
    const fresh = reportPrint(invalidValues(copy.read()))
    assert.ok(patched === fresh, `${what}: the patched report equals a fresh one:\n${patched.slice(0, 1500)}\n  vs\n${fresh.slice(0, 1500)}`)
  } finally {
    copy.destroy()
  }
}

// ------------------------------------------------------------------ tests

for (const backend of BACKENDS) {
  const base = basePurchase(backend)
  const keys = keysOf(base.lines)
  const baseDoc = backend.create('base-reader' as ReplicaId)
  baseDoc.applyBatch(base.events.map((e) => e.payload))
  const baseSnap = baseDoc.read()

  test(`[${backend.name}] the base purchase holds nothing the schema refuses`, () => {
    assert.equal(invalidValues(baseSnap), [])
  })

  test(`[${backend.name}] garbage in the document reads as absent, is reported under its key, and breaks nothing (${RUNS} runs)`, () => {
    let reported = 0
    let garbage = 0
    check(
      fc.property(poisonsArb(baseSnap, keys, backend.name === 'yjs'), (candidates) => {
        const poisons = candidates.filter(isGarbage)
        const sim: Sim = { rng: seededRandom(SEED + 1), time: base.sim.time + 60_000 }
        const r = Replica.fromEvents(replicaOptions(sim, backend, 0), base.events)
        try {
          const before = print(r.state(), r.derived(), r.conflicts())
          const beforeSnap = r.log.doc.read()
          const beforeFlat = flattenPurchase(r.state())
          const sent: EventId[] = []
          poisons.forEach((p, i) => {
            const payload = payloadOf(backend, p, i + 1)
            if (payload === undefined) return
            const e = envelope(r, payload, sim.time + i)
            const result = r.receive([e])
            assert.equal(result.rejected.map((x) => x.error.message), [], 'the log takes the event')
            sent.push(e.id)
          })
          const snap = r.log.doc.read()

          // Nothing throws, and the purchase reads as it did.
          const state = readPurchase(snap)
          const derived = derivePurchase(state)
          detectConflicts({ state, derived })
          assert.is(print(r.state(), r.derived(), r.conflicts()), before, 'the replica reads the purchase as before')
          assert.is(fromScratch(snap), before, 'a from-scratch read reads the purchase as before')
          assert.equal(flattenPurchase(state), beforeFlat)
          const copy = loadCopy(r.log.doc, backend)
          try {
            assert.is(fromScratch(copy.read()), before, 'so does a freshly loaded copy')
            // The report does not depend on how the snapshot was read: same order on a copy sharing no object.
            assert.is(reportPrint(invalidValues(copy.read())), reportPrint(invalidValues(snap)), 'the report is the same on a fresh copy')
          } finally {
            copy.destroy()
          }

          // The detectors never see an entry the schema refuses.
          for (const [key, entries] of state.registers) {
            for (const e of entries) assert.is(checkEntry(key, e, CTX), undefined, `state.registers holds a refused entry under ${key}`)
          }
          assert.ok([...state.clock].every(([, n]) => Number.isSafeInteger(n) && n >= 0), 'the clock holds counters only')

          // Every garbage value the snapshot holds is reported under its key.
          const report = invalidValues(snap)
          assert.is(invalidValues(snap), report, 'the report is cached per snapshot')
          for (const p of poisons) {
            const want = expectedReport(p, beforeSnap, snap)
            if (want === undefined) continue
            garbage++
            assert.ok(report.some((v) => v.part === want.part && v.key === want.key), `${want.part} ${want.key} is reported (${canonicalOf(p).slice(0, 200)})`)
            reported++
          }
          for (const v of report) assert.ok(v.reason.length > 0 && v.reason.length < 400, 'a reason is a short sentence')

          // History: every poison event changed nothing a reader sees, and the trail is the whole-state comparison's.
          const trail = r.history()
          for (const id of sent) assert.equal(trail.find((t) => t.event === id)?.changes, [], `${id} changed nothing`)
          assert.equal(trail.map((t) => t.changes), referenceTrail(backend, r.log.events()))
          assert.equal(auditTrail(backend, r.log.events()).map((t) => t.changes), trail.map((t) => t.changes))
          if (sent.length > 0) {
            assert.is(fromScratchState(r.stateAt({ event: sent[sent.length - 1]! })), fromScratchState(r.state()), 'stateAt the last poison is the purchase')
            r.stateAt({ hlc: encodeHlc({ wall: sim.time + 10_000, counter: 0, replica: ACTOR }) })
          }

          // Commands go on working, on registers holding garbage too, and the incremental views stay exact.
          assertSameAsScratch(r, 'after the garbage')
          sim.time += 100_000
          const [l1, l2] = base.lines as [LineId, LineId]
          r.updateLine(l1, { qty: '12' })
          assertSameAsScratch(r, 'after updateLine')
          r.setLineTax(l2, { code: 'ECO', rate: '1' }, true)
          r.setHeader('buyer', 'Ann')
          assertSameAsScratch(r, 'after setLineTax and setHeader')
          const { lineId } = r.addLine({ product: 'Bolt', qty: '100', price: '0.1' })
          r.recordReceipt({ line: lineId, qty: '100', deliveryNote: 'DN-9' })
          assertSameAsScratch(r, 'after addLine and recordReceipt')
          // What this replica wrote is valid: the report still names the poisons only.
          const after = invalidValues(r.log.doc.read())
          for (const v of after) assert.ok(report.some((w) => w.part === v.part && w.key === v.key), `a command wrote something refused: ${v.part} ${v.key}: ${v.reason}`)
        } finally {
          r.log.doc.destroy()
        }
      }),
      { numRuns: RUNS },
    )
    assert.ok(garbage > RUNS, `only ${garbage} garbage values reached a snapshot`)
    assert.is(reported, garbage)
  })

  test(`[${backend.name}] settings the schema refuses: no purchase to read, reported, and nothing throws`, () => {
    const sim: Sim = { rng: seededRandom(SEED + 2), time: base.sim.time + 60_000 }
    const doc = backend.create('settings-reader' as ReplicaId)
    try {
      // A document whose first event set settings nothing can read (a newer version's, say).
      const w = backend.create(ACTOR)
      const payload = w.change((x) => x.init('settings', { id: 'PO-1', backend: backend.name, currencyExponent: 9, future: true }))
      w.destroy()
      doc.applyBatch([payload])
      const snap = doc.read()
      assert.is(hasPurchase(snap), false)
      try {
        readPurchase(snap)
        assert.unreachable('readPurchase reads invalid settings')
      } catch (e) {
        assert.ok(isConcordError(e) && e.code === 'DOC_NOT_CREATED', String(e))
      }
      assert.equal(invalidValues(snap).map((v) => [v.part, v.key]), [['settings', 'settings']])
      assert.equal(auditTrail(backend, [{ ...envelope(Replica.empty(replicaOptions(sim, backend, 5)), payload, sim.time) }]).map((t) => t.changes), [[]])
    } finally {
      doc.destroy()
    }
  })

  test(`[${backend.name}] a text over its bound reads as empty and is reported`, () => {
    const sim: Sim = { rng: seededRandom(SEED + 3), time: base.sim.time + 60_000 }
    const r = Replica.fromEvents(replicaOptions(sim, backend, 0), base.events)
    try {
      const w = backend.create(ACTOR)
      // Two concurrent edits can each be within the bound and merge past it.
      const payload = w.change((x) => x.insertText('notes', 0, 'n'.repeat(100_001)))
      w.destroy()
      r.receive([envelope(r, payload, sim.time)])
      assert.is(r.state().notes, '')
      assert.equal(invalidValues(r.log.doc.read()).map((v) => [v.part, v.key]), [['text', 'notes']])
      assert.is(r.history().at(-1)!.changes.map((c) => c.field).join(), 'notes')
    } finally {
      r.log.doc.destroy()
    }
  })
}

function fromScratchState(state: PurchaseState): string {
  const derived = derivePurchase(state)
  return print(state, derived, detectConflicts({ state, derived }))
}

if (BACKENDS.some((b) => b.name === 'yjs')) {
  test('[yjs] a null register entry written by a raw Yjs client reads as absent', () => {
    const backend = BACKENDS.find((b) => b.name === 'yjs')!
    const base = basePurchase(backend)
    const sim: Sim = { rng: seededRandom(SEED + 4), time: base.sim.time + 60_000 }
    const r = Replica.fromEvents(replicaOptions(sim, backend, 0), base.events)
    try {
      const before = print(r.state(), r.derived(), r.conflicts())
      const fresh = new Y.Doc()
      let update: Uint8Array | undefined
      fresh.on('update', (u: Uint8Array) => (update = u))
      fresh.transact(() => {
        fresh.getMap('regs').set(`h.supplier\u0000${ACTOR}.1`, null)
        fresh.getMap('regs').set(`l.${base.lines[0]!}.qty\u0000${ACTOR}.1`, null)
      })
      fresh.destroy()
      r.receive([envelope(r, update!, sim.time)])
      assert.is(print(r.state(), r.derived(), r.conflicts()), before)
      assert.is(fromScratch(r.log.doc.read()), before)
      r.history()
      // The backend may skip a null entry before the reader sees it; if it hands it over, it is reported.
      const inSnapshot = (r.log.doc.read().registers.get('h.supplier') ?? []).length > 2
      if (inSnapshot) assert.ok(invalidValues(r.log.doc.read()).some((v) => v.key === 'h.supplier'))
      r.setHeader('buyer', 'Ann')
      assertSameAsScratch(r, 'after a command')
    } finally {
      r.log.doc.destroy()
    }
  })
}

test.run()
