/**
 * What a CRDT variant must offer to run the B cases: the shape of
 * crdt-benchmarks' AbstractCrdt, plus remote apply one update at a time and
 * batched, which is what a replication engine pays for every event it
 * receives. Raw Yjs, raw Automerge and (later) Concord's event log + backend
 * all implement it, so they land in the same tables.
 */

export type UpdateHandler = (update: Uint8Array) => void

export interface CrdtReplica {
  insertText(index: number, text: string): void
  deleteText(index: number, length: number): void
  getText(): string
  insertArray(index: number, values: unknown[]): void
  getArray(): unknown[]
  setMap(key: string, value: unknown): void
  getMap(): Record<string, unknown>
  /** Runs several edits as one change, producing one update. */
  transact(fn: () => void): void
  /** Applies one remote update. */
  applyUpdate(update: Uint8Array): void
  /** Applies several remote updates as one batch (one transaction / one call). */
  applyUpdates(updates: readonly Uint8Array[]): void
  /** The whole document, loadable by `CrdtFactory.load`. */
  encodeState(): Uint8Array
  destroy(): void
}

export interface CrdtFactory {
  /** Column name in the tables: "yjs", "automerge", "concord-yjs"... */
  readonly id: string
  readonly title: string
  /** Which case families this variant can run; the others show as n/a. */
  readonly supports: { readonly text: boolean; readonly array: boolean; readonly map: boolean }
  /**
   * Every replica of one case shares this starting state: Automerge needs the
   * root objects created once, or concurrent replicas would each create their
   * own and conflict.
   */
  create(onUpdate?: UpdateHandler): CrdtReplica
  load(state: Uint8Array, onUpdate?: UpdateHandler): CrdtReplica
  /** Library name and version, for the record. */
  readonly library: string
}
