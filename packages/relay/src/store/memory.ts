/**
 * An in-memory EventStore for tests and simulations: the same contract as the
 * durable stores, nothing survives the process. Bytes are copied in and out so
 * a caller mutating its buffers cannot change what is stored.
 */
import { type BackendName, type EventId, type IsoInstant, type PurchaseId, type ReplicaId } from '@concord/core'
import { fail } from '@concord/core/internal'
import {
  type ExistingEvent, type PreparedEvent,
  checkActors, checkBatch, checkDocId, checkLimit, checkRelayId, checkSeq, checkSnapshot, checkYear, defaultRelayId, isoStamp, formatNumber,
  pagesOf, planDocAppend, resultOf, prepareRequest, storeClosed,
} from './common.js'
import type {
  AppendRequest, AppendResult, DocInfo, EventStore, EventSummary, ListDocsOptions, PutSnapshotResult, SnapshotInfo, SnapshotInput,
  StoreTestHooks, StoredEvent, StoredSnapshot,
} from './types.js'
import { DEFAULT_PAGE } from './types.js'

export interface MemoryEventStoreOptions {
  /** Milliseconds since the epoch, for createdAt / storedAt. Default Date.now. */
  readonly now?: () => number
  /** Makes the relay id. Default: "relay-" and random hex. */
  readonly newRelayId?: () => string
  readonly testHooks?: StoreTestHooks
}

interface MemEvent extends ExistingEvent {
  readonly prepared: PreparedEvent
  readonly payload: Uint8Array
  readonly storedAt: IsoInstant
}

interface MemDoc {
  readonly backend: BackendName
  lastSeq: number
  readonly createdAt: IsoInstant
  readonly events: MemEvent[]
  readonly byId: Map<EventId, MemEvent>
  /** The highest actor seq stored per actor (actorHeads). */
  readonly heads: Map<ReplicaId, number>
}

interface MemSnapshot extends StoredSnapshot {
  readonly serial: number
}

/** The data of a memory store; two stores over one state behave like two relays over one database. */
interface MemoryState {
  readonly docs: Map<PurchaseId, MemDoc>
  readonly snapshots: Map<PurchaseId, MemSnapshot[]>
  readonly numbers: Map<PurchaseId, string>
  readonly counters: Map<number, number>
  /** Actor -> the subject it is bound to (the `actors` table). */
  readonly owners: Map<ReplicaId, string>
  readonly relayId: ReplicaId
  serial: number
}

const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b)

export class MemoryEventStore implements EventStore {
  private closed = false
  private readonly state: MemoryState
  private readonly now: () => number
  private readonly hooks: StoreTestHooks

  constructor(options: MemoryEventStoreOptions = {}, shared?: MemoryState) {
    this.now = options.now ?? Date.now
    this.hooks = options.testHooks ?? {}
    this.state = shared ?? {
      docs: new Map(), snapshots: new Map(), numbers: new Map(), counters: new Map(), owners: new Map(),
      relayId: checkRelayId((options.newRelayId ?? defaultRelayId)()), serial: 0,
    }
  }

  /** A second store over the same data (as a second relay process would see it). */
  share(options: MemoryEventStoreOptions = {}): MemoryEventStore {
    return new MemoryEventStore({ now: this.now, ...options }, this.state)
  }

  private open(): MemoryState {
    if (this.closed) storeClosed()
    return this.state
  }

  private stamp(): IsoInstant {
    return isoStamp(this.now())
  }

  async append(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    const state = this.open()
    const requests = checkBatch(batch).map(prepareRequest)
    const storedAt = this.stamp()
    // Each request is planned against the state left by the ones before it
    // (a document may appear twice in a batch); writing a plan cannot fail,
    // so the batch is all or nothing here too. The plan writes its bindings
    // into `owners` itself.
    return requests.map((req) => {
      let doc = state.docs.get(req.docId)
      const plan = planDocAppend(req, doc, (id) => doc?.byId.get(id), state.owners)
      if (plan.rows.length > 0) {
        if (doc === undefined) {
          doc = { backend: req.backend, lastSeq: 0, createdAt: storedAt, events: [], byId: new Map(), heads: new Map() }
          state.docs.set(req.docId, doc)
        }
        for (const row of plan.rows) {
          const p = row.prepared
          const stored: MemEvent = {
            seq: row.seq, hash: p.hash, payload: copy(p.event.payload),
            prepared: { ...p, event: { ...p.event, deps: [...p.event.deps], meta: { ...p.event.meta } } }, storedAt,
          }
          doc!.events.push(stored)
          doc!.byId.set(p.id, stored)
          doc!.heads.set(p.event.actor, Math.max(doc!.heads.get(p.event.actor) ?? 0, p.event.seq))
        }
        doc!.lastSeq = plan.lastSeq
      }
      return resultOf(req.docId, plan)
    })
  }

  private slice(docId: PurchaseId, afterSeq: number, limit: number): MemEvent[] {
    const doc = this.open().docs.get(checkDocId(docId))
    checkSeq(afterSeq, 'afterSeq')
    // Sequence numbers are 1..lastSeq at index seq-1, so a cursor is an index.
    return doc === undefined ? [] : doc.events.slice(afterSeq, afterSeq + limit)
  }

  async readFrom(docId: PurchaseId, afterSeq: number, limit?: number): Promise<StoredEvent[]> {
    return this.slice(docId, afterSeq, checkLimit(limit)).map((e) => ({
      seq: e.seq,
      event: { ...e.prepared.event, deps: [...e.prepared.event.deps], meta: { ...e.prepared.event.meta }, payload: copy(e.payload) },
      storedAt: e.storedAt,
    }))
  }

  readPages(docId: PurchaseId, afterSeq: number, pageSize: number = DEFAULT_PAGE): AsyncIterable<StoredEvent[]> {
    checkDocId(docId)
    checkSeq(afterSeq, 'afterSeq')
    const size = checkLimit(pageSize)
    return pagesOf((after, limit) => this.readFrom(docId, after, limit), afterSeq, size)
  }

  async readSummaries(docId: PurchaseId, afterSeq: number, limit?: number): Promise<EventSummary[]> {
    return this.slice(docId, afterSeq, checkLimit(limit)).map((e) => {
      const ev = e.prepared.event
      return {
        seq: e.seq, id: ev.id, actor: ev.actor, actorSeq: ev.seq, hlc: ev.hlc, kind: ev.kind, deps: [...ev.deps],
        meta: { ...ev.meta }, payloadSize: e.payload.byteLength, storedAt: e.storedAt,
      }
    })
  }

  private info(docId: PurchaseId, doc: MemDoc): DocInfo {
    const number = this.state.numbers.get(docId)
    return { docId, backend: doc.backend, lastSeq: doc.lastSeq, createdAt: doc.createdAt, ...(number === undefined ? {} : { number }) }
  }

  async getDoc(docId: PurchaseId): Promise<DocInfo | undefined> {
    const doc = this.open().docs.get(checkDocId(docId))
    return doc === undefined ? undefined : this.info(docId, doc)
  }

  async listDocs(options: ListDocsOptions): Promise<DocInfo[]> {
    const state = this.open()
    const limit = checkLimit(options.limit)
    const after = options.after === undefined ? undefined : checkDocId(options.after)
    // Byte order, as SQLite and Postgres (COLLATE "C") sort the ids.
    const ids = [...state.docs.keys()].filter((id) => after === undefined || id > after).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    return ids.slice(0, limit).map((id) => this.info(id, state.docs.get(id)!))
  }

  async putSnapshot(docId: PurchaseId, snapshot: SnapshotInput): Promise<PutSnapshotResult> {
    const state = this.open()
    const id = checkDocId(docId)
    const snap = checkSnapshot(snapshot)
    const doc = state.docs.get(id)
    if (doc === undefined) fail('NOT_FOUND', `no document ${id}`, { docId: id })
    if (snap.upToSeq > doc.lastSeq) fail('INVALID_ARGUMENT', `snapshot upToSeq ${snap.upToSeq} is past the document's last event ${doc.lastSeq}`)
    const list = state.snapshots.get(id) ?? []
    if (list.some((s) => s.upToSeq > snap.upToSeq)) return { written: false }
    const serial = ++state.serial
    list.push({ docId: id, upToSeq: snap.upToSeq, heads: [...snap.heads], bytes: copy(snap.bytes), createdAt: this.stamp(), serial })
    state.snapshots.set(id, list)
    await this.hooks.afterSnapshotWrite?.()
    const keep = (s: MemSnapshot) => s.upToSeq > snap.upToSeq || (s.upToSeq === snap.upToSeq && s.serial >= serial)
    state.snapshots.set(id, (state.snapshots.get(id) ?? []).filter(keep))
    return { written: true }
  }

  private ordered(docId: PurchaseId): MemSnapshot[] {
    return [...(this.open().snapshots.get(checkDocId(docId)) ?? [])].sort((a, b) => a.upToSeq - b.upToSeq || a.serial - b.serial)
  }

  async latestSnapshot(docId: PurchaseId): Promise<StoredSnapshot | undefined> {
    const s = this.ordered(docId).at(-1)
    return s === undefined ? undefined : { docId: s.docId, upToSeq: s.upToSeq, heads: [...s.heads], bytes: copy(s.bytes), createdAt: s.createdAt }
  }

  async listSnapshots(docId: PurchaseId): Promise<SnapshotInfo[]> {
    return this.ordered(docId).map((s) => ({ upToSeq: s.upToSeq, size: s.bytes.byteLength, createdAt: s.createdAt }))
  }

  async allocateNumber(docId: PurchaseId, year: number): Promise<string> {
    const state = this.open()
    const id = checkDocId(docId)
    const y = checkYear(year)
    const existing = state.numbers.get(id)
    if (existing !== undefined) return existing
    const n = (state.counters.get(y) ?? 0) + 1
    state.counters.set(y, n)
    const number = formatNumber(y, n)
    state.numbers.set(id, number)
    return number
  }

  async relayId(): Promise<ReplicaId> {
    return this.open().relayId
  }

  async actorOwners(actors: readonly ReplicaId[]): Promise<Map<ReplicaId, string>> {
    const owners = this.open().owners
    const out = new Map<ReplicaId, string>()
    for (const a of checkActors(actors)) {
      const subject = owners.get(a)
      if (subject !== undefined) out.set(a, subject)
    }
    return out
  }

  async actorHeads(docId: PurchaseId, actors: readonly ReplicaId[]): Promise<Map<ReplicaId, number>> {
    const doc = this.open().docs.get(checkDocId(docId))
    const out = new Map<ReplicaId, number>()
    for (const a of checkActors(actors)) {
      const head = doc?.heads.get(a)
      if (head !== undefined) out.set(a, head)
    }
    return out
  }

  async ping(): Promise<void> {
    this.open()
  }

  async close(): Promise<void> {
    this.closed = true
  }
}
