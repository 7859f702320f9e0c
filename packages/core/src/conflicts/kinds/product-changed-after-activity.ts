/** PRODUCT_CHANGED_AFTER_ACTIVITY: a line's product changed while goods of the old one were received. */
import type { LineId } from '../../ids.js'
import type { Json } from '../../json.js'
import { type Decimal, compareDecimal, subDecimal } from '../../money/decimal.js'
import { keys } from '../../purchase/model.js'
import { keyBetween } from '../../purchase/sort-key.js'
import { entryBranch, lineActivity, recordBranch, reg, uniqSorted } from '../evidence.js'
import { type ResolveContext, defineKind } from '../spec.js'
import { lineOf, writeReg } from '../writes.js'

/** The product the live receipts on the line were for, before the change. */
function receivedProduct(ctx: ResolveContext, line: LineId, current: string): string {
  return ctx.state.receipts.find((r) => r.line === line && !ctx.derived.voided.has(r.id) && r.product !== current)!.product
}

export const productChangedAfterActivity = defineKind({
  label: 'Product changed after receipt',
  severity: 'BLOCKING',
  scope: 'line',
  detect: ({ state, derived }, line) => {
    if (line.removed) return undefined
    const stale = lineActivity(state, derived, line.id).receipts.filter((r) => r.product !== line.product)
    if (stale.length === 0) return undefined
    const product = reg(state, `l.${line.id}.product`)
    return {
      subject: `line:${line.id}`,
      causes: uniqSorted([...product.map((e) => e.ev), ...stale.map((r) => r.ev)]),
      branches: [
        ...product.map((e) => entryBranch(e, `changed the product to ${String(e.value)}`)),
        ...stale.map((r) => recordBranch(r, `received ${r.qty} of ${r.product}`)),
      ],
      facts: { product: line.product, received: [...new Set(stale.map((r) => r.product))].join(', '), receivedQty: derived.lines.get(line.id)!.received },
    }
  },
  options: {
    'split-line': {
      label: 'Split the line: what was received keeps the old product',
      effect: 'removes',
      resolve: (ctx) => {
        const line = lineOf(ctx)
        const l = ctx.state.lines.find((x) => x.id === line)!
        const received = ctx.derived.lines.get(line)!.received
        // The received goods stay on the original line under the old product...
        writeReg(ctx, keys.line(line, 'product'), receivedProduct(ctx, line, l.product))
        writeReg(ctx, keys.line(line, 'qty'), received)
        // ...and what remains to receive moves to a new line with the new product.
        const remaining = subDecimal(l.qty, received)
        if (compareDecimal(remaining, '0' as Decimal) > 0) {
          const id = ctx.newRecordId() as unknown as LineId
          ctx.w.addRecord('lines', id, { id, kind: l.kind, vv: ctx.vv, ...ctx.stamp } as unknown as Json)
          writeReg(ctx, keys.line(id, 'product'), l.product)
          writeReg(ctx, keys.line(id, 'description'), l.description)
          writeReg(ctx, keys.line(id, 'qty'), remaining)
          writeReg(ctx, keys.line(id, 'price'), l.price as unknown as Json)
          writeReg(ctx, keys.line(id, 'discount'), l.discount)
          writeReg(ctx, keys.line(id, 'uom'), l.uom)
          const next = ctx.state.lines[ctx.state.lines.findIndex((x) => x.id === l.id) + 1]?.sortKey ?? null
          writeReg(ctx, keys.line(id, 'sortKey'), keyBetween(l.sortKey, next !== null && next > l.sortKey ? next : null))
          for (const t of l.taxes) writeReg(ctx, keys.tax(id, t.code), { on: true, ...t } as unknown as Json)
        }
      },
    },
    'revert-change': {
      label: 'Revert the product change',
      effect: 'removes',
      resolve: (ctx) => {
        const line = lineOf(ctx)
        const l = ctx.state.lines.find((x) => x.id === line)!
        writeReg(ctx, keys.line(line, 'product'), receivedProduct(ctx, line, l.product))
      },
    },
  },
})
