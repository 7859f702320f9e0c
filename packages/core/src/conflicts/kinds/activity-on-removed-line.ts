/** ACTIVITY_ON_REMOVED_LINE: goods received or billed on a line someone removed. */
import { isZeroDecimal } from '../../money/decimal.js'
import { keys } from '../../purchase/model.js'
import { entryBranch, lineActivity, recordBranch, reg, uniqSorted } from '../evidence.js'
import { defineKind } from '../spec.js'
import { lineOf, voidRecord, writeReg } from '../writes.js'

export const activityOnRemovedLine = defineKind({
  label: 'Activity on a removed line',
  severity: 'BLOCKING',
  scope: 'line',
  detect: ({ state, derived }, line) => {
    if (!line.removed) return undefined
    const act = lineActivity(state, derived, line.id)
    const t = derived.lines.get(line.id)!
    if (isZeroDecimal(t.received) && isZeroDecimal(t.billed)) return undefined
    const removed = reg(state, `l.${line.id}.removed`)
    return {
      subject: `line:${line.id}`,
      causes: uniqSorted([...removed.map((e) => e.ev), ...[...act.receipts, ...act.returns, ...act.bills].map((r) => r.ev)]),
      branches: [
        ...removed.map((e) => entryBranch(e, 'removed the line')),
        ...act.receipts.map((r) => recordBranch(r, `received ${r.qty}`)),
        ...act.bills.map((b) => recordBranch(b, `billed ${b.qty}`)),
      ],
      facts: { line: line.product, received: t.received, billed: t.billed },
    }
  },
  options: {
    'restore-line': {
      label: 'Restore the line',
      effect: 'removes',
      resolve: (ctx) => writeReg(ctx, keys.line(lineOf(ctx), 'removed'), false),
    },
    'void-activity': {
      label: 'Void the receipts and bills on it',
      effect: 'removes',
      resolve: (ctx) => {
        const line = lineOf(ctx)
        const v = ctx.derived.voided
        for (const r of ctx.state.receipts) if (r.line === line && !v.has(r.id)) voidRecord(ctx, 'receipts', r.id, 'line was removed')
        for (const r of ctx.state.returns) if (r.line === line && !v.has(r.id)) voidRecord(ctx, 'returns', r.id, 'line was removed')
        for (const b of ctx.state.bills) if (b.line === line && !v.has(b.id)) voidRecord(ctx, 'bills', b.id, 'line was removed')
      },
    },
  },
})
