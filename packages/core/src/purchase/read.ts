/**
 * Reads a backend's plain snapshot into a typed PurchaseState. Documents can
 * arrive from any client (the y-websocket endpoint accepts raw Yjs updates),
 * so reading is defensive: a malformed record is skipped, never trusted and
 * never allowed to crash a replica or the relay.
 */
import type { DocSnapshot, RegisterEntry } from '../backends/backend.js'
import { fail } from '../errors.js'
import type { ReplicaId } from '../ids.js'
import { type Json, isJsonObject } from '../json.js'
import type { CurrencyCode } from '../money/currency.js'
import type { Decimal } from '../money/decimal.js'
import type { MinorString } from '../money/amount.js'
import { compareHlc } from '../time/hlc.js'
import {
  type Guarded, type LineField, type LineRecord, type PurchaseHeader, type PurchaseLine, type PurchaseSettings,
  type PurchaseState, type Stamp, type TaxSnapshot, type UnitPrice, HEADER_FIELDS, keys,
} from './model.js'

/** Highest (hlc, event id) wins: the LWW read of a register. */
export function lwwValue(entries: readonly RegisterEntry[] | undefined): Json | undefined {
  return entries === undefined || entries.length === 0 ? undefined : (entries[entries.length - 1] as RegisterEntry).value
}

function guarded<T>(entries: readonly RegisterEntry[] | undefined, accept: (v: Json) => v is Json & T): Guarded<T> {
  const valid = (entries ?? []).filter((e) => accept(e.value))
  return { values: valid.map((e) => e.value as T), entries: valid }
}

const isString = (v: Json): v is string => typeof v === 'string'

function isStamped(v: Json): v is Json & Stamp {
  return isJsonObject(v) && typeof v.ev === 'string' && typeof v.hlc === 'string' && typeof v.at === 'string'
}

function sortedRecords<T extends Stamp>(map: ReadonlyMap<string, Json>, valid: (r: Json) => boolean): T[] {
  const out: T[] = []
  for (const r of map.values()) if (isStamped(r) && valid(r)) out.push(r as unknown as T)
  return out.sort((a, b) => compareHlc(a.hlc, b.hlc) || (a.ev < b.ev ? -1 : a.ev > b.ev ? 1 : 0))
}

const hasFields = (...names: string[]) => (r: Json): boolean =>
  isJsonObject(r) && names.every((n) => typeof r[n] === 'string')

function isPrice(v: Json): v is Json & UnitPrice {
  return isJsonObject(v) && typeof v.amount === 'string' && typeof v.currency === 'string'
}

function isTax(v: Json): v is Json & { on: boolean; code: string; name: string; rate: string } {
  return isJsonObject(v) && typeof v.on === 'boolean' && typeof v.code === 'string' && typeof v.rate === 'string'
}

export function readSettings(doc: DocSnapshot): PurchaseSettings {
  const s = doc.init.get('settings')
  if (!isJsonObject(s) || typeof s.id !== 'string') fail('DOC_NOT_CREATED', 'this document holds no purchase yet')
  return s as unknown as PurchaseSettings
}

export function hasPurchase(doc: DocSnapshot): boolean {
  return isJsonObject(doc.init.get('settings'))
}

/** `l.<line>.<field>` and `x.<line>.<tax>` keys, parsed once (keys repeat on every read). */
const KEY_CACHE = new Map<string, { readonly line: string; readonly tax: boolean } | null>()

function lineKeyOf(k: string): { readonly line: string; readonly tax: boolean } | null {
  let ref = KEY_CACHE.get(k)
  if (ref === undefined) {
    const dot = (k.startsWith('l.') || k.startsWith('x.')) ? k.indexOf('.', 2) : -1
    ref = dot < 0 ? null : { line: k.slice(2, dot), tax: k.startsWith('x.') }
    if (KEY_CACHE.size > 200_000) KEY_CACHE.clear()
    KEY_CACHE.set(k, ref)
  }
  return ref
}

/**
 * A line is a pure function of its creation record and its register entries.
 * Backends keep unchanged entries' identity from one read to the next, so a
 * line whose inputs are all the same objects as last time is reused as is:
 * reading a 1,000-line purchase after a change to one line rebuilds one line.
 */
const LINE_CACHE = new WeakMap<object, { readonly inputs: readonly (readonly RegisterEntry[])[]; readonly line: PurchaseLine }>()

const NO_INPUTS: LineInputs = { entries: [], taxFlags: [] }

interface LineInputs {
  readonly entries: (readonly RegisterEntry[])[]
  /** Parallel to entries: which are tax registers. */
  readonly taxFlags: boolean[]
}

function readLine(created: LineRecord, { entries: inputs, taxFlags }: LineInputs, registers: DocSnapshot['registers']): PurchaseLine {
  const hit = LINE_CACHE.get(created)
  if (hit !== undefined && hit.inputs.length === inputs.length && hit.inputs.every((x, i) => x === inputs[i])) return hit.line
  const id = created.id
  const field = (name: LineField) => lwwValue(registers.get(keys.line(id, name)))
  const str = (name: LineField, fallback: string): string => {
    const v = field(name)
    return typeof v === 'string' ? v : fallback
  }
  const taxes: TaxSnapshot[] = []
  for (let i = 0; i < inputs.length; i++) {
    const entries = inputs[i]!
    if (!taxFlags[i]) continue
    // Add-wins: the tax applies if any concurrent entry says it does.
    const on = entries.filter((e) => isTax(e.value) && e.value.on)
    const last = on[on.length - 1]
    if (last !== undefined && isTax(last.value)) taxes.push({ code: last.value.code, name: String(last.value.name), rate: last.value.rate as Decimal })
  }
  const price = field('price')
  const line: PurchaseLine = {
    id,
    kind: created.kind === 'service' ? 'service' : 'goods',
    created,
    product: str('product', ''),
    description: str('description', ''),
    qty: str('qty', '0') as Decimal,
    price: price !== undefined && isPrice(price) ? price : { amount: '0' as Decimal, currency: '' as CurrencyCode },
    discount: str('discount', '0') as Decimal,
    uom: str('uom', 'unit'),
    sortKey: str('sortKey', id),
    removed: field('removed') === true,
    taxes: taxes.sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)),
  }
  LINE_CACHE.set(created, { inputs, line })
  return line
}

/**
 * Every line in display order. When neither the registers nor the line
 * records changed since the last read (a receipt, a payment, a transition),
 * the previous array is reused as is.
 */
const LINES_CACHE = new WeakMap<object, { readonly records: object; readonly lines: PurchaseLine[] }>()

function readLines(doc: DocSnapshot): PurchaseLine[] {
  const hit = LINES_CACHE.get(doc.registers)
  if (hit !== undefined && hit.records === doc.sets.lines) return hit.lines
  // Lines: creation records plus per-field and per-tax registers, grouped by line.
  const inputsByLine = new Map<string, LineInputs>()
  for (const [k, entries] of doc.registers) {
    const ref = lineKeyOf(k)
    if (ref === null) continue
    let inputs = inputsByLine.get(ref.line)
    if (inputs === undefined) inputsByLine.set(ref.line, (inputs = { entries: [], taxFlags: [] }))
    inputs.entries.push(entries)
    inputs.taxFlags.push(ref.tax)
  }
  const lines: PurchaseLine[] = []
  for (const rec of doc.sets.lines.values()) {
    if (!isStamped(rec) || !isJsonObject(rec) || typeof rec.id !== 'string') continue
    lines.push(readLine(rec as unknown as LineRecord, inputsByLine.get(rec.id) ?? NO_INPUTS, doc.registers))
  }
  // Fractional index order; ties (two devices picked the same key) by line id.
  lines.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  LINES_CACHE.set(doc.registers, { records: doc.sets.lines, lines })
  return lines
}

export function readPurchase(doc: DocSnapshot): PurchaseState {
  const settings = readSettings(doc)
  const reg = (k: string) => doc.registers.get(k)

  const header = {} as Record<keyof PurchaseHeader, unknown>
  for (const f of HEADER_FIELDS) {
    const v = lwwValue(reg(keys.header(f)))
    header[f] = f === 'orderDate' || f === 'requiredBy' ? (typeof v === 'string' ? v : null) : typeof v === 'string' ? v : ''
  }
  const hold = lwwValue(reg(keys.hold))
  const number = lwwValue(reg(keys.number))

  const lines = readLines(doc)

  const s = doc.sets
  return {
    settings,
    number: typeof number === 'string' ? number : null,
    supplier: guarded<string>(reg(keys.guarded('supplier')), isString),
    currency: guarded<CurrencyCode>(reg(keys.guarded('currency')), isString as (v: Json) => v is Json & CurrencyCode),
    fxRate: guarded<Decimal>(reg(keys.guarded('fxRate')), isString as (v: Json) => v is Json & Decimal),
    statedTotal: guarded<MinorString>(reg(keys.guarded('statedTotal')), isString as (v: Json) => v is Json & MinorString),
    header: header as unknown as PurchaseHeader,
    hold: isJsonObject(hold) && hold.on === true ? { on: true, reason: String(hold.reason ?? '') } : { on: false, reason: '' },
    notes: doc.texts.get(keys.notes) ?? '',
    lines,
    receipts: sortedRecords(s.receipts, hasFields('id', 'line', 'qty', 'deliveryNote', 'date')),
    returns: sortedRecords(s.returns, hasFields('id', 'line', 'qty', 'date')),
    bills: sortedRecords(s.bills, hasFields('id', 'line', 'qty', 'date')),
    payments: sortedRecords(s.payments, hasFields('id', 'amount', 'date')),
    refunds: sortedRecords(s.refunds, hasFields('id', 'amount', 'date')),
    voids: sortedRecords(s.voids, hasFields('id', 'set', 'target')),
    transitions: sortedRecords(s.transitions, hasFields('id', 'action')),
    resolutions: sortedRecords(s.resolutions, hasFields('id', 'conflict', 'option')),
    clock: doc.clock as ReadonlyMap<ReplicaId, number>,
    registers: doc.registers,
  }
}
