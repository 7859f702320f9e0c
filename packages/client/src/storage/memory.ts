/**
 * In-memory storage. The data outlives a client: a second client opened on
 * the same `memoryStorage()` sees what the first one wrote, which is how
 * tests restart a client. Values are copied in and out, so a caller that
 * mutates a buffer cannot change what is stored.
 */
import { fail } from '@concord/core/internal'
import { type KvBackend, type KvOp, type LocalStorage, type ScanOptions, type Table, type WriteGuard, TABLES, checkScan, checkTable, checkWrite } from './kv.js'

export interface MemoryStorage extends LocalStorage {
  /** The raw stored bytes, for tests that inspect or corrupt a store. */
  readonly tables: Map<Table, Map<string, Uint8Array>>
}

export function memoryStorage(name = 'memory'): MemoryStorage {
  const tables = new Map<Table, Map<string, Uint8Array>>(TABLES.map((t) => [t, new Map()]))
  return {
    describe: `memory store ${name}`,
    tables,
    async open(): Promise<KvBackend> {
      let closed = false
      const table = (t: Table) => {
        if (closed) fail('STORE_CLOSED', `memory store ${name} is closed`)
        checkTable(t, 'memory store')
        return tables.get(t)!
      }
      return {
        describe: `memory store ${name}`,
        async get(t, key) {
          const v = table(t).get(key)
          return v === undefined ? undefined : v.slice()
        },
        async scan(t, o: ScanOptions = {}) {
          table('meta') // refuses once closed
          checkScan(t, o)
          const out: [string, Uint8Array][] = []
          const keys = [...table(t).keys()].sort()
          for (const k of keys) {
            if (o.prefix !== undefined && !k.startsWith(o.prefix)) continue
            if (o.after !== undefined && k <= o.after) continue
            out.push([k, table(t).get(k)!.slice()])
            if (o.limit !== undefined && out.length >= o.limit) break
          }
          return out
        },
        async isEmpty(t) {
          return table(t).size === 0
        },
        async write(ops: readonly KvOp[], guard?: WriteGuard) {
          table('meta') // refuses once closed
          // Before any op is applied: an unknown table used to throw halfway through, leaving the ops before it written.
          checkWrite(ops, guard)
          if (guard !== undefined && !guard.test(table(guard.table).get(guard.key)?.slice())) return false
          for (const op of ops) {
            if (op.value === null) tables.get(op.table)!.delete(op.key)
            else tables.get(op.table)!.set(op.key, op.value.slice())
          }
          return true
        },
        async close() {
          closed = true
        },
      }
    },
  }
}
