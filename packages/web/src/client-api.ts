/**
 * The part of @concord/client the app uses, as the app sees it. Every
 * component talks to these types only, so a change in the client's surface
 * is absorbed here (and in session.ts) rather than across the components.
 */
import type {
  AuditEntry, Conflict, ConflictId, CreatePurchaseInput, EventId, Priority, PurchaseDerived, PurchaseId, PurchaseReplica,
  PurchaseState, InvalidValue,
} from '@concord/core'
import type { ClientStatus, DeadLetter, DocStatus, Notification, PurchaseSummary } from '@concord/client'

export type { ClientStatus, DeadLetter, DocStatus, PurchaseSummary, SyncState as OverallState, Notification as AppNotification } from '@concord/client'

export interface PurchaseHandle {
  readonly id: PurchaseId
  state(): PurchaseState
  derived(): PurchaseDerived
  conflicts(): Conflict[]
  /** Stored values the schema refuses (they read as absent). */
  invalid(): readonly InvalidValue[]
  readonly replica: PurchaseReplica
  /** False until the purchase's first event is here (opened by id before it synced). */
  readonly exists: boolean
  run<T>(cmd: (r: PurchaseReplica) => T): Promise<T>
  onChange(cb: () => void): () => void
  history(): AuditEntry[]
  stateAt(at: { event: EventId }): PurchaseState
  status(): DocStatus
  close(): void
}

export interface AppClient {
  createPurchase(input: CreatePurchaseInput & { priority?: Priority }): Promise<PurchaseHandle>
  open(id: PurchaseId | string): Promise<PurchaseHandle>
  list(): PurchaseSummary[]
  search(text: string): PurchaseSummary[]
  readonly status: ClientStatus
  explain(docId: PurchaseId | string): string
  onStatus(cb: (s: ClientStatus) => void): () => void
  onNotification(cb: (n: Notification) => void): () => void
  forceSync(): void
  /** Purchases whose sync stopped after a refusal, with the changes that were undone on this device. */
  deadLetters(): DeadLetter[]
  /**
   * Takes a purchase off the dead-letter list and resumes its sync: the changes
   * held back go out; the refused ones were undone and are not sent.
   */
  retryDeadLetter(id: PurchaseId): Promise<void>
  goOffline(): void
  goOnline(): void
  close(): void | Promise<void>
}

export type { ConflictId }
