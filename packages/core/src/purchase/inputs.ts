/** Parsing of command inputs: every bad value is a typed error naming the field. */
import { ConcordError, fail, isConcordError } from '../errors.js'
import { type Decimal, compareDecimal, parseDecimal } from '../money/decimal.js'
import { BOUNDS } from './schema.js'

export function field<T>(name: string, parse: () => T): T {
  try {
    return parse()
  } catch (e) {
    if (isConcordError(e)) throw new ConcordError(e.code, `${name}: ${e.message}`, { ...e.details, field: name })
    throw e
  }
}

export function text(name: string, v: unknown, { max = 200, required = false } = {}): string {
  if (typeof v !== 'string') fail('INVALID_ARGUMENT', `${name} must be a string`, { field: name })
  const s = v.trim()
  if (required && s === '') fail('INVALID_ARGUMENT', `${name} is required`, { field: name })
  if (s.length > max) fail('INVALID_ARGUMENT', `${name} is longer than ${max} characters`, { field: name })
  return s
}

export const quantity = (name: string, v: unknown, { allowZero = false } = {}): Decimal =>
  field(name, () => {
    const d = parseDecimal(v, BOUNDS.quantity)
    if (!allowZero && compareDecimal(d, '0' as Decimal) === 0) fail('INVALID_DECIMAL', 'must be greater than zero')
    return d
  })

export const unitPrice = (name: string, v: unknown): Decimal =>
  field(name, () => parseDecimal(v, BOUNDS.unitPrice))

export const percent = (name: string, v: unknown): Decimal =>
  field(name, () => {
    const d = parseDecimal(v, BOUNDS.percent)
    if (compareDecimal(d, '100' as Decimal) > 0) fail('INVALID_DECIMAL', 'must be at most 100')
    return d
  })

export const rate = (name: string, v: unknown): Decimal =>
  field(name, () => {
    const d = parseDecimal(v, BOUNDS.fxRate)
    if (compareDecimal(d, '0' as Decimal) === 0) fail('INVALID_DECIMAL', 'must be greater than zero')
    return d
  })
