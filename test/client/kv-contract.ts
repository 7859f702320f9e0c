/**
 * The KvBackend contract: what the client's store (store.ts) and seat leases
 * (seats.ts) rely on from the byte-level storage, checked the same way on
 * every implementation: memory and SQLite in Node, IndexedDB in Chromium.
 *
 * The cases are plain named async functions, so that the same code runs in a
 * page (test/web/kv-page.ts bundles this file): `kvContractCases` lists them,
 * `runKvBackendContract` registers them as one uvu suite in Node.
 *
 * What the callers rely on, and where:
 * - get/scan/isEmpty see every committed write (read your own writes) in
 *   four separate tables; a later write of a key replaces it, `null` deletes.
 * - scan: ascending code-unit order, `prefix` (a seat's `~n/`, a document's
 *   `docId/`), `after` strictly after a key and `limit` (loadEventRows pages
 *   500 at a time, seat 0 filters out `~` keys that sort after its own).
 * - write is all or nothing, and under a guard it commits only if the guard's
 *   test passes on the value read in the same transaction (a seat's lease;
 *   compare-and-set when two instances claim a seat at once).
 * - values are bytes, returned exactly (encrypted records, encoded events,
 *   JSON), and copied: a caller's buffer changed later changes nothing.
 * - keys are strings of code units below U+D800 (kv.ts says why); anything
 *   else, and any malformed op, refuses the whole write with INVALID_ARGUMENT.
 * - a LocalStorage opens again after a close with the same data, and two
 *   open backends of one storage (two tabs, two processes) see each other's
 *   writes; a closed backend refuses with STORE_CLOSED.
 */
import fc from 'fast-check'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type ErrorCode, isConcordError } from '@concord/core'
import type { KvBackend, KvOp, LocalStorage, ScanOptions, Table, WriteGuard } from '@concord/client'
import { checkAsync, SEED } from '../support/seed.js'

export interface KvHarness {
  /** A storage holding nothing yet. */
  readonly storage: LocalStorage
  /** Removes what the storage left behind (a temp dir, a database); its backends are closed by then. */
  readonly cleanup: () => Promise<void>
}

export type KvSetup = () => Promise<KvHarness>

export interface KvContractOptions {
  /** Cases for the model property (fewer for slow backends). Default 60. */
  readonly propertyRuns?: number
}

/** What a case gets: `open` opens the storage again, and every backend opened is closed after the case. */
export interface KvCaseContext {
  readonly storage: LocalStorage
  open(): Promise<KvBackend>
}

export interface KvContractCase {
  readonly name: string
  readonly run: (ctx: KvCaseContext) => Promise<void>
}

const TABLES: readonly Table[] = ['meta', 'docs', 'events', 'outbox']
const te = new TextEncoder()
const td = new TextDecoder()
const b = (s: string) => te.encode(s)
const put = (table: Table, key: string, value: Uint8Array | string): KvOp => ({ table, key, value: typeof value === 'string' ? b(value) : value })
const del = (table: Table, key: string): KvOp => ({ table, key, value: null })

/** The text of a value read back (undefined when missing), for readable asserts. */
async function text(kv: KvBackend, table: Table, key: string): Promise<string | undefined> {
  const v = await kv.get(table, key)
  return v === undefined ? undefined : td.decode(v)
}

async function keys(kv: KvBackend, table: Table, o?: ScanOptions): Promise<string[]> {
  return (await kv.scan(table, o)).map(([k]) => k)
}

/** Compares bytes as arrays (a Buffer and a Uint8Array with the same bytes are equal), and checks the type. */
function sameBytes(actual: Uint8Array | undefined, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: a Uint8Array comes back (got ${String(actual)})`)
  assert.is(actual.byteLength, expected.byteLength, `${what}: length`)
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.unreachable(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`)
  }
}

async function rejectsWith(f: () => Promise<unknown>, code: ErrorCode, what: string): Promise<void> {
  try {
    await f()
  } catch (e) {
    if (isConcordError(e, code)) return
    assert.unreachable(`${what}: expected a ConcordError ${code}, got ${String((e as Error)?.stack ?? e)}`)
  }
  assert.unreachable(`${what}: expected a ConcordError ${code}, but it resolved`)
}

/** A guard that passes when the key holds exactly `expected` (undefined: missing), as a seat claim tests. */
const holds = (table: Table, key: string, expected: string | undefined): WriteGuard => ({
  table, key, test: (v) => (v === undefined ? expected === undefined : expected !== undefined && td.decode(v) === expected),
})

/** Keys the client writes (ids are url-safe ASCII; seats prefix `~n/`), and keys any string-keyed store must keep apart. */
const CLIENT_KEYS = ['schema', 'seat/0', 'seat/12', 'replica', '~1/replica', '~12/PO-1', 'PO-1', 'PO-1/0000000001', 'PO-1.x_y-z/0000000002']
const ODD_KEYS = [
  '', ' ', 'a b', "it's", '"quoted"', '%', '_', 'a%', 'a_', '*', '?', '\\', '/', '//', '.', '..', '\t\n\r',
  '\u0000', 'a\u0000b', 'é', 'e\u0301', 'ж', '中文', '\u007f', '\u0080', '\u07ff', '\u0800', '\ud7ff', 'a\ud7ff', 'x'.repeat(600),
]
/** Keys at or above U+D800, refused by every backend alike (see kv.ts: SQLite and IndexedDB would sort them differently). */
const REFUSED_KEYS = ['PO-\ud800', 'PO-\udc00x', '\ue000', '\ufffd', '\uffff', '😀', 'PO-1/😀']
const codeUnitOrder = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0)

export function kvContractCases(options: KvContractOptions = {}): KvContractCase[] {
  const cases: KvContractCase[] = []
  const c = (name: string, run: KvContractCase['run']) => cases.push({ name, run })

  c('a new storage is empty: missing keys are undefined, scans empty, every table empty', async ({ open }) => {
    const kv = await open()
    assert.type(kv.describe, 'string')
    for (const t of TABLES) {
      assert.is(await kv.get(t, 'schema'), undefined, t)
      assert.equal(await kv.scan(t), [], t)
      assert.equal(await kv.scan(t, { prefix: 'PO-1/', after: 'PO-1/0000000001', limit: 5 }), [], t)
      assert.is(await kv.isEmpty(t), true, t)
    }
  })

  c('reads see the writes before them; tables are separate', async ({ open }) => {
    const kv = await open()
    assert.is(await kv.write([put('meta', 'k', 'in meta'), put('docs', 'k', 'in docs')]), true)
    assert.is(await text(kv, 'meta', 'k'), 'in meta')
    assert.is(await text(kv, 'docs', 'k'), 'in docs')
    assert.is(await kv.get('events', 'k'), undefined)
    assert.is(await kv.isEmpty('meta'), false)
    assert.is(await kv.isEmpty('events'), true)
    assert.equal(await keys(kv, 'docs'), ['k'])
    assert.equal(await keys(kv, 'outbox'), [])
    await kv.write([del('meta', 'k')])
    assert.is(await text(kv, 'docs', 'k'), 'in docs', 'a delete in one table leaves the others')
  })

  c('a write replaces the value; within one write, the later op on a key wins', async ({ open }) => {
    const kv = await open()
    await kv.write([put('docs', 'a', 'one')])
    await kv.write([put('docs', 'a', 'two, longer than one')])
    assert.is(await text(kv, 'docs', 'a'), 'two, longer than one')
    await kv.write([put('docs', 'a', 'x')])
    assert.is(await text(kv, 'docs', 'a'), 'x', 'a shorter value replaces a longer one entirely')
    await kv.write([put('docs', 'b', '1'), put('docs', 'b', '2'), put('docs', 'c', 'kept'), del('docs', 'c'), del('docs', 'd'), put('docs', 'd', 'back')])
    assert.is(await text(kv, 'docs', 'b'), '2')
    assert.is(await kv.get('docs', 'c'), undefined, 'put then delete: deleted')
    assert.is(await text(kv, 'docs', 'd'), 'back', 'delete then put: present')
    assert.equal(await keys(kv, 'docs'), ['a', 'b', 'd'])
  })

  c('delete removes a key; deleting a missing key is no error; the table is empty again', async ({ open }) => {
    const kv = await open()
    await kv.write([put('outbox', 'PO-1/0000000001', 'e1'), put('outbox', 'PO-1/0000000002', 'e2')])
    assert.is(await kv.write([del('outbox', 'PO-1/0000000001')]), true)
    assert.is(await kv.get('outbox', 'PO-1/0000000001'), undefined)
    assert.equal(await keys(kv, 'outbox'), ['PO-1/0000000002'])
    assert.is(await kv.write([del('outbox', 'PO-1/0000000001'), del('outbox', 'never-written')]), true)
    await kv.write([del('outbox', 'PO-1/0000000002')])
    assert.is(await kv.isEmpty('outbox'), true)
    assert.equal(await kv.scan('outbox'), [])
  })

  c('an empty write commits nothing and answers true, or what its guard says', async ({ open }) => {
    const kv = await open()
    assert.is(await kv.write([]), true)
    assert.is(await kv.write([], holds('meta', 'seat/0', undefined)), true)
    await kv.write([put('meta', 'seat/0', 'me')])
    assert.is(await kv.write([], holds('meta', 'seat/0', 'someone else')), false)
    for (const t of ['docs', 'events', 'outbox'] as const) assert.is(await kv.isEmpty(t), true)
  })

  c('values come back byte-exact: empty, every byte value, a view into a larger buffer, 4 MiB', async ({ open }) => {
    const kv = await open()
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    const backing = Uint8Array.from({ length: 64 }, (_, i) => 200 - i)
    const view = backing.subarray(10, 30)
    const large = new Uint8Array(4 * 1024 * 1024)
    // A pattern that no run-length trick or truncation keeps: every 4 KiB page differs.
    for (let i = 0; i < large.length; i++) large[i] = (i * 31 + (i >>> 12)) & 0xff
    await kv.write([put('events', 'empty', new Uint8Array(0)), put('events', 'all', all), put('events', 'view', view), put('events', 'large', large)])
    const empty = await kv.get('events', 'empty')
    assert.ok(empty !== undefined, 'an empty value is a value, not a missing key')
    sameBytes(empty, new Uint8Array(0), 'empty')
    sameBytes(await kv.get('events', 'all'), all, 'all byte values')
    sameBytes(await kv.get('events', 'view'), view, 'a view: its bytes, not its whole buffer')
    sameBytes(await kv.get('events', 'large'), large, '4 MiB')
    const scanned = new Map(await kv.scan('events'))
    assert.equal([...scanned.keys()], ['all', 'empty', 'large', 'view'])
    sameBytes(scanned.get('empty'), new Uint8Array(0), 'empty, scanned')
    sameBytes(scanned.get('view'), view, 'view, scanned')
    sameBytes(scanned.get('large'), large, '4 MiB, scanned')
    assert.is(await kv.isEmpty('events'), false)
  })

  c('values are copied in and out: changing a buffer after the write or after the read changes nothing stored', async ({ open }) => {
    const kv = await open()
    const mine = Uint8Array.from([1, 2, 3])
    await kv.write([put('docs', 'k', mine)])
    mine[0] = 99
    sameBytes(await kv.get('docs', 'k'), Uint8Array.from([1, 2, 3]), 'after changing the written buffer')
    const read = await kv.get('docs', 'k')
    read![1] = 99
    const [[, scanned]] = (await kv.scan('docs')) as [[string, Uint8Array]]
    scanned[2] = 99
    sameBytes(await kv.get('docs', 'k'), Uint8Array.from([1, 2, 3]), 'after changing buffers read back')
    let seen: Uint8Array | undefined
    await kv.write([], { table: 'docs', key: 'k', test: (v) => ((seen = v), true) })
    sameBytes(seen, Uint8Array.from([1, 2, 3]), 'what a guard sees')
  })

  c('keys with unusual characters are kept exactly, apart, and listed in code-unit order', async ({ open }) => {
    const kv = await open()
    const all = [...new Set([...CLIENT_KEYS, ...ODD_KEYS])]
    await kv.write(all.map((k, i) => put('docs', k, `v${i}`)))
    for (const [i, k] of all.entries()) assert.is(await text(kv, 'docs', k), `v${i}`, `key ${JSON.stringify(k)}`)
    const listed = await kv.scan('docs')
    assert.equal(listed.map(([k]) => k), [...all].sort(codeUnitOrder))
    for (const [k, v] of listed) assert.is(td.decode(v), `v${all.indexOf(k)}`, `scanned key ${JSON.stringify(k)}`)
    // 'é' and 'e\u0301' look alike: two keys, never normalised into one.
    await kv.write([del('docs', 'e\u0301')])
    assert.is(await text(kv, 'docs', 'é'), `v${all.indexOf('é')}`)
    assert.is(await kv.get('docs', 'e\u0301'), undefined)
  })

  c('scan: prefix takes exactly the keys starting with it, in order, whatever follows the prefix', async ({ open }) => {
    const kv = await open()
    const stored = ['PO-1', 'PO-1/', 'PO-1/0000000001', 'PO-1/0000000002', 'PO-10/0000000001', 'PO-1\ud7ff', 'PO-1/\ud7ff', 'PO-1/\u0000', 'PO-1/é', 'PO-2/0000000001', '~1/PO-1/0000000001', '~1/replica', '~12/replica']
    await kv.write(stored.map((k) => put('events', k, k)))
    const expect = (prefix: string) => stored.filter((k) => k.startsWith(prefix)).sort(codeUnitOrder)
    for (const prefix of ['', 'PO-1', 'PO-1/', 'PO-10/', '~', '~1/', '~12/', 'PO-1\ud7ff', 'PO-1/\u0000', 'PO-3/', 'P', '\uffff', '😀']) {
      assert.equal(await keys(kv, 'events', { prefix }), expect(prefix), `prefix ${JSON.stringify(prefix)}`)
    }
    for (const [k, v] of await kv.scan('events', { prefix: 'PO-1/' })) assert.is(td.decode(v), k)
  })

  c('scan: after is strictly after a key (stored or not), limit caps the page, with and without a prefix', async ({ open }) => {
    const kv = await open()
    const stored = ['PO-1/0000000001', 'PO-1/0000000002', 'PO-1/0000000003', 'PO-2/0000000001', '~1/PO-1/0000000001']
    await kv.write(stored.map((k) => put('events', k, k)))
    const cases: [ScanOptions, string[]][] = [
      [{ after: 'PO-1/0000000001' }, stored.slice(1)],
      [{ after: 'PO-1/0000000001', limit: 2 }, stored.slice(1, 3)],
      [{ prefix: 'PO-1/', after: 'PO-1/0000000001' }, stored.slice(1, 3)],
      [{ prefix: 'PO-1/', after: 'PO-1/00000000015' }, stored.slice(1, 3)],
      [{ prefix: 'PO-1/', after: 'PO-1/0000000003' }, []],
      // after before the prefix: the whole prefix; after past it: nothing.
      [{ prefix: 'PO-2/', after: 'PO-1/0000000002' }, ['PO-2/0000000001']],
      [{ prefix: 'PO-1/', after: 'PO-2/' }, []],
      [{ prefix: 'PO-1/', after: '~' }, []],
      [{ prefix: 'PO-1/', after: 'PO-1/' }, stored.slice(0, 3)],
      [{ prefix: 'PO-1/', limit: 1 }, stored.slice(0, 1)],
      [{ prefix: 'PO-1/', limit: 500 }, stored.slice(0, 3)],
      [{ limit: 1 }, stored.slice(0, 1)],
      [{ after: '~1/PO-1/0000000001' }, []],
      [{ after: '' }, stored],
      [{ prefix: '~' }, ['~1/PO-1/0000000001']],
    ]
    for (const [o, expected] of cases) assert.equal(await keys(kv, 'events', o), expected, JSON.stringify(o))
  })

  c('reads refuse bad input with INVALID_ARGUMENT: an unknown table, a limit that is not a positive integer, a prefix or after that is not a string', async ({ open }) => {
    const kv = await open()
    await kv.write([put('docs', 'PO-1', 'x'), put('docs', 'PO-2', 'y')])
    const bad: [string, ScanOptions][] = [
      ['limit 0', { limit: 0 }], ['limit -1', { limit: -1 }], ['limit 1.5', { limit: 1.5 }], ['limit NaN', { limit: NaN }],
      ['limit as text', { limit: '2' as unknown as number }], ['a numeric prefix', { prefix: 7 as unknown as string }], ['a null after', { after: null as unknown as string }],
    ]
    for (const [what, o] of bad) await rejectsWith(() => kv.scan('docs', o), 'INVALID_ARGUMENT', what)
    await rejectsWith(() => kv.scan('nope' as Table), 'INVALID_ARGUMENT', 'scan of an unknown table')
    await rejectsWith(() => kv.get('nope' as Table, 'PO-1'), 'INVALID_ARGUMENT', 'get from an unknown table')
    await rejectsWith(() => kv.isEmpty('nope' as Table), 'INVALID_ARGUMENT', 'isEmpty of an unknown table')
    assert.equal(await keys(kv, 'docs', { limit: 1 }), ['PO-1'])
  })

  c('paging with after = the last key and a limit reads every key of a prefix once, in order', async ({ open }) => {
    const kv = await open()
    const n = 1203
    const ops = Array.from({ length: n }, (_, i) => put('events', `PO-P/${String(i).padStart(10, '0')}`, String(i)))
    ops.push(put('events', 'PO-P0', 'other doc'), put('events', 'PO-O/0000000001', 'other doc'), put('events', '~1/PO-P/0000000001', 'other seat'))
    await kv.write(ops)
    const got: string[] = []
    let after: string | undefined
    let pages = 0
    for (;;) {
      const rows = await kv.scan('events', { prefix: 'PO-P/', ...(after !== undefined ? { after } : {}), limit: 500 })
      pages++
      for (const [k, v] of rows) {
        assert.is(td.decode(v), String(got.length), k)
        got.push(k)
      }
      if (rows.length < 500) break
      after = rows[rows.length - 1]![0]
    }
    assert.is(pages, 3)
    assert.equal(got, ops.slice(0, n).map((o) => o.key))
  })

  c('a write is all or nothing: a failing guard writes nothing and answers false', async ({ open }) => {
    const kv = await open()
    await kv.write([put('meta', 'seat/0', 'holder-a'), put('docs', 'PO-1', 'before'), put('events', 'PO-1/0000000001', 'e1')])
    const ops = [put('docs', 'PO-1', 'after'), del('events', 'PO-1/0000000001'), put('outbox', 'PO-1/0000000001', 'o1')]
    assert.is(await kv.write(ops, holds('meta', 'seat/0', 'holder-b')), false)
    assert.is(await text(kv, 'docs', 'PO-1'), 'before')
    assert.is(await text(kv, 'events', 'PO-1/0000000001'), 'e1')
    assert.is(await kv.isEmpty('outbox'), true)
    // A guard on a missing key sees undefined.
    assert.is(await kv.write(ops, holds('meta', 'seat/1', 'holder-a')), false)
    assert.is(await kv.isEmpty('outbox'), true)
    assert.is(await kv.write(ops, holds('meta', 'seat/0', 'holder-a')), true)
    assert.is(await text(kv, 'docs', 'PO-1'), 'after')
    assert.is(await kv.get('events', 'PO-1/0000000001'), undefined)
    assert.is(await text(kv, 'outbox', 'PO-1/0000000001'), 'o1')
  })

  c('a write is all or nothing: a guard that throws writes nothing and the write rejects', async ({ open }) => {
    const kv = await open()
    await kv.write([put('docs', 'PO-1', 'before')])
    const boom: WriteGuard = { table: 'meta', key: 'seat/0', test: () => { throw new Error('guard exploded') } }
    let rejected = false
    try {
      await kv.write([put('docs', 'PO-1', 'after'), put('events', 'PO-1/0000000001', 'e1')], boom)
    } catch {
      rejected = true
    }
    assert.ok(rejected, 'the write rejects')
    assert.is(await text(kv, 'docs', 'PO-1'), 'before')
    assert.is(await kv.isEmpty('events'), true)
    assert.is(await kv.write([put('events', 'PO-1/0000000001', 'e1')]), true, 'the backend still writes afterwards')
  })

  c('a write with an invalid op is refused whole with INVALID_ARGUMENT', async ({ open }) => {
    const kv = await open()
    await kv.write([put('docs', 'PO-1', 'before')])
    const bad: [string, KvOp][] = [
      ['an unknown table', { table: 'nope' as Table, key: 'k', value: b('v') }],
      ['a value that is not bytes', { table: 'events', key: 'k', value: 'text' as unknown as Uint8Array }],
      ['a missing value', { table: 'events', key: 'k', value: undefined as unknown as null }],
      ['a key that is not a string', { table: 'events', key: 7 as unknown as string, value: b('v') }],
      ...REFUSED_KEYS.map((key): [string, KvOp] => [`key ${JSON.stringify(key)}`, { table: 'events', key, value: b('v') }]),
      ...REFUSED_KEYS.map((key): [string, KvOp] => [`deleting key ${JSON.stringify(key)}`, { table: 'events', key, value: null }]),
    ]
    for (const [what, op] of bad) {
      await rejectsWith(() => kv.write([put('docs', 'PO-1', 'after'), put('outbox', 'PO-1/0000000001', 'o'), op, put('events', 'PO-1/0000000001', 'e')]), 'INVALID_ARGUMENT', what)
      assert.is(await text(kv, 'docs', 'PO-1'), 'before', what)
      assert.is(await kv.isEmpty('outbox'), true, what)
      assert.is(await kv.isEmpty('events'), true, what)
    }
    await rejectsWith(() => kv.write([put('docs', 'PO-1', 'after')], { table: 'docs', key: '😀', test: () => true }), 'INVALID_ARGUMENT', 'a guard on a refused key')
    await rejectsWith(() => kv.write([put('docs', 'PO-1', 'after')], { table: 'nope' as Table, key: 'k', test: () => true }), 'INVALID_ARGUMENT', 'a guard on an unknown table')
    assert.is(await text(kv, 'docs', 'PO-1'), 'before')
  })

  c('data survives close and open again; another open backend sees writes at once', async ({ open }) => {
    const first = await open()
    await first.write([put('meta', 'schema', 'v2'), put('events', 'PO-1/0000000001', new Uint8Array([0, 255, 0]))])
    await first.close()
    const second = await open()
    assert.is(await text(second, 'meta', 'schema'), 'v2')
    sameBytes(await second.get('events', 'PO-1/0000000001'), new Uint8Array([0, 255, 0]), 'after reopening')
    const third = await open()
    await second.write([put('docs', 'PO-1', 'from second'), del('meta', 'schema')])
    assert.is(await text(third, 'docs', 'PO-1'), 'from second')
    assert.is(await third.get('meta', 'schema'), undefined)
    await third.write([put('docs', 'PO-2', 'from third')])
    assert.equal(await keys(second, 'docs'), ['PO-1', 'PO-2'])
    await second.close()
    assert.equal(await keys(third, 'docs'), ['PO-1', 'PO-2'], 'closing one backend leaves the other working')
  })

  c('a closed backend refuses every call with STORE_CLOSED; closing twice is fine; a write started before close lands', async ({ open }) => {
    const kv = await open()
    const pending = kv.write([put('docs', 'PO-1', 'just before close')])
    await kv.close()
    assert.is(await pending, true)
    await kv.close()
    await rejectsWith(() => kv.get('docs', 'PO-1'), 'STORE_CLOSED', 'get')
    await rejectsWith(() => kv.scan('docs'), 'STORE_CLOSED', 'scan')
    await rejectsWith(() => kv.scan('docs', { prefix: 'PO-' }), 'STORE_CLOSED', 'scan with prefix')
    await rejectsWith(() => kv.isEmpty('docs'), 'STORE_CLOSED', 'isEmpty')
    await rejectsWith(() => kv.write([put('docs', 'PO-2', 'x')]), 'STORE_CLOSED', 'write')
    await rejectsWith(() => kv.write([put('docs', 'PO-2', 'x')], holds('meta', 'seat/0', undefined)), 'STORE_CLOSED', 'guarded write')
    const again = await open()
    assert.is(await text(again, 'docs', 'PO-1'), 'just before close')
    assert.is(await again.get('docs', 'PO-2'), undefined)
  })

  c('calls issued without waiting take effect in the order issued', async ({ open }) => {
    const kv = await open()
    const calls: Promise<unknown>[] = []
    for (let i = 0; i < 50; i++) calls.push(kv.write([put('docs', 'counter', String(i)), put('events', `PO-1/${String(i).padStart(10, '0')}`, String(i))]))
    const read = kv.get('docs', 'counter')
    const listed = kv.scan('events', { prefix: 'PO-1/' })
    calls.push(kv.write([put('docs', 'counter', 'last')]))
    const results = await Promise.all(calls)
    assert.ok(results.every((r) => r === true))
    assert.is(td.decode((await read)!), '49', 'a read issued after 50 writes sees the 50th')
    assert.is((await listed).length, 50)
    assert.is(await text(kv, 'docs', 'counter'), 'last')
  })

  c('a guard reads the value of the write before it: of concurrent claims from two backends, exactly one wins', async ({ open }) => {
    const a = await open()
    const other = await open()
    // Every claimer tests the lease it read (missing) and writes its own: a compare-and-set.
    const claims = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : other).write(
      [put('meta', 'seat/0', `holder-${i}`), put('meta', `~${i}/replica`, `r${i}`)],
      holds('meta', 'seat/0', undefined),
    ))
    const won = (await Promise.all(claims)).flatMap((ok, i) => (ok ? [i] : []))
    assert.is(won.length, 1, `winners: ${won.join(', ')}`)
    assert.is(await text(a, 'meta', 'seat/0'), `holder-${won[0]}`)
    assert.equal(await keys(other, 'meta', { prefix: '~' }), [`~${won[0]}/replica`], 'only the winner wrote its other ops')
    // A renewal chain: each guard sees what the previous (unawaited) write left.
    const chain = [1, 2, 3].map((n) => a.write([put('meta', 'seat/0', `gen-${n}`)], holds('meta', 'seat/0', n === 1 ? `holder-${won[0]}` : `gen-${n - 1}`)))
    assert.equal(await Promise.all(chain), [true, true, true])
    assert.is(await text(other, 'meta', 'seat/0'), 'gen-3')
  })

  c(`random operations match a Map model (SEED=${SEED})`, async ({ open }) => {
    // Few keys from a small alphabet, so that writes collide and prefixes overlap.
    const keyArb = fc.string({ unit: fc.constantFrom('a', 'b', '/', '~', '0', '\u0000', 'é', '\ud7ff'), maxLength: 4 })
    const valueArb = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 8 }))
    const tableArb = fc.constantFrom<Table>('meta', 'docs')
    const opArb = fc.record({ table: tableArb, key: keyArb, value: valueArb })
    type Step =
      | { t: 'write'; ops: KvOp[]; guard: { table: Table; key: string; missing: boolean } | null }
      | { t: 'get'; table: Table; key: string }
      | { t: 'scan'; table: Table; prefix: string | null; after: string | null; limit: number | null }
      | { t: 'isEmpty'; table: Table }
      | { t: 'reopen' }
    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ t: fc.constant('write' as const), ops: fc.array(opArb, { maxLength: 5 }), guard: fc.option(fc.record({ table: tableArb, key: keyArb, missing: fc.boolean() })) }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), table: tableArb, key: keyArb }) },
      { weight: 3, arbitrary: fc.record({ t: fc.constant('scan' as const), table: tableArb, prefix: fc.option(keyArb), after: fc.option(keyArb), limit: fc.option(fc.integer({ min: 1, max: 4 })) }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('isEmpty' as const), table: tableArb }) },
      { weight: 1, arbitrary: fc.constant({ t: 'reopen' as const }) },
    )
    const show = (v: Uint8Array | undefined) => (v === undefined ? 'missing' : `[${[...v].join(',')}]`)
    let kv = await open()
    await checkAsync(
      fc.asyncProperty(fc.array(stepArb, { maxLength: 30 }), async (steps) => {
        // Each run starts from an empty storage: clear what the last one left.
        for (const t of ['meta', 'docs'] as const) await kv.write((await kv.scan(t)).map(([k]) => del(t, k)))
        const model = new Map<Table, Map<string, Uint8Array>>([['meta', new Map()], ['docs', new Map()]])
        for (const [i, step] of steps.entries()) {
          const at = `step ${i} ${JSON.stringify(step, (_, v: unknown) => (v instanceof Uint8Array ? [...v] : v))}`
          if (step.t === 'write') {
            const g = step.guard
            const guard: WriteGuard | undefined = g === null ? undefined : { table: g.table, key: g.key, test: (v) => (v === undefined) === g.missing }
            const pass = g === null || model.get(g.table)!.has(g.key) !== g.missing
            assert.is(await kv.write(step.ops, guard), pass, at)
            if (pass) for (const o of step.ops) o.value === null ? model.get(o.table)!.delete(o.key) : model.get(o.table)!.set(o.key, o.value.slice())
          } else if (step.t === 'get') {
            assert.is(show(await kv.get(step.table, step.key)), show(model.get(step.table)!.get(step.key)), at)
          } else if (step.t === 'scan') {
            const o: ScanOptions = {
              ...(step.prefix !== null ? { prefix: step.prefix } : {}), ...(step.after !== null ? { after: step.after } : {}), ...(step.limit !== null ? { limit: step.limit } : {}),
            }
            const expected = [...model.get(step.table)!].filter(([k]) => (step.prefix === null || k.startsWith(step.prefix)) && (step.after === null || k > step.after))
              .sort(([x], [y]) => codeUnitOrder(x, y)).slice(0, step.limit ?? Infinity)
            const got = await kv.scan(step.table, o)
            assert.equal(got.map(([k, v]) => `${k}=${show(v)}`), expected.map(([k, v]) => `${k}=${show(v)}`), at)
          } else if (step.t === 'isEmpty') {
            assert.is(await kv.isEmpty(step.table), model.get(step.table)!.size === 0, at)
          } else {
            await kv.close()
            kv = await open()
          }
        }
      }),
      { numRuns: options.propertyRuns ?? 60 },
    )
  })

  return cases
}

/** Runs one case on a fresh storage; every backend it opened is closed and the storage cleaned up, even when it fails. */
export async function runKvCase(setup: KvSetup, c: KvContractCase): Promise<void> {
  const h = await setup()
  const opened: KvBackend[] = []
  try {
    await c.run({ storage: h.storage, open: async () => { const kv = await h.storage.open(); opened.push(kv); return kv } })
  } finally {
    for (const kv of opened) await kv.close().catch(() => undefined)
    await h.cleanup()
  }
}

/** Registers the contract as one uvu suite and runs it. */
export function runKvBackendContract(name: string, setup: KvSetup, options: KvContractOptions = {}): void {
  const s = suite(`KvBackend contract: ${name}`)
  for (const c of kvContractCases(options)) s(c.name, () => runKvCase(setup, c))
  s.run()
}
