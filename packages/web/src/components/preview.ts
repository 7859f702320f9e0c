/**
 * Totals while a person types: the value being typed applied to a copy of the
 * state and derived exactly as core derives the real thing.
 */
import { type LineId, type PurchaseDerived, type PurchaseLine, type PurchaseState, derivePurchase, parseDecimal } from '@concord/core'

export interface LinePreview {
  readonly line: LineId
  readonly field: 'qty' | 'price' | 'discount'
  readonly value: string
}

const PREVIEW_LIMITS = {
  qty: { maxScale: 4, nonNegative: true, maxIntegerDigits: 9 },
  price: { maxScale: 6, nonNegative: true, maxIntegerDigits: 12 },
  discount: { maxScale: 4, nonNegative: true, maxIntegerDigits: 3 },
} as const

/** Totals as they would be with the value being typed: derive is a pure function of state, so this is exact. */
export function previewDerived(state: PurchaseState, p: LinePreview): PurchaseDerived | null {
  try {
    const v = parseDecimal(p.value, PREVIEW_LIMITS[p.field])
    const lines = state.lines.map((l): PurchaseLine => {
      if (l.id !== p.line) return l
      if (p.field === 'qty') return { ...l, qty: v }
      if (p.field === 'price') return { ...l, price: { ...l.price, amount: v } }
      return { ...l, discount: v }
    })
    return derivePurchase({ ...state, lines })
  } catch {
    return null
  }
}

