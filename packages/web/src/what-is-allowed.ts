/**
 * What the order allows now, and why not when it does not: the one place
 * the app decides which actions and forms to offer. Each rule mirrors the
 * check core's command makes before it refuses (packages/core/src/purchase/
 * commands: the state sets of context.ts, the hold, blocking conflicts, the
 * approval threshold, what was received, billed and paid), read from the
 * same merged state and derived totals, so a button that is enabled is one
 * the command accepts. What only the typed value decides (a quantity above
 * what is left, a repeated delivery note) stays with the command's own
 * refusal when the form is sent.
 */
import {
  type Conflict, type LifecycleState, type LineId, type PurchaseDerived, type PurchaseState, type TransitionAction,
  BILLABLE_STATES, EDITABLE_STATES, KIND_LABEL, RECEIVABLE_STATES, allowedActions, compareDecimal, derivePurchase, parseDecimal, parseMinor,
} from '@concord/core'
import { ACTION_LABEL, STATE_LABEL, money, orderMoney } from './format.js'

export interface Allowed {
  readonly allowed: boolean
  /** A sentence saying why not (and, where there is one, what to do instead). */
  readonly why?: string
}

export type LifecycleAction = Exclude<TransitionAction, 'force'>

/** What the rules read: the merged state, its derived totals and the open conflicts. */
export interface OrderNow {
  readonly state: PurchaseState
  readonly derived: PurchaseDerived
  readonly conflicts: readonly Conflict[]
}

const ZERO = parseDecimal('0')

const YES: Allowed = { allowed: true }
const no = (why: string): Allowed => ({ allowed: false, why })

/** Why a state refuses changes to the order's content, with the way out. */
const NOT_EDITABLE: Readonly<Partial<Record<LifecycleState, string>>> = {
  locked: 'The order is locked: unlock it to change',
  closed: 'The order is closed: reopen it to change',
  cancelled: 'The order is cancelled: reset it to a draft to change',
}

export interface OrderRules {
  /** The lifecycle actions to show: those the state machine has from here (the others never apply, so they are not shown). */
  readonly offered: readonly LifecycleAction[]
  transition(action: LifecycleAction): Allowed
  /** Header fields, lines, taxes, order of the lines (every command that requires an editable state). */
  edit(what: string): Allowed
  addLine(): Allowed
  removeLine(id: LineId): Allowed
  receive(): Allowed
  /** A line a receipt may name. */
  receivable(id: LineId): boolean
  returnGoods(): Allowed
  returnable(id: LineId): boolean
  bill(): Allowed
  billable(id: LineId): boolean
  pay(): Allowed
  refund(): Allowed
  /** Recording the computed total as the stated total. */
  commitTotal(): Allowed
}

export function whatIsAllowed({ state, derived, conflicts }: OrderNow): OrderRules {
  const lc = derived.lifecycle.state
  const m = orderMoney(state)
  const live = state.lines.filter((l) => !l.removed)
  const hold = state.hold.on ? `The order is on hold${state.hold.reason ? ` (${state.hold.reason})` : ''}: release the hold to` : null
  const blocking = (subjects: readonly string[]) => conflicts.find((c) => c.severity === 'BLOCKING' && !c.deferred && subjects.includes(c.subject))
  const blockedWhy = (subjects: readonly string[], what: string): string | null => {
    const c = blocking(subjects)
    return c === undefined ? null : `A conflict has to be resolved first (${(KIND_LABEL[c.kind as keyof typeof KIND_LABEL] ?? 'a conflict').toLowerCase()}) before you ${what}.`
  }
  const lineTotals = (id: LineId) => derived.lines.get(id)
  const received = (id: LineId) => compareDecimal(lineTotals(id)?.received ?? ZERO, ZERO) > 0
  const editWhy = (what: string): string | null => {
    if (EDITABLE_STATES.has(lc)) return null
    return `${NOT_EDITABLE[lc] ?? `The order is ${STATE_LABEL[lc].toLowerCase()}: you cannot change`} ${what}.`
  }
  const edit = (what: string): Allowed => {
    const why = editWhy(what)
    return why === null ? YES : no(why)
  }
  const currencyWhy = state.currency.values.length === 1 ? null : 'The currency has two values: resolve that conflict first.'

  const transition = (action: LifecycleAction): Allowed => {
    if (!allowedActions(lc).includes(action)) return no(`You cannot ${ACTION_LABEL[action].toLowerCase()} while the order is ${STATE_LABEL[lc].toLowerCase()}.`)
    if (hold !== null && ['send', 'submit', 'confirm', 'approve'].includes(action)) return no(`${hold} ${ACTION_LABEL[action].toLowerCase()}.`)
    if (action === 'confirm' || action === 'approve') {
      const why = blockedWhy(['order', 'lifecycle'], ACTION_LABEL[action].toLowerCase())
      if (why !== null) return no(why)
    }
    if (action === 'confirm') {
      const threshold = state.settings.approvalThreshold
      if (threshold !== null && derived.totals.total > parseMinor(threshold)) {
        return no(`Above the approval threshold of ${money(parseMinor(threshold), m)}: submit it for approval.`)
      }
    }
    if (action === 'cancel') {
      const activity = [...derived.lines.values()].some((t) => compareDecimal(t.received, ZERO) > 0 || compareDecimal(t.billed, ZERO) > 0) || derived.totals.paid > 0n
      if (activity) return no('Goods were received, billed or paid: return and refund them first, or close the order.')
    }
    return YES
  }

  const receivable = (id: LineId) => live.some((l) => l.id === id && l.kind === 'goods') && blocking([`line:${id}`]) === undefined
  const billLeft = (id: LineId) => {
    const l = live.find((x) => x.id === id)
    const t = lineTotals(id)
    if (l === undefined || t === undefined) return false
    return compareDecimal(l.kind === 'goods' ? t.received : l.qty, t.billed) > 0
  }
  const billable = (id: LineId) => billLeft(id) && blocking([`line:${id}`]) === undefined

  return {
    offered: allowedActions(lc),
    transition,
    edit,
    addLine: () => {
      const why = editWhy('its lines') ?? currencyWhy
      return why === null ? YES : no(why)
    },
    removeLine: (id) => {
      const why = editWhy('its lines')
      if (why !== null) return no(why)
      const t = lineTotals(id)
      if (t !== undefined && (compareDecimal(t.received, ZERO) !== 0 || compareDecimal(t.billed, ZERO) !== 0)) {
        return no('This line has receipts or bills: return or void them before removing it.')
      }
      // Core refuses a change that raises a conflict not open before: here, a total below what was already paid
      // (an overpayment accepted earlier was accepted at the old total, so it counts as raised again).
      const after = derivePurchase({ ...state, lines: state.lines.map((l) => l.id === id ? { ...l, removed: true } : l) })
      const overpaidNow = conflicts.some((c) => c.kind === 'OVERPAYMENT' && c.subject === 'order')
      if (after.totals.paid > after.totals.total && !overpaidNow) {
        return no(`Without this line the total would be ${money(after.totals.total, m)}, less than the ${money(after.totals.paid, m)} paid: refund first.`)
      }
      return YES
    },
    receive: () => {
      if (!RECEIVABLE_STATES.has(lc)) {
        return no(lc === 'closed' ? 'The order is closed: reopen it to receive goods.'
          : lc === 'cancelled' ? 'The order is cancelled: no goods are received.'
            : 'Goods are received once the order is confirmed.')
      }
      const why = blockedWhy(['order'], 'receive goods')
      if (why !== null) return no(why)
      if (!live.some((l) => l.kind === 'goods')) return no('The order has no goods lines to receive.')
      if (!live.some((l) => receivable(l.id))) return no('A conflict on the lines has to be resolved before goods are received.')
      return YES
    },
    receivable,
    // Returns are allowed in any state (they settle a cancelled order): only what was received can go back.
    returnGoods: () => live.some((l) => l.kind === 'goods' && received(l.id)) ? YES : no('Nothing received to return.'),
    returnable: (id) => received(id),
    bill: () => {
      if (!BILLABLE_STATES.has(lc)) return no(lc === 'cancelled' ? 'The order is cancelled: no bills are recorded.' : 'Bills are recorded once the order is confirmed.')
      const why = blockedWhy(['order'], 'record a bill')
      if (why !== null) return no(why)
      if (!live.some((l) => billLeft(l.id))) return no(live.some((l) => l.kind === 'goods') ? 'Nothing left to bill: goods are billed once they are received.' : 'Nothing left to bill.')
      if (!live.some((l) => billable(l.id))) return no('A conflict on the lines has to be resolved before bills are recorded.')
      return YES
    },
    billable,
    pay: () => {
      if (!BILLABLE_STATES.has(lc)) return no(lc === 'cancelled' ? 'The order is cancelled: no more payments.' : 'Payments are recorded once the order is confirmed.')
      if (hold !== null) return no(`${hold} record a payment.`)
      const why = blockedWhy(['order'], 'record a payment')
      if (why !== null) return no(why)
      if (derived.totals.due <= 0n) return no(lc === 'closed' ? 'The order is closed and nothing is due: no more payments.' : 'Nothing is due: no more payments.')
      return YES
    },
    refund: () => derived.totals.paid > 0n ? YES : no('Nothing was paid to refund.'),
    // Core takes the stated total in any state, but after a lock it would be an edit after the lock, which the invariant check refuses.
    commitTotal: () => lc === 'locked' ? no('The order is locked: unlock it to change the stated total.') : YES,
  }
}
