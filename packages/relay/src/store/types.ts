/**
 * The relay's event store: the one place where an event becomes durable.
 *
 * The relay acknowledges, echoes and rebroadcasts an event only after the
 * `append` that carried it has resolved, so everything a client was told is
 * stored is in here. Three implementations share this interface and one
 * contract-test suite (test/relay/store/contract.ts): SQLite (the embedded
 * default), Postgres (cluster mode: several relays, one store) and memory
 * (tests).
 *
 * What is stored, per document:
 *   - the document row: its backend (fixed by the first append), the last
 *     per-document sequence number, when it was created;
 *   - its events, each with a per-document sequence number 1, 2, 3...
 *     (gapless, in arrival order) and its content hash (eventHash: everything
 *     but `meta`), which is what a re-sent id is compared by: the same hash
 *     is a duplicate, another an ID_CONFLICT. Events are never deleted or
 *     rewritten: they are the audit trail, and history (`stateAt`) folds them;
 *   - snapshots (backend state up to a sequence number) that bound replay.
 *     Only the latest is kept; older ones are deleted after a newer one is
 *     committed. Snapshots are a cache: the events alone rebuild everything;
 *   - an optional human number ("PO-2026-00042").
 *
 * And, for all documents: the actors, each bound to the token subject whose
 * write first stored one of its events (see AppendRequest.subject). Bindings
 * are never removed; a store migrated from before them bound each actor to
 * the `meta.user` of its first stored event.
 *
 * Every method is async so that SQLite (synchronous underneath) and Postgres
 * (a network round trip) share the interface. Bad arguments are refused with a
 * ConcordError (INVALID_ID, INVALID_ARGUMENT, NOT_FOUND...); a closed store
 * refuses everything with STORE_CLOSED.
 */
import type { BackendName, ConcordError, EventEnvelope, EventId, EventMeta, Hlc, IsoInstant, PurchaseId, ReplicaId } from '@concord/core'

/** The events for one document in an append batch. */
export interface AppendRequest {
  readonly docId: PurchaseId
  /**
   * The document's backend. The first append that stores an event creates the
   * document with this backend; later appends naming the other backend are
   * refused (BACKEND_MISMATCH), as is an event whose own `backend` differs.
   */
  readonly backend: BackendName
  /** In the order they should be sequenced (a sender's causal order). */
  readonly events: readonly EventEnvelope[]
  /**
   * The token subject writing these events ('' for a token that names none).
   * An actor belongs to the subject whose write first stored one of its
   * events: a new event of an actor bound to another subject is refused
   * (FORBIDDEN, naming the actor), in the same transaction that binds it, so
   * two relays cannot bind one actor twice. Undefined for the relay's own
   * events (numbers, imports), which are neither bound nor checked.
   */
  readonly subject?: string
}

/** What became of one event of an append. */
export type EventOutcome =
  | {
      readonly ok: true
      readonly id: EventId
      /** The event's per-document sequence number (its existing one if it was a duplicate). */
      readonly seq: number
      /**
       * True when an event with this id and the same content was already stored
       * (a retry), earlier or in this same batch: nothing new was written.
       * Content is what eventHash covers (everything but `meta`, display data
       * where the stored copy wins).
       */
      readonly duplicate: boolean
    }
  | {
      readonly ok: false
      /** The event's id as sent, when there was a string to echo. */
      readonly id: string | undefined
      /**
       * Why it was refused: INVALID_EVENT (bad envelope, or its docId is not
       * the request's), BACKEND_MISMATCH, ID_CONFLICT (same id, different
       * content hash: the stored event is kept), FORBIDDEN (its actor belongs
       * to another subject), INVALID_ID (bad docId).
       */
      readonly error: ConcordError
    }

/** The result for one AppendRequest, in the same position as the request. */
export interface AppendResult {
  readonly docId: PurchaseId
  /** One outcome per event of the request, in the same order. */
  readonly events: readonly EventOutcome[]
  /** The document's last sequence number once this batch committed (0: no document). */
  readonly lastSeq: number
  /**
   * Set when the whole request was refused: a bad docId or backend name
   * (INVALID_ID, INVALID_ARGUMENT) or the document's other backend
   * (BACKEND_MISMATCH). Its events' outcomes say the same, one by one.
   */
  readonly error?: ConcordError
}

/** A stored event with its place in the document's log. */
export interface StoredEvent {
  /** Per-document sequence number: the catch-up cursor. */
  readonly seq: number
  readonly event: EventEnvelope
  /** When this store committed it (the relay's clock, not the device's). */
  readonly storedAt: IsoInstant
}

/** An event as the admin history lists it: everything but the payload bytes. */
export interface EventSummary {
  readonly seq: number
  readonly id: EventId
  readonly actor: ReplicaId
  /** The actor's own event number (the part after the dot in `id`). */
  readonly actorSeq: number
  readonly hlc: Hlc
  readonly kind: string
  readonly deps: readonly EventId[]
  readonly meta: EventMeta
  readonly payloadSize: number
  readonly storedAt: IsoInstant
}

export interface DocInfo {
  readonly docId: PurchaseId
  readonly backend: BackendName
  /** The sequence number of the document's last event (>= 1 once it exists). */
  readonly lastSeq: number
  /** The human number, once `allocateNumber` gave it one. */
  readonly number?: string
  readonly createdAt: IsoInstant
}

export interface ListDocsOptions {
  /** Keyset cursor: only documents whose id sorts after this one. */
  readonly after?: PurchaseId
  /** At most this many (1..MAX_PAGE). */
  readonly limit: number
}

export interface SnapshotInput {
  /** The snapshot holds the effect of events 1..upToSeq (0..lastSeq of the document). */
  readonly upToSeq: number
  /** The log heads the snapshot state corresponds to. */
  readonly heads: readonly EventId[]
  /** The backend's encoded state; opaque to the store. */
  readonly bytes: Uint8Array
}

export interface StoredSnapshot extends SnapshotInput {
  readonly docId: PurchaseId
  readonly createdAt: IsoInstant
}

/** A snapshot without its bytes, as `listSnapshots` reports it. */
export interface SnapshotInfo {
  readonly upToSeq: number
  readonly size: number
  readonly createdAt: IsoInstant
}

export interface PutSnapshotResult {
  /**
   * False when the store already holds a snapshot further along (a larger
   * upToSeq): the given one was stale and nothing changed.
   */
  readonly written: boolean
}

/**
 * Fault injection for tests: lets a test stop an operation between two of its
 * steps, the way a crash would. Never set in production.
 */
export interface StoreTestHooks {
  /** Runs after a new snapshot is committed and before older ones are deleted; a throw stops there. */
  readonly afterSnapshotWrite?: () => void | Promise<void>
}

export interface EventStore {
  /**
   * Stores a batch of events for one or more documents in one transaction
   * (the relay group-commits what arrived in one event-loop turn).
   *
   * - Idempotent by event id within a document: a re-sent event (same id,
   *   same content hash) gets its existing sequence number and
   *   `duplicate: true`; the same id with another hash is an ID_CONFLICT.
   * - New events get the document's next sequence numbers, gapless, in batch
   *   order. A refused event takes no number.
   * - Per-event results: an invalid event, an ID_CONFLICT, a FORBIDDEN actor
   *   or a backend mismatch refuses only the events concerned; every other
   *   event of the batch (same document or not) is stored. The relay acks
   *   those and nacks the refused ones with their error.
   * - Actor bindings are made and checked in the same transaction, batch
   *   order: a binding made by an earlier event of the batch holds for the
   *   later ones.
   * - All or nothing on failure of the store itself (disk, connection): the
   *   promise rejects and nothing of the batch is stored.
   * - Durable when the promise resolves (to the store's durability level);
   *   that is the moment the relay may acknowledge.
   *
   * The store checks each envelope (validateEnvelope) but not causality: that
   * an event's deps are stored is the relay's business.
   */
  append(batch: readonly AppendRequest[]): Promise<AppendResult[]>

  /**
   * Events with sequence numbers greater than `afterSeq`, in order, at most
   * `limit` (default DEFAULT_PAGE, at most MAX_PAGE). An unknown document has
   * no events: []. A catch-up passes the last seq it has.
   */
  readFrom(docId: PurchaseId, afterSeq: number, limit?: number): Promise<StoredEvent[]>

  /**
   * The same events as `readFrom`, a page at a time, so a long log (a
   * 100k-event document) is never in memory at once. Each page is read when
   * the consumer asks for it; events appended meanwhile are included.
   */
  readPages(docId: PurchaseId, afterSeq: number, pageSize?: number): AsyncIterable<StoredEvent[]>

  /** Like `readFrom` without the payloads: what the admin history lists. */
  readSummaries(docId: PurchaseId, afterSeq: number, limit?: number): Promise<EventSummary[]>

  /** The document, or undefined if no event was ever stored for it. */
  getDoc(docId: PurchaseId): Promise<DocInfo | undefined>

  /** Documents in id order, a page at a time (pass the last id as `after`). */
  listDocs(options: ListDocsOptions): Promise<DocInfo[]>

  /**
   * Writes a snapshot, then deletes the document's older snapshots, in two
   * steps: the new one is committed before anything is deleted, so a crash at
   * any point leaves a loadable document (at worst two snapshots, of which
   * `latestSnapshot` takes the newer). Events are never deleted.
   * Refuses an unknown document (NOT_FOUND) and an upToSeq beyond its last
   * sequence number (INVALID_ARGUMENT). A snapshot behind the latest one is
   * not written (`written: false`); one at the same upToSeq replaces it.
   */
  putSnapshot(docId: PurchaseId, snapshot: SnapshotInput): Promise<PutSnapshotResult>

  /**
   * The snapshot with the largest upToSeq (the newest among equals). Loading
   * a document is this snapshot plus `readPages(docId, snapshot.upToSeq)`;
   * see `loadDocument`.
   */
  latestSnapshot(docId: PurchaseId): Promise<StoredSnapshot | undefined>

  /** The document's snapshots, oldest first, without their bytes (admin, tests). */
  listSnapshots(docId: PurchaseId): Promise<SnapshotInfo[]>

  /**
   * The document's human number, "PO-<year>-<nnnnn>", from a per-year counter
   * (1, 2, 3... per year, no gaps, transactional). Idempotent: a document that
   * already has a number keeps it, whatever year is asked for. The document
   * need not have events yet.
   */
  allocateNumber(docId: PurchaseId, year: number): Promise<string>

  /**
   * A stable id for this store, generated when it was first created and
   * persisted, valid as a ReplicaId: the relay's replica id. Relays that share
   * one Postgres schema share this id.
   */
  relayId(): Promise<ReplicaId>

  /**
   * The subject each of these actors is bound to (see AppendRequest.subject);
   * unbound actors are absent. The relay checks a push against it before
   * applying anything; the append enforces it again.
   */
  actorOwners(actors: readonly ReplicaId[]): Promise<Map<ReplicaId, string>>

  /**
   * For each of these actors, the highest of its own sequence numbers stored
   * in the document (absent: none). A device that finds its actor ahead of
   * what it saved (a restored backup) moves to a fresh actor.
   */
  actorHeads(docId: PurchaseId, actors: readonly ReplicaId[]): Promise<Map<ReplicaId, number>>

  /** Resolves when the store can serve a query (for /readyz); rejects otherwise. */
  ping(): Promise<void>

  /** Releases the store's resources. Idempotent; every later call is refused with STORE_CLOSED. */
  close(): Promise<void>
}

/** Default `readFrom` page when no limit is given. */
export const DEFAULT_PAGE = 1000
/** The largest page any read returns. */
export const MAX_PAGE = 10_000
