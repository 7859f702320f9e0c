/**
 * Node storage in one SQLite file (better-sqlite3, WAL). Node only: imported
 * from '@concord/client/node', never from the browser entry.
 *
 * Opening never writes to a file it has not recognised: the file is first
 * read (the sqlite header and our table), and only a new, empty file is set
 * up. A file that is not a database or has foreign tables is refused with
 * STORE_CORRUPT and left as it was.
 */
import Database from 'better-sqlite3'
import { ConcordError } from '@concord/core'
import { type KvBackend, type KvOp, type LocalStorage, type ScanOptions, type Table, type WriteGuard, checkScan, checkTable, checkWrite, prefixEnd } from './kv.js'

export function sqliteStorage(path: string): LocalStorage {
  const describe = `sqlite store ${path}`
  return {
    describe,
    async open(): Promise<KvBackend> {
      let db: Database.Database
      try {
        db = new Database(path)
      } catch (e) {
        throw new ConcordError('STORE_CORRUPT', `${describe} cannot be opened: ${(e as Error).message}`, { reason: 'CORRUPT' }, { cause: e })
      }
      try {
        const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[]
        if (tables.length === 0) {
          db.pragma('journal_mode = WAL')
          db.exec(`CREATE TABLE concord_kv (tbl TEXT NOT NULL, k TEXT NOT NULL, v BLOB NOT NULL, PRIMARY KEY (tbl, k)) WITHOUT ROWID`)
        } else if (!tables.includes('concord_kv')) {
          throw new ConcordError('STORE_CORRUPT', `${describe} is a SQLite database of something else (tables: ${tables.join(', ')}); refusing to use it`, { reason: 'CORRUPT' })
        } else {
          db.pragma('journal_mode = WAL')
        }
        db.pragma('synchronous = NORMAL')
      } catch (e) {
        db.close()
        if (e instanceof ConcordError) throw e
        throw new ConcordError('STORE_CORRUPT', `${describe} is not a readable Concord store: ${(e as Error).message}`, { reason: 'CORRUPT' }, { cause: e })
      }
      const get = db.prepare<[string, string], { v: Buffer }>('SELECT v FROM concord_kv WHERE tbl = ? AND k = ?')
      const range = db.prepare<[string, string, string, number], [string, Buffer]>(
        'SELECT k, v FROM concord_kv WHERE tbl = ? AND k > ? AND k < ? ORDER BY k LIMIT ?',
      ).raw()
      const rangeFrom = db.prepare<[string, string, string, number], [string, Buffer]>(
        'SELECT k, v FROM concord_kv WHERE tbl = ? AND k >= ? AND k < ? ORDER BY k LIMIT ?',
      ).raw()
      const any = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM concord_kv WHERE tbl = ? LIMIT 1')
      const put = db.prepare<[string, string, Buffer]>('INSERT OR REPLACE INTO concord_kv (tbl, k, v) VALUES (?, ?, ?)')
      const del = db.prepare<[string, string]>('DELETE FROM concord_kv WHERE tbl = ? AND k = ?')
      const bytes = (b: Buffer) => new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
      // IMMEDIATE: the guard is read under the write lock, so two processes on one file cannot both pass it.
      const writeAll = db.transaction((ops: readonly KvOp[], guard: WriteGuard | undefined): boolean => {
        if (guard !== undefined) {
          const row = get.get(guard.table, guard.key)
          if (!guard.test(row === undefined ? undefined : bytes(row.v))) return false
        }
        for (const op of ops) {
          if (op.value === null) del.run(op.table, op.key)
          else put.run(op.table, op.key, Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength))
        }
        return true
      })
      let closed = false
      const live = () => {
        if (closed) throw new ConcordError('STORE_CLOSED', `${describe} is closed`)
      }
      return {
        describe,
        async get(t: Table, key: string) {
          live()
          checkTable(t, 'get')
          const row = get.get(t, key)
          return row === undefined ? undefined : bytes(row.v)
        },
        async scan(t: Table, o: ScanOptions = {}) {
          live()
          checkScan(t, o)
          const prefix = o.prefix ?? ''
          const hi = prefixEnd(prefix)
          const limit = o.limit ?? -1
          const rows = o.after !== undefined && o.after >= prefix ? range.all(t, o.after, hi, limit) : rangeFrom.all(t, prefix, hi, limit)
          return rows.map(([k, v]) => [k, bytes(v)] as [string, Uint8Array])
        },
        async isEmpty(t: Table) {
          live()
          checkTable(t, 'isEmpty')
          return any.get(t) === undefined
        },
        async write(ops: readonly KvOp[], guard?: WriteGuard) {
          live()
          // An unknown table used to be stored (and never read), a bad value to throw a TypeError.
          checkWrite(ops, guard)
          return writeAll.immediate(ops, guard)
        },
        async close() {
          if (closed) return
          closed = true
          db.close()
        },
      }
    },
  }
}
