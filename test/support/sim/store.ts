/**
 * A relay's event store with crash semantics: the durable content is a
 * MemoryEventStore (shared by the relays of a cluster, kept across a relay's
 * crash); an append becomes durable only after a simulated fsync delay on
 * the relay's domain. A relay that crashes before that never wrote it: the
 * timer dies with the domain, and the promise the relay would have acked on
 * never resolves. Reads see only what is durable.
 */
import { type PurchaseId, type ReplicaId } from '@concord/core'
import { eventHash } from '@concord/core/internal'
import type { AppendRequest, AppendResult, EventStore, ListDocsOptions, SnapshotInput } from '@concord/relay/store'
import { MemoryEventStore } from '@concord/relay/store'
import type { Domain } from './scheduler.js'

export class DurableStore {
  readonly inner: MemoryEventStore
  /** Per document, what is durable: event id -> content hash, and the last seq (read synchronously by the checks). */
  readonly held = new Map<PurchaseId, { lastSeq: number; hashes: Map<string, string> }>()

  constructor(now: () => number) {
    this.inner = new MemoryEventStore({ now })
  }

  /** Brings `held` up to date with what the inner store has for these documents. */
  async refresh(docIds: Iterable<PurchaseId>): Promise<void> {
    for (const docId of new Set(docIds)) {
      const h = this.held.get(docId) ?? { lastSeq: 0, hashes: new Map() }
      this.held.set(docId, h)
      for (;;) {
        const page = await this.inner.readFrom(docId, h.lastSeq)
        if (page.length === 0) break
        for (const e of page) h.hashes.set(e.event.id, eventHash(e.event))
        h.lastSeq = page[page.length - 1]!.seq
      }
    }
  }

  hashOf(docId: PurchaseId, id: string): string | undefined {
    return this.held.get(docId)?.hashes.get(id)
  }
}

export class SimEventStore implements EventStore {
  constructor(
    private readonly durable: DurableStore,
    private readonly domain: Domain,
    private readonly fsyncMs: () => number,
  ) {}

  private get s(): MemoryEventStore {
    return this.durable.inner
  }

  append(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    return new Promise((resolve, reject) => {
      this.domain.setTimeout(() => {
        this.s.append(batch).then(async (results) => {
          await this.durable.refresh(batch.map((r) => r.docId))
          resolve(results)
        }, reject)
      }, this.fsyncMs())
    })
  }

  readFrom(docId: PurchaseId, afterSeq: number, limit?: number) {
    return this.s.readFrom(docId, afterSeq, limit)
  }
  readPages(docId: PurchaseId, afterSeq: number, pageSize?: number) {
    return this.s.readPages(docId, afterSeq, pageSize)
  }
  readSummaries(docId: PurchaseId, afterSeq: number, limit?: number) {
    return this.s.readSummaries(docId, afterSeq, limit)
  }
  getDoc(docId: PurchaseId) {
    return this.s.getDoc(docId)
  }
  listDocs(options: ListDocsOptions) {
    return this.s.listDocs(options)
  }
  putSnapshot(docId: PurchaseId, snapshot: SnapshotInput) {
    return new Promise<Awaited<ReturnType<MemoryEventStore['putSnapshot']>>>((resolve, reject) => {
      this.domain.setTimeout(() => {
        this.s.putSnapshot(docId, snapshot).then(resolve, reject)
      }, this.fsyncMs())
    })
  }
  latestSnapshot(docId: PurchaseId) {
    return this.s.latestSnapshot(docId)
  }
  listSnapshots(docId: PurchaseId) {
    return this.s.listSnapshots(docId)
  }
  allocateNumber(docId: PurchaseId, year: number) {
    return this.s.allocateNumber(docId, year)
  }
  relayId() {
    return this.s.relayId()
  }
  actorOwners(actors: readonly ReplicaId[]) {
    return this.s.actorOwners(actors)
  }
  actorHeads(docId: PurchaseId, actors: readonly ReplicaId[]) {
    return this.s.actorHeads(docId, actors)
  }
  ping() {
    return this.s.ping()
  }
  async close(): Promise<void> {
    // The durable content outlives a relay process: closing one relay's view closes nothing shared.
  }
}
