/**
 * A typed handle on one purchase. It holds no state of its own: the replica
 * and the sync status live in the client, so a handle stays valid across
 * reconnects and reloads (a replica reloaded after a failed save included).
 */
import {
  type AuditEntry, type Conflict, type ConflictId, type EventEnvelope, type EventId, type Hlc, type InvalidValue, type PurchaseDerived,
  type PurchaseId, type PurchaseReplica, type PurchaseState, ConcordError, auditTrail, invalidValues,
} from '@concord/core'
import { eventsUpTo, readPurchase, replay } from '@concord/core/internal'
import type { DocStatus, EventAckStatus } from './types.js'

/** A change to the purchase or its sync state: local, remote, a reload from the store, or a status change. */
export interface DocChange {
  readonly origin: 'local' | 'remote' | 'reload' | 'status'
  readonly events: readonly EventEnvelope[]
}

/** What a handle needs from the client (kept narrow to avoid a cycle of types). */
export interface HandleHost {
  currentReplica(id: PurchaseId): PurchaseReplica
  run<T>(id: PurchaseId, cmd: (r: PurchaseReplica) => T): Promise<T>
  flushed(id: PurchaseId): Promise<void>
  onDocChange(id: PurchaseId, cb: (c: DocChange) => void): () => void
  docStatus(id: PurchaseId): DocStatus
  eventStatus(id: PurchaseId, eventId: EventId): EventAckStatus
  unpin(id: PurchaseId): void
}

export class PurchaseHandle {
  private closed = false
  private readonly offs: (() => void)[] = []

  constructor(
    private readonly host: HandleHost,
    readonly id: PurchaseId,
  ) {}

  /**
   * The replica with every purchase command. Prefer `run`, which resolves once
   * the change is saved; a command called here directly is saved too, just
   * without a promise to wait on (see `saved()`).
   */
  get replica(): PurchaseReplica {
    return this.host.currentReplica(this.id)
  }

  /** False until the purchase's first event is here (a purchase opened by id before it synced). */
  get exists(): boolean {
    return this.replica.exists
  }

  state(): PurchaseState {
    return this.replica.state()
  }

  derived(): PurchaseDerived {
    return this.replica.derived()
  }

  conflicts(): Conflict[] {
    return this.replica.conflicts()
  }

  /**
   * What the stored purchase holds that its schema refuses (written before
   * the relay checked writes, or by a newer version): each reads as absent,
   * and is listed here so the person is told rather than shown less.
   */
  invalid(): readonly InvalidValue[] {
    return invalidValues(this.replica.log.doc.read())
  }

  /** Runs a command and resolves once its event is saved in the outbox (before any network). */
  run<T>(cmd: (r: PurchaseReplica) => T): Promise<T> {
    if (this.closed) return Promise.reject(new ConcordError('STORE_CLOSED', `the handle on ${this.id} is closed`))
    return this.host.run(this.id, cmd)
  }

  /** Resolves a conflict (an ordinary change that replicates like any other). */
  resolve(conflictId: ConflictId | string, option: string, params: Record<string, string> = {}, note = ''): Promise<EventEnvelope> {
    return this.run((r) => r.resolve(conflictId as ConflictId, option, params, note))
  }

  /** Resolves once every change made so far through `replica` is saved. */
  saved(): Promise<void> {
    return this.host.flushed(this.id)
  }

  onChange(cb: (c: DocChange) => void): () => void {
    const off = this.host.onDocChange(this.id, cb)
    this.offs.push(off)
    return off
  }

  /** Who changed what, event by event. */
  history(): AuditEntry[] {
    const r = this.replica
    return auditTrail(r.log.backend, r.log.events())
  }

  /** The purchase as it was after an event (and its causal past) or at a hybrid logical time. */
  stateAt(at: { readonly event: EventId | string } | { readonly hlc: Hlc | string }): PurchaseState {
    const r = this.replica
    const events = eventsUpTo(r.log.events(), 'event' in at ? { event: at.event as EventId } : { hlc: at.hlc })
    const doc = replay(r.log.backend, r.replica, events)
    try {
      return readPurchase(doc.read())
    } finally {
      doc.destroy()
    }
  }

  status(): DocStatus {
    return this.host.docStatus(this.id)
  }

  eventStatus(eventId: EventId | string): EventAckStatus {
    return this.host.eventStatus(this.id, eventId as EventId)
  }

  /** Releases the handle: the purchase may be unloaded from memory (it keeps syncing). */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const off of this.offs) off()
    this.host.unpin(this.id)
  }
}
