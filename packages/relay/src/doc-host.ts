/**
 * The documents the relay holds in memory, and every path by which an event
 * reaches them.
 *
 * - Loading: a document is built from the store (latest snapshot, then the
 *   events after it, a page at a time) before anyone is answered: no client
 *   is told "caught up" or "synced" from a state that has not loaded. Loads
 *   of one document are shared.
 * - Writes: a native push or a y-websocket update is checked here (rights,
 *   envelope, backend, dependencies known, then what the update does against
 *   the purchase schema, the token's rights and its subject: write-check.ts),
 *   applied to the relay's replica at once (so the next write is checked
 *   against a document that holds it), then handed to the group committer.
 *   Only when the store has it is it acked, echoed and fanned out; a store
 *   that fails or refuses it evicts the document, which reloads from the
 *   store. A y-websocket sync reply is computed when asked and sent once
 *   everything it holds is stored (whenStored).
 * - After each group: the invariant registry runs on every document the group
 *   touched (the open-conflicts gauge; `validated` to subscribers, at most
 *   every VALIDATED_EVERY_MS per document), a purchase
 *   without a human number gets one, and snapshots are written every N events.
 * - Idle documents are unloaded after a snapshot of what the store holds.
 * - A store failure after a replica changed (an import reserved, a number
 *   assigned) evicts the document: its connections close with a retryable code
 *   and the next load starts again from the store.
 */
import {
  type BackendName, type CrdtBackend, type EventEnvelope, type EventId, type PurchaseId, type ReplicaId, type Runtime, backendNamed, businessDateOf, ConcordError, createUlidFactory, DEFAULT_BACKEND, instantFromEpochMs, invalidValues, isBackendName, isConcordError, PurchaseReplica,
} from '@concord/core'
import { backendList, sameContent } from '@concord/core/internal'
import {
  type AwarenessEntry, type RejectCode, type SequencedEvent, CLOSE_CODES, REJECT_CODES, encodeAwarenessUpdate, encodeServerMessage, encodeYMessage, rightsFor,
} from '@concord/core/protocol'
import type { Logger } from 'pino'
import { type AwarenessMap, applyAwareness, expireRemoteAwareness } from './awareness.js'
import type { Session } from './auth.js'
import { attributed } from './authorship.js'
import type { RelayConfig } from './config.js'
import { Fanout, type FanoutTarget, type NativeSubscriber, type YSubscriber } from './fanout.js'
import { GroupCommitter } from './group-commit.js'
import type { RelayMetrics } from './metrics.js'
import { batchWrites } from './peer.js'
import { relayRuntime } from './runtime.js'
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.js'
import { type Refusal, refusalOf } from './write-check.js'
import { loadDocument } from './store/load.js'
import type { EventStore, StoredEvent } from './store/types.js'

/** What the document host tells the cluster link (cluster.ts); absent when the relay runs alone. */
export interface ClusterSink {
  /** This relay stored events of a document, up to `lastSeq`: tell the others. */
  written(docId: PurchaseId, lastSeq: number): void
  /** Events of other relays read from the store and applied. */
  caughtUp(docId: PurchaseId, events: number): void
  /** An awareness update of this relay's y-websocket clients: forward it to the other relays. */
  awareness(docId: PurchaseId, update: Uint8Array): void
}

/** The device a y-websocket connection writes as: its stamps (`dev`) must name it, and meta.device says it. */
export const Y_DEVICE = 'y-websocket'

/** At most one `validated` per document this often, in ms: the step a person sees after "stored". */
const VALIDATED_EVERY_MS = 50

/** The backend of a document; the relay hosts every backend of the registry (y-websocket rooms are Yjs only). */
export function backendFor(name: BackendName): CrdtBackend {
  if (!isBackendName(name)) throw new ConcordError('BACKEND_MISMATCH', `this relay has no ${String(name)} backend (it hosts ${backendList()})`)
  return backendNamed(name)
}

export class LoadedDoc implements FanoutTarget {
  readonly natives = new Set<NativeSubscriber>()
  readonly rooms = new Set<YSubscriber>()
  readonly awareness: AwarenessMap = new Map()
  /** Events submitted to the store and not yet answered. */
  readonly inflightIds = new Set<EventId>()
  /**
   * Per connection, the lowest seq per actor that it offered with other
   * content than the relay holds (ID_CONFLICT): its later events of that
   * actor are built on its own version, so they are refused too, even when
   * they arrive in a later push (the device has several in flight).
   */
  readonly idConflicts = new WeakMap<NativeSubscriber, Map<ReplicaId, number>>()
  inflight = 0
  /** Epoch ms of the last use, by the host's clock: idle documents are unloaded after idleUnloadMs. */
  lastUsed: number
  numbering = false
  snapshotting = false
  evicted = false
  openConflicts = 0
  /**
   * Cluster mode only: this relay's own stored events whose sequence number
   * is past a gap (another relay's events not read yet). They are applied to
   * the replica already; their fan-out waits until the gap is read from the
   * store, so subscribers always receive a document's events in order.
   */
  readonly ahead = new Map<number, { readonly item: SequencedEvent; readonly sender: NativeSubscriber | undefined }>()
  /**
   * Writes applied to the replica and handed to the store, and how many of
   * those the store has answered (in submission order): replies computed
   * from the replica wait until what they hold is stored (whenStored).
   */
  submitted = 0
  settled = 0
  readonly afterStored: { readonly upTo: number; readonly run: () => void }[] = []
  /** Values the schema refuses in this document (read as absent), as last counted: recounted while there are any. */
  invalidCount = 0
  /** Cluster mode only: the catch-up from the store running now, and whether another was asked for meanwhile. */
  catchUp: Promise<void> | undefined
  catchUpAgain = false

  constructor(
    readonly docId: PurchaseId,
    readonly backend: CrdtBackend,
    public replica: PurchaseReplica,
    /** The last stored sequence number the replica holds (it may also hold accepted events not stored yet). */
    public lastSeq: number,
    /** The sequence number the latest stored snapshot covers. */
    public snapshotSeq: number,
    now: number,
  ) {
    this.lastUsed = now
  }

  get yjs(): boolean {
    return this.backend.name === 'yjs'
  }

  get idle(): boolean {
    return this.natives.size === 0 && this.rooms.size === 0 && this.inflight === 0 && !this.numbering && !this.snapshotting
  }
}

export interface DocHostOptions {
  readonly store: EventStore
  readonly config: RelayConfig
  readonly metrics: RelayMetrics
  readonly log: Logger
  readonly relayId: ReplicaId
  /** Clock, timers and randomness; default relayRuntime (the system's, timers unref()ed). */
  readonly runtime?: Runtime
}

/** A push as the native connection hands it over. */
export interface NativePush {
  readonly sender: NativeSubscriber
  readonly session: Session
  readonly docId: PurchaseId
  readonly events: readonly EventEnvelope[]
  /** process.hrtime.bigint() when the frame arrived, for the ack latency histogram. */
  readonly receivedAt: bigint
  /** The device the connection said it writes from (hello). */
  readonly device: string
}

/** Records that `sender` offered `e` under an id the relay holds with other content. */
function noteIdConflict(doc: LoadedDoc, sender: NativeSubscriber, e: EventEnvelope): void {
  const actors = doc.idConflicts.get(sender) ?? new Map<ReplicaId, number>()
  actors.set(e.actor, Math.min(actors.get(e.actor) ?? Infinity, e.seq))
  doc.idConflicts.set(sender, actors)
}

/** Why `e` is refused as built on an own event whose id the relay holds with other content, if it is. */
function builtOnConflict(doc: LoadedDoc, sender: NativeSubscriber, e: EventEnvelope): string | undefined {
  const from = doc.idConflicts.get(sender)?.get(e.actor)
  if (from === undefined || e.seq <= from) return undefined
  return `event ${e.id} follows ${e.actor}.${from}, which the relay holds with other content: it is built on the other one`
}

/** The subject an actor is bound to: the token's, '' for a token that names none. */
function subjectOf(session: Session): string {
  return session.user ?? ''
}

export function actorTaken(actor: ReplicaId): string {
  return `actor ${actor} belongs to another writer; write as your own actor`
}

/** The event's dependencies (its deps and its author's previous event) that `known` does not hold, each once. */
function missingDeps(e: EventEnvelope, known: (id: EventId) => boolean): EventId[] {
  const missing = new Set<EventId>()
  for (const d of e.deps) if (!known(d)) missing.add(d)
  if (e.seq > 1) {
    const prev = `${e.actor}.${e.seq - 1}` as EventId
    if (!known(prev)) missing.add(prev)
  }
  return [...missing]
}

/** The refusal code a client acts on for a typed error of the store or the log (an unknown one would stop the document). */
function rejectCodeOf(code: string): RejectCode {
  if (Object.hasOwn(REJECT_CODES, code)) return code as RejectCode
  // INVALID_ID, INVALID_ARGUMENT: something about the event itself.
  return 'INVALID_EVENT'
}

/** Actor owners the relay remembers (an LRU would be finer; clearing past the bound costs one query per actor seen again). */
const ACTOR_OWNERS_KEPT = 100_000

class ActorOwners {
  private readonly map = new Map<ReplicaId, string>()
  get(actor: ReplicaId): string | undefined {
    return this.map.get(actor)
  }
  has(actor: ReplicaId): boolean {
    return this.map.has(actor)
  }
  set(actor: ReplicaId, subject: string): void {
    if (this.map.size >= ACTOR_OWNERS_KEPT) this.map.clear()
    this.map.set(actor, subject)
  }
  forget(actor: ReplicaId): void {
    this.map.delete(actor)
  }
}

export class DocHost {
  readonly docs = new Map<PurchaseId, LoadedDoc>()
  /** Who each actor belongs to, as the store bound it (AppendRequest.subject). */
  private readonly actorOwners = new ActorOwners()
  readonly fanout = new Fanout()
  readonly committer: GroupCommitter
  /** The relay's own actor for raw Yjs updates it wraps into events. */
  readonly importActor: ReplicaId
  /** Cluster mode (see cluster.ts): other relays write to the same store. */
  private cluster: ClusterSink | undefined
  private readonly loading = new Map<PurchaseId, Promise<LoadedDoc>>()
  private readonly touched = new Set<LoadedDoc>()
  /** Documents whose subscribers get a `validated` at the next round (see sendValidated). */
  private readonly validatedDue = new Set<LoadedDoc>()
  private validatedTimer: unknown
  private readonly newId: () => string
  private unloadTimer: unknown
  private totalConflicts = 0
  private totalInvalid = 0
  /** Nanoseconds spent in the write check since the last group, per endpoint (added to the metric once per group). */
  private readonly checkTime = { native: 0n, y: 0n }
  private closing = false

  /** The relay's clock, timers and randomness: its connections use this one too. */
  readonly runtime: Runtime

  constructor(private readonly o: DocHostOptions) {
    const runtime = o.runtime ?? relayRuntime
    this.runtime = runtime
    this.newId = createUlidFactory(() => runtime.now(), () => runtime.random())
    this.importActor = `${o.relayId.slice(0, 62)}-y` as ReplicaId
    this.committer = new GroupCommitter(o.store, {
      afterGroup: () => this.afterGroup(),
      onGroup: (n) => {
        o.metrics.commitGroups.inc()
        o.metrics.commitGroupSize.observe(n)
      },
      onError: (e) => o.log.error({ err: e }, 'commit callback failed'),
      schedule: (f) => runtime.setImmediate(f),
    })
    this.armUnload(Math.min(Math.max(50, o.config.idleUnloadMs / 2), 10_000))
  }

  /** Every `everyMs`, until close: drops expired awareness and unloads idle documents. */
  private armUnload(everyMs: number): void {
    this.unloadTimer = this.runtime.setTimeout(() => {
      // Re-armed first, so that a round that throws does not end the rounds.
      this.armUnload(everyMs)
      this.expireAwareness()
      void this.unloadIdle()
    }, everyMs)
  }

  private replicaOptions(docId: PurchaseId, backend: CrdtBackend) {
    return { docId, replica: this.o.relayId, backend, now: () => this.runtime.now(), newId: this.newId, user: 'relay', device: 'relay' }
  }

  /**
   * The loaded document, loading it first if needed. `want` is the backend a
   * subscriber expects; a stored document of the other backend is refused
   * with BACKEND_MISMATCH, and a new document takes `want` (default the registry's first backend).
   */
  async load(docId: PurchaseId, want?: BackendName): Promise<LoadedDoc> {
    let doc = this.docs.get(docId)
    if (doc === undefined) {
      let p = this.loading.get(docId)
      if (p === undefined) {
        p = this.build(docId, want ?? DEFAULT_BACKEND).catch((e: unknown) => {
          if (isConcordError(e)) throw e
          // Whatever the stored document holds, a failed load is this document's alone, and typed.
          this.o.metrics.documentFailures.inc({ step: 'load' })
          this.o.log.error({ docId, err: e }, 'the document could not be loaded')
          throw new ConcordError('STORE_CORRUPT', `document ${docId} could not be loaded: ${(e as Error).message}`, { docId })
        }).then((d) => {
          this.docs.set(docId, d)
          this.o.metrics.loadedDocuments.set(this.docs.size)
          this.countInvalid(d, true)
          this.setConflicts(d)
          this.touched.add(d)
          // Another relay may have stored events after this load read the store and before its notice could find the document.
          if (this.cluster !== undefined) void this.catchUpFromStore(d)
          queueMicrotask(() => this.maybeNumber(d))
          return d
        })
        this.loading.set(docId, p)
        void p.then(
          () => this.loading.delete(docId),
          () => this.loading.delete(docId),
        )
      }
      doc = await p
    }
    if (want !== undefined && doc.backend.name !== want) {
      throw new ConcordError('BACKEND_MISMATCH', `document ${docId} uses the ${doc.backend.name} backend, not ${want}`, { docId })
    }
    doc.lastUsed = this.runtime.now()
    return doc
  }

  /** Builds a document's replica from the store, without registering it (the admin API uses this for unloaded ones). */
  async build(docId: PurchaseId, want: BackendName): Promise<LoadedDoc> {
    const plan = await loadDocument(this.o.store, docId, this.o.config.catchUpPageSize)
    const backend = backendFor(plan?.doc.backend ?? want)
    const opts = this.replicaOptions(docId, backend)
    if (plan === undefined) return new LoadedDoc(docId, backend, PurchaseReplica.empty(opts), 0, 0, this.runtime.now())
    let replica: PurchaseReplica
    let tail: AsyncIterable<StoredEvent[]> = plan.tail
    let lastSeq = 0
    let snapshotSeq = 0
    if (plan.snapshot !== undefined) {
      try {
        replica = PurchaseReplica.fromSnapshot(opts, decodeSnapshot(docId, plan.snapshot.bytes))
        lastSeq = snapshotSeq = plan.snapshot.upToSeq
      } catch (e) {
        // A snapshot is a cache: rebuild from the events alone.
        this.o.log.warn({ docId, err: (e as Error).message }, 'snapshot unreadable; replaying every event')
        replica = PurchaseReplica.empty(opts)
        tail = this.o.store.readPages(docId, 0, this.o.config.catchUpPageSize)
      }
    } else {
      replica = PurchaseReplica.empty(opts)
    }
    for await (const page of tail) {
      const r = replica.receive(page.map((s) => s.event))
      if (r.rejected.length > 0) this.o.log.warn({ docId, rejected: r.rejected.map((x) => `${x.id}: ${x.error.message}`) }, 'stored events the replica refuses')
      lastSeq = Math.max(lastSeq, (page[page.length - 1] as StoredEvent).seq)
    }
    return new LoadedDoc(docId, backend, replica, lastSeq, snapshotSeq, this.runtime.now())
  }

  /** Stored events after `afterSeq`, a page at a time (catch-up). */
  readPages(docId: PurchaseId, afterSeq: number): AsyncIterable<StoredEvent[]> {
    return this.o.store.readPages(docId, afterSeq, this.o.config.catchUpPageSize)
  }

  // ------------------------------------------------------------ native pushes

  /**
   * Validates each event and submits the acceptable ones as one request of
   * the current group. Refused events get a reject each; the others are
   * acked once stored. The document must be loaded.
   */
  pushNative(doc: LoadedDoc, push: NativePush): void {
    doc.lastUsed = this.runtime.now()
    const rights = rightsFor(push.session.grants, doc.docId)
    const replica = doc.replica
    const accepted: EventEnvelope[] = []
    const acceptedIds = new Set<EventId>()
    /** Events this push applied to the replica (not re-sends of events it held already). */
    const appliedHere = new Set<EventId>()
    const known = (id: EventId) => acceptedIds.has(id) || this.holds(doc, id)
    const subject = subjectOf(push.session)
    const reject = (e: EventEnvelope, code: RejectCode, reason: string) => {
      this.o.metrics.eventsRejected.inc({ code })
      this.fanout.later(push.sender, encodeServerMessage({ t: 'reject', docId: doc.docId, id: e.id, code, reason }))
    }
    const author = { subject: push.session.user, device: push.device, rights }
    for (const e of push.events) {
      if (!rights.has('write')) {
        reject(e, 'FORBIDDEN', `the token gives no write right on ${doc.docId}`)
        continue
      }
      if (e.actor === this.o.relayId || e.actor === this.importActor) {
        reject(e, 'FORBIDDEN', `actor ${e.actor} is the relay's own`)
        continue
      }
      if (e.backend !== doc.backend.name) {
        reject(e, 'BACKEND_MISMATCH', `event carries a ${e.backend} change; ${doc.docId} uses ${doc.backend.name}`)
        continue
      }
      const conflict = builtOnConflict(doc, push.sender, e)
      if (conflict !== undefined) {
        reject(e, 'ID_CONFLICT', conflict)
        continue
      }
      // Stored, echoed and fanned out under the token's subject, whatever the device wrote in meta.user.
      const stamped = attributed(e, push.session.user)
      const held = replica.log.get(e.id)
      if (held !== undefined && !sameContent(held, e)) {
        noteIdConflict(doc, push.sender, e)
        reject(e, 'ID_CONFLICT', `event ${e.id} is already stored in ${doc.docId} with other content: an event id names one event`)
        continue
      }
      if (replica.log.has(e.id)) {
        // A re-send of an event the replica holds: the store answers it as a duplicate.
        accepted.push(stamped)
        acceptedIds.add(e.id)
        continue
      }
      // The store binds it for good in the same transaction that stores the event; this is the check before anything applies.
      // (A re-send of a held event, above, binds nothing: the store answers it as a duplicate.)
      const owner = this.actorOwners.get(e.actor)
      if (owner !== undefined && owner !== subject) {
        reject(e, 'FORBIDDEN', actorTaken(e.actor))
        continue
      }
      const missing = missingDeps(e, known)
      if (missing.length > 0) {
        reject(e, 'UNKNOWN_EVENT', `depends on events the relay has not stored: ${missing.slice(0, 5).join(', ')}`)
        continue
      }
      const t0 = process.hrtime.bigint()
      const refusal = refusalOf(doc, { payload: e.payload, event: e, author, raw: false, genericRooms: this.o.config.genericRooms, now: this.runtime.now() })
      this.checkTime.native += process.hrtime.bigint() - t0
      if (refusal !== undefined) {
        this.o.metrics.writesRefused.inc({ endpoint: 'native', rule: refusal.rule })
        this.o.log.info({ docId: doc.docId, event: e.id, user: push.session.user, rule: refusal.rule, key: refusal.key }, 'write refused')
        reject(e, refusal.code, refusal.message)
        continue
      }
      // Applied now, so the next event of this push is checked against a document that holds this one.
      const applied = replica.receive([stamped])
      if (applied.applied.length !== 1) {
        reject(e, rejectCodeOf(applied.rejected[0]?.error.code ?? 'INVALID_EVENT'), applied.rejected[0]?.error.message ?? 'the event did not apply')
        continue
      }
      accepted.push(stamped)
      acceptedIds.add(e.id)
      appliedHere.add(e.id)
      // Taken by this subject from now on: a later push by another subject in this group is refused before it applies.
      if (owner === undefined) this.actorOwners.set(e.actor, subject)
    }
    if (accepted.length === 0) {
      this.touchForFlush()
      return
    }
    if (appliedHere.size > 0) this.touched.add(doc)
    for (const id of acceptedIds) doc.inflightIds.add(id)
    doc.inflight++
    doc.submitted++
    this.committer.submit(
      { docId: doc.docId, backend: doc.backend.name, events: accepted, subject },
      {
        done: (result) => {
          doc.inflight--
          for (const id of acceptedIds) doc.inflightIds.delete(id)
          const ids: EventId[] = []
          const items: SequencedEvent[] = []
          let maxSeq = 0
          let diverged: string | undefined
          result.events.forEach((outcome, i) => {
            const e = accepted[i] as EventEnvelope
            if (outcome.ok) {
              ids.push(outcome.id)
              maxSeq = Math.max(maxSeq, outcome.seq)
              if (!outcome.duplicate) items.push({ seq: outcome.seq, event: e })
              // Another relay stored this id first: the replica holds this push's copy, the store that one.
              else if (appliedHere.has(e.id)) diverged = `${e.id} was stored by another relay meanwhile`
            } else {
              reject(e, rejectCodeOf(outcome.error.code), outcome.error.message)
              if (outcome.error.code === 'ID_CONFLICT') noteIdConflict(doc, push.sender, e)
              // Another relay bound the actor first: what this relay assumed is wrong; the next push reads the owner again.
              if (outcome.error.code === 'FORBIDDEN') this.actorOwners.forget(e.actor)
              if (appliedHere.has(e.id)) diverged = `the store refused ${e.id}: ${outcome.error.message}`
            }
          })
          this.recordStored(doc, items, result.lastSeq)
          if (ids.length > 0) {
            this.fanout.later(push.sender, encodeServerMessage({ t: 'ack', docId: doc.docId, ids, cursor: maxSeq }))
            this.o.metrics.ackLatency.observe(Number(process.hrtime.bigint() - push.receivedAt) / 1e9)
          }
          this.broadcastStored(doc, items, push.sender, result.lastSeq)
          this.settle(doc)
          if (diverged !== undefined) this.evict(doc, diverged)
        },
        failed: (err) => {
          doc.inflight--
          for (const id of acceptedIds) doc.inflightIds.delete(id)
          this.o.log.error({ docId: doc.docId, err }, 'store append failed')
          this.fanout.later(push.sender, encodeServerMessage({
            t: 'error', code: 'STORE_UNAVAILABLE', message: 'the relay could not store the events; retry', docId: doc.docId, fatal: false,
          }))
          this.settle(doc)
          // The replica holds what the store does not.
          if (appliedHere.size > 0) this.evict(doc, 'the store failed')
        },
      },
    )
  }

  /** True when the relay holds the event for the document: applied, pending a dependency, or on its way to the store. */
  private holds(doc: LoadedDoc, id: EventId): boolean {
    return doc.inflightIds.has(id) || doc.replica.log.has(id) || doc.replica.log.get(id) !== undefined
  }

  /**
   * True when some event of a push depends on one the relay does not hold.
   * In cluster mode the push then waits for a read of the store first
   * (catchUpFromStore): another relay may have stored it and its notice not
   * arrived, and the store, not the notices, is what the relay answers from.
   */
  lacksDependencies(doc: LoadedDoc, events: readonly EventEnvelope[]): boolean {
    if (this.cluster === undefined) return false
    const ids = new Set(events.map((e) => e.id))
    return events.some((e) => missingDeps(e, (id) => ids.has(id) || this.holds(doc, id)).length > 0)
  }

  /** Reads the owners of the push's actors the relay has not seen yet (one query, only on a miss). */
  async learnActors(events: readonly EventEnvelope[]): Promise<void> {
    const unknown = [...new Set(events.map((e) => e.actor))].filter((a) => !this.actorOwners.has(a))
    if (unknown.length === 0) return
    const owners = await this.o.store.actorOwners(unknown)
    for (const [actor, subject] of owners) this.actorOwners.set(actor, subject)
  }

  /**
   * For a subscribe: the highest own sequence number the relay holds for each
   * of the device's actors (stored, or applied and on its way to the store).
   */
  async actorHeads(doc: LoadedDoc, actors: readonly ReplicaId[]): Promise<{ actor: ReplicaId; seq: number }[]> {
    if (actors.length === 0) return []
    const stored = await this.o.store.actorHeads(doc.docId, actors)
    const out: { actor: ReplicaId; seq: number }[] = []
    for (const actor of actors) {
      const seq = Math.max(stored.get(actor) ?? 0, doc.replica.log.seqOf(actor))
      if (seq > 0) out.push({ actor, seq })
    }
    return out
  }

  /**
   * Runs `run` once every write applied to the replica until now is stored
   * (at once when none is pending): a y-websocket sync reply computed from
   * the replica may then go out, holding nothing that is not durable. An
   * evicted document never runs it (its connections are closed).
   */
  whenStored(doc: LoadedDoc, run: () => void): void {
    if (doc.settled >= doc.submitted) run()
    else doc.afterStored.push({ upTo: doc.submitted, run })
  }

  /** A write of the document has its answer from the store. */
  private settle(doc: LoadedDoc): void {
    doc.settled++
    while (doc.afterStored.length > 0 && doc.afterStored[0]!.upTo <= doc.settled && !doc.evicted) doc.afterStored.shift()!.run()
  }

  /** Makes sure a group runs (and flushes rejects) even when nothing was accepted. */
  private touchForFlush(): void {
    this.committer.kick()
  }

  /** Stored events: the replica already holds them (applied when accepted); the store's cursor and the metrics move. */
  private recordStored(doc: LoadedDoc, items: readonly SequencedEvent[], lastSeq: number): void {
    // In cluster mode the store's lastSeq may count other relays' events this replica does not hold yet: broadcastStored moves it.
    if (this.cluster === undefined) doc.lastSeq = Math.max(doc.lastSeq, lastSeq)
    if (items.length === 0) return
    this.o.metrics.eventsAppended.inc(items.length)
    this.touched.add(doc)
  }

  // ---------------------------------------------------------- y-websocket updates

  /**
   * A raw Yjs update from a y-websocket client (already checked for the
   * write right): checked for what it does, wrapped into an event by the
   * relay's import actor and applied, then stored, and echoed to the whole
   * room, the sender included, once durable. A refused update is returned
   * and nothing of it is kept.
   */
  pushYjs(doc: LoadedDoc, peer: YSubscriber, update: Uint8Array, session: Session): Refusal | undefined {
    doc.lastUsed = this.runtime.now()
    const replica = doc.replica
    const e = replica.prepareImport(update, this.importActor, { ...(session.user ? { user: session.user } : {}), device: Y_DEVICE })
    const t0 = process.hrtime.bigint()
    const refusal = refusalOf(doc, {
      payload: update, event: e, raw: true, genericRooms: this.o.config.genericRooms, now: this.runtime.now(),
      author: { subject: session.user, device: Y_DEVICE, rights: rightsFor(session.grants, doc.docId) },
    })
    this.checkTime.y += process.hrtime.bigint() - t0
    if (refusal !== undefined) {
      replica.dropReservations()
      this.o.metrics.writesRefused.inc({ endpoint: 'y', rule: refusal.rule })
      this.o.metrics.eventsRejected.inc({ code: refusal.code })
      this.o.log.info({ docId: doc.docId, peer: peer.id, user: session.user, rule: refusal.rule, key: refusal.key }, 'raw Yjs write refused')
      return refusal
    }
    const applied = replica.receive([e])
    if (applied.applied.length !== 1) {
      replica.dropReservations()
      const why = applied.rejected[0]?.error.message ?? 'the update did not apply'
      return { code: 'INVALID_UPDATE', rule: 'decode', key: '', message: why }
    }
    this.touched.add(doc)
    doc.inflightIds.add(e.id)
    doc.inflight++
    doc.submitted++
    this.committer.submit(
      { docId: doc.docId, backend: doc.backend.name, events: [e] },
      {
        done: (result) => {
          doc.inflight--
          doc.inflightIds.delete(e.id)
          this.settle(doc)
          const outcome = result.events[0]
          if (outcome === undefined || !outcome.ok || outcome.duplicate) {
            const why = outcome === undefined ? 'no outcome' : !outcome.ok ? outcome.error.message : `${e.id} was stored by another relay meanwhile`
            this.o.log.error({ docId: doc.docId, peer: peer.id, err: why }, 'store refused an imported update')
            this.evict(doc, 'an imported update was refused by the store')
            return
          }
          const items = [{ seq: outcome.seq, event: e }]
          this.recordStored(doc, items, result.lastSeq)
          this.broadcastStored(doc, items, undefined, result.lastSeq)
        },
        failed: (err) => {
          doc.inflight--
          doc.inflightIds.delete(e.id)
          this.settle(doc)
          this.o.log.error({ docId: doc.docId, err }, 'store append failed')
          this.evict(doc, 'the store failed')
        },
      },
    )
    return undefined
  }

  // ------------------------------------------------------------- after a group

  /**
   * The group's frames, acks and rejects go out first, in one write per
   * socket; then the conflict check runs on the documents it touched (their
   * replicas hold its events since they were accepted).
   */
  private afterGroup(): void {
    batchWrites(() => this.fanout.flush())
    for (const endpoint of ['native', 'y'] as const) {
      if (this.checkTime[endpoint] === 0n) continue
      this.o.metrics.writeCheckSeconds.inc({ endpoint }, Number(this.checkTime[endpoint]) / 1e9)
      this.checkTime[endpoint] = 0n
    }
    const touched = [...this.touched]
    this.touched.clear()
    for (const doc of touched) {
      if (doc.evicted) continue
      this.contained(doc, 'conflict check', () => {
        this.setConflicts(doc)
        this.countInvalid(doc)
        if (doc.replica.exists && doc.natives.size > 0) this.validatedDue.add(doc)
        this.maybeNumber(doc)
        this.maybeSnapshot(doc)
      })
    }
    if (this.validatedDue.size > 0) this.validatedTimer ??= this.runtime.setTimeout(() => this.sendValidated(), VALIDATED_EVERY_MS)
  }

  /**
   * `validated` of every document that moved since the last round. Sent on
   * its own a little later rather than with the events: with the events it
   * would make them wait for the conflict check, and sent at once it would
   * double the socket writes of every group.
   */
  private sendValidated(): void {
    this.validatedTimer = undefined
    const due = [...this.validatedDue]
    this.validatedDue.clear()
    batchWrites(() => {
      for (const doc of due) {
        if (doc.evicted || !doc.replica.exists) continue
        this.contained(doc, 'validated', () => {
          const bytes = this.validatedFrame(doc)
          for (const sub of doc.natives) sub.deliverLive(doc.docId, bytes)
        })
      }
    })
  }

  /** `validated` for the document's current state. */
  validatedFrame(doc: LoadedDoc): Uint8Array {
    const conflicts = doc.replica.exists ? doc.replica.conflicts().map((c) => c.id) : []
    return encodeServerMessage({ t: 'validated', docId: doc.docId, cursor: doc.lastSeq, conflicts })
  }

  /**
   * Counts what the document holds that the schema refuses: on load (logged,
   * naming the keys), and after a change only while there is any (a write
   * that supersedes an invalid value removes it). Writes the relay took were
   * checked, so a document that loaded clean stays clean.
   */
  private countInvalid(doc: LoadedDoc, loading = false): void {
    if (!loading && doc.invalidCount === 0) return
    const n = doc.evicted ? 0 : invalidValues(doc.replica.log.doc.read()).length
    if (loading && n > 0) {
      const found = invalidValues(doc.replica.log.doc.read())
      this.o.log.warn({ docId: doc.docId, invalid: n, first: found.slice(0, 5) }, 'the document holds values its schema refuses; they read as absent')
    }
    this.totalInvalid += n - doc.invalidCount
    doc.invalidCount = n
    this.o.metrics.invalidValues.set(this.totalInvalid)
  }

  private setConflicts(doc: LoadedDoc): void {
    const n = doc.evicted || !doc.replica.exists ? 0 : doc.replica.conflicts().length
    this.totalConflicts += n - doc.openConflicts
    doc.openConflicts = n
    this.o.metrics.openConflicts.set(this.totalConflicts)
  }

  /** A purchase without a human number gets one: allocated by the store, committed as the relay's own event. */
  private maybeNumber(doc: LoadedDoc): void {
    if (this.closing || doc.evicted || doc.numbering || !doc.replica.exists || doc.replica.state().number !== null) return
    doc.numbering = true
    const replica = doc.replica
    const year = Number(businessDateOf(instantFromEpochMs(this.runtime.now()), replica.state().settings.timeZone).slice(0, 4))
    this.o.store.allocateNumber(doc.docId, year).then(async (number) => {
        // Cluster mode: another relay may have loaded the same new purchase and
        // got the same number from the store; read what it stored first, so
        // that usually only one relay writes the number event. (Should both
        // write it, they write the same value: h.number is read last-writer-
        // wins and is no guarded field, so no conflict is raised.)
        if (this.cluster !== undefined && !doc.evicted) await this.catchUpFromStore(doc)
        return number
      }).then(
      (number) => {
        if (doc.evicted || replica !== doc.replica || replica.state().number !== null) {
          doc.numbering = false
          return
        }
        let event: EventEnvelope
        try {
          event = replica.assignNumber(number)
        } catch (e) {
          doc.numbering = false
          this.o.log.warn({ docId: doc.docId, err: (e as Error).message }, 'could not assign the order number')
          return
        }
        doc.inflightIds.add(event.id)
        doc.inflight++
        doc.submitted++
        this.committer.submit(
          { docId: doc.docId, backend: doc.backend.name, events: [event] },
          {
            done: (result) => {
              doc.inflight--
              doc.numbering = false
              doc.inflightIds.delete(event.id)
              this.settle(doc)
              const outcome = result.events[0]
              if (outcome === undefined || !outcome.ok) {
                this.evict(doc, `the store refused the order number event: ${outcome?.ok === false ? outcome.error.message : 'no outcome'}`)
                return
              }
              if (this.cluster === undefined) doc.lastSeq = Math.max(doc.lastSeq, result.lastSeq)
              this.o.metrics.eventsAppended.inc()
              this.o.log.info({ docId: doc.docId, number }, 'order number assigned')
              this.touched.add(doc)
              this.broadcastStored(doc, outcome.duplicate ? [] : [{ seq: outcome.seq, event }], undefined, result.lastSeq)
            },
            failed: (err) => {
              doc.inflight--
              doc.numbering = false
              this.settle(doc)
              this.evict(doc, `the store failed: ${(err as Error).message}`)
            },
          },
        )
      },
      (err: unknown) => {
        doc.numbering = false
        this.o.log.error({ docId: doc.docId, err }, 'could not allocate an order number')
      },
    )
  }

  private maybeSnapshot(doc: LoadedDoc): void {
    if (doc.lastSeq - doc.snapshotSeq >= this.o.config.snapshotEvery) void this.writeSnapshot(doc)
  }

  /**
   * Writes a snapshot of the replica when it is exactly "every stored event
   * up to lastSeq": nothing in flight (an assigned number not yet stored) and
   * nothing waiting for a dependency.
   */
  async writeSnapshot(doc: LoadedDoc): Promise<void> {
    if (doc.snapshotting || doc.evicted || doc.inflight > 0 || doc.ahead.size > 0 || doc.lastSeq <= doc.snapshotSeq) return
    if (doc.replica.log.pending().events.length > 0) return
    doc.snapshotting = true
    const upToSeq = doc.lastSeq
    const replica = doc.replica
    const snap = replica.log.snapshot()
    try {
      await this.o.store.putSnapshot(doc.docId, { upToSeq, heads: snap.heads, bytes: encodeSnapshot(snap) })
      doc.snapshotSeq = Math.max(doc.snapshotSeq, upToSeq)
      // The replica keeps every event it applied since it was built; restarting
      // it from the snapshot just written bounds a long-lived document's memory
      // by snapshotEvery events. Only if nothing moved meanwhile.
      if (!doc.evicted && !this.closing && doc.replica === replica && doc.lastSeq === upToSeq && doc.inflight === 0 && !doc.numbering) {
        doc.replica = PurchaseReplica.fromSnapshot(this.replicaOptions(doc.docId, doc.backend), snap)
        replica.log.doc.destroy()
      }
    } catch (e) {
      this.o.log.warn({ docId: doc.docId, err: (e as Error).message }, 'snapshot not written')
    } finally {
      doc.snapshotting = false
    }
  }

  // ------------------------------------------------------------ cluster mode

  /** Turns on cluster mode (before any document is loaded). */
  attachCluster(sink: ClusterSink): void {
    this.cluster = sink
  }

  /**
   * Fans out this relay's newly stored events. One relay alone: at once. In
   * cluster mode, in sequence order only: events past a gap (another relay
   * stored the sequence numbers between) wait in `ahead` while the gap is
   * read from the store, and the other relays are told the document moved.
   */
  private broadcastStored(doc: LoadedDoc, items: readonly SequencedEvent[], sender: NativeSubscriber | undefined, storeLastSeq: number): void {
    const cluster = this.cluster
    if (cluster === undefined) {
      this.fanout.add(doc, items, sender)
      return
    }
    for (const item of items) if (item.seq > doc.lastSeq) doc.ahead.set(item.seq, { item, sender })
    this.drainAhead(doc)
    if (items.length > 0) cluster.written(doc.docId, Math.max(...items.map((i) => i.seq)))
    if (storeLastSeq > doc.lastSeq) void this.catchUpFromStore(doc)
  }

  private drainAhead(doc: LoadedDoc): void {
    for (let next = doc.ahead.get(doc.lastSeq + 1); next !== undefined; next = doc.ahead.get(doc.lastSeq + 1)) {
      doc.ahead.delete(doc.lastSeq + 1)
      doc.lastSeq++
      this.fanout.add(doc, [next.item], next.sender)
    }
  }

  /** Another relay stored events of a document up to `lastSeq` (a notice from the Redis stream, never trusted for data). */
  noticeFromCluster(docId: PurchaseId, lastSeq: number): void {
    const doc = this.docs.get(docId)
    if (doc !== undefined && !doc.evicted && lastSeq > doc.lastSeq) void this.catchUpFromStore(doc)
  }

  /** Catches up every loaded document from the store (notices may have been missed: Redis reached at last, or the stream trimmed past this relay). */
  catchUpAll(): Promise<void> {
    return Promise.all([...this.docs.values()].map((d) => this.catchUpFromStore(d))).then(() => undefined)
  }

  /**
   * Reads the document's stored events after its cursor, in order: other
   * relays' events are applied to the replica and fanned out like local ones
   * (natives and y-websocket rooms); this relay's own waiting ones are
   * released. Stops at an event of this relay still in flight (its commit
   * callback continues). One catch-up per document at a time; asking during
   * one runs another after it.
   */
  catchUpFromStore(doc: LoadedDoc): Promise<void> {
    if (this.cluster === undefined) return Promise.resolve()
    if (doc.catchUp !== undefined) {
      doc.catchUpAgain = true
      return doc.catchUp
    }
    const pageSize = this.o.config.catchUpPageSize
    const run = async () => {
      do {
        doc.catchUpAgain = false
        for (;;) {
          if (doc.evicted || this.closing) return
          const page = await this.o.store.readFrom(doc.docId, doc.lastSeq, pageSize)
          if (doc.evicted) return
          const { blocked, applied } = this.sequenceFromStore(doc, page)
          if (applied > 0) {
            this.cluster?.caughtUp(doc.docId, applied)
            this.touched.add(doc)
            this.committer.kick()
          }
          if (blocked || page.length < pageSize) break
        }
      } while (doc.catchUpAgain)
    }
    doc.catchUp = run()
      .catch((e: unknown) => this.o.log.warn({ docId: doc.docId, err: (e as Error).message }, 'cluster catch-up from the store failed; the next notice or write retries it'))
      .finally(() => {
        doc.catchUp = undefined
      })
    return doc.catchUp
  }

  private sequenceFromStore(doc: LoadedDoc, page: readonly StoredEvent[]): { blocked: boolean; applied: number } {
    let applied = 0
    for (const s of page) {
      if (s.seq <= doc.lastSeq) continue
      if (s.seq !== doc.lastSeq + 1) break // moved meanwhile: the next round reads from the new cursor
      const mine = doc.ahead.get(s.seq)
      if (mine !== undefined) {
        this.drainAhead(doc)
        continue
      }
      if (doc.inflightIds.has(s.event.id)) return { blocked: true, applied }
      if (!doc.replica.log.has(s.event.id)) {
        const r = doc.replica.receive([s.event])
        if (r.rejected.length > 0) this.o.log.warn({ docId: doc.docId, rejected: r.rejected.map((x) => `${x.id}: ${x.error.message}`) }, 'stored events the replica refuses')
      }
      doc.lastSeq = s.seq
      this.fanout.add(doc, [{ seq: s.seq, event: s.event }])
      applied++
      this.drainAhead(doc)
    }
    return { blocked: false, applied }
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Runs one per-document step. Whatever a document holds, its failure
   * stays with it: the document is evicted (its connections close with a
   * retryable code and it reloads from the store), and the relay goes on.
   */
  contained(doc: LoadedDoc, step: string, fn: () => void): void {
    try {
      fn()
    } catch (e) {
      this.o.metrics.documentFailures.inc({ step })
      this.o.log.error({ docId: doc.docId, step, err: e }, 'a document step failed; the document is evicted')
      this.evict(doc, `${step} failed: ${(e as Error).message}`)
    }
  }

  /** Drops a document whose replica may be ahead of the store; its clients reconnect and catch up. */
  evict(doc: LoadedDoc, why: string): void {
    if (doc.evicted) return
    doc.evicted = true
    this.o.log.warn({ docId: doc.docId, why }, 'document evicted; its connections reconnect')
    if (this.docs.get(doc.docId) === doc) this.docs.delete(doc.docId)
    this.setConflicts(doc)
    this.countInvalid(doc)
    this.o.metrics.loadedDocuments.set(this.docs.size)
    for (const sub of [...doc.natives]) sub.close(CLOSE_CODES.INTERNAL, 'document reloading')
    for (const peer of [...doc.rooms]) peer.close(CLOSE_CODES.INTERNAL, 'document reloading')
  }

  // ------------------------------------------------------------ awareness

  /** An awareness update of a y-websocket client here, already applied and sent to the room: in cluster mode the other relays get it too. */
  publishAwareness(doc: LoadedDoc, update: Uint8Array): void {
    this.cluster?.awareness(doc.docId, update)
  }

  /** Cluster mode: an awareness update of another relay's clients, for this relay's room of that document (if loaded here). */
  awarenessFromCluster(docId: PurchaseId, entries: readonly AwarenessEntry[], update: Uint8Array): void {
    const doc = this.docs.get(docId)
    if (doc === undefined) return
    const accepted = applyAwareness(doc.awareness, entries, undefined, this.runtime.now())
    if (accepted.length === 0 || doc.rooms.size === 0) return
    const bytes = encodeYMessage({ t: 'awareness', update: accepted.length === entries.length ? update : encodeAwarenessUpdate(accepted) })
    for (const peer of doc.rooms) peer.send(bytes)
  }

  /** Drops other relays' awareness entries that were not renewed (their relay may be gone), telling the rooms. */
  private expireAwareness(): void {
    const now = this.runtime.now()
    for (const doc of this.docs.values()) {
      const bytes = expireRemoteAwareness(doc.awareness, now)
      if (bytes !== undefined) for (const peer of doc.rooms) peer.send(bytes)
    }
  }

  /** Unloads documents nobody used for idleUnloadMs, after a snapshot of what is stored. */
  async unloadIdle(): Promise<void> {
    const now = this.runtime.now()
    for (const doc of [...this.docs.values()]) {
      if (!doc.idle || now - doc.lastUsed < this.o.config.idleUnloadMs) continue
      if (doc.lastSeq > doc.snapshotSeq) await this.writeSnapshot(doc)
      // Someone may have come back while the snapshot was written.
      if (!doc.idle || this.runtime.now() - doc.lastUsed < this.o.config.idleUnloadMs || this.docs.get(doc.docId) !== doc) continue
      this.docs.delete(doc.docId)
      doc.evicted = true
      this.setConflicts(doc)
      this.countInvalid(doc)
      doc.replica.log.doc.destroy()
      this.o.metrics.loadedDocuments.set(this.docs.size)
      this.o.log.debug({ docId: doc.docId }, 'document unloaded')
    }
  }

  /** Graceful shutdown: every queued event stored, then snapshots of what changed. */
  async close(): Promise<void> {
    this.closing = true
    this.runtime.clearTimeout(this.unloadTimer)
    this.runtime.clearTimeout(this.validatedTimer)
    await this.committer.drain()
    for (const doc of this.docs.values()) if (doc.lastSeq > doc.snapshotSeq) await this.writeSnapshot(doc)
  }
}
