/**
 * The lifecycle is a grow-only set of transition events folded in HLC order
 * (which extends causal order: an event's HLC is above everything its author
 * had seen), ties broken by event id. A transition that does not apply to the
 * state reached so far is kept but ignored, so both intents of a merge survive
 * and a contradiction stays visible to the conflict registry.
 */
import type { LifecycleState, TransitionAction, TransitionRecord } from './model.js'

const NEXT: Readonly<Record<Exclude<TransitionAction, 'force'>, Partial<Record<LifecycleState, LifecycleState>>>> = {
  send: { draft: 'sent' },
  submit: { draft: 'toApprove', sent: 'toApprove' },
  approve: { toApprove: 'confirmed' },
  reject: { toApprove: 'draft' },
  confirm: { draft: 'confirmed', sent: 'confirmed' },
  lock: { confirmed: 'locked' },
  unlock: { locked: 'confirmed' },
  close: { confirmed: 'closed' },
  reopen: { closed: 'confirmed' },
  cancel: { draft: 'cancelled', sent: 'cancelled', toApprove: 'cancelled', confirmed: 'cancelled' },
  reset: { cancelled: 'draft' },
}

export const LIFECYCLE_ACTIONS = Object.keys(NEXT) as Exclude<TransitionAction, 'force'>[]

/** The state an action leads to from `state`, or undefined when it does not apply (an action this version does not know included). */
export function nextState(state: LifecycleState, action: TransitionAction, to?: LifecycleState): LifecycleState | undefined {
  if (action === 'force') return to
  // Own keys only: `constructor` is no action.
  if (!Object.hasOwn(NEXT, action)) return undefined
  const next = NEXT[action as keyof typeof NEXT]
  return Object.hasOwn(next, state) ? next[state] : undefined
}

/** Actions a person may take now, for menus: only the allowed transitions are offered. */
export function allowedActions(state: LifecycleState): Exclude<TransitionAction, 'force'>[] {
  return LIFECYCLE_ACTIONS.filter((a) => NEXT[a][state] !== undefined)
}

export interface Lifecycle {
  readonly state: LifecycleState
  /** Transitions that moved the state, in fold order. */
  readonly applied: readonly TransitionRecord[]
  /** Transitions that did not apply where the fold met them. */
  readonly ignored: readonly TransitionRecord[]
  /** The transition that last entered `confirmed` from an unconfirmed state. */
  readonly confirmedBy: TransitionRecord | undefined
  /** The first `send`, if the order was ever sent. */
  readonly sentBy: TransitionRecord | undefined
  /** The transition that entered the current `locked` state. */
  readonly lockedBy: TransitionRecord | undefined
}

const UNCONFIRMED: ReadonlySet<LifecycleState> = new Set(['draft', 'sent', 'toApprove', 'cancelled'])

/** Folds sorted transitions (PurchaseState.transitions is sorted by HLC, then event id). */
export function foldLifecycle(transitions: readonly TransitionRecord[]): Lifecycle {
  let state: LifecycleState = 'draft'
  const applied: TransitionRecord[] = []
  const ignored: TransitionRecord[] = []
  let confirmedBy: TransitionRecord | undefined
  let sentBy: TransitionRecord | undefined
  let lockedBy: TransitionRecord | undefined
  for (const t of transitions) {
    const next = nextState(state, t.action, t.to)
    if (next === undefined) {
      ignored.push(t)
      continue
    }
    if (next === 'confirmed' && UNCONFIRMED.has(state)) confirmedBy = t
    if (UNCONFIRMED.has(next)) confirmedBy = undefined
    if (t.action === 'send' && sentBy === undefined) sentBy = t
    if (next === 'draft') sentBy = undefined
    lockedBy = next === 'locked' ? t : undefined
    state = next
    applied.push(t)
  }
  return { state, applied, ignored, confirmedBy, sentBy, lockedBy }
}
