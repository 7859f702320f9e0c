/**
 * What detectors build a violation from: the branches (who did what), the
 * sorted causes, register entries, and each line's live activity.
 */
import type { RegisterEntry } from '../backends/backend.js'
import type { EventId, LineId } from '../ids.js'
import { type Decimal, addDecimal, compareDecimal, mulDecimal } from '../money/decimal.js'
import { decodeHlc } from '../time/hlc.js'
import { instantFromEpochMs } from '../time/dates.js'
import type { PurchaseDerived } from '../purchase/derive.js'
import type { PurchaseState, Stamp } from '../purchase/model.js'
import type { ConflictBranch } from './spec.js'

export function entryBranch(e: RegisterEntry, summary: string): ConflictBranch {
  return { ev: e.ev, by: e.by ?? '', device: e.dev ?? '', at: instantFromEpochMs(decodeHlc(e.hlc).wall), summary }
}

export function recordBranch(r: Stamp, summary: string): ConflictBranch {
  return { ev: r.ev, by: r.by, device: r.dev, at: r.at, summary }
}

export function uniqSorted(evs: Iterable<EventId>): EventId[] {
  return [...new Set(evs)].sort()
}

/** Decimal percent check: received > ordered x (100 + tolerance) / 100. */
export function exceeds(done: Decimal, ordered: Decimal, tolerancePct: Decimal): boolean {
  return compareDecimal(mulDecimal(done, '100' as Decimal), mulDecimal(ordered, addDecimal('100' as Decimal, tolerancePct))) > 0
}

export const reg = (state: PurchaseState, key: string): readonly RegisterEntry[] => state.registers.get(key) ?? []

export interface LineActivity {
  readonly receipts: PurchaseState['receipts'][number][]
  readonly returns: PurchaseState['returns'][number][]
  readonly bills: PurchaseState['bills'][number][]
}

// Receipts, returns and bills grouped by line once per set of records (states
// that share the record arrays share it), so detectors stay linear in lines.
const ACTIVITY = new WeakMap<object, { readonly returns: object; readonly bills: object; readonly voided: object; readonly byLine: Map<LineId, LineActivity> }>()
const NO_ACTIVITY: LineActivity = { receipts: [], returns: [], bills: [] }

/** The receipts, returns and bills on a line that no void cancelled. */
export function lineActivity(state: PurchaseState, derived: PurchaseDerived, line: LineId): LineActivity {
  const hit = ACTIVITY.get(state.receipts)
  let byLine = hit !== undefined && hit.returns === state.returns && hit.bills === state.bills && hit.voided === derived.voided ? hit.byLine : undefined
  if (byLine === undefined) {
    byLine = new Map()
    const v = derived.voided
    const slot = (l: LineId) => {
      let a = byLine!.get(l)
      if (a === undefined) byLine!.set(l, (a = { receipts: [], returns: [], bills: [] }))
      return a
    }
    for (const r of state.receipts) if (!v.has(r.id)) slot(r.line).receipts.push(r)
    for (const r of state.returns) if (!v.has(r.id)) slot(r.line).returns.push(r)
    for (const b of state.bills) if (!v.has(b.id)) slot(b.line).bills.push(b)
    ACTIVITY.set(state.receipts, { returns: state.returns, bills: state.bills, voided: derived.voided, byLine })
  }
  return byLine.get(line) ?? NO_ACTIVITY
}
