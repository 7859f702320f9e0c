/** CONCURRENT_GUARDED_WRITE: two concurrent values of a guarded header field (supplier, currency, rate). */
import { fail } from '../../errors.js'
import { canonicalJson } from '../../json.js'
import { currencyExponent, parseCurrencyCode } from '../../money/currency.js'
import * as input from '../../purchase/inputs.js'
import { GUARDED_FIELDS } from '../../purchase/model.js'
import { entryBranch, uniqSorted } from '../evidence.js'
import { type Found, type ResolveContext, defineKind } from '../spec.js'
import { param, writeReg } from '../writes.js'

/**
 * A custom value for a guarded field passes the checks its own command makes
 * (a canonical rate, a currency of the order's exponent, a bounded supplier
 * name), so a resolution cannot write what no command could.
 */
function customGuardedValue(ctx: ResolveContext): string {
  const v = param(ctx, 'value')
  switch (ctx.conflict.facts.field) {
    case 'supplier':
      return input.text('value', v, { required: true })
    case 'fxRate':
      return input.rate('value', v)
    case 'currency': {
      const c = input.field('value', () => parseCurrencyCode(v))
      input.field('value', () => currencyExponent(c, ctx.state.settings.currencyExponent))
      return c
    }
    default:
      return fail('INVALID_RESOLUTION', `no custom value for field ${String(ctx.conflict.facts.field)}`)
  }
}

const fieldName = (f: { readonly [k: string]: string }): string => f.field ?? ''

export const concurrentGuardedWrite = defineKind({
  label: 'Two values set at the same time',
  severity: 'BLOCKING',
  scope: 'order',
  detect: ({ state }) => {
    const out: Found<'keep'>[] = []
    for (const field of GUARDED_FIELDS) {
      if (field === 'statedTotal') continue // TOTAL_MISMATCH owns the stated total
      const entries = state[field].entries
      const values = [...new Set(entries.map((e) => canonicalJson(e.value)))]
      if (values.length < 2) continue
      // Two concurrent resolutions of one conflict: CONCURRENT_RESOLUTIONS reports it once.
      if (entries.every((e) => e.res !== undefined && e.res === entries[0]!.res)) continue
      out.push({
        subject: `field:h.${field}`,
        causes: uniqSorted(entries.map((e) => e.ev)),
        branches: entries.map((e) => entryBranch(e, `set ${field} to ${String(e.value)}`)),
        facts: { field, values: entries.map((e) => String(e.value)).join(' | ') },
        choices: { keep: { value: [...entries].reverse().map((e) => String(e.value)) } },
      })
    }
    return out
  },
  options: {
    keep: {
      label: 'Keep one value',
      params: [{ name: 'value', label: fieldName }],
      effect: 'removes',
      resolve: (ctx) => writeReg(ctx, `h.${fieldName(ctx.conflict.facts)}`, param(ctx, 'value')),
    },
    custom: {
      label: 'Enter another value',
      params: [{ name: 'value', label: fieldName }],
      effect: 'removes',
      resolve: (ctx) => writeReg(ctx, `h.${fieldName(ctx.conflict.facts)}`, customGuardedValue(ctx)),
    },
  },
})
