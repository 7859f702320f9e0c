/**
 * The Postgres store against the real server (test/support/servers.ts). Every store lives in its own throwaway schema,
 * dropped after the test.
 */
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type ErrorCode, isConcordError } from '@concord/core'
import { eventHash } from '@concord/core/internal'
import { type PostgresEventStoreOptions, PostgresEventStore } from '@concord/relay/store'
import { type PostgresMigration, POSTGRES_MIGRATIONS } from '@concord/relay/internal'
import { durableHarness, runEventStoreContract } from './contract.js'
import { actor, doc, ev, evs } from './events.js'
import { MIGRATED_OWNERS, MIGRATION_DOCS } from './fixtures/migration-data.js'
import { TEST_PG_URL } from '../../support/servers.js'
import { PG_V1_DOC, PG_V1_EVENTS, PG_V1_RELAY_ID, insertPostgresV1Events, postgresLayout, writePostgresV1 } from './fixtures/postgres-v1.js'

const connectionString = TEST_PG_URL
const admin = new pg.Pool({ connectionString, max: 2, allowExitOnIdle: true })

let counter = 0
const schemas: string[] = []
function newSchema(): string {
  const name = `store_test_${process.pid}_${++counter}`
  schemas.push(name)
  return name
}
async function dropSchema(name: string): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
}

runEventStoreContract(
  'postgres',
  async ({ testHooks }) => {
    const schema = newSchema()
    const open = () => PostgresEventStore.open({ connectionString, schema, poolSize: 4, ...(testHooks ? { testHooks } : {}) })
    return durableHarness(open, () => dropSchema(schema))
  },
  { propertyRuns: 30 },
)

const s = suite('PostgresEventStore specifics')

s.after(async () => {
  for (const name of schemas) await dropSchema(name)
  await admin.end()
})

async function openRefused(options: PostgresEventStoreOptions, code: ErrorCode): Promise<Error> {
  try {
    const store = await PostgresEventStore.open(options)
    await store.close()
  } catch (e) {
    if (isConcordError(e, code)) return e
    throw new Error(`expected ${code}, got ${String((e as Error).stack ?? e)}`)
  }
  throw new Error(`expected ${code}, but the store opened`)
}

async function withClient<T>(body: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await admin.connect()
  try {
    return await body(c)
  } finally {
    c.release()
  }
}

s('a schema name that is not a plain identifier is refused', async () => {
  for (const schema of ['Robert"; DROP TABLE x; --', 'UPPER', '1abc', '']) await openRefused({ connectionString, schema }, 'INVALID_ARGUMENT')
})

s('relays opening a fresh schema at the same moment migrate it once and agree on the relay id', async () => {
  const schema = newSchema()
  const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresEventStore.open({ connectionString, schema, poolSize: 2 })))
  try {
    const ids = await Promise.all(stores.map((x) => x.relayId()))
    assert.is(new Set(ids).size, 1)
    const version = await admin.query(`SELECT value FROM "${schema}".meta WHERE key = 'schema_version'`)
    assert.equal(version.rows, [{ value: String(POSTGRES_MIGRATIONS.length) }])
  } finally {
    for (const x of stores) await x.close()
  }
})

s('a schema holding other tables is refused and left alone', async () => {
  const schema = newSchema()
  await admin.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".invoices (id int)`)
  const err = await openRefused({ connectionString, schema }, 'STORE_CORRUPT')
  assert.match(err.message, /not a Concord event store/)
  const tables = await admin.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema])
  assert.equal(tables.rows, [{ table_name: 'invoices' }])
})

s('the hand-made v1 fixture has exactly the layout migration 1 creates; migrated, the layout of a fresh store', async () => {
  const [v1, fixture, fresh] = [newSchema(), newSchema(), newSchema()]
  await withClient(async (c) => {
    // What a relay of version 1 made: the meta table, then migration 1 (this code cannot open a v1 store without migrating it).
    await c.query(`CREATE SCHEMA "${v1}"; CREATE TABLE "${v1}".meta (key text PRIMARY KEY, value text NOT NULL)`)
    await POSTGRES_MIGRATIONS[0]!.up(c, `"${v1}"`)
    await writePostgresV1(c, fixture)
    assert.equal(await postgresLayout(c, fixture), await postgresLayout(c, v1))
  })
  await (await PostgresEventStore.open({ connectionString, schema: fresh })).close()
  await (await PostgresEventStore.open({ connectionString, schema: fixture })).close()
  await withClient(async (c) => assert.equal(await postgresLayout(c, fixture), await postgresLayout(c, fresh)))
})

s('migration 2: every stored event gets its hash (page after page), each actor the user of its first stored event', async () => {
  const schema = newSchema()
  await withClient(async (c) => {
    await writePostgresV1(c, schema)
    for (const d of MIGRATION_DOCS) await insertPostgresV1Events(c, schema, d.docId, d.events, d.storedAt)
  })
  const store = await PostgresEventStore.open({ connectionString, schema })
  try {
    const raw = await admin.query<{ doc_id: string; seq: string; hash: string }>(`SELECT doc_id, seq, hash FROM "${schema}".events`)
    const hashes = new Map(raw.rows.map((r) => [`${r.doc_id}/${r.seq}`, r.hash]))
    let n = 0
    for (const docId of [PG_V1_DOC, ...MIGRATION_DOCS.map((d) => d.docId)]) {
      for await (const page of store.readPages(doc(docId), 0)) {
        for (const e of page) {
          n++
          assert.is(hashes.get(`${docId}/${e.seq}`), eventHash(e.event), `${docId} seq ${e.seq}: the stored hash is eventHash of the event as read back`)
        }
      }
    }
    assert.is(n, hashes.size)
    assert.is(n, 2 + 3 + 1202)
    const nullable = await admin.query(`SELECT is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events' AND column_name = 'hash'`, [schema])
    assert.equal(nullable.rows, [{ is_nullable: 'NO' }])
    assert.equal(Object.fromEntries(await store.actorOwners(Object.keys(MIGRATED_OWNERS).map(actor))), MIGRATED_OWNERS)
    const r = await admin.query(`SELECT actor, subject, bound_at FROM "${schema}".actors WHERE actor = 'r'`)
    assert.equal(r.rows, [{ actor: 'r', subject: 'early', bound_at: '2026-01-15T00:00:00.000Z' }])
    assert.equal(Object.fromEntries(await store.actorHeads(doc('PO-MANY'), [actor('p'), actor('q'), actor('dev')])), { p: 600, q: 600, dev: 1 })
    // A migrated event: the same content is a duplicate, other content an ID_CONFLICT.
    const [first] = PG_V1_EVENTS
    const again = await store.append([{
      docId: doc(PG_V1_DOC), backend: 'yjs', subject: 'user-dev',
      events: [first!, { ...first!, meta: { ...first!.meta, user: 'another' } }, ev(PG_V1_DOC, 'dev', 1, { hlcShift: 5 }), ev(PG_V1_DOC, 'dev', 2, { payload: new Uint8Array([1]) })],
    }])
    assert.equal(again[0]!.events.map((o) => (o.ok ? [o.seq, o.duplicate] : [o.error.code, o.error.details])), [
      [1, true], [1, true], ['ID_CONFLICT', { docId: PG_V1_DOC, eventId: 'dev.1', seq: 1 }], ['ID_CONFLICT', { docId: PG_V1_DOC, eventId: 'dev.2', seq: 2 }],
    ])
    const other = await store.append([{ docId: doc(PG_V1_DOC), backend: 'yjs', subject: 'mallory', events: [ev(PG_V1_DOC, 'dev', 3)] }])
    assert.is(other[0]!.events[0]!.ok ? 'stored' : other[0]!.events[0]!.error.code, 'FORBIDDEN')
  } finally {
    await store.close()
  }
})

let m3Runs = 0
/** A stand-in for the next real migration (see the SQLite suite). */
const testMigration3: PostgresMigration = {
  version: 3,
  description: 'test: events.origin column, doc_labels table',
  up: async (c, schema) => {
    m3Runs++
    await c.query(`ALTER TABLE ${schema}.events ADD COLUMN origin text NOT NULL DEFAULT 'client'; CREATE TABLE ${schema}.doc_labels (doc_id text, label text)`)
  },
}

s('a v1 store keeps every row, migrates once to v3 (a test migration after 2) in place, and is then refused by a v2 relay', async () => {
  const schema = newSchema()
  await withClient((c) => writePostgresV1(c, schema))
  const v1 = await PostgresEventStore.open({ connectionString, schema })
  try {
    assert.is(await v1.relayId(), PG_V1_RELAY_ID)
    const info = await v1.getDoc(doc(PG_V1_DOC))
    assert.equal({ ...info }, { docId: PG_V1_DOC, backend: 'yjs', lastSeq: 2, createdAt: '2026-01-02T03:04:05.000Z', number: 'PO-2026-00007' })
    const events = await v1.readFrom(doc(PG_V1_DOC), 0)
    assert.equal(events.map((e) => ({ ...e.event, payload: Array.from(e.event.payload) })), PG_V1_EVENTS.map((e) => ({ ...e, payload: Array.from(e.payload) })))
    assert.equal(Array.from((await v1.latestSnapshot(doc(PG_V1_DOC)))!.bytes), [1])
    assert.is(await v1.allocateNumber(doc('PO-NEXT'), 2026), 'PO-2026-00008')
  } finally {
    await v1.close()
  }
  m3Runs = 0
  for (let i = 0; i < 2; i++) {
    const v3 = await PostgresEventStore.open({ connectionString, schema, migrations: [...POSTGRES_MIGRATIONS, testMigration3] })
    await v3.append([{ docId: doc(PG_V1_DOC), backend: 'yjs', events: [ev(PG_V1_DOC, 'dev', 3 + i)] }])
    await v3.close()
  }
  assert.is(m3Runs, 1, 'a migration runs once')
  const rows = await admin.query(`SELECT seq::int, origin FROM "${schema}".events ORDER BY seq`)
  assert.equal(rows.rows, [1, 2, 3, 4].map((seq) => ({ seq, origin: 'client' })))
  const err = await openRefused({ connectionString, schema }, 'STORE_SCHEMA_TOO_NEW')
  assert.match(err.message, /version 3/)
  assert.match(err.message, /version 2/)
  assert.equal((err as unknown as { details: unknown }).details, { found: 3, supported: 2 })
  const version = await admin.query(`SELECT value FROM "${schema}".meta WHERE key = 'schema_version'`)
  assert.equal(version.rows, [{ value: '3' }])
})

s('a backend name this relay does not know, in a document row or an event row, is STORE_CORRUPT naming it', async () => {
  const schema = newSchema()
  const store = await PostgresEventStore.open({ connectionString, schema })
  try {
    await store.append([{ docId: doc('PO-LORO'), backend: 'yjs', events: [ev('PO-LORO', 'a', 1)] }])
    const corrupt = async (p: Promise<unknown>, what: RegExp) => {
      const e = await p.then(() => undefined, (err: unknown) => err)
      assert.ok(isConcordError(e, 'STORE_CORRUPT'), `expected STORE_CORRUPT, got ${String(e)}`)
      assert.match((e as Error).message, what)
      assert.is((e as { details: Record<string, unknown> }).details.backend, 'loro')
    }
    await admin.query(`UPDATE "${schema}".docs SET backend = 'loro'`)
    await corrupt(store.getDoc(doc('PO-LORO')), /document PO-LORO names unknown backend "loro"/)
    await corrupt(store.listDocs({ limit: 10 }), /document PO-LORO names unknown backend "loro"/)
    await corrupt(store.append([{ docId: doc('PO-LORO'), backend: 'yjs', events: [ev('PO-LORO', 'a', 2)] }]), /document PO-LORO names unknown backend/)
    await admin.query(`UPDATE "${schema}".docs SET backend = 'yjs'`)
    await admin.query(`UPDATE "${schema}".events SET backend = 'loro'`)
    await corrupt(store.readFrom(doc('PO-LORO'), 0), /event a\.1 names unknown backend "loro"/)
  } finally {
    await store.close()
  }
})

s('batches touching the same documents in opposite orders from two relays do not deadlock', async () => {
  const schema = newSchema()
  const [a, b] = await Promise.all([0, 1].map(() => PostgresEventStore.open({ connectionString, schema, poolSize: 3 })))
  try {
    const docs = ['PO-DL-1', 'PO-DL-2', 'PO-DL-3']
    const run = async (store: PostgresEventStore, actor: string, order: string[]) => {
      for (let n = 1; n <= 15; n++) await store.append(order.map((d) => ({ docId: doc(d), backend: 'yjs' as const, events: [ev(d, actor, n)] })))
    }
    await Promise.all([run(a!, 'a', docs), run(b!, 'b', [...docs].reverse()), run(a!, 'c', [docs[1]!, docs[2]!, docs[0]!])])
    for (const d of docs) {
      const stored = await a!.readFrom(doc(d), 0)
      assert.equal(stored.map((e) => e.seq), Array.from({ length: 45 }, (_, i) => i + 1))
    }
  } finally {
    await a!.close()
    await b!.close()
  }
})

s('two relays binding the same new actor for two subjects at once: exactly one wins, the other is refused FORBIDDEN', async () => {
  const schema = newSchema()
  // Two pools, as two relay processes: nothing shared but the database.
  const [a, b] = await Promise.all([0, 1].map(() => PostgresEventStore.open({ connectionString, schema, poolSize: 2 })))
  try {
    const rounds = 40
    for (let i = 0; i < rounds; i++) {
      // Different documents, so no document lock orders the two: only the actor's binding can.
      const actorId = `new-${i}`
      const push = (store: PostgresEventStore, subject: string, d: string) =>
        store.append([{ docId: doc(d), backend: 'yjs', subject, events: [ev(d, actorId, 1), ev(d, `own-${subject}`, i + 1, { deps: [] })] }])
      const [ra, rb] = await Promise.all([push(a!, 'alice', 'PO-RACE-A'), push(b!, 'bob', 'PO-RACE-B')])
      const outcome = (r: typeof ra) => (r[0]!.events[0]!.ok ? 'bound' : r[0]!.events[0]!.error.code)
      const both = [outcome(ra), outcome(rb)].sort()
      assert.equal(both, ['FORBIDDEN', 'bound'], `round ${i}: exactly one binds`)
      assert.ok(ra[0]!.events[1]!.ok && rb[0]!.events[1]!.ok, `round ${i}: the rest of each batch is stored`)
      const winner = outcome(ra) === 'bound' ? 'alice' : 'bob'
      assert.equal(Object.fromEntries(await b!.actorOwners([actor(actorId)])), { [actorId]: winner })
    }
    const n = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".actors WHERE actor LIKE 'new-%'`)
    assert.equal(n.rows, [{ n: rounds }])
  } finally {
    await a!.close()
    await b!.close()
  }
})

s('an append is a fixed number of queries: as many for 40 new actors over 4 documents as for 1 in 1', async () => {
  const schema = newSchema()
  const pool = new pg.Pool({ connectionString, max: 1 })
  let queries = 0
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    ;(client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      queries++
      return query(...args)
    }
  })
  try {
    const store = await PostgresEventStore.open({ pool, schema })
    const count = async (requests: Parameters<PostgresEventStore['append']>[0]) => {
      queries = 0
      const r = await store.append(requests)
      assert.ok(r.every((x) => x.events.every((o) => o.ok && !o.duplicate)))
      return queries
    }
    // The longest path: documents with stored events (their ids are looked up), unbound actors (locked, read again, bound).
    const docs = (k: number, actors: number, tag: string) =>
      Array.from({ length: k }, (_, i) => ({
        docId: doc(`PO-RT-${tag}-${i}`), backend: 'yjs' as const, subject: 'alice',
        events: Array.from({ length: actors }, (_, j) => ev(`PO-RT-${tag}-${i}`, `rt-${tag}-${i}-${j}`, 1)),
      }))
    await store.append(docs(4, 10, 'big').map((r) => ({ ...r, events: r.events.slice(0, 1) })))
    await store.append(docs(1, 1, 'one').map((r) => ({ ...r, events: [ev(r.docId, 'seed', 1)] })))
    const one = await count(docs(1, 1, 'one'))
    const many = await count(docs(4, 10, 'big').map((r) => ({ ...r, events: r.events.slice(1) })))
    assert.is(many, one)
    // BEGIN, lock documents, stored hashes, owners, actor locks, owners again, bindings, events, last_seq, COMMIT.
    assert.is(one, 10)
    await store.close()
  } finally {
    await pool.end()
  }
})

s('a pool passed in is used and not ended by close', async () => {
  const schema = newSchema()
  const pool = new pg.Pool({ connectionString, max: 2 })
  try {
    const store = await PostgresEventStore.open({ pool, schema })
    await store.append([{ docId: doc('PO-POOL'), backend: 'yjs', events: evs('PO-POOL', 'a', 1, 2) }])
    await store.close()
    const r = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".events`)
    assert.equal(r.rows, [{ n: 2 }])
  } finally {
    await pool.end()
  }
})

s.run()
