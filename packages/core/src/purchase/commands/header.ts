/** Commands on the order as a whole: creating it, its header and guarded fields, hold, notes and number. */
import { fail } from '../../errors.js'
import type { Json } from '../../json.js'
import type { EventEnvelope } from '../../log/envelope.js'
import { majorToMinor, minorToString } from '../../money/amount.js'
import { currencyExponent, parseCurrencyCode } from '../../money/currency.js'
import type { RoundingPolicy } from '../../money/rounding.js'
import { businessDateOf, instantFromEpochMs, parseIsoDate, parseTimeZone } from '../../time/dates.js'
import * as input from '../inputs.js'
import { type GuardedField, type HeaderField, type PurchaseSettings, type TaxMode, HEADER_FIELDS, keys } from '../model.js'
import { type CommandContext, EDITABLE, entry, refuse, requireState } from './context.js'

export interface CreatePurchaseInput {
  readonly currency: string
  /** Needed only for a currency not in the ISO table. */
  readonly currencyExponent?: number
  readonly rounding?: RoundingPolicy
  readonly taxMode?: TaxMode
  readonly timeZone?: string
  /** In major units ("1000.00"); orders above it need approval. */
  readonly approvalThreshold?: string | null
  /** Percent of extra quantity a receipt may bring without a conflict. */
  readonly receiptTolerance?: string
  readonly supplier?: string
}

/** The first event of a purchase: it sets what is frozen for the order's life (settings), the currency, the supplier and the order date. */
export function createPurchase(ctx: CommandContext, init: CreatePurchaseInput): EventEnvelope {
  if (ctx.exists()) refuse('this purchase already exists')
  const code = input.field('currency', () => parseCurrencyCode(init.currency))
  const exponent = input.field('currencyExponent', () => currencyExponent(code, init.currencyExponent))
  const rounding = init.rounding ?? { mode: 'HALF_UP', tax: 'PER_LINE' }
  if (!['HALF_UP', 'HALF_EVEN'].includes(rounding.mode) || !['PER_LINE', 'GLOBAL'].includes(rounding.tax)) {
    fail('INVALID_ARGUMENT', 'rounding must be { mode: HALF_UP | HALF_EVEN, tax: PER_LINE | GLOBAL }', { field: 'rounding' })
  }
  const taxMode = init.taxMode ?? 'EXCLUSIVE'
  if (taxMode !== 'EXCLUSIVE' && taxMode !== 'INCLUSIVE') fail('INVALID_ARGUMENT', 'taxMode must be EXCLUSIVE or INCLUSIVE', { field: 'taxMode' })
  const threshold = init.approvalThreshold == null ? null : input.field('approvalThreshold', () => minorToString(majorToMinor(init.approvalThreshold!, exponent)))
  const settings: PurchaseSettings = {
    id: ctx.docId,
    backend: ctx.backend,
    currencyExponent: exponent,
    rounding: { mode: rounding.mode, tax: rounding.tax },
    taxMode,
    timeZone: input.field('timeZone', () => parseTimeZone(init.timeZone ?? 'UTC')),
    approvalThreshold: threshold,
    receiptTolerance: input.percent('receiptTolerance', init.receiptTolerance ?? '0'),
    createdAt: instantFromEpochMs(ctx.now()),
    createdBy: ctx.user(),
  }
  const supplier = init.supplier === undefined ? undefined : input.text('supplier', init.supplier, { required: true })
  return ctx.commit('purchase.create', (w, s) => {
    w.init('settings', settings as unknown as Json)
    w.setRegister(keys.guarded('currency'), entry(code, s))
    if (supplier !== undefined) w.setRegister(keys.guarded('supplier'), entry(supplier, s))
    w.setRegister(keys.header('orderDate'), entry(businessDateOf(s.at, settings.timeZone), s))
    w.insertText(keys.notes, 0, '')
  }, { check: false })
}

export function setGuarded(ctx: CommandContext, field: Exclude<GuardedField, 'statedTotal' | 'currency'>, value: string): EventEnvelope {
  const v = field === 'supplier' ? input.text('supplier', value, { required: true }) : input.rate('fxRate', value)
  requireState(ctx, EDITABLE, `change the ${field}`)
  return ctx.commit(`header.${field}`, (w, s) => w.setRegister(keys.guarded(field), entry(v, s)))
}

export function setSupplier(ctx: CommandContext, name: string): EventEnvelope {
  return setGuarded(ctx, 'supplier', name)
}

export function setFxRate(ctx: CommandContext, rate: string): EventEnvelope {
  return setGuarded(ctx, 'fxRate', rate)
}

/** Switches the currency; only with no live lines, and only to one with the same exponent. */
export function setCurrency(ctx: CommandContext, code: string): EventEnvelope {
  const c = input.field('currency', () => parseCurrencyCode(code))
  const exp = ctx.state().settings.currencyExponent
  input.field('currency', () => currencyExponent(c, exp))
  requireState(ctx, new Set(['draft']), 'change the currency')
  if (ctx.state().lines.some((l) => !l.removed)) refuse('remove the lines before changing the currency: their prices are in the old one')
  return ctx.commit('header.currency', (w, s) => w.setRegister(keys.guarded('currency'), entry(c, s)))
}

/**
 * Records the total the order commits to (the amount on the order sent, a
 * supplier's acknowledgement). It must equal the computed total; later
 * line changes on this device restate it. `null` withdraws it.
 */
export function setStatedTotal(ctx: CommandContext, amount: string | null): EventEnvelope {
  const exp = ctx.state().settings.currencyExponent
  const minor = amount === null ? null : input.field('statedTotal', () => majorToMinor(amount, exp))
  if (minor !== null && minor !== ctx.derived().totals.total) {
    refuse(`the stated total must equal the computed total (${minorToString(ctx.derived().totals.total)} minor units)`, { field: 'statedTotal' })
  }
  return ctx.commit('header.statedTotal', (w, s) => w.setRegister(keys.guarded('statedTotal'), entry(minor === null ? null : minorToString(minor), s)))
}

export function setHeader(ctx: CommandContext, field: HeaderField, value: string | null): EventEnvelope {
  if (!HEADER_FIELDS.includes(field)) fail('INVALID_ARGUMENT', `unknown header field ${String(field)}`, { field })
  const v = field === 'orderDate' || field === 'requiredBy'
    ? value === null ? null : input.field(field, () => parseIsoDate(value))
    : input.text(field, value ?? '')
  requireState(ctx, EDITABLE, `change ${field}`)
  return ctx.commit(`header.${field}`, (w, s) => w.setRegister(keys.header(field), entry(v, s)))
}

export function setHold(ctx: CommandContext, on: boolean, reason = ''): EventEnvelope {
  const r = input.text('reason', reason)
  return ctx.commit('lifecycle.hold', (w, s) => w.setRegister(keys.hold, entry({ on, reason: r }, s)), { check: false })
}

/** Edits the notes (collaborative text): delete `remove` characters at `index`, then insert `insert`. */
export function editNotes(ctx: CommandContext, index: number, remove: number, insert = ''): EventEnvelope {
  const len = ctx.textLength(keys.notes)
  if (!Number.isInteger(index) || index < 0 || index > len) fail('INVALID_ARGUMENT', `notes index ${index} is outside 0..${len}`, { field: 'index' })
  if (!Number.isInteger(remove) || remove < 0 || index + remove > len) fail('INVALID_ARGUMENT', `cannot delete ${remove} characters at ${index}`, { field: 'remove' })
  if (typeof insert !== 'string' || insert.length > 100_000) fail('INVALID_ARGUMENT', 'notes insert must be a string under 100k characters', { field: 'insert' })
  return ctx.commit('notes.edit', (w) => {
    if (remove > 0) w.deleteText(keys.notes, index, remove)
    if (insert !== '') w.insertText(keys.notes, index, insert)
  }, { check: false, causal: false })
}

/** Assigns the human order number (the relay does this on first sync). */
export function assignNumber(ctx: CommandContext, number: string): EventEnvelope {
  if (!/^PO-\d{4}-\d{5,}$/.test(number)) fail('INVALID_ARGUMENT', `order number must look like PO-2026-00042, got ${number}`, { field: 'number' })
  if (ctx.state().number !== null) refuse(`the order already has number ${ctx.state().number}`)
  return ctx.commit('purchase.number', (w, s) => w.setRegister(keys.number, entry(number, s)), { check: false })
}

