import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type ErrorCode, isConcordError } from '@concord/core'
import { eventHash } from '@concord/core/internal'
import { type SqliteEventStoreOptions, SqliteEventStore } from '@concord/relay/store'
import { type SqliteMigration, SQLITE_MIGRATIONS } from '@concord/relay/internal'
import { durableHarness, runEventStoreContract } from './contract.js'
import { actor, doc, ev, waitFor } from './events.js'
import { MIGRATED_OWNERS, MIGRATION_DOCS } from './fixtures/migration-data.js'
import { V1_DOC, V1_EVENTS, V1_RELAY_ID, insertSqliteV1Events, sqliteLayout, writeSqliteV1 } from './fixtures/sqlite-v1.js'

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'concord-store-'))
}

runEventStoreContract(
  'sqlite',
  async ({ testHooks }) => {
    const dir = tempDir()
    const path = join(dir, 'relay.db')
    const open = () => SqliteEventStore.open({ path, ...(testHooks ? { testHooks } : {}) })
    return durableHarness(open, () => rmSync(dir, { recursive: true, force: true }))
  },
  { propertyRuns: 40 },
)

const s = suite('SqliteEventStore specifics')

let dir = ''
s.before.each(() => {
  dir = tempDir()
})
s.after.each(() => {
  rmSync(dir, { recursive: true, force: true })
})

async function openRefused(options: SqliteEventStoreOptions, code: ErrorCode): Promise<Error> {
  try {
    const store = await SqliteEventStore.open(options)
    await store.close()
  } catch (e) {
    if (isConcordError(e, code)) return e
    throw new Error(`expected ${code}, got ${String((e as Error).stack ?? e)}`)
  }
  throw new Error(`expected ${code}, but the store opened`)
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

s('durability: process = WAL + synchronous NORMAL (default), power = WAL + FULL', async () => {
  for (const [durability, synchronous] of [[undefined, 1], ['process', 1], ['power', 2]] as const) {
    const store = await SqliteEventStore.open({ path: join(dir, `${durability ?? 'default'}.db`), ...(durability ? { durability } : {}) })
    assert.equal(store.settings(), { journalMode: 'wal', synchronous, walAutocheckpoint: 16_384, schemaVersion: SQLITE_MIGRATIONS.length })
    await store.close()
  }
  await openRefused({ path: join(dir, 'x.db'), durability: 'disk' as never }, 'INVALID_ARGUMENT')
})

s('a file that is not an SQLite database is refused with STORE_CORRUPT and never written', async () => {
  const path = join(dir, 'garbage.db')
  const bytes = Buffer.from('this is a purchase order spreadsheet, not a database\n'.repeat(200))
  writeFileSync(path, bytes)
  const err = await openRefused({ path }, 'STORE_CORRUPT')
  assert.match(err.message, /not an SQLite database/)
  assert.ok(readFileSync(path).equals(bytes), 'the file is untouched')
})

s('an SQLite database that is not a Concord store is refused and left alone', async () => {
  const path = join(dir, 'other-app.db')
  const db = new Database(path)
  db.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT); INSERT INTO invoices (total) VALUES ('12.50')")
  db.close()
  const before = sha(path)
  const err = await openRefused({ path }, 'STORE_CORRUPT')
  assert.match(err.message, /not a Concord event store/)
  assert.is(sha(path), before)
})

s('a path that cannot be opened is a typed error', async () => {
  const path = join(dir, 'a-directory')
  mkdirSync(path)
  await openRefused({ path }, 'INVALID_ARGUMENT')
  await openRefused({ path: join(dir, 'no', 'such', 'dir', 'x.db') }, 'INVALID_ARGUMENT')
})

s('the hand-made v1 fixture has exactly the layout migration 1 creates; migrated, the layout of a fresh store', async () => {
  // What a relay of version 1 made: the meta table, then migration 1 (this code cannot open a v1 store without migrating it).
  const v1 = join(dir, 'v1-fresh.db')
  const db = new Database(v1)
  db.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
  SQLITE_MIGRATIONS[0]!.up(db)
  db.close()
  const fixture = join(dir, 'v1.db')
  writeSqliteV1(fixture)
  assert.equal(sqliteLayout(fixture), sqliteLayout(v1))
  const fresh = join(dir, 'fresh.db')
  await (await SqliteEventStore.open({ path: fresh })).close()
  await (await SqliteEventStore.open({ path: fixture })).close()
  assert.equal(sqliteLayout(fixture), sqliteLayout(fresh))
})

s('a v1 store opens with the current code: every row is kept and appends continue', async () => {
  const path = join(dir, 'v1.db')
  writeSqliteV1(path)
  const store = await SqliteEventStore.open({ path })
  try {
    assert.is(await store.relayId(), V1_RELAY_ID)
    const info = await store.getDoc(doc(V1_DOC))
    assert.equal({ ...info }, { docId: V1_DOC, backend: 'yjs', lastSeq: 2, createdAt: '2026-01-02T03:04:05.000Z', number: 'PO-2026-00007' })
    const events = await store.readFrom(doc(V1_DOC), 0)
    assert.equal(events.map((e) => ({ ...e.event, payload: Array.from(e.event.payload) })), V1_EVENTS.map((e) => ({ ...e, payload: Array.from(e.payload) })))
    assert.is((await store.latestSnapshot(doc(V1_DOC)))?.upToSeq, 1)
    const more = await store.append([{ docId: doc(V1_DOC), backend: 'yjs', events: [V1_EVENTS[1]!, ev(V1_DOC, 'dev', 3)] }])
    assert.equal(more[0]!.events.map((o) => o.ok && [o.seq, o.duplicate]), [[2, true], [3, false]])
    assert.is(await store.allocateNumber(doc('PO-NEXT'), 2026), 'PO-2026-00008')
  } finally {
    await store.close()
  }
})

s('migration 2: every stored event gets its hash (page after page), each actor the user of its first stored event', async () => {
  const path = join(dir, 'v1.db')
  writeSqliteV1(path)
  for (const d of MIGRATION_DOCS) insertSqliteV1Events(path, d.docId, d.events, d.storedAt)
  const store = await SqliteEventStore.open({ path })
  try {
    assert.is(store.settings().schemaVersion, 2)
    const raw = new Database(path, { readonly: true })
    const hashes = new Map((raw.prepare('SELECT doc_id, seq, hash FROM events').all() as { doc_id: string; seq: number; hash: string }[]).map((r) => [`${r.doc_id}/${r.seq}`, r.hash]))
    const bound = raw.prepare('SELECT actor, subject, bound_at FROM actors ORDER BY actor').all()
    raw.close()
    let n = 0
    for (const docId of [V1_DOC, ...MIGRATION_DOCS.map((d) => d.docId)]) {
      for await (const page of store.readPages(doc(docId), 0)) {
        for (const e of page) {
          n++
          assert.is(hashes.get(`${docId}/${e.seq}`), eventHash(e.event), `${docId} seq ${e.seq}: the stored hash is eventHash of the event as read back`)
        }
      }
    }
    assert.is(n, hashes.size)
    assert.is(n, 2 + 3 + 1202)
    assert.equal(Object.fromEntries(await store.actorOwners(Object.keys(MIGRATED_OWNERS).map(actor))), MIGRATED_OWNERS)
    assert.equal(bound.find((b) => (b as { actor: string }).actor === 'r'), { actor: 'r', subject: 'early', bound_at: '2026-01-15T00:00:00.000Z' })
    assert.equal(Object.fromEntries(await store.actorHeads(doc('PO-MANY'), [actor('p'), actor('q'), actor('dev')])), { p: 600, q: 600, dev: 1 })
    // A migrated event: the same content is a duplicate, other content an ID_CONFLICT (a re-send is matched by hash now).
    const [first] = V1_EVENTS
    const r = await store.append([{
      docId: doc(V1_DOC), backend: 'yjs', subject: 'user-dev',
      events: [first!, { ...first!, meta: { ...first!.meta, user: 'another' } }, ev(V1_DOC, 'dev', 1, { hlcShift: 5 }), ev(V1_DOC, 'dev', 2, { payload: new Uint8Array([1]) })],
    }])
    assert.equal(r[0]!.events.map((o) => (o.ok ? [o.seq, o.duplicate] : [o.error.code, o.error.details])), [
      [1, true], [1, true], ['ID_CONFLICT', { docId: V1_DOC, eventId: 'dev.1', seq: 1 }], ['ID_CONFLICT', { docId: V1_DOC, eventId: 'dev.2', seq: 2 }],
    ])
    // The migrated binding holds.
    const other = await store.append([{ docId: doc(V1_DOC), backend: 'yjs', subject: 'mallory', events: [ev(V1_DOC, 'dev', 3)] }])
    assert.is(other[0]!.events[0]!.ok ? 'stored' : other[0]!.events[0]!.error.code, 'FORBIDDEN')
  } finally {
    await store.close()
  }
})

/**
 * A stand-in for the next real migration: adds a column and a table. It proves
 * the framework migrates in place, once, and refuses a schema newer than it
 * knows.
 */
let m3Runs = 0
const testMigration3: SqliteMigration = {
  version: 3,
  description: 'test: events.origin column, doc_labels table',
  up: (db) => {
    m3Runs++
    db.exec("ALTER TABLE events ADD COLUMN origin TEXT NOT NULL DEFAULT 'client'; CREATE TABLE doc_labels (doc_id TEXT NOT NULL, label TEXT NOT NULL)")
  },
}

s('a test migration 3 runs once, in place, on a v1 store (after 2); a newer schema is then refused with both versions named', async () => {
  const path = join(dir, 'v1.db')
  writeSqliteV1(path)
  m3Runs = 0
  const store = await SqliteEventStore.open({ path, migrations: [...SQLITE_MIGRATIONS, testMigration3] })
  assert.is(store.settings().schemaVersion, 3)
  assert.is((await store.readFrom(doc(V1_DOC), 0)).length, 2)
  await store.append([{ docId: doc(V1_DOC), backend: 'yjs', events: [ev(V1_DOC, 'dev', 3)] }])
  await store.close()
  const again = await SqliteEventStore.open({ path, migrations: [...SQLITE_MIGRATIONS, testMigration3] })
  await again.close()
  assert.is(m3Runs, 1, 'a migration runs once')
  const raw = new Database(path, { readonly: true })
  assert.equal(raw.prepare('SELECT seq, origin FROM events ORDER BY seq').all(), [
    { seq: 1, origin: 'client' }, { seq: 2, origin: 'client' }, { seq: 3, origin: 'client' },
  ])
  assert.equal(raw.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get(), '3')
  raw.close()
  // The current relay (schema 2) must refuse it, untouched.
  const before = sha(path)
  const err = await openRefused({ path }, 'STORE_SCHEMA_TOO_NEW')
  assert.match(err.message, /version 3/)
  assert.match(err.message, /version 2/)
  assert.equal((err as unknown as { details: unknown }).details, { found: 3, supported: 2 })
  assert.is(sha(path), before)
})

s('a backend name this relay does not know, in a document row or an event row, is STORE_CORRUPT naming it', async () => {
  const path = join(dir, 'unknown-backend.db')
  const first = await SqliteEventStore.open({ path })
  await first.append([{ docId: doc('PO-LORO'), backend: 'yjs', events: [ev('PO-LORO', 'a', 1)] }])
  await first.close()
  const corrupt = async (p: Promise<unknown>, what: RegExp) => {
    const e = await p.then(() => undefined, (err: unknown) => err)
    assert.ok(isConcordError(e, 'STORE_CORRUPT'), `expected STORE_CORRUPT, got ${String(e)}`)
    assert.match((e as Error).message, what)
    assert.is((e as { details: Record<string, unknown> }).details.backend, 'loro')
  }
  const db = new Database(path)
  db.prepare(`UPDATE docs SET backend = 'loro'`).run()
  db.close()
  let store = await SqliteEventStore.open({ path })
  await corrupt(store.getDoc(doc('PO-LORO')), /document PO-LORO names unknown backend "loro"/)
  await corrupt(store.listDocs({ limit: 10 }), /document PO-LORO names unknown backend "loro"/)
  await corrupt(store.append([{ docId: doc('PO-LORO'), backend: 'yjs', events: [ev('PO-LORO', 'a', 2)] }]), /document PO-LORO names unknown backend/)
  await store.close()
  const db2 = new Database(path)
  db2.prepare(`UPDATE docs SET backend = 'yjs'`).run()
  db2.prepare(`UPDATE events SET backend = 'loro'`).run()
  db2.close()
  store = await SqliteEventStore.open({ path })
  await corrupt(store.readFrom(doc('PO-LORO'), 0), /event a\.1 names unknown backend "loro"/)
  await store.close()
})

s('a migration list with a gap is refused', async () => {
  await openRefused({ path: join(dir, 'x.db'), migrations: [SQLITE_MIGRATIONS[0]!, { ...testMigration3 }] }, 'INVALID_ARGUMENT')
})

s('kill -9 of a process appending: every acknowledged event is in the file', async () => {
  const path = join(dir, 'killed.db')
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/append-child.js', import.meta.url)), path, '20000'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let acked = 0
  let stderr = ''
  let exited = false
  let buffered = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) {
      const m = /^acked (\d+)$/.exec(line)
      if (m) acked = Math.max(acked, Number(m[1]))
    }
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.on('exit', () => (exited = true))
  try {
    await waitFor('the child to acknowledge 300 appends', () => {
      if (exited) throw new Error(`the child exited early: ${stderr}`)
      return acked >= 300
    })
  } finally {
    child.kill('SIGKILL')
  }
  await waitFor('the killed child to exit', () => exited)
  const lastAcked = acked
  const store = await SqliteEventStore.open({ path })
  try {
    const info = await store.getDoc(doc('PO-KILL'))
    assert.ok(info !== undefined && info.lastSeq >= lastAcked, `acked ${lastAcked}, stored ${info?.lastSeq}`)
    let n = 0
    for await (const page of store.readPages(doc('PO-KILL'), 0)) {
      for (const e of page) {
        n++
        assert.is(e.seq, n)
        assert.is(e.event.id, `k.${n}`)
      }
    }
    assert.is(n, info.lastSeq)
  } finally {
    await store.close()
  }
})

const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : 0)

s('WAL checkpoints run in the worker thread, not inside commits', async () => {
  const path = join(dir, 'wal.db')
  const reports: { walFrames: number; checkpointed: number }[] = []
  // Out of the way of the size trigger: this test says when it checkpoints (then one test sees the trigger).
  const store = await SqliteEventStore.open({ path, checkpoint: { everyBytes: 1 << 30, onCheckpoint: (r) => reports.push(r) } })
  try {
    const before = sizeOf(path)
    // 6 MiB of events: past SQLite's default autocheckpoint of 1000 pages (4 MiB), under the 64 MiB backstop.
    const payload = new Uint8Array(32 * 1024).fill(7)
    for (let batch = 0; batch < 12; batch++) {
      const events = Array.from({ length: 16 }, (_, i) => ev('PO-WAL', 'w', batch * 16 + i + 1, { payload }))
      await store.append([{ docId: doc('PO-WAL'), backend: 'yjs', events }])
    }
    assert.ok(sizeOf(`${path}-wal`) > 6 * 1024 * 1024, `the WAL holds every commit (${sizeOf(`${path}-wal`)} B)`)
    assert.ok(sizeOf(path) < before + 1024 * 1024, `no commit copied the WAL into the database file (${before} -> ${sizeOf(path)} B)`)
    assert.is(reports.length, 0)
    store.checkpointer?.nudge()
    await waitFor('the worker to checkpoint', () => reports.length > 0)
    const r = reports[0]!
    assert.ok(r.walFrames > 1500 && r.checkpointed === r.walFrames, `every frame copied: ${JSON.stringify(r)}`)
    assert.ok(sizeOf(path) > 6 * 1024 * 1024, `the database file holds the events now (${sizeOf(path)} B)`)
    assert.is((await store.getDoc(doc('PO-WAL')))?.lastSeq, 192)
  } finally {
    await store.close()
  }
})

s('the store asks for a checkpoint each time about everyBytes were committed', async () => {
  const path = join(dir, 'every.db')
  const reports: { walFrames: number; checkpointed: number }[] = []
  const store = await SqliteEventStore.open({ path, checkpoint: { everyBytes: 1024 * 1024, onCheckpoint: (r) => reports.push(r) } })
  try {
    const payload = new Uint8Array(64 * 1024).fill(3)
    // 15 events of 64 KiB: under 1 MiB, no checkpoint asked for (append decides as it commits).
    await store.append([{ docId: doc('PO-EVERY'), backend: 'yjs', events: Array.from({ length: 15 }, (_, i) => ev('PO-EVERY', 'e', i + 1, { payload })) }])
    assert.is(store.checkpointer?.requested, 0)
    await store.append([{ docId: doc('PO-EVERY'), backend: 'yjs', events: [ev('PO-EVERY', 'e', 16, { payload })] }])
    assert.is(store.checkpointer?.requested, 1)
    await waitFor('a checkpoint', () => reports.length === 1)
    assert.ok(reports[0]!.checkpointed > 0)
  } finally {
    await store.close()
  }
})

s('a checkpoint worker that dies hands checkpoints back to SQLite; appends go on', async () => {
  const path = join(dir, 'fallback.db')
  const errors: string[] = []
  const store = await SqliteEventStore.open({ path, checkpoint: { onError: (m) => errors.push(m) } })
  try {
    assert.is(store.settings().walAutocheckpoint, 16_384)
    // The worker thread is private to the checkpointer; terminating it is what a crash of it looks like.
    await (store.checkpointer as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate()
    await waitFor('the store to notice', () => errors.length > 0)
    assert.match(errors[0]!, /checkpoint worker exited/)
    assert.is(store.settings().walAutocheckpoint, 1000)
    const r = await store.append([{ docId: doc('PO-FB'), backend: 'yjs', events: [ev('PO-FB', 'f', 1)] }])
    assert.ok(r[0]!.events[0]!.ok)
  } finally {
    await store.close()
  }
})

s('checkpoint: false leaves checkpoints to SQLite', async () => {
  const store = await SqliteEventStore.open({ path: join(dir, 'plain.db'), checkpoint: false })
  assert.is(store.checkpointer, undefined)
  assert.is(store.settings().walAutocheckpoint, 1000)
  await store.close()
})

s.run()
