/** TOTAL_MISMATCH: the stated total differs from the total the lines compute. */
import type { LineId } from '../../ids.js'
import type { Json } from '../../json.js'
import { decimalFromParts } from '../../money/decimal.js'
import { formatMinor, minorToString, parseMinor } from '../../money/amount.js'
import { keys } from '../../purchase/model.js'
import { keyBetween } from '../../purchase/sort-key.js'
import { entryBranch, uniqSorted } from '../evidence.js'
import { type ResolveContext, defineKind } from '../spec.js'
import { param, writeReg } from '../writes.js'

/** Adds a service line for the difference and states the total it makes. */
function adjustTo(ctx: ResolveContext, stated: bigint): void {
  const diff = stated - ctx.derived.totals.total
  if (diff !== 0n) {
    const id = ctx.newRecordId() as unknown as LineId
    ctx.w.addRecord('lines', id, { id, kind: 'service', vv: ctx.vv, ...ctx.stamp } as unknown as Json)
    writeReg(ctx, keys.line(id, 'product'), 'Adjustment')
    writeReg(ctx, keys.line(id, 'qty'), '1')
    // An adjustment may be negative: its unit price carries the sign.
    const amount = decimalFromParts({ units: diff, scale: ctx.state.settings.currencyExponent })
    writeReg(ctx, keys.line(id, 'price'), { amount, currency: ctx.state.currency.values[0] ?? '' })
    writeReg(ctx, keys.line(id, 'sortKey'), keyBetween(ctx.state.lines[ctx.state.lines.length - 1]?.sortKey ?? null, null))
  }
  writeReg(ctx, keys.guarded('statedTotal'), minorToString(stated))
}

export const totalMismatch = defineKind({
  label: 'Stated total does not match the lines',
  severity: 'REVIEW',
  scope: 'order',
  detect: ({ state, derived }) => {
    const entries = state.statedTotal.entries
    if (entries.length === 0) return []
    const total = derived.totals.total
    const values = [...new Set(state.statedTotal.values)]
    if (values.length === 1 && parseMinor(values[0]) === total) return []
    const exp = state.settings.currencyExponent
    return [{
      subject: 'order',
      causes: uniqSorted(entries.map((e) => e.ev)),
      branches: entries.map((e) => entryBranch(e, `stated total ${formatMinor(parseMinor(e.value as string), exp)}`)),
      facts: { computed: formatMinor(total, exp), stated: values.map((v) => formatMinor(parseMinor(v), exp)).join(', ') },
      idFacts: [total.toString()],
      choices: { 'adjustment-line': { stated: values }, keep: { value: values } },
    }]
  },
  // The stated total is a commitment: keeping one (or stating another) means
  // the lines must reach it, so each adds the adjustment line that makes the
  // computed total equal it; the invariant then holds again.
  options: {
    'accept-computed': {
      label: 'Accept the computed total',
      effect: 'removes',
      resolve: (ctx) => writeReg(ctx, keys.guarded('statedTotal'), minorToString(ctx.derived.totals.total)),
    },
    'adjustment-line': {
      label: 'Add an adjustment line to reach a stated total',
      params: [{ name: 'stated', label: 'Stated total' }],
      effect: 'removes',
      resolve: (ctx) => adjustTo(ctx, parseMinor(param(ctx, 'stated'))),
    },
    keep: {
      label: 'Keep one stated total (the commitment stands)',
      params: [{ name: 'value', label: 'Stated total' }],
      effect: 'removes',
      resolve: (ctx) => adjustTo(ctx, parseMinor(param(ctx, 'value'))),
    },
    custom: {
      label: 'State another total',
      params: [{ name: 'value', label: 'Total in minor units' }],
      effect: 'removes',
      resolve: (ctx) => adjustTo(ctx, parseMinor(param(ctx, 'value'))),
    },
  },
})
