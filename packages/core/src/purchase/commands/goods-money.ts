/** Commands that record goods and money: receipts, returns, bills, payments, refunds, and voids of any of them. */
import { fail } from '../../errors.js'
import { type LineId, type RecordId, parseRecordId } from '../../ids.js'
import type { Json } from '../../json.js'
import type { EventEnvelope } from '../../log/envelope.js'
import { type MinorString, majorToMinor, minorToString } from '../../money/amount.js'
import { compareDecimal, subDecimal } from '../../money/decimal.js'
import { parseIsoDate } from '../../time/dates.js'
import { type EventKind, voidKindOf } from '../event-kinds.js'
import * as input from '../inputs.js'
import type { VoidableSet } from '../model.js'
import { type CommandContext, BILLABLE, RECEIVABLE, lineOf, refuse, requireNotBlocked, requireState, today } from './context.js'

function record(ctx: CommandContext, set: VoidableSet, kind: EventKind, fields: Record<string, Json>): { event: EventEnvelope; id: RecordId } {
  const id = parseRecordId(ctx.newId())
  const event = ctx.commit(kind, (w, s) => w.addRecord(set, id, { id, ...fields, ...s } as unknown as Json))
  return { event, id }
}

export function recordReceipt(ctx: CommandContext, r: { line: LineId; qty: string; deliveryNote: string; date?: string }) {
  const l = lineOf(ctx, r.line)
  if (l.kind !== 'goods') refuse('services are not received; bill them')
  const qty = input.quantity('qty', r.qty)
  const deliveryNote = input.text('deliveryNote', r.deliveryNote, { required: true, max: 100 })
  const date = r.date === undefined ? today(ctx) : input.field('date', () => parseIsoDate(r.date))
  requireState(ctx, RECEIVABLE, 'receive goods')
  requireNotBlocked(ctx, ['order', `line:${l.id}`], 'receive goods')
  const voided = ctx.derived().voided
  if (ctx.state().receipts.some((x) => x.line === l.id && x.deliveryNote === deliveryNote && !voided.has(x.id))) {
    refuse(`delivery note ${deliveryNote} is already recorded on this line`, { field: 'deliveryNote' })
  }
  return record(ctx, 'receipts', 'receipt.record', { line: l.id, qty, product: l.product, deliveryNote, date })
}

export function recordReturn(ctx: CommandContext, r: { line: LineId; qty: string; reason?: string; date?: string }) {
  const l = lineOf(ctx, r.line)
  const qty = input.quantity('qty', r.qty)
  const received = ctx.derived().lines.get(l.id)!.received
  if (compareDecimal(qty, received) > 0) refuse(`cannot return ${qty}: only ${received} received`, { field: 'qty' })
  const date = r.date === undefined ? today(ctx) : input.field('date', () => parseIsoDate(r.date))
  return record(ctx, 'returns', 'return.record', { line: l.id, qty, reason: input.text('reason', r.reason ?? ''), date })
}

export function recordBill(ctx: CommandContext, b: { line: LineId; qty: string; ref: string; date?: string }) {
  const l = lineOf(ctx, b.line)
  const qty = input.quantity('qty', b.qty)
  requireState(ctx, BILLABLE, 'record a bill')
  requireNotBlocked(ctx, ['order', `line:${l.id}`], 'record a bill')
  const t = ctx.derived().lines.get(l.id)!
  const limit = l.kind === 'goods' ? t.received : l.qty
  const after = subDecimal(limit, t.billed)
  if (compareDecimal(qty, after) > 0) refuse(`cannot bill ${qty}: ${after} left to bill (${l.kind === 'goods' ? 'received' : 'ordered'} ${limit})`, { field: 'qty' })
  const date = b.date === undefined ? today(ctx) : input.field('date', () => parseIsoDate(b.date))
  return record(ctx, 'bills', 'bill.record', { line: l.id, qty, ref: input.text('ref', b.ref, { required: true }), date })
}

export function recordPayment(ctx: CommandContext, p: { amount: string; ref: string; date?: string }) {
  const amount = input.field('amount', () => majorToMinor(p.amount, ctx.state().settings.currencyExponent))
  if (amount <= 0n) fail('INVALID_MONEY', 'amount must be positive', { field: 'amount' })
  requireState(ctx, BILLABLE, 'record a payment')
  if (ctx.state().hold.on) refuse(`the order is on hold: ${ctx.state().hold.reason}`)
  requireNotBlocked(ctx, ['order'], 'record a payment')
  const due = ctx.derived().totals.due
  if (amount > due) refuse(`cannot pay ${minorToString(amount)}: ${minorToString(due)} is due (minor units)`, { field: 'amount' })
  const date = p.date === undefined ? today(ctx) : input.field('date', () => parseIsoDate(p.date))
  return record(ctx, 'payments', 'payment.record', { amount: minorToString(amount) as MinorString, ref: input.text('ref', p.ref, { required: true }), date })
}

export function recordRefund(ctx: CommandContext, p: { amount: string; ref: string; date?: string }) {
  const amount = input.field('amount', () => majorToMinor(p.amount, ctx.state().settings.currencyExponent))
  if (amount <= 0n) fail('INVALID_MONEY', 'amount must be positive', { field: 'amount' })
  if (amount > ctx.derived().totals.paid) refuse('cannot refund more than was paid', { field: 'amount' })
  const date = p.date === undefined ? today(ctx) : input.field('date', () => parseIsoDate(p.date))
  return record(ctx, 'refunds', 'refund.record', { amount: minorToString(amount) as MinorString, ref: input.text('ref', p.ref, { required: true }), date })
}

/** Corrections are events too: a void cancels one receipt, return, bill, payment or refund. */
export function voidRecord(ctx: CommandContext, set: VoidableSet, target: RecordId, reason: string) {
  const list = ctx.state()[set] as readonly { id: RecordId }[]
  if (!list.some((r) => r.id === target)) fail('NOT_FOUND', `no ${set} record ${target}`)
  if (ctx.derived().voided.has(target)) refuse(`${target} is already void`)
  const id = parseRecordId(ctx.newId())
  const why = input.text('reason', reason, { required: true })
  const event = ctx.commit(voidKindOf(set), (w, s) => w.addRecord('voids', id, { id, set, target, reason: why, ...s } as unknown as Json))
  return { event, id }
}

