/**
 * The schema of the purchase document: for every part of it (the set-once
 * settings, the registers, the grow-only record sets, the texts, the clock),
 * which keys may exist and what may be written there. One declaration, used
 * by the reader (an invalid stored value reads as absent and is reported),
 * by the write inspector (purchase/inspect.ts: an update that writes an
 * invalid value is refused) and by the commands' input parsers, whose bounds
 * are the ones named here (inputs.ts).
 *
 * A check returns undefined when the value is valid and a short reason when
 * it is not; it never throws, whatever it is given.
 */
import { SET_NAMES, type SetName } from '../backends/backend.js'
import { BACKEND_NAMES } from '../backends/registry.js'
import { isConcordError } from '../errors.js'
import { parseEventId, parseLineId, parseRecordId, parsePurchaseId } from '../ids.js'
import { type DecimalBounds, compareDecimal, parseDecimal } from '../money/decimal.js'
import { parseMinor } from '../money/amount.js'
import { currencyExponent, parseCurrencyCode } from '../money/currency.js'
import { parseHlc } from '../time/hlc.js'
import { parseIsoDate, parseIsoInstant, parseTimeZone } from '../time/dates.js'
import type { Decimal } from '../money/decimal.js'
import type { GuardedField, HeaderField, LineField, LifecycleState, TransitionAction, VoidableSet } from './model.js'
import { GUARDED_FIELDS, HEADER_FIELDS, LINE_FIELDS } from './model.js'

/** Undefined: valid. A string: why not. */
export type Check = (value: unknown) => string | undefined

/** What a value check may need to know about the document it is written to. */
export interface SchemaContext {
  /** The order's frozen currency exponent, when the document has settings. */
  readonly currencyExponent?: number
}

export type ContextCheck = (value: unknown, ctx: SchemaContext) => string | undefined

// ------------------------------------------------------------------ bounds

/** Bounds of every rate and text the document holds; the command parsers (inputs.ts) use the same ones. */
export const BOUNDS = {
  quantity: { maxScale: 4, nonNegative: true, maxIntegerDigits: 9 } satisfies DecimalBounds,
  unitPrice: { maxScale: 6, nonNegative: true, maxIntegerDigits: 12 } satisfies DecimalBounds,
  percent: { maxScale: 4, nonNegative: true, maxIntegerDigits: 3 } satisfies DecimalBounds,
  fxRate: { maxScale: 10, nonNegative: true, maxIntegerDigits: 9 } satisfies DecimalBounds,
  /** Characters of a short text (supplier, product, references). */
  text: 200,
  description: 2000,
  uom: 20,
  deliveryNote: 100,
  note: 1000,
  taxCode: 20,
  sortKey: 128,
  /** Who and which device: a token subject or a device name. */
  author: 200,
  /** Minor-unit amounts: 30 digits is far past any real order and keeps bigint arithmetic small. */
  minorDigits: 30,
  /** The notes text, in UTF-16 code units. */
  notes: 100_000,
} as const

// ------------------------------------------------------------- primitives

const parses = (parse: (v: unknown) => unknown): Check => (v) => {
  try {
    parse(v)
    return undefined
  } catch (e) {
    return isConcordError(e) ? e.message : 'invalid'
  }
}

/** Canonical only: a stored rate must be exactly what parseDecimal produces, so every replica reads the same number. */
export const decimal = (bounds: DecimalBounds, { positive = false, max }: { positive?: boolean; max?: string } = {}): Check => (v) => {
  let d: Decimal
  try {
    d = parseDecimal(v, bounds)
  } catch (e) {
    return isConcordError(e) ? e.message : 'not a decimal'
  }
  if (d !== v) return `not canonical: ${JSON.stringify(v)} (${d})`
  if (positive && compareDecimal(d, '0' as Decimal) <= 0) return 'must be greater than zero'
  if (max !== undefined && compareDecimal(d, max as Decimal) > 0) return `must be at most ${max}`
  return undefined
}

export const text = (max: number, { required = false } = {}): Check => (v) => {
  if (typeof v !== 'string') return `must be a string, not ${kindOf(v)}`
  if (v.length > max) return `longer than ${max} characters`
  if (required && v.trim() === '') return 'must not be empty'
  return undefined
}

export const oneOf = <T extends string>(values: readonly T[]): Check => (v) =>
  typeof v === 'string' && (values as readonly string[]).includes(v) ? undefined : `must be one of ${values.join(', ')}`

const bool: Check = (v) => (typeof v === 'boolean' ? undefined : `must be true or false, not ${kindOf(v)}`)
const nullable = (c: Check): Check => (v) => (v === null ? undefined : c(v))
const minor = ({ positive = false } = {}): Check => (v) => {
  if (typeof v !== 'string' || v.replace(/^-/, '').length > BOUNDS.minorDigits) return 'must be a minor-unit string of at most 30 digits'
  const why = parses(parseMinor)(v)
  if (why !== undefined) return why
  return positive && BigInt(v as string) <= 0n ? 'must be positive' : undefined
}
const isoDate = parses(parseIsoDate)
const isoInstant = parses(parseIsoInstant)
const hlc = parses(parseHlc)
const eventId = parses(parseEventId)
const lineId = parses(parseLineId)
const recordId = parses(parseRecordId)
const currencyCode = parses(parseCurrencyCode)

/** A version vector as records store it: replica -> count of its events seen. */
const storedClock: Check = (v) => {
  if (!isPlainObject(v)) return 'must be an object of counters'
  const entries = Object.entries(v)
  if (entries.length > 100_000) return 'too many replicas'
  for (const [replica, n] of entries) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(replica)) return `bad replica ${JSON.stringify(replica.slice(0, 70))}`
    if (!Number.isSafeInteger(n) || (n as number) < 0) return `counter of ${replica} must be a non-negative integer`
  }
  return undefined
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

export function kindOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : v instanceof Uint8Array ? 'bytes' : typeof v
}

/**
 * An object with exactly these fields (optional ones may be absent): a
 * field the schema does not name is refused, so nothing rides along.
 */
export function object(fields: Readonly<Record<string, Check>>, optional: Readonly<Record<string, Check>> = {}): Check {
  const required = Object.entries(fields)
  return (v) => {
    if (!isPlainObject(v)) return `must be an object, not ${kindOf(v)}`
    for (const [name, check] of required) {
      // Own fields only: `in` would take an inherited toString for a field, and let a stored `toString` ride along unchecked.
      if (!Object.hasOwn(v, name)) return `lacks ${name}`
      const why = check(v[name])
      if (why !== undefined) return `${name}: ${why}`
    }
    for (const name of Object.keys(v)) {
      if (Object.hasOwn(fields, name)) continue
      const check = Object.hasOwn(optional, name) ? optional[name] : undefined
      if (check === undefined) return `has a field the schema does not know: ${JSON.stringify(name.slice(0, 40))}`
      const why = check(v[name])
      if (why !== undefined) return `${name}: ${why}`
    }
    return undefined
  }
}

// ---------------------------------------------------------------- settings

const ROUNDING = object({ mode: oneOf(['HALF_UP', 'HALF_EVEN']), tax: oneOf(['PER_LINE', 'GLOBAL']) })

const settingsShape: Check = (() => {
  const shape = object({
    id: parses(parsePurchaseId),
    backend: oneOf(BACKEND_NAMES),
    currencyExponent: (v) => (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 4 ? undefined : 'must be 0 to 4'),
    rounding: ROUNDING,
    taxMode: oneOf(['EXCLUSIVE', 'INCLUSIVE']),
    timeZone: parses(parseTimeZone),
    approvalThreshold: nullable(minor({ positive: false })),
    receiptTolerance: decimal(BOUNDS.percent, { max: '100' }),
    createdAt: isoInstant,
    createdBy: text(BOUNDS.author),
  })
  return shape
})()

/**
 * The settings check, cached per stored object: a document keeps its
 * settings object while they are unchanged, and checking a time zone and an
 * instant (Temporal) costs more than the rest of a write's check.
 */
const SETTINGS_CHECKED = new WeakMap<object, string | undefined>()
export const settingsCheck: Check = (v) => {
  if (typeof v !== 'object' || v === null) return settingsShape(v)
  if (SETTINGS_CHECKED.has(v)) return SETTINGS_CHECKED.get(v)
  const why = settingsShape(v)
  SETTINGS_CHECKED.set(v, why)
  return why
}

// --------------------------------------------------------------- registers

/** The part of the document a register belongs to: what a kind of event may touch (inspect.ts). */
export type RegisterArea = 'header' | 'supplier' | 'currency' | 'fxRate' | 'statedTotal' | 'hold' | 'number' | 'lines'

export interface RegisterSpec {
  /** The family, for messages and metrics: `h.supplier`, `line.qty`, `line.tax`. */
  readonly family: string
  readonly area: RegisterArea
  /** Line registers name their line: it must exist for the write to be valid. */
  readonly line?: string
  readonly value: ContextCheck
}

const currencyCheck: ContextCheck = (v, ctx) => {
  const why = currencyCode(v)
  if (why !== undefined || ctx.currencyExponent === undefined) return why
  try {
    currencyExponent(v as never, ctx.currencyExponent)
    return undefined
  } catch (e) {
    return isConcordError(e) ? e.message : 'invalid currency'
  }
}

const GUARDED_VALUES: Readonly<Record<GuardedField, { area: RegisterArea; value: ContextCheck }>> = {
  supplier: { area: 'supplier', value: text(BOUNDS.text, { required: true }) },
  currency: { area: 'currency', value: currencyCheck },
  fxRate: { area: 'fxRate', value: decimal(BOUNDS.fxRate, { positive: true }) },
  // null: the commitment was withdrawn.
  statedTotal: { area: 'statedTotal', value: nullable(minor()) },
}

const HEADER_VALUES: Readonly<Record<HeaderField, Check>> = {
  orderDate: nullable(isoDate),
  requiredBy: nullable(isoDate),
  paymentTerm: text(BOUNDS.text),
  incoterm: text(BOUNDS.text),
  buyer: text(BOUNDS.text),
  supplierRef: text(BOUNDS.text),
}

const SORT_KEY: Check = (v) => (typeof v === 'string' && /^[0-9a-z]{1,128}$/.test(v) ? undefined : 'must be 1 to 128 base-36 digits')

const LINE_VALUES: Readonly<Record<LineField, ContextCheck>> = {
  product: text(BOUNDS.text, { required: true }),
  description: text(BOUNDS.description),
  // Zero is a value resolutions may set ("take the line to what was received").
  qty: decimal(BOUNDS.quantity),
  // Signed: an adjustment line (a resolution) carries a negative difference in its price; see checkEntry.
  price: (v, ctx) => {
    const why = object({ amount: decimal({ ...BOUNDS.unitPrice, nonNegative: false }), currency: currencyCode })(v)
    return why ?? currencyCheck((v as { currency: unknown }).currency, ctx)
  },
  discount: decimal(BOUNDS.percent, { max: '100' }),
  uom: text(BOUNDS.uom),
  sortKey: SORT_KEY,
  removed: bool,
}

export const TAX_CODE = /^[A-Za-z0-9_-]{1,20}$/

const taxValue = (code: string): Check => {
  const shape = object({ on: bool, code: oneOf([code]), name: text(BOUNDS.text), rate: decimal(BOUNDS.percent, { max: '100' }) })
  return shape
}

const holdValue = object({ on: bool, reason: text(BOUNDS.text) })
const numberValue: Check = (v) => (typeof v === 'string' && /^PO-\d{4}-\d{5,12}$/.test(v) ? undefined : 'must look like PO-2026-00042')

const SPEC_CACHE = new Map<string, RegisterSpec | null>()

/** The schema of a register key, or undefined for a key the document may not hold. */
export function registerSpecOf(key: string): RegisterSpec | undefined {
  let spec = SPEC_CACHE.get(key)
  if (spec === undefined) {
    spec = computeRegisterSpec(key) ?? null
    if (SPEC_CACHE.size > 100_000) SPEC_CACHE.clear()
    SPEC_CACHE.set(key, spec)
  }
  return spec ?? undefined
}

function computeRegisterSpec(key: string): RegisterSpec | undefined {
  if (key.startsWith('h.')) {
    const f = key.slice(2)
    if ((GUARDED_FIELDS as readonly string[]).includes(f)) {
      const g = GUARDED_VALUES[f as GuardedField]
      return { family: key, area: g.area, value: g.value }
    }
    if ((HEADER_FIELDS as readonly string[]).includes(f)) {
      const c = HEADER_VALUES[f as HeaderField]
      return { family: key, area: 'header', value: c }
    }
    if (f === 'hold') return { family: key, area: 'hold', value: holdValue }
    if (f === 'number') return { family: key, area: 'number', value: numberValue }
    return undefined
  }
  const m = /^([lx])\.([0-9A-HJKMNP-TV-Z]{26})\.(.+)$/.exec(key)
  if (m === null) return undefined
  const [, part, line, rest] = m as unknown as [string, string, string, string]
  if (part === 'l') {
    if (!(LINE_FIELDS as readonly string[]).includes(rest)) return undefined
    return { family: `line.${rest}`, area: 'lines', line, value: LINE_VALUES[rest as LineField] }
  }
  if (!TAX_CODE.test(rest)) return undefined
  return { family: 'line.tax', area: 'lines', line, value: taxValue(rest) }
}

/** A register entry's own fields; `value` is checked by the register's spec. */
export const entryShape = object(
  { value: () => undefined, ev: eventId, hlc },
  {
    by: text(BOUNDS.author),
    dev: text(BOUNDS.author),
    res: (v) => (typeof v === 'string' && /^c_[0-9a-z]{26}$/.test(v) ? undefined : 'must be a conflict id'),
  },
)

/** Why a register entry is invalid under `key`, or undefined when it is valid. */
export function checkEntry(key: string, entry: unknown, ctx: SchemaContext): string | undefined {
  const spec = registerSpecOf(key)
  if (spec === undefined) return 'no such register'
  const why = entryShape(entry)
  if (why !== undefined) return why
  const value = (entry as { value: unknown }).value
  const v = spec.value(value, ctx)
  if (v !== undefined) return `value ${v}`
  if (spec.family === 'line.price' && (value as { amount: string }).amount.startsWith('-') && (entry as { res?: unknown }).res === undefined) {
    return 'value: a negative price is only written by a conflict resolution (an adjustment line)'
  }
  return undefined
}

// ------------------------------------------------------------------ records

/** Who made a record, when, from where: on every record. */
const STAMP = { ev: eventId, hlc, by: text(BOUNDS.author), dev: text(BOUNDS.author), at: isoInstant }

const TRANSITION_ACTIONS: readonly TransitionAction[] = [
  'send', 'submit', 'approve', 'reject', 'confirm', 'lock', 'unlock', 'close', 'reopen', 'cancel', 'reset', 'force',
]
const STATES: readonly LifecycleState[] = ['draft', 'sent', 'toApprove', 'confirmed', 'locked', 'closed', 'cancelled']
const VOIDABLE: readonly VoidableSet[] = ['receipts', 'returns', 'bills', 'payments', 'refunds']

const params: Check = (v) => {
  if (!isPlainObject(v)) return 'must be an object of strings'
  const entries = Object.entries(v)
  if (entries.length > 20) return 'too many parameters'
  for (const [k, p] of entries) {
    if (k.length > 40) return 'parameter name too long'
    if (typeof p !== 'string' || p.length > BOUNDS.note) return `${k} must be a string of at most ${BOUNDS.note} characters`
  }
  return undefined
}

const transition = (() => {
  const plain = object({ id: recordId, action: oneOf(TRANSITION_ACTIONS), vv: storedClock, ...STAMP })
  const forced = object({ id: recordId, action: oneOf(['force']), to: oneOf(STATES), vv: storedClock, ...STAMP })
  return (v: unknown) => (isPlainObject(v) && v.action === 'force' ? forced(v) : plain(v))
})()

/** Every record set, and what each record holds. All are insert-only: never deleted, never overwritten. */
export const RECORD_SCHEMA: Readonly<Record<SetName, Check>> = {
  lines: object({ id: lineId, kind: oneOf(['goods', 'service']), vv: storedClock, ...STAMP }),
  receipts: object({
    id: recordId, line: lineId, qty: decimal(BOUNDS.quantity, { positive: true }), product: text(BOUNDS.text),
    deliveryNote: text(BOUNDS.deliveryNote, { required: true }), date: isoDate, ...STAMP,
  }),
  returns: object({ id: recordId, line: lineId, qty: decimal(BOUNDS.quantity, { positive: true }), reason: text(BOUNDS.text), date: isoDate, ...STAMP }),
  bills: object({ id: recordId, line: lineId, qty: decimal(BOUNDS.quantity, { positive: true }), ref: text(BOUNDS.text, { required: true }), date: isoDate, ...STAMP }),
  payments: object({ id: recordId, amount: minor({ positive: true }), ref: text(BOUNDS.text, { required: true }), date: isoDate, ...STAMP }),
  refunds: object(
    { id: recordId, amount: minor({ positive: true }), ref: text(BOUNDS.text, { required: true }), date: isoDate, ...STAMP },
    { status: oneOf(['requested']) },
  ),
  voids: object({ id: recordId, set: oneOf(VOIDABLE), target: recordId, reason: text(BOUNDS.text, { required: true }), ...STAMP }),
  transitions: transition,
  resolutions: object({
    id: recordId,
    conflict: (v) => (typeof v === 'string' && /^c_[0-9a-z]{26}$/.test(v) ? undefined : 'must be a conflict id'),
    kind: text(64, { required: true }),
    option: text(64, { required: true }),
    params,
    note: text(BOUNDS.note),
    vv: storedClock,
    ...STAMP,
  }),
}

/** Why a record is invalid in `set` under `id`, or undefined when it is valid. */
export function checkRecord(set: SetName, id: string, record: unknown): string | undefined {
  const check = RECORD_SCHEMA[set]
  if (check === undefined) return 'no such record set'
  const why = check(record)
  if (why !== undefined) return why
  return (record as { id: unknown }).id === id ? undefined : `its id ${JSON.stringify((record as { id: unknown }).id)} is not its key`
}

export const isRecordSet = (name: string): name is SetName => (SET_NAMES as readonly string[]).includes(name)

// -------------------------------------------------------------------- texts

/** The collaborative texts a purchase has, with their length bounds. */
export const TEXTS: Readonly<Record<string, { readonly maxLength: number }>> = {
  notes: { maxLength: BOUNDS.notes },
}

// ----------------------------------------------------------------- init keys

/** Set-once keys: the settings, written by the event that creates the purchase. */
export const INIT_SCHEMA: Readonly<Record<string, Check>> = { settings: settingsCheck }

/** The fields of a stamp or entry that name who made it: the relay checks them against the token. */
export const AUTHORSHIP_FIELDS = { by: 'the token subject', dev: 'the connection device' } as const
