/**
 * The web app's rules of what the order allows now (packages/web/src/
 * what-is-allowed.ts) against core's commands, in Node: two replicas edit a
 * purchase at random (seeded) and exchange events, so the order passes
 * through every lifecycle state, holds and conflicts; at each step every
 * action whose outcome does not depend on a typed value is tried on a copy
 * of the replica, and the rules must say allowed exactly when the command
 * accepts it. The module is bundled with the web app's own esbuild, as the
 * browser gets it.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  type Conflict, type LineId, type PurchaseDerived, type PurchaseReplica, type PurchaseState, PurchaseReplica as Replica,
  compareDecimal, isConcordError, parseDecimal, yjsBackend,
} from '@concord/core'
import { loadWebModule } from './web-module.js'
import { type Sim, extraCommand, newWorld, randomCommand, replicaOptions } from '../support/replicas.js'

interface Allowed { readonly allowed: boolean; readonly why?: string }
interface OrderRules {
  readonly offered: readonly string[]
  transition(a: string): Allowed
  edit(what: string): Allowed
  addLine(): Allowed
  removeLine(id: LineId): Allowed
  receive(): Allowed
  receivable(id: LineId): boolean
  bill(): Allowed
  billable(id: LineId): boolean
  pay(): Allowed
  refund(): Allowed
  commitTotal(): Allowed
}
interface Rules {
  whatIsAllowed(o: { state: PurchaseState; derived: PurchaseDerived; conflicts: readonly Conflict[] }): OrderRules
}

const loadRules = () => loadWebModule<Rules>('src/what-is-allowed.ts')

const ZERO = parseDecimal('0')
/** Every lifecycle action a person can take (core keeps its list internal). */
const ACTIONS = ['send', 'submit', 'approve', 'reject', 'confirm', 'lock', 'unlock', 'close', 'reopen', 'cancel', 'reset'] as const
const t = suite<{ rules: Rules }>('web what-is-allowed against core')
t.before(async (ctx) => {
  try {
    ctx.rules = await loadRules()
  } catch (e) {
    console.error('cannot load packages/web/src/what-is-allowed.ts:', e)
    throw e
  }
})

/** Whether the command, run on a copy of `r` (same events, same author), is accepted; the copy is thrown away. */
function accepts(sim: Sim, r: PurchaseReplica, index: number, cmd: (copy: PurchaseReplica) => unknown): { ok: boolean; why: string } {
  const copy = Replica.fromEvents(replicaOptions(sim, yjsBackend, index), r.log.events())
  try {
    cmd(copy)
    return { ok: true, why: '' }
  } catch (e) {
    if (!isConcordError(e)) throw e
    return { ok: false, why: `${e.code} ${e.message}` }
  }
}

t('for every action that does not depend on a typed value, the rules say allowed exactly when core accepts it', ({ rules }) => {
  try {
    agree(rules)
  } catch (e) {
    // uvu prints only assertion errors; a crash of a command is worth its stack.
    if (!(e instanceof assert.Assertion)) console.error(e)
    throw e
  }
})

function agree(rules: Rules): void {
  const seeds = Number(process.env.WHAT_IS_ALLOWED_SEEDS ?? 8)
  const seen = new Map<string, number>()
  let checks = 0
  const refusals = new Map<string, number>()
  for (let seed = 1; seed <= seeds; seed++) {
    const { sim, replicas, net } = newWorld(seed, yjsBackend, 2, { currency: 'EUR', supplier: 'ACME', approvalThreshold: '1000', receiptTolerance: '10' })
    const ops = new Map<string, number>()
    for (let step = 0; step < 60; step++) {
      const i = step % 2
      const r = replicas[i]!
      sim.time += 1000
      // A draft is sent first: random transitions leave "sent" too quickly to be seen often.
      if (step === 0 && r.derived().lifecycle.state === 'draft') r.transition('send')
      // ...and, on every other world, made too large to confirm without approval.
      else if (step === 1 && seed % 2 === 0 && ['draft', 'sent'].includes(r.derived().lifecycle.state)) r.addLine({ product: 'Crane', qty: '1', price: '2000' })
      // Holds come and go more often than at random, and the threshold (1000) is one a few lines pass: both refusals are met.
      else if (sim.rng() < 0.1) r.setHold(!r.state().hold.on, 'budget')
      else if (sim.rng() < 0.85) randomCommand(sim, r, ops)
      else extraCommand(sim, r, ops)
      if (sim.rng() < 0.3) net.deliverBatch()
      const state = r.state()
      const derived = r.derived()
      const o = rules.whatIsAllowed({ state, derived, conflicts: r.conflicts() })
      const lc = derived.lifecycle.state
      seen.set(lc, (seen.get(lc) ?? 0) + 1)
      const live = state.lines.filter((l) => !l.removed)
      const check = (what: string, said: Allowed | boolean, cmd: (c: PurchaseReplica) => unknown) => {
        const allowed = typeof said === 'boolean' ? said : said.allowed
        const got = accepts(sim, r, i, cmd)
        checks++
        assert.is(allowed, got.ok, `SEED=${seed} step ${step}, order ${lc}: ${what}: the rules say ${allowed ? 'allowed' : `not allowed (${typeof said === 'boolean' ? '' : said.why})`}, core ${got.ok ? 'accepts it' : `refuses: ${got.why}`}`)
        if (typeof said !== 'boolean' && !said.allowed) assert.ok((said.why ?? '').length > 0, `${what}: a refusal says why`)
        if (!got.ok) {
          const kind = /on hold/.test(got.why) ? 'held' : /approval threshold/.test(got.why) ? 'above the threshold' : 'other'
          refusals.set(kind, (refusals.get(kind) ?? 0) + 1)
        }
      }
      for (const a of ACTIONS) check(`transition ${a}`, o.transition(a), (c) => c.transition(a))
      assert.equal([...o.offered], r.allowedActions(), 'the offered transitions are the state machine\'s')
      check('header edit', o.edit('the order'), (c) => c.setHeader('buyer', `Buyer ${step}`))
      if (state.currency.values.length === 1) check('add a free line', o.addLine(), (c) => c.addLine({ product: 'Sample', qty: '1', price: '0' }))
      // Once an overpayment was accepted, whether a removal raises it again depends on the conflict's id (its total and
      // causes) matching the accepted one: the rules do not reproduce ids, so those orders are left out here.
      const acceptedOverpayment = state.resolutions.some((x) => x.kind === 'OVERPAYMENT')
      if (!acceptedOverpayment) for (const l of live) check(`remove ${l.product}`, o.removeLine(l.id), (c) => c.removeLine(l.id))
      for (const l of live) {
        const tl = derived.lines.get(l.id)!
        // Within the ordered quantity, so that no tolerance conflict depends on the amount typed.
        if (l.kind !== 'goods' || compareDecimal(tl.received, l.qty) >= 0) continue
        check(`receive on ${l.product}`, o.receive().allowed && o.receivable(l.id), (c) => c.recordReceipt({ line: l.id, qty: '0.0001', deliveryNote: `T-${seed}-${step}` }))
      }
      for (const l of live) check(`bill on ${l.product}`, o.bill().allowed && o.billable(l.id), (c) => c.recordBill({ line: l.id, qty: '0.0001', ref: 'T' }))
      check('pay a cent', o.pay(), (c) => c.recordPayment({ amount: '0.01', ref: 'T' }))
      // Over the total (an overpayment accepted earlier), whether a refund is taken depends on its amount: below the excess it raises the overpayment again.
      if (derived.totals.paid <= derived.totals.total && !acceptedOverpayment) check('refund a cent', o.refund(), (c) => c.recordRefund({ amount: '0.01', ref: 'T' }))
      if (live.length > 0 && compareDecimal(parseDecimal(String(derived.totals.total)), ZERO) >= 0) {
        const total = derived.totals.total
        check('commit to the total', o.commitTotal(), (c) => c.setStatedTotal(`${total / 100n}.${String(total % 100n).padStart(2, '0')}`))
      }
    }
  }
  for (const s of ['draft', 'sent', 'toApprove', 'confirmed', 'locked', 'closed', 'cancelled']) {
    assert.ok((seen.get(s) ?? 0) > 0, `the random orders reach ${s} (seen: ${JSON.stringify(Object.fromEntries(seen))})`)
  }
  assert.ok(checks > 1000, `enough checks (${checks})`)
  for (const why of ['held', 'above the threshold']) assert.ok((refusals.get(why) ?? 0) > 0, `refusals met: ${JSON.stringify(Object.fromEntries(refusals))}`)
}

t.run()
