/**
 * The audit trail: who changed which field, when, from which device. Computed
 * by replaying the log one event at a time and comparing the purchase before
 * and after each, so it is exact for every event, whichever client made it
 * (a raw Yjs update through the y-websocket endpoint included) and cannot
 * disagree with the state.
 */
import type { CrdtBackend, CrdtDoc, DocSnapshot } from '../backends/backend.js'
import type { EventId, ReplicaId } from '../ids.js'
import { type Json, canonicalJson } from '../json.js'
import type { EventEnvelope } from '../log/envelope.js'
import { compareHlc } from '../time/hlc.js'
import { recordProblem } from './invalid.js'
import { foldLifecycle } from './lifecycle.js'
import type {
  BillRecord, PaymentRecord, PurchaseLine, PurchaseState, ReceiptRecord, RefundRecord, ResolutionRecord, ReturnRecord, Stamp, TransitionRecord, VoidRecord,
} from './model.js'
import { type LinesDelta, hasPurchase, linePositions, readPurchaseFrom } from './read.js'

export interface FieldChange {
  /** `supplier`, `lines.<id>.qty`, `receipts.<id>`, `lifecycle`... */
  readonly field: string
  readonly from: string | null
  readonly to: string | null
}

export interface AuditEntry {
  readonly event: EventId
  readonly kind: string
  readonly actor: ReplicaId
  readonly user: string
  readonly device: string
  readonly at: string
  readonly hlc: string
  readonly changes: readonly FieldChange[]
}

type Entry = readonly [field: string, value: string]

const display = (v: unknown) => (typeof v === 'string' ? v : canonicalJson(v))

/** Lifecycle folds cost O(transitions): kept per transitions array, which reads keep while no transition arrives. */
const LIFECYCLE_STATE = new WeakMap<readonly TransitionRecord[], string>()

function lifecycleState(transitions: readonly TransitionRecord[]): string {
  let st = LIFECYCLE_STATE.get(transitions)
  if (st === undefined) LIFECYCLE_STATE.set(transitions, (st = foldLifecycle(transitions).state))
  return st
}

/** The order-level fields: always the same keys, in the same order. */
function headEntries(s: PurchaseState): Entry[] {
  const out: Entry[] = [
    ['number', s.number ?? ''],
    ['supplier', s.supplier.values.join(' | ')],
    ['currency', s.currency.values.join(' | ')],
    ['fxRate', s.fxRate.values.join(' | ')],
    ['statedTotal', s.statedTotal.values.join(' | ')],
  ]
  for (const [k, v] of Object.entries(s.header)) out.push([`header.${k}`, display(v ?? '')])
  out.push(['hold', s.hold.on ? `on: ${s.hold.reason}` : 'off'], ['notes', s.notes], ['lifecycle', lifecycleState(s.transitions)])
  return out
}

/** A line's fields, kept per line object (reads keep an unchanged line's identity). */
const LINE_ENTRIES = new WeakMap<PurchaseLine, readonly Entry[]>()

function lineEntries(l: PurchaseLine): readonly Entry[] {
  let out = LINE_ENTRIES.get(l)
  if (out === undefined) {
    const p = `lines.${l.id}`
    out = [
      [`${p}.product`, l.product],
      [`${p}.description`, l.description],
      [`${p}.qty`, l.qty],
      [`${p}.price`, `${l.price.amount} ${l.price.currency}`],
      [`${p}.discount`, l.discount],
      [`${p}.uom`, l.uom],
      [`${p}.position`, l.sortKey],
      [`${p}.removed`, String(l.removed)],
      [`${p}.taxes`, l.taxes.map((t) => `${t.code} ${t.rate}%`).join(', ')],
    ]
    LINE_ENTRIES.set(l, out)
  }
  return out
}

/** The record sets the trail shows, in its order (transitions show as the lifecycle). */
const RECORD_SETS = ['receipts', 'returns', 'bills', 'payments', 'refunds', 'voids', 'resolutions'] as const
type ShownSet = (typeof RECORD_SETS)[number]
type ShownRecord = Stamp & { readonly id: string }

function recordValue(set: ShownSet, r: ShownRecord): string {
  switch (set) {
    case 'receipts': { const x = r as unknown as ReceiptRecord; return `${x.qty} of line ${x.line}, note ${x.deliveryNote}, ${x.date}` }
    case 'returns': { const x = r as unknown as ReturnRecord; return `${x.qty} of line ${x.line}: ${x.reason}` }
    case 'bills': { const x = r as unknown as BillRecord; return `${x.qty} of line ${x.line}, ref ${x.ref}` }
    case 'payments': { const x = r as unknown as PaymentRecord; return `${x.amount} (minor units), ref ${x.ref}` }
    case 'refunds': { const x = r as unknown as RefundRecord; return `${x.amount} (minor units), ref ${x.ref}${x.status === 'requested' ? ', requested' : ''}` }
    case 'voids': { const x = r as unknown as VoidRecord; return `voided ${x.set} ${x.target}: ${x.reason}` }
    case 'resolutions': { const x = r as unknown as ResolutionRecord; return `${x.kind} ${x.conflict}: ${x.option}` }
  }
}

/** The purchase as a flat map of field -> display value: the unit the audit trail compares. */
export function flattenPurchase(s: PurchaseState): Map<string, string> {
  const m = new Map<string, string>(headEntries(s))
  for (const l of s.lines) for (const [k, v] of lineEntries(l)) m.set(k, v)
  for (const set of RECORD_SETS) {
    for (const r of s[set] as readonly ShownRecord[]) m.set(`${set}.${r.id}`, recordValue(set, r))
  }
  return m
}

/** Replays `events` (in a causal order, as a log holds them) and lists what each changed. */
export function auditTrail(backend: CrdtBackend, events: readonly EventEnvelope[]): AuditEntry[] {
  const doc = backend.create('audit' as ReplicaId)
  try {
    return auditTrailFrom(doc, events)
  } finally {
    doc.destroy()
  }
}

/** One read of the document as the trail walks it. */
interface Step {
  readonly snap: DocSnapshot
  readonly state: PurchaseState | undefined
  /** Which lines changed since the previous step, when the read was incremental. */
  readonly lines?: LinesDelta
}

function readStep(doc: CrdtDoc, prev: Step | undefined): Step {
  const snap = doc.read()
  if (!hasPurchase(snap)) return { snap, state: undefined }
  const from = prev?.state === undefined ? undefined : { doc: prev.snap, state: prev.state }
  const { state, lines } = readPurchaseFrom(from, snap)
  return lines === undefined ? { snap, state } : { snap, state, lines }
}

/**
 * The audit trail of `events` applied to `doc`, which holds the log up to
 * just before them (a snapshot, or an earlier page of the trail): so a page
 * of a long log costs the page, not the log. `doc` is left holding the state
 * after the last event; the caller owns it. Each event costs what it
 * changed: only the lines and records its snapshot delta names are compared.
 */
export function auditTrailFrom(doc: CrdtDoc, events: readonly EventEnvelope[]): AuditEntry[] {
  const out: AuditEntry[] = []
  let before = readStep(doc, undefined)
  for (const e of events) {
    doc.applyBatch([e.payload])
    const after = before.snap === doc.read() ? before : readStep(doc, before)
    out.push({
      event: e.id, kind: e.kind, actor: e.actor, user: e.meta.user ?? '', device: e.meta.device ?? '',
      at: e.meta.at, hlc: e.hlc, changes: after === before ? [] : changesBetween(before, after),
    })
    before = after
  }
  return out
}

/** What changed from one step to the next: changed and new fields in the order of the later state, then removed ones in the order of the earlier. */
function changesBetween(before: Step, after: Step): FieldChange[] {
  const delta = after.snap.delta
  if (before.state === undefined || after.state === undefined || after.lines === undefined || delta === undefined || delta.from.deref() !== before.snap) {
    return fullDiff(before.state === undefined ? new Map() : flattenPurchase(before.state), after.state === undefined ? new Map() : flattenPurchase(after.state))
  }
  const b = before.state
  const a = after.state
  const changes: FieldChange[] = []
  const removed: FieldChange[] = []
  const hb = headEntries(b)
  headEntries(a).forEach(([k, v], i) => {
    const was = hb[i]![1]
    if (was !== v) changes.push({ field: k, from: was, to: v })
  })
  if (a.lines !== b.lines && after.lines.lines.size > 0) {
    const posA = linePositions(a.lines)
    const posB = linePositions(b.lines)
    const now: number[] = []
    const gone: number[] = []
    for (const id of after.lines.lines) {
      const i = posA.get(id)
      if (i !== undefined) now.push(i)
      else {
        const j = posB.get(id)
        if (j !== undefined) gone.push(j)
      }
    }
    for (const i of now.sort((x, y) => x - y)) {
      const line = a.lines[i]!
      const j = posB.get(line.id)
      const was = j === undefined ? undefined : lineEntries(b.lines[j]!)
      lineEntries(line).forEach(([k, v], f) => {
        const from = was?.[f]![1]
        if (from !== v) changes.push({ field: k, from: from ?? null, to: v })
      })
    }
    for (const j of gone.sort((x, y) => x - y)) for (const [k, v] of lineEntries(b.lines[j]!)) removed.push({ field: k, from: v, to: null })
  }
  for (const set of RECORD_SETS) {
    if (a[set] === b[set]) continue
    // Records are keyed by id: the delta names every id that may differ.
    const ids = delta.sets.get(set)
    if (ids === undefined) return fullDiff(flattenPurchase(b), flattenPurchase(a))
    const added: ShownRecord[] = []
    const dropped: ShownRecord[] = []
    const recA = new Map<string, string>()
    const recB = new Map<string, string>()
    for (const id of ids) {
      const ra = validRecord(set, id, after.snap.sets[set].get(id))
      const rb = validRecord(set, id, before.snap.sets[set].get(id))
      const va = ra === undefined ? undefined : recordValue(set, ra)
      const vb = rb === undefined ? undefined : recordValue(set, rb)
      if (va === vb) continue
      if (va !== undefined) {
        added.push(ra!)
        recA.set(id, va)
        if (vb !== undefined) recB.set(id, vb)
      } else {
        dropped.push(rb!)
        recB.set(id, vb!)
      }
    }
    // In the order the state lists records: by (hlc, event id).
    for (const r of added.sort(byStamp)) {
      const id = r.id
      changes.push({ field: `${set}.${id}`, from: recB.get(id) ?? null, to: recA.get(id)! })
    }
    for (const r of dropped.sort(byStamp)) removed.push({ field: `${set}.${r.id}`, from: recB.get(r.id)!, to: null })
  }
  return removed.length === 0 ? changes : [...changes, ...removed]
}

const byStamp = (x: Stamp, y: Stamp) => compareHlc(x.hlc, y.hlc) || (x.ev < y.ev ? -1 : x.ev > y.ev ? 1 : 0)

function validRecord(set: ShownSet, id: string, r: Json | undefined): ShownRecord | undefined {
  return r !== undefined && recordProblem(set, id, r) === undefined ? (r as unknown as ShownRecord) : undefined
}

function fullDiff(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): FieldChange[] {
  const changes: FieldChange[] = []
  for (const [k, v] of after) if (before.get(k) !== v) changes.push({ field: k, from: before.get(k) ?? null, to: v })
  for (const [k, v] of before) if (!after.has(k)) changes.push({ field: k, from: v, to: null })
  return changes
}
