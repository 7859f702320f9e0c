/**
 * The admin API's event history, a page at a time, at the cost of the page.
 *
 * Each entry lists what its event changed, which needs the purchase as it was
 * just before the page: the audit trail diffs the state before and after every
 * event. Replaying the log from event 1 for each page made paging through a
 * long log quadratic. Instead the page starts from the nearest known state at
 * or before its cursor:
 *   - a checkpoint this relay kept when it served the page that ended there
 *     (the `next` cursor of one page is the `after` of the following one, so
 *     reading a history front to back applies each event once), or
 *   - the store's latest snapshot, when it does not lie beyond the cursor,
 *   - or the empty document,
 * then applies the stored events from there up to the cursor (a seq range the
 * store serves, a page at a time) and diffs only the page's own events.
 * Checkpoints are a bounded in-memory cache: events are never rewritten, so a
 * state at a sequence number stays true; losing one (a restart, eviction) only
 * costs a longer replay.
 */
import { type CrdtBackend, type PurchaseId, type ReplicaId } from '@concord/core'
import { type CrdtDoc, auditTrailFrom } from '@concord/core/internal'
import { decodeSnapshot } from './snapshot-codec.js'
import { DEFAULT_PAGE, type DocInfo, type EventStore, type EventSummary } from './store/types.js'

const AUDIT_REPLICA = 'audit' as ReplicaId

interface Checkpoint {
  readonly docId: PurchaseId
  readonly seq: number
  /** The backend's saved document after events 1..seq. */
  readonly bytes: Uint8Array
}

export interface CheckpointLimits {
  /** At most this many states kept (default 64). */
  readonly maxEntries?: number
  /** And at most this many bytes of them (default 32 MiB). */
  readonly maxBytes?: number
}

/** Saved document states by (document, sequence number), least recently used first. */
export class AuditCheckpoints {
  private readonly entries = new Map<string, Checkpoint>()
  private bytes = 0
  private readonly maxEntries: number
  private readonly maxBytes: number

  constructor(limits: CheckpointLimits = {}) {
    this.maxEntries = limits.maxEntries ?? 64
    this.maxBytes = limits.maxBytes ?? 32 * 1024 * 1024
  }

  /** The checkpoint of `docId` with the largest seq not beyond `seq`. */
  best(docId: PurchaseId, seq: number): Checkpoint | undefined {
    let found: Checkpoint | undefined
    for (const c of this.entries.values()) if (c.docId === docId && c.seq <= seq && (found === undefined || c.seq > found.seq)) found = c
    if (found !== undefined) {
      const key = keyOf(found.docId, found.seq)
      this.entries.delete(key)
      this.entries.set(key, found)
    }
    return found
  }

  put(c: Checkpoint): void {
    if (c.bytes.length > this.maxBytes) return
    const key = keyOf(c.docId, c.seq)
    const old = this.entries.get(key)
    if (old !== undefined) {
      this.entries.delete(key)
      this.bytes -= old.bytes.length
    }
    this.entries.set(key, c)
    this.bytes += c.bytes.length
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break
      this.entries.delete(k)
      this.bytes -= e.bytes.length
    }
  }

  get size(): number {
    return this.entries.size
  }
}

function keyOf(docId: PurchaseId, seq: number): string {
  return `${docId}\n${seq}`
}

export interface HistoryPage {
  readonly events: (EventSummary & { readonly changes: ReturnType<typeof auditTrailFrom>[number]['changes'] })[]
  /** The `after` of the next page, or null at the end. */
  readonly next: number | null
}

/** Events after `after`, at most `limit`, each with what it changed. */
export async function historyPage(
  store: EventStore, checkpoints: AuditCheckpoints, backend: CrdtBackend, info: DocInfo, after: number, limit: number,
): Promise<HistoryPage> {
  const docId = info.docId
  const summaries = await store.readSummaries(docId, after, limit)
  if (summaries.length === 0) return { events: [], next: null }
  const upTo = (summaries[summaries.length - 1] as EventSummary).seq
  const { doc, seq: base } = await startingState(store, checkpoints, backend, docId, after)
  try {
    // Bring the document up to the cursor without diffing (nothing to list there).
    if (base < after) {
      for await (const page of store.readPages(docId, base, Math.min(DEFAULT_PAGE, after - base))) {
        const due = page.filter((s) => s.seq <= after)
        if (due.length > 0) doc.applyBatch(due.map((s) => s.event.payload))
        if (due.length < page.length || (page[page.length - 1]?.seq ?? after) >= after) break
      }
    }
    const events = (await store.readFrom(docId, after, limit)).filter((s) => s.seq <= upTo)
    const trail = auditTrailFrom(doc, events.map((s) => s.event))
    const changes = new Map(trail.map((t) => [t.event as string, t.changes]))
    if (events.length === summaries.length) checkpoints.put({ docId, seq: upTo, bytes: doc.save() })
    return {
      events: summaries.map((s) => ({ ...s, changes: changes.get(s.id) ?? [] })),
      next: summaries.length === limit ? upTo : null,
    }
  } finally {
    doc.destroy()
  }
}

/** The nearest known state at or before `after`: a checkpoint, the latest snapshot, or nothing. */
async function startingState(
  store: EventStore, checkpoints: AuditCheckpoints, backend: CrdtBackend, docId: PurchaseId, after: number,
): Promise<{ doc: CrdtDoc; seq: number }> {
  const cp = checkpoints.best(docId, after)
  if (cp?.seq === after) return { doc: backend.load(cp.bytes, AUDIT_REPLICA), seq: cp.seq }
  const snap = await store.latestSnapshot(docId)
  if (snap !== undefined && snap.upToSeq <= after && snap.upToSeq > (cp?.seq ?? 0)) {
    try {
      return { doc: backend.load(decodeSnapshot(docId, snap.bytes).doc, AUDIT_REPLICA), seq: snap.upToSeq }
    } catch {
      // An unreadable snapshot is only a cache miss: the events rebuild the state.
    }
  }
  if (cp !== undefined) return { doc: backend.load(cp.bytes, AUDIT_REPLICA), seq: cp.seq }
  return { doc: backend.create(AUDIT_REPLICA), seq: 0 }
}
