/**
 * Everything a person reads, formatted in one place: the locale
 * (navigator.language unless overridden), amounts in the order's currency and
 * quantities formatted with Intl.NumberFormat, the one parser that turns what
 * someone typed in their locale's format into the canonical decimal string
 * core expects ("1.234,5" in de-DE -> "1234.5"), and the words for states,
 * actions, audit fields, conflict facts and refusals, so that no code, id,
 * field key or minor-unit amount reaches the screen (those go in a
 * <details> for support). Amounts never become floats: Intl formats decimal
 * strings exactly. Pure apart from the locale setting, so it runs in Node.
 */
import {
  type Conflict, type CurrencyExponent, type LifecycleState, type PurchaseState, type TransitionAction,
  ConcordError, KIND_LABEL, formatMinor, isConcordError,
} from '@concord/core'

let current: string = defaultLocale()

function defaultLocale(): string {
  const nav = (globalThis as { navigator?: { language?: string } }).navigator?.language
  return validLocale(nav) ?? 'en-US'
}

/** The tag if Intl knows it (canonicalised), else null. */
export function validLocale(tag: string | null | undefined): string | null {
  if (tag === null || tag === undefined || tag.trim() === '') return null
  try {
    return Intl.getCanonicalLocales(tag.trim())[0] ?? null
  } catch {
    return null
  }
}

export function locale(): string {
  return current
}

/** Sets the locale for everything formatted or parsed from now on; an unknown tag falls back to the browser's. */
export function setLocale(tag: string | null): string {
  current = validLocale(tag) ?? defaultLocale()
  return current
}

/** Intl wants a decimal string without a leading "+" and with a leading digit. */
function intlDecimal(plain: string): string {
  return plain.startsWith('.') ? `0${plain}` : plain.startsWith('-.') ? `-0${plain.slice(1)}` : plain
}

function fractionDigits(plain: string): number {
  const dot = plain.indexOf('.')
  return dot < 0 ? 0 : plain.length - dot - 1
}

/** A three-letter code Intl accepts as a currency, else null. */
function currencyCode(code: string | undefined): string | null {
  if (code === undefined || !/^[A-Z]{3}$/.test(code)) return null
  try {
    new Intl.NumberFormat('en', { style: 'currency', currency: code })
    return code
  } catch {
    return null
  }
}

/**
 * An amount given in major units as a decimal string ("1234.5"), shown in the
 * currency with exactly `digits` decimals (the order's exponent):
 * "1.234,50 €" in de-DE, "€1,234.50" in en-US. Without a usable currency
 * (none yet, or two after a conflict) it is a plain number with the digits.
 */
export function formatAmount(major: string, currency: string | undefined, digits: number, loc = current): string {
  const code = currencyCode(currency)
  const nf = new Intl.NumberFormat(loc, {
    ...(code !== null ? { style: 'currency', currency: code, currencyDisplay: 'symbol' } : {}),
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  })
  // Intl formats a decimal string exactly (no float on the way); the digits are already the exponent's.
  return nf.format(intlDecimal(major) as unknown as number)
}

/**
 * A quantity, rate or percentage ("12.5") as a locale number ("12,5"), with
 * at least `minDigits` decimals (a price shows the currency's: "249,90",
 * never "249,9") and every decimal it has.
 */
export function formatNumber(plain: string, minDigits = 0, loc = current, grouping = true): string {
  if (!/^-?(\d+\.?\d*|\.\d+)$/.test(plain)) return plain
  const nf = new Intl.NumberFormat(loc, {
    minimumFractionDigits: Math.min(minDigits, 20),
    maximumFractionDigits: Math.min(Math.max(minDigits, fractionDigits(plain)), 20),
    useGrouping: grouping,
  })
  return nf.format(intlDecimal(plain) as unknown as number)
}

/** The separators and digits of a locale's numbers, read from Intl rather than assumed. */
export interface NumberShape {
  readonly decimal: string
  readonly group: string
  /** Sizes of the groups: the last one (3) and the ones before it (3, or 2 in en-IN). */
  readonly primary: number
  readonly secondary: number
  /** The locale's digits 0-9 (ASCII digits are accepted in every locale too). */
  readonly digits: readonly string[]
  readonly minus: string
}

export function numberShape(loc = current): NumberShape {
  const nf = new Intl.NumberFormat(loc, { useGrouping: true })
  const parts = nf.formatToParts(12345678.5)
  const decimal = parts.find((p) => p.type === 'decimal')?.value ?? '.'
  const group = parts.find((p) => p.type === 'group')?.value ?? ''
  const ints = parts.filter((p) => p.type === 'integer').map((p) => p.value.length)
  const primary = ints.length > 1 ? ints[ints.length - 1]! : 3
  const secondary = ints.length > 2 ? ints[ints.length - 2]! : primary
  const digits = Array.from({ length: 10 }, (_, i) => new Intl.NumberFormat(loc, { useGrouping: false }).format(i))
  const minus = new Intl.NumberFormat(loc).formatToParts(-1).find((p) => p.type === 'minusSign')?.value ?? '-'
  return { decimal, group, primary, secondary, digits, minus }
}

/** "1.234,56" in de-DE: the format an input expects, for its placeholder and hint. */
export function numberExample(digits = 2, loc = current): string {
  return formatNumber(digits > 0 ? `1234.${'56789'.slice(0, digits).padEnd(digits, '0')}` : '1234', digits, loc)
}

const SPACES = /[\u0020\u00a0\u202f\u2009]/g
const MINUS = /^[-\u2212\u2012\u2013]/

/** The error of an input that is not a number in the locale's format; its message says what to write. */
function notANumber(input: string, why: string, loc: string, shape: NumberShape): ConcordError {
  const example = numberExample(2, loc)
  return new ConcordError('INVALID_DECIMAL', `“${input}” is not a number: ${why}. Write it as ${example} (“${shape.decimal}” before the decimals${shape.group.trim() === '' ? ', a space' : `, “${shape.group}”`} between thousands).`, { input, locale: loc })
}

/**
 * What someone typed, in the locale's format, as core's canonical decimal
 * string: "12,50" -> "12.50" and "1.000,50" -> "1000.50" in de-DE,
 * "1 000,50" (any space, no-break or narrow) -> "1000.50" in sv-SE,
 * "1,000.50" -> "1000.50" in en-US. A separator that could mean either
 * ("12.5" in de-DE, where "." groups thousands; "12,50" in en-US) is refused
 * with what to write instead: guessing could turn 12.5 into 125.
 */
export function parseNumber(input: string, loc = current): string {
  const shape = numberShape(loc)
  let s = input.trim()
  if (s === '') throw new ConcordError('INVALID_DECIMAL', 'Enter a number.', { input, locale: loc })
  let negative = false
  if (MINUS.test(s) || s.startsWith(shape.minus)) {
    negative = true
    s = s.slice(MINUS.test(s) ? 1 : shape.minus.length).trimStart()
  }
  if (s === '') throw notANumber(input, 'it has no digits', loc, shape)
  // The locale's own digits become ASCII ones.
  s = [...s].map((ch) => {
    const i = shape.digits.indexOf(ch)
    return i >= 0 ? String(i) : ch
  }).join('')
  const spaceGroups = shape.group.replace(SPACES, ' ') === ' '
  // Any space counts as the group separator where the locale groups with one (sv-SE, fr-FR): people type a plain space.
  if (spaceGroups) s = s.replace(SPACES, ' ')
  // Swiss apostrophes come in two shapes.
  const group = spaceGroups ? ' ' : shape.group === '’' || shape.group === "'" ? "'" : shape.group
  if (group === "'") s = s.replace(/’/g, "'")
  const other = shape.decimal === ',' ? '.' : ','
  const allowed = new RegExp(`^[0-9${escapeClass(shape.decimal)}${escapeClass(group)}]+$`)
  if (!allowed.test(s)) {
    if (/[0-9]/.test(s) && s.includes(other) && group !== other) {
      throw notANumber(input, `“${other}” is not a separator in this format`, loc, shape)
    }
    throw notANumber(input, 'it holds characters other than digits and separators', loc, shape)
  }
  const pieces = s.split(shape.decimal)
  if (pieces.length > 2) throw notANumber(input, `“${shape.decimal}” appears more than once`, loc, shape)
  const [int, frac] = [pieces[0]!, pieces[1]]
  if (frac !== undefined && frac.includes(group)) throw notANumber(input, `“${group.trim() === '' ? 'a space' : group}” cannot come after the decimals start`, loc, shape)
  if (frac !== undefined && frac === '') throw notANumber(input, `nothing follows “${shape.decimal}”`, loc, shape)
  let digits = int
  if (group !== '' && int.includes(group)) {
    const groups = int.split(group)
    const last = groups.length - 1
    const ok = groups.every((g, i) => i === last ? g.length === shape.primary
      : i === 0 ? g.length >= 1 && g.length <= (last === 1 ? shape.primary : shape.secondary)
        : g.length === shape.secondary)
    if (!ok) {
      throw notANumber(input, `“${group.trim() === '' ? 'a space' : group}” separates groups of ${shape.primary} digits here, so it cannot be a decimal separator`, loc, shape)
    }
    digits = groups.join('')
  }
  if (digits === '' && frac === undefined) throw notANumber(input, 'it has no digits', loc, shape)
  const plain = `${digits === '' ? '0' : digits}${frac !== undefined ? `.${frac}` : ''}`
  return negative ? `-${plain}` : plain
}

/** parseNumber for an optional field: empty stays empty (the field is not set). */
export function parseOptionalNumber(input: string, loc = current): string {
  return input.trim() === '' ? '' : parseNumber(input, loc)
}

function escapeClass(ch: string): string {
  return ch.replace(/[\\\]^-]/g, '\\$&')
}

/** The order's currency code as it stands (several when a conflict left them). */
export function currencyOf(state: PurchaseState): string {
  return state.currency.values.join(' / ') || '—'
}

export function supplierOf(state: PurchaseState): string {
  return state.supplier.values.join(' / ') || 'No supplier yet'
}

export const STATE_LABEL: Readonly<Record<LifecycleState, string>> = {
  draft: 'Draft',
  sent: 'Sent',
  toApprove: 'To approve',
  confirmed: 'Confirmed',
  locked: 'Locked',
  closed: 'Closed',
  cancelled: 'Cancelled',
}

export const ACTION_LABEL: Readonly<Record<Exclude<TransitionAction, 'force'>, string>> = {
  send: 'Send to supplier',
  submit: 'Submit for approval',
  approve: 'Approve',
  reject: 'Reject',
  confirm: 'Confirm',
  lock: 'Lock',
  unlock: 'Unlock',
  close: 'Close',
  reopen: 'Reopen',
  cancel: 'Cancel order',
  reset: 'Back to draft',
}

/** Actions that undo or end something: shown as secondary buttons. */
export const RISKY_ACTIONS: ReadonlySet<string> = new Set(['cancel', 'reject', 'close'])

/** "2026-03-04T10:11:12.123Z" -> a short local date and time. */
export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return 'never'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return d.toLocaleString(current, { dateStyle: 'medium', timeStyle: 'short' })
}

/** A relative "5 s ago" for the sync indicator; the full time goes in a title. */
export function ago(iso: string | null, now: number): string {
  if (iso === null) return 'never'
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000))
  if (s < 5) return 'just now'
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return when(iso)
}

/** An event kind (`line.update`) in words. */
export function eventLabel(kind: string): string {
  const known: Record<string, string> = {
    'purchase.create': 'Created the order', 'purchase.number': 'Numbered the order',
    'line.add': 'Added a line', 'line.update': 'Edited a line', 'line.remove': 'Removed a line', 'line.restore': 'Restored a line',
    'line.move': 'Moved a line', 'line.tax': 'Changed line taxes', 'notes.edit': 'Edited the notes',
    'receipt.record': 'Recorded a receipt', 'return.record': 'Recorded a return', 'bill.record': 'Recorded a bill',
    'payment.record': 'Recorded a payment', 'refund.record': 'Recorded a refund', 'conflict.resolve': 'Resolved a conflict',
    'lifecycle.hold': 'Changed the hold', 'yjs.update': 'Edited (Yjs client)',
  }
  if (known[kind] !== undefined) return known[kind]
  const lc = /^lifecycle\.(.+)$/.exec(kind)
  if (lc !== null) return ACTION_LABEL[lc[1] as keyof typeof ACTION_LABEL] ?? `Lifecycle: ${lc[1]}`
  const header = /^header\.(.+)$/.exec(kind)
  if (header !== null) return `Changed the ${(HEAD_FIELD[header[1]!] ?? 'header').toLowerCase()}`
  const v = /^(\w+)\.void$/.exec(kind)
  if (v !== null) return `Voided a ${v[1]}`
  return kind
}


/** The order's money: its currency (the first, if a conflict left two) and exponent. */
export interface OrderMoney {
  readonly currency: string | undefined
  readonly exponent: CurrencyExponent
}

export function orderMoney(state: PurchaseState): OrderMoney {
  return { currency: state.currency.values[0], exponent: state.settings.currencyExponent }
}

/** A minor-unit amount of the order, as the person reads it: 123456n in EUR -> "€1,234.56" (en-US), "1.234,56 €" (de-DE). */
export function money(minor: bigint, m: OrderMoney, loc = current): string {
  return formatAmount(formatMinor(minor, m.exponent), m.currency, m.exponent, loc)
}

/** An amount core wrote in major units ("1234.5"): shown with the order's digits. */
export function moneyMajor(major: string, m: OrderMoney, loc = current): string {
  return /^-?\d+(\.\d+)?$/.test(major) ? formatAmount(major, m.currency, m.exponent, loc) : major
}

/** The list's "1234.50 EUR" (the client's summary) in the locale. */
export function summaryTotal(total: string, loc = current): string {
  const m = /^(-?\d+(?:\.(\d+))?) ([A-Z]{3})$/.exec(total)
  return m === null ? total : formatAmount(m[1]!, m[3], m[2]?.length ?? 0, loc)
}

/** A unit price: at least the currency's decimals ("249,90", never "249,9"). */
export function price(amount: string, m: OrderMoney, loc = current): string {
  return formatNumber(amount, m.exponent, loc)
}

/** A quantity, discount or rate as a locale number. */
export function qty(plain: string, loc = current): string {
  return formatNumber(plain, 0, loc)
}

/** The value an input shows for a stored decimal: the locale's decimal separator, no grouping (easier to edit). */
export function inputValue(plain: string, minDigits = 0, loc = current): string {
  return formatNumber(plain, minDigits, loc, false)
}

/** A major-unit amount as core's commands take it ("1234.50"), from minor units. */
export function canonicalMoney(minor: bigint, exponent: CurrencyExponent): string {
  return formatMinor(minor, exponent)
}

/**
 * A tax as a person reads it: its name with its rate as a locale number
 * ("VAT 5,5 %" in de-DE). A rate written into the name ("VAT 20%", as older
 * orders stored it) is dropped, so it is never said twice or in the wrong
 * format; a name that is only a word ("Zero-rated") at 0 % stays as it is.
 */
export function taxLabel(t: { readonly name: string; readonly rate: string }, loc = current): string {
  const base = t.name.replace(/\s*\d+(?:[.,]\d+)?\s*%/, '').trim()
  if (t.rate === '0' && base !== '' && !/\d/.test(t.name)) return base
  return `${base || 'Tax'} ${formatNumber(t.rate, 0, loc)} %`
}

/** A tax code of the order by its name and rate (tax codes in numeric order of their rate, not as strings: "VAT 5.5%" before "VAT 10%"). */
export function taxName(code: string, state: PurchaseState): string {
  for (const l of state.lines) {
    const t = l.taxes.find((x) => x.code === code)
    if (t !== undefined) return taxLabel(t)
  }
  return 'Tax'
}

export function taxRate(code: string, state: PurchaseState): number {
  for (const l of state.lines) {
    const t = l.taxes.find((x) => x.code === code)
    if (t !== undefined) return Number(t.rate)
  }
  return Number.POSITIVE_INFINITY
}

/** "line 3 (Bolts)": how a line is named everywhere (its position among the live lines, then its product). */
export function lineName(state: PurchaseState, id: string): string {
  const live = state.lines.filter((l) => !l.removed)
  const i = live.findIndex((l) => l.id === id)
  const l = state.lines.find((x) => x.id === id)
  if (l === undefined) return 'a line no longer on the order'
  return i >= 0 ? `line ${i + 1} (${l.product})` : `the removed line (${l.product})`
}

const LINE_FIELD: Readonly<Record<string, string>> = {
  qty: 'Quantity', price: 'Unit price', discount: 'Discount', product: 'Product', description: 'Description',
  uom: 'Unit', position: 'Position', removed: 'Removal', taxes: 'Taxes',
}

const HEAD_FIELD: Readonly<Record<string, string>> = {
  orderDate: 'Order date', requiredBy: 'Required by', paymentTerm: 'Payment term', incoterm: 'Incoterm', buyer: 'Buyer',
  supplierRef: 'Supplier reference', statedTotal: 'Stated total', fxRate: 'Exchange rate', supplier: 'Supplier',
  currency: 'Currency', notes: 'Notes', lifecycle: 'Status', hold: 'Hold', number: 'Order number',
  approvalThreshold: 'Approval threshold', receiptTolerance: 'Receipt tolerance',
}

const RECORD_WORD: Readonly<Record<string, string>> = {
  receipts: 'Receipt', returns: 'Return', bills: 'Bill', payments: 'Payment', refunds: 'Refund', voids: 'Void', resolutions: 'Conflict resolution',
}

/**
 * A field key of the audit trail or a conflict as a label:
 * `lines.<id>.qty` -> "Quantity of line 3 (Bolts)", `h.statedTotal` and
 * `statedTotal` -> "Stated total", `payments.<id>` -> "Payment".
 */
export function fieldLabel(field: string, state: PurchaseState): string {
  const line = /^(?:lines?|l)\.([^.]+)\.(.+)$/.exec(field)
  if (line !== null) return `${LINE_FIELD[line[2]!] ?? 'A field'} of ${lineName(state, line[1]!)}`
  const rec = /^(receipts|returns|bills|payments|refunds|voids|resolutions)\./.exec(field)
  if (rec !== null) return RECORD_WORD[rec[1]!]!
  const key = field.replace(/^(header|h|settings)\./, '')
  return HEAD_FIELD[key] ?? 'Another field'
}

/**
 * A value of the audit trail in words. Core writes amounts in minor units,
 * booleans as "true"/"false" and records by id; here they are read back from
 * the state: the stated total as money, a payment as its amount and ref.
 */
export function fieldValue(field: string, value: string | null, state: PurchaseState): string {
  if (value === null || value === '') return '—'
  const m = orderMoney(state)
  const line = /^lines\.([^.]+)\.(.+)$/.exec(field)
  if (line !== null) {
    const f = line[2]!
    if (f === 'qty' || f === 'discount') return qty(value)
    if (f === 'price') {
      const [amount, cur] = value.split(' ')
      return formatAmount(amount!, cur, Math.max(m.exponent, fractionDigits(amount!)))
    }
    if (f === 'removed') return value === 'true' ? 'removed' : 'on the order'
    if (f === 'position') return 'moved'
    if (f === 'taxes') return value.replace(/\b[A-Z][A-Z0-9_]*\s+(\d+(?:\.\d+)?)%/g, (_, r: string) => `${qty(r)} %`)
    return value
  }
  const rec = /^(receipts|returns|bills|payments|refunds|voids|resolutions)\.(.+)$/.exec(field)
  if (rec !== null) return recordText(rec[1]!, rec[2]!, state) ?? 'recorded'
  if (field === 'statedTotal' || field === 'approvalThreshold') {
    return value.split(' | ').map((v) => /^-?\d+$/.test(v) ? money(BigInt(v), m) : v).join(' or ')
  }
  if (field === 'fxRate') return value.split(' | ').map((v) => qty(v)).join(' or ')
  if (field === 'lifecycle') return STATE_LABEL[value as LifecycleState] ?? value
  return value.split(' | ').join(' or ')
}

function recordText(set: string, id: string, state: PurchaseState): string | null | undefined {
  const m = orderMoney(state)
  const of = (line: string) => state.lines.find((l) => l.id === line)?.product ?? 'a removed line'
  switch (set) {
    case 'receipts': { const r = state.receipts.find((x) => x.id === id); return r && `${qty(r.qty)} of ${of(r.line)} received, delivery note ${r.deliveryNote}` }
    case 'returns': { const r = state.returns.find((x) => x.id === id); return r && `${qty(r.qty)} of ${of(r.line)} returned${r.reason ? `: ${r.reason}` : ''}` }
    case 'bills': { const r = state.bills.find((x) => x.id === id); return r && `${qty(r.qty)} of ${of(r.line)} billed, ref ${r.ref}` }
    case 'payments': { const r = state.payments.find((x) => x.id === id); return r && `${money(BigInt(r.amount), m)} paid, ref ${r.ref}` }
    case 'refunds': { const r = state.refunds.find((x) => x.id === id); return r && `${money(BigInt(r.amount), m)} ${r.status === 'requested' ? 'requested back' : 'refunded'}, ref ${r.ref}` }
    case 'voids': {
      const v = state.voids.find((x) => x.id === id)
      if (v === undefined) return null
      const target = recordText(v.set, v.target, state)
      return `voided ${target ?? `a ${RECORD_WORD[v.set]?.toLowerCase() ?? 'record'}`}${v.reason ? `: ${v.reason}` : ''}`
    }
    case 'resolutions': {
      const r = state.resolutions.find((x) => x.id === id)
      return r && `${KIND_LABEL[r.kind as keyof typeof KIND_LABEL] ?? 'a conflict'} resolved${r.note ? `: ${r.note}` : ''}`
    }
    default: return null
  }
}

/** What a conflict is about: "Line 1 (Bolt)", "The stated total". */
export function subjectText(c: Conflict, state: PurchaseState): string {
  const line = /^line:(.+)$/.exec(c.subject)
  if (line !== null) return capital(lineName(state, line[1]!))
  const note = /^receipt-note:([^:]+):(.+)$/.exec(c.subject)
  if (note !== null) return `Delivery note ${note[2]} on ${lineName(state, note[1]!)}`
  const field = /^field:(.+)$/.exec(c.subject)
  if (field !== null) return fieldLabel(field[1]!, state)
  if (c.subject === 'order') return 'The whole order'
  if (c.subject === 'lifecycle') return 'The order status'
  if (c.subject.startsWith('conflict:')) return 'An earlier conflict'
  return 'The order'
}

/** Conflict fact names in words. */
const FACT_LABEL: Readonly<Record<string, string>> = {
  line: 'Line', product: 'Product', ordered: 'Ordered', received: 'Received', billed: 'Billed', paid: 'Paid', excess: 'Excess',
  tolerance: 'Tolerance', total: 'Total', threshold: 'Approval threshold', computed: 'Computed total', stated: 'Stated total',
  deliveryNote: 'Delivery note', receipts: 'Receipts', quantities: 'Quantities', fields: 'Fields edited', field: 'Field',
  values: 'Values', supplier: 'Supplier', currency: 'Currency', linesPricedIn: 'Lines priced in', lines: 'Lines',
  first: 'First change', second: 'Second change', now: 'Status now', kind: 'Conflict', conflict: 'Conflict',
  qty: 'Quantity', price: 'Unit price', receivedQty: 'Received',
}

/** Facts that are amounts of the order (core writes them in major units), by kind. */
const MONEY_FACTS: Readonly<Record<string, ReadonlySet<string>>> = {
  TOTAL_MISMATCH: new Set(['computed', 'stated']),
  APPROVAL_BYPASSED: new Set(['total', 'threshold']),
  OVERPAYMENT: new Set(['total', 'paid', 'excess']),
  CANCELLED_WITH_ACTIVITY: new Set(['paid']),
}

/** A conflict's facts as label and value, every amount in the order's currency and every key and code in words. */
export function conflictFacts(c: Conflict, state: PurchaseState): [label: string, value: string][] {
  const m = orderMoney(state)
  const moneyKeys = MONEY_FACTS[c.kind] ?? new Set<string>()
  const out: [string, string][] = []
  for (const [k, v] of Object.entries(c.facts)) {
    if (k === 'conflict') continue
    let shown: string
    if (moneyKeys.has(k)) shown = v.split(', ').map((x) => moneyMajor(x, m)).join(', ')
    else if (k === 'price') shown = price(v, m)
    else if (k === 'fields') shown = v.split(', ').filter((x) => x !== '').map((f) => fieldLabel(f, state)).join(', ')
    else if (k === 'field') shown = fieldLabel(v, state)
    else if (k === 'kind') shown = KIND_LABEL[v as keyof typeof KIND_LABEL] ?? 'another conflict'
    else if (k === 'first' || k === 'second') shown = ACTION_LABEL[v as keyof typeof ACTION_LABEL] ?? v
    else if (k === 'now') shown = STATE_LABEL[v as LifecycleState] ?? v
    else if (k === 'quantities') shown = v.split(' + ').map((x) => qty(x)).join(' + ')
    else if (k === 'tolerance') shown = `${qty(v.replace(/%$/, ''))} %`
    else if (k === 'values' && c.facts.field !== undefined) shown = v.split(' | ').map((x) => guardedValue(c.facts.field!, x, m)).join(' or ')
    else shown = /^-?\d+(\.\d+)?$/.test(v) ? qty(v) : v
    out.push([FACT_LABEL[k] ?? 'Detail', shown])
  }
  return out
}

function guardedValue(field: string, v: string, m: OrderMoney): string {
  if (/statedTotal|approvalThreshold/.test(field) && /^-?\d+$/.test(v)) return money(BigInt(v), m)
  return /^-?\d+(\.\d+)?$/.test(v) ? qty(v) : v
}

/**
 * What core's branch summary says, with its numbers in the locale and its
 * keys in words ("stated total 1568.40" -> "stated total €1,568.40").
 */
export function branchText(c: Conflict, summary: string, state: PurchaseState): string {
  const m = orderMoney(state)
  if (c.kind === 'TOTAL_MISMATCH' || c.kind === 'OVERPAYMENT') {
    return summary.replace(/-?\d+(\.\d+)?/g, (x) => moneyMajor(x, m))
  }
  if (c.kind === 'EDIT_AFTER_LOCK') {
    const e = /^edited (.+)$/.exec(summary)
    if (e !== null) return `edited ${e[1]!.split(', ').map((f) => fieldLabel(f, state).toLowerCase()).join(', ')}`
  }
  if (c.kind === 'CONCURRENT_RESOLUTIONS') return 'resolved it'
  if (c.kind === 'CONTRADICTORY_TRANSITIONS') return ACTION_LABEL[summary as keyof typeof ACTION_LABEL] ?? summary
  const set = /^set (\S+) to (.*)$/.exec(summary)
  if (set !== null) return `set ${fieldLabel(set[1]!, state).toLowerCase()} to ${guardedValue(set[1]!, set[2]!, m)}`
  return summary.replace(/(?<![\w.])\d+\.\d+(?![\w.])/g, (x) => qty(x))
}

/** What a person reads for a message, and the raw text (codes, ids) for the details disclosure. */
export interface Said {
  readonly text: string
  readonly detail: string | null
}

/** Codes, ids, field keys and minor units: what no sentence on screen may hold. */
export const INTERNAL_TEXT = [
  /\b[A-Z]{2,}_[A-Z_]+\b/, /\b[0-9A-HJKMNP-TV-Z]{26}\b/i, /\bc_[0-9a-z]+/, /\bh\.[a-zA-Z]+/, /\blines\.[^.\s]+\.[a-z]+/,
  /minor units/, /\b\d{4}-\d\d-\d\dT\d\d:\d\d/, /\(goOffline\)|goOnline|forceSync|autoConnect/, /\bcircuit breaker\b/,
  // camelCase keys ("approvalThreshold:") are code, not words
  /\b[a-z]+[A-Z][a-zA-Z]*\b/,
]

export function looksInternal(text: string): boolean {
  return INTERNAL_TEXT.some((r) => r.test(text))
}

const GENERIC: Readonly<Record<string, string>> = {
  COMMAND_REFUSED: 'This change is not allowed now.',
  INVALID_DECIMAL: 'That is not a valid number.',
  INVALID_MONEY: 'That is not a valid amount.',
  INVALID_DATE: 'That is not a valid date.',
  INVALID_CURRENCY: 'That is not a currency the app knows.',
  INVALID_ARGUMENT: 'That value is not valid.',
  BLOCKED_BY_CONFLICT: 'A conflict has to be resolved first.',
  EVENT_TOO_LARGE: 'This change is too large to send.',
  FRAME_TOO_LARGE: 'This change is too large for the relay.',
  SCHEMA_VIOLATION: 'The relay does not accept this value.',
  FORBIDDEN: 'You may not make this change.',
  INVALID_RESOLUTION: 'This resolution is not possible.',
  UNKNOWN_CONFLICT: 'This conflict is already resolved.',
  TOKEN_UNAVAILABLE: 'The relay did not give this device a sign-in token.',
  UNAUTHORIZED: 'The relay did not accept this device’s sign-in.',
  NETWORK: 'The relay cannot be reached.',
  DEPENDS_ON_REFUSED: 'It was made on top of a refused change.',
}

/** Core refusals that carry numbers or keys, said in words with the order's money. */
function refusalText(message: string, m: OrderMoney | undefined): string | null {
  const minor = (x: string) => m === undefined ? qty(x) : money(BigInt(x), m)
  let r = /^cannot pay (\d+): (\d+) is due \(minor units\)$/.exec(message)
  if (r !== null) return `Cannot pay ${minor(r[1]!)}: only ${minor(r[2]!)} is due.`
  r = /^the stated total must equal the computed total \((-?\d+) minor units\)$/.exec(message)
  if (r !== null) return `The stated total must equal the computed total, ${minor(r[1]!)}.`
  r = /^cannot (return|bill) ([\d.]+): (?:only )?([\d.]+) (received|left to bill)(?: \((received|ordered) ([\d.]+)\))?$/.exec(message)
  if (r !== null) return `Cannot ${r[1]} ${qty(r[2]!)}: only ${qty(r[3]!)} ${r[4]}${r[6] !== undefined ? ` (${r[5]} ${qty(r[6])})` : ''}.`
  r = /^this change would break an invariant \(([A-Z_]+) on /.exec(message)
  if (r !== null) return `This change would cause a conflict: ${(KIND_LABEL[r[1] as keyof typeof KIND_LABEL] ?? 'a conflict').toLowerCase()}.`
  r = /^cannot (\w+) an order that is (\w+)/.exec(message)
  if (r !== null) return `You cannot ${(ACTION_LABEL[r[1] as keyof typeof ACTION_LABEL] ?? r[1]!).toLowerCase()} while the order is ${(STATE_LABEL[r[2] as LifecycleState] ?? r[2]!).toLowerCase()}.`
  r = /^cannot (.+) while the order is (\w+)$/.exec(message)
  if (r !== null) return `You cannot ${r[1]} while the order is ${(STATE_LABEL[r[2] as LifecycleState] ?? r[2]!).toLowerCase()}.`
  if (/^line \S+ was removed$/.test(message)) return 'This line was removed.'
  if (/^line \S+ is not removed$/.test(message)) return 'This line is not removed.'
  if (/ is already void$/.test(message)) return 'This is already void.'
  return null
}

/** Names of command inputs, as core prefixes their errors ("qty: 1.23456 has more than 4 decimal places"). */
const INPUT_LABEL: Readonly<Record<string, string>> = {
  qty: 'Quantity', price: 'Unit price', discount: 'Discount', amount: 'Amount', approvalThreshold: 'Approval threshold',
  receiptTolerance: 'Receipt tolerance', statedTotal: 'Stated total', fxRate: 'Exchange rate', deliveryNote: 'Delivery note',
  ref: 'Reference', product: 'Product', supplier: 'Supplier', currency: 'Currency', date: 'Date', reason: 'Reason', uom: 'Unit',
}

/** An option of a conflict's resolution, with its amounts in the order's currency. */
export function optionLabel(c: Conflict, label: string, state: PurchaseState): string {
  const m = orderMoney(state)
  const moneyKind = MONEY_FACTS[c.kind] !== undefined
  return label.replace(/(?<![\w.])-?\d+(\.\d+)?(?![\w.])/g, (x) => moneyKind ? moneyMajor(x, m) : qty(x))
}

/** A message's raw text in the person's words: kept when it reads as a sentence, replaced when it holds internals. */
export function plainWords(raw: string, code: string | undefined, m?: OrderMoney, fallback?: string): Said {
  const input = /^([a-zA-Z]+): (.+)$/.exec(raw)
  if (input !== null && INPUT_LABEL[input[1]!] !== undefined) {
    const rest = input[2]!.replace(/(?<![\w.])-?\d+\.\d+(?![\w.])/g, (x) => qty(x)).replace(/^(\S+) (has|is|must)/, '“$1” $2')
    const inner = plainWords(rest, code, m)
    return { text: `${INPUT_LABEL[input[1]!]}: ${inner.text.charAt(0).toLowerCase()}${inner.text.slice(1)}`, detail: `${code ?? ''} ${raw}`.trim() }
  }
  const mapped = refusalText(raw, m)
  if (mapped !== null) return { text: mapped, detail: `${code ?? ''} ${raw}`.trim() }
  if (!looksInternal(raw) && code === undefined) return { text: capital(raw), detail: null }
  if (!looksInternal(raw)) return { text: capital(raw.endsWith('.') ? raw : `${raw}.`), detail: code ?? null }
  const known = code !== undefined ? GENERIC[code] : Object.entries(GENERIC).find(([k]) => raw.includes(k))?.[1]
  return { text: known ?? fallback ?? 'Something went wrong with this change.', detail: `${code ?? ''} ${raw}`.trim() }
}

/** Anything thrown by a command (or the client) in words, with its code for the details. */
export function explainError(e: unknown, m?: OrderMoney): Said {
  if (isConcordError(e)) return plainWords(e.message, e.code, m)
  if (typeof e === 'object' && e !== null && 'message' in e && typeof (e as { message: unknown }).message === 'string') {
    const code = (e as { code?: unknown }).code
    return plainWords((e as { message: string }).message, typeof code === 'string' ? code : undefined, m)
  }
  return plainWords(String(e), undefined, m)
}

/** Plain text of an error, for places that only show a string (a page that cannot open). */
export function errorText(e: unknown): string {
  return explainError(e).text
}

function capital(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1)
}
