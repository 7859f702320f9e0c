/**
 * What each resolution option writes. A resolution never rewrites history:
 * it appends ordinary changes (register writes tagged with the conflict id,
 * returns, voids, forced transitions) plus a resolution record, all in one
 * event that causally follows both branches. Options that only record a
 * decision ("accept", "amend") write nothing but the record.
 */
import type { DocWriter } from '../backends/backend.js'
import { fail } from '../errors.js'
import type { EventId, LineId, RecordId } from '../ids.js'
import type { Json } from '../json.js'
import { type Decimal, compareDecimal, decimalFromParts, subDecimal } from '../money/decimal.js'
import { nextState } from '../purchase/lifecycle.js'
import { keyBetween } from '../purchase/sort-key.js'
import { minorToString, parseMinor } from '../money/amount.js'
import { currencyExponent, parseCurrencyCode } from '../money/currency.js'
import * as input from '../purchase/inputs.js'
import type { IsoDate } from '../time/dates.js'
import { businessDateOf } from '../time/dates.js'
import type { PurchaseDerived } from '../purchase/derive.js'
import { type LifecycleState, type PurchaseState, type Stamp, type StoredClock, type TransitionRecord, keys } from '../purchase/model.js'
import type { Conflict, ConflictKind } from './types.js'

export interface ResolveContext {
  readonly state: PurchaseState
  readonly derived: PurchaseDerived
  readonly conflict: Conflict
  readonly params: { readonly [k: string]: string }
  readonly w: DocWriter
  readonly stamp: Stamp
  /** The replica's version vector now: a resolution has seen both branches. */
  readonly vv: StoredClock
  newRecordId(): RecordId
  /** A register's value as it was when an author had seen `vv` (replays history). */
  valueAsOf(key: string, vv: StoredClock): Json | undefined
}

type Resolver = (ctx: ResolveContext) => void

const recordOnly: Resolver = () => {}

function writeReg(ctx: ResolveContext, key: string, value: Json): void {
  ctx.w.setRegister(key, { value, ev: ctx.stamp.ev, hlc: ctx.stamp.hlc, by: ctx.stamp.by, dev: ctx.stamp.dev, res: ctx.conflict.id })
}

function today(ctx: ResolveContext): IsoDate {
  return businessDateOf(ctx.stamp.at, ctx.state.settings.timeZone)
}

function voidRecord(ctx: ResolveContext, set: 'receipts' | 'bills' | 'payments' | 'refunds' | 'returns', target: RecordId, reason: string): void {
  const id = ctx.newRecordId()
  ctx.w.addRecord('voids', id, { id, set, target, reason, ...ctx.stamp } as unknown as Json)
}

function force(ctx: ResolveContext, to: LifecycleState): void {
  const id = ctx.newRecordId()
  const t: Omit<TransitionRecord, 'to'> & { to: LifecycleState } = { id, action: 'force', to, vv: ctx.vv, ...ctx.stamp }
  ctx.w.addRecord('transitions', id, t as unknown as Json)
}

function lineOf(ctx: ResolveContext): LineId {
  const m = /^line:(.+)$/.exec(ctx.conflict.subject)
  if (m === null) fail('INVALID_RESOLUTION', `conflict ${ctx.conflict.id} is not about a line`)
  return m[1] as LineId
}

function param(ctx: ResolveContext, name: string): string {
  const v = ctx.params[name]
  if (v === undefined) fail('INVALID_RESOLUTION', `option ${name} is required`)
  return v
}

/** The register's value before the events that caused the conflict, from history. */
function revertRegister(ctx: ResolveContext, key: string, before: StoredClock): void {
  const v = ctx.valueAsOf(key, before)
  if (v === undefined) fail('INVALID_RESOLUTION', `no earlier value of ${key} in the history this replica holds`)
  writeReg(ctx, key, v)
}

function lockOf(ctx: ResolveContext): TransitionRecord {
  const lock = ctx.derived.lifecycle.lockedBy
  if (lock === undefined) fail('INVALID_RESOLUTION', 'the order is no longer locked')
  return lock
}

export const RESOLVERS: Readonly<Record<ConflictKind, Readonly<Record<string, Resolver>>>> = {
  TOTAL_MISMATCH: {
    'accept-computed': (ctx) => writeReg(ctx, keys.guarded('statedTotal'), minorToString(ctx.derived.totals.total)),
    // The stated total is a commitment: keeping one (or stating another)
    // means the lines must reach it, so each adds the adjustment line that
    // makes the computed total equal it; the invariant then holds again.
    'adjustment-line': (ctx) => adjustTo(ctx, parseMinor(param(ctx, 'stated'))),
    keep: (ctx) => adjustTo(ctx, parseMinor(param(ctx, 'value'))),
    custom: (ctx) => adjustTo(ctx, parseMinor(param(ctx, 'value'))),
    defer: recordOnly,
  },
  OVER_RECEIPT: {
    accept: recordOnly,
    'raise-qty': (ctx) => {
      const line = lineOf(ctx)
      writeReg(ctx, keys.line(line, 'qty'), ctx.derived.lines.get(line)!.received)
    },
    'return-excess': (ctx) => {
      const line = lineOf(ctx)
      const l = ctx.state.lines.find((x) => x.id === line)!
      const excess = subDecimal(ctx.derived.lines.get(line)!.received, l.qty)
      const id = ctx.newRecordId()
      ctx.w.addRecord('returns', id, { id, line, qty: excess, reason: 'excess returned (conflict resolution)', date: today(ctx), ...ctx.stamp } as unknown as Json)
    },
    'void-receipt': (ctx) => voidRecord(ctx, 'receipts', param(ctx, 'receipt') as RecordId, 'duplicate receipt (conflict resolution)'),
    defer: recordOnly,
  },
  DUPLICATE_RECEIPT: {
    'void-receipt': (ctx) => voidRecord(ctx, 'receipts', param(ctx, 'receipt') as RecordId, 'duplicate delivery note (conflict resolution)'),
    accept: recordOnly,
    defer: recordOnly,
  },
  ACTIVITY_ON_REMOVED_LINE: {
    'restore-line': (ctx) => writeReg(ctx, keys.line(lineOf(ctx), 'removed'), false),
    'void-activity': (ctx) => {
      const line = lineOf(ctx)
      const v = ctx.derived.voided
      for (const r of ctx.state.receipts) if (r.line === line && !v.has(r.id)) voidRecord(ctx, 'receipts', r.id, 'line was removed')
      for (const r of ctx.state.returns) if (r.line === line && !v.has(r.id)) voidRecord(ctx, 'returns', r.id, 'line was removed')
      for (const b of ctx.state.bills) if (b.line === line && !v.has(b.id)) voidRecord(ctx, 'bills', b.id, 'line was removed')
    },
    defer: recordOnly,
  },
  PRODUCT_CHANGED_AFTER_ACTIVITY: {
    'split-line': (ctx) => {
      const line = lineOf(ctx)
      const l = ctx.state.lines.find((x) => x.id === line)!
      const received = ctx.derived.lines.get(line)!.received
      const old = ctx.state.receipts.find((r) => r.line === line && !ctx.derived.voided.has(r.id) && r.product !== l.product)!.product
      // The received goods stay on the original line under the old product...
      writeReg(ctx, keys.line(line, 'product'), old)
      writeReg(ctx, keys.line(line, 'qty'), received)
      // ...and what remains to receive moves to a new line with the new product.
      const remaining = subDecimal(l.qty, received)
      if (compareDecimal(remaining, '0' as Decimal) > 0) {
        const id = ctx.newRecordId() as unknown as LineId
        ctx.w.addRecord('lines', id, { id, kind: l.kind, vv: ctx.vv, ...ctx.stamp } as unknown as Json)
        writeReg(ctx, keys.line(id, 'product'), l.product)
        writeReg(ctx, keys.line(id, 'description'), l.description)
        writeReg(ctx, keys.line(id, 'qty'), remaining)
        writeReg(ctx, keys.line(id, 'price'), l.price as unknown as Json)
        writeReg(ctx, keys.line(id, 'discount'), l.discount)
        writeReg(ctx, keys.line(id, 'uom'), l.uom)
        const next = ctx.state.lines[ctx.state.lines.findIndex((x) => x.id === l.id) + 1]?.sortKey ?? null
        writeReg(ctx, keys.line(id, 'sortKey'), keyBetween(l.sortKey, next !== null && next > l.sortKey ? next : null))
        for (const t of l.taxes) writeReg(ctx, keys.tax(id, t.code), { on: true, ...t } as unknown as Json)
      }
    },
    'revert-change': (ctx) => {
      const line = lineOf(ctx)
      const l = ctx.state.lines.find((x) => x.id === line)!
      const old = ctx.state.receipts.find((r) => r.line === line && !ctx.derived.voided.has(r.id) && r.product !== l.product)!.product
      writeReg(ctx, keys.line(line, 'product'), old)
    },
    defer: recordOnly,
  },
  OVER_BILLED: {
    accept: recordOnly,
    'void-bill': (ctx) => voidRecord(ctx, 'bills', param(ctx, 'bill') as RecordId, 'over-billed (conflict resolution)'),
    defer: recordOnly,
  },
  OVERPAYMENT: {
    accept: recordOnly,
    'void-payment': (ctx) => voidRecord(ctx, 'payments', param(ctx, 'payment') as RecordId, 'duplicate payment (conflict resolution)'),
    'request-refund': (ctx) => {
      const id = ctx.newRecordId()
      const excess = ctx.derived.totals.paid - ctx.derived.totals.total
      ctx.w.addRecord('refunds', id, { id, amount: minorToString(excess), ref: 'refund requested (conflict resolution)', date: today(ctx), ...ctx.stamp } as unknown as Json)
    },
    defer: recordOnly,
  },
  CANCELLED_WITH_ACTIVITY: {
    uncancel: (ctx) => force(ctx, stateBeforeLastCancel(ctx)),
    'return-refund': (ctx) => {
      const v = ctx.derived.voided
      for (const [line, t] of ctx.derived.lines) {
        if (compareDecimal(t.received, '0' as Decimal) > 0) {
          const id = ctx.newRecordId()
          ctx.w.addRecord('returns', id, { id, line, qty: t.received, reason: 'order cancelled (conflict resolution)', date: today(ctx), ...ctx.stamp } as unknown as Json)
        }
      }
      for (const b of ctx.state.bills) if (!v.has(b.id)) voidRecord(ctx, 'bills', b.id, 'order cancelled')
      if (ctx.derived.totals.paid > 0n) {
        const id = ctx.newRecordId()
        ctx.w.addRecord('refunds', id, { id, amount: minorToString(ctx.derived.totals.paid), ref: 'order cancelled (conflict resolution)', date: today(ctx), ...ctx.stamp } as unknown as Json)
      }
    },
    'short-close': (ctx) => force(ctx, 'closed'),
    defer: recordOnly,
  },
  CONTRADICTORY_TRANSITIONS: {
    keep: (ctx) => {
      const ev = param(ctx, 'transition') as EventId
      const t = ctx.state.transitions.find((x) => x.ev === ev)
      if (t === undefined || !ctx.conflict.causes.includes(ev)) fail('INVALID_RESOLUTION', `transition ${ev} is not a side of this conflict`)
      force(ctx, t.action === 'cancel' ? 'cancelled' : t.action === 'reject' ? 'draft' : 'confirmed')
    },
    defer: recordOnly,
  },
  EDIT_AFTER_LOCK: {
    amend: recordOnly,
    discard: (ctx) => {
      const lock = lockOf(ctx)
      const keysEdited = (ctx.conflict.facts.fields ?? '').split(', ').filter((k) => k !== '')
      for (const key of keysEdited) {
        const v = ctx.valueAsOf(key, lock.vv)
        if (v === undefined && key.startsWith('l.')) {
          // The line did not exist when the order was locked: discarding the edit removes it.
          writeReg(ctx, `${key.slice(0, key.lastIndexOf('.'))}.removed`, true)
        } else if (v !== undefined) writeReg(ctx, key, v)
      }
    },
    defer: recordOnly,
  },
  SUPPLIER_CHANGED_AFTER_SEND: {
    revert: (ctx) => {
      const sent = ctx.derived.lifecycle.sentBy
      if (sent === undefined) fail('INVALID_RESOLUTION', 'the order is no longer sent')
      revertRegister(ctx, keys.guarded('supplier'), sent.vv)
    },
    resend: (ctx) => {
      force(ctx, 'draft')
    },
    defer: recordOnly,
  },
  CURRENCY_CHANGED_WITH_LINES: {
    'reprice-lines': (ctx) => {
      const currency = ctx.state.currency.values[0]!
      for (const l of ctx.state.lines) {
        if (!l.removed && l.price.currency !== currency) writeReg(ctx, keys.line(l.id, 'price'), { amount: l.price.amount, currency })
      }
    },
    'revert-currency': (ctx) => writeReg(ctx, keys.guarded('currency'), param(ctx, 'currency')),
    defer: recordOnly,
  },
  APPROVAL_BYPASSED: {
    'send-to-approval': (ctx) => force(ctx, 'toApprove'),
    'approve-now': recordOnly,
    'revert-late-lines': (ctx) => {
      for (const l of ctx.state.lines) {
        if (!l.removed && ctx.conflict.causes.includes(l.created.ev)) writeReg(ctx, keys.line(l.id, 'removed'), true)
      }
    },
    defer: recordOnly,
  },
  CONCURRENT_GUARDED_WRITE: {
    keep: (ctx) => writeReg(ctx, `h.${ctx.conflict.facts.field ?? ''}`, param(ctx, 'value')),
    custom: (ctx) => writeReg(ctx, `h.${ctx.conflict.facts.field ?? ''}`, customGuardedValue(ctx)),
    defer: recordOnly,
  },
  POSSIBLE_DUPLICATE_LINE: {
    'remove-line': (ctx) => writeReg(ctx, keys.line(param(ctx, 'line') as LineId, 'removed'), true),
    'keep-both': recordOnly,
    defer: recordOnly,
  },
  // Handled by the replica: it re-applies the chosen resolution.
  CONCURRENT_RESOLUTIONS: { pick: recordOnly, defer: recordOnly },
}

/**
 * A custom value for a guarded field passes the checks its own command makes
 * (a canonical rate, a currency of the order's exponent, a bounded supplier
 * name), so a resolution cannot write what no command could.
 */
function customGuardedValue(ctx: ResolveContext): string {
  const v = param(ctx, 'value')
  switch (ctx.conflict.facts.field) {
    case 'supplier':
      return input.text('value', v, { required: true })
    case 'fxRate':
      return input.rate('value', v)
    case 'currency': {
      const c = input.field('value', () => parseCurrencyCode(v))
      input.field('value', () => currencyExponent(c, ctx.state.settings.currencyExponent))
      return c
    }
    default:
      return fail('INVALID_RESOLUTION', `no custom value for field ${String(ctx.conflict.facts.field)}`)
  }
}

/** Adds a service line for the difference and states the total it makes. */
function adjustTo(ctx: ResolveContext, stated: bigint): void {
  const diff = stated - ctx.derived.totals.total
  if (diff !== 0n) {
    const id = ctx.newRecordId() as unknown as LineId
    ctx.w.addRecord('lines', id, { id, kind: 'service', vv: ctx.vv, ...ctx.stamp } as unknown as Json)
    writeReg(ctx, keys.line(id, 'product'), 'Adjustment')
    writeReg(ctx, keys.line(id, 'qty'), '1')
    // An adjustment may be negative: its unit price carries the sign.
    const amount = decimalFromParts({ units: diff, scale: ctx.state.settings.currencyExponent })
    writeReg(ctx, keys.line(id, 'price'), { amount, currency: ctx.state.currency.values[0] ?? '' })
    writeReg(ctx, keys.line(id, 'sortKey'), keyBetween(ctx.state.lines[ctx.state.lines.length - 1]?.sortKey ?? null, null))
  }
  writeReg(ctx, keys.guarded('statedTotal'), minorToString(stated))
}

/** The state the order was in just before its last cancellation. */
function stateBeforeLastCancel(ctx: ResolveContext): LifecycleState {
  let state: LifecycleState = 'draft'
  let beforeCancel: LifecycleState = 'draft'
  for (const t of ctx.derived.lifecycle.applied) {
    const next: LifecycleState = nextState(state, t.action, t.to) ?? state
    if (next === 'cancelled') beforeCancel = state
    state = next
  }
  return beforeCancel
}
