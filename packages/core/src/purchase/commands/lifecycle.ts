/** The lifecycle command: one transition record per action, checked against the state machine and the order's holds and conflicts. */
import { parseRecordId } from '../../ids.js'
import type { Json } from '../../json.js'
import type { EventEnvelope } from '../../log/envelope.js'
import { parseMinor } from '../../money/amount.js'
import { type Decimal, compareDecimal } from '../../money/decimal.js'
import { allowedActions, nextState } from '../lifecycle.js'
import type { TransitionAction } from '../model.js'
import { type CommandContext, refuse, requireNotBlocked } from './context.js'

export function transition(ctx: CommandContext, action: Exclude<TransitionAction, 'force'>): EventEnvelope {
  const lc = ctx.derived().lifecycle
  if (nextState(lc.state, action) === undefined) {
    refuse(`cannot ${action} an order that is ${lc.state}; allowed: ${allowedActions(lc.state).join(', ') || 'none'}`, { state: lc.state, action })
  }
  if (['send', 'submit', 'confirm', 'approve'].includes(action) && ctx.state().hold.on) refuse(`the order is on hold: ${ctx.state().hold.reason}`)
  if (['confirm', 'approve'].includes(action)) requireNotBlocked(ctx, ['order', 'lifecycle'], action)
  if (action === 'confirm') {
    const threshold = ctx.state().settings.approvalThreshold
    if (threshold !== null && ctx.derived().totals.total > parseMinor(threshold)) refuse('the total is above the approval threshold: submit it for approval')
  }
  if (action === 'cancel') {
    const d = ctx.derived()
    if ([...d.lines.values()].some((t) => compareDecimal(t.received, '0' as Decimal) > 0 || compareDecimal(t.billed, '0' as Decimal) > 0) || d.totals.paid > 0n) {
      refuse('an order with receipts, bills or payments cannot be cancelled: return and refund first, or close it')
    }
  }
  const id = parseRecordId(ctx.newId())
  const vv = ctx.clockRecord()
  return ctx.commit(`lifecycle.${action}`, (w, s) => w.addRecord('transitions', id, { id, action, vv, ...s } as unknown as Json))
}

