/**
 * The CRDT backend interface. A purchase is stored in a small set of CRDT
 * primitives that both Yjs and Automerge provide natively or nearly so:
 *
 * - init: set-once fields written when the document is created;
 * - registers: multi-value registers. A write supersedes every value the
 *   writer has seen; concurrent writes all survive until a later write
 *   supersedes them. LWW fields are registers read by "highest HLC wins";
 *   guarded fields are the same registers read as "all concurrent values".
 *   One primitive, two read policies, identical on both backends.
 * - sets: grow-only maps of id -> record (receipts, payments, transitions...),
 *   idempotent by id;
 * - texts: collaborative text (notes, long descriptions);
 * - clock: the version vector, one monotonic counter per replica, so any
 *   record can say exactly which events its author had seen.
 *
 * The purchase layer reads a plain `DocSnapshot` and never touches Yjs or
 * Automerge types, which is what lets one test suite run on both.
 */
import type { EventId, ReplicaId } from '../ids.js'
import type { Hlc } from '../time/hlc.js'
import type { Json } from '../json.js'
import type { BackendName } from './registry.js'
import type { UpdateEffect } from './effect.js'
import type { SetName } from './sets.js'

export type { BackendName }

export type { SetName } from './sets.js'
export { SET_NAMES } from './sets.js'

/** One value of a register, with the write that made it. */
export interface RegisterEntry {
  readonly value: Json
  /** The event that wrote it. */
  readonly ev: EventId
  readonly hlc: Hlc
  /** Who wrote it and from which device, for conflict branches and audit. */
  readonly by?: string
  readonly dev?: string
  /** Set when the write was made by a conflict resolution (its conflict id). */
  readonly res?: string
}

/** A version vector: for each replica, how many of its events are included. */
export type VersionVector = ReadonlyMap<ReplicaId, number>

/**
 * What changed between two snapshots of one document: readers that keep
 * something per register or per record (the purchase layer's lines, totals
 * and conflicts) update only that, instead of rescanning the whole document.
 */
export interface SnapshotDelta {
  /** The snapshot this one was patched from (weak: a snapshot never keeps its predecessors alive). */
  readonly from: WeakRef<DocSnapshot>
  /** Register keys whose entries may differ from `from` (added, changed or gone). */
  readonly registers: ReadonlySet<string>
  /** Per set, the record ids that may differ; a set not listed holds the same map as in `from`. */
  readonly sets: ReadonlyMap<SetName, ReadonlySet<string>>
}

/** Everything a document holds, as plain values. */
export interface DocSnapshot {
  readonly init: ReadonlyMap<string, Json>
  /** Register key -> its concurrent entries, sorted by (hlc, ev). Never empty. */
  readonly registers: ReadonlyMap<string, readonly RegisterEntry[]>
  readonly sets: { readonly [S in SetName]: ReadonlyMap<string, Json> }
  readonly texts: ReadonlyMap<string, string>
  readonly clock: VersionVector
  /**
   * Register key -> what its stored values that are no entry are (null, a
   * number, ...): left out of `registers`, kept here to be reported.
   * Absent when there are none.
   */
  readonly unreadable?: ReadonlyMap<string, readonly string[]>
  /** Set when this snapshot was patched from an earlier one; absent means "read from scratch". */
  readonly delta?: SnapshotDelta
}

/** The operations a local change may make. */
export interface DocWriter {
  /** Writes a set-once field. Writing it again with another value throws. */
  init(key: string, value: Json): void
  /** Writes a register, superseding every entry this replica has seen. */
  setRegister(key: string, entry: RegisterEntry): void
  /** Adds a record to a grow-only set; adding an existing id again is a no-op. */
  addRecord(set: SetName, id: string, record: Json): void
  /** Creates a text (once, by whoever creates its owner) or edits it. */
  insertText(key: string, index: number, text: string): void
  deleteText(key: string, index: number, length: number): void
  /** Records that `replica` has made its `seq`-th event (monotonic). */
  tickClock(replica: ReplicaId, seq: number): void
}

/** One DocWriter call, recorded (to validate a change before applying it, or to stage it). */
export type DocWriteOp =
  | { readonly k: 'init'; readonly key: string; readonly value: Json }
  | { readonly k: 'reg'; readonly key: string; readonly entry: RegisterEntry }
  | { readonly k: 'rec'; readonly set: SetName; readonly id: string; readonly record: Json }
  | { readonly k: 'ins'; readonly key: string; readonly index: number; readonly text: string }
  | { readonly k: 'del'; readonly key: string; readonly index: number; readonly length: number }
  | { readonly k: 'tick'; readonly replica: ReplicaId; readonly seq: number }

/** One CRDT document, owned by one replica. */
export interface CrdtDoc {
  readonly backend: BackendName
  /**
   * Applies a local change and returns its update bytes (the event payload).
   * The change is applied synchronously; nothing here does I/O.
   */
  change(fn: (w: DocWriter) => void): Uint8Array
  /**
   * Applies remote payloads as one batch (Automerge is ~100x faster batched).
   * Throws INVALID_UPDATE, leaving the document unchanged, when any payload
   * does not decode.
   */
  applyBatch(payloads: readonly Uint8Array[]): void
  /** The whole document as plain values. Cached until the next change. */
  read(): DocSnapshot
  /** The full state, loadable by `CrdtBackend.load`, tagged with the backend. */
  save(): Uint8Array
  /** Compact fingerprint of what the document contains (state vector or heads). */
  version(): string
  /**
   * Optional history hook: a read-only document as it was when exactly the
   * given payloads (causally closed, all applied here) had applied. Automerge
   * implements it with its own history (`view` by heads), which is much
   * cheaper than `replay` into a fresh document; callers fall back to
   * `replay` when a backend lacks it.
   */
  viewAt?(payloads: readonly Uint8Array[]): CrdtDoc
  /** Optional fast path: a text's length without materialising the document. */
  textLength?(key: string): number
  destroy(): void
}

export interface CrdtBackend {
  readonly name: BackendName
  create(replica: ReplicaId): CrdtDoc
  /** Throws BACKEND_MISMATCH for the other backend's bytes, CORRUPT_SNAPSHOT for garbage. */
  load(snapshot: Uint8Array, replica: ReplicaId): CrdtDoc
  /** Throws INVALID_UPDATE unless the bytes decode as an update of this backend. */
  validateUpdate(payload: Uint8Array): void
  /**
   * What `payload` would do to `doc` (a document of this backend), read from
   * the bytes and resolved against the document, without applying it. Throws
   * INVALID_UPDATE when the bytes do not decode, so it also validates.
   */
  inspectUpdate?(doc: CrdtDoc, payload: Uint8Array): UpdateEffect
  /** The author id this backend's changes by `replica` carry (see UpdateEffect.authors). */
  authorOf?(replica: ReplicaId): string
}
