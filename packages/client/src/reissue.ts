/**
 * Moving a document to a fresh actor, and reissuing under it what the old
 * one can no longer carry. Two cases reach here:
 *
 * - the relay holds other content under one of the device's event ids (an
 *   ID_CONFLICT refusal, or an event of the relay that names an own id with
 *   another content hash): a restored backup, a copied store, or another
 *   writer of the actor. The own events from that id on (and every own event
 *   built on them) leave the log and the outbox; what they did is written
 *   again as one new event of a fresh actor (core purchase/reissue.ts), on
 *   the document without them, so the relay's content and the person's both
 *   survive and the person is told (`reissued`);
 * - the relay holds more events of the device's actor than the device saved
 *   (caughtUp's actor heads): nothing is dropped, the device only stops
 *   writing as that actor before it writes anything under a taken id.
 *
 * The store changes in one batch (dropped events and outbox entries out, the
 * new event and its outbox entry in, the record naming the new actor), so a
 * crash leaves the old state or the new one. The new actor comes from the
 * same counter as an undo's (undo.ts), so no actor is handed out twice.
 */
import { type EventEnvelope, type EventId, type PurchaseId, PurchaseReplica } from '@concord/core'
import { priorityOf } from '@concord/core/internal'
import type { ClientContext } from './context.js'
import { summarize } from './doc-summary.js'
import type { Documents } from './documents.js'
import { type DocRecord, type OutboxEntry, eventKey } from './storage/store.js'
import { nextActor, ownActor } from './undo.js'

export interface Reissued {
  readonly next: DocRecord
  /** The own events taken out (their ids are the relay's now). */
  readonly dropped: readonly EventId[]
  /** The event that carries their content again, when they left any. */
  readonly event: EventEnvelope | undefined
}

/**
 * Takes `conflicting` and every own event after or built on them out of
 * document `id`, moves it to a fresh actor and reissues their content. With
 * no conflicting ids, only moves to the fresh actor. Call inside the queue.
 */
export async function reissue(ctx: ClientContext, documents: Documents, id: PurchaseId, conflicting: ReadonlySet<EventId>, reason: string): Promise<Reissued> {
  const old = await documents.replicaFor(id)
  const rows = await ctx.store.loadEventRows(id)
  const d = ctx.docs.get(id)!
  // Local events made and not yet saved sit on the old replica: they are reissued too.
  const unsaved = documents.takeUnsaved(id)
  const dropped = new Set<EventId>()
  const droppedKeys: string[] = []
  const kinds = new Set<string>()
  const from = new Map<string, number>()
  for (const c of conflicting) {
    const dot = c.lastIndexOf('.')
    const actor = c.slice(0, dot)
    from.set(actor, Math.min(from.get(actor) ?? Infinity, Number(c.slice(dot + 1))))
  }
  const kept: EventEnvelope[] = []
  let own = unsaved.length > 0
  // Arrival order is causal order, so one pass finds every event built on a dropped one.
  for (const [key, e] of rows) {
    if (e.seq >= (from.get(e.actor) ?? Infinity) || e.deps.some((x) => dropped.has(x))) {
      dropped.add(e.id)
      droppedKeys.push(key)
      kinds.add(e.kind)
      own ||= ownActor(ctx, d, e.actor)
    } else {
      kept.push(e)
    }
  }
  for (const e of unsaved) {
    dropped.add(e.id)
    kinds.add(e.kind)
  }

  // Only another seat's events go (absorbed from this store, the relay holds
  // other content under their ids): that seat reissues them, as its own, and
  // this one carries that in like anything else the seat writes. Writing them
  // again here too would make their content twice.
  const fresh = own || dropped.size === 0 ? nextActor(ctx, d) : { actor: d.actor ?? ctx.replicaId }
  const actor = fresh.actor
  const replica = PurchaseReplica.fromEvents({ ...documents.replicaOptions(d), replica: actor }, kept)
  const event = own ? replica.reissue(old.log.doc.read(), dropped, [...kinds]) : undefined

  const slotBase = own || dropped.size === 0 ? (d.slotBase ?? 0) + d.localSeq : d.slotBase
  const batch = ctx.store.batch()
  for (const k of droppedKeys) batch.deleteEvent(k)
  const outboxGone = ctx.outbox.of(id).filter((o) => dropped.has(o.id))
  for (const o of outboxGone) batch.deleteOutbox(o)
  let eventCount = d.eventCount
  let entry: OutboxEntry | undefined
  if (event !== undefined) {
    const key = eventKey(id, eventCount++)
    const bytes = batch.putEvent(key, event)
    entry = {
      id: event.id, docId: id, seq: event.seq, kind: event.kind, priority: event.meta.priority ?? priorityOf(event.kind), bytes, eventKey: key,
      savedAt: event.meta.at, slot: (slotBase ?? 0) + event.seq,
    }
    batch.putOutbox(entry)
  }
  const at = ctx.iso()
  const next: DocRecord = {
    ...d,
    ...fresh, slotBase,
    eventCount,
    ...(own || dropped.size === 0 ? { localSeq: event === undefined ? 0 : event.seq, ackedSeq: 0 } : {}),
    summary: summarize(replica),
    reissued: { at, reason, dropped: [...dropped].slice(0, 100), as: event?.id ?? null, actor },
  }
  batch.putDoc(next)
  await batch.commit()
  ctx.docs.set(id, next)
  ctx.outbox.remove(id, new Set<string>(outboxGone.map((o) => o.id)))
  if (entry !== undefined) ctx.outbox.add(id, [entry])

  // Commands that ran during the write were made on the old replica: their content is reissued too.
  const late = documents.takeUnsaved(id)
  if (late.length > 0) {
    for (const e of late) dropped.add(e.id)
    const more = replica.reissue(old.log.doc.read(), new Set(late.map((e) => e.id)), late.map((e) => e.kind))
    if (more !== undefined) await documents.persistLocal(id, replica, [more])
  }
  const final = ctx.docs.get(id)!
  if (final.summary.exists) ctx.search.put(id, final.summary)
  documents.replace(id, replica)
  if (dropped.size > 0) ctx.notifier.emit({ type: 'reissued', docId: id, eventIds: [...dropped], as: event?.id ?? null, reason })
  return { next: final, dropped: [...dropped], event }
}
