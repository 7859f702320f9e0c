/**
 * Display formatting: money through core's formatMinor (the order's exponent,
 * never floats), digit grouping on top, and the words a buyer reads for
 * states, actions and audit fields (conflict kinds' labels come with
 * their specs in core: KIND_LABEL).
 */
import { type CurrencyExponent, type LifecycleState, type PurchaseState, type TransitionAction, formatMinor } from '@concord/core'

/** 123456n at exponent 2 -> "1,234.56". */
export function money(amount: bigint, exponent: CurrencyExponent): string {
  return groupDigits(formatMinor(amount, exponent))
}

export function groupDigits(plain: string): string {
  const m = /^(-?)(\d+)(\.\d+)?$/.exec(plain)
  if (m === null) return plain
  return `${m[1]}${m[2]!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${m[3] ?? ''}`
}

/** The order's currency code as it stands (several when a conflict left them). */
export function currencyOf(state: PurchaseState): string {
  return state.currency.values.join(' / ') || '—'
}

export function supplierOf(state: PurchaseState): string {
  return state.supplier.values.join(' / ') || 'No supplier yet'
}

export const STATE_LABEL: Readonly<Record<LifecycleState, string>> = {
  draft: 'Draft',
  sent: 'Sent',
  toApprove: 'To approve',
  confirmed: 'Confirmed',
  locked: 'Locked',
  closed: 'Closed',
  cancelled: 'Cancelled',
}

export const ACTION_LABEL: Readonly<Record<Exclude<TransitionAction, 'force'>, string>> = {
  send: 'Send to supplier',
  submit: 'Submit for approval',
  approve: 'Approve',
  reject: 'Reject',
  confirm: 'Confirm',
  lock: 'Lock',
  unlock: 'Unlock',
  close: 'Close',
  reopen: 'Reopen',
  cancel: 'Cancel order',
  reset: 'Back to draft',
}

/** Actions that undo or end something: shown as secondary buttons. */
export const RISKY_ACTIONS: ReadonlySet<string> = new Set(['cancel', 'reject', 'close'])

/** "2026-03-04T10:11:12.123Z" -> a short local date and time. */
export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return 'never'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

/** A relative "5 s ago" for the sync indicator; the full time goes in a title. */
export function ago(iso: string | null, now: number): string {
  if (iso === null) return 'never'
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000))
  if (s < 5) return 'just now'
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return when(iso)
}

/** A field of the audit trail in words: `lines.<id>.qty` -> "Widget: quantity". */
export function fieldLabel(field: string, state: PurchaseState): string {
  const words: Record<string, string> = {
    qty: 'quantity', price: 'unit price', discount: 'discount', product: 'product', description: 'description',
    uom: 'unit', position: 'position', removed: 'removed', taxes: 'taxes',
  }
  const line = /^lines\.([^.]+)\.(.+)$/.exec(field)
  if (line !== null) {
    const l = state.lines.find((x) => x.id === line[1])
    return `${l?.product ?? 'line'}: ${words[line[2]!] ?? line[2]}`
  }
  const rec = /^(receipts|returns|bills|payments|refunds|voids|resolutions)\./.exec(field)
  if (rec !== null) return rec[1]!.replace(/s$/, '')
  return FIELD_WORDS[field.replace(/^header\./, '')] ?? field
}

const FIELD_WORDS: Readonly<Record<string, string>> = {
  orderDate: 'order date', requiredBy: 'required by', paymentTerm: 'payment term', incoterm: 'incoterm', buyer: 'buyer',
  supplierRef: 'supplier reference', statedTotal: 'stated total', fxRate: 'exchange rate', supplier: 'supplier',
  currency: 'currency', notes: 'notes', lifecycle: 'status', hold: 'hold', number: 'order number',
}

/** An event kind (`line.update`) in words. */
export function eventLabel(kind: string): string {
  const known: Record<string, string> = {
    'purchase.create': 'Created the order', 'purchase.number': 'Numbered the order',
    'line.add': 'Added a line', 'line.update': 'Edited a line', 'line.remove': 'Removed a line', 'line.restore': 'Restored a line',
    'line.move': 'Moved a line', 'line.tax': 'Changed line taxes', 'notes.edit': 'Edited the notes',
    'receipt.record': 'Recorded a receipt', 'return.record': 'Recorded a return', 'bill.record': 'Recorded a bill',
    'payment.record': 'Recorded a payment', 'refund.record': 'Recorded a refund', 'conflict.resolve': 'Resolved a conflict',
    'lifecycle.hold': 'Changed the hold', 'yjs.update': 'Edited (Yjs client)',
  }
  if (known[kind] !== undefined) return known[kind]
  const lc = /^lifecycle\.(.+)$/.exec(kind)
  if (lc !== null) return ACTION_LABEL[lc[1] as keyof typeof ACTION_LABEL] ?? `Lifecycle: ${lc[1]}`
  const header = /^header\.(.+)$/.exec(kind)
  if (header !== null) return `Changed the ${FIELD_WORDS[header[1]!] ?? header[1]}`
  const v = /^(\w+)\.void$/.exec(kind)
  if (v !== null) return `Voided a ${v[1]}`
  return kind
}

/** Message of anything thrown by a command, for an inline alert. */
export function errorText(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'message' in e && typeof (e as { message: unknown }).message === 'string') {
    return (e as { message: string }).message
  }
  return String(e)
}
