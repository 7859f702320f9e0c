/**
 * Canonical decimal strings for rates (quantity, unit price, discount %, tax
 * rate, FX rate). Canonical means: no exponent, no leading zeros, no trailing
 * fractional zeros, no "+", "-0" is "0". Two replicas that mean the same rate
 * therefore store the same string, and arithmetic on them is exact (bigint).
 */
import { fail } from '../errors.js'

export type Decimal = string & { readonly __decimal: true }

/** A decimal as an integer and a power-of-ten scale: value = units / 10^scale. */
export interface DecimalParts {
  readonly units: bigint
  readonly scale: number
}

const DECIMAL_RE = /^(-)?(\d+)(?:\.(\d+))?$/

export interface DecimalBounds {
  /** Largest number of fractional digits accepted. */
  maxScale?: number
  /** Refuse negative values. */
  nonNegative?: boolean
  /** Largest number of integer digits accepted (bounds stored sizes). */
  maxIntegerDigits?: number
}

/** Parses user or wire input into a canonical decimal, or throws INVALID_DECIMAL. */
export function parseDecimal(input: unknown, bounds: DecimalBounds = {}): Decimal {
  const { maxScale = 6, nonNegative = false, maxIntegerDigits = 15 } = bounds
  if (typeof input !== 'string') fail('INVALID_DECIMAL', `decimal must be a string, got ${typeof input}`)
  const m = DECIMAL_RE.exec(input.trim())
  if (m === null) fail('INVALID_DECIMAL', `not a decimal: ${JSON.stringify(input)}`)
  const negative = m[1] === '-'
  const intPart = (m[2] ?? '0').replace(/^0+(?=\d)/, '')
  const frac = (m[3] ?? '').replace(/0+$/, '')
  if (frac.length > maxScale) fail('INVALID_DECIMAL', `${input} has more than ${maxScale} decimal places`, { maxScale })
  if (intPart.length > maxIntegerDigits) fail('INVALID_DECIMAL', `${input} is too large`, { maxIntegerDigits })
  const isZero = intPart === '0' && frac === ''
  if (negative && !isZero && nonNegative) fail('INVALID_DECIMAL', `${input} must not be negative`)
  const body = frac === '' ? intPart : `${intPart}.${frac}`
  return (negative && !isZero ? `-${body}` : body) as Decimal
}

// Quantities and prices repeat (every line at "3" or "2.5"); parsing them to
// bigint dominates deriving totals, so parsed parts are memoised (bounded).
const PARTS_CACHE = new Map<string, DecimalParts>()
const PARTS_CACHE_MAX = 20_000

export function decimalParts(d: Decimal): DecimalParts {
  let parts = PARTS_CACHE.get(d)
  if (parts === undefined) {
    if (PARTS_CACHE.size >= PARTS_CACHE_MAX) PARTS_CACHE.clear()
    parts = parseParts(d)
    PARTS_CACHE.set(d, parts)
  }
  return parts
}

function parseParts(d: Decimal): DecimalParts {
  const negative = d.startsWith('-')
  const body = negative ? d.slice(1) : d
  const dot = body.indexOf('.')
  const digits = dot < 0 ? body : body.slice(0, dot) + body.slice(dot + 1)
  const scale = dot < 0 ? 0 : body.length - dot - 1
  const units = BigInt(digits)
  return { units: negative ? -units : units, scale }
}

/** Renders parts back to a canonical decimal string (exact). */
export function decimalFromParts({ units, scale }: DecimalParts): Decimal {
  const negative = units < 0n
  let digits = (negative ? -units : units).toString()
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0')
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`.replace(/\.?0+$/, '')
  }
  const zero = /^0(\.0*)?$/.test(digits)
  return (negative && !zero ? `-${digits}` : digits) as Decimal
}

export function compareDecimal(a: Decimal, b: Decimal): number {
  const pa = decimalParts(a)
  const pb = decimalParts(b)
  const scale = Math.max(pa.scale, pb.scale)
  const ua = pa.units * 10n ** BigInt(scale - pa.scale)
  const ub = pb.units * 10n ** BigInt(scale - pb.scale)
  return ua < ub ? -1 : ua > ub ? 1 : 0
}

export const ZERO = '0' as Decimal

function aligned(a: Decimal, b: Decimal): [bigint, bigint, number] {
  const pa = decimalParts(a)
  const pb = decimalParts(b)
  const scale = Math.max(pa.scale, pb.scale)
  return [pa.units * 10n ** BigInt(scale - pa.scale), pb.units * 10n ** BigInt(scale - pb.scale), scale]
}

export function addDecimal(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = aligned(a, b)
  return decimalFromParts({ units: x + y, scale })
}

export function subDecimal(a: Decimal, b: Decimal): Decimal {
  const [x, y, scale] = aligned(a, b)
  return decimalFromParts({ units: x - y, scale })
}

export function sumDecimals(values: Iterable<Decimal>): Decimal {
  let total = ZERO
  for (const v of values) total = addDecimal(total, v)
  return total
}

export function mulDecimal(a: Decimal, b: Decimal): Decimal {
  const pa = decimalParts(a)
  const pb = decimalParts(b)
  return decimalFromParts({ units: pa.units * pb.units, scale: pa.scale + pb.scale })
}

export function isZeroDecimal(a: Decimal): boolean {
  return decimalParts(a).units === 0n
}

export function minDecimal(a: Decimal, b: Decimal): Decimal {
  return compareDecimal(a, b) <= 0 ? a : b
}
