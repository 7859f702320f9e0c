/**
 * Conflict records. A conflict is a pure function of the merged document:
 * same state, same conflicts, on every replica and on the relay.
 */
import type { ConflictId, EventId } from '../ids.js'
import type { ConflictKind } from './registry.js'
import type { ConflictBranch, ResolutionOption, Severity } from './spec.js'

export type { ConflictKind } from './registry.js'
export { CONFLICT_KINDS } from './registry.js'
export type { ConflictBranch, ResolutionOption, Severity } from './spec.js'

export interface Conflict {
  readonly id: ConflictId
  readonly kind: ConflictKind
  readonly severity: Severity
  /** What it is about: `order`, `line:<id>`, `field:<register key>`, `receipt-note:<line>:<note>`, `conflict:<id>`. */
  readonly subject: string
  /** The events that caused it, sorted. Part of the id. */
  readonly causes: readonly EventId[]
  readonly branches: readonly ConflictBranch[]
  /** The facts a person needs to decide (`ordered: "10"`, `received: "12"`). */
  readonly facts: { readonly [name: string]: string }
  /** Options, the default first; every kind also offers `defer`. */
  readonly options: readonly ResolutionOption[]
  /** A resolution chose to defer: still open, shown as deferred. */
  readonly deferred: boolean
}
