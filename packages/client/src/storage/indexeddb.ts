/**
 * Browser storage in IndexedDB: one database per store name, one object store
 * per table, and every write in one readwrite transaction over the tables it
 * touches, so the outbox and the events it names commit together.
 *
 * Why not y-indexeddb for the Yjs state: it writes
 * each Yjs update in its own transaction, in plaintext, to its own database.
 * The outbox must commit atomically with the event it holds (or a crash
 * leaves a change that exists locally but is never sent), and encryption at
 * rest must cover the document too. Events here carry the Yjs updates, so
 * the document is rebuilt from them exactly; nothing is kept twice.
 */
import { ConcordError } from '@concord/core'
import { type KvBackend, type KvOp, type LocalStorage, type ScanOptions, type Table, type WriteGuard, TABLES, checkScan, checkTable, checkWrite, prefixEnd } from './kv.js'

/** Bumped only when object stores change; the record schema has its own version (store.ts). */
const IDB_VERSION = 1

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result)
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'))
  })
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'))
  })
}

export function indexedDbStorage(name: string, factory?: IDBFactory): LocalStorage {
  const describe = `IndexedDB store ${name}`
  return {
    describe,
    async open(): Promise<KvBackend> {
      const idb = factory ?? globalThis.indexedDB
      if (idb === undefined) throw new ConcordError('INVALID_ARGUMENT', 'indexedDbStorage needs IndexedDB, which this runtime does not have')
      const req = idb.open(`concord:${name}`, IDB_VERSION)
      req.onupgradeneeded = () => {
        const db = req.result
        for (const t of TABLES) if (!db.objectStoreNames.contains(t)) db.createObjectStore(t)
      }
      let db: IDBDatabase
      try {
        db = await request(req)
      } catch (e) {
        // A database from a newer IDB_VERSION fails here with VersionError: refused, untouched.
        const tooNew = (e as DOMException)?.name === 'VersionError'
        throw new ConcordError(
          tooNew ? 'STORE_SCHEMA_TOO_NEW' : 'STORE_CORRUPT',
          `${describe} cannot be opened: ${(e as Error)?.message ?? String(e)}`,
          tooNew ? {} : { reason: 'CORRUPT' },
        )
      }
      let closed = false
      const live = () => {
        if (closed) throw new ConcordError('STORE_CLOSED', `${describe} is closed`)
      }
      const bytes = (v: unknown): Uint8Array => {
        if (v instanceof Uint8Array) return v
        if (v instanceof ArrayBuffer) return new Uint8Array(v)
        throw new ConcordError('STORE_CORRUPT', `${describe} holds a value that is not bytes`, { reason: 'CORRUPT' })
      }
      return {
        describe,
        async get(t: Table, key: string) {
          live()
          checkTable(t, 'get')
          const v = await request(db.transaction(t, 'readonly').objectStore(t).get(key))
          return v === undefined ? undefined : bytes(v)
        },
        async scan(t: Table, o: ScanOptions = {}) {
          live()
          checkScan(t, o)
          const prefix = o.prefix ?? ''
          const lower = o.after !== undefined && o.after >= prefix ? o.after : prefix
          const upper = prefixEnd(prefix)
          // An `after` at or past the prefix's end leaves nothing; IDBKeyRange.bound would throw a DataError for it.
          if (lower >= upper) return []
          const range = IDBKeyRange.bound(lower, upper, lower === o.after, true)
          const store = db.transaction(t, 'readonly').objectStore(t)
          const [keys, values] = await Promise.all([
            request(store.getAllKeys(range, o.limit)),
            request(store.getAll(range, o.limit)),
          ])
          return keys.map((k, i) => [String(k), bytes(values[i])] as [string, Uint8Array])
        },
        async isEmpty(t: Table) {
          live()
          checkTable(t, 'isEmpty')
          return (await request(db.transaction(t, 'readonly').objectStore(t).count())) === 0
        },
        async write(ops: readonly KvOp[], guard?: WriteGuard) {
          live()
          checkWrite(ops, guard)
          const tables = [...new Set([...ops.map((o) => o.table), ...(guard === undefined ? [] : [guard.table])])]
          // Nothing to write and nothing to check: a transaction over no store would throw InvalidAccessError.
          if (tables.length === 0) return true
          const tx = db.transaction(tables, 'readwrite', { durability: 'strict' })
          const finished = done(tx)
          const putAll = () => {
            for (const op of ops) {
              const s = tx.objectStore(op.table)
              if (op.value === null) s.delete(op.key)
              else s.put(op.value, op.key)
            }
          }
          if (guard === undefined) {
            putAll()
            await finished
            return true
          }
          // The guard is read inside the same readwrite transaction, which no other tab's can interleave with.
          let passed = false
          let thrown: { error: unknown } | undefined
          const check = tx.objectStore(guard.table).get(guard.key)
          check.onsuccess = () => {
            const v = check.result as unknown
            // A test that throws aborts the write and rejects it with its own error (left to the
            // event handler, it would abort with an anonymous error and surface as an uncaught one).
            try {
              passed = guard.test(v === undefined ? undefined : bytes(v))
            } catch (e) {
              thrown = { error: e }
              tx.abort()
              return
            }
            if (passed) putAll()
          }
          try {
            await finished
          } catch (e) {
            throw thrown !== undefined ? thrown.error : e
          }
          return passed
        },
        async close() {
          closed = true
          db.close()
        },
      }
    },
  }
}
