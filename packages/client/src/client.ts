/**
 * The sync client: purchases kept in local storage, synced over one socket.
 *
 * Everything that changes the client's state (a local command's events being
 * saved, a relay message being applied) runs through one serial queue, so the
 * store, the in-memory index and the replicas never disagree. Status is never
 * counted: it is computed on demand from the outbox (what is saved and not
 * acknowledged), the documents' cursors and the connection.
 */
import * as core from '@concord/core'
import {
  type BackendName, type CrdtBackend, type EventEnvelope, type EventId, type Priority, type PurchaseId,
  type ReplicaId, ConcordError, PurchaseReplica, createUlidFactory, formatMinor, instantFromEpochMs,
  isConcordError, parsePurchaseId, parseReplicaId, priorityOf, yjsBackend,
} from '@concord/core'
import type { CurrencyExponent } from '@concord/core'
import type { AckMessage, CaughtUpMessage, EventsMessage, RejectMessage, ServerMessage, ValidatedMessage, WelcomeMessage } from '@concord/core/protocol'
import { BrokenCircuitError } from 'cockatiel'
import { Session, SessionFailure, type SessionEnd, errorOf } from './connection.js'
import { PurchaseHandle, type DocChange } from './handle.js'
import { NetworkMonitor } from './network.js'
import { Notifier } from './notifications.js'
import { RetryState } from './retry.js'
import { PurchaseSearch } from './search.js'
import { ClientStore, type DocRecord, type DocSummary, type OutboxEntry, eventKey } from './storage/store.js'
import type {
  ClientError, ClientOptions, ClientStatus, ConnectionStatus, CreateOptions, DeadLetter, DocStatus, EventAckStatus,
  Notification, PurchaseSummary, QueueStats, SyncState, Timers, WebSocketConstructor,
} from './types.js'

const RANK: Record<Priority, number> = { high: 0, normal: 1, low: 2 }
const CLIENT_NAME = 'concord-client/0.1.0'
/** Bytes a push frame spends besides its events (type, document id, count). */
const FRAME_OVERHEAD = 160

const defaultTimers: Timers = {
  setTimeout: (f, ms) => globalThis.setTimeout(f, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
}

function backendByName(name: BackendName): CrdtBackend {
  if (name === 'yjs') return yjsBackend
  const am = (core as unknown as Record<string, unknown>).automergeBackend as CrdtBackend | undefined
  if (am === undefined) throw new ConcordError('INVALID_ARGUMENT', `backend ${name} is not available in this build of @concord/core`, { field: 'backend' })
  return am
}

function emptySummary(): DocSummary {
  return { exists: false, number: null, supplier: '', lifecycle: 'draft', total: '0' as DocSummary['total'], currency: '', exponent: 2, conflictIds: [], lines: '', notes: '' }
}

export function summarize(r: PurchaseReplica): DocSummary {
  if (!r.exists) return emptySummary()
  const s = r.state()
  const d = r.derived()
  const live = s.lines.filter((l) => !l.removed)
  return {
    exists: true,
    number: s.number,
    supplier: s.supplier.values.join(' / '),
    lifecycle: d.lifecycle.state,
    total: core.minorToString(d.totals.total),
    currency: s.currency.values.join('/'),
    exponent: s.settings.currencyExponent,
    conflictIds: r.conflicts().map((c) => c.id),
    lines: live.map((l) => `${l.product} ${l.description}`.trim()).join('\n'),
    notes: s.notes,
  }
}

/** Creates a client, opening (and if needed migrating) its store first. */
export async function createClient(options: ClientOptions): Promise<SyncClient> {
  return SyncClient.create(options)
}

interface InFlight {
  readonly docId: PurchaseId
  readonly seq: number
  readonly bytes: number
}

export class SyncClient {
  readonly replicaId: ReplicaId
  private readonly now: () => number
  private readonly timers: Timers
  private readonly newId: () => string
  private readonly WS: WebSocketConstructor | undefined
  private readonly docs = new Map<PurchaseId, DocRecord>()
  /** Own events saved and not acknowledged, per document, in own sequence order (metadata only; payloads stay in the store). */
  private readonly outbox = new Map<PurchaseId, OutboxEntry[]>()
  private readonly inFlight = new Map<string, InFlight>()
  private inFlightBytes = 0
  /** Loaded replicas, least recently used first. */
  private readonly replicas = new Map<PurchaseId, PurchaseReplica>()
  private readonly pins = new Map<PurchaseId, number>()
  /** Local events a command made that are not yet saved, per document. */
  private readonly unsaved = new Map<PurchaseId, EventEnvelope[]>()
  private readonly flushes = new Map<PurchaseId, Promise<void>>()
  private readonly docListeners = new Map<PurchaseId, Set<(c: DocChange) => void>>()
  private readonly docErrors = new Map<PurchaseId, ClientError>()
  /** Subscriptions of the current session: false until caughtUp. */
  private readonly subs = new Map<PurchaseId, boolean>()
  private readonly statusListeners = new Set<(s: ClientStatus) => void>()
  private readonly search_ = new PurchaseSearch()
  private readonly notifier: Notifier
  private readonly network = new NetworkMonitor()
  private readonly retry: RetryState
  private queue: Promise<unknown> = Promise.resolve()
  private session: Session | null = null
  private welcome: WelcomeMessage | null = null
  private sessionGen = 0
  private connState: ConnectionStatus['state'] = 'idle'
  private attempts = 0
  private nextRetryAt: number | null = null
  private lastDelay: number | null = null
  private lastError: ClientError | null = null
  private fatal: ClientError | null = null
  private looping = false
  private wakeSleep: (() => void) | null = null
  private refreshTimer: unknown = null
  private tokenRefreshedFor = false
  private wasConnected = false
  private statusScheduled = false
  private pumpScheduled = false
  private pumping = false
  private pumpAgain = false
  private closed = false

  private constructor(
    private readonly o: ClientOptions,
    private readonly store: ClientStore,
  ) {
    this.replicaId = store.replicaId
    this.now = o.now ?? (() => Date.now())
    this.timers = o.timers ?? defaultTimers
    this.newId = createUlidFactory(this.now, o.random ?? Math.random)
    this.WS = o.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket
    this.notifier = new Notifier(this.now, (ms) => instantFromEpochMs(ms), o.notificationIntervalMs ?? 5000)
    this.retry = new RetryState(o.retry, o.random ?? Math.random, (e) => e instanceof SessionFailure && e.end.action !== 'reconnect')
    this.retry.breaker.onStateChange(() => this.emitStatus())
    this.network.onChange(() => this.onNetworkChange())
  }

  static async create(o: ClientOptions): Promise<SyncClient> {
    if (typeof o.url !== 'string' || !/^wss?:\/\//.test(o.url)) throw new ConcordError('INVALID_ARGUMENT', `url must be ws:// or wss://, got ${JSON.stringify(o.url)}`, { field: 'url' })
    if (typeof o.token !== 'string' && typeof o.token !== 'function') throw new ConcordError('INVALID_ARGUMENT', 'token must be a string or a function', { field: 'token' })
    if (o.storage === undefined) throw new ConcordError('INVALID_ARGUMENT', 'storage is required: memoryStorage(), sqliteStorage(path) or indexedDbStorage(name)', { field: 'storage' })
    if (o.backend !== undefined) backendByName(o.backend)
    const now = o.now ?? (() => Date.now())
    const random = o.random ?? Math.random
    const store = await ClientStore.open(o.storage, {
      ...(o.encryptionKey !== undefined ? { encryptionKey: o.encryptionKey } : {}),
      now: () => instantFromEpochMs(now()),
      newReplicaId: () => o.replicaId ?? parseReplicaId(`c${createUlidFactory(now, random)().toLowerCase()}`),
    })
    if (o.replicaId !== undefined && o.replicaId !== store.replicaId) {
      await store.close()
      throw new ConcordError('INVALID_ARGUMENT', `replicaId ${o.replicaId} differs from the store's ${store.replicaId}: one store belongs to one replica`, { field: 'replicaId' })
    }
    const c = new SyncClient(o, store)
    await c.restore()
    if (o.autoConnect !== false) c.startLoop()
    return c
  }

  private async restore(): Promise<void> {
    for (const d of await this.store.loadDocs()) {
      this.docs.set(d.id, d)
      if (d.summary.exists) this.search_.put(d.id, d.summary)
    }
    for (const e of await this.store.loadOutbox()) {
      const list = this.outbox.get(e.docId) ?? []
      list.push(e)
      this.outbox.set(e.docId, list)
    }
    for (const list of this.outbox.values()) list.sort((a, b) => a.seq - b.seq)
  }

  private iso(ms = this.now()): string {
    return instantFromEpochMs(ms)
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f)
    this.queue = run.catch(() => undefined)
    return run
  }

  // ------------------------------------------------------------ documents

  private replicaOptions(d: DocRecord) {
    return {
      docId: d.id, replica: this.replicaId, backend: backendByName(d.backend), now: this.now, newId: this.newId,
      ...(this.o.user !== undefined ? { user: this.o.user } : {}),
      ...(this.o.device !== undefined ? { device: this.o.device } : {}),
    }
  }

  private adopt(id: PurchaseId, r: PurchaseReplica): PurchaseReplica {
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
    const limit = this.o.cacheSize ?? 16
    let loose = [...this.replicas.keys()].filter((id) => !this.pins.has(id) && !this.unsaved.has(id))
    while (loose.length > limit) {
      this.replicas.delete(loose[0]!)
      loose = loose.slice(1)
    }
  }

  /** The loaded replica of a document, loading it from the store if needed. Call inside the queue. */
  private async replicaFor(id: PurchaseId): Promise<PurchaseReplica> {
    const cached = this.replicas.get(id)
    if (cached !== undefined) {
      this.replicas.delete(id)
      this.replicas.set(id, cached)
      return cached
    }
    const d = this.docs.get(id)
    if (d === undefined) throw new ConcordError('NOT_FOUND', `purchase ${id} is not on this device`)
    const events = await this.store.loadEvents(id)
    const again = this.replicas.get(id)
    if (again !== undefined) return again
    return this.adopt(id, PurchaseReplica.fromEvents(this.replicaOptions(d), events))
  }

  /** @internal the replica behind a handle (always loaded while the handle is open). */
  currentReplica(id: PurchaseId): PurchaseReplica {
    const r = this.replicas.get(id)
    if (r === undefined) throw new ConcordError('STORE_CLOSED', `purchase ${id} is not loaded (its handle was closed)`)
    return r
  }

  private newDocRecord(id: PurchaseId, backend: BackendName, priority: Priority | null): DocRecord {
    return {
      id, backend, cursor: 0, eventCount: 0, priority, localSeq: 0, ackedSeq: 0, lastAckCursor: 0, validatedCursor: 0,
      unvalidated: [], relayConflicts: [], rejected: [], rejectStreak: 0, dead: null, lastSyncedAt: null, summary: emptySummary(),
    }
  }

  async createPurchase(input: CreateOptions): Promise<PurchaseHandle> {
    this.live()
    const id = parsePurchaseId(input.id ?? this.newId())
    const backend = input.backend ?? this.o.backend ?? 'yjs'
    backendByName(backend)
    if (input.priority !== undefined && RANK[input.priority] === undefined) throw new ConcordError('INVALID_ARGUMENT', 'priority must be high, normal or low', { field: 'priority' })
    return this.serial(async () => {
      if (this.docs.has(id)) throw new ConcordError('COMMAND_REFUSED', `purchase ${id} already exists on this device`)
      const d = this.newDocRecord(id, backend, input.priority ?? null)
      const { id: _i, priority: _p, backend: _b, ...init } = input
      const r = PurchaseReplica.create(this.replicaOptions(d), init)
      this.docs.set(id, d)
      try {
        await this.persistLocal(id, r, [...r.log.events()])
      } catch (e) {
        this.docs.delete(id)
        throw e
      }
      this.adopt(id, r)
      this.pin(id)
      this.subscribe(id)
      this.kick()
      this.emitStatus()
      return new PurchaseHandle(this, id)
    })
  }

  /** Opens a purchase by id: local state first, then it syncs (a purchase not yet on the device arrives from the relay). */
  async open(purchaseId: PurchaseId | string, options: { backend?: BackendName } = {}): Promise<PurchaseHandle> {
    this.live()
    const id = parsePurchaseId(purchaseId)
    return this.serial(async () => {
      if (!this.docs.has(id)) {
        const d = this.newDocRecord(id, options.backend ?? this.o.backend ?? 'yjs', null)
        await this.store.batch().putDoc(d).commit()
        this.docs.set(id, d)
        this.subscribe(id)
        this.emitStatus()
      }
      await this.replicaFor(id)
      this.pin(id)
      return new PurchaseHandle(this, id)
    })
  }

  private pin(id: PurchaseId): void {
    this.pins.set(id, (this.pins.get(id) ?? 0) + 1)
  }

  /** @internal */
  unpin(id: PurchaseId): void {
    const n = (this.pins.get(id) ?? 1) - 1
    if (n <= 0) this.pins.delete(id)
    else this.pins.set(id, n)
    this.evict()
  }

  /** @internal */
  onDocChange(id: PurchaseId, cb: (c: DocChange) => void): () => void {
    const set = this.docListeners.get(id) ?? new Set()
    set.add(cb)
    this.docListeners.set(id, set)
    return () => set.delete(cb)
  }

  private fire(id: PurchaseId, c: DocChange): void {
    for (const l of [...(this.docListeners.get(id) ?? [])]) {
      try {
        l(c)
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** @internal runs a command on a document; resolves once its events are saved. */
  async run<T>(id: PurchaseId, cmd: (r: PurchaseReplica) => T): Promise<T> {
    this.live()
    const r = this.replicas.get(id) ?? (await this.serial(() => this.replicaFor(id)))
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

  /** @internal resolves once every local event made so far on the document is saved. */
  flushed(id: PurchaseId): Promise<void> {
    return this.flushes.get(id) ?? Promise.resolve()
  }

  private scheduleFlush(id: PurchaseId): void {
    if (this.flushes.has(id)) return
    const p = this.serial(async () => {
      this.flushes.delete(id)
      const events = this.unsaved.get(id) ?? []
      this.unsaved.delete(id)
      if (events.length === 0) return
      const r = this.replicas.get(id)!
      const before = this.docs.get(id)?.summary.conflictIds ?? []
      try {
        await this.persistLocal(id, r, events)
      } catch (e) {
        // The replica is ahead of the store: drop it and reload what was saved, so nothing unsaved is shown or sent.
        this.replicas.delete(id)
        if (!this.closed) {
          try {
            await this.replicaFor(id)
            this.fire(id, { origin: 'reload', events: [] })
          } catch {
            // the store itself is failing; the next open reports it
          }
        }
        throw e
      }
      this.afterChange(id, before, 'local', events)
      this.kick()
      this.emitStatus()
    })
    this.flushes.set(id, p)
    p.catch(() => undefined)
  }

  private async persistLocal(id: PurchaseId, r: PurchaseReplica, events: readonly EventEnvelope[]): Promise<void> {
    const d = this.docs.get(id)!
    const batch = this.store.batch()
    let n = d.eventCount
    const entries: OutboxEntry[] = []
    let localSeq = d.localSeq
    for (const e of events) {
      const key = eventKey(id, n++)
      const bytes = batch.putEvent(key, e)
      const entry: OutboxEntry = { id: e.id, docId: id, seq: e.seq, kind: e.kind, priority: e.meta.priority ?? priorityOf(e.kind), bytes, eventKey: key, savedAt: e.meta.at }
      batch.putOutbox(entry)
      entries.push(entry)
      localSeq = Math.max(localSeq, e.seq)
    }
    const next: DocRecord = { ...d, eventCount: n, localSeq, summary: summarize(r) }
    batch.putDoc(next)
    await batch.commit()
    this.docs.set(id, next)
    const list = this.outbox.get(id) ?? []
    list.push(...entries)
    this.outbox.set(id, list)
    if (next.summary.exists) this.search_.put(id, next.summary)
  }

  private afterChange(id: PurchaseId, before: readonly string[], origin: 'local' | 'remote', events: readonly EventEnvelope[]): void {
    const after = this.docs.get(id)?.summary.conflictIds ?? []
    const was = new Set(before)
    const now = new Set(after)
    const raised = after.filter((c) => !was.has(c))
    const closed = before.filter((c) => !now.has(c))
    if (raised.length > 0) this.notifier.emit({ type: 'conflict-raised', docId: id, conflicts: raised })
    if (origin === 'remote' && closed.length > 0) {
      const by = events.find((e) => e.kind === 'conflict.resolve' && e.actor !== this.replicaId)
      if (by !== undefined) this.notifier.emit({ type: 'conflict-resolved-elsewhere', docId: id, conflicts: closed, by: by.meta.user ?? by.actor })
    }
  }

  // ------------------------------------------------------------ reading

  list(): PurchaseSummary[] {
    return [...this.docs.values()].map((d) => this.summaryOf(d)).sort((a, b) => (a.id < b.id ? -1 : 1))
  }

  search(text: string): PurchaseSummary[] {
    return this.search_.search(text).map((id) => this.docs.get(id)).filter((d): d is DocRecord => d !== undefined).map((d) => this.summaryOf(d))
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
    const docs = new Map<PurchaseId, DocStatus>()
    const pending = { high: 0, normal: 0, low: 0 }
    let lastSyncedAt: string | null = null
    let anySyncing = false
    let anyError = false
    for (const id of this.docs.keys()) {
      const s = this.docStatus(id)
      docs.set(id, s)
      pending.high += s.pendingByPriority.high
      pending.normal += s.pendingByPriority.normal
      pending.low += s.pendingByPriority.low
      if (s.lastSyncedAt !== null && (lastSyncedAt === null || s.lastSyncedAt > lastSyncedAt)) lastSyncedAt = s.lastSyncedAt
      if (s.state === 'syncing') anySyncing = true
      if (s.state === 'error') anyError = true
    }
    let overall: SyncState
    if (this.fatal !== null || anyError) overall = 'error'
    else if (!this.connected) overall = this.connState === 'connecting' ? 'connecting' : 'offline'
    else overall = anySyncing ? 'syncing' : 'synced'
    const firstDocError = [...this.docs.keys()].map((id) => docs.get(id)!).find((s) => s.state === 'error')
    const error = this.fatal ?? (firstDocError !== undefined ? { code: 'DOCUMENT_ERROR', message: firstDocError.reason ?? 'a document failed', fatal: false } : undefined)
    return {
      overall, docs, pending, lastSyncedAt,
      connection: this.connectionStatus(),
      network: this.network.info(),
      ...(error !== undefined ? { error } : {}),
    }
  }

  private connectionStatus(): ConnectionStatus {
    return {
      state: this.connState,
      attempt: this.attempts,
      nextRetryAt: this.connState === 'waiting' && this.nextRetryAt !== null ? this.iso(this.nextRetryAt) : null,
      lastDelayMs: this.lastDelay,
      breaker: this.retry.breakerState,
      lastError: this.fatal ?? this.lastError,
    }
  }

  private get connected(): boolean {
    return this.session !== null && this.session.open
  }

  docStatus(id: PurchaseId): DocStatus {
    const d = this.docs.get(id)
    if (d === undefined) throw new ConcordError('NOT_FOUND', `purchase ${id} is not on this device`)
    const entries = this.outbox.get(id) ?? []
    const byP = { high: 0, normal: 0, low: 0 }
    for (const e of entries) byP[e.priority] += 1
    const pending = entries.length
    const caughtUp = this.subs.get(id) === true
    const validated = d.unvalidated.length === 0
    let state: SyncState
    let reason: string | null = null
    const docError = this.docErrors.get(id)
    const waitWord = pending === 0 ? 'nothing is waiting to be sent' : `${pending} saved change${pending === 1 ? '' : 's'} (${byP.high} high, ${byP.normal} normal, ${byP.low} low priority) wait${pending === 1 ? 's' : ''} to be sent`
    if (d.dead !== null) {
      state = 'error'
      reason = `the relay keeps refusing this purchase's changes, so it was set aside (dead letter) and does not hold up the others: ${d.dead.reason}; ${waitWord}`
    } else if (docError !== undefined) {
      state = 'error'
      reason = `the relay refused this purchase: ${docError.code}: ${docError.message}`
    } else if (this.fatal !== null) {
      state = 'error'
      reason = `syncing stopped: ${this.fatal.code}: ${this.fatal.message}; ${waitWord}`
    } else if (!this.connected) {
      state = this.connState === 'connecting' ? 'connecting' : 'offline'
      reason = `${this.offlineReason()}; ${waitWord}`
    } else if (pending > 0) {
      state = 'syncing'
      const flying = entries.filter((e) => this.inFlight.has(`${id}/${e.id}`)).length
      reason = `${waitWord}: ${flying} sent and awaiting the relay's acknowledgement`
    } else if (!caughtUp) {
      state = 'syncing'
      reason = 'receiving the changes made elsewhere since the last sync'
    } else {
      state = 'synced'
    }
    return {
      state, pending, pendingByPriority: byP, localHead: d.localSeq, acked: d.ackedSeq, validatedCursor: d.validatedCursor, validated,
      rejected: d.rejected.length, caughtUp, cursor: d.cursor, deadLetter: d.dead !== null, lastSyncedAt: d.lastSyncedAt, reason,
    }
  }

  private offlineReason(): string {
    const net = this.network.info()
    switch (this.connState) {
      case 'offline':
        return this.network.isManualOffline ? 'the device was switched offline (goOffline)' : 'the device is offline (no network)'
      case 'policy':
        return `the sync policy holds syncing on this network (quality ${net.quality}${net.type !== null ? `, ${net.type}` : ''})`
      case 'connecting':
        return `connecting to the relay (attempt ${this.attempts + 1})`
      case 'waiting': {
        const err = this.lastError !== null ? `${this.lastError.code}: ${this.lastError.message}` : 'unknown error'
        const breaker = this.retry.breakerState === 'open' ? '; the circuit breaker is open after repeated failures' : ''
        return `the relay cannot be reached (${err}); attempt ${this.attempts} failed, next one at ${this.nextRetryAt !== null ? this.iso(this.nextRetryAt) : 'soon'}${breaker}`
      }
      case 'idle':
        return 'not connected (autoConnect is off: call goOnline or forceSync)'
      case 'stopped':
        return 'the client is closed'
      default:
        return 'not connected'
    }
  }

  explain(docId: PurchaseId | string): string {
    const id = parsePurchaseId(docId)
    const s = this.docStatus(id)
    const d = this.docs.get(id)!
    const name = d.summary.number ?? id
    if (s.state === 'synced') {
      const v = s.validated ? 'and the relay validated every acknowledged change' : 'the relay has not yet validated the latest acknowledged changes'
      return `${name} is synced: every change saved here (up to own event ${s.localHead}) is stored by the relay, ${v}; last synced ${s.lastSyncedAt ?? 'now'}.`
    }
    const rejected = s.rejected > 0 ? ` The relay refused ${s.rejected} change${s.rejected === 1 ? '' : 's'} (latest: ${d.rejected[d.rejected.length - 1]?.code}: ${d.rejected[d.rejected.length - 1]?.reason}).` : ''
    return `${name} is ${s.state}: ${s.reason}.${rejected}`
  }

  onStatus(cb: (s: ClientStatus) => void): () => void {
    this.statusListeners.add(cb)
    return () => this.statusListeners.delete(cb)
  }

  onNotification(cb: (n: Notification) => void): () => void {
    return this.notifier.on(cb)
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
    const byDoc: Record<string, number> = {}
    const byKind: Record<string, number> = {}
    const byPriority = { high: 0, normal: 0, low: 0 }
    let oldest: string | null = null
    for (const [id, list] of this.outbox) {
      if (list.length === 0) continue
      byDoc[id] = list.length
      for (const e of list) {
        byKind[e.kind] = (byKind[e.kind] ?? 0) + 1
        byPriority[e.priority] += 1
        if (oldest === null || e.savedAt < oldest) oldest = e.savedAt
      }
    }
    return { byDoc, byKind, byPriority, inFlight: this.inFlight.size, inFlightBytes: this.inFlightBytes, oldestSavedAt: oldest }
  }

  deadLetters(): DeadLetter[] {
    return [...this.docs.values()].filter((d) => d.dead !== null).map((d) => ({
      docId: d.id, reason: d.dead!.reason, at: d.dead!.at,
      events: (this.outbox.get(d.id) ?? []).map((e) => ({ id: e.id, kind: e.kind, priority: e.priority })),
      rejected: d.rejected.map((r) => ({ id: r.id, code: r.code, reason: r.reason })),
    }))
  }

  /** Takes a document off the dead-letter list and sends its held changes again. */
  async retryDeadLetter(docId: PurchaseId | string): Promise<void> {
    const id = parsePurchaseId(docId)
    await this.serial(async () => {
      const d = this.docs.get(id)
      if (d === undefined || d.dead === null) return
      const next = { ...d, dead: null, rejectStreak: 0 }
      await this.store.batch().putDoc(next).commit()
      this.docs.set(id, next)
    })
    this.kick()
    this.emitStatus()
  }

  /** @internal the acknowledgement ladder of one event. */
  eventStatus(id: PurchaseId, eventId: EventId): EventAckStatus {
    const d = this.docs.get(id)
    if (d === undefined) throw new ConcordError('NOT_FOUND', `purchase ${id} is not on this device`)
    if ((this.outbox.get(id) ?? []).some((e) => e.id === eventId) || (this.unsaved.get(id) ?? []).some((e) => e.id === eventId)) return 'saved'
    if (d.rejected.some((r) => r.id === eventId)) return 'rejected'
    const dot = eventId.lastIndexOf('.')
    const actor = eventId.slice(0, dot)
    const seq = Number(eventId.slice(dot + 1))
    if (actor === this.replicaId) {
      if (seq > d.localSeq) throw new ConcordError('UNKNOWN_EVENT', `no own event ${eventId} in ${id}`)
      return d.unvalidated.some((u) => u.seq >= seq) ? 'stored' : 'validated'
    }
    const r = this.replicas.get(id)
    if (r !== undefined && !r.log.has(eventId)) throw new ConcordError('UNKNOWN_EVENT', `no event ${eventId} in ${id}`)
    // Events from elsewhere reached this device through the relay: stored, and validated once the relay validated up to its cursor.
    return d.validatedCursor >= d.cursor ? 'validated' : 'stored'
  }

  // ------------------------------------------------------------ connection

  /** Stops syncing until goOnline (the app's offline switch); local work goes on. */
  goOffline(): void {
    this.network.setManualOffline(true)
  }

  goOnline(): void {
    this.network.setManualOffline(false)
    this.startLoop()
  }

  /** Syncs now: skips a pending backoff wait, clears a fatal error to try again, pings a live socket. */
  forceSync(): void {
    if (this.closed) return
    if (this.fatal !== null) {
      this.fatal = null
      this.tokenRefreshedFor = false
    }
    if (this.connected) {
      this.session!.ping()
      this.kick()
    } else {
      this.startLoop()
      this.wakeSleep?.()
    }
    this.emitStatus()
  }

  private onNetworkChange(): void {
    if (this.closed) return
    const net = this.network.info()
    const allowed = net.online && (this.o.policy === undefined || this.o.policy(net))
    if (!allowed && this.session !== null) {
      this.endSession({ code: net.online ? 'POLICY' : 'OFFLINE', message: net.online ? 'the sync policy holds syncing' : 'went offline', action: 'reconnect', closeCode: null }, true)
    } else if (allowed && this.session === null) {
      this.startLoop()
      this.wakeSleep?.()
    }
    this.emitStatus()
  }

  private startLoop(): void {
    if (this.looping || this.closed || this.session !== null) return
    void this.connectLoop()
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let handle: unknown = null
      const wake = () => {
        if (handle !== null) this.timers.clearTimeout(handle)
        if (this.wakeSleep === wake) this.wakeSleep = null
        resolve()
      }
      this.wakeSleep = wake
      if (Number.isFinite(ms)) handle = this.timers.setTimeout(wake, ms)
    })
  }

  private async connectLoop(): Promise<void> {
    this.looping = true
    try {
      while (!this.closed && this.fatal === null && this.session === null) {
        const net = this.network.info()
        if (!net.online) {
          this.connState = 'offline'
          this.emitStatus()
          await this.sleep(Infinity)
          continue
        }
        if (this.o.policy !== undefined && !this.o.policy(net)) {
          this.connState = 'policy'
          this.emitStatus()
          await this.sleep(Infinity)
          continue
        }
        this.connState = 'connecting'
        this.emitStatus()
        try {
          await this.retry.breaker.execute(() => this.attempt())
          return
        } catch (e) {
          if (this.closed) return
          if (e instanceof BrokenCircuitError) {
            const wait = Math.max(1, this.retry.untilHalfOpen())
            this.nextRetryAt = this.now() + wait
            this.connState = 'waiting'
            this.emitStatus()
            await this.sleep(wait)
            continue
          }
          const end: SessionEnd = e instanceof SessionFailure ? e.end : { code: isConcordError(e) ? e.code : 'INTERNAL', message: (e as Error).message, action: 'reconnect', closeCode: null }
          if (end.action === 'refresh-token' && typeof this.o.token === 'function' && !this.tokenRefreshedFor) {
            this.tokenRefreshedFor = true
            continue
          }
          if (end.action !== 'reconnect') {
            this.setFatal(errorOf({ ...end, action: 'stop' }))
            return
          }
          this.attempts += 1
          this.lastError = errorOf(end)
          this.network.recordFailure()
          this.notifier.emit({ type: 'sync-failed', code: end.code, message: end.message, fatal: false })
          const delay = this.retry.nextDelay()
          this.lastDelay = delay
          this.nextRetryAt = this.now() + delay
          this.connState = 'waiting'
          this.emitStatus()
          await this.sleep(delay)
        }
      }
    } finally {
      this.looping = false
    }
  }

  private setFatal(err: ClientError): void {
    this.fatal = err
    this.connState = 'stopped'
    this.notifier.emit({ type: 'sync-failed', code: err.code, message: err.message, fatal: true })
    this.emitStatus()
  }

  private async attempt(): Promise<void> {
    if (this.WS === undefined) {
      throw new SessionFailure({ code: 'NO_WEBSOCKET', message: 'no WebSocket implementation: pass options.WebSocket (in Node, use @concord/client/node)', action: 'stop', closeCode: null })
    }
    let token: string
    try {
      token = typeof this.o.token === 'function' ? await this.o.token() : this.o.token
    } catch (e) {
      throw new SessionFailure({ code: 'TOKEN_UNAVAILABLE', message: `the token function failed: ${(e as Error).message}`, action: 'reconnect', closeCode: null })
    }
    const session = new Session({
      url: this.o.url, token, WebSocket: this.WS, timers: this.timers, now: this.now,
      clientName: this.o.clientName ?? CLIENT_NAME,
      handshakeTimeoutMs: this.o.handshakeTimeoutMs ?? 10_000,
      pingIntervalMs: this.o.pingIntervalMs ?? 15_000,
      pongTimeoutMs: this.o.pongTimeoutMs ?? 10_000,
    }, {
      onMessage: (m) => this.onMessage(session, m),
      onPong: (rtt) => this.network.recordRtt(rtt),
      onEnd: (end) => this.endSession(end, false, session),
    })
    const welcome = await session.start()
    if (this.closed || !this.network.info().online) {
      session.close()
      throw new SessionFailure({ code: 'OFFLINE', message: 'went offline during the handshake', action: 'reconnect', closeCode: null })
    }
    this.session = session
    this.welcome = welcome
    this.sessionGen += 1
    this.attempts = 0
    this.lastError = null
    this.lastDelay = null
    this.nextRetryAt = null
    this.tokenRefreshedFor = false
    this.retry.reset()
    this.connState = 'connected'
    this.network.setConnected(true)
    this.scheduleTokenRefresh(welcome.expiresAt)
    for (const id of this.docs.keys()) this.subscribe(id)
    const pending = [...this.outbox.values()].reduce((n, l) => n + l.length, 0)
    if (this.wasConnected) this.notifier.emit({ type: 'online', pending })
    this.wasConnected = true
    this.kick()
    this.emitStatus()
  }

  private scheduleTokenRefresh(expiresAt: string | null): void {
    if (this.refreshTimer !== null) this.timers.clearTimeout(this.refreshTimer)
    this.refreshTimer = null
    if (expiresAt === null || typeof this.o.token !== 'function') return
    const left = core.epochMsOf(expiresAt as core.IsoInstant) - this.now()
    const early = Math.min(60_000, Math.max(1000, left * 0.1))
    const gen = this.sessionGen
    this.refreshTimer = this.timers.setTimeout(() => {
      this.refreshTimer = null
      const fn = this.o.token as () => Promise<string>
      fn().then((t) => {
        if (gen === this.sessionGen) this.session?.send({ t: 'auth', token: t })
      }, (e: unknown) => {
        this.lastError = { code: 'TOKEN_UNAVAILABLE', message: `token refresh failed: ${(e as Error).message}`, fatal: false }
        this.emitStatus()
      })
    }, Math.max(0, left - early))
  }

  private endSession(end: SessionEnd, byClient: boolean, which?: Session): void {
    if (which !== undefined && which !== this.session) return
    const s = this.session
    this.session = null
    this.welcome = null
    this.sessionGen += 1
    this.inFlight.clear()
    this.inFlightBytes = 0
    this.subs.clear()
    if (this.refreshTimer !== null) this.timers.clearTimeout(this.refreshTimer)
    this.refreshTimer = null
    if (byClient) s?.close(1000, end.message)
    this.network.setConnected(false)
    const pending = [...this.outbox.values()].reduce((n, l) => n + l.length, 0)
    if (!this.closed) this.notifier.emit({ type: 'offline', pending })
    if (this.closed) {
      this.connState = 'stopped'
    } else if (end.action === 'stop') {
      this.setFatal(errorOf(end))
    } else if (end.action === 'refresh-token' && typeof this.o.token !== 'function') {
      this.setFatal({ code: end.code, message: `${end.message}; the token is a fixed string, so the client cannot refresh it`, fatal: true })
    } else {
      if (!byClient) {
        this.lastError = errorOf(end)
        this.network.recordFailure()
      }
      this.connState = 'connecting'
      this.startLoop()
    }
    this.emitStatus()
  }

  private subscribe(id: PurchaseId): void {
    const s = this.session
    if (s === null || !s.open || this.subs.has(id)) return
    const d = this.docs.get(id)!
    this.subs.set(id, false)
    s.send({ t: 'subscribe', docId: id, backend: d.backend, cursor: d.cursor })
  }

  // ------------------------------------------------------------ relay messages

  private onMessage(session: Session, m: ServerMessage): void {
    if (session !== this.session) return
    const gen = this.sessionGen
    switch (m.t) {
      case 'events':
        void this.serial(() => this.onEvents(m)).catch((e) => this.storeFailure(e))
        break
      case 'caughtUp':
        void this.serial(() => this.onCaughtUp(m, gen)).catch((e) => this.storeFailure(e))
        break
      case 'ack':
        void this.serial(() => this.onAck(m)).catch((e) => this.storeFailure(e))
        break
      case 'reject':
        void this.serial(() => this.onReject(m)).catch((e) => this.storeFailure(e))
        break
      case 'validated':
        void this.serial(() => this.onValidated(m)).catch((e) => this.storeFailure(e))
        break
      case 'error':
        if (m.docId !== undefined && !m.fatal && m.code === 'STORE_UNAVAILABLE') {
          // The relay could not store a push: nothing was acknowledged, so send it again after a pause.
          this.lastError = { code: m.code, message: m.message, fatal: false }
          this.releaseInFlight(m.docId)
          this.timers.setTimeout(() => this.kick(), Math.max(100, this.retry.options.initialDelayMs))
        } else if (m.docId !== undefined) {
          this.docErrors.set(m.docId, { code: m.code, message: m.message, fatal: false })
          this.notifier.emit({ type: 'sync-failed', code: m.code, message: `${m.docId}: ${m.message}`, fatal: false })
        } else if (!m.fatal) {
          this.lastError = { code: m.code, message: m.message, fatal: false }
        }
        this.emitStatus()
        break
      case 'authorized':
        this.scheduleTokenRefresh(m.expiresAt)
        break
      case 'welcome':
      case 'pong':
        break
      default:
        m satisfies never
    }
  }

  private releaseInFlight(id: PurchaseId): void {
    for (const [k, f] of this.inFlight) {
      if (f.docId !== id) continue
      this.inFlightBytes -= f.bytes
      this.inFlight.delete(k)
    }
  }

  private storeFailure(e: unknown): void {
    if (this.closed) return
    const code = isConcordError(e) ? e.code : 'STORE_ERROR'
    this.setFatal({ code, message: `the local store failed: ${(e as Error).message}`, fatal: true })
    if (this.session !== null) this.endSession({ code, message: 'local store failure', action: 'stop', closeCode: null }, true)
  }

  private async onEvents(m: EventsMessage): Promise<void> {
    const d0 = this.docs.get(m.docId)
    if (d0 === undefined) return
    const r = await this.replicaFor(m.docId)
    const before = d0.summary.conflictIds
    const res = r.receive(m.events.map((x) => x.event))
    const skip = new Set<string>([...res.duplicates, ...res.rejected.map((x) => x.id)])
    const d = this.docs.get(m.docId)!
    const batch = this.store.batch()
    let n = d.eventCount
    for (const x of m.events) if (!skip.has(x.event.id)) batch.putEvent(eventKey(m.docId, n++), x.event)
    // Own events echoed back are stored by the relay: as good as an acknowledgement.
    const own = m.events.filter((x) => x.event.actor === this.replicaId)
    let next: DocRecord = { ...d, eventCount: n, cursor: Math.max(d.cursor, m.cursor), summary: summarize(r) }
    const ownIds = new Set<string>(own.map((x) => x.event.id))
    if (own.length > 0) next = this.applyAck(next, batch, ownIds, Math.max(...own.map((x) => x.seq)))
    next = this.maybeSynced(next, ownIds)
    batch.putDoc(next)
    await batch.commit()
    this.commitAck(m.docId, next, ownIds)
    if (next.summary.exists) this.search_.put(m.docId, next.summary)
    if (res.rejected.length > 0) {
      const first = res.rejected[0]!
      this.docErrors.set(m.docId, { code: first.error.code, message: `an event from the relay does not apply here: ${first.error.message}`, fatal: false })
    }
    if (res.applied.length > 0) {
      this.afterChange(m.docId, before, 'remote', res.applied)
      this.fire(m.docId, { origin: 'remote', events: res.applied })
    }
    this.kick()
    this.emitStatus()
  }

  /** Removes acknowledged entries from the outbox record set; memory is updated by commitAck after the write. */
  private applyAck(d: DocRecord, batch: ReturnType<ClientStore['batch']>, ids: ReadonlySet<string>, cursor: number): DocRecord {
    const entries = this.outbox.get(d.id) ?? []
    const acked = entries.filter((e) => ids.has(e.id))
    if (acked.length === 0) return d
    for (const e of acked) batch.deleteOutbox(d.id, e.seq)
    const remaining = entries.filter((e) => !ids.has(e.id))
    const ackedSeq = remaining.length > 0 ? remaining[0]!.seq - 1 : d.localSeq
    const top = Math.max(...acked.map((e) => e.seq))
    let unvalidated = cursor > d.validatedCursor ? [...d.unvalidated, { seq: top, cursor }] : d.unvalidated
    if (unvalidated.length > 1000) unvalidated = [{ seq: Math.max(...unvalidated.map((u) => u.seq)), cursor: Math.max(...unvalidated.map((u) => u.cursor)) }]
    return { ...d, ackedSeq: Math.max(d.ackedSeq, ackedSeq), lastAckCursor: Math.max(d.lastAckCursor, cursor), unvalidated, rejectStreak: 0 }
  }

  private commitAck(id: PurchaseId, next: DocRecord, ids: ReadonlySet<string>): void {
    this.docs.set(id, next)
    const entries = this.outbox.get(id)
    if (entries === undefined) return
    for (const e of entries) {
      if (!ids.has(e.id)) continue
      const k = `${id}/${e.id}`
      const f = this.inFlight.get(k)
      if (f !== undefined) {
        this.inFlightBytes -= f.bytes
        this.inFlight.delete(k)
      }
    }
    const remaining = entries.filter((e) => !ids.has(e.id))
    if (remaining.length === 0) this.outbox.delete(id)
    else this.outbox.set(id, remaining)
  }

  /** Stamps lastSyncedAt when nothing is pending (besides `removing`, about to leave the outbox) and the document is caught up. */
  private maybeSynced(d: DocRecord, removing: ReadonlySet<string> = new Set()): DocRecord {
    const pending = (this.outbox.get(d.id) ?? []).filter((e) => !removing.has(e.id)).length
    if (pending === 0 && this.subs.get(d.id) === true && this.connected) return { ...d, lastSyncedAt: this.iso() }
    return d
  }

  private async onAck(m: AckMessage): Promise<void> {
    const d = this.docs.get(m.docId)
    if (d === undefined) return
    const ids = new Set<string>(m.ids)
    const batch = this.store.batch()
    const next = this.maybeSynced(this.applyAck(d, batch, ids, m.cursor), ids)
    if (next === d) return
    batch.putDoc(next)
    await batch.commit()
    this.commitAck(m.docId, next, ids)
    this.kick()
    this.emitStatus()
  }

  private async onReject(m: RejectMessage): Promise<void> {
    await this.rejectLocally(m.docId, m.id, m.code, m.reason)
  }

  private async rejectLocally(id: PurchaseId, eventId: EventId, code: string, reason: string): Promise<void> {
    const d = this.docs.get(id)
    const entry = (this.outbox.get(id) ?? []).find((e) => e.id === eventId)
    if (d === undefined || entry === undefined) return
    const at = this.iso()
    const rejected = [...d.rejected, { id: eventId, code, reason, at }].slice(-1000)
    const streak = d.rejectStreak + 1
    const limit = this.o.deadLetterAfter ?? 3
    const dead = d.dead ?? (streak >= limit || code === 'FRAME_TOO_LARGE' ? { reason: `${streak} change${streak === 1 ? '' : 's'} refused in a row, the last ${eventId}: ${code}: ${reason}`, at } : null)
    const next: DocRecord = { ...d, rejected, rejectStreak: streak, dead }
    const batch = this.store.batch().deleteOutbox(id, entry.seq).putDoc(next)
    await batch.commit()
    this.commitAck(id, next, new Set([eventId]))
    this.notifier.emit({ type: 'rejected', docId: id, eventId, code, reason })
    if (dead !== null && d.dead === null) {
      this.notifier.emit({ type: 'dead-letter', docId: id, reason: dead.reason })
      this.fire(id, { origin: 'status', events: [] })
    }
    this.kick()
    this.emitStatus()
  }

  private async onValidated(m: ValidatedMessage): Promise<void> {
    const d = this.docs.get(m.docId)
    if (d === undefined || m.cursor < d.validatedCursor) return
    const next: DocRecord = { ...d, validatedCursor: m.cursor, relayConflicts: m.conflicts, unvalidated: d.unvalidated.filter((u) => u.cursor > m.cursor) }
    await this.store.batch().putDoc(next).commit()
    this.docs.set(m.docId, next)
    this.emitStatus()
  }

  private async onCaughtUp(m: CaughtUpMessage, gen: number): Promise<void> {
    if (gen !== this.sessionGen) return
    const d = this.docs.get(m.docId)
    if (d === undefined) return
    this.subs.set(m.docId, true)
    this.docErrors.delete(m.docId)
    // The cursor moves only with events actually received: a caughtUp may name a
    // sequence whose events (queued during the catch-up) are still on their way.
    const next = this.maybeSynced(d)
    await this.store.batch().putDoc(next).commit()
    this.docs.set(m.docId, next)
    this.fire(m.docId, { origin: 'status', events: [] })
    this.emitStatus()
  }

  // ------------------------------------------------------------ sending

  private kick(): void {
    if (this.pumpScheduled) return
    this.pumpScheduled = true
    queueMicrotask(() => {
      this.pumpScheduled = false
      void this.pump().catch((e) => this.storeFailure(e))
    })
  }

  /** The order documents are drained in: highest pending priority first, then the longest waiting. */
  private drainOrder(): PurchaseId[] {
    const rows: { id: PurchaseId; rank: number; since: string }[] = []
    for (const [id, list] of this.outbox) {
      const d = this.docs.get(id)
      if (d === undefined || d.dead !== null || list.length === 0 || !this.subs.has(id)) continue
      let rank = d.priority !== null ? RANK[d.priority] : 2
      for (const e of list) rank = Math.min(rank, RANK[e.priority])
      rows.push({ id, rank, since: list[0]!.savedAt })
    }
    rows.sort((a, b) => a.rank - b.rank || (a.since < b.since ? -1 : a.since > b.since ? 1 : a.id < b.id ? -1 : 1))
    return rows.map((r) => r.id)
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true
      return
    }
    this.pumping = true
    try {
      do {
        this.pumpAgain = false
        await this.pumpOnce()
      } while (this.pumpAgain)
    } finally {
      this.pumping = false
    }
  }

  private async pumpOnce(): Promise<void> {
    const maxEvents = this.o.maxInFlightEvents ?? 512
    const maxBytes = this.o.maxInFlightBytes ?? 1 << 20
    for (const id of this.drainOrder()) {
      const session = this.session
      if (session === null || !session.open || this.welcome === null) return
      const gen = this.sessionGen
      const frameLimit = Math.max(1024, this.welcome.maxFrameBytes - FRAME_OVERHEAD)
      const list = this.outbox.get(id) ?? []
      const take: OutboxEntry[] = []
      for (const e of list) {
        if (this.inFlight.has(`${id}/${e.id}`)) continue
        if (this.inFlight.size >= maxEvents) break
        if (this.inFlight.size > 0 && this.inFlightBytes + e.bytes > maxBytes) break
        if (e.bytes > frameLimit) {
          // It can never be sent: refuse it here rather than wedge the outbox.
          if (take.length === 0) void this.serial(() => this.rejectLocally(id, e.id, 'FRAME_TOO_LARGE', `the event is ${e.bytes} bytes; the relay accepts frames up to ${this.welcome?.maxFrameBytes ?? '?'}`))
          break
        }
        take.push(e)
        this.inFlight.set(`${id}/${e.id}`, { docId: id, seq: e.seq, bytes: e.bytes })
        this.inFlightBytes += e.bytes
      }
      if (take.length === 0) {
        if (this.inFlight.size >= maxEvents || this.inFlightBytes >= maxBytes) return
        continue
      }
      const events: EventEnvelope[] = []
      for (const e of take) {
        const ev = await this.store.getEvent(e.eventKey)
        if (ev === undefined) throw new ConcordError('STORE_CORRUPT', `outbox entry ${e.id} names a missing event ${e.eventKey}`, { reason: 'CORRUPT' })
        events.push(ev)
      }
      if (gen !== this.sessionGen || this.session !== session) return
      let frame: EventEnvelope[] = []
      let size = 0
      for (let i = 0; i < events.length; i++) {
        const bytes = take[i]!.bytes
        if (frame.length > 0 && size + bytes > frameLimit) {
          session.send({ t: 'push', docId: id, events: frame })
          frame = []
          size = 0
        }
        frame.push(events[i]!)
        size += bytes
      }
      if (frame.length > 0) session.send({ t: 'push', docId: id, events: frame })
      this.emitStatus()
    }
  }

  // ------------------------------------------------------------ lifecycle

  private live(): void {
    if (this.closed) throw new ConcordError('STORE_CLOSED', 'the client is closed')
  }

  /**
   * Closes the socket and the store. `abandon: true` stops at once without
   * waiting for queued writes (a simulated crash, for tests).
   */
  async close(options: { abandon?: boolean } = {}): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.connState = 'stopped'
    const s = this.session
    this.session = null
    if (s !== null) s.close(1000, 'client closing')
    if (this.refreshTimer !== null) this.timers.clearTimeout(this.refreshTimer)
    this.wakeSleep?.()
    this.network.dispose()
    if (options.abandon !== true) await this.queue.catch(() => undefined)
    await this.store.close()
  }
}
