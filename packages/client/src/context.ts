/**
 * What every part of the client shares: its options and clock, the store, the
 * in-memory index of documents and the outbox, the current session's
 * subscriptions, the search index, the notification stream, and the one
 * serial queue through which every state change runs (a local command's
 * events being saved, a relay message being applied), so that the store, the
 * index and the replicas never disagree.
 *
 * The parts (documents, connector, inbound, sender, status) each take this
 * context; none of them imports another part above it. `kick` (drain the
 * outbox) and `emitStatus` are signals the client wires to its sender and
 * status listeners.
 */
import { type PurchaseId, type ReplicaId, createUlidFactory, instantFromEpochMs, splitEventId } from '@concord/core'
import { MAX_SUBSCRIBE_ACTORS } from '@concord/core/protocol'
import { Notifier } from './notifications.js'
import { Outbox } from './outbox.js'
import { PurchaseSearch } from './search.js'
import type { ClientStore, DocRecord } from './storage/store.js'
import type { ClientError, ClientOptions, Timers } from './types.js'

const defaultTimers: Timers = {
  setTimeout: (f, ms) => globalThis.setTimeout(f, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
}

/** Bytes a push frame spends besides its events (type, document id, count). */
const FRAME_OVERHEAD = 160

/** The most bytes one event may take in a frame of `maxFrameBytes`. */
export function eventRoomIn(maxFrameBytes: number): number {
  return Math.max(1024, maxFrameBytes - FRAME_OVERHEAD)
}

export interface Signals {
  /** Something may be sendable: drain the outbox soon. */
  kick(): void
  /** The status changed: tell the listeners soon. */
  emitStatus(): void
  /** Own changes to a document were saved: tell the store's other running instances. */
  saved(id: PurchaseId): void
  /** The store refused to go on (another instance holds this one's seat): stop syncing, say why. */
  storeFailed(e: unknown): void
}

export class ClientContext {
  readonly replicaId: ReplicaId
  readonly now: () => number
  readonly timers: Timers
  readonly newId: () => string
  readonly docs = new Map<PurchaseId, DocRecord>()
  readonly outbox = new Outbox()
  /** Subscriptions of the current session: false until caughtUp. */
  readonly subs = new Map<PurchaseId, boolean>()
  /** Documents the relay refused (until their next caughtUp). */
  readonly docErrors = new Map<PurchaseId, ClientError>()
  readonly search = new PurchaseSearch()
  readonly notifier: Notifier
  /** The relay's frame limit as last heard (welcome), kept while offline; undefined before the first session. */
  relayMaxFrameBytes: number | undefined = undefined
  /** The token's subject as the relay's last welcome named it: own stamps name it (the relay refuses any other). */
  author: string | undefined = undefined
  closed = false
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly options: ClientOptions,
    readonly store: ClientStore,
    private readonly signals: Signals,
  ) {
    this.replicaId = store.replicaId
    this.now = options.now ?? (() => Date.now())
    this.timers = options.timers ?? defaultTimers
    this.newId = createUlidFactory(this.now, options.random ?? Math.random)
    this.notifier = new Notifier(this.now, (ms) => instantFromEpochMs(ms), options.notificationIntervalMs ?? 5000)
  }

  /** Loads the index and the outbox from the store (once, before anything else runs). */
  async restore(): Promise<void> {
    for (const d of await this.store.loadDocs()) {
      this.docs.set(d.id, d)
      if (d.summary.exists) this.search.put(d.id, d.summary)
    }
    this.outbox.restore(await this.store.loadOutbox())
  }

  iso(ms = this.now()): string {
    return instantFromEpochMs(ms)
  }

  /** Runs `f` after every state change queued before it. */
  serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f)
    this.queue = run.catch(() => undefined)
    return run
  }

  /** Resolves once every queued state change has run. */
  drained(): Promise<unknown> {
    return this.queue.catch(() => undefined)
  }

  /** The most bytes one event may take to fit a push frame, once the relay's limit is known. */
  eventRoom(): number | undefined {
    return this.relayMaxFrameBytes === undefined ? undefined : eventRoomIn(this.relayMaxFrameBytes)
  }

  /** The actors a subscribe names: the one the device writes the document as, then earlier ones with changes still waiting. */
  actorsOf(d: DocRecord): ReplicaId[] {
    const actors = new Set<ReplicaId>([d.actor ?? this.replicaId])
    for (const e of this.outbox.of(d.id)) {
      if (actors.size >= MAX_SUBSCRIBE_ACTORS) break
      actors.add(splitEventId(e.id).replica)
    }
    return [...actors]
  }

  kick(): void {
    this.signals.kick()
  }

  emitStatus(): void {
    this.signals.emitStatus()
  }

  saved(id: PurchaseId): void {
    this.signals.saved(id)
  }

  storeFailed(e: unknown): void {
    this.signals.storeFailed(e)
  }
}
