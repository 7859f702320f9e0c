/**
 * The part of @concord/client the app uses, as the app sees it. Every
 * component talks to these types only, so a change in the client's surface
 * is absorbed here (and in session.ts) rather than across the components.
 */
import type {
  AuditEntry, Conflict, ConflictId, CreatePurchaseInput, EventId, LifecycleState, Priority, PurchaseDerived,
  PurchaseId, PurchaseReplica, PurchaseState,
} from '@concord/core'

export type OverallState = 'offline' | 'connecting' | 'syncing' | 'synced' | 'error'

export interface DocStatus {
  readonly state: OverallState
  /** Local events not yet stored by the relay. */
  readonly pending: number
  readonly acked: number
  readonly validated: number
  readonly rejected: number
  readonly lastSyncedAt: string | null
  /** Why the document is not synced, in words. */
  readonly reason: string | null
}

export interface ClientStatus {
  readonly overall: OverallState
  readonly docs: ReadonlyMap<string, DocStatus>
  readonly pending: { readonly high: number; readonly normal: number; readonly low: number }
  readonly lastSyncedAt: string | null
  readonly error?: { readonly code: string; readonly message: string; readonly fatal: boolean }
}

export interface PurchaseSummary {
  readonly id: PurchaseId
  readonly number: string | null
  readonly supplier: string
  readonly status: LifecycleState | string
  /** Formatted in the order's currency, with its code ("1234.50 EUR"). */
  readonly total: string
  readonly currency: string
  readonly conflicts: number
  readonly sync: OverallState
  readonly pending: number
  readonly exists: boolean
}

export interface AppNotification {
  readonly type: string
  readonly docId?: string
}

export interface PurchaseHandle {
  readonly id: PurchaseId
  state(): PurchaseState
  derived(): PurchaseDerived
  conflicts(): Conflict[]
  readonly replica: PurchaseReplica
  run<T>(cmd: (r: PurchaseReplica) => T): Promise<T>
  onChange(cb: () => void): () => void
  history(): AuditEntry[]
  stateAt(at: { event: EventId }): PurchaseState
  status(): DocStatus
  close?(): void
}

export interface AppClient {
  createPurchase(input: CreatePurchaseInput & { priority?: Priority }): Promise<PurchaseHandle>
  open(id: PurchaseId): Promise<PurchaseHandle>
  list(): PurchaseSummary[]
  search(text: string): PurchaseSummary[]
  readonly status: ClientStatus
  explain(docId: string): string
  onStatus(cb: (s: ClientStatus) => void): () => void
  onNotification(cb: (n: AppNotification) => void): () => void
  forceSync(): void
  goOffline(): void
  goOnline(): void
  close(): void | Promise<void>
}

export type { ConflictId }
