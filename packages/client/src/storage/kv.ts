/**
 * The byte-level storage that the client's store is built on: a few named
 * tables of string keys and byte values, with ordered prefix scans and atomic
 * multi-table writes. Each platform implements only this (memory, SQLite in
 * Node, IndexedDB in browsers); schema versions, encryption and record
 * formats live once, above it, in store.ts.
 */

/** The tables the client keeps. Keys sort as plain strings (code-unit order). */
export type Table = 'meta' | 'docs' | 'events' | 'outbox'
export const TABLES: readonly Table[] = ['meta', 'docs', 'events', 'outbox']

export interface KvOp {
  readonly table: Table
  readonly key: string
  /** `null` deletes the key. */
  readonly value: Uint8Array | null
}

/**
 * A condition a write commits under, read in the same transaction as the
 * write: the seat lease (seats.ts) fences every write of an instance that
 * lost its seat.
 */
export interface WriteGuard {
  readonly table: Table
  readonly key: string
  /** Sees the key's current value; false refuses the whole write. */
  readonly test: (current: Uint8Array | undefined) => boolean
}

export interface ScanOptions {
  /** Only keys starting with this. */
  readonly prefix?: string
  /** Only keys strictly after this one (for paging). */
  readonly after?: string
  readonly limit?: number
}

/** An open store. Every method may throw a ConcordError STORE_CORRUPT or STORE_CLOSED. */
export interface KvBackend {
  /** What this is, for messages ("sqlite /var/data/client.db"). */
  readonly describe: string
  get(table: Table, key: string): Promise<Uint8Array | undefined>
  /** Keys in ascending order. */
  scan(table: Table, options?: ScanOptions): Promise<[string, Uint8Array][]>
  /** True when the table holds no key. */
  isEmpty(table: Table): Promise<boolean>
  /**
   * All or nothing: after a crash either every op is visible or none is.
   * With a guard, nothing is written and the answer is false when its test fails.
   */
  write(ops: readonly KvOp[], guard?: WriteGuard): Promise<boolean>
  close(): Promise<void>
}

/**
 * Where a client keeps its data: `memoryStorage()`, `sqliteStorage(path)`
 * (from '@concord/client/node') or `indexedDbStorage(name)` (browsers).
 * `open` may be called again after a close (a restarted client).
 */
export interface LocalStorage {
  readonly describe: string
  open(): Promise<KvBackend>
}

export function prefixEnd(prefix: string): string {
  return prefix + '\uffff'
}
