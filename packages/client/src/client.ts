/**
 * The sync client: purchases kept in local storage, synced over one socket.
 * This class is the public face; the work is done by parts that each hold one
 * concern, all sharing one context (context.ts):
 *
 *   documents.ts  loaded replicas, local commands saved to the store and outbox
 *   connector.ts  the connection over time: loop, backoff, breaker, token refresh
 *   inbound.ts    the relay's messages applied to the store (acks, refusals...)
 *   sender.ts     the outbox drained onto the socket, by priority and limits
 *   status.ts     status derived on demand, explanations, dead letters
 *
 * Dependencies point one way: client -> status, sender -> inbound ->
 * connector, documents -> context -> outbox, search, notifications, storage.
 * Everything that changes the client's state runs through the context's
 * serial queue, so the store, the in-memory index and the replicas never
 * disagree.
 */
import {
  type BackendName, type CurrencyExponent, type EventId, type PurchaseId, type ReplicaId, ConcordError, DEFAULT_BACKEND, PurchaseReplica,
  backendNamed, createUlidFactory, formatMinor, instantFromEpochMs, parsePurchaseId, parseReplicaId,
} from '@concord/core'
import { absorbSeats } from './absorb.js'
import { Connector } from './connector.js'
import { ClientContext } from './context.js'
import { newDocRecord } from './doc-summary.js'
import { Documents } from './documents.js'
import { type DocChange, PurchaseHandle } from './handle.js'
import { Inbound } from './inbound.js'
import { SeatKeeper } from './seat-keeper.js'
import { RANK, Sender } from './sender.js'
import { StatusView } from './status.js'
import { webLocksLiveness } from './storage/seats.js'
import { ClientStore, type DocRecord } from './storage/store.js'
import type {
  ClientOptions, ClientStatus, CreateOptions, DeadLetter, DocStatus, EventAckStatus, Notification, PurchaseSummary, QueueStats,
} from './types.js'

export { summarize } from './doc-summary.js'

/** Creates a client, opening (and if needed migrating) its store first. */
export async function createClient(options: ClientOptions): Promise<SyncClient> {
  return SyncClient.create(options)
}

export class SyncClient {
  readonly replicaId: ReplicaId
  private readonly ctx: ClientContext
  private readonly documents: Documents
  private readonly connector: Connector
  private readonly inbound: Inbound
  private readonly sender: Sender
  private readonly view: StatusView
  private readonly seat: SeatKeeper
  /** Documents another instance of the store saved changes to, to carry in ('all': every one). */
  private news: Set<PurchaseId> | 'all' | null = null
  private readonly statusListeners = new Set<(s: ClientStatus) => void>()
  private statusScheduled = false

  private constructor(
    private readonly o: ClientOptions,
    store: ClientStore,
  ) {
    this.ctx = new ClientContext(o, store, { kick: () => this.sender.kick(), emitStatus: () => this.emitStatus(), saved: (id) => this.seat.announce(id), storeFailed: (e) => this.connector.storeFailed(e) })
    this.replicaId = this.ctx.replicaId
    this.documents = new Documents(this.ctx)
    this.connector = new Connector(this.ctx)
    this.inbound = new Inbound(this.ctx, this.documents, this.connector)
    this.sender = new Sender(this.ctx, this.connector, this.inbound)
    this.view = new StatusView(this.ctx, this.connector, this.documents)
    this.connector.handleMessages((m, gen) => this.inbound.handle(m, gen))
    this.seat = new SeatKeeper(this.ctx, (e) => this.connector.storeFailed(new ConcordError('STORE_IN_USE', e.message)), (id) => this.hearNews(id))
  }

  /** Another running instance of the store saved changes: carry them in soon (coalesced). */
  private hearNews(id: string | undefined): void {
    if (this.ctx.closed) return
    const first = this.news === null
    if (id === undefined || this.news === 'all') this.news = 'all'
    else {
      const set: Set<PurchaseId> = this.news ?? new Set()
      set.add(id as PurchaseId)
      this.news = set
    }
    if (first) this.ctx.timers.setTimeout(() => void this.absorb().catch((e) => this.connector.storeFailed(e)), 20)
  }

  /** Carries in what the store's other seats hold (storage/seats.ts), and subscribes to purchases new to this seat. */
  private async absorb(): Promise<void> {
    const news = this.news
    this.news = null
    if (news === null || this.ctx.closed) return
    const docs = news === 'all' ? [undefined] : [...news]
    const added: PurchaseId[] = []
    for (const only of docs) {
      const r = await this.ctx.serial(() => absorbSeats(this.ctx, this.documents, only))
      added.push(...r.added)
    }
    for (const id of added) this.connector.subscribe(id)
    this.ctx.kick()
    this.emitStatus()
  }

  static async create(o: ClientOptions): Promise<SyncClient> {
    if (typeof o.url !== 'string' || !/^wss?:\/\//.test(o.url)) throw new ConcordError('INVALID_ARGUMENT', `url must be ws:// or wss://, got ${JSON.stringify(o.url)}`, { field: 'url' })
    if (typeof o.token !== 'string' && typeof o.token !== 'function') throw new ConcordError('INVALID_ARGUMENT', 'token must be a string or a function', { field: 'token' })
    if (o.storage === undefined) throw new ConcordError('INVALID_ARGUMENT', 'storage is required: memoryStorage(), sqliteStorage(path) or indexedDbStorage(name)', { field: 'storage' })
    if (o.backend !== undefined) backendNamed(o.backend)
    const now = o.now ?? (() => Date.now())
    const random = o.random ?? Math.random
    const newUlid = createUlidFactory(now, random)
    const liveness = o.seatLiveness ?? webLocksLiveness() ?? {}
    const store = await ClientStore.open(o.storage, {
      ...(o.encryptionKey !== undefined ? { encryptionKey: o.encryptionKey } : {}),
      ...(o.replicaId !== undefined ? { replicaId: o.replicaId } : {}),
      ...(o.seatTtlMs !== undefined ? { seatTtlMs: o.seatTtlMs } : {}),
      now: () => instantFromEpochMs(now()),
      nowMs: now,
      holder: newUlid().toLowerCase(),
      liveness,
      newReplicaId: () => o.replicaId ?? parseReplicaId(`c${newUlid().toLowerCase()}`),
    })
    if (o.replicaId !== undefined && o.replicaId !== store.replicaId) {
      await store.close()
      throw new ConcordError('INVALID_ARGUMENT', `replicaId ${o.replicaId} differs from the store's ${store.replicaId}: one store belongs to one replica`, { field: 'replicaId' })
    }
    const c = new SyncClient(o, store)
    try {
      await c.ctx.restore()
      // What the store's other seats hold (another tab's offline work, a crashed instance's outbox) comes in before anything syncs.
      await absorbSeats(c.ctx, c.documents)
    } catch (e) {
      await store.close()
      throw e
    }
    c.seat.start()
    if (o.autoConnect !== false) c.connector.start()
    return c
  }

  // ------------------------------------------------------------ documents

  async createPurchase(input: CreateOptions): Promise<PurchaseHandle> {
    this.live()
    const { ctx, documents } = this
    const id = parsePurchaseId(input.id ?? ctx.newId())
    const backend = input.backend ?? this.o.backend ?? DEFAULT_BACKEND
    backendNamed(backend)
    if (input.priority !== undefined && RANK[input.priority] === undefined) throw new ConcordError('INVALID_ARGUMENT', 'priority must be high, normal or low', { field: 'priority' })
    return ctx.serial(async () => {
      if (ctx.docs.has(id)) throw new ConcordError('COMMAND_REFUSED', `purchase ${id} already exists on this device`)
      const d = newDocRecord(id, backend, input.priority ?? null)
      const { id: _i, priority: _p, backend: _b, ...init } = input
      const r = PurchaseReplica.create(documents.replicaOptions(d), init)
      ctx.docs.set(id, d)
      try {
        await documents.persistLocal(id, r, [...r.log.events()])
      } catch (e) {
        ctx.docs.delete(id)
        throw e
      }
      documents.adopt(id, r)
      documents.pin(id)
      this.connector.subscribe(id)
      ctx.kick()
      this.emitStatus()
      return new PurchaseHandle(this, id)
    })
  }

  /** Opens a purchase by id: local state first, then it syncs (a purchase not yet on the device arrives from the relay). */
  async open(purchaseId: PurchaseId | string, options: { backend?: BackendName } = {}): Promise<PurchaseHandle> {
    this.live()
    const { ctx } = this
    const id = parsePurchaseId(purchaseId)
    return ctx.serial(async () => {
      if (!ctx.docs.has(id)) {
        const d = newDocRecord(id, options.backend ?? this.o.backend ?? DEFAULT_BACKEND, null)
        await ctx.store.batch().putDoc(d).commit()
        ctx.docs.set(id, d)
        this.connector.subscribe(id)
        this.emitStatus()
      }
      await this.documents.replicaFor(id)
      this.documents.pin(id)
      return new PurchaseHandle(this, id)
    })
  }

  /** @internal the replica behind a handle (always loaded while the handle is open). */
  currentReplica(id: PurchaseId): PurchaseReplica {
    return this.documents.current(id)
  }

  /** @internal */
  unpin(id: PurchaseId): void {
    this.documents.unpin(id)
  }

  /** @internal */
  onDocChange(id: PurchaseId, cb: (c: DocChange) => void): () => void {
    return this.documents.onChange(id, cb)
  }

  /** @internal runs a command on a document; resolves once its events are saved. */
  async run<T>(id: PurchaseId, cmd: (r: PurchaseReplica) => T): Promise<T> {
    this.live()
    return this.documents.run(id, cmd)
  }

  /** @internal resolves once every local event made so far on the document is saved. */
  flushed(id: PurchaseId): Promise<void> {
    return this.documents.flushed(id)
  }

  // ------------------------------------------------------------ reading

  list(): PurchaseSummary[] {
    return [...this.ctx.docs.values()].map((d) => this.summaryOf(d)).sort((a, b) => (a.id < b.id ? -1 : 1))
  }

  search(text: string): PurchaseSummary[] {
    return this.ctx.search.search(text).map((id) => this.ctx.docs.get(id)).filter((d): d is DocRecord => d !== undefined).map((d) => this.summaryOf(d))
  }

  private summaryOf(d: DocRecord): PurchaseSummary {
    const s = d.summary
    const st = this.docStatus(d.id)
    let total = ''
    if (s.exists) {
      try {
        total = `${formatMinor(BigInt(s.total), s.exponent as CurrencyExponent)} ${s.currency}`
      } catch {
        total = `${s.total} (minor units) ${s.currency}`
      }
    }
    return {
      id: d.id, number: s.number, supplier: s.supplier, status: s.lifecycle, total, currency: s.currency,
      conflicts: s.conflictIds.length, sync: st.state, pending: st.pending, exists: s.exists,
    }
  }

  // ------------------------------------------------------------ status

  get status(): ClientStatus {
    return this.view.client()
  }

  docStatus(id: PurchaseId): DocStatus {
    return this.view.doc(id)
  }

  explain(docId: PurchaseId | string): string {
    return this.view.explain(docId)
  }

  onStatus(cb: (s: ClientStatus) => void): () => void {
    this.statusListeners.add(cb)
    return () => this.statusListeners.delete(cb)
  }

  onNotification(cb: (n: Notification) => void): () => void {
    return this.ctx.notifier.on(cb)
  }

  private emitStatus(): void {
    if (this.statusScheduled) return
    this.statusScheduled = true
    queueMicrotask(() => {
      this.statusScheduled = false
      if (this.statusListeners.size === 0) return
      const s = this.status
      for (const l of [...this.statusListeners]) {
        try {
          l(s)
        } catch {
          // a listener's failure is its own
        }
      }
    })
  }

  queueStats(): QueueStats {
    return this.ctx.outbox.stats()
  }

  deadLetters(): DeadLetter[] {
    return this.view.deadLetters()
  }

  /**
   * Takes a document off the dead-letter list and resumes its syncing. The
   * refused changes themselves cannot be sent again: each was undone on this
   * device when it was refused, with every own change built on it (they stay
   * listed in `rejected` of the dead letter and in the document status), and
   * the device writes the document as a fresh actor since. What is sent is
   * what was held back: own changes saved before the refusal and not yet
   * acknowledged, and those made after it.
   */
  async retryDeadLetter(docId: PurchaseId | string): Promise<void> {
    const { ctx } = this
    const id = parsePurchaseId(docId)
    await ctx.serial(async () => {
      const d = ctx.docs.get(id)
      if (d === undefined || d.dead === null) return
      const next = { ...d, dead: null, rejectStreak: 0 }
      await ctx.store.batch().putDoc(next).commit()
      ctx.docs.set(id, next)
    })
    ctx.kick()
    this.emitStatus()
  }

  /** @internal the acknowledgement ladder of one event. */
  eventStatus(id: PurchaseId, eventId: EventId): EventAckStatus {
    return this.view.event(id, eventId)
  }

  // ------------------------------------------------------------ connection

  /** Stops syncing until goOnline (the app's offline switch); local work goes on. */
  goOffline(): void {
    this.connector.goOffline()
  }

  goOnline(): void {
    this.connector.goOnline()
  }

  /** Syncs now: skips a pending backoff wait, clears a fatal error to try again, pings a live socket. */
  forceSync(): void {
    this.connector.forceSync()
  }

  // ------------------------------------------------------------ lifecycle

  private live(): void {
    if (this.ctx.closed) throw new ConcordError('STORE_CLOSED', 'the client is closed')
  }

  /**
   * Closes the socket and the store. `abandon: true` stops at once without
   * waiting for queued writes (a simulated crash, for tests).
   */
  async close(options: { abandon?: boolean } = {}): Promise<void> {
    const { ctx } = this
    if (ctx.closed) return
    ctx.closed = true
    this.seat.stop()
    this.connector.close()
    if (options.abandon !== true) await ctx.drained()
    await ctx.store.close({ abandon: options.abandon === true })
  }
}
