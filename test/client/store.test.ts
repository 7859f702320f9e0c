/**
 * A corrupt store and a wrong key give clear typed
 * errors and nothing is overwritten; a store from a newer schema is refused
 * untouched; an older one is migrated forward.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type ErrorCode, isConcordError } from '@concord/core'
import { type LocalStorage, createClient, memoryStorage } from '@concord/client'
import { SCHEMA_VERSION } from '@concord/client/internal'
import { sqliteStorage } from '@concord/client/node'
import { decodeEvent, encodeEvent } from '@concord/core/protocol'
import { decodeLegacyEvent } from '@concord/core/internal'
import { removeDir } from '../support/client-relay.js'
import { V2_AUTOMERGE_DOC, V2_ENCRYPTED_DOC, V2_ENCRYPTION_KEY, V2_YJS_DOC, asSchema2Event, loadStoreV2 } from './fixtures/store-v2.js'

const dirs: string[] = []
test.after(() => {
  for (const d of dirs) removeDir(d)
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'concord-client-store-'))
  dirs.push(d)
  return d
}

function hashDir(dir: string): string {
  const h = createHash('sha256')
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)))
  return h.digest('hex')
}

const KEY = new Uint8Array(32).map((_, i) => i + 1)
const OTHER_KEY = new Uint8Array(32).map((_, i) => 255 - i)

function open(storage: LocalStorage, encryptionKey?: Uint8Array) {
  return createClient({ url: 'ws://127.0.0.1:9/sync', token: 't', storage, autoConnect: false, ...(encryptionKey ? { encryptionKey } : {}) })
}

async function refused(p: Promise<unknown>, code: ErrorCode, reason?: string, message?: RegExp): Promise<void> {
  try {
    await p
  } catch (e) {
    assert.ok(isConcordError(e, code), `expected ${code}, got ${String(e)}`)
    if (reason !== undefined) assert.is((e as { details: { reason?: string } }).details.reason, reason)
    if (message !== undefined) assert.match((e as Error).message, message)
    return
  }
  assert.unreachable(`expected ${code}`)
}

async function seed(storage: LocalStorage, key?: Uint8Array) {
  const c = await open(storage, key)
  const p = await c.createPurchase({ currency: 'EUR', supplier: 'Acme' })
  await p.run((r) => r.addLine({ product: 'Bolts', qty: '10', price: '2.50' }))
  await p.run((r) => r.transition('send'))
  const id = p.id
  const replica = c.replicaId
  await c.close()
  return { id, replica }
}

test('encrypted SQLite store: wrong key and missing key are refused; the file is not touched; the right key reads it', async () => {
  const dir = tempDir()
  const path = join(dir, 'client.db')
  const { id, replica } = await seed(sqliteStorage(path), KEY)
  const before = hashDir(dir)
  assert.not.match(readFileSync(path).toString('latin1'), /Acme|Bolts/, 'nothing readable at rest')
  await refused(open(sqliteStorage(path), OTHER_KEY), 'STORE_KEY_MISMATCH', 'WRONG_KEY', /does not open with this encryptionKey/)
  await refused(open(sqliteStorage(path)), 'STORE_KEY_MISMATCH', 'KEY_REQUIRED', /is encrypted/)
  assert.is(hashDir(dir), before, 'refused opens changed nothing')
  const c = await open(sqliteStorage(path), KEY)
  assert.is(c.replicaId, replica)
  const h = await c.open(id)
  assert.equal(h.state().supplier.values, ['Acme'])
  assert.is(c.status.docs.get(id)!.pending, 3, 'the outbox survived the restart')
  assert.equal(c.queueStats().byPriority, { high: 0, normal: 3, low: 0 })
  await c.close()
})

test('a plain store opened with a key is refused rather than mixed', async () => {
  const storage = memoryStorage('plain')
  await seed(storage)
  await refused(open(storage, KEY), 'STORE_KEY_MISMATCH', 'NOT_ENCRYPTED')
})

test('a tampered encrypted record is a clear STORE_CORRUPT error and is left as it was', async () => {
  const storage = memoryStorage('tamper')
  const { id } = await seed(storage, KEY)
  const docs = storage.tables.get('docs')!
  const original = docs.get(id)!
  const bad = original.slice()
  bad[bad.length - 1]! ^= 0x01
  docs.set(id, bad)
  await refused(open(storage, KEY), 'STORE_CORRUPT', 'CORRUPT', /altered or written with another key/)
  assert.equal(docs.get(id), bad, 'not overwritten')
  // A swapped record (valid ciphertext under another key name) fails too: the key is authenticated.
  const events = storage.tables.get('events')!
  const [k1, k2] = [...events.keys()].sort()
  docs.set(id, original)
  const v1 = events.get(k1!)!
  events.set(k1!, events.get(k2!)!)
  const c = await open(storage, KEY)
  await refused(c.open(id), 'STORE_CORRUPT', 'CORRUPT')
  await c.close()
  events.set(k1!, v1)
})

test('a file that is not a database, and a foreign SQLite database, are refused untouched', async () => {
  const dir = tempDir()
  const path = join(dir, 'garbage.db')
  writeFileSync(path, Buffer.from('this is not a sqlite database at all, just text '.repeat(100)))
  const before = hashDir(dir)
  await refused(open(sqliteStorage(path)), 'STORE_CORRUPT', 'CORRUPT', /cannot|not a readable/)
  assert.is(hashDir(dir), before)
  const foreign = join(dir, 'foreign.db')
  const db = new Database(foreign)
  db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER)')
  db.close()
  await refused(open(sqliteStorage(foreign)), 'STORE_CORRUPT', 'CORRUPT', /something else/)
})

test('a corrupt plain record (bad JSON, bad event bytes) is STORE_CORRUPT naming the record', async () => {
  const dir = tempDir()
  const path = join(dir, 'plain.db')
  const { id } = await seed(sqliteStorage(path))
  const db = new Database(path)
  db.prepare(`UPDATE concord_kv SET v = ? WHERE tbl = 'events' AND k = ?`).run(Buffer.from([0xff, 0x00, 0x13]), `${id}/0000000001`)
  db.close()
  const c = await open(sqliteStorage(path))
  await refused(c.open(id), 'STORE_CORRUPT', 'CORRUPT', new RegExp(`event ${id}/0000000001 does not decode`))
  await c.close()
  const db2 = new Database(path)
  db2.prepare(`UPDATE concord_kv SET v = ? WHERE tbl = 'docs' AND k = ?`).run(Buffer.from('{not json'), id)
  db2.close()
  await refused(open(sqliteStorage(path)), 'STORE_CORRUPT', 'CORRUPT', new RegExp(`docs/${id} is not valid JSON`))
})

test('a store from a newer schema is refused and never overwritten', async () => {
  const dir = tempDir()
  const path = join(dir, 'newer.db')
  await seed(sqliteStorage(path))
  const db = new Database(path)
  db.prepare(`UPDATE concord_kv SET v = ? WHERE tbl = 'meta' AND k = 'schema'`).run(Buffer.from(JSON.stringify({ version: SCHEMA_VERSION + 1, encrypted: false, createdAt: '2026-01-01T00:00:00.000Z' })))
  db.close()
  const before = hashDir(dir)
  await refused(open(sqliteStorage(path)), 'STORE_SCHEMA_TOO_NEW', undefined, /newer client .* left untouched/)
  assert.is(hashDir(dir), before)
})

test('a version 1 store is migrated forward: outbox entries gain priority and size, nothing is lost', async () => {
  const storage = memoryStorage('v1')
  const c0 = await open(storage)
  const p = await c0.createPurchase({ currency: 'EUR', supplier: 'Acme' })
  await p.run((r) => r.addLine({ product: 'Bolts', qty: '10', price: '2.50' }))
  await p.run((r) => r.editNotes(0, 0, 'call first'))
  await c0.close()
  // Rewrite it as version 1 wrote it.
  const te = new TextEncoder()
  const td = new TextDecoder()
  const outbox = storage.tables.get('outbox')!
  for (const [k, v] of outbox) {
    const { priority: _p, bytes: _b, ...old } = JSON.parse(td.decode(v)) as Record<string, unknown>
    outbox.set(k, te.encode(JSON.stringify(old)))
  }
  const events = storage.tables.get('events')!
  for (const [k, v] of events) events.set(k, asSchema2Event(v))
  storage.tables.get('meta')!.set('schema', te.encode(JSON.stringify({ version: 1, encrypted: false, createdAt: '2026-01-01T00:00:00.000Z' })))

  const c = await open(storage)
  assert.equal(c.queueStats().byPriority, { high: 0, normal: 2, low: 1 })
  assert.equal(c.queueStats().byKind, { 'purchase.create': 1, 'line.add': 1, 'notes.edit': 1 })
  const schema = JSON.parse(td.decode(storage.tables.get('meta')!.get('schema')!)) as { version: number }
  assert.is(schema.version, SCHEMA_VERSION)
  for (const v of outbox.values()) {
    const e = JSON.parse(td.decode(v)) as { bytes: number }
    assert.ok(e.bytes > 0)
  }
  const h = await c.open(p.id)
  assert.is(h.state().notes, 'call first')
  await c.close()
})

test('a schema 2 store (event bodies with the backend as a flag bit) is migrated: every seat\'s events rewritten, both backends read, outbox sizes follow', async () => {
  const storage = memoryStorage('v2')
  loadStoreV2(storage)
  const td = new TextDecoder()
  const events = storage.tables.get('events')!
  const old = new Map([...events].map(([k, v]) => [k, v.slice()]))
  assert.is(old.size, 5)
  assert.ok([...old.keys()].some((k) => k.startsWith('~1/')), 'the fixture has a second seat')
  // The old bytes are not the current layout: read as such they fail, typed.
  for (const v of old.values()) assert.throws(() => decodeEvent(v), (e: unknown) => isConcordError(e, 'MALFORMED_FRAME') || isConcordError(e, 'INVALID_EVENT'))
  for (const v of old.values()) assert.equal(asSchema2Event(encodeEvent(decodeLegacyEvent(v))), v, 'the helper the version 1 test uses writes what schema 2 wrote')

  const c = await open(storage)
  const schema = JSON.parse(td.decode(storage.tables.get('meta')!.get('schema')!)) as { version: number }
  assert.is(schema.version, SCHEMA_VERSION)
  assert.is(SCHEMA_VERSION, 3)
  const backends = new Set<string>()
  for (const [k, v] of old) {
    const e = decodeEvent(events.get(k)!)
    assert.equal(e, decodeLegacyEvent(v), `${k} carries the same envelope`)
    assert.equal(encodeEvent(e), events.get(k), `${k} is in the current canonical layout`)
    backends.add(e.backend)
  }
  assert.equal([...backends].sort(), ['automerge', 'yjs'], 'the fixture has both backends, so the flag bit was read both ways')
  for (const [k, v] of storage.tables.get('outbox')!) {
    const entry = JSON.parse(td.decode(v)) as { eventKey: string; bytes: number }
    const seat = k.startsWith('~') ? k.slice(0, k.indexOf('/') + 1) : ''
    assert.is(entry.bytes, events.get(seat + entry.eventKey)!.length, `outbox ${k} has the new size`)
  }
  // Seat 0's instance carries seat 1's purchase in (absorb.ts), reading its migrated events.
  const y = await c.open(V2_YJS_DOC)
  assert.equal(y.state().supplier.values, ['Acme Yjs'])
  assert.is(y.state().notes, 'call first')
  const a = await c.open(V2_AUTOMERGE_DOC)
  assert.equal(a.state().supplier.values, ['Acme Automerge'])
  assert.equal(a.state().lines.map((l) => l.product), ['Nuts'])
  await a.run((r) => r.addLine({ product: 'Washers', qty: '1', price: '0.10' }))
  await c.close()

  // Opened again, nothing is migrated twice and the new event is there.
  const again = await open(storage)
  assert.equal((await again.open(V2_AUTOMERGE_DOC)).state().lines.map((l) => l.product), ['Nuts', 'Washers'])
  await again.close()
})

test('an encrypted schema 2 store is migrated under its key: the rewritten events are sealed again and read back', async () => {
  const storage = memoryStorage('v2-encrypted')
  loadStoreV2(storage, 'encrypted')
  const events = storage.tables.get('events')!
  const old = new Map([...events].map(([k, v]) => [k, v.slice()]))
  await refused(open(storage), 'STORE_KEY_MISMATCH', 'KEY_REQUIRED')
  const c = await open(storage, V2_ENCRYPTION_KEY)
  for (const [k, v] of old) {
    // Sealing adds the same overhead to every value: one byte more is the backend byte.
    assert.is(events.get(k)!.length, v.length + 1, `${k} rewritten`)
  }
  const a = await c.open(V2_ENCRYPTED_DOC)
  assert.equal(a.state().supplier.values, ['Sealed Automerge'])
  assert.equal(a.state().lines.map((l) => l.product), ['Rivets'])
  assert.is(c.status.docs.get(a.id)!.pending, 2, 'the outbox survived')
  await c.close()
  assert.not.match(Buffer.from([...events.values()].flatMap((v) => [...v])).toString('latin1'), /Rivets|Sealed/, 'nothing readable at rest')
})

test('a backend this build does not know is STORE_CORRUPT: in a document record, and as an event body\'s backend id', async () => {
  const storage = memoryStorage('unknown-backend')
  const { id } = await seed(storage)
  const te = new TextEncoder()
  const td = new TextDecoder()
  const docs = storage.tables.get('docs')!
  const record = docs.get(id)!
  docs.set(id, te.encode(JSON.stringify({ ...(JSON.parse(td.decode(record)) as object), backend: 'loro' })))
  await refused(open(storage), 'STORE_CORRUPT', 'CORRUPT', new RegExp(`docs/${id} names unknown backend "loro"`))
  docs.set(id, record)
  const events = storage.tables.get('events')!
  const key = `${id}/0000000001`
  const bytes = events.get(key)!.slice()
  // docId (length byte and text), flags, then the backend id.
  const at = 1 + id.length + 1
  assert.is(bytes[at], 0, 'a Yjs event')
  bytes[at] = 9
  events.set(key, bytes)
  const c = await open(storage)
  await refused(c.open(id), 'STORE_CORRUPT', 'CORRUPT', new RegExp(`event ${key} does not decode: .*unknown backend id 9`))
  await c.close()
})

test.run()
