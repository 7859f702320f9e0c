/** Integer rounding of exact rationals, in the two modes an order can freeze. */
export type RoundingMode = 'HALF_UP' | 'HALF_EVEN'

/** Where tax is rounded: on each line, or once per tax rate over the order. */
export type TaxRounding = 'PER_LINE' | 'GLOBAL'

export interface RoundingPolicy {
  readonly mode: RoundingMode
  readonly tax: TaxRounding
}

/**
 * Rounds numerator / denominator to an integer. HALF_UP rounds ties away from
 * zero (what most invoices mean by "round half up"); HALF_EVEN rounds ties to
 * the even neighbour (banker's rounding).
 */
export function roundDiv(numerator: bigint, denominator: bigint, mode: RoundingMode): bigint {
  if (denominator === 0n) throw new RangeError('division by zero')
  if (denominator < 0n) {
    numerator = -numerator
    denominator = -denominator
  }
  const negative = numerator < 0n
  const n = negative ? -numerator : numerator
  let q = n / denominator
  const r = n % denominator
  const twice = 2n * r
  if (twice > denominator || (twice === denominator && (mode === 'HALF_UP' || q % 2n === 1n))) q += 1n
  return negative ? -q : q
}
