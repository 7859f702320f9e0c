/**
 * The outbox in memory: per document, the own events that are saved and not
 * yet acknowledged (metadata only; payloads stay in the store), in creation
 * order (their slots), and which of them are on the wire right now. The store
 * holds the durable copy; this is what status and the sender read.
 */
import type { EventId, PurchaseId } from '@concord/core'
import { type OutboxEntry, slotOf } from './storage/store.js'
import type { QueueStats } from './types.js'

interface InFlight {
  readonly docId: PurchaseId
  readonly seq: number
  readonly bytes: number
}

export class Outbox {
  private readonly entries = new Map<PurchaseId, OutboxEntry[]>()
  private readonly flying = new Map<string, InFlight>()
  private flyingBytes = 0

  /** Loads what the store holds (any order). */
  restore(entries: readonly OutboxEntry[]): void {
    for (const e of entries) {
      const list = this.entries.get(e.docId) ?? []
      list.push(e)
      this.entries.set(e.docId, list)
    }
    for (const list of this.entries.values()) list.sort((a, b) => slotOf(a) - slotOf(b))
  }

  /** A document's waiting events, oldest first. */
  of(id: PurchaseId): readonly OutboxEntry[] {
    return this.entries.get(id) ?? []
  }

  /** Every document with waiting events (possibly an empty list). */
  byDoc(): IterableIterator<[PurchaseId, readonly OutboxEntry[]]> {
    return this.entries.entries()
  }

  /** Events just saved (in creation order, after those already waiting). */
  add(id: PurchaseId, added: readonly OutboxEntry[]): void {
    const list = this.entries.get(id) ?? []
    list.push(...added)
    this.entries.set(id, list)
  }

  has(id: PurchaseId, eventId: EventId): boolean {
    return this.of(id).some((e) => e.id === eventId)
  }

  /** How many events wait, over every document. */
  get pending(): number {
    let n = 0
    for (const l of this.entries.values()) n += l.length
    return n
  }

  /** Takes acknowledged (or refused) events out, and off the wire. Call once the store no longer has them. */
  remove(id: PurchaseId, ids: ReadonlySet<string>): void {
    const entries = this.entries.get(id)
    if (entries === undefined) return
    for (const e of entries) {
      if (!ids.has(e.id)) continue
      const k = flightKey(id, e.id)
      const f = this.flying.get(k)
      if (f !== undefined) {
        this.flyingBytes -= f.bytes
        this.flying.delete(k)
      }
    }
    const remaining = entries.filter((e) => !ids.has(e.id))
    if (remaining.length === 0) this.entries.delete(id)
    else this.entries.set(id, remaining)
  }

  // ------------------------------------------------------------ on the wire

  isInFlight(id: PurchaseId, eventId: string): boolean {
    return this.flying.has(flightKey(id, eventId))
  }

  markInFlight(id: PurchaseId, e: OutboxEntry): void {
    this.flying.set(flightKey(id, e.id), { docId: id, seq: e.seq, bytes: e.bytes })
    this.flyingBytes += e.bytes
  }

  get inFlightCount(): number {
    return this.flying.size
  }

  get inFlightBytes(): number {
    return this.flyingBytes
  }

  /** The relay did not take a document's push: its events may be sent again. */
  release(id: PurchaseId): void {
    for (const [k, f] of this.flying) {
      if (f.docId !== id) continue
      this.flyingBytes -= f.bytes
      this.flying.delete(k)
    }
  }

  /** The socket ended: nothing is on the wire any more. */
  releaseAll(): void {
    this.flying.clear()
    this.flyingBytes = 0
  }

  stats(): QueueStats {
    const byDoc: Record<string, number> = {}
    const byKind: Record<string, number> = {}
    const byPriority = { high: 0, normal: 0, low: 0 }
    let oldest: string | null = null
    for (const [id, list] of this.entries) {
      if (list.length === 0) continue
      byDoc[id] = list.length
      for (const e of list) {
        byKind[e.kind] = (byKind[e.kind] ?? 0) + 1
        byPriority[e.priority] += 1
        if (oldest === null || e.savedAt < oldest) oldest = e.savedAt
      }
    }
    return { byDoc, byKind, byPriority, inFlight: this.flying.size, inFlightBytes: this.flyingBytes, oldestSavedAt: oldest }
  }
}

function flightKey(id: PurchaseId, eventId: string): string {
  return `${id}/${eventId}`
}
