/** APPROVAL_BYPASSED: lines added concurrently with confirmation took the total over the approval threshold. */
import { formatMinor, parseMinor } from '../../money/amount.js'
import { keys } from '../../purchase/model.js'
import { covers } from '../../ids.js'
import { recordBranch, reg, uniqSorted } from '../evidence.js'
import { accepting, defineKind } from '../spec.js'
import { force, writeReg } from '../writes.js'

export const approvalBypassed = defineKind({
  label: 'Total went over the approval threshold',
  severity: 'BLOCKING',
  scope: 'order',
  detect: ({ state, derived }) => {
    const threshold = state.settings.approvalThreshold
    const c = derived.lifecycle.confirmedBy
    if (threshold === null || c === undefined || c.action !== 'confirm') return []
    if (!['confirmed', 'locked', 'closed'].includes(derived.lifecycle.state)) return []
    const total = derived.totals.total
    if (total <= parseMinor(threshold)) return []
    const late = state.lines.filter((l) => !l.removed && !covers(c.vv, l.created.ev))
    const lateEdits = state.lines.flatMap((l) => [...reg(state, `l.${l.id}.qty`), ...reg(state, `l.${l.id}.price`)]).filter((e) => !covers(c.vv, e.ev) && e.ev !== c.ev)
    const exp = state.settings.currencyExponent
    return [{
      subject: 'order',
      causes: uniqSorted([c.ev, ...late.map((l) => l.created.ev), ...lateEdits.map((e) => e.ev)]),
      branches: [recordBranch(c, 'confirmed'), ...late.map((l) => recordBranch(l.created, `added ${l.product}`))],
      facts: { total: formatMinor(total, exp), threshold: formatMinor(parseMinor(threshold), exp) },
      idFacts: [total.toString()],
    }]
  },
  options: {
    'send-to-approval': { label: 'Send back to approval', effect: 'removes', resolve: (ctx) => force(ctx, 'toApprove') },
    'approve-now': accepting('Approve now (approvers only)'),
    'revert-late-lines': {
      label: 'Remove the lines added after confirmation',
      effect: 'removes',
      resolve: (ctx) => {
        for (const l of ctx.state.lines) {
          if (!l.removed && ctx.conflict.causes.includes(l.created.ev)) writeReg(ctx, keys.line(l.id, 'removed'), true)
        }
      },
    },
  },
})
