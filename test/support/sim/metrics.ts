/**
 * The success metrics Concord is held to, from simulated team days
 * (planDay): what share of saved changes the relay stored as they were made,
 * what share of stored changes raised a conflict a person has to settle, and
 * how long high-priority changes wait after a device comes back online.
 * scripts/sim-metrics.mjs runs the days and prints them; bench/README.md
 * quotes the result.
 */
import type { EventEnvelope, PurchaseId } from '@concord/core'
import { rebuild, storedEvents } from './checks.js'
import type { World, WorldStats } from './world.js'

/**
 * Replays the store's events of every purchase one at a time and counts the
 * events after which the purchase has a conflict needing a person (blocking
 * or review) that it did not have before. Quadratic in the events of a
 * purchase, so only measured runs pay for it.
 */
export async function countConflictEvents(w: World): Promise<number> {
  let n = 0
  for (const docId of w.docIds) n += conflictRaisers(w, docId, await storedEvents(w, docId))
  return n
}

function conflictRaisers(w: World, docId: PurchaseId, events: readonly EventEnvelope[]): number {
  if (events.length === 0) return 0
  const r = rebuild(w, docId, events.slice(0, 1))
  let open = needingAPerson(r.conflicts())
  let n = open.size > 0 ? 1 : 0
  for (const e of events.slice(1)) {
    r.receive([e])
    const now = needingAPerson(r.conflicts())
    if ([...now].some((id) => !open.has(id))) n++
    open = now
  }
  return n
}

function needingAPerson(conflicts: readonly { readonly id: string; readonly severity: string }[]): Set<string> {
  return new Set(conflicts.filter((c) => c.severity !== 'INFO').map((c) => c.id))
}

export interface Summary {
  readonly days: number
  /** Stored as saved / saved, over all days. */
  readonly syncSuccess: number
  /** Per-day sync success: min, median, max. */
  readonly syncSuccessByDay: readonly [number, number, number]
  /** Conflict-raising events / stored events, over all days. */
  readonly manualIntervention: number
  readonly manualInterventionByDay: readonly [number, number, number]
  readonly reconnects: number
  readonly interrupted: number
  /** Reconnect to high-priority acks, ms: median, p95, max. */
  readonly highPriorityAckMs: readonly [number, number, number]
  /** Share of reconnects whose high-priority changes were all acknowledged within 30 s. */
  readonly within30s: number
  readonly saved: number
  readonly stored: number
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

function spread(values: readonly number[]): [number, number, number] {
  const s = [...values].sort((a, b) => a - b)
  return [s[0] ?? NaN, quantile(s, 0.5), s[s.length - 1] ?? NaN]
}

export function summarize(days: readonly WorldStats[]): Summary {
  const sum = (f: (s: WorldStats) => number) => days.reduce((n, s) => n + f(s), 0)
  const acks = days.flatMap((s) => s.highPriorityAckMs).sort((a, b) => a - b)
  return {
    days: days.length,
    syncSuccess: sum((s) => s.storedAsSaved) / sum((s) => s.saved),
    syncSuccessByDay: spread(days.map((s) => s.storedAsSaved / s.saved)),
    manualIntervention: sum((s) => s.conflictEvents) / sum((s) => s.stored),
    manualInterventionByDay: spread(days.map((s) => s.conflictEvents / s.stored)),
    reconnects: acks.length,
    interrupted: sum((s) => s.highPriorityInterrupted),
    highPriorityAckMs: [quantile(acks, 0.5), quantile(acks, 0.95), acks[acks.length - 1] ?? NaN],
    within30s: acks.filter((ms) => ms <= 30_000).length / acks.length,
    saved: sum((s) => s.saved),
    stored: sum((s) => s.stored),
  }
}
