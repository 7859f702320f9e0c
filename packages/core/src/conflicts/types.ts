/**
 * Conflict records. A conflict is a pure function of the merged document:
 * same state, same conflicts, on every replica and on the relay.
 */
import type { ConflictId, EventId } from '../ids.js'

export type ConflictKind =
  | 'TOTAL_MISMATCH'
  | 'OVER_RECEIPT'
  | 'DUPLICATE_RECEIPT'
  | 'ACTIVITY_ON_REMOVED_LINE'
  | 'PRODUCT_CHANGED_AFTER_ACTIVITY'
  | 'OVER_BILLED'
  | 'OVERPAYMENT'
  | 'CANCELLED_WITH_ACTIVITY'
  | 'CONTRADICTORY_TRANSITIONS'
  | 'EDIT_AFTER_LOCK'
  | 'SUPPLIER_CHANGED_AFTER_SEND'
  | 'CURRENCY_CHANGED_WITH_LINES'
  | 'APPROVAL_BYPASSED'
  | 'CONCURRENT_GUARDED_WRITE'
  | 'POSSIBLE_DUPLICATE_LINE'
  /** Two different resolutions of one conflict, made concurrently. */
  | 'CONCURRENT_RESOLUTIONS'

export const CONFLICT_KINDS: readonly ConflictKind[] = [
  'TOTAL_MISMATCH', 'OVER_RECEIPT', 'DUPLICATE_RECEIPT', 'ACTIVITY_ON_REMOVED_LINE', 'PRODUCT_CHANGED_AFTER_ACTIVITY',
  'OVER_BILLED', 'OVERPAYMENT', 'CANCELLED_WITH_ACTIVITY', 'CONTRADICTORY_TRANSITIONS', 'EDIT_AFTER_LOCK',
  'SUPPLIER_CHANGED_AFTER_SEND', 'CURRENCY_CHANGED_WITH_LINES', 'APPROVAL_BYPASSED', 'CONCURRENT_GUARDED_WRITE',
  'POSSIBLE_DUPLICATE_LINE', 'CONCURRENT_RESOLUTIONS',
]

/** BLOCKING holds further receive / pay / confirm on its subject; REVIEW asks a person; INFO suggests. */
export type Severity = 'BLOCKING' | 'REVIEW' | 'INFO'

/** One side of a conflict: an event that caused it, and who made it where. */
export interface ConflictBranch {
  readonly ev: EventId
  readonly by: string
  readonly device: string
  readonly at: string
  /** What this side did, in a few words ("received 6", "set supplier to ACME"). */
  readonly summary: string
}

export interface ResolutionOption {
  /** Stable option name passed to `resolve` (`accept`, `void-receipt`, `keep`...). */
  readonly id: string
  readonly label: string
  /** Parameters the option needs, with the choices when they are known. */
  readonly params: readonly { readonly name: string; readonly label: string; readonly choices?: readonly string[] }[]
}

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
