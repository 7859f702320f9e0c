/**
 * Currencies and their exponents (ISO 4217 minor units). An order freezes its
 * exponent at creation: changing it would reinterpret every stored amount.
 */
import { fail } from '../errors.js'

export type CurrencyCode = string & { readonly __currency: true }
export type CurrencyExponent = 0 | 1 | 2 | 3 | 4

const KNOWN: Readonly<Record<string, CurrencyExponent>> = {
  EUR: 2, USD: 2, GBP: 2, CHF: 2, SEK: 2, NOK: 2, DKK: 2, PLN: 2, CZK: 2, HUF: 2,
  CAD: 2, AUD: 2, NZD: 2, CNY: 2, INR: 2, BRL: 2, MXN: 2, ZAR: 2, SGD: 2, HKD: 2,
  JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, XOF: 0, XAF: 0,
  KWD: 3, BHD: 3, JOD: 3, OMR: 3, TND: 3, LYD: 3, IQD: 3,
  CLF: 4, UYW: 4,
}

export function parseCurrencyCode(input: unknown): CurrencyCode {
  if (typeof input !== 'string' || !/^[A-Z]{3}$/.test(input)) {
    fail('INVALID_CURRENCY', `currency code must be three capital letters, got ${JSON.stringify(input)}`)
  }
  return input as CurrencyCode
}

/** The ISO exponent of a known currency, or the one given for a private code. */
export function currencyExponent(code: CurrencyCode, explicit?: number): CurrencyExponent {
  const known = KNOWN[code]
  if (explicit !== undefined) {
    if (!Number.isInteger(explicit) || explicit < 0 || explicit > 4) {
      fail('INVALID_CURRENCY', `currency exponent must be 0 to 4, got ${explicit}`)
    }
    if (known !== undefined && known !== explicit) {
      fail('INVALID_CURRENCY', `${code} has exponent ${known}, not ${explicit}`)
    }
    return explicit as CurrencyExponent
  }
  if (known === undefined) fail('INVALID_CURRENCY', `unknown currency ${code}: give its exponent explicitly`)
  return known
}
