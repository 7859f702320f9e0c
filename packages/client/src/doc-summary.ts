/**
 * What the client keeps about a purchase besides its events: the backend it
 * uses, a fresh document record, and the summary (number, supplier, total,
 * open conflicts...) that lists and search show without loading the replica.
 */
import * as core from '@concord/core'
import type { BackendName, Priority, PurchaseId, PurchaseReplica } from '@concord/core'
import type { DocRecord, DocSummary } from './storage/store.js'

export function emptySummary(): DocSummary {
  return { exists: false, number: null, supplier: '', lifecycle: 'draft', total: '0' as DocSummary['total'], currency: '', exponent: 2, conflictIds: [], lines: '', notes: '' }
}

export function summarize(r: PurchaseReplica): DocSummary {
  if (!r.exists) return emptySummary()
  const s = r.state()
  const d = r.derived()
  const live = s.lines.filter((l) => !l.removed)
  return {
    exists: true,
    number: s.number,
    supplier: s.supplier.values.join(' / '),
    lifecycle: d.lifecycle.state,
    total: core.minorToString(d.totals.total),
    currency: s.currency.values.join('/'),
    exponent: s.settings.currencyExponent,
    conflictIds: r.conflicts().map((c) => c.id),
    lines: live.map((l) => `${l.product} ${l.description}`.trim()).join('\n'),
    notes: s.notes,
  }
}

/** The record of a purchase new to this device: nothing saved, sent or received yet. */
export function newDocRecord(id: PurchaseId, backend: BackendName, priority: Priority | null): DocRecord {
  return {
    id, backend, cursor: 0, eventCount: 0, priority, localSeq: 0, ackedSeq: 0, lastAckCursor: 0, validatedCursor: 0,
    unvalidated: [], relayConflicts: [], rejected: [], rejectStreak: 0, dead: null, lastSyncedAt: null, summary: emptySummary(),
  }
}
