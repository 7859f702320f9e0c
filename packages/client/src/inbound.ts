/**
 * What the relay says, applied to the store and the in-memory state, each
 * message in the client's serial queue: events from elsewhere (and own events
 * echoed back, as good as an acknowledgement), acknowledgements, refusals (a
 * document whose changes keep being refused is set aside as a dead letter),
 * validation cursors, caught-up marks, and errors.
 */
import { type EventId, type PurchaseId, splitEventId } from '@concord/core'
import type { AckMessage, CaughtUpMessage, EventsMessage, ServerMessage, ValidatedMessage } from '@concord/core/protocol'
import type { Connector } from './connector.js'
import type { ClientContext } from './context.js'
import { summarize } from './doc-summary.js'
import { type Documents, noticeConflicts } from './documents.js'
import { type ClientStore, type DocRecord, type OutboxEntry, eventKey } from './storage/store.js'
import { undoRefused } from './undo.js'

export class Inbound {
  constructor(
    private readonly ctx: ClientContext,
    private readonly documents: Documents,
    private readonly connector: Connector,
  ) {}

  /** A message of the current session (`gen`: its generation). */
  handle(m: ServerMessage, gen: number): void {
    const { ctx } = this
    const failed = (e: unknown) => this.connector.storeFailed(e)
    switch (m.t) {
      case 'events':
        void ctx.serial(() => this.onEvents(m)).catch(failed)
        break
      case 'caughtUp':
        void ctx.serial(() => this.onCaughtUp(m, gen)).catch(failed)
        break
      case 'ack':
        void ctx.serial(() => this.onAck(m)).catch(failed)
        break
      case 'reject':
        void ctx.serial(() => this.rejectLocally(m.docId, m.id, m.code, m.reason)).catch(failed)
        break
      case 'validated':
        void ctx.serial(() => this.onValidated(m)).catch(failed)
        break
      case 'error':
        if (m.docId !== undefined && !m.fatal && m.code === 'STORE_UNAVAILABLE') {
          // The relay could not store a push: nothing was acknowledged, so send it again after a pause.
          this.connector.noteError({ code: m.code, message: m.message, fatal: false })
          ctx.outbox.release(m.docId)
          ctx.timers.setTimeout(() => ctx.kick(), Math.max(100, this.connector.retry.options.initialDelayMs))
        } else if (m.docId !== undefined) {
          ctx.docErrors.set(m.docId, { code: m.code, message: m.message, fatal: false })
          ctx.notifier.emit({ type: 'sync-failed', code: m.code, message: `${m.docId}: ${m.message}`, fatal: false })
        } else if (!m.fatal) {
          this.connector.noteError({ code: m.code, message: m.message, fatal: false })
        }
        ctx.emitStatus()
        break
      case 'authorized':
      case 'welcome':
      case 'pong':
        break
      default:
        m satisfies never
    }
  }

  private async onEvents(m: EventsMessage): Promise<void> {
    const { ctx } = this
    const d0 = ctx.docs.get(m.docId)
    if (d0 === undefined) return
    const r = await this.documents.replicaFor(m.docId)
    const before = d0.summary.conflictIds
    // Held to the purchase schema before anything applies: an older relay may have stored what this one refuses.
    const res = r.receiveChecked(m.events.map((x) => x.event))
    const skip = new Set<string>([...res.duplicates, ...res.rejected.map((x) => x.id)])
    const d = ctx.docs.get(m.docId)!
    const batch = ctx.store.batch()
    let n = d.eventCount
    for (const x of m.events) if (!skip.has(x.event.id)) batch.putEvent(eventKey(m.docId, n++), x.event)
    // Own events echoed back are stored by the relay: as good as an acknowledgement.
    // (Own: waiting in the outbox, whichever of the device's actors made them.)
    const own = m.events.filter((x) => ctx.outbox.has(m.docId, x.event.id))
    let next: DocRecord = { ...d, eventCount: n, cursor: Math.max(d.cursor, m.cursor), summary: summarize(r) }
    const ownIds = new Set<string>(own.map((x) => x.event.id))
    if (own.length > 0) next = this.applyAck(next, batch, ownIds, Math.max(...own.map((x) => x.seq)))
    next = this.maybeSynced(next, ownIds)
    batch.putDoc(next)
    await batch.commit()
    this.commitAck(m.docId, next, ownIds)
    if (next.summary.exists) ctx.search.put(m.docId, next.summary)
    for (const v of res.violations) ctx.notifier.emit({ type: 'invalid-received', docId: m.docId, eventId: v.id, reason: v.error.message })
    if (res.rejected.length > 0) {
      const first = res.rejected[0]!
      ctx.docErrors.set(m.docId, { code: first.error.code, message: `an event from the relay does not apply here: ${first.error.message}`, fatal: false })
    }
    if (res.applied.length > 0) {
      noticeConflicts(ctx, m.docId, before, 'remote', res.applied)
      this.documents.fire(m.docId, { origin: 'remote', events: res.applied })
    }
    ctx.kick()
    ctx.emitStatus()
  }

  /** Removes acknowledged entries from the outbox record set; memory is updated by commitAck after the write. */
  private applyAck(d: DocRecord, batch: ReturnType<ClientStore['batch']>, ids: ReadonlySet<string>, cursor: number): DocRecord {
    const entries = this.ctx.outbox.of(d.id)
    const acked = entries.filter((e) => ids.has(e.id))
    if (acked.length === 0) return d
    for (const e of acked) batch.deleteOutbox(e)
    // ackedSeq and unvalidated count the current actor's events; those of an earlier actor (before an undo) count as seq 0.
    const actor = d.actor ?? this.ctx.replicaId
    const mine = (e: OutboxEntry) => splitEventId(e.id).replica === actor
    const remaining = entries.filter((e) => !ids.has(e.id) && mine(e))
    const ackedSeq = remaining.length > 0 ? remaining[0]!.seq - 1 : d.localSeq
    const top = Math.max(0, ...acked.filter(mine).map((e) => e.seq))
    let unvalidated = cursor > d.validatedCursor ? [...d.unvalidated, { seq: top, cursor }] : d.unvalidated
    if (unvalidated.length > 1000) unvalidated = [{ seq: Math.max(...unvalidated.map((u) => u.seq)), cursor: Math.max(...unvalidated.map((u) => u.cursor)) }]
    return { ...d, ackedSeq: Math.max(d.ackedSeq, ackedSeq), lastAckCursor: Math.max(d.lastAckCursor, cursor), unvalidated, rejectStreak: 0 }
  }

  private commitAck(id: PurchaseId, next: DocRecord, ids: ReadonlySet<string>): void {
    this.ctx.docs.set(id, next)
    this.ctx.outbox.remove(id, ids)
  }

  /** Stamps lastSyncedAt when nothing is pending (besides `removing`, about to leave the outbox) and the document is caught up. */
  private maybeSynced(d: DocRecord, removing: ReadonlySet<string> = new Set()): DocRecord {
    const pending = this.ctx.outbox.of(d.id).filter((e) => !removing.has(e.id)).length
    if (pending === 0 && this.ctx.subs.get(d.id) === true && this.connector.connected) return { ...d, lastSyncedAt: this.ctx.iso() }
    return d
  }

  private async onAck(m: AckMessage): Promise<void> {
    const { ctx } = this
    const d = ctx.docs.get(m.docId)
    if (d === undefined) return
    const ids = new Set<string>(m.ids)
    const batch = ctx.store.batch()
    const next = this.maybeSynced(this.applyAck(d, batch, ids, m.cursor), ids)
    if (next === d) return
    batch.putDoc(next)
    await batch.commit()
    this.commitAck(m.docId, next, ids)
    ctx.kick()
    ctx.emitStatus()
  }

  /**
   * A refused own event is undone with every own event built on it (see
   * undo.ts), and the device writes the document as a fresh actor from then
   * on. Enough refusals in a row, or one that could never be sent, set the
   * document aside as a dead letter. A refusal of an event already undone
   * (the relay refuses a whole push) changes nothing. Call inside the queue.
   */
  async rejectLocally(id: PurchaseId, eventId: EventId, code: string, reason: string): Promise<void> {
    const { ctx } = this
    const d = ctx.docs.get(id)
    const entry = ctx.outbox.of(id).find((e) => e.id === eventId)
    if (d === undefined || entry === undefined) return
    const at = ctx.iso()
    const streak = d.rejectStreak + 1
    const limit = ctx.options.deadLetterAfter ?? 3
    const { next, dropped } = await undoRefused(ctx, this.documents, id, entry, code, reason, (n) => {
      const undone = n.rejected.length - d.rejected.length
      const what = undone > 1 ? ` (undone here with ${undone - 1} later change${undone === 2 ? '' : 's'} built on it)` : ' (undone here)'
      const dead = n.dead ?? (streak >= limit || code === 'FRAME_TOO_LARGE' ? { reason: `${streak} change${streak === 1 ? '' : 's'} refused in a row, the last ${eventId}: ${code}: ${reason}${what}`, at } : null)
      return { ...n, rejectStreak: streak, dead }
    })
    ctx.notifier.emit({ type: 'rejected', docId: id, eventId, code, reason })
    for (const x of dropped) if (x.id !== eventId) ctx.notifier.emit({ type: 'rejected', docId: id, eventId: x.id, code: x.code, reason: x.reason })
    if (next.dead !== null && d.dead === null) {
      ctx.notifier.emit({ type: 'dead-letter', docId: id, reason: next.dead.reason })
      this.documents.fire(id, { origin: 'status', events: [] })
    }
    ctx.kick()
    ctx.emitStatus()
  }

  private async onValidated(m: ValidatedMessage): Promise<void> {
    const { ctx } = this
    const d = ctx.docs.get(m.docId)
    if (d === undefined || m.cursor < d.validatedCursor) return
    const next: DocRecord = { ...d, validatedCursor: m.cursor, relayConflicts: m.conflicts, unvalidated: d.unvalidated.filter((u) => u.cursor > m.cursor) }
    await ctx.store.batch().putDoc(next).commit()
    ctx.docs.set(m.docId, next)
    ctx.emitStatus()
  }

  private async onCaughtUp(m: CaughtUpMessage, gen: number): Promise<void> {
    const { ctx } = this
    if (gen !== this.connector.sessionGen) return
    const d = ctx.docs.get(m.docId)
    if (d === undefined) return
    ctx.subs.set(m.docId, true)
    ctx.docErrors.delete(m.docId)
    // The cursor moves only with events actually received: a caughtUp may name a
    // sequence whose events (queued during the catch-up) are still on their way.
    const next = this.maybeSynced(d)
    await ctx.store.batch().putDoc(next).commit()
    ctx.docs.set(m.docId, next)
    this.documents.fire(m.docId, { origin: 'status', events: [] })
    ctx.emitStatus()
  }
}
