/**
 * What the store's other seats hold, carried into this instance's own
 * (storage/seats.ts): two tabs of one profile, or two processes on one
 * SQLite file, each write as their own actor into their own seat, and each
 * reads the other's events from the store, offline too.
 *
 * An event another seat has not had acknowledged goes into this instance's
 * outbox as well, so whichever instance is online first sends it, and a
 * change made in a tab that was then closed (or crashed) is not stranded in
 * a seat nobody runs. One event id names one content, so when both send it
 * the relay stores it once and acknowledges both.
 *
 * Per other seat, a document record keeps how many of that seat's event
 * keys it has read (`absorbed`), so each pass reads only what is new.
 */
import { type PurchaseId } from '@concord/core'
import { priorityOf, sameContent } from '@concord/core/internal'
import { encodeEvent } from '@concord/core/protocol'
import type { ClientContext } from './context.js'
import { newDocRecord, summarize } from './doc-summary.js'
import { type Documents, noticeConflicts } from './documents.js'
import { type ClientStore, type DocRecord, type OutboxEntry, eventKey, slotOf } from './storage/store.js'

/**
 * Carries in what the other seats hold that this one lacks, for every
 * document or only `only`. Returns the documents this seat did not have
 * (to subscribe) and those that changed. Call inside the serial queue.
 */
export async function absorbSeats(ctx: ClientContext, documents: Documents, only?: PurchaseId): Promise<{ added: PurchaseId[]; changed: PurchaseId[] }> {
  const added: PurchaseId[] = []
  const changed: PurchaseId[] = []
  for (const other of await ctx.store.otherSeats()) {
    const waiting = new Map<PurchaseId, Set<string>>()
    for (const o of await other.loadOutbox()) {
      const set = waiting.get(o.docId) ?? new Set()
      set.add(o.id)
      waiting.set(o.docId, set)
    }
    for (const od of await other.loadDocs()) {
      if (only !== undefined && od.id !== only) continue
      const isNew = !ctx.docs.has(od.id)
      if (await absorbDoc(ctx, documents, other, od, waiting.get(od.id) ?? new Set())) {
        ;(isNew ? added : changed).push(od.id)
      }
    }
  }
  return { added, changed }
}

async function absorbDoc(ctx: ClientContext, documents: Documents, other: ClientStore, od: DocRecord, waiting: ReadonlySet<string>): Promise<boolean> {
  const id = od.id
  const seat = String(other.seatNumber)
  const known = ctx.docs.get(id)
  const read = known?.absorbed?.[seat] ?? 0
  if (od.eventCount <= read) return false
  const rows = await other.loadEventRows(id, read)
  if (known === undefined) {
    // A purchase only the other seat has: this seat starts it empty and takes every event.
    const fresh = newDocRecord(id, od.backend, od.priority)
    await ctx.store.batch().putDoc(fresh).commit()
    ctx.docs.set(id, fresh)
  }
  const r = await documents.replicaFor(id)
  const before = ctx.docs.get(id)!.summary.conflictIds
  // The other seat holds the relay's content under an id this one holds otherwise
  // (a restored store): its cursor covers an event this seat has not got, and what
  // it built on that content (later events of the actor, or naming it or such an
  // event among their dependencies) would apply here on top of the other content.
  // Those are left to the relay, which sends them once this seat has moved its own
  // events to a fresh actor (reissue.ts), and the other seat's unsent ones to that seat.
  const tainted = new Set<string>()
  // Remembered across passes: the clashing id may have been read in an earlier one.
  const after = new Map<string, number>(Object.entries(known?.clashed ?? {}))
  for (const [, e] of rows) {
    const held = r.log.get(e.id)
    if (held !== undefined && !sameContent(held, e)) {
      tainted.add(e.id)
      after.set(e.actor, Math.min(after.get(e.actor) ?? Infinity, e.seq))
    } else if (held === undefined && (e.seq > (after.get(e.actor) ?? Infinity) || e.deps.some((x) => tainted.has(x)))) tainted.add(e.id)
  }
  // Every taint starts from a clash, which `after` keeps.
  const clash = after.size > 0
  const incoming = rows.map(([, e]) => e).filter((e) => !r.log.has(e.id) && !tainted.has(e.id))
  const res = r.receiveChecked(incoming)
  const skip = new Set<string>([...res.duplicates, ...res.rejected.map((x) => x.id)])
  const d = ctx.docs.get(id)!
  const batch = ctx.store.batch()
  let n = d.eventCount
  const carried = incoming.filter((e) => !skip.has(e.id))
  const keys = new Map<string, string>()
  for (const e of carried) {
    const key = eventKey(id, n++)
    batch.putEvent(key, e)
    keys.set(e.id, key)
  }
  // Slots after every own one so far; own events made later (which may build on these) come after them.
  const first = Math.max((d.slotBase ?? 0) + d.localSeq, ...ctx.outbox.of(id).map(slotOf)) + 1
  const entries: OutboxEntry[] = carried.filter((e) => waiting.has(e.id) && !ctx.outbox.has(id, e.id)).map((e, i) => ({
    id: e.id, docId: id, seq: e.seq, kind: e.kind, priority: e.meta.priority ?? priorityOf(e.kind), bytes: encodeEvent(e).length,
    eventKey: keys.get(e.id)!, savedAt: e.meta.at, slot: first + i,
  }))
  for (const entry of entries) batch.putOutbox(entry)
  const slotBase = entries.length === 0 ? d.slotBase : first + entries.length - 1 - d.localSeq
  // Every event the other seat's cursor covers is now here, unless one was refused or clashed (other content under a held id).
  const cursor = res.rejected.length === 0 && !clash ? Math.max(d.cursor, od.cursor) : d.cursor
  const next: DocRecord = {
    ...d, eventCount: n, cursor, summary: summarize(r), absorbed: { ...d.absorbed, [seat]: od.eventCount },
    ...(after.size > 0 ? { clashed: Object.fromEntries(after) } : {}),
    ...(slotBase !== undefined && slotBase > 0 ? { slotBase } : {}),
    ...(d.priority === null && od.priority !== null ? { priority: od.priority } : {}),
  }
  batch.putDoc(next)
  await batch.commit()
  ctx.docs.set(id, next)
  ctx.outbox.add(id, entries)
  if (next.summary.exists) ctx.search.put(id, next.summary)
  if (res.applied.length > 0) {
    noticeConflicts(ctx, id, before, 'remote', res.applied)
    documents.fire(id, { origin: 'remote', events: res.applied })
  }
  return true
}
