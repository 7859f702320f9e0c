/** Commands on lines: add, edit, taxes, order, remove and restore. Each restates a stated total it would contradict. */
import type { DocWriter } from '../../backends/backend.js'
import { fail } from '../../errors.js'
import { type LineId, parseLineId } from '../../ids.js'
import type { Json } from '../../json.js'
import type { EventEnvelope } from '../../log/envelope.js'
import { type Decimal, compareDecimal } from '../../money/decimal.js'
import * as input from '../inputs.js'
import { type LineKind, type Stamp, type TaxSnapshot, keys } from '../model.js'
import { keyBetween } from '../sort-key.js'
import { type CommandContext, EDITABLE, currencyOf, entry, lineOf, refuse, requireState } from './context.js'

export interface LineInput {
  readonly kind?: LineKind
  readonly product: string
  readonly description?: string
  readonly qty: string
  readonly price: string
  readonly discount?: string
  readonly uom?: string
  readonly taxes?: readonly { readonly code: string; readonly name?: string; readonly rate: string }[]
  /** Insert after this line (default: at the end). */
  readonly after?: LineId
}

export type LinePatch = Partial<Pick<LineInput, 'product' | 'description' | 'qty' | 'price' | 'discount' | 'uom'>>

export function addLine(ctx: CommandContext, line: LineInput): { event: EventEnvelope; lineId: LineId } {
  const kind = line.kind ?? 'goods'
  if (kind !== 'goods' && kind !== 'service') fail('INVALID_ARGUMENT', 'line kind must be goods or service', { field: 'kind' })
  const product = input.text('product', line.product, { required: true })
  const description = input.text('description', line.description ?? '', { max: 2000 })
  const qty = input.quantity('qty', line.qty)
  const price = input.unitPrice('price', line.price)
  const discount = input.percent('discount', line.discount ?? '0')
  const uom = input.text('uom', line.uom ?? 'unit', { max: 20 })
  const taxes = (line.taxes ?? []).map((t, i) => taxInput(t, i))
  requireState(ctx, EDITABLE, 'add a line')
  const currency = currencyOf(ctx)
  const live = ctx.state().lines
  let sortKey: string
  if (line.after !== undefined) {
    const i = live.findIndex((l) => l.id === line.after)
    if (i < 0) fail('NOT_FOUND', `no line ${line.after}`)
    sortKey = keyBetween(live[i]!.sortKey, live[i + 1]?.sortKey ?? null)
  } else sortKey = keyBetween(live[live.length - 1]?.sortKey ?? null, null)
  const id = parseLineId(ctx.newId())
  const vv = ctx.clockRecord()
  const write = (w: DocWriter, s: Stamp) => {
    w.addRecord('lines', id, { id, kind, vv, ...s } as unknown as Json)
    const set = (f: Parameters<typeof keys.line>[1], v: Json) => w.setRegister(keys.line(id, f), entry(v, s))
    set('product', product)
    if (description !== '') set('description', description)
    set('qty', qty)
    set('price', { amount: price, currency })
    if (discount !== '0') set('discount', discount)
    if (uom !== 'unit') set('uom', uom)
    set('sortKey', sortKey)
    for (const t of taxes) w.setRegister(keys.tax(id, t.code), entry({ on: true, ...t }, s))
  }
  const event = ctx.commit('line.add', write, { restate: true })
  return { event, lineId: id }
}

function taxInput(t: { code: string; name?: string; rate: string }, i: number): TaxSnapshot {
  const code = input.text(`taxes[${i}].code`, t.code, { required: true, max: 20 })
  if (!/^[A-Za-z0-9_-]+$/.test(code)) fail('INVALID_ARGUMENT', `taxes[${i}].code must be letters, digits, - or _`, { field: 'code' })
  return { code, name: input.text(`taxes[${i}].name`, t.name ?? code), rate: input.percent(`taxes[${i}].rate`, t.rate) }
}

export function updateLine(ctx: CommandContext, id: LineId, patch: LinePatch): EventEnvelope {
  const l = lineOf(ctx, id)
  requireState(ctx, EDITABLE, 'edit a line')
  const values: [Parameters<typeof keys.line>[1], Json][] = []
  if (patch.product !== undefined) values.push(['product', input.text('product', patch.product, { required: true })])
  if (patch.description !== undefined) values.push(['description', input.text('description', patch.description, { max: 2000 })])
  if (patch.qty !== undefined) values.push(['qty', input.quantity('qty', patch.qty)])
  if (patch.price !== undefined) values.push(['price', { amount: input.unitPrice('price', patch.price), currency: currencyOf(ctx) }])
  if (patch.discount !== undefined) values.push(['discount', input.percent('discount', patch.discount)])
  if (patch.uom !== undefined) values.push(['uom', input.text('uom', patch.uom, { max: 20 })])
  if (values.length === 0) fail('INVALID_ARGUMENT', 'nothing to change')
  const write = (w: DocWriter, s: Stamp) => {
    for (const [f, v] of values) w.setRegister(keys.line(l.id, f), entry(v, s))
  }
  return ctx.commit('line.update', write, { restate: true })
}

export function setLineTax(ctx: CommandContext, id: LineId, tax: { code: string; name?: string; rate: string }, on: boolean): EventEnvelope {
  lineOf(ctx, id)
  const t = taxInput(tax, 0)
  requireState(ctx, EDITABLE, 'change taxes')
  const write = (w: DocWriter, s: Stamp) => w.setRegister(keys.tax(id, t.code), entry({ on, ...t }, s))
  return ctx.commit('line.tax', write, { restate: true })
}

/** Moves a line between two others (fractional index): one register write. */
export function moveLine(ctx: CommandContext, id: LineId, after: LineId | null): EventEnvelope {
  lineOf(ctx, id)
  if (after === id) fail('INVALID_ARGUMENT', 'a line cannot be moved after itself', { field: 'after' })
  requireState(ctx, EDITABLE, 'reorder lines')
  const others = ctx.state().lines.filter((l) => l.id !== id)
  const i = after === null ? -1 : others.findIndex((l) => l.id === after)
  if (after !== null && i < 0) fail('NOT_FOUND', `no line ${after}`)
  const lower = i < 0 ? null : others[i]!.sortKey
  let upper = others[i + 1]?.sortKey ?? null
  // Equal keys (two devices picked the same) leave no room between: go just above lower.
  if (upper !== null && lower !== null && upper <= lower) upper = null
  const sortKey = keyBetween(lower, upper)
  return ctx.commit('line.move', (w, s) => w.setRegister(keys.line(id, 'sortKey'), entry(sortKey, s)))
}

export function removeLine(ctx: CommandContext, id: LineId): EventEnvelope {
  lineOf(ctx, id)
  requireState(ctx, EDITABLE, 'remove a line')
  const t = ctx.derived().lines.get(id)!
  if (compareDecimal(t.received, '0' as Decimal) !== 0 || compareDecimal(t.billed, '0' as Decimal) !== 0) {
    refuse('a line with receipts or bills cannot be removed: return or void them first')
  }
  const write = (w: DocWriter, s: Stamp) => w.setRegister(keys.line(id, 'removed'), entry(true, s))
  return ctx.commit('line.remove', write, { restate: true })
}

export function restoreLine(ctx: CommandContext, id: LineId): EventEnvelope {
  const l = lineOf(ctx, id, { live: false })
  if (!l.removed) refuse(`line ${id} is not removed`)
  requireState(ctx, EDITABLE, 'restore a line')
  const write = (w: DocWriter, s: Stamp) => w.setRegister(keys.line(id, 'removed'), entry(false, s))
  return ctx.commit('line.restore', write, { restate: true })
}

