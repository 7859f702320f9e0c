/** CANCELLED_WITH_ACTIVITY: the order was cancelled while goods were received, billed or paid. */
import type { Json } from '../../json.js'
import { type Decimal, compareDecimal, isZeroDecimal } from '../../money/decimal.js'
import { formatMinor, minorToString } from '../../money/amount.js'
import { nextState } from '../../purchase/lifecycle.js'
import type { LifecycleState } from '../../purchase/model.js'
import { recordBranch, uniqSorted } from '../evidence.js'
import { type ResolveContext, defineKind } from '../spec.js'
import { force, today, voidRecord } from '../writes.js'

/** The state the order was in just before its last cancellation. */
function stateBeforeLastCancel(ctx: ResolveContext): LifecycleState {
  let state: LifecycleState = 'draft'
  let beforeCancel: LifecycleState = 'draft'
  for (const t of ctx.derived.lifecycle.applied) {
    const next: LifecycleState = nextState(state, t.action, t.to) ?? state
    if (next === 'cancelled') beforeCancel = state
    state = next
  }
  return beforeCancel
}

export const cancelledWithActivity = defineKind({
  label: 'Cancelled while goods or money moved',
  severity: 'BLOCKING',
  scope: 'order',
  detect: ({ state, derived }) => {
    const lc = derived.lifecycle
    if (lc.state !== 'cancelled') return []
    const v = derived.voided
    const received = [...derived.lines.values()].some((t) => compareDecimal(t.received, '0' as Decimal) > 0)
    const billed = [...derived.lines.values()].some((t) => !isZeroDecimal(t.billed))
    if (!received && !billed && derived.totals.paid <= 0n) return []
    const cancel = [...lc.applied].reverse().find((t) => t.action === 'cancel' || t.action === 'force')!
    const activity = [...state.receipts, ...state.bills, ...state.payments].filter((r) => !v.has(r.id))
    return [{
      subject: 'order',
      causes: uniqSorted([cancel.ev, ...activity.map((r) => r.ev)]),
      branches: [recordBranch(cancel, 'cancelled the order'), ...activity.map((r) => recordBranch(r, 'recorded activity'))],
      facts: { received: String(received), billed: String(billed), paid: formatMinor(derived.totals.paid, state.settings.currencyExponent) },
    }]
  },
  options: {
    uncancel: { label: 'Un-cancel the order', effect: 'removes', resolve: (ctx) => force(ctx, stateBeforeLastCancel(ctx)) },
    'return-refund': {
      label: 'Keep it cancelled: return the goods and refund the payments',
      effect: 'removes',
      resolve: (ctx) => {
        const v = ctx.derived.voided
        for (const [line, t] of ctx.derived.lines) {
          if (compareDecimal(t.received, '0' as Decimal) > 0) {
            const id = ctx.newRecordId()
            ctx.w.addRecord('returns', id, { id, line, qty: t.received, reason: 'order cancelled (conflict resolution)', date: today(ctx), ...ctx.stamp } as unknown as Json)
          }
        }
        for (const b of ctx.state.bills) if (!v.has(b.id)) voidRecord(ctx, 'bills', b.id, 'order cancelled')
        if (ctx.derived.totals.paid > 0n) {
          const id = ctx.newRecordId()
          ctx.w.addRecord('refunds', id, { id, amount: minorToString(ctx.derived.totals.paid), ref: 'order cancelled (conflict resolution)', date: today(ctx), ...ctx.stamp } as unknown as Json)
        }
      },
    },
    'short-close': { label: 'Short-close: keep what was received, close the order', effect: 'removes', resolve: (ctx) => force(ctx, 'closed') },
  },
})
