/**
 * Valid but extreme: every value here passes the schema (invalidValues says
 * so), and reading, deriving, conflict detection and history must neither
 * throw nor run away on them: the largest quantities, prices and minor
 * amounts the bounds allow, dozens of 100% taxes, 128-character sort keys,
 * HLCs at the end of their range, 10,000 look-alike lines (2,000 on
 * Automerge, whose writes of that many take long), thousands of
 * contradictory transitions, deferrals of one conflict, duplicate receipts.
 * The documents are written straight through the DocWriter, as a raw client
 * could.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  type CreatePurchaseInput, type CrdtBackend, type Hlc, type Json, type LineId, type PurchaseReplica, type ReplicaId,
  PurchaseReplica as Replica, derivePurchase, encodeHlc, invalidValues,
} from '@concord/core'
import { type DocWriter, detectConflicts, detectViolations, readPurchase, seededRandom } from '@concord/core/internal'
import { BACKENDS } from '../support/backends.js'
import { SEED, check } from '../support/seed.js'
import { type Sim, replicaOptions } from '../support/replicas.js'

const T0 = 1_760_000_000_000
const FAR = '999999999999999-999999-zz' as Hlc
const FAR_AT = '9999-12-31T23:59:59.999Z'
const id = (n: number, prefix = '01K') => `${prefix}${String(n).padStart(26 - prefix.length, '0')}`

/** Well past what a linear pass takes on a loaded machine, far below what a quadratic one takes. */
const BUDGET_MS = 15_000

function purchase(backend: CrdtBackend, init: CreatePurchaseInput = { currency: 'EUR', supplier: 'ACME', approvalThreshold: '1000' }): PurchaseReplica {
  const sim: Sim = { rng: seededRandom(SEED), time: T0 }
  return Replica.create(replicaOptions(sim, backend, 0), init)
}

function stamp(replica: string, seq: number, wall = T0 + seq, hlc?: Hlc) {
  return { ev: `${replica}.${seq}`, hlc: hlc ?? encodeHlc({ wall, counter: 0, replica: replica as ReplicaId }), by: 'raw', dev: 'raw', at: new Date(wall).toISOString() }
}

function entry(value: Json, replica: string, seq: number, hlc?: Hlc) {
  const { ev, hlc: h } = stamp(replica, seq, T0 + seq, hlc)
  return { value, ev, hlc: h } as never
}

function addLine(w: DocWriter, line: string, replica: string, seq: number, fields: { product: string; qty: string; price: string; sortKey?: string }, vv: Record<string, number> = {}) {
  w.addRecord('lines', line, { id: line, kind: 'goods', vv, ...stamp(replica, seq) } as never)
  w.setRegister(`l.${line}.product`, entry(fields.product, replica, seq))
  w.setRegister(`l.${line}.qty`, entry(fields.qty, replica, seq))
  w.setRegister(`l.${line}.price`, entry({ amount: fields.price, currency: 'EUR' }, replica, seq))
  if (fields.sortKey !== undefined) w.setRegister(`l.${line}.sortKey`, entry(fields.sortKey, replica, seq))
}

/** Runs `fn`, failing if it throws or takes longer than the budget. */
function timed<T>(what: string, fn: () => T): T {
  const t0 = performance.now()
  const out = fn()
  const ms = performance.now() - t0
  assert.ok(ms < BUDGET_MS, `${what} took ${ms.toFixed(0)} ms`)
  return out
}

function readAll(r: PurchaseReplica, what: string) {
  return timed(what, () => {
    const state = r.state()
    const derived = r.derived()
    const conflicts = r.conflicts()
    // And once from scratch, sharing nothing with the replica's incremental view.
    const fresh = readPurchase(r.log.doc.read())
    detectConflicts({ state: fresh, derived: derivePurchase(fresh) })
    return { state, derived, conflicts }
  })
}

for (const backend of BACKENDS) {
  for (const init of [
    { currency: 'EUR', supplier: 'ACME', approvalThreshold: '1000' },
    { currency: 'EUR', supplier: 'ACME', approvalThreshold: null, taxMode: 'INCLUSIVE', rounding: { mode: 'HALF_EVEN', tax: 'GLOBAL' } },
  ] satisfies CreatePurchaseInput[]) {
    test(`[${backend.name}] the largest values the schema allows (${init.taxMode ?? 'EXCLUSIVE'})`, () => {
      const r = purchase(backend, init)
      const line = id(1)
      r.log.doc.change((w) => {
        addLine(w, line, 'raw', 1, { product: 'p'.repeat(200), qty: '999999999.9999', price: '999999999999.999999', sortKey: 'z'.repeat(128) })
        w.setRegister(`l.${line}.discount`, entry('0.0001', 'raw', 2))
        for (let t = 0; t < 40; t++) w.setRegister(`x.${line}.T${t}`, entry({ on: true, code: `T${t}`, name: 'n'.repeat(200), rate: '100' }, 'raw', 3))
        // The end of the HLC's range, on a register and on records.
        w.setRegister('h.buyer', entry('b'.repeat(200), 'raw', 4, FAR))
        w.setRegister('h.statedTotal', entry('9'.repeat(30), 'raw', 5))
        w.addRecord('transitions', id(2), { id: id(2), action: 'force', to: 'confirmed', vv: {}, ...stamp('raw', 6) } as never)
        w.addRecord('receipts', id(3), { id: id(3), line, qty: '999999999.9999', product: 'p', deliveryNote: 'd'.repeat(100), date: '9999-12-31', ...stamp('raw', 7, T0, FAR), at: FAR_AT } as never)
        w.addRecord('bills', id(4), { id: id(4), line, qty: '999999999.9999', ref: 'r', date: '0001-01-01', ...stamp('raw', 8) } as never)
        for (let p = 0; p < 5; p++) w.addRecord('payments', id(10 + p), { id: id(10 + p), amount: '9'.repeat(30), ref: 'x', date: '2026-01-01', ...stamp('raw', 20 + p) } as never)
        w.addRecord('refunds', id(20), { id: id(20), amount: '9'.repeat(30), ref: 'x', date: '2026-01-01', ...stamp('raw', 30) } as never)
      })
      assert.equal(invalidValues(r.log.doc.read()), [], 'every value is valid')
      const { state, derived, conflicts } = readAll(r, 'reading the largest values')
      assert.is(state.lines[0]!.taxes.length, 40)
      assert.is(typeof derived.totals.total, 'bigint')
      assert.ok(derived.totals.total > 10n ** 20n, `total ${derived.totals.total}`)
      // The HLC's largest wall clock is in the year 33658: past Date's range, within Temporal's.
      assert.ok(derived.updatedAt?.startsWith('+033658-'), String(derived.updatedAt))
      assert.ok(conflicts.some((c) => c.kind === 'TOTAL_MISMATCH'), 'the stated total is not the computed one')
      assert.ok(conflicts.some((c) => c.kind === 'OVERPAYMENT'))
      timed('history', () => r.history())
      // And commands still work on it.
      r.setHeader('incoterm', 'FOB')
      readAll(r, 'reading after a command')
    })
  }

  // Automerge takes tens of seconds to write 40,000 registers in one change: fewer lines there, still far past a quadratic pass.
  const many = backend.name === 'automerge' ? 2_000 : 10_000

  test(`[${backend.name}] ${many} look-alike lines, all added concurrently`, () => {
    const r = purchase(backend)
    const lines: LineId[] = []
    r.log.doc.change((w) => {
      for (let i = 0; i < many; i++) {
        const line = id(i + 1)
        lines.push(line as LineId)
        // Each from a device of its own that had seen nothing: every pair is concurrent.
        addLine(w, line, `d${i}`, 1, { product: 'Bolt', qty: '1', price: '0.1', sortKey: `a${i.toString(36)}` })
      }
    })
    const { state, conflicts } = readAll(r, `reading ${many} concurrent look-alike lines`)
    assert.is(state.lines.length, many)
    const dups = conflicts.filter((c) => c.kind === 'POSSIBLE_DUPLICATE_LINE')
    assert.ok(dups.length > 0 && dups.length <= 256, `${dups.length} duplicate pairs reported`)
    // Edits of the group are detected incrementally, and the queue stays the one a from-scratch pass builds.
    for (const at of [0, 3, many / 2, many - 1]) {
      r.log.doc.change((w) => w.setRegister(`l.${lines[at]!}.qty`, entry('2', `e${at}`, 1)))
      const after = readAll(r, 'reading after an edit')
      const fresh = readPurchase(r.log.doc.read())
      assert.equal(after.conflicts.map((c) => c.id), detectConflicts({ state: fresh, derived: derivePurchase(fresh) }).map((c) => c.id))
    }
    // A command elsewhere goes through.
    timed('a command', () => r.addLine({ product: 'Nut', qty: '1', price: '1' }))
  })

  test(`[${backend.name}] ${many} look-alike lines, added one after another`, () => {
    const r = purchase(backend)
    r.log.doc.change((w) => {
      for (let i = 0; i < many; i++) addLine(w, id(i + 1), 'bulk', i + 1, { product: 'Bolt', qty: '1', price: '0.1' }, { bulk: i })
    })
    const { conflicts } = readAll(r, `reading ${many} sequential look-alike lines`)
    assert.is(conflicts.filter((c) => c.kind === 'POSSIBLE_DUPLICATE_LINE').length, 0)
  })

  test(`[${backend.name}] thousands of contradictory transitions, deferrals and duplicate receipts`, () => {
    const r = purchase(backend)
    const line = id(1)
    const n = 1_500
    r.log.doc.change((w) => {
      addLine(w, line, 'raw', 1, { product: 'Widget', qty: '5', price: '1' })
      for (let i = 0; i < n; i++) {
        // Every confirm concurrent with every cancel.
        w.addRecord('transitions', id(10 + i), { id: id(10 + i), action: i % 2 ? 'confirm' : 'cancel', vv: {}, ...stamp(`t${i}`, 1) } as never)
        w.addRecord('resolutions', id(10_000 + i), {
          id: id(10_000 + i), conflict: `c_${'0'.repeat(26)}`, kind: 'OVER_RECEIPT', option: 'defer', params: {}, note: '', vv: {}, ...stamp(`s${i}`, 1),
        } as never)
        w.addRecord('receipts', id(20_000 + i), { id: id(20_000 + i), line, qty: '1', product: 'Widget', deliveryNote: 'DN-1', date: '2026-01-01', ...stamp(`u${i}`, 1) } as never)
      }
    })
    assert.equal(invalidValues(r.log.doc.read()), [])
    const { conflicts } = readAll(r, 'detecting on thousands of records')
    assert.ok(conflicts.some((c) => c.kind === 'CONTRADICTORY_TRANSITIONS'))
    assert.is(conflicts.filter((c) => c.kind === 'DUPLICATE_RECEIPT').length, 1)
    // One transition that saw them all settles every pair: the worst case for the settling scan.
    r.log.doc.change((w) => {
      const vv = Object.fromEntries(Array.from({ length: n }, (_, i) => [`t${i}`, 1]))
      w.addRecord('transitions', id(9), { id: id(9), action: 'reset', vv, ...stamp('z', 1, T0 + 10_000) } as never)
    })
    readAll(r, 'detecting with a settling transition')
  })
}

/** Concurrency as records define it, restated: neither author had counted the other's event. */
function concurrentPairs(lines: readonly { readonly id: string; readonly created: { readonly ev: string; readonly vv: Record<string, number> } }[]): string[] {
  const saw = (vv: Record<string, number>, ev: string) => (vv[ev.slice(0, ev.lastIndexOf('.'))] ?? 0) >= Number(ev.slice(ev.lastIndexOf('.') + 1))
  const out: string[] = []
  for (const a of lines) {
    for (const b of lines) {
      if (a.id < b.id && a.created.ev !== b.created.ev && !saw(a.created.vv, b.created.ev) && !saw(b.created.vv, a.created.ev)) out.push(`${a.id}:${b.id}`)
    }
  }
  return out.sort()
}

const pairOf = (subject: string) => {
  const [, x, y] = subject.split(':') as [string, string, string]
  return x < y ? `${x}:${y}` : `${y}:${x}`
}

test('look-alike pairs are exactly the concurrent pairs, whatever the clocks', () => {
  const backend = BACKENDS[0]!
  const lineArb = fc.record({ replica: fc.constantFrom('a', 'b', 'c'), seq: fc.integer({ min: 1, max: 6 }), wall: fc.integer({ min: 0, max: 5 }), vv: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 6 })) })
  check(fc.property(fc.array(lineArb, { minLength: 2, maxLength: 12 }), (specs) => {
    const r = purchase(backend)
    try {
      r.log.doc.change((w) => specs.forEach((x, i) => {
        const line = id(i + 1)
        const hlc = encodeHlc({ wall: T0 + x.wall, counter: 0, replica: x.replica as ReplicaId })
        w.addRecord('lines', line, { id: line, kind: 'goods', vv: x.vv, ev: `${x.replica}.${x.seq}`, hlc, by: '', dev: '', at: new Date(T0).toISOString() } as never)
        w.setRegister(`l.${line}.product`, entry('Bolt', 'w', i + 1))
        w.setRegister(`l.${line}.qty`, entry('1', 'w', i + 1))
        w.setRegister(`l.${line}.price`, entry({ amount: '1', currency: 'EUR' }, 'w', i + 1))
      }))
      const state = readPurchase(r.log.doc.read())
      const found = detectViolations({ state, derived: derivePurchase(state) }).filter((c) => c.kind === 'POSSIBLE_DUPLICATE_LINE').map((c) => pairOf(c.subject)).sort()
      assert.equal(found, concurrentPairs(state.lines))
    } finally {
      r.log.doc.destroy()
    }
  }), { numRuns: 100 })
})

test.run()
