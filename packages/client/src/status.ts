/**
 * Status, derived on demand and never counted: from the outbox (what is saved
 * and not acknowledged), each document's cursors and refusals, the current
 * session's subscriptions and the connection. Also the plain-language
 * explanation of a document's state, the dead-letter list and the
 * acknowledgement ladder of one event (saved, stored, validated, rejected).
 */
import { type EventId, type PurchaseId, ConcordError, parsePurchaseId } from '@concord/core'
import type { Connector } from './connector.js'
import type { ClientContext } from './context.js'
import type { Documents } from './documents.js'
import type { ClientStatus, DeadLetter, DocStatus, EventAckStatus, SyncState } from './types.js'

export class StatusView {
  constructor(
    private readonly ctx: ClientContext,
    private readonly connector: Connector,
    private readonly documents: Documents,
  ) {}

  client(): ClientStatus {
    const { ctx, connector } = this
    const docs = new Map<PurchaseId, DocStatus>()
    const pending = { high: 0, normal: 0, low: 0 }
    let lastSyncedAt: string | null = null
    let anySyncing = false
    let anyError = false
    for (const id of ctx.docs.keys()) {
      const s = this.doc(id)
      docs.set(id, s)
      pending.high += s.pendingByPriority.high
      pending.normal += s.pendingByPriority.normal
      pending.low += s.pendingByPriority.low
      if (s.lastSyncedAt !== null && (lastSyncedAt === null || s.lastSyncedAt > lastSyncedAt)) lastSyncedAt = s.lastSyncedAt
      if (s.state === 'syncing') anySyncing = true
      if (s.state === 'error') anyError = true
    }
    let overall: SyncState
    if (connector.fatal !== null || anyError) overall = 'error'
    else if (!connector.connected) overall = connector.state === 'connecting' ? 'connecting' : 'offline'
    else overall = anySyncing ? 'syncing' : 'synced'
    const firstDocError = [...ctx.docs.keys()].map((id) => docs.get(id)!).find((s) => s.state === 'error')
    const error = connector.fatal ?? (firstDocError !== undefined ? { code: 'DOCUMENT_ERROR', message: firstDocError.reason ?? 'a document failed', fatal: false } : undefined)
    return {
      overall, docs, pending, lastSyncedAt,
      connection: connector.status(),
      network: connector.network.info(),
      ...(error !== undefined ? { error } : {}),
    }
  }

  doc(id: PurchaseId): DocStatus {
    const { ctx, connector } = this
    const d = ctx.docs.get(id)
    if (d === undefined) throw new ConcordError('NOT_FOUND', `purchase ${id} is not on this device`)
    const entries = ctx.outbox.of(id)
    const byP = { high: 0, normal: 0, low: 0 }
    for (const e of entries) byP[e.priority] += 1
    const pending = entries.length
    const caughtUp = ctx.subs.get(id) === true
    const validated = d.unvalidated.length === 0
    let state: SyncState
    let reason: string | null = null
    const docError = ctx.docErrors.get(id)
    const waitWord = pending === 0 ? 'nothing is waiting to be sent' : `${pending} saved change${pending === 1 ? '' : 's'} (${byP.high} high, ${byP.normal} normal, ${byP.low} low priority) wait${pending === 1 ? 's' : ''} to be sent`
    if (d.dead !== null) {
      state = 'error'
      reason = `the relay keeps refusing this purchase's changes, so it was set aside (dead letter) and does not hold up the others: ${d.dead.reason}; ${waitWord}`
    } else if (docError !== undefined) {
      state = 'error'
      reason = `the relay refused this purchase: ${docError.code}: ${docError.message}`
    } else if (connector.fatal !== null) {
      state = 'error'
      reason = `syncing stopped: ${connector.fatal.code}: ${connector.fatal.message}; ${waitWord}`
    } else if (!connector.connected) {
      state = connector.state === 'connecting' ? 'connecting' : 'offline'
      reason = `${this.offlineReason()}; ${waitWord}`
    } else if (pending > 0) {
      state = 'syncing'
      const flying = entries.filter((e) => ctx.outbox.isInFlight(id, e.id)).length
      reason = `${waitWord}: ${flying} sent and awaiting the relay's acknowledgement`
    } else if (!caughtUp) {
      state = 'syncing'
      reason = 'receiving the changes made elsewhere since the last sync'
    } else {
      state = 'synced'
    }
    return {
      state, pending, pendingByPriority: byP, localHead: d.localSeq, acked: d.ackedSeq, validatedCursor: d.validatedCursor, validated,
      rejected: d.rejected.length, caughtUp, cursor: d.cursor, deadLetter: d.dead !== null, lastSyncedAt: d.lastSyncedAt, reason,
    }
  }

  private offlineReason(): string {
    const { ctx, connector } = this
    const net = connector.network.info()
    switch (connector.state) {
      case 'offline':
        return connector.network.isManualOffline ? 'the device was switched offline (goOffline)' : 'the device is offline (no network)'
      case 'policy':
        return `the sync policy holds syncing on this network (quality ${net.quality}${net.type !== null ? `, ${net.type}` : ''})`
      case 'connecting':
        return `connecting to the relay (attempt ${connector.attempt + 1})`
      case 'waiting': {
        const last = connector.lastError
        const err = last !== null ? `${last.code}: ${last.message}` : 'unknown error'
        const breaker = connector.retry.breakerState === 'open' ? '; the circuit breaker is open after repeated failures' : ''
        const next = connector.nextRetry
        return `the relay cannot be reached (${err}); attempt ${connector.attempt} failed, next one at ${next !== null ? ctx.iso(next) : 'soon'}${breaker}`
      }
      case 'idle':
        return 'not connected (autoConnect is off: call goOnline or forceSync)'
      case 'stopped':
        return 'the client is closed'
      default:
        return 'not connected'
    }
  }

  explain(docId: PurchaseId | string): string {
    const id = parsePurchaseId(docId)
    const s = this.doc(id)
    const d = this.ctx.docs.get(id)!
    const name = d.summary.number ?? id
    const v = s.validated ? 'and the relay validated every acknowledged change' : 'the relay has not yet validated the latest acknowledged changes'
    const synced = `${name} is synced: every change saved here (up to own event ${s.localHead}) is stored by the relay, ${v}; last synced ${s.lastSyncedAt ?? 'now'}.`
    const moved = d.reissued === undefined || d.reissued.dropped.length === 0 ? ''
      : ` On ${d.reissued.at} ${d.reissued.dropped.length} change${d.reissued.dropped.length === 1 ? '' : 's'} made here moved to a new actor (${d.reissued.actor}) and ${d.reissued.as === null ? 'left nothing to send' : `were sent again as ${d.reissued.as}`}, because ${d.reissued.reason}.`
    if (s.state === 'synced') return synced + moved
    const rejected = s.rejected > 0 ? ` The relay refused ${s.rejected} change${s.rejected === 1 ? '' : 's'} (latest: ${d.rejected[d.rejected.length - 1]?.code}: ${d.rejected[d.rejected.length - 1]?.reason}).` : ''
    return `${name} is ${s.state}: ${s.reason}.${rejected}${moved}`
  }

  deadLetters(): DeadLetter[] {
    const { ctx } = this
    return [...ctx.docs.values()].filter((d) => d.dead !== null).map((d) => ({
      docId: d.id, reason: d.dead!.reason, at: d.dead!.at,
      events: ctx.outbox.of(d.id).map((e) => ({ id: e.id, kind: e.kind, priority: e.priority })),
      rejected: d.rejected.map((r) => ({ id: r.id, code: r.code, reason: r.reason, ...(r.kind !== undefined ? { kind: r.kind } : {}) })),
    }))
  }

  /** The acknowledgement ladder of one event. */
  event(id: PurchaseId, eventId: EventId): EventAckStatus {
    const { ctx } = this
    const d = ctx.docs.get(id)
    if (d === undefined) throw new ConcordError('NOT_FOUND', `purchase ${id} is not on this device`)
    if (ctx.outbox.has(id, eventId) || this.documents.isUnsaved(id, eventId)) return 'saved'
    if (d.rejected.some((r) => r.id === eventId)) return 'rejected'
    const dot = eventId.lastIndexOf('.')
    const actor = eventId.slice(0, dot)
    const seq = Number(eventId.slice(dot + 1))
    if (actor === (d.actor ?? ctx.replicaId)) {
      if (seq > d.localSeq) throw new ConcordError('UNKNOWN_EVENT', `no own event ${eventId} in ${id}`)
      return d.unvalidated.some((u) => u.seq >= seq) ? 'stored' : 'validated'
    }
    const r = this.documents.loaded(id)
    if (r !== undefined && !r.log.has(eventId)) throw new ConcordError('UNKNOWN_EVENT', `no event ${eventId} in ${id}`)
    // Events from elsewhere reached this device through the relay: stored, and validated once the relay validated up to its cursor.
    return d.validatedCursor >= d.cursor ? 'validated' : 'stored'
  }
}
