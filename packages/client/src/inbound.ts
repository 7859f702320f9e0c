/**
 * What the relay says, applied to the store and the in-memory state, each
 * message in the client's serial queue: events from elsewhere (and own events
 * echoed back, as good as an acknowledgement), acknowledgements, refusals (a
 * document whose changes keep being refused is set aside as a dead letter),
 * validation cursors, caught-up marks, and errors.
 */
import { type EventEnvelope, type EventId, type PurchaseId, type ReplicaId, splitEventId } from '@concord/core'
import { priorityOf, sameContent } from '@concord/core/internal'
import {
  type AckMessage, type CaughtUpMessage, type EventsMessage, type RejectAction, type ServerMessage, type ValidatedMessage, encodeEvent, rejectCodeInfo,
} from '@concord/core/protocol'
import type { Connector } from './connector.js'
import type { ClientContext } from './context.js'
import { summarize } from './doc-summary.js'
import { type Documents, noticeConflicts } from './documents.js'
import { type ClientStore, type DocRecord, type OutboxEntry, type RejectedEvent, eventKey, slotOf } from './storage/store.js'
import { reissue } from './reissue.js'
import { DEPENDS_ON_REFUSED, undoRefused } from './undo.js'

/** How often a change the relay cannot place (UNKNOWN_EVENT) is re-sent after a new subscribe before the document shows an error. */
const CATCH_UP_TRIES = 5

/** True when the device holds other content under the event's id. */
function differs(held: EventEnvelope | undefined, e: EventEnvelope): boolean {
  return held !== undefined && !sameContent(held, e)
}

export class Inbound {
  /** Per document, how many catch-ups in a row its pushes needed, the relay lacking a dependency (reset by an acknowledgement). */
  private readonly catchUps = new Map<PurchaseId, number>()
  /** Documents waiting for the pause before their catch-up (a resubscribe, then the refused changes again). */
  private readonly catchingUp = new Set<PurchaseId>()
  /** Documents whose catch-ups gave up: their error stays (a caughtUp does not clear it) until an acknowledgement. */
  private readonly gaveUp = new Set<PurchaseId>()

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
    if (ctx.docs.get(m.docId) === undefined) return
    const held = await this.documents.replicaFor(m.docId)
    // The relay holds other content under own ids: those own events move to a fresh actor first, so both contents survive.
    // The relay holds other content under ids held here: own ones move to a fresh
    // actor; another seat's (absorbed from this store) go, and that seat reissues them.
    const taken = m.events.filter((x) => differs(held.log.get(x.event.id), x.event))
    if (taken.length > 0) {
      await reissue(ctx, this.documents, m.docId, new Set(taken.map((x) => x.event.id)), `the relay holds other content under ${taken.map((x) => x.event.id).slice(0, 3).join(', ')}`)
    }
    const d0 = ctx.docs.get(m.docId)!
    const r = await this.documents.replicaFor(m.docId)
    const before = d0.summary.conflictIds
    // Held to the purchase schema before anything applies: an older relay may have stored what this one refuses.
    const res = r.receiveChecked(m.events.map((x) => x.event))
    const skip = new Set<string>([...res.duplicates, ...res.rejected.map((x) => x.id)])
    const d = ctx.docs.get(m.docId)!
    const batch = ctx.store.batch()
    let n = d.eventCount
    for (const x of m.events) if (!skip.has(x.event.id)) batch.putEvent(eventKey(m.docId, n++), x.event)
    // Own events echoed back are stored by the relay: as good as an acknowledgement, when the content is this device's.
    // (Own: waiting in the outbox, whichever of the device's actors made them.)
    const own = m.events.filter((x) => ctx.outbox.has(m.docId, x.event.id) && !differs(r.log.get(x.event.id), x.event))
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
    if (ids.size > 0) {
      this.catchUps.delete(m.docId)
      if (this.gaveUp.delete(m.docId)) ctx.docErrors.delete(m.docId)
    }
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
  async rejectLocally(id: PurchaseId, eventId: EventId, relayCode: string, relayReason: string): Promise<void> {
    const { ctx } = this
    const d = ctx.docs.get(id)
    const entry = ctx.outbox.of(id).find((e) => e.id === eventId)
    if (d === undefined || entry === undefined) return
    let [code, reason] = [relayCode, relayReason]
    if (rejectCodeInfo(code).action === 'catch-up') {
      // The relay lacks a dependency this device itself saw refused: no catch-up
      // can bring it, so the change goes the way of what it was built on.
      const gone = await this.refusedDependency(d, entry)
      if (gone !== undefined) [code, reason] = [DEPENDS_ON_REFUSED, `made after ${gone.id}, which was refused (${gone.code}), and built on it`]
    }
    const rule = code === DEPENDS_ON_REFUSED ? { action: 'undo' as const } : rejectCodeInfo(code)
    if (rule.action !== 'undo') return this.notFinal(d, eventId, code, reason, rule.action)
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

  /** The refused event (recorded in this document's refusals) that the outbox entry depends on, if any. */
  private async refusedDependency(d: DocRecord, entry: OutboxEntry): Promise<RejectedEvent | undefined> {
    if (d.rejected.length === 0) return undefined
    const e = await this.ctx.store.getEvent(entry.eventKey)
    if (e === undefined) return undefined
    const refused = new Map(d.rejected.map((r) => [r.id as string, r]))
    for (const dep of e.deps) {
      const r = refused.get(dep)
      if (r !== undefined) return r
    }
    return undefined
  }

  /**
   * A refusal that says nothing against the change (REJECT_CODES): the
   * change is kept. Catch-up: the relay lacks a dependency, so the document
   * is subscribed again and the change re-sent, a few times with a growing
   * pause, then left waiting with the document in error. Retry: re-sent
   * after a pause. Reissue: the id is taken, the change moves to a fresh
   * actor. Stop (and any code this client does not know): kept, and the
   * document set aside (dead letter) until someone looks.
   */
  private async notFinal(d: DocRecord, eventId: EventId, code: string, reason: string, action: RejectAction): Promise<void> {
    const { ctx } = this
    const id = d.id
    switch (action) {
      case 'reissue':
        await reissue(ctx, this.documents, id, new Set([eventId]), `the relay refused ${eventId}: ${code}: ${reason}`)
        break
      case 'catch-up': {
        // The other refusals of the same push say the same thing: one catch-up at a time. The refused
        // changes stay in flight until it starts, so nothing is re-sent before the pause (re-sending at
        // each refusal made every refusal of a push send the whole push again: a storm).
        if (this.catchingUp.has(id)) break
        const tries = (this.catchUps.get(id) ?? 0) + 1
        this.catchUps.set(id, tries)
        if (tries > CATCH_UP_TRIES) {
          this.gaveUp.add(id)
          ctx.docErrors.set(id, { code, message: `the relay still lacks what ${eventId} depends on after ${CATCH_UP_TRIES} tries (${reason}); the change is kept and is sent again on the next connection`, fatal: false })
          break
        }
        this.catchingUp.add(id)
        const gen = this.connector.sessionGen
        ctx.timers.setTimeout(() => {
          this.catchingUp.delete(id)
          if (gen !== this.connector.sessionGen) return // a new connection subscribes and sends everything again anyway
          ctx.outbox.release(id)
          this.connector.resubscribe(id)
        }, this.connector.retry.options.initialDelayMs * 2 ** (tries - 1))
        break
      }
      case 'retry':
      case 'refresh-token':
        ctx.outbox.release(id)
        ctx.timers.setTimeout(() => ctx.kick(), Math.max(100, this.connector.retry.options.initialDelayMs))
        break
      case 'undo':
        break // rejectLocally undoes it
      case 'stop': {
        const dead = { reason: `the relay refused ${eventId} with ${code} (${reason}); the change is kept here and the purchase is not sent until this is looked into`, at: ctx.iso() }
        const next: DocRecord = { ...d, dead, rejected: [...d.rejected, { id: eventId, code, reason, at: dead.at }].slice(-1000) }
        await ctx.store.batch().putDoc(next).commit()
        ctx.docs.set(id, next)
        ctx.notifier.emit({ type: 'dead-letter', docId: id, reason: dead.reason })
        this.documents.fire(id, { origin: 'status', events: [] })
        break
      }
      default:
        action satisfies never
    }
    ctx.kick()
    ctx.emitStatus()
  }

  /**
   * The relay holds fewer events of the current actor than it acknowledged
   * (it was restored from an older backup): the device still has them, so
   * they go back into the outbox and are sent again.
   */
  private async requeueLost(d: DocRecord, actor: ReplicaId, head: number): Promise<void> {
    const { ctx } = this
    const waiting = ctx.outbox.of(d.id)
    const held = new Set(waiting.map((o) => o.id))
    const lost: Omit<OutboxEntry, 'slot'>[] = []
    for (const [key, e] of await ctx.store.loadEventRows(d.id)) {
      if (e.actor !== actor || e.seq <= head || held.has(e.id)) continue
      lost.push({ id: e.id, docId: d.id, seq: e.seq, kind: e.kind, priority: e.meta.priority ?? priorityOf(e.kind), bytes: encodeEvent(e).length, eventKey: key, savedAt: e.meta.at })
    }
    // The lost events go first (what waits may build on them): the document's outbox is laid out again after every slot used so far.
    const batch = ctx.store.batch()
    for (const o of waiting) batch.deleteOutbox(o)
    const first = Math.max((d.slotBase ?? 0) + d.localSeq, ...waiting.map(slotOf)) + 1
    const entries: OutboxEntry[] = [...lost, ...waiting].map((o, i) => ({ ...o, slot: first + i }))
    for (const o of entries) batch.putOutbox(o)
    const slotBase = first + entries.length - 1 - d.localSeq
    const next: DocRecord = { ...d, ackedSeq: head, lastSyncedAt: null, slotBase }
    batch.putDoc(next)
    await batch.commit()
    ctx.docs.set(d.id, next)
    ctx.outbox.remove(d.id, held)
    ctx.outbox.add(d.id, entries)
    ctx.notifier.emit({ type: 'sync-failed', code: 'RELAY_BEHIND', message: `${d.id}: the relay lacks ${lost.length} change${lost.length === 1 ? '' : 's'} it had acknowledged; sending them again`, fatal: false })
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
    if (!this.gaveUp.has(m.docId)) ctx.docErrors.delete(m.docId)
    // The relay holds more events of the current actor than this device saved (a restored backup, a copied store):
    // stop writing as it before anything is written under a taken id.
    const actor = d.actor ?? ctx.replicaId
    const head = m.actorHeads.find((h) => h.actor === actor)?.seq ?? 0
    if (head > d.localSeq) {
      await reissue(ctx, this.documents, m.docId, new Set(), `the relay holds ${head} events of ${actor}; this device saved ${d.localSeq}`)
    } else if (head < d.ackedSeq) {
      await this.requeueLost(d, actor, head)
      ctx.kick() // the outbox may have been drained empty before this caughtUp put them back
    }
    // The cursor moves only with events actually received: a caughtUp may name a
    // sequence whose events (queued during the catch-up) are still on their way.
    // The catch-up count is not reset here: the resubscribe a catch-up asks for
    // ends in a caughtUp, and only an acknowledgement shows that it helped.
    const next = this.maybeSynced(ctx.docs.get(m.docId)!)
    await ctx.store.batch().putDoc(next).commit()
    ctx.docs.set(m.docId, next)
    this.documents.fire(m.docId, { origin: 'status', events: [] })
    ctx.emitStatus()
  }
}
