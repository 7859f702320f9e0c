/**
 * Monetary amounts: integer minor units (`bigint`) in memory, decimal-integer
 * strings on the wire and in documents. No floats anywhere on this path.
 */
import { fail } from '../errors.js'
import { type Decimal, decimalParts, parseDecimal } from './decimal.js'
import { type RoundingMode, roundDiv } from './rounding.js'
import type { CurrencyExponent } from './currency.js'

/** Minor units as a wire string: an optional "-" and digits, no leading zeros. */
export type MinorString = string & { readonly __minor: true }

const MINOR_RE = /^-?(0|[1-9]\d{0,30})$/

export function parseMinor(input: unknown): bigint {
  if (typeof input !== 'string' || !MINOR_RE.test(input) || input === '-0') {
    fail('INVALID_MONEY', `amount must be a decimal-integer string of minor units, got ${JSON.stringify(input)}`)
  }
  return BigInt(input)
}

export function minorToString(amount: bigint): MinorString {
  return amount.toString() as MinorString
}

/** "12.34" in a currency of exponent 2 is 1234n. Refuses more decimals than the currency has. */
export function majorToMinor(input: string, exponent: CurrencyExponent): bigint {
  const d = parseDecimal(input, { maxScale: exponent, maxIntegerDigits: 20 })
  const { units, scale } = decimalParts(d)
  return units * 10n ** BigInt(exponent - scale)
}

/** 1234n with exponent 2 is "12.34"; exponent 0 is "1234". Always shows every minor digit. */
export function formatMinor(amount: bigint, exponent: CurrencyExponent): string {
  const negative = amount < 0n
  let digits = (negative ? -amount : amount).toString()
  if (exponent > 0) {
    digits = digits.padStart(exponent + 1, '0')
    digits = `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`
  }
  return negative ? `-${digits}` : digits
}

/**
 * The product of a minor-unit amount (or a decimal) and decimal factors,
 * rounded once to minor units. Rounding once, at the end, is what keeps a
 * line's amount independent of the order its factors are applied in.
 */
export function multiplyToMinor(
  factors: readonly Decimal[],
  exponent: CurrencyExponent,
  mode: RoundingMode,
  divisor: bigint = 1n,
): bigint {
  let units = 1n
  let scale = 0
  for (const f of factors) {
    const p = decimalParts(f)
    units *= p.units
    scale += p.scale
  }
  // value = units / 10^scale / divisor, wanted in minor units: * 10^exponent
  const shift = exponent - scale
  const numerator = shift >= 0 ? units * 10n ** BigInt(shift) : units
  const denominator = (shift >= 0 ? 1n : 10n ** BigInt(-shift)) * divisor
  return roundDiv(numerator, denominator, mode)
}
