/**
 * What a stored document holds that the schema (schema.ts) refuses. A
 * document can hold anything: a raw Yjs client wrote it before the relay
 * checked writes, or a newer version of Concord did. The reader skips such
 * values (read.ts); this module says what they were, so the relay, the
 * client and the web app can report them instead of silently showing less.
 *
 * The checks are cached per stored object: backends keep an unchanged
 * entry's or record's identity from one read to the next, so a value is
 * checked once, not on every read.
 */
import { type DocSnapshot, type RegisterEntry, type SetName, SET_NAMES } from '../backends/backend.js'
import { parseReplicaId } from '../ids.js'
import type { Json } from '../json.js'
import {
  type SchemaContext, INIT_SCHEMA, TEXTS, checkEntry, checkRecord, isPlainObject, kindOf, registerSpecOf, settingsCheck,
} from './schema.js'

export interface InvalidValue {
  readonly part: 'settings' | 'register' | 'record' | 'text' | 'clock' | 'init'
  /** The register key, `<set>/<id>` for a record, the text key, the init key or the clock's replica. */
  readonly key: string
  readonly reason: string
}

// ------------------------------------------------------- cached checks

const ENTRY_CHECKS = new WeakMap<object, { readonly key: string; readonly exp: number | undefined; readonly why: string | undefined }>()

/** Why `entry` is not a valid entry of register `key`, or undefined. */
export function entryProblem(key: string, entry: unknown, ctx: SchemaContext): string | undefined {
  if (typeof entry !== 'object' || entry === null) return checkEntry(key, entry, ctx)
  const hit = ENTRY_CHECKS.get(entry)
  // Keyed by object, so the key and context it was checked under are kept too.
  if (hit !== undefined && hit.key === key && hit.exp === ctx.currencyExponent) return hit.why
  const why = checkEntry(key, entry, ctx)
  ENTRY_CHECKS.set(entry, { key, exp: ctx.currencyExponent, why })
  return why
}

const RECORD_CHECKS = new WeakMap<object, { readonly set: SetName; readonly id: string; readonly why: string | undefined }>()

/** Why `record` is not a valid record of `set` under `id`, or undefined. */
export function recordProblem(set: SetName, id: string, record: unknown): string | undefined {
  if (typeof record !== 'object' || record === null) return checkRecord(set, id, record)
  const hit = RECORD_CHECKS.get(record)
  if (hit !== undefined && hit.set === set && hit.id === id) return hit.why
  const why = checkRecord(set, id, record)
  RECORD_CHECKS.set(record, { set, id, why })
  return why
}

/** The context register values are checked in: the currency exponent, when the settings are valid. */
export function schemaContextOf(doc: DocSnapshot): SchemaContext {
  const s = doc.init.get('settings')
  return s !== undefined && settingsCheck(s) === undefined ? { currencyExponent: (s as { currencyExponent: number }).currencyExponent } : {}
}

/**
 * Why a version-vector counter is invalid, or undefined. The same rule as a
 * record's stored clock (schema.ts), which the schema does not export on its
 * own: a replica id, and a non-negative safe integer.
 */
export function clockProblem(replica: string, n: unknown): string | undefined {
  try {
    parseReplicaId(replica)
  } catch {
    return `bad replica ${JSON.stringify(replica.slice(0, 70))}`
  }
  return Number.isSafeInteger(n) && (n as number) >= 0 ? undefined : `counter must be a non-negative integer, not ${typeof n === 'number' ? String(n) : kindOf(n)}`
}

export function textProblem(key: string, text: unknown): string | undefined {
  const spec = Object.hasOwn(TEXTS, key) ? TEXTS[key] : undefined
  if (spec === undefined) return 'no such text'
  if (typeof text !== 'string') return `must be a string, not ${kindOf(text)}`
  return text.length > spec.maxLength ? `longer than ${spec.maxLength} characters` : undefined
}

// -------------------------------------------------------------- report

/** Reasons can quote the stored value; a report is for logs and metrics, not a copy of the garbage. */
const MAX_REASON = 300
const reasonOf = (why: string) => (why.length > MAX_REASON ? `${why.slice(0, MAX_REASON)}…` : why)

const byKeyThenReason = (a: InvalidValue, b: InvalidValue) =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0

const NONE: readonly InvalidValue[] = []

function registerProblems(key: string, entries: readonly RegisterEntry[] | undefined, ctx: SchemaContext): readonly InvalidValue[] {
  if (entries === undefined) return NONE
  if (!Array.isArray(entries)) return [{ part: 'register', key, reason: `entries are ${kindOf(entries)}, not a list` }]
  if (registerSpecOf(key) === undefined) return [{ part: 'register', key, reason: 'no such register' }]
  let out: InvalidValue[] | undefined
  for (const e of entries as readonly unknown[]) {
    const why = entryProblem(key, e, ctx)
    if (why === undefined) continue
    const ev = isPlainObject(e) && typeof e.ev === 'string' ? ` (event ${e.ev.slice(0, 80)})` : ''
    ;(out ??= []).push({ part: 'register', key, reason: reasonOf(why + ev) })
  }
  return out ?? NONE
}

function unreadableProblems(unreadable: ReadonlyMap<string, readonly string[]>): readonly InvalidValue[] {
  const out: InvalidValue[] = []
  for (const [key, found] of unreadable) for (const what of found) out.push({ part: 'register', key, reason: `not a register entry: ${what}` })
  return out.sort(byKeyThenReason)
}

function recordProblemOf(set: SetName, id: string, record: Json | undefined): InvalidValue | undefined {
  if (record === undefined) return undefined
  const why = recordProblem(set, id, record)
  return why === undefined ? undefined : { part: 'record', key: `${set}/${id}`, reason: reasonOf(why) }
}

function initProblems(init: DocSnapshot['init']): InvalidValue[] {
  const out: InvalidValue[] = []
  for (const [key, v] of init) {
    if (key === 'settings') {
      const why = settingsCheck(v)
      if (why !== undefined) out.push({ part: 'settings', key, reason: reasonOf(why) })
      continue
    }
    const check = Object.hasOwn(INIT_SCHEMA, key) ? INIT_SCHEMA[key] : undefined
    const why = check === undefined ? 'no such set-once key' : check(v)
    if (why !== undefined) out.push({ part: 'init', key, reason: reasonOf(why) })
  }
  // Settings first, then init keys by name.
  return out.sort((a, b) => (a.part === b.part ? byKeyThenReason(a, b) : a.part === 'settings' ? -1 : 1))
}

function textProblems(texts: DocSnapshot['texts']): InvalidValue[] {
  const out: InvalidValue[] = []
  for (const [key, t] of texts) {
    const why = textProblem(key, t)
    if (why !== undefined) out.push({ part: 'text', key, reason: why })
  }
  return out.sort(byKeyThenReason)
}

function clockProblems(clock: DocSnapshot['clock']): InvalidValue[] {
  const out: InvalidValue[] = []
  for (const [replica, n] of clock) {
    const why = clockProblem(replica, n)
    if (why !== undefined) out.push({ part: 'clock', key: replica, reason: why })
  }
  return out.sort(byKeyThenReason)
}

/**
 * A snapshot's report, with what the next snapshot's report is patched from:
 * the invalid registers and records by key. Small maps (only invalid values),
 * so patching copies little.
 */
interface Report {
  readonly ctx: SchemaContext
  readonly init: DocSnapshot['init']
  readonly registers: ReadonlyMap<string, readonly InvalidValue[]>
  readonly records: ReadonlyMap<string, InvalidValue>
  readonly registerList: readonly InvalidValue[]
  readonly recordList: readonly InvalidValue[]
  readonly list: readonly InvalidValue[]
}

const REPORTS = new WeakMap<DocSnapshot, Report>()
// Texts, clock and init maps are kept by the backends while unchanged.
const PART_CACHE = new WeakMap<object, readonly InvalidValue[]>()

function cachedPart<M extends object>(map: M, compute: (m: M) => readonly InvalidValue[]): readonly InvalidValue[] {
  let out = PART_CACHE.get(map)
  if (out === undefined) PART_CACHE.set(map, (out = compute(map)))
  return out
}

const recordKey = (set: SetName, id: string) => `${set}/${id}`
const SET_ORDER = new Map(SET_NAMES.map((s, i) => [s, i]))

function sortedRegisterList(registers: ReadonlyMap<string, readonly InvalidValue[]>): InvalidValue[] {
  return [...registers.values()].flat().sort(byKeyThenReason)
}

function sortedRecordList(records: ReadonlyMap<string, InvalidValue>): InvalidValue[] {
  // By set in schema order, then id.
  const setOf = (v: InvalidValue) => SET_ORDER.get(v.key.slice(0, v.key.indexOf('/')) as SetName) ?? 0
  return [...records.values()].sort((a, b) => setOf(a) - setOf(b) || byKeyThenReason(a, b))
}

function sameList(a: readonly InvalidValue[], b: readonly InvalidValue[]): boolean {
  return a.length === b.length && a.every((x, i) => x.part === b[i]!.part && x.key === b[i]!.key && x.reason === b[i]!.reason)
}

function reportOf(snap: DocSnapshot): Report {
  const hit = REPORTS.get(snap)
  if (hit !== undefined) return hit
  const from = snap.delta?.from.deref()
  const base = from === undefined ? undefined : REPORTS.get(from)
  // A change of settings changes the context every value is checked in: start over.
  const patchable = base !== undefined && base.init === snap.init ? base : undefined
  const ctx = patchable?.ctx ?? schemaContextOf(snap)

  let registers: ReadonlyMap<string, readonly InvalidValue[]>
  let records: ReadonlyMap<string, InvalidValue>
  if (patchable === undefined || snap.delta === undefined) {
    const regs = new Map<string, readonly InvalidValue[]>()
    for (const [key, entries] of snap.registers) {
      const found = registerProblems(key, entries, ctx)
      if (found.length > 0) regs.set(key, found)
    }
    const recs = new Map<string, InvalidValue>()
    for (const set of SET_NAMES) {
      for (const [id, r] of snap.sets[set]) {
        const found = recordProblemOf(set, id, r)
        if (found !== undefined) recs.set(recordKey(set, id), found)
      }
    }
    registers = regs
    records = recs
  } else {
    // Copied only when the delta changes what is invalid.
    let regs: Map<string, readonly InvalidValue[]> | undefined
    for (const key of snap.delta.registers) {
      const found = registerProblems(key, snap.registers.get(key), ctx)
      const had = patchable.registers.get(key)
      if (had === undefined && found.length === 0) continue
      if (had !== undefined && sameList(had, found)) continue
      regs ??= new Map(patchable.registers)
      if (found.length > 0) regs.set(key, found)
      else regs.delete(key)
    }
    let recs: Map<string, InvalidValue> | undefined
    for (const [set, ids] of snap.delta.sets) {
      for (const id of ids) {
        const k = recordKey(set, id)
        const found = recordProblemOf(set, id, snap.sets[set].get(id))
        const had = patchable.records.get(k)
        if (had === undefined && found === undefined) continue
        if (had !== undefined && found !== undefined && had.reason === found.reason) continue
        recs ??= new Map(patchable.records)
        if (found !== undefined) recs.set(k, found)
        else recs.delete(k)
      }
    }
    registers = regs ?? patchable.registers
    records = recs ?? patchable.records
  }
  const registerList = patchable !== undefined && registers === patchable.registers ? patchable.registerList : sortedRegisterList(registers)
  // Values the backend could not even read as entries (DocSnapshot.unreadable), beside those it could.
  const unreadable = snap.unreadable === undefined ? NONE : cachedPart(snap.unreadable, unreadableProblems)
  const allRegisters = unreadable.length === 0 ? registerList : [...registerList, ...unreadable].sort(byKeyThenReason)
  const recordList = patchable !== undefined && records === patchable.records ? patchable.recordList : sortedRecordList(records)
  const init = cachedPart(snap.init, initProblems)
  const settings = init.filter((v) => v.part === 'settings')
  const others = init.filter((v) => v.part !== 'settings')
  let list: readonly InvalidValue[] = [
    ...settings, ...allRegisters, ...recordList, ...cachedPart(snap.texts, textProblems), ...cachedPart(snap.clock, clockProblems), ...others,
  ]
  // The same report as before is the same array: callers can tell "nothing new" by identity.
  if (base !== undefined && sameList(base.list, list)) list = base.list
  else if (list.length === 0) list = NONE
  const report: Report = { ctx, init: snap.init, registers, records, registerList, recordList, list }
  REPORTS.set(snap, report)
  return report
}

/**
 * Everything in `snapshot` the schema refuses, in a stable order: settings,
 * registers (by key), records (by set, then id), texts, clock counters, other
 * set-once keys. Unknown register, text and set-once keys count, as do
 * texts over their bound. Cached per snapshot, and patched from the report
 * of the snapshot it was patched from, so asking after every change costs
 * what the change touched.
 */
export function invalidValues(snapshot: DocSnapshot): readonly InvalidValue[] {
  return reportOf(snapshot).list
}
