/**
 * Every conflict kind (docs/DOMAIN.md), in a two-device scenario: it is raised
 * on both replicas with the same id; a resolution on one closes it on both;
 * two different concurrent resolutions raise CONCURRENT_RESOLUTIONS on both,
 * which a later pick settles; identical concurrent resolutions collapse.
 * "Closes" is checked against the detector, not the queue alone: an option
 * that removes the violation leaves the merged state without it, an option
 * that accepts it leaves it detected and recorded as accepted.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as Y from 'yjs'
import {
  type Conflict, type ConflictKind, type CrdtBackend, type LineId, type PurchaseReplica, type ResolutionRecord, CONFLICT_KINDS, CONFLICT_SPECS,
  formatMinor, isConcordError, yjsBackend,
} from '@concord/core'
import { checkRecord, detectConflicts, detectViolations, optionSpec } from '@concord/core/internal'
import { envelopeFor, rawYjsUpdate } from '../support/hostile.js'
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

/**
 * What `option` did to conflict `c` on replica `r`, read from the detector on
 * the merged state: an option that removes the violation leaves no violation
 * of that kind on that subject; one that accepts it leaves the same violation
 * detected and a resolution recording the choice. Either way it is closed.
 */
/** What the resolution not kept wrote no longer shows: its lines removed, its records voided, its register values replaced. */
function assertUndone(r: PurchaseReplica, undone: ResolutionRecord, kept: ResolutionRecord): void {
  const s = r.state()
  const voided = r.derived().voided
  for (const l of s.lines) if (l.created.ev === undone.ev) assert.ok(l.removed, `${undone.option}'s line ${l.product} is removed on ${r.replica}`)
  for (const set of ['receipts', 'returns', 'bills', 'payments', 'refunds'] as const) {
    for (const x of s[set]) if (x.ev === undone.ev) assert.ok(voided.has(x.id), `${undone.option}'s ${set} record is voided on ${r.replica}`)
  }
  for (const [key, entries] of s.registers) {
    if (key.startsWith('l.') || key.startsWith('x.')) continue
    if (entries.some((e) => e.ev === undone.ev) && !entries.some((e) => e.ev === kept.ev)) assert.unreachable(`${undone.option}'s ${key} still shows on ${r.replica}`)
  }
}

function assertSettled(r: PurchaseReplica, c: Conflict, option: string, why: string): void {
  const input = { state: r.state(), derived: r.derived() }
  const violations = detectViolations(input)
  const effect = optionSpec(c.kind, option).effect
  if (effect === 'removes') {
    const still = violations.filter((v) => v.kind === c.kind && v.subject === c.subject)
    assert.equal(still.map((v) => JSON.stringify(v.facts)), [], `${why}: ${c.kind} / ${option} removes the violation on ${r.replica}`)
  } else {
    assert.is(effect, 'accepts', `${why}: ${c.kind} / ${option} is not a deferral`)
    assert.ok(violations.some((v) => v.id === c.id), `${why}: ${c.kind} / ${option} accepts the violation, which stays detected on ${r.replica}`)
    assert.ok(input.state.resolutions.some((x) => x.conflict === c.id && x.option === option), `${why}: the acceptance is recorded on ${r.replica}`)
  }
  assert.not.ok(detectConflicts(input).some((x) => x.id === c.id), `${why}: ${c.kind} / ${option} closed on ${r.replica}`)
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
      for (const r of [p.a, p.b]) {
        assert.not.ok(r.conflicts().some((x) => x.id === c.id), `${kind} closed on ${r.replica}`)
        assertSettled(r, c, option, 'resolved on A')
      }
      assert.equal(p.a.conflicts().map((x) => x.id), p.b.conflicts().map((x) => x.id), 'same queue on both')
    })

    for (const which of [0, 1] as const) test(`[${backend.name}] ${kind}: two different concurrent resolutions raise a new conflict; keeping resolution ${which + 1} takes the other back`, () => {
      const p = build(backend, kind)
      const c = raised(p, kind)
      const [oa, ob] = SCENARIOS[kind].options
      p.a.resolve(c.id, oa, paramsFor(c, oa, 0))
      p.b.resolve(c.id, ob, paramsFor(c, ob, 1))
      sync(p.a, p.b)
      const cr = raised(p, 'CONCURRENT_RESOLUTIONS')
      assert.ok(cr.subject.endsWith(c.id))
      // A person keeps one of them; that settles it everywhere.
      const kept = paramsFor(cr, 'pick', which).resolution!
      const keptRecord = p.b.state().resolutions.find((x) => x.id === kept)!
      const keptOption = keptRecord.option
      const rival = p.b.state().resolutions.find((x) => x.conflict === c.id && x.id !== kept)!
      p.b.resolve(cr.id, 'pick', { resolution: kept })
      sync(p.a, p.b)
      for (const r of [p.a, p.b]) {
        assert.not.ok(r.conflicts().some((x) => x.kind === 'CONCURRENT_RESOLUTIONS'), `settled on ${r.replica}`)
        assert.not.ok(r.conflicts().some((x) => x.id === c.id), `original closed on ${r.replica}`)
        assertSettled(r, cr, 'pick', 'picked')
        assert.ok(r.state().resolutions.some((x) => x.conflict === c.id && x.option === keptOption && x.note === `kept resolution ${kept}`), 'the kept resolution is repeated after both')
        assertUndone(r, rival, keptRecord)
      }
      assert.equal(p.a.conflicts().map((x) => x.id), p.b.conflicts().map((x) => x.id), 'same queue on both')
    })
  }


  // An adjustment line carries the tax the person picks, so the tax follows the order's
  // treatment; its price is whatever makes the total exactly the stated one under the
  // order's tax mode and rounding (a rounding line takes a remainder none can reach).
  for (const [taxMode, tax, rate] of [['EXCLUSIVE', 'PER_LINE', '20'], ['EXCLUSIVE', 'GLOBAL', '19'], ['INCLUSIVE', 'PER_LINE', '7.7'], ['EXCLUSIVE', 'PER_LINE', '7.7']] as const) {
    test(`[${backend.name}] TOTAL_MISMATCH: an adjustment line with ${rate} % tax (${taxMode}, ${tax}) reaches the stated total exactly`, () => {
      const taxes = [{ code: 'T', name: `Tax ${rate}`, rate }]
      const p = pair(backend, { currency: 'EUR', supplier: 'ACME', taxMode, rounding: { mode: 'HALF_UP', tax } }, (a, l) => {
        l.push(a.addLine({ product: 'Widget', qty: '7', price: '13.37', taxes }).lineId)
        a.transition('send')
        a.setStatedTotal(formatMinor(a.derived().totals.total, 2))
      })
      p.a.addLine({ product: 'Gadget', qty: '3', price: '9.99', taxes })
      p.b.updateLine(p.lines[0]!, { price: '14.03' })
      sync(p.a, p.b)
      const c = raised(p, 'TOTAL_MISMATCH')
      const option = c.options.find((o) => o.id === 'adjustment-line')!
      assert.equal(option.params.find((x) => x.name === 'tax')!.choices, ['none', 'T'])
      for (const stated of option.params.find((x) => x.name === 'stated')!.choices!) {
        const r = makeReplica(p.sim, backend, 2, [...p.a.log.events()])
        const taxBefore = r.derived().totals.tax
        r.resolve(c.id, 'adjustment-line', { stated, tax: 'T' })
        assert.is(r.derived().totals.total, BigInt(stated), `total reaches ${stated}`)
        assert.not.ok(r.conflicts().some((x) => x.kind === 'TOTAL_MISMATCH'), 'closed')
        const adj = r.state().lines.filter((l) => l.product === 'Adjustment')
        assert.is(adj.length, 1)
        assert.equal(adj[0]!.taxes.map((t) => [t.code, t.rate]), [['T', rate]], 'the adjustment carries the tax')
        const moved = BigInt(stated) - p.a.derived().totals.total
        if (moved !== 0n) assert.ok(r.derived().totals.tax !== taxBefore, 'the tax follows the new base')
      }
      // Without a tax the adjustment is untaxed, as before.
      const r = makeReplica(p.sim, backend, 3, [...p.a.log.events()])
      r.resolve(c.id, 'adjustment-line', { stated: option.params[0]!.choices![0]! })
      assert.equal(r.state().lines.filter((l) => l.product === 'Adjustment').map((l) => l.taxes.length), [0])
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
          assertSettled(p.a, c, option, `choice ${which}`)
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

  test(`[${backend.name}] requesting a refund records an open request: the overpayment stands until the refund is recorded`, () => {
    const p = build(backend, 'OVERPAYMENT')
    const c = raised(p, 'OVERPAYMENT')
    const paid = p.a.derived().totals.paid
    p.a.resolve(c.id, 'request-refund')
    sync(p.a, p.b)
    for (const r of [p.a, p.b]) {
      const [request] = r.state().refunds
      assert.is(request?.status, 'requested', `the request is on file on ${r.replica}`)
      assert.is(request?.amount, String(paid - r.derived().totals.total))
      assert.is(r.derived().totals.paid, paid, `a requested refund is not money back on ${r.replica}`)
      assert.not.ok(r.conflicts().some((x) => x.kind === 'OVERPAYMENT'), 'accepted while the refund is awaited')
    }
    // The schema both backends and the relay apply knows the mark, and only that one.
    const request = p.a.state().refunds[0]!
    assert.is(checkRecord('refunds', request.id, request), undefined)
    assert.match(checkRecord('refunds', request.id, { ...request, status: 'received' }) ?? '', /^status: /)
    // The supplier pays the excess back: recording that refund ends the violation itself.
    p.b.recordRefund({ amount: c.facts.excess!, ref: 'CN-1' })
    sync(p.a, p.b)
    for (const r of [p.a, p.b]) {
      assert.is(r.derived().totals.paid, r.derived().totals.total)
      assert.not.ok(detectViolations({ state: r.state(), derived: r.derived() }).some((v) => v.kind === 'OVERPAYMENT'))
    }
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

test('each spec names every option with its effect, and defer last', () => {
  for (const kind of CONFLICT_KINDS) {
    const options = Object.entries(CONFLICT_SPECS[kind].options)
    assert.is(options[options.length - 1]![0], 'defer', kind)
    for (const [id, o] of options) assert.ok(['removes', 'accepts', 'defers'].includes(o.effect) && typeof o.resolve === 'function', `${kind} / ${id}`)
  }
})

test('an unknown kind or option is refused with INVALID_RESOLUTION, not looked up on Object', () => {
  for (const [kind, option] of [['OVER_RECEIPT', 'constructor'], ['OVER_RECEIPT', 'toString'], ['OVER_RECEIPT', '__proto__'], ['OVER_RECEIPT', 'pick'], ['NOT_A_KIND', 'accept'], ['hasOwnProperty', 'defer']] as const) {
    assert.throws(() => optionSpec(kind, option), (e: unknown) => isConcordError(e) && e.code === 'INVALID_RESOLUTION', `${kind} / ${option}`)
  }
})

test('[yjs] picking a recorded resolution whose option its kind lacks is refused, and nothing is written', () => {
  const p = build(yjsBackend, 'OVER_RECEIPT')
  const c = raised(p, 'OVER_RECEIPT')
  p.a.resolve(c.id, 'accept')
  // A raw client records a resolution of the same conflict, concurrently, with an option OVER_RECEIPT does not have.
  const actor = 'raw-client'
  const event = envelopeFor(p.b, actor, new Uint8Array(), 'conflict.resolve')
  const id = '01J00000000000000000000RAW'
  const payload = rawYjsUpdate(p.b, actor, (d: Y.Doc) => d.getMap('set:resolutions').set(id, {
    id, conflict: c.id, kind: 'OVER_RECEIPT', option: 'toString', params: {}, note: '', vv: {},
    ev: event.id, hlc: event.hlc, by: 'mallory', dev: 'raw', at: event.meta.at,
  }))
  p.b.receive([{ ...event, payload }])
  sync(p.a, p.b)
  const cr = raised(p, 'CONCURRENT_RESOLUTIONS')
  assert.ok(cr.options.find((o) => o.id === 'pick')!.params[0]!.choices!.includes(id), 'the raw resolution is a side')
  const before = p.a.log.events().length
  assert.throws(() => p.a.resolve(cr.id, 'pick', { resolution: id }), (e: unknown) => isConcordError(e) && e.code === 'INVALID_RESOLUTION' && /toString/.test(e.message))
  assert.is(p.a.log.events().length, before, 'the refused pick wrote nothing')
  assert.ok(p.a.conflicts().some((x) => x.id === cr.id), 'still open')
})

test.run()
