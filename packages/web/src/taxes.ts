/**
 * The taxes a line can be given: common rates, the rates already on the
 * order (so a custom rate entered once is offered on the next line), and any
 * other rate with a name. Each line keeps a snapshot of the tax it was
 * given (code, name, rate); core takes any percent from 0 to 100.
 */
import type { PurchaseState } from '@concord/core'

export interface TaxChoice {
  readonly code: string
  readonly name: string
  /** Percent as core's decimal string ("7.7"). */
  readonly rate: string
}

/** Offered on every order; the codes of the first ones are those earlier versions wrote. */
export const TAX_PRESETS: readonly TaxChoice[] = [
  { code: 'VAT20', name: 'VAT', rate: '20' },
  { code: 'VAT10', name: 'VAT', rate: '10' },
  { code: 'VAT5_5', name: 'VAT', rate: '5.5' },
  { code: 'ST7_5', name: 'Sales tax', rate: '7.5' },
  { code: 'VAT19', name: 'VAT', rate: '19' },
  { code: 'VAT7', name: 'VAT', rate: '7' },
  { code: 'VAT25', name: 'VAT', rate: '25' },
  { code: 'ZERO', name: 'Zero-rated', rate: '0' },
]

/** The value of the "other rate" entry in a tax select. */
export const OTHER_RATE = '+other'

/**
 * A code for a tax entered by name and rate: letters and digits of the name,
 * then the rate ("GST 7.7" -> GST_7_7). Two taxes with the same name and rate
 * get the same code, so they add up together in the totals; different rates
 * never share one.
 */
export function taxCodeFor(name: string, rate: string): string {
  const letters = name.normalize('NFD').replace(/[^A-Za-z0-9]/g, '').toUpperCase().slice(0, 10) || 'TAX'
  return `${letters}_${rate.replace('.', '_')}`.slice(0, 20)
}

/** Presets, then every other tax the order's lines carry, by rate. */
export function taxChoices(state: PurchaseState): TaxChoice[] {
  const out = new Map<string, TaxChoice>(TAX_PRESETS.map((t) => [t.code, t]))
  for (const l of state.lines) for (const t of l.taxes) if (!out.has(t.code)) out.set(t.code, { code: t.code, name: t.name, rate: t.rate })
  return [...out.values()].sort((a, b) => Number(a.rate) - Number(b.rate) || a.name.localeCompare(b.name))
}
