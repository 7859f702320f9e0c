/**
 * Reads a backend's plain snapshot into a typed PurchaseState. Documents can
 * arrive from any client (the y-websocket endpoint accepts raw Yjs updates,
 * a newer version may write what this one does not know), so reading goes
 * through the schema (schema.ts): a register entry is used only when it is
 * valid for its key, a record only when it is valid for its set, and the
 * settings only when they are valid. Whatever is refused reads as absent
 * (a field falls back to its default) and is reported by invalid.ts; it
 * never crashes a replica or the relay.
 */
import type { DocSnapshot, RegisterEntry, SetName, SnapshotDelta } from '../backends/backend.js'
import { PatchedMap } from '../backends/patched-map.js'
import { fail } from '../errors.js'
import type { LineId, ReplicaId } from '../ids.js'
import type { Json } from '../json.js'
import type { CurrencyCode } from '../money/currency.js'
import type { Decimal } from '../money/decimal.js'
import type { MinorString } from '../money/amount.js'
import { compareHlc } from '../time/hlc.js'
import { clockProblem, entryProblem, recordProblem, schemaContextOf, textProblem } from './invalid.js'
import {
  type Guarded, type LineField, type LineRecord, type PurchaseHeader, type PurchaseLine, type PurchaseSettings,
  type PurchaseState, type Stamp, type TaxSnapshot, type UnitPrice, HEADER_FIELDS, keys,
} from './model.js'
import { type SchemaContext, entryShape, settingsCheck } from './schema.js'

const NO_ENTRIES: readonly RegisterEntry[] = []

const compareEntries = (a: RegisterEntry, b: RegisterEntry) => compareHlc(a.hlc, b.hlc) || (a.ev < b.ev ? -1 : a.ev > b.ev ? 1 : 0)

/**
 * The entries of register `key` that are valid for it, in (hlc, event id)
 * order. The same array when all are (the common case), so identity still
 * says "unchanged"; kept per array, which backends keep while the register
 * is unchanged.
 */
const VALID_ENTRIES = new WeakMap<readonly RegisterEntry[], { readonly key: string; readonly exp: number | undefined; readonly valid: readonly RegisterEntry[] }>()

function validEntries(key: string, entries: readonly RegisterEntry[] | undefined, ctx: SchemaContext): readonly RegisterEntry[] {
  if (entries === undefined || !Array.isArray(entries)) return NO_ENTRIES
  const hit = VALID_ENTRIES.get(entries)
  if (hit !== undefined && hit.key === key && hit.exp === ctx.currencyExponent) return hit.valid
  let valid: RegisterEntry[] | undefined
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!
    if (entryProblem(key, e, ctx) !== undefined) valid ??= entries.slice(0, i)
    else valid?.push(e)
  }
  // A backend's sort compared valid entries with garbage ones: sort what is left again.
  const out = valid === undefined ? entries : valid.length === 0 ? NO_ENTRIES : valid.sort(compareEntries)
  VALID_ENTRIES.set(entries, { key, exp: ctx.currencyExponent, valid: out })
  return out
}

/**
 * Highest (hlc, event id) wins: the LWW read of a register. With its key, of
 * the entries valid for it; without, of the entries that at least have an
 * entry's shape (the value is the caller's to check).
 */
export function lwwValue(entries: readonly RegisterEntry[] | undefined, key?: string, ctx: SchemaContext = {}): Json | undefined {
  if (key !== undefined) {
    const valid = validEntries(key, entries, ctx)
    return valid.length === 0 ? undefined : valid[valid.length - 1]!.value
  }
  if (entries === undefined || !Array.isArray(entries)) return undefined
  for (let i = entries.length - 1; i >= 0; i--) if (entryShape(entries[i]) === undefined) return entries[i]!.value
  return undefined
}

function guarded<T>(entries: readonly RegisterEntry[], accept: (v: Json) => boolean = () => true): Guarded<T> {
  const kept = entries.filter((e) => accept(e.value))
  return { values: kept.map((e) => e.value as T), entries: kept }
}

/**
 * A set's records that are valid for it, oldest first. Backends keep an
 * unchanged set's map from one read to the next, so the sorted array is kept
 * per map: an edit that touches no record reuses every record array, which
 * is how derived state and the detectors know that receipts, bills and
 * payments did not change.
 */
const RECORDS_CACHE = new WeakMap<ReadonlyMap<string, Json>, Map<string, readonly Stamp[]>>()

function sortedRecords<T extends Stamp>(set: SetName, map: ReadonlyMap<string, Json>): T[] {
  let bySet = RECORDS_CACHE.get(map)
  const hit = bySet?.get(set)
  if (hit !== undefined) return hit as T[]
  const out: T[] = []
  for (const [id, r] of map) if (recordProblem(set, id, r) === undefined) out.push(r as unknown as T)
  out.sort((a, b) => compareHlc(a.hlc, b.hlc) || (a.ev < b.ev ? -1 : a.ev > b.ev ? 1 : 0))
  if (bySet === undefined) RECORDS_CACHE.set(map, (bySet = new Map()))
  bySet.set(set, out)
  return out
}

export function readSettings(doc: DocSnapshot): PurchaseSettings {
  const s = doc.init.get('settings')
  if (s === undefined) fail('DOC_NOT_CREATED', 'this document holds no purchase yet')
  // Settings the schema refuses would reinterpret every amount: no purchase can be read from them.
  const why = settingsCheck(s)
  if (why !== undefined) fail('DOC_NOT_CREATED', `this document holds no valid purchase: its settings are invalid (${why.slice(0, 200)})`)
  return s as unknown as PurchaseSettings
}

export function hasPurchase(doc: DocSnapshot): boolean {
  const s = doc.init.get('settings')
  return s !== undefined && settingsCheck(s) === undefined
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
 * A line is a pure function of its creation record, its register entries
 * and the currency exponent they are checked against. Backends keep
 * unchanged entries' identity from one read to the next, so a line whose
 * inputs are all the same objects as last time is reused as is: reading a
 * 1,000-line purchase after a change to one line rebuilds one line.
 */
const LINE_CACHE = new WeakMap<object, { readonly inputs: readonly (readonly RegisterEntry[])[]; readonly exp: number | undefined; readonly line: PurchaseLine }>()

/** The register keys each line was read from: an incremental read re-reads a changed line from these plus the changed keys. */
const LINE_KEYS = new WeakMap<PurchaseLine, readonly string[]>()

const NO_INPUTS: LineInputs = { keys: [], entries: [], taxFlags: [] }

interface LineInputs {
  readonly keys: string[]
  /** Parallel to keys: the raw entries, as the snapshot holds them. */
  readonly entries: (readonly RegisterEntry[])[]
  /** Parallel to keys: which are tax registers. */
  readonly taxFlags: boolean[]
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

interface TaxValue { readonly on: boolean; readonly code: string; readonly name: string; readonly rate: Decimal }

function readLine(
  created: LineRecord, { keys: inputKeys, entries: inputs, taxFlags }: LineInputs, registers: DocSnapshot['registers'], ctx: SchemaContext,
): PurchaseLine {
  const hit = LINE_CACHE.get(created)
  if (hit !== undefined && hit.exp === ctx.currencyExponent && hit.inputs.length === inputs.length && hit.inputs.every((x, i) => x === inputs[i])) {
    LINE_KEYS.set(hit.line, inputKeys)
    return hit.line
  }
  const id = created.id
  // Valid values only: a field whose every entry the schema refuses falls back to its default.
  const field = (name: LineField) => {
    const key = keys.line(id, name)
    return lwwValue(registers.get(key), key, ctx)
  }
  const taxes: TaxSnapshot[] = []
  for (let i = 0; i < inputs.length; i++) {
    if (!taxFlags[i]) continue
    // Add-wins: the tax applies if any concurrent entry says it does.
    const entries = validEntries(inputKeys[i]!, inputs[i], ctx)
    let last: TaxValue | undefined
    for (const e of entries) if ((e.value as unknown as TaxValue).on) last = e.value as unknown as TaxValue
    if (last !== undefined) taxes.push({ code: last.code, name: last.name, rate: last.rate })
  }
  const line: PurchaseLine = {
    id,
    kind: created.kind,
    created,
    product: (field('product') as string | undefined) ?? '',
    description: (field('description') as string | undefined) ?? '',
    qty: (field('qty') as Decimal | undefined) ?? ('0' as Decimal),
    price: (field('price') as unknown as UnitPrice | undefined) ?? { amount: '0' as Decimal, currency: '' as CurrencyCode },
    discount: (field('discount') as Decimal | undefined) ?? ('0' as Decimal),
    uom: (field('uom') as string | undefined) ?? 'unit',
    sortKey: (field('sortKey') as string | undefined) ?? id,
    removed: field('removed') === true,
    // By code (unique per line: the key names it), so the order never depends on the order keys were met in.
    taxes: taxes.sort((a, b) => byText(a.code, b.code) || byText(a.rate, b.rate) || byText(a.name, b.name)),
  }
  LINE_CACHE.set(created, { inputs, exp: ctx.currencyExponent, line })
  LINE_KEYS.set(line, inputKeys)
  return line
}

function isLineRecord(id: string, rec: Json | undefined): rec is Json & LineRecord {
  return rec !== undefined && recordProblem('lines', id, rec) === undefined
}

/** The valid line records of a lines map, kept per map (backends keep it while no line is added). */
const LINE_RECORDS = new WeakMap<ReadonlyMap<string, Json>, readonly LineRecord[]>()

function lineRecords(map: ReadonlyMap<string, Json>): readonly LineRecord[] {
  let out = LINE_RECORDS.get(map)
  if (out === undefined) {
    const valid: LineRecord[] = []
    for (const [id, rec] of map) if (isLineRecord(id, rec)) valid.push(rec)
    LINE_RECORDS.set(map, (out = valid))
  }
  return out
}

/** Fractional index order; ties (two devices picked the same key) by line id. */
const displayOrder = (a: PurchaseLine, b: PurchaseLine) =>
  a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0

/**
 * Every line in display order. When neither the registers nor the line
 * records changed since the last read (a receipt, a payment, a transition),
 * the previous array is reused as is.
 */
const LINES_CACHE = new WeakMap<object, { readonly records: object; readonly exp: number | undefined; readonly lines: PurchaseLine[] }>()

function readLines(doc: DocSnapshot, ctx: SchemaContext): PurchaseLine[] {
  const hit = LINES_CACHE.get(doc.registers)
  if (hit !== undefined && hit.records === doc.sets.lines && hit.exp === ctx.currencyExponent) return hit.lines
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
  for (const rec of lineRecords(doc.sets.lines)) {
    lines.push(readLine(rec, inputsByLine.get(rec.id) ?? NO_INPUTS, doc.registers, ctx))
    inputsByLine.delete(rec.id)
  }
  lines.sort(displayOrder)
  ORPHANS.set(lines, new Map([...inputsByLine].map(([id, inputs]) => [id, inputs.keys])))
  LINES_CACHE.set(doc.registers, { records: doc.sets.lines, exp: ctx.currencyExponent, lines })
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
function readLinesFrom(prevLines: readonly PurchaseLine[], doc: DocSnapshot, delta: SnapshotDelta, ctx: SchemaContext): { lines: PurchaseLine[]; delta: LinesDelta } {
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
    if (!isLineRecord(id, rec)) {
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
    const line = readLine(rec, inputs, doc.registers, ctx)
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

/**
 * The registers as the detectors see them (PurchaseState.registers): only
 * valid entries, and no register with none. A pure function of the
 * snapshot's register map, kept per map. While the document holds no invalid
 * entry it is that map itself; otherwise it is patched like the snapshot's,
 * from the map read for the snapshot this one was patched from, with the keys
 * its delta names: a read of a 1,000-line purchase stays O(changed keys).
 */
const REGISTERS_CACHE = new WeakMap<object, {
  readonly exp: number | undefined
  readonly registers: ReadonlyMap<string, readonly RegisterEntry[]>
  /** Keys whose valid entries differ from the snapshot's. */
  readonly dirty: ReadonlySet<string>
}>()
const NO_KEYS: ReadonlySet<string> = new Set()

function validRegisters(doc: DocSnapshot, ctx: SchemaContext): ReadonlyMap<string, readonly RegisterEntry[]> {
  const hit = REGISTERS_CACHE.get(doc.registers)
  if (hit !== undefined && hit.exp === ctx.currencyExponent) return hit.registers
  const from = doc.delta?.from.deref()
  const base = from === undefined ? undefined : REGISTERS_CACHE.get(from.registers)
  const out = base !== undefined && base.exp === ctx.currencyExponent
    ? patchRegisters(base, doc, doc.delta!, ctx)
    : scanRegisters(doc, ctx)
  REGISTERS_CACHE.set(doc.registers, { exp: ctx.currencyExponent, ...out })
  return out.registers
}

function scanRegisters(doc: DocSnapshot, ctx: SchemaContext) {
  let changes: Map<string, readonly RegisterEntry[] | undefined> | undefined
  for (const [k, entries] of doc.registers) {
    const valid = validEntries(k, entries, ctx)
    if (valid !== entries) (changes ??= new Map()).set(k, valid.length > 0 ? valid : undefined)
  }
  if (changes === undefined) return { registers: doc.registers, dirty: NO_KEYS }
  return { registers: PatchedMap.of(doc.registers, changes), dirty: new Set(changes.keys()) }
}

function patchRegisters(base: { readonly registers: ReadonlyMap<string, readonly RegisterEntry[]>; readonly dirty: ReadonlySet<string> }, doc: DocSnapshot, delta: SnapshotDelta, ctx: SchemaContext) {
  let dirty = base.dirty
  const changes = new Map<string, readonly RegisterEntry[] | undefined>()
  for (const k of delta.registers) {
    const raw = doc.registers.get(k)
    const valid = raw === undefined ? undefined : validEntries(k, raw, ctx)
    const isDirty = raw !== undefined && valid !== raw
    if (isDirty !== dirty.has(k)) {
      if (dirty === base.dirty) dirty = new Set(base.dirty)
      if (isDirty) (dirty as Set<string>).add(k)
      else (dirty as Set<string>).delete(k)
    }
    changes.set(k, valid !== undefined && valid.length > 0 ? valid : undefined)
  }
  if (dirty.size === 0) return { registers: doc.registers, dirty: NO_KEYS }
  // From a clean map, every dirty key is one the delta names.
  const registers = base.dirty.size === 0
    ? PatchedMap.of(doc.registers, new Map([...dirty].map((k) => [k, changes.get(k)])))
    : PatchedMap.of(base.registers, changes)
  return { registers, dirty }
}

/** The version vector without counters the schema refuses (kept per clock map, which backends keep while unchanged). */
const CLOCKS = new WeakMap<object, ReadonlyMap<ReplicaId, number>>()

function validClock(clock: DocSnapshot['clock']): ReadonlyMap<ReplicaId, number> {
  let out = CLOCKS.get(clock)
  if (out === undefined) {
    const kept = [...clock].filter(([r, n]) => clockProblem(r, n) === undefined)
    out = kept.length === clock.size ? clock : new Map(kept)
    CLOCKS.set(clock, out)
  }
  return out
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
  const ctx = schemaContextOf(doc)
  const reg = (k: string) => validEntries(k, doc.registers.get(k), ctx)
  const value = (k: string) => lwwValue(doc.registers.get(k), k, ctx)

  const header = {} as Record<keyof PurchaseHeader, unknown>
  for (const f of HEADER_FIELDS) {
    const v = value(keys.header(f))
    header[f] = f === 'orderDate' || f === 'requiredBy' ? (v ?? null) : (v ?? '')
  }
  const hold = value(keys.hold) as { readonly on: boolean; readonly reason: string } | undefined
  const number = value(keys.number) as string | undefined
  const notes = doc.texts.get(keys.notes)

  let lines: PurchaseLine[]
  let linesDelta: LinesDelta | undefined
  const delta = doc.delta
  if (prev !== undefined && delta !== undefined && delta.from.deref() === prev.doc && prev.doc.init === doc.init) {
    const r = readLinesFrom(prev.state.lines, doc, delta, ctx)
    lines = r.lines
    linesDelta = r.delta
  } else lines = readLines(doc, ctx)

  const s = doc.sets
  const state: PurchaseState = {
    settings,
    number: number ?? null,
    supplier: guarded<string>(reg(keys.guarded('supplier'))),
    currency: guarded<CurrencyCode>(reg(keys.guarded('currency'))),
    fxRate: guarded<Decimal>(reg(keys.guarded('fxRate'))),
    // A null entry withdrew the commitment: it states no total.
    statedTotal: guarded<MinorString>(reg(keys.guarded('statedTotal')), (v) => v !== null),
    header: header as unknown as PurchaseHeader,
    hold: hold?.on === true ? { on: true, reason: hold.reason } : { on: false, reason: '' },
    // A text over its bound reads as absent, like any other invalid value.
    notes: notes !== undefined && textProblem(keys.notes, notes) === undefined ? notes : '',
    lines,
    receipts: sortedRecords('receipts', s.receipts),
    returns: sortedRecords('returns', s.returns),
    bills: sortedRecords('bills', s.bills),
    payments: sortedRecords('payments', s.payments),
    refunds: sortedRecords('refunds', s.refunds),
    voids: sortedRecords('voids', s.voids),
    transitions: sortedRecords('transitions', s.transitions),
    resolutions: sortedRecords('resolutions', s.resolutions),
    clock: validClock(doc.clock),
    registers: validRegisters(doc, ctx),
  }
  return linesDelta === undefined ? { state } : { state, lines: linesDelta }
}
