/**
 * Reads a backend's plain snapshot into a typed PurchaseState. Documents can
 * arrive from any client (the y-websocket endpoint accepts raw Yjs updates),
 * so reading is defensive: a malformed record is skipped, never trusted and
 * never allowed to crash a replica or the relay.
 */
import type { DocSnapshot, RegisterEntry, SnapshotDelta } from '../backends/backend.js'
import { fail } from '../errors.js'
import type { LineId, ReplicaId } from '../ids.js'
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

/**
 * A set's records, oldest first. Backends keep an unchanged set's map from one
 * read to the next, so the sorted array is kept per map: an edit that touches
 * no record reuses every record array, which is how derived state and the
 * detectors know that receipts, bills and payments did not change.
 */
const RECORDS_CACHE = new WeakMap<ReadonlyMap<string, Json>, Map<string, readonly Stamp[]>>()

function sortedRecords<T extends Stamp>(set: string, map: ReadonlyMap<string, Json>, valid: (r: Json) => boolean): T[] {
  let bySet = RECORDS_CACHE.get(map)
  const hit = bySet?.get(set)
  if (hit !== undefined) return hit as T[]
  const out: T[] = []
  for (const r of map.values()) if (isStamped(r) && valid(r)) out.push(r as unknown as T)
  out.sort((a, b) => compareHlc(a.hlc, b.hlc) || (a.ev < b.ev ? -1 : a.ev > b.ev ? 1 : 0))
  if (bySet === undefined) RECORDS_CACHE.set(map, (bySet = new Map()))
  bySet.set(set, out)
  return out
}

const hasFields = (...names: string[]) => (r: Json): boolean =>
  isJsonObject(r) && names.every((n) => typeof r[n] === 'string')
const RESOLUTIONS_VALID = hasFields('id', 'conflict', 'option')
const TRANSITIONS_VALID = hasFields('id', 'action')
const VOIDS_VALID = hasFields('id', 'set', 'target')
const REFUNDS_VALID = hasFields('id', 'amount', 'date')
const PAYMENTS_VALID = hasFields('id', 'amount', 'date')
const BILLS_VALID = hasFields('id', 'line', 'qty', 'date')
const RETURNS_VALID = hasFields('id', 'line', 'qty', 'date')
const RECEIPTS_VALID = hasFields('id', 'line', 'qty', 'deliveryNote', 'date')

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

/** The register keys each line was read from: an incremental read re-reads a changed line from these plus the changed keys. */
const LINE_KEYS = new WeakMap<PurchaseLine, readonly string[]>()

const NO_INPUTS: LineInputs = { keys: [], entries: [], taxFlags: [] }

interface LineInputs {
  readonly keys: string[]
  /** Parallel to keys. */
  readonly entries: (readonly RegisterEntry[])[]
  /** Parallel to keys: which are tax registers. */
  readonly taxFlags: boolean[]
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

function readLine(created: LineRecord, { keys: inputKeys, entries: inputs, taxFlags }: LineInputs, registers: DocSnapshot['registers']): PurchaseLine {
  const hit = LINE_CACHE.get(created)
  if (hit !== undefined && hit.inputs.length === inputs.length && hit.inputs.every((x, i) => x === inputs[i])) {
    LINE_KEYS.set(hit.line, inputKeys)
    return hit.line
  }
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
    // By code; a (malformed) repeated code by rate and name, so the order never depends on the order keys were met in.
    taxes: taxes.sort((a, b) => byText(a.code, b.code) || byText(a.rate, b.rate) || byText(a.name, b.name)),
  }
  LINE_CACHE.set(created, { inputs, line })
  LINE_KEYS.set(line, inputKeys)
  return line
}

function isLineRecord(rec: Json | undefined): rec is Json & LineRecord {
  return rec !== undefined && isStamped(rec) && isJsonObject(rec) && typeof rec.id === 'string'
}

/** Fractional index order; ties (two devices picked the same key) by line id. */
const displayOrder = (a: PurchaseLine, b: PurchaseLine) =>
  a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0

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
    if (inputs === undefined) inputsByLine.set(ref.line, (inputs = { keys: [], entries: [], taxFlags: [] }))
    inputs.keys.push(k)
    inputs.entries.push(entries)
    inputs.taxFlags.push(ref.tax)
  }
  const lines: PurchaseLine[] = []
  for (const rec of doc.sets.lines.values()) {
    if (!isLineRecord(rec)) continue
    lines.push(readLine(rec as unknown as LineRecord, inputsByLine.get(rec.id) ?? NO_INPUTS, doc.registers))
    inputsByLine.delete(rec.id)
  }
  lines.sort(displayOrder)
  ORPHANS.set(lines, new Map([...inputsByLine].map(([id, inputs]) => [id, inputs.keys])))
  LINES_CACHE.set(doc.registers, { records: doc.sets.lines, lines })
  return lines
}

/** Which lines an incremental read rebuilt: derive and the detectors redo only those. */
export interface LinesDelta {
  /** Ids of lines that were added, changed or dropped since the previous state. */
  readonly lines: ReadonlySet<LineId>
  /** False when every line kept its place, so the new array is the old one with changed lines swapped in. */
  readonly reordered: boolean
}

/**
 * Register keys of lines that have no (valid) creation record in the
 * snapshot a lines array was read from. A raw update can write a line's
 * registers before its record: when the record comes, they are its inputs.
 */
const ORPHANS = new WeakMap<readonly PurchaseLine[], ReadonlyMap<string, readonly string[]>>()

/** Line id -> index in a lines array; shared by arrays whose order is the same. */
const POSITIONS = new WeakMap<readonly PurchaseLine[], ReadonlyMap<LineId, number>>()

export function linePositions(lines: readonly PurchaseLine[]): ReadonlyMap<LineId, number> {
  let pos = POSITIONS.get(lines)
  if (pos === undefined) {
    const m = new Map<LineId, number>()
    lines.forEach((l, i) => m.set(l.id, i))
    POSITIONS.set(lines, (pos = m))
  }
  return pos
}

/**
 * The lines of `doc`, from the lines of the snapshot it was patched from:
 * only lines whose registers or creation record the delta names are read
 * again. Costs O(changed lines) plus one array copy, and a sort only when a
 * line was added, dropped or moved.
 */
function readLinesFrom(prevLines: readonly PurchaseLine[], doc: DocSnapshot, delta: SnapshotDelta): { lines: PurchaseLine[]; delta: LinesDelta } {
  const keysByLine = new Map<string, string[]>()
  for (const k of delta.registers) {
    const ref = lineKeyOf(k)
    if (ref === null) continue
    const ks = keysByLine.get(ref.line)
    if (ks === undefined) keysByLine.set(ref.line, [k])
    else ks.push(k)
  }
  for (const id of delta.sets.get('lines') ?? []) if (!keysByLine.has(id)) keysByLine.set(id, [])
  const changed = new Set<LineId>()
  if (keysByLine.size === 0) return { lines: prevLines as PurchaseLine[], delta: { lines: changed, reordered: false } }
  const positions = linePositions(prevLines)
  const lines = prevLines.slice()
  const prevOrphans = ORPHANS.get(prevLines)
  let orphans = prevOrphans
  const setOrphans = (id: string, ks: readonly string[] | undefined) => {
    if (orphans === prevOrphans) orphans = new Map(prevOrphans)
    const m = orphans as Map<string, readonly string[]>
    if (ks === undefined) m.delete(id)
    else m.set(id, ks)
  }
  let reordered = false
  const drop = new Set<number>()
  for (const [id, ks] of keysByLine) {
    const at = positions.get(id as LineId)
    const before = at === undefined ? undefined : lines[at]!
    const known = before === undefined ? orphans?.get(id) ?? [] : LINE_KEYS.get(before) ?? []
    const rec = doc.sets.lines.get(id)
    if (!isLineRecord(rec)) {
      // No (valid) creation record: registers of a line not arrived yet, or a record gone.
      setOrphans(id, [...new Set([...known, ...ks])])
      if (at !== undefined) {
        drop.add(at)
        changed.add(id as LineId)
        reordered = true
      }
      continue
    }
    if (before === undefined && orphans?.has(id)) setOrphans(id, undefined)
    const inputs: LineInputs = { keys: [], entries: [], taxFlags: [] }
    const seen = new Set<string>()
    for (const k of [...known, ...ks]) {
      if (seen.has(k)) continue
      seen.add(k)
      const entries = doc.registers.get(k)
      if (entries === undefined) continue
      inputs.keys.push(k)
      inputs.entries.push(entries)
      inputs.taxFlags.push(k.startsWith('x.'))
    }
    const line = readLine(rec as unknown as LineRecord, inputs, doc.registers)
    if (line === before) continue
    changed.add(line.id)
    if (at === undefined) {
      lines.push(line)
      reordered = true
    } else {
      lines[at] = line
      if (line.sortKey !== before!.sortKey) reordered = true
    }
  }
  let out = lines
  if (reordered) {
    out = drop.size === 0 ? lines : lines.filter((_, i) => !drop.has(i))
    // Nearly sorted: the engine's merge sort takes about one pass.
    out.sort(displayOrder)
  } else POSITIONS.set(out, positions)
  if (orphans !== undefined) ORPHANS.set(out, orphans)
  return { lines: out, delta: { lines: changed, reordered } }
}

export function readPurchase(doc: DocSnapshot): PurchaseState {
  return readPurchaseFrom(undefined, doc).state
}

/**
 * Reads `doc`, reusing the state read from the snapshot it was patched from
 * (`prev`) when the snapshot's delta says what changed since. `lines` is
 * undefined when the read started from scratch (any line may differ).
 */
export function readPurchaseFrom(prev: { readonly doc: DocSnapshot; readonly state: PurchaseState } | undefined, doc: DocSnapshot): { state: PurchaseState; lines?: LinesDelta } {
  const settings = readSettings(doc)
  const reg = (k: string) => doc.registers.get(k)

  const header = {} as Record<keyof PurchaseHeader, unknown>
  for (const f of HEADER_FIELDS) {
    const v = lwwValue(reg(keys.header(f)))
    header[f] = f === 'orderDate' || f === 'requiredBy' ? (typeof v === 'string' ? v : null) : typeof v === 'string' ? v : ''
  }
  const hold = lwwValue(reg(keys.hold))
  const number = lwwValue(reg(keys.number))

  let lines: PurchaseLine[]
  let linesDelta: LinesDelta | undefined
  const delta = doc.delta
  if (prev !== undefined && delta !== undefined && delta.from.deref() === prev.doc && prev.doc.init === doc.init) {
    const r = readLinesFrom(prev.state.lines, doc, delta)
    lines = r.lines
    linesDelta = r.delta
  } else lines = readLines(doc)

  const s = doc.sets
  const state: PurchaseState = {
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
    receipts: sortedRecords('receipts', s.receipts, RECEIPTS_VALID),
    returns: sortedRecords('returns', s.returns, RETURNS_VALID),
    bills: sortedRecords('bills', s.bills, BILLS_VALID),
    payments: sortedRecords('payments', s.payments, PAYMENTS_VALID),
    refunds: sortedRecords('refunds', s.refunds, REFUNDS_VALID),
    voids: sortedRecords('voids', s.voids, VOIDS_VALID),
    transitions: sortedRecords('transitions', s.transitions, TRANSITIONS_VALID),
    resolutions: sortedRecords('resolutions', s.resolutions, RESOLUTIONS_VALID),
    clock: doc.clock as ReadonlyMap<ReplicaId, number>,
    registers: doc.registers,
  }
  return linesDelta === undefined ? { state } : { state, lines: linesDelta }
}
