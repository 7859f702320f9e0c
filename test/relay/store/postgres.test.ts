/**
 * The Postgres store against the real server (127.0.0.1:5432, database
 * `test`, or CONCORD_TEST_PG). Every store lives in its own throwaway schema,
 * dropped after the test.
 */
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type ErrorCode, isConcordError } from '@concord/core'
import { type PostgresEventStoreOptions, type PostgresMigration, POSTGRES_MIGRATIONS, PostgresEventStore } from '@concord/relay/store'
import { durableHarness, runEventStoreContract } from './contract.js'
import { doc, ev, evs } from './events.js'
import { PG_V1_DOC, PG_V1_EVENTS, PG_V1_RELAY_ID, postgresLayout, writePostgresV1 } from './fixtures/postgres-v1.js'

const connectionString = process.env.CONCORD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test'
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

s('the hand-made v1 fixture has exactly the layout migration 1 creates', async () => {
  const fresh = newSchema()
  const store = await PostgresEventStore.open({ connectionString, schema: fresh })
  await store.close()
  const fixture = newSchema()
  await withClient(async (c) => {
    await writePostgresV1(c, fixture)
    assert.equal(await postgresLayout(c, fixture), await postgresLayout(c, fresh))
  })
})

let m2Runs = 0
/** A stand-in for the next real migration (see the SQLite suite). */
const testMigration2: PostgresMigration = {
  version: 2,
  description: 'test: events.origin column, doc_labels table',
  up: async (c, schema) => {
    m2Runs++
    await c.query(`ALTER TABLE ${schema}.events ADD COLUMN origin text NOT NULL DEFAULT 'client'; CREATE TABLE ${schema}.doc_labels (doc_id text, label text)`)
  },
}

s('a v1 store keeps every row, migrates once to v2 in place, and is then refused by a v1 relay', async () => {
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
  m2Runs = 0
  for (let i = 0; i < 2; i++) {
    const v2 = await PostgresEventStore.open({ connectionString, schema, migrations: [...POSTGRES_MIGRATIONS, testMigration2] })
    await v2.append([{ docId: doc(PG_V1_DOC), backend: 'yjs', events: [ev(PG_V1_DOC, 'dev', 3 + i)] }])
    await v2.close()
  }
  assert.is(m2Runs, 1, 'a migration runs once')
  const rows = await admin.query(`SELECT seq::int, origin FROM "${schema}".events ORDER BY seq`)
  assert.equal(rows.rows, [1, 2, 3, 4].map((seq) => ({ seq, origin: 'client' })))
  const err = await openRefused({ connectionString, schema }, 'STORE_SCHEMA_TOO_NEW')
  assert.match(err.message, /version 2/)
  assert.match(err.message, /version 1/)
  assert.equal((err as unknown as { details: unknown }).details, { found: 2, supported: 1 })
  const version = await admin.query(`SELECT value FROM "${schema}".meta WHERE key = 'schema_version'`)
  assert.equal(version.rows, [{ value: '2' }])
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
