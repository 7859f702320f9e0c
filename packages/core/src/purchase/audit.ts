/**
 * The audit trail: who changed which field, when, from which device. Computed
 * by replaying the log one event at a time and comparing the purchase before
 * and after each, so it is exact for every event, whichever client made it
 * (a raw Yjs update through the y-websocket endpoint included) and cannot
 * disagree with the state.
 */
import type { CrdtBackend, CrdtDoc } from '../backends/backend.js'
import type { EventId, ReplicaId } from '../ids.js'
import { canonicalJson } from '../json.js'
import type { EventEnvelope } from '../log/envelope.js'
import { foldLifecycle } from './lifecycle.js'
import { hasPurchase, readPurchase } from './read.js'
import type { PurchaseState } from './model.js'

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

/** The purchase as a flat map of field -> display value: the unit the audit trail compares. */
export function flattenPurchase(s: PurchaseState): Map<string, string> {
  const m = new Map<string, string>()
  const put = (k: string, v: unknown) => m.set(k, typeof v === 'string' ? v : canonicalJson(v))
  put('number', s.number ?? '')
  put('supplier', s.supplier.values.join(' | '))
  put('currency', s.currency.values.join(' | '))
  put('fxRate', s.fxRate.values.join(' | '))
  put('statedTotal', s.statedTotal.values.join(' | '))
  for (const [k, v] of Object.entries(s.header)) put(`header.${k}`, v ?? '')
  put('hold', s.hold.on ? `on: ${s.hold.reason}` : 'off')
  put('notes', s.notes)
  put('lifecycle', foldLifecycle(s.transitions).state)
  for (const l of s.lines) {
    const p = `lines.${l.id}`
    put(`${p}.product`, l.product)
    put(`${p}.description`, l.description)
    put(`${p}.qty`, l.qty)
    put(`${p}.price`, `${l.price.amount} ${l.price.currency}`)
    put(`${p}.discount`, l.discount)
    put(`${p}.uom`, l.uom)
    put(`${p}.position`, l.sortKey)
    put(`${p}.removed`, String(l.removed))
    put(`${p}.taxes`, l.taxes.map((t) => `${t.code} ${t.rate}%`).join(', '))
  }
  for (const r of s.receipts) put(`receipts.${r.id}`, `${r.qty} of line ${r.line}, note ${r.deliveryNote}, ${r.date}`)
  for (const r of s.returns) put(`returns.${r.id}`, `${r.qty} of line ${r.line}: ${r.reason}`)
  for (const b of s.bills) put(`bills.${b.id}`, `${b.qty} of line ${b.line}, ref ${b.ref}`)
  for (const p of s.payments) put(`payments.${p.id}`, `${p.amount} (minor units), ref ${p.ref}`)
  for (const p of s.refunds) put(`refunds.${p.id}`, `${p.amount} (minor units), ref ${p.ref}`)
  for (const v of s.voids) put(`voids.${v.id}`, `voided ${v.set} ${v.target}: ${v.reason}`)
  for (const r of s.resolutions) put(`resolutions.${r.id}`, `${r.kind} ${r.conflict}: ${r.option}`)
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

/**
 * The audit trail of `events` applied to `doc`, which holds the log up to
 * just before them (a snapshot, or an earlier page of the trail): so a page
 * of a long log costs the page, not the log. `doc` is left holding the state
 * after the last event; the caller owns it.
 */
export function auditTrailFrom(doc: CrdtDoc, events: readonly EventEnvelope[]): AuditEntry[] {
  const out: AuditEntry[] = []
  let before = flattenDoc(doc)
  for (const e of events) {
    doc.applyBatch([e.payload])
    const after = flattenDoc(doc)
    const changes: FieldChange[] = []
    for (const [k, v] of after) if (before.get(k) !== v) changes.push({ field: k, from: before.get(k) ?? null, to: v })
    for (const [k, v] of before) if (!after.has(k)) changes.push({ field: k, from: v, to: null })
    out.push({
      event: e.id, kind: e.kind, actor: e.actor, user: e.meta.user ?? '', device: e.meta.device ?? '',
      at: e.meta.at, hlc: e.hlc, changes,
    })
    before = after
  }
  return out
}

function flattenDoc(doc: CrdtDoc): Map<string, string> {
  const snap = doc.read()
  return hasPurchase(snap) ? flattenPurchase(readPurchase(snap)) : new Map<string, string>()
}
