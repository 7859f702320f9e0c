/**
 * The byte-level storage that the client's store is built on: a few named
 * tables of string keys and byte values, with ordered prefix scans and atomic
 * multi-table writes. Each platform implements only this (memory, SQLite in
 * Node, IndexedDB in browsers); schema versions, encryption and record
 * formats live once, above it, in store.ts.
 */

import { fail } from '@concord/core/internal'

/**
 * The tables the client keeps. Keys sort as plain strings (code-unit order).
 *
 * Keys hold code units below U+D800 only (checkWrite refuses others). SQLite
 * orders text by code point, IndexedDB and JavaScript by UTF-16 code unit:
 * the two orders agree below U+D800 and differ above it (U+E000 sorts after
 * an emoji in one, before it in the other), and SQLite cannot store a lone
 * surrogate. The client's keys are url-safe ids, seat numbers and digits, so
 * the limit costs nothing and every backend sorts and pages alike.
 */
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

// Anything from the first surrogate up: see Table.
const OUT_OF_RANGE_KEY = /[\ud800-\uffff]/

function checkKey(key: unknown, at: string): void {
  if (typeof key !== 'string') fail('INVALID_ARGUMENT', `${at}: a key must be a string, got ${typeof key}`, { field: 'key' })
  if (OUT_OF_RANGE_KEY.test(key)) fail('INVALID_ARGUMENT', `${at}: key ${JSON.stringify(key)} holds a character at or above U+D800, which the stores cannot sort alike`, { field: 'key' })
}

/** A table name from outside the type system (a custom caller, a cast) is one of TABLES. */
export function checkTable(table: unknown, at: string): void {
  if (!TABLES.includes(table as Table)) fail('INVALID_ARGUMENT', `${at}: unknown table ${JSON.stringify(table)}`, { field: 'table' })
}

/**
 * Checks a whole write before any of it is applied, so a bad op refuses the
 * write with INVALID_ARGUMENT instead of failing halfway (memory) or being
 * stored under a table no one reads (SQLite). Every backend calls it first.
 */
export function checkWrite(ops: readonly KvOp[], guard: WriteGuard | undefined): void {
  if (!Array.isArray(ops)) fail('INVALID_ARGUMENT', 'a write takes an array of ops', { field: 'ops' })
  ops.forEach((op, i) => {
    const at = `write op ${i}`
    checkTable(op?.table, at)
    checkKey(op.key, at)
    if (op.value !== null && !(op.value instanceof Uint8Array)) fail('INVALID_ARGUMENT', `${at}: a value must be a Uint8Array or null (delete), got ${String(op.value)}`, { field: 'value' })
  })
  if (guard !== undefined) {
    checkTable(guard.table, 'write guard')
    checkKey(guard.key, 'write guard')
    if (typeof guard.test !== 'function') fail('INVALID_ARGUMENT', 'write guard: test must be a function', { field: 'guard' })
  }
}

/**
 * Checks scan options. A limit must be a positive integer: 0 and negative
 * limits meant three things (memory returned one row, SQLite none or all,
 * IndexedDB all), and the client only ever pages by a positive count.
 */
export function checkScan(table: Table, o: ScanOptions): void {
  checkTable(table, 'scan')
  if (o.prefix !== undefined && typeof o.prefix !== 'string') fail('INVALID_ARGUMENT', `scan: prefix must be a string, got ${typeof o.prefix}`, { field: 'prefix' })
  if (o.after !== undefined && typeof o.after !== 'string') fail('INVALID_ARGUMENT', `scan: after must be a string, got ${String(o.after)}`, { field: 'after' })
  if (o.limit !== undefined && !(Number.isSafeInteger(o.limit) && o.limit > 0)) fail('INVALID_ARGUMENT', `scan: limit must be a positive integer, got ${String(o.limit)}`, { field: 'limit' })
}

export function prefixEnd(prefix: string): string {
  return prefix + '\uffff'
}
