/**
 * Business dates and recorded-at stamps as ISO 8601 strings, validated through
 * Temporal. Documents store the strings; Temporal objects are for callers.
 */
import { Temporal } from 'temporal-polyfill'
import { fail } from '../errors.js'

/** `YYYY-MM-DD`, a calendar date with no time zone (order date, required-by). */
export type IsoDate = string & { readonly __isoDate: true }
/** `YYYY-MM-DDTHH:mm:ss.sssZ`, an exact instant (when something was recorded). */
export type IsoInstant = string & { readonly __isoInstant: true }
/** An IANA time zone name such as `Europe/Paris`. */
export type TimeZoneId = string & { readonly __tz: true }

export function parseIsoDate(input: unknown): IsoDate {
  try {
    if (typeof input !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(input)) throw new Error('shape')
    return Temporal.PlainDate.from(input, { overflow: 'reject' }).toString() as IsoDate
  } catch {
    return fail('INVALID_DATE', `not an ISO 8601 calendar date (YYYY-MM-DD): ${JSON.stringify(input)}`)
  }
}

export function parseIsoInstant(input: unknown): IsoInstant {
  try {
    if (typeof input !== 'string') throw new Error('type')
    return Temporal.Instant.from(input).toString({ smallestUnit: 'millisecond' }) as IsoInstant
  } catch {
    return fail('INVALID_DATE', `not an ISO 8601 instant: ${JSON.stringify(input)}`)
  }
}

/** The last instant formatted: a burst of events in one millisecond formats it once. */
let lastMs = Number.NaN
let lastInstant = '' as IsoInstant

export function instantFromEpochMs(ms: number): IsoInstant {
  // Date gives the same canonical form as Temporal for years 0 to 9999, far
  // faster; every event is stamped, so this is on the hot path.
  const t = Math.floor(ms)
  if (t === lastMs) return lastInstant
  const out = t >= -62_167_219_200_000 && t < 253_402_300_800_000
    ? new Date(t).toISOString() as IsoInstant
    : Temporal.Instant.fromEpochMilliseconds(t).toString({ smallestUnit: 'millisecond' }) as IsoInstant
  lastMs = t
  lastInstant = out
  return out
}

export function epochMsOf(instant: IsoInstant): number {
  return Temporal.Instant.from(instant).epochMilliseconds
}

export function parseTimeZone(input: unknown): TimeZoneId {
  try {
    if (typeof input !== 'string') throw new Error('type')
    return Temporal.Now.zonedDateTimeISO(input).timeZoneId as TimeZoneId
  } catch {
    return fail('INVALID_DATE', `not an IANA time zone: ${JSON.stringify(input)}`)
  }
}

/** The calendar date of an instant in a time zone: which business day it was there. */
export function businessDateOf(instant: IsoInstant, zone: TimeZoneId): IsoDate {
  return Temporal.Instant.from(instant).toZonedDateTimeISO(zone).toPlainDate().toString() as IsoDate
}
