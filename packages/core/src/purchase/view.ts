/**
 * One snapshot of a purchase as a replica shows it: the typed state, the
 * derived totals and (on demand) the open conflict queue. A view is built
 * from the previous view of the same document: the snapshot's delta says
 * which registers and records a merge or a command touched, and only the
 * lines they belong to are read, derived and checked again. Everything else
 * (a record that is not a line, a new setting) is recomputed from scratch.
 * Both ways give the same result (test/core/incremental.property.test.ts).
 */
import type { DocSnapshot } from '../backends/backend.js'
import { type DetectInput, detectConflictsFrom } from '../conflicts/detect.js'
import type { Conflict } from '../conflicts/types.js'
import { type PurchaseDerived, deriveFrom } from './derive.js'
import type { PurchaseState } from './model.js'
import { type LinesDelta, readPurchaseFrom } from './read.js'

export class PurchaseView {
  private open: Conflict[] | undefined
  /** The previous view's input and queue, held until this view's queue is built from them. */
  private base: { readonly input: DetectInput; readonly conflicts: readonly Conflict[] } | undefined

  private constructor(
    readonly snapshot: DocSnapshot,
    readonly state: PurchaseState,
    readonly derived: PurchaseDerived,
    private readonly changes: (LinesDelta & { readonly registers: ReadonlySet<string> }) | undefined,
    prev: PurchaseView | undefined,
  ) {
    // Only the previous queue is kept, never the previous view: views do not chain.
    if (changes !== undefined && prev?.open !== undefined) this.base = { input: prev, conflicts: prev.open }
  }

  /** The view of `snapshot`, from `prev` (a view of an earlier snapshot of the same document) when it helps. */
  static of(snapshot: DocSnapshot, prev?: PurchaseView): PurchaseView {
    const { state, lines } = readPurchaseFrom(prev === undefined ? undefined : { doc: prev.snapshot, state: prev.state }, snapshot)
    const changes = lines === undefined || snapshot.delta === undefined ? undefined : { ...lines, registers: snapshot.delta.registers }
    const derived = deriveFrom(prev, state, changes)
    return new PurchaseView(snapshot, state, derived, changes, prev)
  }

  /** The open conflict queue, sorted by id. */
  conflicts(): Conflict[] {
    if (this.open === undefined) {
      this.open = detectConflictsFrom(this.base, this, this.changes)
      this.base = undefined
    }
    return this.open
  }
}
