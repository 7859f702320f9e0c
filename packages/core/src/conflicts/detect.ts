/**
 * The invariant registry: one detector per conflict kind (docs/DOMAIN.md). Each
 * detector is a pure function of merged state. A conflict's id hashes its
 * kind, order, subject, causing events and the facts that define it, so two
 * devices that see the same violation produce one entry, and a violation that
 * changes (a new receipt, a new total) is a new entry.
 *
 * A conflict closes when its invariant holds again, or when a resolution
 * recorded for exactly this id chose something other than "defer".
 */
import type { RegisterEntry } from '../backends/backend.js'
import { hashText } from '../hash.js'
import { type ConflictId, type EventId, type LineId, covers, splitEventId } from '../ids.js'
import { canonicalJson } from '../json.js'
import { type Decimal, addDecimal, compareDecimal, isZeroDecimal, mulDecimal, subDecimal } from '../money/decimal.js'
import { formatMinor, parseMinor } from '../money/amount.js'
import { decodeHlc } from '../time/hlc.js'
import { instantFromEpochMs } from '../time/dates.js'
import type { PurchaseDerived } from '../purchase/derive.js'
import type { PurchaseLine, PurchaseState, ResolutionRecord, Stamp, StoredClock, TransitionRecord } from '../purchase/model.js'
import { GUARDED_FIELDS } from '../purchase/model.js'
import { linePositions } from '../purchase/read.js'
import { PatchedMap } from '../backends/patched-map.js'
import { concurrent } from './causality.js'
import type { Conflict, ConflictBranch, ConflictKind, ResolutionOption, Severity } from './types.js'

export const SEVERITY: Readonly<Record<ConflictKind, Severity>> = {
  TOTAL_MISMATCH: 'REVIEW',
  OVER_RECEIPT: 'BLOCKING',
  DUPLICATE_RECEIPT: 'BLOCKING',
  ACTIVITY_ON_REMOVED_LINE: 'BLOCKING',
  PRODUCT_CHANGED_AFTER_ACTIVITY: 'BLOCKING',
  OVER_BILLED: 'BLOCKING',
  OVERPAYMENT: 'BLOCKING',
  CANCELLED_WITH_ACTIVITY: 'BLOCKING',
  CONTRADICTORY_TRANSITIONS: 'BLOCKING',
  EDIT_AFTER_LOCK: 'REVIEW',
  SUPPLIER_CHANGED_AFTER_SEND: 'BLOCKING',
  CURRENCY_CHANGED_WITH_LINES: 'BLOCKING',
  APPROVAL_BYPASSED: 'BLOCKING',
  CONCURRENT_GUARDED_WRITE: 'BLOCKING',
  POSSIBLE_DUPLICATE_LINE: 'INFO',
  CONCURRENT_RESOLUTIONS: 'BLOCKING',
}

interface RawConflict {
  readonly kind: ConflictKind
  readonly subject: string
  readonly causes: readonly EventId[]
  readonly branches: readonly ConflictBranch[]
  readonly facts: { readonly [k: string]: string }
  /** Facts that define the violation beyond its causes (a computed total), hashed into the id. */
  readonly idFacts?: readonly string[]
  readonly options: readonly ResolutionOption[]
}

export interface DetectInput {
  readonly state: PurchaseState
  readonly derived: PurchaseDerived
}

const opt = (id: string, label: string, params: ResolutionOption['params'] = []): ResolutionOption => ({ id, label, params })
const DEFER = opt('defer', 'Defer: keep it open for later')
const ACCEPT = (label: string) => opt('accept', label, [{ name: 'note', label: 'Note' }])

function entryBranch(e: RegisterEntry, summary: string): ConflictBranch {
  return { ev: e.ev, by: e.by ?? '', device: e.dev ?? '', at: instantFromEpochMs(decodeHlc(e.hlc).wall), summary }
}

function recordBranch(r: Stamp, summary: string): ConflictBranch {
  return { ev: r.ev, by: r.by, device: r.dev, at: r.at, summary }
}

function uniqSorted(evs: Iterable<EventId>): EventId[] {
  return [...new Set(evs)].sort()
}

export function conflictIdOf(kind: ConflictKind, docId: string, subject: string, causes: readonly EventId[], idFacts: readonly string[] = []): ConflictId {
  return `c_${hashText([kind, docId, subject, ...causes, '|', ...idFacts].join('\n'))}` as ConflictId
}

/** Decimal percent check: received > ordered x (100 + tolerance) / 100. */
function exceeds(done: Decimal, ordered: Decimal, tolerancePct: Decimal): boolean {
  return compareDecimal(mulDecimal(done, '100' as Decimal), mulDecimal(ordered, addDecimal('100' as Decimal, tolerancePct))) > 0
}

// ---------------------------------------------------------------- detectors

type Detector = (input: DetectInput) => RawConflict[]
/** A detector of one line's invariants: a pure function of the line, its totals and its activity. */
type LineDetector = (input: DetectInput, line: PurchaseLine) => RawConflict | undefined

const totalMismatch: Detector = ({ state, derived }) => {
  const entries = state.statedTotal.entries
  if (entries.length === 0) return []
  const total = derived.totals.total
  const values = [...new Set(state.statedTotal.values)]
  if (values.length === 1 && parseMinor(values[0]) === total) return []
  const exp = state.settings.currencyExponent
  return [{
    kind: 'TOTAL_MISMATCH',
    subject: 'order',
    causes: uniqSorted(entries.map((e) => e.ev)),
    branches: entries.map((e) => entryBranch(e, `stated total ${formatMinor(parseMinor(e.value as string), exp)}`)),
    facts: { computed: formatMinor(total, exp), stated: values.map((v) => formatMinor(parseMinor(v), exp)).join(', ') },
    idFacts: [total.toString()],
    options: [
      opt('accept-computed', 'Accept the computed total'),
      opt('adjustment-line', 'Add an adjustment line to reach a stated total', [{ name: 'stated', label: 'Stated total', choices: values }]),
      opt('keep', 'Keep one stated total (the commitment stands)', [{ name: 'value', label: 'Stated total', choices: values }]),
      opt('custom', 'State another total', [{ name: 'value', label: 'Total in minor units' }]),
      DEFER,
    ],
  }]
}

interface LineActivity {
  readonly receipts: PurchaseState['receipts'][number][]
  readonly returns: PurchaseState['returns'][number][]
  readonly bills: PurchaseState['bills'][number][]
}

// Receipts, returns and bills grouped by line once per set of records (states
// that share the record arrays share it), so detectors stay linear in lines.
const ACTIVITY = new WeakMap<object, { readonly returns: object; readonly bills: object; readonly voided: object; readonly byLine: Map<LineId, LineActivity> }>()
const NO_ACTIVITY: LineActivity = { receipts: [], returns: [], bills: [] }

function lineActivity(state: PurchaseState, derived: PurchaseDerived, line: LineId): LineActivity {
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

const reg = (state: PurchaseState, key: string): readonly RegisterEntry[] => state.registers.get(key) ?? []

const overReceipt: LineDetector = ({ state, derived }, line) => {
  if (line.removed || line.kind !== 'goods') return undefined
  const t = derived.lines.get(line.id)!
  if (!exceeds(t.received, line.qty, state.settings.receiptTolerance)) return undefined
  const act = lineActivity(state, derived, line.id)
  const qtyEntries = reg(state, `l.${line.id}.qty`)
  const excess = subDecimal(t.received, line.qty)
  return {
    kind: 'OVER_RECEIPT',
    subject: `line:${line.id}`,
    causes: uniqSorted([...act.receipts, ...act.returns].map((r) => r.ev).concat(qtyEntries.map((e) => e.ev))),
    branches: [
      ...qtyEntries.map((e) => entryBranch(e, `ordered ${String(e.value)}`)),
      ...act.receipts.map((r) => recordBranch(r, `received ${r.qty} (${r.deliveryNote})`)),
    ],
    facts: { line: line.product, ordered: line.qty, received: t.received, excess, tolerance: `${state.settings.receiptTolerance}%` },
    options: [
      ACCEPT('Accept the excess with a note'),
      opt('raise-qty', `Raise the ordered quantity to ${t.received}`),
      opt('return-excess', `Return the excess (${excess})`),
      opt('void-receipt', 'Void a duplicate receipt', [{ name: 'receipt', label: 'Receipt', choices: act.receipts.map((r) => r.id) }]),
      DEFER,
    ],
  }
}

const duplicateReceipt: Detector = ({ state, derived }) => {
  const groups = new Map<string, typeof state.receipts[number][]>()
  for (const r of state.receipts) {
    if (derived.voided.has(r.id)) continue
    const k = `${r.line}:${r.deliveryNote}`
    const g = groups.get(k)
    if (g === undefined) groups.set(k, [r])
    else g.push(r)
  }
  const out: RawConflict[] = []
  for (const [k, rs] of groups) {
    if (rs.length < 2) continue
    const later = rs[rs.length - 1]!
    out.push({
      kind: 'DUPLICATE_RECEIPT',
      subject: `receipt-note:${k}`,
      causes: uniqSorted(rs.map((r) => r.ev)),
      branches: rs.map((r) => recordBranch(r, `received ${r.qty} on note ${r.deliveryNote}`)),
      facts: { deliveryNote: rs[0]!.deliveryNote, receipts: String(rs.length), quantities: rs.map((r) => r.qty).join(' + ') },
      options: [
        opt('void-receipt', 'Void one receipt', [{ name: 'receipt', label: 'Receipt', choices: [later.id, ...rs.slice(0, -1).map((r) => r.id)] }]),
        ACCEPT('Keep both: they are different deliveries'),
        DEFER,
      ],
    })
  }
  return out
}

const activityOnRemovedLine: LineDetector = ({ state, derived }, line) => {
  if (!line.removed) return undefined
  const act = lineActivity(state, derived, line.id)
  const t = derived.lines.get(line.id)!
  if (isZeroDecimal(t.received) && isZeroDecimal(t.billed)) return undefined
  const removed = reg(state, `l.${line.id}.removed`)
  return {
    kind: 'ACTIVITY_ON_REMOVED_LINE',
    subject: `line:${line.id}`,
    causes: uniqSorted([...removed.map((e) => e.ev), ...[...act.receipts, ...act.returns, ...act.bills].map((r) => r.ev)]),
    branches: [
      ...removed.map((e) => entryBranch(e, 'removed the line')),
      ...act.receipts.map((r) => recordBranch(r, `received ${r.qty}`)),
      ...act.bills.map((b) => recordBranch(b, `billed ${b.qty}`)),
    ],
    facts: { line: line.product, received: t.received, billed: t.billed },
    options: [opt('restore-line', 'Restore the line'), opt('void-activity', 'Void the receipts and bills on it'), DEFER],
  }
}

const productChangedAfterActivity: LineDetector = ({ state, derived }, line) => {
  if (line.removed) return undefined
  const stale = lineActivity(state, derived, line.id).receipts.filter((r) => r.product !== line.product)
  if (stale.length === 0) return undefined
  const product = reg(state, `l.${line.id}.product`)
  return {
    kind: 'PRODUCT_CHANGED_AFTER_ACTIVITY',
    subject: `line:${line.id}`,
    causes: uniqSorted([...product.map((e) => e.ev), ...stale.map((r) => r.ev)]),
    branches: [
      ...product.map((e) => entryBranch(e, `changed the product to ${String(e.value)}`)),
      ...stale.map((r) => recordBranch(r, `received ${r.qty} of ${r.product}`)),
    ],
    facts: { product: line.product, received: [...new Set(stale.map((r) => r.product))].join(', '), receivedQty: derived.lines.get(line.id)!.received },
    options: [opt('split-line', 'Split the line: what was received keeps the old product'), opt('revert-change', 'Revert the product change'), DEFER],
  }
}

const overBilled: LineDetector = ({ state, derived }, line) => {
  if (line.removed) return undefined
  const t = derived.lines.get(line.id)!
  const limit = line.kind === 'goods' ? t.received : line.qty
  if (compareDecimal(t.billed, limit) <= 0) return undefined
  const act = lineActivity(state, derived, line.id)
  return {
    kind: 'OVER_BILLED',
    subject: `line:${line.id}`,
    causes: uniqSorted([...act.bills, ...act.receipts, ...act.returns].map((r) => r.ev)),
    branches: [
      ...act.bills.map((b) => recordBranch(b, `billed ${b.qty}`)),
      ...act.returns.map((r) => recordBranch(r, `returned ${r.qty}`)),
    ],
    facts: { line: line.product, billed: t.billed, [line.kind === 'goods' ? 'received' : 'ordered']: limit },
    options: [
      ACCEPT('Accept: a credit note will follow'),
      opt('void-bill', 'Void a bill', [{ name: 'bill', label: 'Bill', choices: act.bills.map((b) => b.id) }]),
      DEFER,
    ],
  }
}

const overpayment: Detector = ({ state, derived }) => {
  const { paid, total } = derived.totals
  if (paid <= total) return []
  const live = [...state.payments, ...state.refunds].filter((p) => !derived.voided.has(p.id))
  const exp = state.settings.currencyExponent
  return [{
    kind: 'OVERPAYMENT',
    subject: 'order',
    causes: uniqSorted(live.map((p) => p.ev)),
    branches: state.payments.filter((p) => !derived.voided.has(p.id)).map((p) => recordBranch(p, `paid ${formatMinor(parseMinor(p.amount), exp)}`)),
    facts: { total: formatMinor(total, exp), paid: formatMinor(paid, exp), excess: formatMinor(paid - total, exp) },
    idFacts: [total.toString()],
    options: [
      ACCEPT('Record a supplier credit'),
      opt('void-payment', 'Void the duplicate payment', [{ name: 'payment', label: 'Payment', choices: state.payments.filter((p) => !derived.voided.has(p.id)).map((p) => p.id) }]),
      opt('request-refund', `Request a refund of ${formatMinor(paid - total, exp)}`),
      DEFER,
    ],
  }]
}

const cancelledWithActivity: Detector = ({ state, derived }) => {
  const lc = derived.lifecycle
  if (lc.state !== 'cancelled') return []
  const v = derived.voided
  const received = [...derived.lines.values()].some((t) => compareDecimal(t.received, '0' as Decimal) > 0)
  const billed = [...derived.lines.values()].some((t) => !isZeroDecimal(t.billed))
  if (!received && !billed && derived.totals.paid <= 0n) return []
  const cancel = [...lc.applied].reverse().find((t) => t.action === 'cancel' || t.action === 'force')!
  const activity = [...state.receipts, ...state.bills, ...state.payments].filter((r) => !v.has(r.id))
  return [{
    kind: 'CANCELLED_WITH_ACTIVITY',
    subject: 'order',
    causes: uniqSorted([cancel.ev, ...activity.map((r) => r.ev)]),
    branches: [recordBranch(cancel, 'cancelled the order'), ...activity.map((r) => recordBranch(r, 'recorded activity'))],
    facts: { received: String(received), billed: String(billed), paid: formatMinor(derived.totals.paid, state.settings.currencyExponent) },
    options: [
      opt('uncancel', 'Un-cancel the order'),
      opt('return-refund', 'Keep it cancelled: return the goods and refund the payments'),
      opt('short-close', 'Short-close: keep what was received, close the order'),
      DEFER,
    ],
  }]
}

const CONTRADICTIONS: readonly (readonly [string, string])[] = [
  ['confirm', 'cancel'], ['approve', 'cancel'], ['approve', 'reject'],
]

const CONTRADICTING: ReadonlySet<string> = new Set(CONTRADICTIONS.flat())

/**
 * Pair checks plus settling checks one detection may make. A real order has
 * a few contradictory transitions; a crafted document can hold thousands,
 * which would take minutes (pairs times transitions). Past the budget the
 * detector stops where it is: the conflicts it found so far, in order, the
 * same on every replica.
 */
const TRANSITION_WORK = 500_000

const contradictoryTransitions: Detector = ({ state, derived }) => {
  const out: RawConflict[] = []
  const ts = state.transitions
  // Only these can form a pair; kept in fold order, so pairs come in the order a scan of every pair meets them.
  const candidates = ts.filter((t) => CONTRADICTING.has(t.action))
  let work = 0
  const settled = (a: TransitionRecord, b: TransitionRecord): boolean | undefined => {
    for (const t of ts) {
      if (++work > TRANSITION_WORK) return undefined
      if (t !== a && t !== b && covers(t.vv, a.ev) && covers(t.vv, b.ev)) return true
    }
    return false
  }
  for (let i = 0; i < candidates.length; i++) {
    for (let j = i + 1; j < candidates.length; j++) {
      if (++work > TRANSITION_WORK) return out
      const a = candidates[i]!
      const b = candidates[j]!
      const pair = CONTRADICTIONS.some(([x, y]) => (a.action === x && b.action === y) || (a.action === y && b.action === x))
      if (!pair || !concurrent(a, b)) continue
      const done = settled(a, b)
      if (done === undefined) return out
      if (done) continue
      out.push({
        kind: 'CONTRADICTORY_TRANSITIONS',
        subject: 'lifecycle',
        causes: uniqSorted([a.ev, b.ev]),
        branches: [recordBranch(a, a.action), recordBranch(b, b.action)],
        facts: { first: a.action, second: b.action, now: derived.lifecycle.state },
        options: [
          opt('keep', 'Keep one intent', [{ name: 'transition', label: 'Transition', choices: [a.ev, b.ev] }]),
          DEFER,
        ],
      })
    }
  }
  return out
}

/** Register keys a lock forbids editing: lines, taxes and header fields. */
function isEditableKey(key: string): boolean {
  return key.startsWith('l.') || key.startsWith('x.') || (key.startsWith('h.') && key !== 'h.number' && key !== 'h.hold')
}

const editAfterLock: Detector = ({ state, derived }) => {
  const lock = derived.lifecycle.lockedBy
  if (lock === undefined) return []
  const byEvent = new Map<EventId, { entry: RegisterEntry; keys: string[] }>()
  for (const [key, entries] of state.registers) {
    if (!isEditableKey(key)) continue
    for (const e of entries) {
      if (e.res !== undefined || covers(lock.vv, e.ev) || e.ev === lock.ev) continue
      const g = byEvent.get(e.ev) ?? { entry: e, keys: [] }
      g.keys.push(key)
      byEvent.set(e.ev, g)
    }
  }
  return [...byEvent.values()].map(({ entry, keys }) => ({
    kind: 'EDIT_AFTER_LOCK' as const,
    subject: `edit:${entry.ev}`,
    causes: uniqSorted([lock.ev, entry.ev]),
    branches: [recordBranch(lock, 'locked the order'), entryBranch(entry, `edited ${keys.sort().join(', ')}`)],
    facts: { fields: keys.sort().join(', ') },
    options: [opt('amend', 'Keep the edit (amend the locked order)'), opt('discard', 'Discard the edit'), DEFER],
  }))
}

const supplierChangedAfterSend: Detector = ({ state, derived }) => {
  const sent = derived.lifecycle.sentBy
  if (sent === undefined || derived.lifecycle.state === 'cancelled') return []
  return state.supplier.entries
    .filter((e) => e.res === undefined && !covers(sent.vv, e.ev))
    .map((e) => ({
      kind: 'SUPPLIER_CHANGED_AFTER_SEND' as const,
      subject: 'field:h.supplier',
      causes: uniqSorted([sent.ev, e.ev]),
      branches: [recordBranch(sent, 'sent the order'), entryBranch(e, `switched supplier to ${String(e.value)}`)],
      facts: { supplier: String(e.value) },
      options: [opt('revert', 'Revert to the supplier the order was sent to'), opt('resend', 'Cancel and re-send to the new supplier'), DEFER],
    }))
}

const currencyChangedWithLines: Detector = ({ state }) => {
  if (state.currency.values.length !== 1) return []
  const currency = state.currency.values[0]!
  const stale = state.lines.filter((l) => !l.removed && l.price.currency !== '' && l.price.currency !== currency)
  if (stale.length === 0) return []
  const cur = state.currency.entries
  const priceEntries = stale.flatMap((l) => reg(state, `l.${l.id}.price`))
  return [{
    kind: 'CURRENCY_CHANGED_WITH_LINES',
    subject: 'field:h.currency',
    causes: uniqSorted([...cur.map((e) => e.ev), ...priceEntries.map((e) => e.ev)]),
    branches: [...cur.map((e) => entryBranch(e, `switched currency to ${String(e.value)}`)), ...priceEntries.map((e) => entryBranch(e, 'priced a line'))],
    facts: { currency, linesPricedIn: [...new Set(stale.map((l) => l.price.currency))].join(', '), lines: String(stale.length) },
    options: [
      opt('reprice-lines', `Keep ${currency}: re-enter those prices in ${currency}`),
      opt('revert-currency', 'Revert the currency', [{ name: 'currency', label: 'Currency', choices: [...new Set(stale.map((l) => l.price.currency))] }]),
      DEFER,
    ],
  }]
}

const approvalBypassed: Detector = ({ state, derived }) => {
  const threshold = state.settings.approvalThreshold
  const c = derived.lifecycle.confirmedBy
  if (threshold === null || c === undefined || c.action !== 'confirm') return []
  if (!['confirmed', 'locked', 'closed'].includes(derived.lifecycle.state)) return []
  const total = derived.totals.total
  if (total <= parseMinor(threshold)) return []
  const late = state.lines.filter((l) => !l.removed && !covers(c.vv, l.created.ev))
  const lateEdits = state.lines.flatMap((l) => [...reg(state, `l.${l.id}.qty`), ...reg(state, `l.${l.id}.price`)]).filter((e) => !covers(c.vv, e.ev) && e.ev !== c.ev)
  const exp = state.settings.currencyExponent
  return [{
    kind: 'APPROVAL_BYPASSED',
    subject: 'order',
    causes: uniqSorted([c.ev, ...late.map((l) => l.created.ev), ...lateEdits.map((e) => e.ev)]),
    branches: [recordBranch(c, 'confirmed'), ...late.map((l) => recordBranch(l.created, `added ${l.product}`))],
    facts: { total: formatMinor(total, exp), threshold: formatMinor(parseMinor(threshold), exp) },
    idFacts: [total.toString()],
    options: [
      opt('send-to-approval', 'Send back to approval'),
      opt('approve-now', 'Approve now (approvers only)'),
      opt('revert-late-lines', 'Remove the lines added after confirmation'),
      DEFER,
    ],
  }]
}

const concurrentGuardedWrite: Detector = ({ state }) => {
  const out: RawConflict[] = []
  for (const field of GUARDED_FIELDS) {
    if (field === 'statedTotal') continue // TOTAL_MISMATCH owns the stated total
    const entries = state[field].entries
    const values = [...new Set(entries.map((e) => canonicalJson(e.value)))]
    if (values.length < 2) continue
    // Two concurrent resolutions of one conflict: CONCURRENT_RESOLUTIONS reports it once.
    if (entries.every((e) => e.res !== undefined && e.res === entries[0]!.res)) continue
    out.push({
      kind: 'CONCURRENT_GUARDED_WRITE',
      subject: `field:h.${field}`,
      causes: uniqSorted(entries.map((e) => e.ev)),
      branches: entries.map((e) => entryBranch(e, `set ${field} to ${String(e.value)}`)),
      facts: { field, values: entries.map((e) => String(e.value)).join(' | ') },
      options: [
        opt('keep', 'Keep one value', [{ name: 'value', label: field, choices: [...entries].reverse().map((e) => String(e.value)) }]),
        opt('custom', 'Enter another value', [{ name: 'value', label: field }]),
        DEFER,
      ],
    })
  }
  return out
}

/** Lines that look alike (same product, quantity and price) share a key; removed and product-less lines have none. */
function duplicateKeyOf(l: PurchaseLine): string | undefined {
  return l.removed || l.product === '' ? undefined : `${l.product}\u0000${l.qty}\u0000${l.price.amount}`
}

/**
 * Bounds on the look-alike pairs of one group. Below them the pairs are
 * exactly every concurrent pair; a real order never comes near (a group is a
 * handful of lines). Unbounded, 1,000 look-alike lines written concurrently
 * (vv {}: a raw client can) made half a million conflicts and overflowed the
 * stack collecting them. Past a bound the group reports what it found so far
 * in a fixed order, so a command that shrinks such a group can surface pairs
 * it hid, which the command check then refuses; resolutions still apply.
 */
const MAX_DUPLICATE_PAIRS = 256
const DUPLICATE_WORK = 200_000

const byCreation = (x: PurchaseLine, y: PurchaseLine) =>
  x.created.hlc < y.created.hlc ? -1 : x.created.hlc > y.created.hlc ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0

const countOf = (vv: StoredClock, replica: string): number => (Object.hasOwn(vv, replica) ? vv[replica]! : 0)

/**
 * Pairs of lines that look alike and were added concurrently: a pure function
 * of the group's members, whatever their order. Each line is compared only
 * with the earlier lines its author had not seen: a clock that counts n of a
 * replica's events saw exactly its events numbered up to n, the last ones of
 * that replica's lines here. So 10,000 look-alike lines added one after
 * another cost 10,000 steps, not 50 million comparisons.
 */
function duplicatePairs(ls: readonly PurchaseLine[]): RawConflict[] {
  const out: RawConflict[] = []
  const sorted = [...ls].sort(byCreation)
  // Earlier members by creating replica: positions in `sorted` and event numbers, and whether those only grow (so unseen ones are a tail).
  const byReplica = new Map<string, { readonly at: number[]; readonly seqs: number[]; ordered: boolean }>()
  let work = 0
  for (let j = 0; j < sorted.length; j++) {
    const b = sorted[j]!
    const unseen: number[] = []
    for (const [replica, m] of byReplica) {
      const n = countOf(b.created.vv, replica)
      work++
      if (m.ordered) {
        for (let q = m.seqs.length - 1; q >= 0 && m.seqs[q]! > n; q--) unseen.push(m.at[q]!)
      } else {
        work += m.seqs.length
        for (let q = 0; q < m.seqs.length; q++) if (m.seqs[q]! > n) unseen.push(m.at[q]!)
      }
    }
    for (const i of unseen.sort((x, y) => x - y)) {
      if (++work > DUPLICATE_WORK) return out
      const a = sorted[i]!
      // The other way round too: an earlier line whose author claims to have seen this one, or the same event.
      if (!concurrent(a.created, b.created)) continue
      out.push({
        kind: 'POSSIBLE_DUPLICATE_LINE',
        subject: `lines:${a.id}:${b.id}`,
        causes: uniqSorted([a.created.ev, b.created.ev]),
        branches: [recordBranch(a.created, `added ${a.qty} x ${a.product}`), recordBranch(b.created, `added ${b.qty} x ${b.product}`)],
        facts: { product: a.product, qty: a.qty, price: a.price.amount },
        options: [
          opt('remove-line', 'Remove one of them', [{ name: 'line', label: 'Line', choices: [b.id, a.id] }]),
          opt('keep-both', 'Keep both'),
          DEFER,
        ],
      })
      if (out.length >= MAX_DUPLICATE_PAIRS) return out
    }
    if (work > DUPLICATE_WORK) return out
    const { replica, seq } = splitEventId(b.created.ev)
    let m = byReplica.get(replica)
    if (m === undefined) byReplica.set(replica, (m = { at: [], seqs: [], ordered: true }))
    if (m.seqs.length > 0 && m.seqs[m.seqs.length - 1]! > seq) m.ordered = false
    m.at.push(j)
    m.seqs.push(seq)
  }
  return out
}

function duplicateGroups(lines: readonly PurchaseLine[]): Map<string, PurchaseLine[]> {
  const groups = new Map<string, PurchaseLine[]>()
  for (const l of lines) {
    const k = duplicateKeyOf(l)
    if (k === undefined) continue
    const g = groups.get(k)
    if (g === undefined) groups.set(k, [l])
    else g.push(l)
  }
  return groups
}

const possibleDuplicateLine: Detector = ({ state }) => {
  const out: RawConflict[] = []
  for (const ls of duplicateGroups(state.lines).values()) if (ls.length > 1) out.push(...duplicatePairs(ls))
  return out
}

/**
 * Resolutions of one conflict that no other resolution of it had seen. Another
 * resolution saw `r` when its clock counts r's replica up to r's sequence, so
 * the two highest counts per replica decide it: linear in the clocks, where
 * comparing every pair would take minutes on thousands of deferrals.
 */
export function maximalResolutions(resolutions: readonly ResolutionRecord[]): ResolutionRecord[] {
  if (resolutions.length < 2) return [...resolutions]
  const parts = resolutions.map((r) => splitEventId(r.ev))
  const authors = new Set(parts.map((p) => p.replica as string))
  const top = new Map<string, { first: number; by: ResolutionRecord; second: number }>()
  for (const o of resolutions) {
    for (const [replica, n] of Object.entries(o.vv)) {
      if (!authors.has(replica) || typeof n !== 'number') continue
      const t = top.get(replica)
      if (t === undefined) top.set(replica, { first: n, by: o, second: -1 })
      else if (t.by === o) continue
      else if (n > t.first) {
        t.second = t.first
        t.first = n
        t.by = o
      } else if (n > t.second) t.second = n
    }
  }
  return resolutions.filter((r, i) => {
    const { replica, seq } = parts[i]!
    const t = top.get(replica)
    const seen = t === undefined ? -1 : t.by === r ? t.second : t.first
    return seen < seq
  })
}

function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k)
  if (list === undefined) m.set(k, [v])
  else list.push(v)
}

export function decisionOf(r: ResolutionRecord): string {
  return canonicalJson({ option: r.option, params: r.params })
}

const concurrentResolutions: Detector = ({ state }) => {
  const byConflict = new Map<string, ResolutionRecord[]>()
  for (const r of state.resolutions) pushTo(byConflict, r.conflict, r)
  const out: RawConflict[] = []
  for (const [conflict, rs] of byConflict) {
    const max = maximalResolutions(rs)
    const decisions = new Set(max.map(decisionOf))
    if (decisions.size < 2) continue // identical concurrent resolutions collapse
    out.push({
      kind: 'CONCURRENT_RESOLUTIONS',
      subject: `conflict:${conflict}`,
      causes: uniqSorted(max.map((r) => r.ev)),
      branches: max.map((r) => recordBranch(r, `resolved ${r.kind} with ${r.option}${Object.keys(r.params).length ? ` ${canonicalJson(r.params)}` : ''}`)),
      facts: { conflict, kind: max[0]!.kind },
      options: [opt('pick', 'Keep one resolution', [{ name: 'resolution', label: 'Resolution', choices: max.map((r) => r.id) }]), DEFER],
    })
  }
  return out
}

/** Detectors of one line's invariants, run per line: on every line from scratch, on changed lines only after a line edit. */
const LINE_DETECTORS: readonly LineDetector[] = [overReceipt, activityOnRemovedLine, productChangedAfterActivity, overBilled]

const perLine = (detect: LineDetector): Detector => (input) => {
  const out: RawConflict[] = []
  for (const line of input.state.lines) {
    const c = detect(input, line)
    if (c !== undefined) out.push(c)
  }
  return out
}

export const DETECTORS: Readonly<Record<ConflictKind, Detector>> = {
  TOTAL_MISMATCH: totalMismatch,
  OVER_RECEIPT: perLine(overReceipt),
  DUPLICATE_RECEIPT: duplicateReceipt,
  ACTIVITY_ON_REMOVED_LINE: perLine(activityOnRemovedLine),
  PRODUCT_CHANGED_AFTER_ACTIVITY: perLine(productChangedAfterActivity),
  OVER_BILLED: perLine(overBilled),
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
}

/** Kinds whose detectors look at the whole order (records, header, aggregates): run on every detection. */
const ORDER_KINDS = (Object.keys(DETECTORS) as ConflictKind[]).filter((k) =>
  !['OVER_RECEIPT', 'ACTIVITY_ON_REMOVED_LINE', 'PRODUCT_CHANGED_AFTER_ACTIVITY', 'OVER_BILLED', 'POSSIBLE_DUPLICATE_LINE'].includes(k))

function toConflict(docId: string, raw: RawConflict): Conflict {
  return {
    id: conflictIdOf(raw.kind, docId, raw.subject, raw.causes, raw.idFacts),
    kind: raw.kind,
    severity: SEVERITY[raw.kind],
    subject: raw.subject,
    causes: raw.causes,
    branches: raw.branches,
    facts: raw.facts,
    options: raw.options,
    deferred: false,
  }
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
  for (const kind of ORDER_KINDS) for (const raw of DETECTORS[kind](input)) all.push(toConflict(docId, raw))
  const lineConflicts = (line: PurchaseLine): Conflict[] => {
    const out: Conflict[] = []
    for (const detect of LINE_DETECTORS) {
      const raw = detect(input, line)
      if (raw !== undefined) out.push(toConflict(docId, raw))
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
      const oldKey = old === undefined ? undefined : duplicateKeyOf(old)
      if (oldKey !== undefined) {
        const rest = group(oldKey).filter((l) => l.id !== id)
        regroup.set(oldKey, rest.length > 0 ? rest : undefined)
        touched.add(oldKey)
      }
      const newKey = line === undefined ? undefined : duplicateKeyOf(line)
      if (newKey !== undefined) {
        regroup.set(newKey, [...group(newKey).filter((l) => l.id !== id), line!])
        touched.add(newKey)
      }
    }
    groups = PatchedMap.of(prev.v.groups, regroup)
    for (const k of touched) {
      const ls = groups.get(k) ?? []
      const found = ls.length > 1 ? duplicatePairs(ls).map((raw) => toConflict(docId, raw)) : []
      if (found.length > 0) duplicates.set(k, found)
      else duplicates.delete(k)
    }
  } else {
    byLine = new Map()
    for (const line of state.lines) {
      const found = lineConflicts(line)
      if (found.length > 0) byLine.set(line.id, found)
    }
    groups = duplicateGroups(state.lines)
    duplicates = new Map()
    for (const [k, ls] of groups) {
      if (ls.length < 2) continue
      const found = duplicatePairs(ls).map((raw) => toConflict(docId, raw))
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
  const byConflict = new Map<string, ResolutionRecord[]>()
  for (const r of input.state.resolutions) pushTo(byConflict, r.conflict, r)
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
