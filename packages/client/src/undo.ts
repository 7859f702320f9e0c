/**
 * Undoing a refused own event. An event the relay refused (or the client
 * refused before sending it) stays applied in the device's replica and is a
 * causal dependency of everything the device writes afterwards (its actor's
 * next sequence number, the CRDT clock, the log heads), so the relay and the
 * other devices would hold every later change back forever. Instead the
 * replica is rebuilt from the events the device holds minus the refused one
 * and every own event that depends on it, and the device writes the document
 * as a fresh actor from then on, so no event id or CRDT clock is ever reused
 * with other content. The store changes in one batch: the dropped events
 * leave the events table and the outbox, and the document record names the
 * new actor and lists the dropped events as rejected (with their kind), so a
 * crash midway leaves either the old state or the new one.
 */
import { type EventEnvelope, type EventId, type PurchaseId, type ReplicaId, PurchaseReplica, parseReplicaId } from '@concord/core'
import type { ClientContext } from './context.js'
import { summarize } from './doc-summary.js'
import type { Documents } from './documents.js'
import type { DocRecord, OutboxEntry, RejectedEvent } from './storage/store.js'

/** What an undo dropped: the refused event first, then its dependents in creation order. */
export interface Undone {
  readonly next: DocRecord
  readonly dropped: readonly RejectedEvent[]
}

/** The code a dependent of a refused event is recorded with. */
export const DEPENDS_ON_REFUSED = 'DEPENDS_ON_REFUSED'

/** Rejected records kept per document. */
const REJECTED_KEPT = 1000

/**
 * Drops `refused` and its own dependents from document `id`, in the store and
 * in memory, and switches the device to a fresh actor for it. `update` makes
 * the rest of the new document record (streak, dead letter). Call inside the
 * client's serial queue.
 */
export async function undoRefused(
  ctx: ClientContext,
  documents: Documents,
  id: PurchaseId,
  refused: OutboxEntry,
  code: string,
  reason: string,
  update: (d: DocRecord) => DocRecord,
): Promise<Undone> {
  const rows = await ctx.store.loadEventRows(id)
  const d = ctx.docs.get(id)!
  const at = ctx.iso()
  // Arrival order is creation order for own events, so one pass finds the
  // closure: an event depends on the refused one if it follows it in its
  // actor's sequence or names a dropped event among its dependencies.
  const dropped = new Set<EventId>([refused.id])
  const droppedKeys: string[] = []
  const droppedEvents: EventEnvelope[] = []
  const kept: EventEnvelope[] = []
  const refusedEvent = rows.find(([, e]) => e.id === refused.id)?.[1]
  for (const [key, e] of rows) {
    const depends = e.id === refused.id
      || (refusedEvent !== undefined && e.actor === refusedEvent.actor && e.seq > refusedEvent.seq)
      || e.deps.some((x) => dropped.has(x))
    if (depends) {
      dropped.add(e.id)
      droppedKeys.push(key)
      droppedEvents.push(e)
    } else {
      kept.push(e)
    }
  }
  // Local events made and not yet saved were made on a replica holding the refused event: they go too.
  droppedEvents.push(...documents.takeUnsaved(id))
  const records = droppedEvents.map((e): RejectedEvent => e.id === refused.id
    ? { id: e.id, code, reason, at, kind: e.kind }
    : { id: e.id, code: DEPENDS_ON_REFUSED, reason: `made after ${refused.id}, which was refused (${code}), and built on it`, at, kind: e.kind })
  if (refusedEvent === undefined) records.unshift({ id: refused.id, code, reason, at, kind: refused.kind })

  const fresh = nextActor(ctx, d)
  const replica = PurchaseReplica.fromEvents({ ...documents.replicaOptions(d), replica: fresh.actor }, kept)
  const outboxGone = ctx.outbox.of(id).filter((o) => dropped.has(o.id))
  const next = update({
    ...d,
    ...fresh,
    slotBase: (d.slotBase ?? 0) + d.localSeq,
    localSeq: 0, ackedSeq: 0,
    rejected: [...d.rejected, ...records].slice(-REJECTED_KEPT),
    summary: summarize(replica),
  })
  const batch = ctx.store.batch()
  for (const k of droppedKeys) batch.deleteEvent(k)
  for (const o of outboxGone) batch.deleteOutbox(o)
  batch.putDoc(next)
  await batch.commit()

  // Commands that ran during the write were made on the old replica, on top of the refused event.
  const late = documents.takeUnsaved(id)
  let final = next
  if (late.length > 0) {
    const more = late.map((e): RejectedEvent => ({ id: e.id, code: DEPENDS_ON_REFUSED, reason: `made after ${refused.id}, which was refused (${code}), and built on it`, at, kind: e.kind }))
    records.push(...more)
    final = { ...next, rejected: [...next.rejected, ...more].slice(-REJECTED_KEPT) }
    await ctx.store.batch().putDoc(final).commit()
  }
  ctx.docs.set(id, final)
  ctx.outbox.remove(id, new Set<string>(outboxGone.map((o) => o.id)))
  if (final.summary.exists) ctx.search.put(id, final.summary)
  documents.replace(id, replica)
  return { next: final, dropped: records }
}

/**
 * The actor a device writes a document as after its `gen`-th switch: the
 * store's replica id (unique per seat), the counter kept in the document
 * record (so it is never handed out twice) and, since actors belong to the
 * first subject that writes them, a random part, so nobody can claim a
 * device's next actor before it does. Records from before the random part
 * named theirs without it (`nonce` empty).
 */
export function freshActor(base: ReplicaId, gen: number, nonce = ''): ReplicaId {
  const suffix = `-u${gen}${nonce === '' ? '' : `-${nonce}`}`
  return parseReplicaId(`${base.slice(0, 64 - suffix.length)}${suffix}`)
}

/** The document record's fields for a move to a fresh actor (undo, reissue): the old one joins the past actors. */
export function nextActor(ctx: ClientContext, d: DocRecord): { actor: ReplicaId; actorGen: number; pastActors: readonly ReplicaId[] } {
  const actorGen = (d.actorGen ?? 0) + 1
  // The random half of a new ULID: 10 base32 characters.
  const nonce = ctx.newId().slice(-10).toLowerCase()
  return { actor: freshActor(ctx.replicaId, actorGen, nonce), actorGen, pastActors: [...(d.pastActors ?? []), d.actor ?? ctx.replicaId] }
}

/** Whether `actor` is one this device writes (or wrote) the document as. */
export function ownActor(ctx: ClientContext, d: DocRecord, actor: string): boolean {
  if (actor === ctx.replicaId || actor === d.actor || (d.pastActors ?? []).includes(actor as ReplicaId)) return true
  // Records from before pastActors named their actors by counter alone.
  for (let g = d.actorGen ?? 0; g >= 1; g--) if (freshActor(ctx.replicaId, g) === actor) return true
  return false
}
