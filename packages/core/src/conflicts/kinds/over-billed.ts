/** OVER_BILLED: more billed on a line than received (goods) or ordered (services). */
import type { RecordId } from '../../ids.js'
import { compareDecimal } from '../../money/decimal.js'
import { lineActivity, recordBranch, uniqSorted } from '../evidence.js'
import { acceptWithNote, defineKind } from '../spec.js'
import { param, voidRecord } from '../writes.js'

export const overBilled = defineKind({
  label: 'Billed more than received',
  severity: 'BLOCKING',
  scope: 'line',
  detect: ({ state, derived }, line) => {
    if (line.removed) return undefined
    const t = derived.lines.get(line.id)!
    const limit = line.kind === 'goods' ? t.received : line.qty
    if (compareDecimal(t.billed, limit) <= 0) return undefined
    const act = lineActivity(state, derived, line.id)
    return {
      subject: `line:${line.id}`,
      causes: uniqSorted([...act.bills, ...act.receipts, ...act.returns].map((r) => r.ev)),
      branches: [
        ...act.bills.map((b) => recordBranch(b, `billed ${b.qty}`)),
        ...act.returns.map((r) => recordBranch(r, `returned ${r.qty}`)),
      ],
      facts: { line: line.product, billed: t.billed, [line.kind === 'goods' ? 'received' : 'ordered']: limit },
      choices: { 'void-bill': { bill: act.bills.map((b) => b.id) } },
    }
  },
  options: {
    accept: acceptWithNote('Accept: a credit note will follow'),
    'void-bill': {
      label: 'Void a bill',
      params: [{ name: 'bill', label: 'Bill' }],
      effect: 'removes',
      resolve: (ctx) => voidRecord(ctx, 'bills', param(ctx, 'bill') as RecordId, 'over-billed (conflict resolution)'),
    },
  },
})
