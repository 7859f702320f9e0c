/** OVER_RECEIPT: more of a goods line received than ordered, past the tolerance. */
import { subDecimal } from '../../money/decimal.js'
import { keys } from '../../purchase/model.js'
import type { RecordId } from '../../ids.js'
import type { Json } from '../../json.js'
import { entryBranch, exceeds, lineActivity, recordBranch, reg, uniqSorted } from '../evidence.js'
import { acceptWithNote, defineKind } from '../spec.js'
import { lineOf, param, today, voidRecord, writeReg } from '../writes.js'

export const overReceipt = defineKind({
  label: 'More received than ordered',
  severity: 'BLOCKING',
  scope: 'line',
  detect: ({ state, derived }, line) => {
    if (line.removed || line.kind !== 'goods') return undefined
    const t = derived.lines.get(line.id)!
    if (!exceeds(t.received, line.qty, state.settings.receiptTolerance)) return undefined
    const act = lineActivity(state, derived, line.id)
    const qtyEntries = reg(state, `l.${line.id}.qty`)
    const excess = subDecimal(t.received, line.qty)
    return {
      subject: `line:${line.id}`,
      causes: uniqSorted([...act.receipts, ...act.returns].map((r) => r.ev).concat(qtyEntries.map((e) => e.ev))),
      branches: [
        ...qtyEntries.map((e) => entryBranch(e, `ordered ${String(e.value)}`)),
        ...act.receipts.map((r) => recordBranch(r, `received ${r.qty} (${r.deliveryNote})`)),
      ],
      facts: { line: line.product, ordered: line.qty, received: t.received, excess, tolerance: `${state.settings.receiptTolerance}%` },
      choices: { 'void-receipt': { receipt: act.receipts.map((r) => r.id) } },
    }
  },
  options: {
    accept: acceptWithNote('Accept the excess with a note'),
    'raise-qty': {
      label: (f) => `Raise the ordered quantity to ${f.received}`,
      effect: 'removes',
      resolve: (ctx) => {
        const line = lineOf(ctx)
        writeReg(ctx, keys.line(line, 'qty'), ctx.derived.lines.get(line)!.received)
      },
    },
    'return-excess': {
      label: (f) => `Return the excess (${f.excess})`,
      effect: 'removes',
      resolve: (ctx) => {
        const line = lineOf(ctx)
        const l = ctx.state.lines.find((x) => x.id === line)!
        const excess = subDecimal(ctx.derived.lines.get(line)!.received, l.qty)
        const id = ctx.newRecordId()
        ctx.w.addRecord('returns', id, { id, line, qty: excess, reason: 'excess returned (conflict resolution)', date: today(ctx), ...ctx.stamp } as unknown as Json)
      },
    },
    'void-receipt': {
      label: 'Void a duplicate receipt',
      params: [{ name: 'receipt', label: 'Receipt' }],
      effect: 'removes',
      resolve: (ctx) => voidRecord(ctx, 'receipts', param(ctx, 'receipt') as RecordId, 'duplicate receipt (conflict resolution)'),
    },
  },
})
