/**
 * The conflict kinds, each listed once. Everything that enumerates kinds or
 * options (CONFLICT_KINDS, SEVERITY, the detectors by scope, the resolvers)
 * is derived from this table, so a new kind is one module plus one line here.
 */
import { fail } from '../errors.js'
import { activityOnRemovedLine } from './kinds/activity-on-removed-line.js'
import { approvalBypassed } from './kinds/approval-bypassed.js'
import { cancelledWithActivity } from './kinds/cancelled-with-activity.js'
import { concurrentGuardedWrite } from './kinds/concurrent-guarded-write.js'
import { concurrentResolutions } from './kinds/concurrent-resolutions.js'
import { contradictoryTransitions } from './kinds/contradictory-transitions.js'
import { currencyChangedWithLines } from './kinds/currency-changed-with-lines.js'
import { duplicateReceipt } from './kinds/duplicate-receipt.js'
import { editAfterLock } from './kinds/edit-after-lock.js'
import { overBilled } from './kinds/over-billed.js'
import { overReceipt } from './kinds/over-receipt.js'
import { overpayment } from './kinds/overpayment.js'
import { possibleDuplicateLine } from './kinds/possible-duplicate-line.js'
import { productChangedAfterActivity } from './kinds/product-changed-after-activity.js'
import { supplierChangedAfterSend } from './kinds/supplier-changed-after-send.js'
import { totalMismatch } from './kinds/total-mismatch.js'
import type { ConflictSpec, OptionSpec, Resolver, Severity } from './spec.js'

/** In this order detection runs and reports them. */
export const CONFLICT_SPECS = {
  TOTAL_MISMATCH: totalMismatch,
  OVER_RECEIPT: overReceipt,
  DUPLICATE_RECEIPT: duplicateReceipt,
  ACTIVITY_ON_REMOVED_LINE: activityOnRemovedLine,
  PRODUCT_CHANGED_AFTER_ACTIVITY: productChangedAfterActivity,
  OVER_BILLED: overBilled,
  OVERPAYMENT: overpayment,
  CANCELLED_WITH_ACTIVITY: cancelledWithActivity,
  CONTRADICTORY_TRANSITIONS: contradictoryTransitions,
  EDIT_AFTER_LOCK: editAfterLock,
  SUPPLIER_CHANGED_AFTER_SEND: supplierChangedAfterSend,
  CURRENCY_CHANGED_WITH_LINES: currencyChangedWithLines,
  APPROVAL_BYPASSED: approvalBypassed,
  CONCURRENT_GUARDED_WRITE: concurrentGuardedWrite,
  POSSIBLE_DUPLICATE_LINE: possibleDuplicateLine,
  CONCURRENT_RESOLUTIONS: concurrentResolutions,
} as const satisfies { readonly [kind: string]: ConflictSpec }

export type ConflictKind = keyof typeof CONFLICT_SPECS

/** The options of one kind, `defer` included. */
export type ConflictOption<K extends ConflictKind> = keyof (typeof CONFLICT_SPECS)[K]['options'] & string

export const CONFLICT_KINDS: readonly ConflictKind[] = Object.keys(CONFLICT_SPECS) as ConflictKind[]

const mapKinds = <V>(f: (spec: ConflictSpec, kind: ConflictKind) => V): Readonly<Record<ConflictKind, V>> =>
  Object.fromEntries(CONFLICT_KINDS.map((k) => [k, f(CONFLICT_SPECS[k], k)])) as Record<ConflictKind, V>

export const SEVERITY: Readonly<Record<ConflictKind, Severity>> = mapKinds((s) => s.severity)

/** What a person reads for each kind. */
export const KIND_LABEL: Readonly<Record<ConflictKind, string>> = mapKinds((s) => s.label)

/** Every kind's resolvers by option: a complete table, since every option spec carries its resolver. */
export const RESOLVERS: { readonly [K in ConflictKind]: { readonly [O in ConflictOption<K>]: Resolver } } =
  mapKinds((s) => Object.fromEntries(Object.entries(s.options).map(([o, spec]) => [o, spec.resolve]))) as never

export function isConflictKind(kind: string): kind is ConflictKind {
  return Object.hasOwn(CONFLICT_SPECS, kind)
}

/**
 * The spec of `option` of `kind`, for names read from a request or a
 * recorded resolution (any text a client wrote): an unknown kind or option is
 * refused with INVALID_RESOLUTION, never looked up on Object's prototype.
 */
export function optionSpec(kind: string, option: string): OptionSpec {
  if (!isConflictKind(kind)) fail('INVALID_RESOLUTION', `no conflict kind ${JSON.stringify(kind)}`)
  const options: { readonly [o: string]: OptionSpec } = CONFLICT_SPECS[kind].options
  if (!Object.hasOwn(options, option)) {
    fail('INVALID_RESOLUTION', `${kind} has no option ${JSON.stringify(option)}; options: ${Object.keys(options).join(', ')}`)
  }
  return options[option]!
}
