/** TOTAL_MISMATCH: the stated total differs from the total the lines compute. */
import { fail } from '../../errors.js'
import type { LineId } from '../../ids.js'
import type { Json } from '../../json.js'
import { type Decimal, addDecimal, decimalFromParts, decimalParts } from '../../money/decimal.js'
import { formatMinor, minorToString, parseMinor } from '../../money/amount.js'
import { roundDiv } from '../../money/rounding.js'
import { derivePurchase } from '../../purchase/derive.js'
import { type PurchaseLine, type PurchaseState, type TaxSnapshot, keys } from '../../purchase/model.js'
import { keyBetween } from '../../purchase/sort-key.js'
import { entryBranch, uniqSorted } from '../evidence.js'
import { type ResolveContext, defineKind } from '../spec.js'
import { param, writeReg } from '../writes.js'

/** The taxes an adjustment may carry: none, or one the order's live lines carry (by code, as its first line has it). */
function taxChoices(state: PurchaseState): Map<string, TaxSnapshot> {
  const out = new Map<string, TaxSnapshot>()
  for (const l of state.lines) if (!l.removed) for (const t of l.taxes) if (!out.has(t.code)) out.set(t.code, t)
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)))
}

/** The order's total with one more one-unit service line at `price` minor units carrying `taxes`: the order's own derivation decides. */
function totalWith(ctx: ResolveContext, price: bigint, taxes: readonly TaxSnapshot[]): bigint {
  const { state } = ctx
  const probe: PurchaseLine = {
    id: 'adjustment' as LineId, kind: 'service', created: { id: 'adjustment' as LineId, kind: 'service', vv: ctx.vv, ...ctx.stamp },
    product: 'Adjustment', description: '', qty: '1' as Decimal, discount: '0' as Decimal, uom: 'unit', sortKey: '~', removed: false,
    price: { amount: decimalFromParts({ units: price, scale: state.settings.currencyExponent }), currency: state.currency.values[0]! },
    taxes,
  }
  return derivePurchase({ ...state, lines: [...state.lines, probe] }).totals.total
}

function addLine(ctx: ResolveContext, product: string, price: bigint, taxes: readonly TaxSnapshot[], after: string | null): string {
  const id = ctx.newRecordId() as unknown as LineId
  ctx.w.addRecord('lines', id, { id, kind: 'service', vv: ctx.vv, ...ctx.stamp } as unknown as Json)
  writeReg(ctx, keys.line(id, 'product'), product)
  writeReg(ctx, keys.line(id, 'qty'), '1')
  // An adjustment may be negative: its unit price carries the sign.
  const amount = decimalFromParts({ units: price, scale: ctx.state.settings.currencyExponent })
  writeReg(ctx, keys.line(id, 'price'), { amount, currency: ctx.state.currency.values[0] ?? '' })
  const sortKey = keyBetween(after, null)
  writeReg(ctx, keys.line(id, 'sortKey'), sortKey)
  for (const t of taxes) writeReg(ctx, keys.tax(id, t.code), { on: true, code: t.code, name: t.name, rate: t.rate })
  return sortKey
}

/**
 * Adds a service line for the difference, carrying the tax the person chose
 * (so the tax follows the order's treatment instead of staying on the old
 * base), and states the total it makes. Its price is the one that moves the
 * total by exactly the difference under the order's tax mode and rounding;
 * when rounding leaves no such price, a second, untaxed line takes the
 * rounding remainder, so the lines always reach the stated total.
 */
function adjustTo(ctx: ResolveContext, stated: bigint): void {
  const diff = stated - ctx.derived.totals.total
  if (diff !== 0n) {
    const code = ctx.params.tax ?? 'none'
    const tax = code === 'none' ? undefined : taxChoices(ctx.state).get(code)
    if (code !== 'none' && tax === undefined) fail('INVALID_RESOLUTION', `no line of the order carries the tax ${JSON.stringify(code)}`)
    const taxes = tax === undefined ? [] : [tax]
    const base = ctx.derived.totals.total
    // Exclusive taxes come on top of the price: start from diff / (1 + rate) and look around it.
    const { units, scale } = decimalParts(addDecimal('100' as Decimal, tax === undefined || ctx.state.settings.taxMode === 'INCLUSIVE' ? '0' as Decimal : tax.rate))
    const guess = roundDiv(diff * 100n * 10n ** BigInt(scale), units, 'HALF_UP')
    let price = guess
    let moved = totalWith(ctx, guess, taxes) - base
    for (let d = 1n; d <= 3n && moved !== diff; d++) {
      for (const p of [guess - d, guess + d]) {
        const m = totalWith(ctx, p, taxes) - base
        if (distance(diff, m) < distance(diff, moved)) {
          price = p
          moved = m
        }
      }
    }
    const last = ctx.state.lines[ctx.state.lines.length - 1]?.sortKey ?? null
    const key = addLine(ctx, 'Adjustment', price, taxes, last)
    if (moved !== diff) addLine(ctx, 'Rounding adjustment', diff - moved, [], key)
  }
  writeReg(ctx, keys.guarded('statedTotal'), minorToString(stated))
}

/** Optional: without it the adjustment carries no tax. */
/** |a - b| in minor units, exact at any size (amounts reach 30 digits, beyond a float). */
const distance = (a: bigint, b: bigint): bigint => (a > b ? a - b : b - a)

const TAX_PARAM = { name: 'tax', label: 'Tax on the adjustment', optional: true }

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
      choices: {
        'adjustment-line': { stated: values, tax: ['none', ...taxChoices(state).keys()] },
        keep: { value: values, tax: ['none', ...taxChoices(state).keys()] },
        custom: { tax: ['none', ...taxChoices(state).keys()] },
      },
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
      params: [{ name: 'stated', label: 'Stated total' }, TAX_PARAM],
      effect: 'removes',
      resolve: (ctx) => adjustTo(ctx, parseMinor(param(ctx, 'stated'))),
    },
    keep: {
      label: 'Keep one stated total (the commitment stands)',
      params: [{ name: 'value', label: 'Stated total' }, TAX_PARAM],
      effect: 'removes',
      resolve: (ctx) => adjustTo(ctx, parseMinor(param(ctx, 'value'))),
    },
    custom: {
      label: 'State another total',
      params: [{ name: 'value', label: 'Total in minor units' }, TAX_PARAM],
      effect: 'removes',
      resolve: (ctx) => adjustTo(ctx, parseMinor(param(ctx, 'value'))),
    },
  },
})
