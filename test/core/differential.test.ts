/**
 * Differential test: the same seeded single-device command script, run on a
 * purchase stored in Yjs and on one stored in Automerge, gives the same
 * outcome for every command (done, or refused with the same code) and the
 * same business state: purchase, derived totals and statuses, lines, records,
 * lifecycle, conflict queue, events (ids, HLCs, deps, kinds, meta) and audit
 * trail. Only what names the backend (settings.backend, envelope.backend) and
 * the payload bytes may differ. Rebuilding each from its own events agrees.
 */
import fc from 'fast-check'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  type CrdtBackend, type LineId, type PurchaseReplica as Replica, type RecordId, type ReplicaId, type TransitionAction, type VoidableSet, ALL_BACKENDS, auditTrail, createUlidFactory, formatMinor, HEADER_FIELDS, isConcordError, parsePurchaseId, PurchaseReplica,
} from '@concord/core'
import { seededRandom } from '@concord/core/internal'
import { canonicalOf } from '../support/canonical.js'
import { SEED, check } from '../support/seed.js'

const DOC = parsePurchaseId('01J0000000000000000000PO77')
const PRODUCTS = ['Widget', 'Gadget', 'Bolt M6', 'Cable 2m', 'Install service']

type Cmd =
  | { c: 'add'; service: boolean; product: number; qty: number; cents: number; tax: boolean; after: number | null }
  | { c: 'update'; line: number; qty: number | null; cents: number | null; description: string | null }
  | { c: 'move'; line: number; after: number | null }
  | { c: 'remove'; line: number }
  | { c: 'restore'; line: number }
  | { c: 'tax'; line: number; on: boolean; rate: number }
  | { c: 'transition'; action: Exclude<TransitionAction, 'force'> }
  | { c: 'receipt'; line: number; qty: number; note: number }
  | { c: 'return'; line: number; qty: number }
  | { c: 'bill'; line: number; qty: number; ref: number }
  | { c: 'payment'; percent: number }
  | { c: 'refund'; percent: number }
  | { c: 'void'; set: VoidableSet; index: number }
  | { c: 'notes'; at: number; remove: number; text: string }
  | { c: 'header'; field: number; value: string }
  | { c: 'supplier'; name: string }
  | { c: 'hold'; on: boolean }
  | { c: 'stated' }
  | { c: 'number'; n: number }

const small = fc.integer({ min: 0, max: 20 })
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ c: fc.constant('add' as const), service: fc.boolean(), product: fc.nat(4), qty: fc.integer({ min: 1, max: 12 }), cents: fc.integer({ min: 1, max: 50000 }), tax: fc.boolean(), after: fc.option(small, { nil: null }) }) },
  { weight: 3, arbitrary: fc.record({ c: fc.constant('update' as const), line: small, qty: fc.option(fc.integer({ min: 1, max: 15 }), { nil: null }), cents: fc.option(fc.integer({ min: 1, max: 50000 }), { nil: null }), description: fc.option(fc.string({ maxLength: 12 }), { nil: null }) }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('move' as const), line: small, after: fc.option(small, { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('remove' as const), line: small }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('restore' as const), line: small }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('tax' as const), line: small, on: fc.boolean(), rate: fc.constantFrom(0, 7, 19, 20) }) },
  { weight: 5, arbitrary: fc.record({ c: fc.constant('transition' as const), action: fc.constantFrom<Exclude<TransitionAction, 'force'>>('send', 'confirm', 'confirm', 'confirm', 'submit', 'approve', 'reject', 'lock', 'unlock', 'close', 'reopen', 'cancel', 'reset') }) },
  { weight: 5, arbitrary: fc.record({ c: fc.constant('receipt' as const), line: small, qty: fc.integer({ min: 1, max: 6 }), note: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('return' as const), line: small, qty: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ c: fc.constant('bill' as const), line: small, qty: fc.integer({ min: 1, max: 6 }), ref: fc.nat(9) }) },
  { weight: 3, arbitrary: fc.record({ c: fc.constant('payment' as const), percent: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('refund' as const), percent: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('void' as const), set: fc.constantFrom<VoidableSet>('receipts', 'returns', 'bills', 'payments', 'refunds'), index: small }) },
  { weight: 2, arbitrary: fc.record({ c: fc.constant('notes' as const), at: fc.nat(), remove: fc.nat(4), text: fc.string({ maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('header' as const), field: fc.nat(HEADER_FIELDS.length - 1), value: fc.string({ maxLength: 10 }) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('supplier' as const), name: fc.constantFrom('ACME GmbH', 'Globex', 'Initech') }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('hold' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('stated' as const) }) },
  { weight: 1, arbitrary: fc.record({ c: fc.constant('number' as const), n: fc.integer({ min: 1, max: 99999 }) }) },
)

const major = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`

function replicaOptions(backend: CrdtBackend, seed: number, replica = 'dev1') {
  let time = Date.UTC(2026, 0, 5, 9)
  // Each command advances the clock; both backends see the same times and the same ULIDs.
  const now = () => (time += 1237)
  return { docId: DOC, replica: replica as ReplicaId, backend, now, newId: createUlidFactory(now, seededRandom(seed)), user: 'ana', device: 'laptop' }
}

/** Runs one command; returns its outcome ('ok', or the refusal's code). */
function run(r: Replica, cmd: Cmd): string {
  const s = r.state()
  const lines = s.lines
  const live = lines.filter((l) => !l.removed)
  const lineAt = (i: number, list: readonly { readonly id: LineId }[] = live): LineId | undefined => (list.length === 0 ? undefined : list[i % list.length]!.id)
  const exp = s.settings.currencyExponent
  try {
    switch (cmd.c) {
      case 'add': {
        const after = cmd.after === null ? undefined : lineAt(cmd.after)
        r.addLine({
          kind: cmd.service ? 'service' : 'goods', product: PRODUCTS[cmd.product]!, qty: String(cmd.qty), price: major(cmd.cents),
          ...(cmd.tax ? { taxes: [{ code: 'VAT', name: 'VAT 19', rate: '19' }] } : {}), ...(after ? { after } : {}),
        })
        break
      }
      case 'update': {
        const id = lineAt(cmd.line)
        if (id === undefined) return 'skip'
        r.updateLine(id, {
          ...(cmd.qty === null ? {} : { qty: String(cmd.qty) }),
          ...(cmd.cents === null ? {} : { price: major(cmd.cents) }),
          ...(cmd.description === null ? {} : { description: cmd.description }),
        })
        break
      }
      case 'move': {
        const id = lineAt(cmd.line)
        if (id === undefined) return 'skip'
        r.moveLine(id, cmd.after === null ? null : lineAt(cmd.after) ?? null)
        break
      }
      case 'remove': {
        const id = lineAt(cmd.line)
        if (id === undefined) return 'skip'
        r.removeLine(id)
        break
      }
      case 'restore': {
        const id = lineAt(cmd.line, lines)
        if (id === undefined) return 'skip'
        r.restoreLine(id)
        break
      }
      case 'tax': {
        const id = lineAt(cmd.line)
        if (id === undefined) return 'skip'
        r.setLineTax(id, { code: cmd.rate === 19 ? 'VAT' : `T${cmd.rate}`, rate: String(cmd.rate) }, cmd.on)
        break
      }
      case 'transition':
        r.transition(cmd.action)
        break
      case 'receipt': {
        const goods = live.filter((l) => l.kind === 'goods')
        const id = lineAt(cmd.line, goods)
        if (id === undefined) return 'skip'
        r.recordReceipt({ line: id, qty: String(cmd.qty), deliveryNote: `DN-${cmd.note}` })
        break
      }
      case 'return': {
        const id = lineAt(cmd.line)
        if (id === undefined) return 'skip'
        r.recordReturn({ line: id, qty: String(cmd.qty), reason: 'damaged' })
        break
      }
      case 'bill': {
        const id = lineAt(cmd.line)
        if (id === undefined) return 'skip'
        r.recordBill({ line: id, qty: String(cmd.qty), ref: `INV-${cmd.ref}` })
        break
      }
      case 'payment': {
        const due = r.derived().totals.due
        const amount = (due * BigInt(cmd.percent)) / 100n
        if (amount <= 0n) return 'skip'
        r.recordPayment({ amount: formatMinor(amount, exp), ref: `PAY-${cmd.percent}` })
        break
      }
      case 'refund': {
        const amount = (r.derived().totals.paid * BigInt(cmd.percent)) / 100n
        if (amount <= 0n) return 'skip'
        r.recordRefund({ amount: formatMinor(amount, exp), ref: `REF-${cmd.percent}` })
        break
      }
      case 'void': {
        const list = s[cmd.set] as readonly { id: RecordId }[]
        if (list.length === 0) return 'skip'
        r.voidRecord(cmd.set, list[cmd.index % list.length]!.id, 'entered twice')
        break
      }
      case 'notes': {
        const len = s.notes.length
        const at = cmd.at % (len + 1)
        r.editNotes(at, Math.min(cmd.remove, len - at), cmd.text)
        break
      }
      case 'header':
        r.setHeader(HEADER_FIELDS[cmd.field]!, cmd.field < 2 ? `2026-02-${String(1 + (cmd.value.length % 28)).padStart(2, '0')}` : cmd.value)
        break
      case 'supplier':
        r.setSupplier(cmd.name)
        break
      case 'hold':
        r.setHold(cmd.on, cmd.on ? 'awaiting credit check' : '')
        break
      case 'stated':
        r.setStatedTotal(formatMinor(r.derived().totals.total, exp))
        break
      case 'number':
        r.assignNumber(`PO-2026-${String(cmd.n).padStart(5, '0')}`)
        break
    }
    return 'ok'
  } catch (e) {
    if (!isConcordError(e)) throw e
    return e.code
  }
}

/** Everything business-visible, minus what names the backend. */
function businessState(backend: CrdtBackend, r: Replica) {
  const { settings, ...state } = r.state()
  const { backend: _backend, ...sameSettings } = settings
  return {
    state: { ...state, settings: sameSettings },
    derived: r.derived(),
    conflicts: r.conflicts(),
    allowed: r.allowedActions(),
    events: r.log.events().map(({ payload: _p, backend: _b, ...e }) => e),
    heads: r.log.heads(),
    audit: auditTrail(backend, r.log.events()),
  }
}

function firstDifference(a: string, b: string): string {
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return `…${a.slice(Math.max(0, i - 160), i + 160)}\n  vs\n…${b.slice(Math.max(0, i - 160), i + 160)}`
}

const outcomes = new Map<string, number>()

function compareScript(seed: number, script: readonly Cmd[]): void {
  const results = ALL_BACKENDS.map((backend) => {
    const r = PurchaseReplica.create(replicaOptions(backend, seed), { currency: 'EUR', approvalThreshold: '5000.00', supplier: 'ACME GmbH' })
    const done = script.map((cmd) => `${cmd.c}:${run(r, cmd)}`)
    const print = canonicalOf(businessState(backend, r), { sortMaps: true })
    // Rebuilt from its own events (one batch), the document reads the same.
    const rebuilt = PurchaseReplica.fromEvents(replicaOptions(backend, seed, 'dev2'), r.log.events())
    assert.is(canonicalOf(rebuilt.derived(), { sortMaps: true }), canonicalOf(r.derived(), { sortMaps: true }), `${backend.name} rebuilt from events`)
    assert.is(canonicalOf(rebuilt.state().lines, { sortMaps: true }), canonicalOf(r.state().lines, { sortMaps: true }), `${backend.name} rebuilt lines`)
    return { name: backend.name, done, print }
  })
  // Every backend against the first (the default).
  const [y, ...others] = results as [(typeof results)[0], ...typeof results]
  for (const a of others) {
    assert.equal(a.done, y.done, `the same commands succeed and the same are refused (${y.name} vs ${a.name})`)
    if (a.print !== y.print) assert.unreachable(`business state differs (${y.name} vs ${a.name}):\n${firstDifference(y.print, a.print)}`)
  }
  for (const o of y.done) outcomes.set(o, (outcomes.get(o) ?? 0) + 1)
}

test('a fixed script: a full order life on both backends', () => {
  const script: Cmd[] = [
    { c: 'add', service: false, product: 0, qty: 10, cents: 1250, tax: true, after: null },
    { c: 'add', service: false, product: 1, qty: 4, cents: 9999, tax: false, after: null },
    { c: 'add', service: true, product: 4, qty: 1, cents: 45000, tax: true, after: 0 },
    { c: 'update', line: 1, qty: 5, cents: null, description: 'blue ones' },
    { c: 'move', line: 2, after: null },
    { c: 'tax', line: 1, on: true, rate: 7 },
    { c: 'notes', at: 0, remove: 0, text: 'Deliver to gate 3.' },
    { c: 'header', field: 2, value: 'NET30' },
    { c: 'stated' },
    { c: 'add', service: false, product: 2, qty: 3, cents: 10, tax: false, after: null },
    { c: 'remove', line: 3 },
    { c: 'transition', action: 'confirm' },
    { c: 'number', n: 42 },
    { c: 'receipt', line: 0, qty: 6, note: 1 },
    { c: 'receipt', line: 0, qty: 4, note: 2 },
    { c: 'receipt', line: 1, qty: 5, note: 1 },
    { c: 'bill', line: 0, qty: 6, ref: 1 },
    { c: 'bill', line: 2, qty: 1, ref: 2 },
    { c: 'payment', percent: 50 },
    { c: 'return', line: 0, qty: 1 },
    { c: 'void', set: 'receipts', index: 1 },
    { c: 'payment', percent: 100 },
    { c: 'refund', percent: 10 },
    { c: 'transition', action: 'lock' },
    { c: 'notes', at: 5, remove: 3, text: 'XX' },
    { c: 'transition', action: 'close' },
  ]
  compareScript(SEED, script)
})

test('seeded random single-device scripts give identical business state on yjs and automerge', () => {
  check(
    fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(cmdArb, { minLength: 10, maxLength: 70 }), (seed, script) => {
      try {
        compareScript(seed, script)
      } catch (e) {
        ;(e as Error).message = `script seed=${seed} (suite SEED=${SEED}): ${(e as Error).message}`
        throw e
      }
    }),
    { numRuns: Number(process.env.DIFFERENTIAL_RUNS ?? 40) },
  )
  // The scripts must reach the interesting commands, not only refusals.
  for (const c of ['add', 'update', 'move', 'tax', 'transition', 'receipt', 'bill', 'payment', 'notes', 'void']) {
    assert.ok((outcomes.get(`${c}:ok`) ?? 0) > 0, `no successful ${c} in any script: ${JSON.stringify(Object.fromEntries(outcomes))}`)
  }
})

test.run()
