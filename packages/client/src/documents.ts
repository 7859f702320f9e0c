/**
 * The purchases in memory: loaded replicas (least recently used first, the
 * ones with an open handle or unsaved events never evicted), change listeners,
 * and the path of a local command's events into the store and the outbox.
 *
 * A command runs on the replica at once; its events are saved by one queued
 * flush per document, and `run` resolves when they are. If the save fails the
 * replica is ahead of the store, so it is dropped and reloaded from what was
 * saved: nothing unsaved is ever shown or sent.
 */
import { type EventEnvelope, type PurchaseId, backendNamed, ConcordError, isConcordError, PurchaseReplica } from '@concord/core'
import { priorityOf } from '@concord/core/internal'
import type { ClientContext } from './context.js'
import { summarize } from './doc-summary.js'
import type { DocChange } from './handle.js'
import { type DocRecord, type OutboxEntry, eventKey } from './storage/store.js'

export class Documents {
  /** Loaded replicas, least recently used first. */
  private readonly replicas = new Map<PurchaseId, PurchaseReplica>()
  private readonly pins = new Map<PurchaseId, number>()
  /** Local events a command made that are not yet saved, per document. */
  private readonly unsaved = new Map<PurchaseId, EventEnvelope[]>()
  private readonly flushes = new Map<PurchaseId, Promise<void>>()
  private readonly listeners = new Map<PurchaseId, Set<(c: DocChange) => void>>()

  constructor(private readonly ctx: ClientContext) {}

  replicaOptions(d: DocRecord) {
    const o = this.ctx.options
    return {
      docId: d.id, replica: d.actor ?? this.ctx.replicaId, backend: backendNamed(d.backend), now: this.ctx.now, newId: this.ctx.newId,
      // A command whose input cannot fit the relay's frame is refused before it is applied (EVENT_TOO_LARGE).
      maxEventBytes: () => this.ctx.eventRoom(),
      // Own changes are held to the relay's rules before they are made: a command bug is caught here, not refused later.
      checkWrites: true,
      // The subject the relay named at welcome; before the first session, the configured user.
      user: () => this.ctx.author ?? o.user ?? '',
      ...(o.device !== undefined ? { device: o.device } : {}),
    }
  }

  /** Keeps a replica loaded and saves the events its local commands make. */
  adopt(id: PurchaseId, r: PurchaseReplica): PurchaseReplica {
    r.onChange((c) => {
      if (c.origin !== 'local' || this.replicas.get(id) !== r) return
      const list = this.unsaved.get(id) ?? []
      list.push(...c.events)
      this.unsaved.set(id, list)
      this.scheduleFlush(id)
      this.fire(id, { origin: 'local', events: c.events })
    })
    this.replicas.set(id, r)
    this.evict()
    return r
  }

  private evict(): void {
    const limit = this.ctx.options.cacheSize ?? 16
    let loose = [...this.replicas.keys()].filter((id) => !this.pins.has(id) && !this.unsaved.has(id))
    while (loose.length > limit) {
      this.replicas.delete(loose[0]!)
      loose = loose.slice(1)
    }
  }

  /** The loaded replica of a document, loading it from the store if needed. Call inside the queue. */
  async replicaFor(id: PurchaseId): Promise<PurchaseReplica> {
    const cached = this.replicas.get(id)
    if (cached !== undefined) {
      this.replicas.delete(id)
      this.replicas.set(id, cached)
      return cached
    }
    const d = this.ctx.docs.get(id)
    if (d === undefined) throw new ConcordError('NOT_FOUND', `purchase ${id} is not on this device`)
    const events = await this.ctx.store.loadEvents(id)
    const again = this.replicas.get(id)
    if (again !== undefined) return again
    return this.adopt(id, PurchaseReplica.fromEvents(this.replicaOptions(d), events))
  }

  /** The replica if it is loaded. */
  loaded(id: PurchaseId): PurchaseReplica | undefined {
    return this.replicas.get(id)
  }

  /** The replica behind a handle (always loaded while the handle is open). */
  current(id: PurchaseId): PurchaseReplica {
    const r = this.replicas.get(id)
    if (r === undefined) throw new ConcordError('STORE_CLOSED', `purchase ${id} is not loaded (its handle was closed)`)
    return r
  }

  pin(id: PurchaseId): void {
    this.pins.set(id, (this.pins.get(id) ?? 0) + 1)
  }

  unpin(id: PurchaseId): void {
    const n = (this.pins.get(id) ?? 1) - 1
    if (n <= 0) this.pins.delete(id)
    else this.pins.set(id, n)
    this.evict()
  }

  onChange(id: PurchaseId, cb: (c: DocChange) => void): () => void {
    const set = this.listeners.get(id) ?? new Set()
    set.add(cb)
    this.listeners.set(id, set)
    return () => set.delete(cb)
  }

  fire(id: PurchaseId, c: DocChange): void {
    for (const l of [...(this.listeners.get(id) ?? [])]) {
      try {
        l(c)
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /**
   * Puts a rebuilt replica in place of the loaded one (a refused event was
   * undone): handles read the new one from now on, and the old one's local
   * events are no longer saved.
   */
  replace(id: PurchaseId, r: PurchaseReplica): void {
    this.replicas.delete(id)
    this.adopt(id, r)
    this.fire(id, { origin: 'reload', events: [] })
  }

  /** Takes the local events made and not yet saved (they are about to be undone). */
  takeUnsaved(id: PurchaseId): EventEnvelope[] {
    const list = this.unsaved.get(id) ?? []
    this.unsaved.delete(id)
    return list
  }

  /** True while a local event is made and not yet saved. */
  isUnsaved(id: PurchaseId, eventId: string): boolean {
    return (this.unsaved.get(id) ?? []).some((e) => e.id === eventId)
  }

  /** Runs a command on a document; resolves once its events are saved. */
  async run<T>(id: PurchaseId, cmd: (r: PurchaseReplica) => T): Promise<T> {
    const r = this.replicas.get(id) ?? (await this.ctx.serial(() => this.replicaFor(id)))
    let result: T
    try {
      result = cmd(r)
    } catch (e) {
      await this.flushed(id)
      throw e
    }
    await this.flushed(id)
    return result
  }

  /** Resolves once every local event made so far on the document is saved. */
  flushed(id: PurchaseId): Promise<void> {
    return this.flushes.get(id) ?? Promise.resolve()
  }

  private scheduleFlush(id: PurchaseId): void {
    if (this.flushes.has(id)) return
    const p = this.ctx.serial(async () => {
      this.flushes.delete(id)
      const events = this.unsaved.get(id) ?? []
      this.unsaved.delete(id)
      if (events.length === 0) return
      const r = this.replicas.get(id)!
      const before = this.ctx.docs.get(id)?.summary.conflictIds ?? []
      try {
        await this.persistLocal(id, r, events)
      } catch (e) {
        // Another instance took this one's seat: nothing more is written here, and the status says why.
        if (isConcordError(e) && e.code === 'STORE_IN_USE') this.ctx.storeFailed(e)
        // The replica is ahead of the store: drop it and reload what was saved, so nothing unsaved is shown or sent.
        this.replicas.delete(id)
        if (!this.ctx.closed) {
          try {
            await this.replicaFor(id)
            this.fire(id, { origin: 'reload', events: [] })
          } catch {
            // the store itself is failing; the next open reports it
          }
        }
        throw e
      }
      noticeConflicts(this.ctx, id, before, 'local', events)
      this.ctx.saved(id)
      this.ctx.kick()
      this.ctx.emitStatus()
    })
    this.flushes.set(id, p)
    p.catch(() => undefined)
  }

  /** Saves local events: into the store's log and outbox, then into the in-memory index and outbox. */
  async persistLocal(id: PurchaseId, r: PurchaseReplica, events: readonly EventEnvelope[]): Promise<void> {
    const d = this.ctx.docs.get(id)!
    const batch = this.ctx.store.batch()
    let n = d.eventCount
    const entries: OutboxEntry[] = []
    let localSeq = d.localSeq
    const slotBase = d.slotBase ?? 0
    for (const e of events) {
      const key = eventKey(id, n++)
      const bytes = batch.putEvent(key, e)
      const entry: OutboxEntry = {
        id: e.id, docId: id, seq: e.seq, kind: e.kind, priority: e.meta.priority ?? priorityOf(e.kind), bytes, eventKey: key, savedAt: e.meta.at,
        ...(slotBase > 0 ? { slot: slotBase + e.seq } : {}),
      }
      batch.putOutbox(entry)
      entries.push(entry)
      localSeq = Math.max(localSeq, e.seq)
    }
    const next: DocRecord = { ...d, eventCount: n, localSeq, summary: summarize(r) }
    batch.putDoc(next)
    await batch.commit()
    this.ctx.docs.set(id, next)
    this.ctx.outbox.add(id, entries)
    if (next.summary.exists) this.ctx.search.put(id, next.summary)
  }
}

/** Notifies the conflicts a change raised, and those another device's resolution closed. */
export function noticeConflicts(ctx: ClientContext, id: PurchaseId, before: readonly string[], origin: 'local' | 'remote', events: readonly EventEnvelope[]): void {
  const after = ctx.docs.get(id)?.summary.conflictIds ?? []
  const was = new Set(before)
  const now = new Set(after)
  const raised = after.filter((c) => !was.has(c))
  const closed = before.filter((c) => !now.has(c))
  if (raised.length > 0) ctx.notifier.emit({ type: 'conflict-raised', docId: id, conflicts: raised })
  if (origin === 'remote' && closed.length > 0) {
    const own = ctx.docs.get(id)?.actor ?? ctx.replicaId
    const by = events.find((e) => e.kind === 'conflict.resolve' && e.actor !== own && e.actor !== ctx.replicaId)
    if (by !== undefined) ctx.notifier.emit({ type: 'conflict-resolved-elsewhere', docId: id, conflicts: closed, by: by.meta.user ?? by.actor })
  }
}
