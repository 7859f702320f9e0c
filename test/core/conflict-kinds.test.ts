/**
 * Every conflict kind (docs/DOMAIN.md), in a two-device scenario: it is raised
 * on both replicas with the same id; a resolution on one closes it on both;
 * two different concurrent resolutions raise CONCURRENT_RESOLUTIONS on both,
 * which a later pick settles; identical concurrent resolutions collapse.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  type Conflict, type ConflictKind, type CrdtBackend, type LineId, type PurchaseReplica, CONFLICT_KINDS,
} from '@concord/core'
import { BACKENDS } from '../support/backends.js'
import { type Sim, makeReplica, replicaOptions } from '../support/replicas.js'
import { PurchaseReplica as Replica } from '@concord/core'
import { seededRandom } from '@concord/core/internal'

interface Pair {
  readonly a: PurchaseReplica
  readonly b: PurchaseReplica
  readonly sim: Sim
  readonly lines: LineId[]
}

/** A creates the order and does `setup`; B starts from A's events. */
function pair(backend: CrdtBackend, init: Parameters<typeof Replica.create>[1], setup: (a: PurchaseReplica, lines: LineId[]) => void): Pair {
  const sim: Sim = { rng: seededRandom(7), time: 1_760_000_000_000 }
  const a = Replica.create(replicaOptions(sim, backend, 0), init)
  const lines: LineId[] = []
  setup(a, lines)
  const b = makeReplica(sim, backend, 1, a.log.events())
  return { a, b, sim, lines }
}

function sync(...rs: PurchaseReplica[]): void {
  for (const to of rs) for (const from of rs) if (to !== from) to.receive(from.log.events())
}

const line = (r: PurchaseReplica, lines: LineId[], qty: string, price: string, product = 'Widget') => {
  lines.push(r.addLine({ product, qty, price }).lineId)
}
const confirmed = (r: PurchaseReplica) => {
  r.transition('send')
  r.transition('confirm')
}

interface Scenario {
  readonly init?: Parameters<typeof Replica.create>[1]
  setup(a: PurchaseReplica, lines: LineId[]): void
  sideA(a: PurchaseReplica, lines: LineId[]): void
  sideB(b: PurchaseReplica, lines: LineId[]): void
  /** Two different options for the concurrent-resolution case. */
  readonly options: readonly [string, string]
}

const SCENARIOS: Record<Exclude<ConflictKind, 'CONCURRENT_RESOLUTIONS'>, Scenario> = {
  TOTAL_MISMATCH: {
    setup: (a, l) => { line(a, l, '10', '100'); a.transition('send'); a.setStatedTotal('1000') },
    sideA: (a, l) => { line(a, l, '1', '200', 'Gadget') },
    sideB: (b, l) => { b.updateLine(l[0]!, { price: '105' }) },
    options: ['accept-computed', 'adjustment-line'],
  },
  OVER_RECEIPT: {
    setup: (a, l) => { line(a, l, '10', '5'); confirmed(a) },
    sideA: (a, l) => { a.recordReceipt({ line: l[0]!, qty: '6', deliveryNote: 'DN-A' }) },
    sideB: (b, l) => { b.recordReceipt({ line: l[0]!, qty: '6', deliveryNote: 'DN-B' }) },
    options: ['accept', 'return-excess'],
  },
  DUPLICATE_RECEIPT: {
    setup: (a, l) => { line(a, l, '10', '5'); confirmed(a) },
    sideA: (a, l) => { a.recordReceipt({ line: l[0]!, qty: '2', deliveryNote: 'DN-1' }) },
    sideB: (b, l) => { b.recordReceipt({ line: l[0]!, qty: '2', deliveryNote: 'DN-1' }) },
    options: ['void-receipt', 'accept'],
  },
  ACTIVITY_ON_REMOVED_LINE: {
    setup: (a, l) => { line(a, l, '10', '5'); line(a, l, '4', '3', 'Bolt'); confirmed(a) },
    sideA: (a, l) => { a.removeLine(l[1]!) },
    sideB: (b, l) => { b.recordReceipt({ line: l[1]!, qty: '2', deliveryNote: 'DN-1' }) },
    options: ['restore-line', 'void-activity'],
  },
  PRODUCT_CHANGED_AFTER_ACTIVITY: {
    setup: (a, l) => { line(a, l, '10', '5'); confirmed(a) },
    sideA: (a, l) => { a.updateLine(l[0]!, { product: 'Widget v2' }) },
    sideB: (b, l) => { b.recordReceipt({ line: l[0]!, qty: '4', deliveryNote: 'DN-1' }) },
    options: ['split-line', 'revert-change'],
  },
  OVER_BILLED: {
    setup: (a, l) => { line(a, l, '10', '5'); confirmed(a); a.recordReceipt({ line: l[0]!, qty: '10', deliveryNote: 'DN-1' }) },
    sideA: (a, l) => { a.recordBill({ line: l[0]!, qty: '10', ref: 'INV-1' }) },
    sideB: (b, l) => { b.recordReturn({ line: l[0]!, qty: '4', reason: 'damaged' }) },
    options: ['accept', 'void-bill'],
  },
  OVERPAYMENT: {
    setup: (a, l) => { line(a, l, '10', '100'); confirmed(a) },
    sideA: (a) => { a.recordPayment({ amount: '600', ref: 'PAY-A' }) },
    sideB: (b) => { b.recordPayment({ amount: '500', ref: 'PAY-B' }) },
    options: ['accept', 'request-refund'],
  },
  CANCELLED_WITH_ACTIVITY: {
    setup: (a, l) => { line(a, l, '10', '5'); confirmed(a) },
    sideA: (a) => { a.transition('cancel') },
    sideB: (b, l) => { b.recordReceipt({ line: l[0]!, qty: '3', deliveryNote: 'DN-1' }) },
    options: ['uncancel', 'short-close'],
  },
  CONTRADICTORY_TRANSITIONS: {
    setup: (a, l) => { line(a, l, '10', '5'); a.transition('send') },
    sideA: (a) => { a.transition('confirm') },
    sideB: (b) => { b.transition('cancel') },
    options: ['keep', 'defer'],
  },
  EDIT_AFTER_LOCK: {
    setup: (a, l) => { line(a, l, '10', '5'); confirmed(a) },
    sideA: (a) => { a.transition('lock') },
    sideB: (b, l) => { b.updateLine(l[0]!, { price: '6' }) },
    options: ['amend', 'discard'],
  },
  SUPPLIER_CHANGED_AFTER_SEND: {
    setup: (a, l) => { line(a, l, '10', '5') },
    sideA: (a) => { a.transition('send') },
    sideB: (b) => { b.setSupplier('Globex') },
    options: ['revert', 'resend'],
  },
  CURRENCY_CHANGED_WITH_LINES: {
    setup: () => {},
    sideA: (a) => { a.setCurrency('USD') },
    sideB: (b, l) => { line(b, l, '2', '10') },
    options: ['reprice-lines', 'revert-currency'],
  },
  APPROVAL_BYPASSED: {
    init: { currency: 'EUR', supplier: 'ACME', approvalThreshold: '1000' },
    setup: (a, l) => { line(a, l, '9', '100'); a.transition('send') },
    sideA: (a) => { a.transition('confirm') },
    sideB: (b, l) => { line(b, l, '4', '100', 'Gadget') },
    options: ['send-to-approval', 'revert-late-lines'],
  },
  CONCURRENT_GUARDED_WRITE: {
    setup: () => {},
    sideA: (a) => { a.setSupplier('Initech') },
    sideB: (b) => { b.setSupplier('Globex') },
    options: ['keep', 'custom'],
  },
  POSSIBLE_DUPLICATE_LINE: {
    setup: () => {},
    sideA: (a, l) => { line(a, l, '10', '4') },
    sideB: (b, l) => { line(b, l, '10', '4') },
    options: ['remove-line', 'keep-both'],
  },
}

function paramsFor(c: Conflict, option: string, which: 0 | 1): Record<string, string> {
  const spec = c.options.find((o) => o.id === option)
  assert.ok(spec, `${c.kind} offers ${option}`)
  const out: Record<string, string> = {}
  for (const p of spec!.params) {
    if (p.choices !== undefined) out[p.name] = p.choices[Math.min(which, p.choices.length - 1)]!
    else if (p.name === 'value') out[p.name] = c.kind === 'CONCURRENT_GUARDED_WRITE' ? 'Custom Ltd' : '123456'
  }
  return out
}

function raised(p: Pair, kind: ConflictKind): Conflict {
  const ca = p.a.conflicts().filter((c) => c.kind === kind)
  const cb = p.b.conflicts().filter((c) => c.kind === kind)
  assert.is(ca.length, 1, `A has one ${kind}: ${p.a.conflicts().map((c) => c.kind).join(', ')}`)
  assert.is(cb.length, 1, `B has one ${kind}`)
  assert.is(ca[0]!.id, cb[0]!.id, 'same conflict id on both replicas')
  assert.equal(ca[0]!.facts, cb[0]!.facts)
  assert.ok(ca[0]!.branches.length >= 2, 'both sides are shown')
  return ca[0]!
}

function build(backend: CrdtBackend, kind: keyof typeof SCENARIOS): Pair {
  const s = SCENARIOS[kind]
  const p = pair(backend, s.init ?? { currency: 'EUR', supplier: 'ACME' }, s.setup)
  // Both sides act concurrently: neither has seen the other's change.
  s.sideA(p.a, p.lines)
  s.sideB(p.b, [...p.lines])
  // Neither side raised anything on its own.
  assert.equal(p.a.conflicts().map((c) => c.kind), [], 'A alone is consistent')
  assert.equal(p.b.conflicts().map((c) => c.kind), [], 'B alone is consistent')
  sync(p.a, p.b)
  return p
}

for (const backend of BACKENDS) {
  test(`[${backend.name}] every conflict kind has a scenario`, () => {
    assert.equal(Object.keys(SCENARIOS).sort(), CONFLICT_KINDS.filter((k) => k !== 'CONCURRENT_RESOLUTIONS').sort())
  })

  for (const kind of Object.keys(SCENARIOS) as (keyof typeof SCENARIOS)[]) {
    test(`[${backend.name}] ${kind}: raised on both with one id; a resolution on one closes it on both`, () => {
      const p = build(backend, kind)
      const c = raised(p, kind)
      const option = SCENARIOS[kind].options[0]
      p.a.resolve(c.id, option, paramsFor(c, option, 0), 'resolved in test')
      sync(p.a, p.b)
      for (const r of [p.a, p.b]) assert.not.ok(r.conflicts().some((x) => x.id === c.id), `${kind} closed on ${r.replica}`)
      assert.equal(p.a.conflicts().map((x) => x.id), p.b.conflicts().map((x) => x.id), 'same queue on both')
    })

    test(`[${backend.name}] ${kind}: two different concurrent resolutions raise a new conflict`, () => {
      const p = build(backend, kind)
      const c = raised(p, kind)
      const [oa, ob] = SCENARIOS[kind].options
      p.a.resolve(c.id, oa, paramsFor(c, oa, 0))
      p.b.resolve(c.id, ob, paramsFor(c, ob, 1))
      sync(p.a, p.b)
      const cr = raised(p, 'CONCURRENT_RESOLUTIONS')
      assert.ok(cr.subject.endsWith(c.id))
      // A person keeps one of them; that settles it everywhere.
      p.b.resolve(cr.id, 'pick', paramsFor(cr, 'pick', 0))
      sync(p.a, p.b)
      for (const r of [p.a, p.b]) {
        assert.not.ok(r.conflicts().some((x) => x.kind === 'CONCURRENT_RESOLUTIONS'), `settled on ${r.replica}`)
        assert.not.ok(r.conflicts().some((x) => x.id === c.id), `original closed on ${r.replica}`)
      }
      assert.equal(p.a.conflicts().map((x) => x.id), p.b.conflicts().map((x) => x.id), 'same queue on both')
    })
  }

  test(`[${backend.name}] every option of every kind closes its conflict and raises nothing new on the resolving replica`, () => {
    let checked = 0
    for (const kind of Object.keys(SCENARIOS) as (keyof typeof SCENARIOS)[]) {
      const options = raised(build(backend, kind), kind).options.map((o) => o.id).filter((o) => o !== 'defer')
      for (const option of options) {
        for (const which of [0, 1] as const) {
          const p = build(backend, kind)
          const c = raised(p, kind)
          const before = new Set(p.a.conflicts().map((x) => x.id))
          p.a.resolve(c.id, option, paramsFor(c, option, which))
          const after = p.a.conflicts()
          assert.not.ok(after.some((x) => x.id === c.id), `${kind} / ${option}: the conflict closes`)
          const raisedNow = after.filter((x) => !before.has(x.id))
          assert.equal(raisedNow.map((x) => `${x.kind} ${JSON.stringify(x.facts)}`), [], `${kind} / ${option} (choice ${which}) raises nothing new`)
          sync(p.a, p.b)
          assert.equal(p.b.conflicts().map((x) => x.id), after.map((x) => x.id), `${kind} / ${option}: same queue on the other replica`)
          checked++
        }
      }
    }
    assert.ok(checked >= 60, `checked ${checked} resolutions`)
  })

  test(`[${backend.name}] a resolution that changes the lines restates a stated total`, () => {
    const s = SCENARIOS.OVER_RECEIPT
    const p = pair(backend, { currency: 'EUR', supplier: 'ACME' }, (a, l) => {
      s.setup(a, l)
      a.setStatedTotal('50')
    })
    s.sideA(p.a, p.lines)
    s.sideB(p.b, [...p.lines])
    sync(p.a, p.b)
    const c = raised(p, 'OVER_RECEIPT')
    p.a.resolve(c.id, 'raise-qty')
    assert.equal(p.a.conflicts().map((x) => x.kind), [])
    assert.equal(p.a.state().statedTotal.values, [String(p.a.derived().totals.total)])
  })

  test(`[${backend.name}] identical concurrent resolutions collapse into one`, () => {
    const p = build(backend, 'OVER_RECEIPT')
    const c = raised(p, 'OVER_RECEIPT')
    p.a.resolve(c.id, 'accept', {})
    p.b.resolve(c.id, 'accept', {})
    sync(p.a, p.b)
    assert.equal(p.a.conflicts(), [])
    assert.equal(p.b.conflicts(), [])
  })

  test(`[${backend.name}] deferring keeps a conflict open, marked deferred, on both`, () => {
    const p = build(backend, 'OVERPAYMENT')
    const c = raised(p, 'OVERPAYMENT')
    p.a.resolve(c.id, 'defer', {})
    sync(p.a, p.b)
    for (const r of [p.a, p.b]) assert.ok(r.conflicts().find((x) => x.id === c.id)?.deferred)
  })

  test(`[${backend.name}] a blocking conflict holds further receipts on its line`, () => {
    const p = build(backend, 'OVER_RECEIPT')
    assert.throws(() => p.a.recordReceipt({ line: p.lines[0]!, qty: '1', deliveryNote: 'DN-C' }), /conflict OVER_RECEIPT/)
  })
}

test.run()
