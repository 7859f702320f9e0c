/**
 * [S1] Event store append throughput: how many events per second the relay's
 * stores take, with one-event batches (a quiet relay: every event its own
 * commit) and 50-event batches (a busy relay group-committing one event-loop
 * turn, spread over 5 documents). Each case checks its own result: the
 * documents end with exactly the sequence numbers appended.
 *
 *   pnpm build && node bench/dist/store-append.js [--quick] [--json out.json]
 *
 * Postgres cases run when CONCORD_BENCH_PG (default
 * postgres://postgres@127.0.0.1:5432/test) answers; they use a throwaway
 * schema.
 *
 * Standalone on purpose: it loads the relay's compiled store by path so the
 * bench package needs no dependency on the relay until the scenario registry
 * takes it in.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type EventEnvelope, type EventId, type PurchaseId, encodeHlc, eventIdOf, instantFromEpochMs, parsePurchaseId, parseReplicaId,
} from '@concord/core'

interface AppendRequest { docId: PurchaseId; backend: 'yjs'; events: EventEnvelope[] }
interface BenchStore {
  append(batch: AppendRequest[]): Promise<{ events: ({ ok: true; seq: number } | { ok: false; error: Error })[] }[]>
  readFrom(docId: PurchaseId, afterSeq: number, limit?: number): Promise<{ seq: number }[]>
  getDoc(docId: PurchaseId): Promise<{ lastSeq: number } | undefined>
  close(): Promise<void>
}
interface StoreModule {
  MemoryEventStore: new () => BenchStore
  SqliteEventStore: { open(o: { path: string; durability: 'process' | 'power' }): Promise<BenchStore> }
  PostgresEventStore: { open(o: { connectionString: string; schema: string }): Promise<BenchStore> }
}

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined
const pgUrl = process.env.CONCORD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test'

const store = (await import(new URL('../../packages/relay/dist/store/index.js', import.meta.url).href)) as StoreModule

const T0 = 1_767_225_600_000
const payload = new Uint8Array(120).fill(7) // about a Yjs update for one field edit

function event(docId: PurchaseId, actor: string, n: number): EventEnvelope {
  const replica = parseReplicaId(actor)
  return {
    id: eventIdOf(replica, n), docId, actor: replica, seq: n, hlc: encodeHlc({ wall: T0 + n, counter: 0, replica }),
    deps: (n > 1 ? [eventIdOf(replica, n - 1)] : []) as EventId[], kind: 'yjs.update', backend: 'yjs', payload,
    meta: { at: instantFromEpochMs(T0 + n), user: 'bench', priority: 'normal' },
  }
}

interface Result { case: string; store: string; batch: number; events: number; seconds: number; eventsPerSec: number; batchesPerSec: number }

async function runCase(id: string, name: string, open: () => Promise<BenchStore>, batchSize: number, total: number): Promise<Result> {
  const s = await open()
  try {
    const docsPerBatch = batchSize === 1 ? 1 : 5
    const docs = Array.from({ length: docsPerBatch }, (_, i) => parsePurchaseId(`PO-BENCH-${id}-${i}`))
    const perDoc = batchSize / docsPerBatch
    const batches = total / batchSize
    // Made before the clock starts: the bench times the store, not the generator.
    const planned = Array.from({ length: batches }, (_, b): AppendRequest[] =>
      docs.map((d) => ({ docId: d, backend: 'yjs', events: Array.from({ length: perDoc }, (_, k) => event(d, 'bench', b * perDoc + k + 1)) })),
    )
    const n = batches * perDoc
    const start = process.hrtime.bigint()
    for (const batch of planned) {
      const results = await s.append(batch)
      for (const r of results) for (const o of r.events) if (!o.ok) throw o.error
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    // The correctness check: every document holds exactly n events, gapless.
    for (const d of docs) {
      const info = await s.getDoc(d)
      if (info?.lastSeq !== n) throw new Error(`${id}: ${d} has lastSeq ${info?.lastSeq}, expected ${n}`)
      const tail = await s.readFrom(d, n - 1)
      if (tail.length !== 1 || tail[0]!.seq !== n) throw new Error(`${id}: ${d} does not end at seq ${n}`)
    }
    return { case: id, store: name, batch: batchSize, events: total, seconds, eventsPerSec: total / seconds, batchesPerSec: batches / seconds }
  } finally {
    await s.close()
  }
}

const dir = mkdtempSync(join(tmpdir(), 'concord-bench-store-'))
let pgAvailable = true
try {
  const probe = await store.PostgresEventStore.open({ connectionString: pgUrl, schema: `bench_probe_${process.pid}` })
  await probe.close()
} catch {
  pgAvailable = false
}
const pgSchemas: string[] = [`bench_probe_${process.pid}`]

const scale = quick ? 0.2 : 1
const cases: [string, string, () => Promise<BenchStore>, number, number][] = []
for (const [batch, events] of [[1, 5000], [50, 20000]] as const) {
  const ev = Math.round((events * scale) / 50) * 50
  const tag = batch === 1 ? '1' : '2'
  cases.push([`S1.${tag}a`, 'memory', async () => new store.MemoryEventStore(), batch, ev])
  cases.push([`S1.${tag}b`, 'sqlite process', () => store.SqliteEventStore.open({ path: join(dir, `p${batch}.db`), durability: 'process' }), batch, ev])
  cases.push([`S1.${tag}c`, 'sqlite power', () => store.SqliteEventStore.open({ path: join(dir, `f${batch}.db`), durability: 'power' }), batch, batch === 1 ? Math.round(ev / 5) : ev])
  if (pgAvailable) {
    const schema = `bench_store_${process.pid}_${batch}`
    pgSchemas.push(schema)
    cases.push([`S1.${tag}d`, 'postgres', () => store.PostgresEventStore.open({ connectionString: pgUrl, schema }), batch, batch === 1 ? Math.round(ev / 5) : ev])
  }
}

const results: Result[] = []
try {
  // Warm-up (JIT, module loading), discarded: the first case would otherwise pay for it.
  await runCase('warmup', 'memory', async () => new store.MemoryEventStore(), 50, 2000)
  await runCase('warmup1', 'memory', async () => new store.MemoryEventStore(), 1, 500)
  for (const [id, name, open, batch, total] of cases) {
    const r = await runCase(id, name, open, batch, total)
    results.push(r)
    process.stderr.write(`${id} ${name} batch=${batch}: ${Math.round(r.eventsPerSec)} events/s\n`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
  if (pgAvailable) {
    // pg is the relay's dependency, not the bench's: load it from there.
    const pg = createRequire(new URL('../../packages/relay/package.json', import.meta.url))('pg') as {
      Pool: new (o: object) => { query(sql: string): Promise<unknown>; end(): Promise<void> }
    }
    const admin = new pg.Pool({ connectionString: pgUrl, max: 1 })
    for (const schema of pgSchemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await admin.end()
  }
}

console.log('| case | store | events/batch | events | seconds | events/s | batches/s |')
console.log('|---|---|---:|---:|---:|---:|---:|')
for (const r of results) {
  console.log(`| [${r.case}] | ${r.store} | ${r.batch} | ${r.events} | ${r.seconds.toFixed(2)} | ${Math.round(r.eventsPerSec)} | ${Math.round(r.batchesPerSec)} |`)
}
if (!pgAvailable) console.log(`\n(Postgres at ${pgUrl} did not answer: its cases were skipped.)`)
if (jsonOut !== undefined) writeFileSync(jsonOut, JSON.stringify({ scenario: 'S1', quick, results }, null, 2))
