/**
 * Detection: every kind's detector (registry.ts; the kinds are described in docs/DOMAIN.md) run over merged state. Each
 * detector is a pure function of merged state. A conflict's id hashes its
 * kind, order, subject, causing events and the facts that define it, so two
 * devices that see the same violation produce one entry, and a violation that
 * changes (a new receipt, a new total) is a new entry.
 *
 * A conflict closes when its invariant holds again, or when a resolution
 * recorded for exactly this id chose something other than "defer".
 */
import { hashText } from '../hash.js'
import type { ConflictId, EventId, LineId } from '../ids.js'
import type { PurchaseLine, PurchaseState } from '../purchase/model.js'
import { linePositions } from '../purchase/read.js'
import { PatchedMap } from '../backends/patched-map.js'
import { CONFLICT_KINDS, CONFLICT_SPECS, type ConflictKind, SEVERITY } from './registry.js'
import { maximalResolutions, resolutionsByConflict } from './resolutions.js'
import type { ConflictSpec, DetectInput, Found, Label, ResolutionOption } from './spec.js'
import type { Conflict } from './types.js'

export type { DetectInput } from './spec.js'
export { SEVERITY } from './registry.js'
export { decisionOf, maximalResolutions } from './resolutions.js'

export function conflictIdOf(kind: ConflictKind, docId: string, subject: string, causes: readonly EventId[], idFacts: readonly string[] = []): ConflictId {
  return `c_${hashText([kind, docId, subject, ...causes, '|', ...idFacts].join('\n'))}` as ConflictId
}

type Scoped<S extends ConflictSpec['scope']> = { readonly kind: ConflictKind; readonly spec: Extract<ConflictSpec, { scope: S }> }

function byScope<S extends ConflictSpec['scope']>(scope: S): readonly Scoped<S>[] {
  const out: Scoped<S>[] = []
  for (const kind of CONFLICT_KINDS) {
    const spec: ConflictSpec = CONFLICT_SPECS[kind]
    if (spec.scope === scope) out.push({ kind, spec: spec as Extract<ConflictSpec, { scope: S }> })
  }
  return out
}

/** Kinds whose detectors look at the whole order (records, header, aggregates): run on every detection. */
const ORDER_DETECTORS = byScope('order')
/** Detectors of one line's invariants, run per line: on every line from scratch, on changed lines only after a line edit. */
const LINE_DETECTORS = byScope('line')
/** Detectors of groups of look-alike lines, run per group: on groups a line edit touched only. */
const GROUP_DETECTORS = byScope('lookalike-lines')
const GROUP_DETECTOR = new Map(GROUP_DETECTORS.map((d) => [d.kind as string, d]))

const text = (label: Label, facts: Found<string>['facts']): string => (typeof label === 'string' ? label : label(facts))

function optionsOf(spec: ConflictSpec, found: Found<string>): ResolutionOption[] {
  return Object.entries(spec.options).map(([id, o]) => ({
    id,
    label: text(o.label, found.facts),
    params: (o.params ?? []).map((p) => {
      const choices = found.choices?.[id]?.[p.name]
      return { name: p.name, label: text(p.label, found.facts), ...(choices === undefined ? {} : { choices }), ...(p.optional ? { optional: true } : {}) }
    }),
  }))
}

function toConflict(docId: string, kind: ConflictKind, spec: ConflictSpec, found: Found<string>): Conflict {
  return {
    id: conflictIdOf(kind, docId, found.subject, found.causes, found.idFacts),
    kind,
    severity: SEVERITY[kind],
    subject: found.subject,
    causes: found.causes,
    branches: found.branches,
    facts: found.facts,
    options: optionsOf(spec, found),
    deferred: false,
  }
}

/** The key of a line's look-alike group for one kind, or undefined when the line is in none. */
function groupKeyOf(d: Scoped<'lookalike-lines'>, line: PurchaseLine): string | undefined {
  const k = d.spec.groupKey(line)
  return k === undefined ? undefined : `${d.kind}\u0001${k}`
}

function groupConflicts(docId: string, key: string, ls: readonly PurchaseLine[]): Conflict[] {
  if (ls.length < 2) return []
  const d = GROUP_DETECTOR.get(key.slice(0, key.indexOf('\u0001')))!
  return d.spec.detect(ls).map((found) => toConflict(docId, d.kind, d.spec, found))
}

function lineGroups(lines: readonly PurchaseLine[]): Map<string, PurchaseLine[]> {
  const groups = new Map<string, PurchaseLine[]>()
  for (const l of lines) {
    for (const d of GROUP_DETECTORS) {
      const k = groupKeyOf(d, l)
      if (k === undefined) continue
      const g = groups.get(k)
      if (g === undefined) groups.set(k, [l])
      else g.push(l)
    }
  }
  return groups
}

/** Every violation, open or resolved, with its id. */
export function detectViolations(input: DetectInput): Conflict[] {
  return violationsFrom(undefined, input).all
}

/**
 * What a detection keeps so the next one can start from it: the per-line
 * violations (only lines that have some) and the look-alike line groups.
 */
interface Violations {
  readonly all: Conflict[]
  readonly byLine: ReadonlyMap<LineId, readonly Conflict[]>
  readonly groups: ReadonlyMap<string, readonly PurchaseLine[]>
  readonly duplicates: ReadonlyMap<string, readonly Conflict[]>
}

/** Which lines changed since `prev`, as the incremental read reports it (read.ts, LinesDelta). */
export interface DetectChanges {
  readonly lines: ReadonlySet<LineId>
}

function sameRecords(a: PurchaseState, b: PurchaseState): boolean {
  return a.receipts === b.receipts && a.returns === b.returns && a.bills === b.bills && a.payments === b.payments &&
    a.refunds === b.refunds && a.voids === b.voids && a.transitions === b.transitions && a.resolutions === b.resolutions
}

/**
 * Violations of `input`. With the violations of an earlier state of the same
 * order and the lines changed since (and no other record changed), the
 * per-line detectors run on the changed lines only and the look-alike groups
 * are updated for them; the order-level detectors run in full (they read
 * records, the header and the derived sums, not every line).
 */
function violationsFrom(prev: { readonly input: DetectInput; readonly v: Violations } | undefined, input: DetectInput, changes?: DetectChanges): Violations {
  const docId = input.state.settings.id
  const all: Conflict[] = []
  for (const { kind, spec } of ORDER_DETECTORS) for (const found of spec.detect(input)) all.push(toConflict(docId, kind, spec, found))
  const lineConflicts = (line: PurchaseLine): Conflict[] => {
    const out: Conflict[] = []
    for (const { kind, spec } of LINE_DETECTORS) {
      const found = spec.detect(input, line)
      if (found !== undefined) out.push(toConflict(docId, kind, spec, found))
    }
    return out
  }
  let byLine: Map<LineId, readonly Conflict[]>
  let groups: ReadonlyMap<string, readonly PurchaseLine[]>
  let duplicates: Map<string, readonly Conflict[]>
  const { state } = input
  if (prev !== undefined && changes !== undefined && prev.input.state.settings === state.settings && sameRecords(prev.input.state, state)) {
    // byLine and duplicates hold only lines and groups with violations (few); groups has every
    // live line, so it is patched rather than copied.
    byLine = new Map(prev.v.byLine)
    duplicates = new Map(prev.v.duplicates)
    const regroup = new Map<string, readonly PurchaseLine[] | undefined>()
    const group = (k: string) => (regroup.has(k) ? regroup.get(k) : prev.v.groups.get(k)) ?? []
    const before = prev.input.state.lines
    const beforeAt = linePositions(before)
    const nowAt = linePositions(state.lines)
    const touched = new Set<string>()
    for (const id of changes.lines) {
      const i = beforeAt.get(id)
      const old = i === undefined ? undefined : before[i]!
      const j = nowAt.get(id)
      const line = j === undefined ? undefined : state.lines[j]!
      const found = line === undefined ? [] : lineConflicts(line)
      if (found.length > 0) byLine.set(id, found)
      else byLine.delete(id)
      for (const d of GROUP_DETECTORS) {
        const oldKey = old === undefined ? undefined : groupKeyOf(d, old)
        if (oldKey !== undefined) {
          const rest = group(oldKey).filter((l) => l.id !== id)
          regroup.set(oldKey, rest.length > 0 ? rest : undefined)
          touched.add(oldKey)
        }
        const newKey = line === undefined ? undefined : groupKeyOf(d, line)
        if (newKey !== undefined) {
          regroup.set(newKey, [...group(newKey).filter((l) => l.id !== id), line!])
          touched.add(newKey)
        }
      }
    }
    groups = PatchedMap.of(prev.v.groups, regroup)
    for (const k of touched) {
      const found = groupConflicts(docId, k, groups.get(k) ?? [])
      if (found.length > 0) duplicates.set(k, found)
      else duplicates.delete(k)
    }
  } else {
    byLine = new Map()
    for (const line of state.lines) {
      const found = lineConflicts(line)
      if (found.length > 0) byLine.set(line.id, found)
    }
    groups = lineGroups(state.lines)
    duplicates = new Map()
    for (const [k, ls] of groups) {
      const found = groupConflicts(docId, k, ls)
      if (found.length > 0) duplicates.set(k, found)
    }
  }
  for (const cs of byLine.values()) all.push(...cs)
  for (const cs of duplicates.values()) all.push(...cs)
  return { all, byLine, groups, duplicates }
}

const VIOLATIONS = new WeakMap<readonly Conflict[], Violations>()

/** The open conflict queue: violations not closed by a resolution, sorted by id. */
export function detectConflicts(input: DetectInput): Conflict[] {
  return detectConflictsFrom(undefined, input)
}

/**
 * The open conflict queue of `input`, starting from the queue `prev.conflicts`
 * computed for an earlier state when `changes` says which lines changed
 * since. Same result as detectConflicts(input), in O(changed lines) plus the
 * order-level detectors.
 */
export function detectConflictsFrom(
  prev: { readonly input: DetectInput; readonly conflicts: readonly Conflict[] } | undefined,
  input: DetectInput,
  changes?: DetectChanges,
): Conflict[] {
  const pv = prev === undefined ? undefined : VIOLATIONS.get(prev.conflicts)
  const v = violationsFrom(pv === undefined ? undefined : { input: prev!.input, v: pv }, input, changes)
  const byConflict = resolutionsByConflict(input.state.resolutions)
  const open: Conflict[] = []
  for (const c of v.all) {
    const max = maximalResolutions(byConflict.get(c.id) ?? [])
    if (max.some((r) => r.option !== 'defer')) continue
    open.push(max.length > 0 ? { ...c, deferred: true } : c)
  }
  open.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  VIOLATIONS.set(open, v)
  return open
}
