/**
 * The cluster-mode event store: Postgres (pg), shared by several relay
 * processes. Every table lives in one schema named in the options, so one
 * database can hold several stores (and tests use a throwaway schema).
 *
 * Concurrency. Per-document sequence numbers are assigned under a row lock on
 * the document row (SELECT ... FOR UPDATE), so two relays appending to the
 * same document serialise on that row and never hand out the same number or
 * leave a gap; the duplicate check runs under the same lock. Actors are global
 * (one actor may write to many documents through many relays): an actor found
 * unbound is locked with a transaction advisory lock and its owner read again
 * before the plan binds it, so two relays never bind one actor twice.
 *
 * An append is a fixed number of round trips whatever the number of
 * documents, events or actors in the batch: create missing documents (INSERT
 * ... ON CONFLICT DO NOTHING, in id order), lock every document row (in id
 * order), fetch the stored hashes of the batch's ids, read the owners of its
 * actors (and, only if some are unbound, lock those in key order and read
 * them again), insert the bindings and the new events, update the documents.
 * Deadlock-free: creation takes no lock on an existing row, locking comes
 * after every creation, actor locks come last, and a transaction holding
 * actor locks waits for nothing more. Opening takes an advisory lock on the
 * schema while it migrates.
 *
 * Durability is Postgres's: a COMMIT that returned is on disk (with the
 * server's default synchronous_commit = on).
 */
import { createHash } from 'node:crypto'
import pg from 'pg'
import type { ClientBase, Pool, PoolClient } from 'pg'
import {
  type BackendName, type EventId, type EventMeta, type Hlc, type IsoInstant, type PurchaseId, type ReplicaId, ConcordError, isConcordError,
} from '@concord/core'
import { fail } from '@concord/core/internal'
import {
  type Binding, type ExistingEvent, type NewRow, type PreparedRequest,
  actorsToCheck, checkActors, checkBatch, checkDocId, checkLimit, checkMigrations, checkRelayId, checkSeq, checkSnapshot, checkYear,
  defaultRelayId, envelopeOf, isoStamp, formatNumber, hasValidEvents, pagesOf, planDocAppend, refusedPlan, resultOf, plainBytes,
  prepareRequest, schemaTooNew, storeClosed,
  storedBackend,
} from './common.js'
import { type PostgresMigration, POSTGRES_MIGRATIONS } from './postgres-migrations.js'
import type {
  AppendRequest, AppendResult, DocInfo, EventStore, EventSummary, ListDocsOptions, PutSnapshotResult, SnapshotInfo, SnapshotInput,
  StoreTestHooks, StoredEvent, StoredSnapshot,
} from './types.js'
import { DEFAULT_PAGE } from './types.js'

export interface PostgresEventStoreOptions {
  /** Where to connect (postgres://...). Ignored when `pool` is given. */
  readonly connectionString?: string
  /** A pool to use instead of making one; the store does not end it on close. */
  readonly pool?: Pool
  /** Connections in the store's own pool. Default 10. */
  readonly poolSize?: number
  /** The schema holding the store's tables (created if missing). Default "concord". */
  readonly schema?: string
  /** Milliseconds since the epoch, for createdAt / storedAt. Default Date.now. */
  readonly now?: () => number
  /** Makes the relay id when the store is created. Default: "relay-" and random hex. */
  readonly newRelayId?: () => string
  /** The schema migrations; only tests pass their own (to prove a future migration). */
  readonly migrations?: readonly PostgresMigration[]
  readonly testHooks?: StoreTestHooks
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/
/** Rows per INSERT statement (13 parameters each; Postgres allows 65535). */
const INSERT_CHUNK = 1000

interface EventRow {
  seq: string
  event_id: string
  actor: string
  actor_seq: string
  hlc: string
  kind: string
  backend: string
  deps: string[]
  meta: EventMeta
  stored_at: string
}

interface DocRow {
  doc_id: string
  backend: string
  last_seq: string
  created_at: string
  number: string | null
}

/** A 32-bit advisory lock key for a name (the two-key form: apart from the schema's one-key lock). */
function lockKey(name: string): number {
  return createHash('sha256').update(name).digest().readInt32BE(0)
}

/** Thrown inside a transaction to roll it back without it being an error. */
class Rollback<T> {
  constructor(readonly value: T) {}
}

export class PostgresEventStore implements EventStore {
  private closed = false
  private readonly now: () => number
  private readonly hooks: StoreTestHooks
  private readonly t: { docs: string; events: string; snapshots: string; numbers: string; counters: string; actors: string }
  /** The first key of this schema's actor locks. */
  private readonly actorLocks: number
  /** Documents seen to exist: their creation step is skipped (documents are never deleted). */
  private readonly knownDocs = new Set<string>()

  private constructor(
    private readonly pool: Pool,
    private readonly ownsPool: boolean,
    readonly schema: string,
    private readonly id: ReplicaId,
    options: PostgresEventStoreOptions,
  ) {
    this.now = options.now ?? Date.now
    this.hooks = options.testHooks ?? {}
    const q = `"${schema}"`
    this.t = {
      docs: `${q}.docs`, events: `${q}.events`, snapshots: `${q}.snapshots`, numbers: `${q}.numbers`, counters: `${q}.number_counters`,
      actors: `${q}.actors`,
    }
    this.actorLocks = lockKey(`concord-actors:${schema}`)
  }

  /**
   * Connects, creates the schema if needed and migrates it in place under an
   * advisory lock (relays starting together migrate once). Refuses a newer
   * schema (STORE_SCHEMA_TOO_NEW) and a schema holding tables that are not a
   * Concord store (STORE_CORRUPT).
   */
  static async open(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    const schema = options.schema ?? 'concord'
    if (!SCHEMA_RE.test(schema)) fail('INVALID_ARGUMENT', `schema must be a lower-case SQL identifier, got ${JSON.stringify(schema)}`, { schema })
    const migrations = options.migrations ?? POSTGRES_MIGRATIONS
    const latest = checkMigrations(migrations)
    const ownsPool = options.pool === undefined
    const pool = options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 10, connectionTimeoutMillis: 10_000 })
    // An idle client losing its connection is reported here; without a
    // listener it would crash the process. The next query reconnects.
    if (ownsPool) pool.on('error', () => {})
    try {
      await inTransaction(pool, async (c) => {
        await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`concord-store:${schema}`])
        await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
        const version = await readSchemaVersion(c, schema)
        if (version > latest) schemaTooNew(version, latest)
        if (version === 0) {
          await c.query(`CREATE TABLE "${schema}".meta (key text PRIMARY KEY, value text NOT NULL)`)
          await c.query(`INSERT INTO "${schema}".meta (key, value) VALUES ('schema_version', '0')`)
        }
        for (const m of migrations.slice(version)) {
          try {
            await m.up(c, `"${schema}"`)
          } catch (e) {
            if (isConcordError(e)) throw e
            throw new ConcordError('STORE_CORRUPT', `migration ${m.version} (${m.description}) failed: ${(e as Error).message}`, { version: m.version }, { cause: e })
          }
          await c.query(`UPDATE "${schema}".meta SET value = $1 WHERE key = 'schema_version'`, [String(m.version)])
        }
        await c.query(`INSERT INTO "${schema}".meta (key, value) VALUES ('relay_id', $1) ON CONFLICT (key) DO NOTHING`, [
          checkRelayId((options.newRelayId ?? defaultRelayId)()),
        ])
      })
      const row = await pool.query<{ value: string }>(`SELECT value FROM "${schema}".meta WHERE key = 'relay_id'`)
      return new PostgresEventStore(pool, ownsPool, schema, checkRelayId(row.rows[0]?.value), options)
    } catch (e) {
      if (ownsPool) await pool.end()
      throw e
    }
  }

  private open(): Pool {
    if (this.closed) storeClosed()
    return this.pool
  }

  private stamp(): IsoInstant {
    return isoStamp(this.now())
  }

  async append(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    const pool = this.open()
    const requests = checkBatch(batch).map(prepareRequest)
    const storedAt = this.stamp()
    const live = requests.filter((r) => r.error === undefined)
    if (live.length === 0) return requests.map((r) => resultOf(r.docId, refusedPlan(r)))
    // A new document takes the backend of the first request that has an
    // event to store in it.
    const creators = new Map<string, BackendName>()
    for (const r of live) if (hasValidEvents(r) && !creators.has(r.docId) && !this.knownDocs.has(r.docId)) creators.set(r.docId, r.backend)
    const docIds = [...new Set(live.map((r) => String(r.docId)))].sort()
    const { results, existing } = await inTransaction(pool, async (c) => {
      // Documents this batch creates: until a request stores an event in
      // them, the batch's requests see them as not existing yet.
      const unborn = new Set<string>()
      if (creators.size > 0) {
        const ids = [...creators.keys()].sort()
        const made = await c.query<{ doc_id: string }>(
          `INSERT INTO ${this.t.docs} (doc_id, backend, last_seq, created_at)
           SELECT d, b, 0, $3 FROM unnest($1::text[], $2::text[]) AS n(d, b) ORDER BY d ON CONFLICT (doc_id) DO NOTHING RETURNING doc_id`,
          [ids, ids.map((id) => creators.get(id)), storedAt],
        )
        for (const row of made.rows) unborn.add(row.doc_id)
      }
      const locked = await c.query<{ doc_id: string; backend: string; last_seq: string }>(
        `SELECT doc_id, backend, last_seq FROM ${this.t.docs} WHERE doc_id = ANY($1::text[]) ORDER BY doc_id FOR UPDATE`,
        [docIds],
      )
      const docs = new Map<string, { backend: BackendName; lastSeq: number }>()
      for (const row of locked.rows) docs.set(row.doc_id, { backend: storedBackend(row.backend, `document ${row.doc_id}`), lastSeq: Number(row.last_seq) })
      const stored = await this.findStored(c, live, docs)
      const owners = await this.lockedOwners(c, actorsToCheck(live))
      // Plan in batch order; a document's requests see the rows planned by
      // its earlier requests in this batch, every request the bindings.
      const rows: { docId: PurchaseId; row: NewRow }[] = []
      const bindings: Binding[] = []
      const results = requests.map((req) => {
        if (req.error !== undefined) return resultOf(req.docId, refusedPlan(req))
        const doc = unborn.has(req.docId) ? undefined : docs.get(req.docId)
        const plan = planDocAppend(req, doc, (id) => stored.get(`${req.docId}\n${id}`), owners)
        bindings.push(...plan.bindings)
        if (plan.rows.length > 0) {
          const row = docs.get(req.docId)
          if (row === undefined) fail('STORE_CORRUPT', `document ${req.docId} was not created before its events`)
          // A document this batch created takes the backend of the first
          // request that stores in it: the creating one, unless every event
          // of that one was refused (FORBIDDEN).
          if (unborn.delete(req.docId)) row.backend = req.backend
          row.lastSeq = plan.lastSeq
        }
        for (const row of plan.rows) {
          rows.push({ docId: req.docId, row })
          stored.set(`${req.docId}\n${row.prepared.id}`, { seq: row.seq, hash: row.prepared.hash })
        }
        return resultOf(req.docId, plan)
      })
      if (bindings.length > 0) {
        await c.query(`INSERT INTO ${this.t.actors} (actor, subject, bound_at) SELECT a, s, $3 FROM unnest($1::text[], $2::text[]) AS b(a, s)`, [
          bindings.map((b) => b.actor), bindings.map((b) => b.subject), storedAt,
        ])
      }
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) await this.insertEvents(c, rows.slice(i, i + INSERT_CHUNK), storedAt)
      const touched = [...new Set(rows.map((r) => String(r.docId)))]
      if (touched.length > 0) {
        // The backend is the stored one, unless this batch created the document (see above).
        await c.query(
          `UPDATE ${this.t.docs} AS d SET last_seq = v.s, backend = v.b
           FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(id, s, b) WHERE d.doc_id = v.id`,
          [touched, touched.map((id) => docs.get(id)!.lastSeq), touched.map((id) => docs.get(id)!.backend)],
        )
      }
      // Created for nothing: every event of the batch for it was refused. The
      // rows are this transaction's own, never seen by another, so a document
      // with events is still never deleted.
      if (unborn.size > 0) await c.query(`DELETE FROM ${this.t.docs} WHERE doc_id = ANY($1::text[])`, [[...unborn]])
      return { results, existing: [...docs.keys()].filter((id) => !unborn.has(id)) }
    })
    // Recorded once committed: a document that exists then exists for good.
    for (const id of existing) this.knownDocs.add(id)
    return results
  }

  /** The stored hashes among the batch's ids, keyed "docId\nid", in one query. */
  private async findStored(c: ClientBase, requests: readonly PreparedRequest[], docs: ReadonlyMap<string, { lastSeq: number }>): Promise<Map<string, ExistingEvent>> {
    const keys = new Set<string>()
    for (const r of requests) {
      if ((docs.get(r.docId)?.lastSeq ?? 0) === 0) continue
      for (const it of r.items) if (it.ok) keys.add(`${r.docId}\n${it.prepared.id}`)
    }
    const found = new Map<string, ExistingEvent>()
    if (keys.size === 0) return found
    const pairs = [...keys].map((k) => k.split('\n'))
    const r = await c.query<{ doc_id: string; seq: string; event_id: string; hash: string }>(
      `SELECT e.doc_id, e.seq, e.event_id, e.hash
       FROM unnest($1::text[], $2::text[]) AS k(d, i) JOIN ${this.t.events} e ON e.doc_id = k.d AND e.event_id = k.i`,
      [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    )
    for (const row of r.rows) found.set(`${row.doc_id}\n${row.event_id}`, { seq: Number(row.seq), hash: row.hash })
    return found
  }

  /** The subjects these actors are bound to, in one query (none for no actors). */
  private async readOwners(c: ClientBase | Pool, actors: readonly ReplicaId[]): Promise<Map<ReplicaId, string>> {
    const owners = new Map<ReplicaId, string>()
    if (actors.length === 0) return owners
    const r = await c.query<{ actor: string; subject: string }>(`SELECT actor, subject FROM ${this.t.actors} WHERE actor = ANY($1::text[])`, [actors])
    for (const row of r.rows) owners.set(row.actor as ReplicaId, row.subject)
    return owners
  }

  /**
   * The owners of the batch's actors, safe to bind against: the actors found
   * unbound are locked (an advisory lock each, held to the end of the
   * transaction, taken in key order) and read again, so another relay binding
   * one of them meanwhile is either seen or waits for this batch to commit.
   * Bindings are never removed: bound actors need no lock.
   */
  private async lockedOwners(c: ClientBase, actors: readonly ReplicaId[]): Promise<Map<ReplicaId, string>> {
    const owners = await this.readOwners(c, actors)
    const unbound = actors.filter((a) => !owners.has(a))
    if (unbound.length === 0) return owners
    const keys = [...new Set(unbound.map(lockKey))].sort((a, b) => a - b)
    await c.query('SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int4[]) AS k', [this.actorLocks, keys])
    for (const [actor, subject] of await this.readOwners(c, unbound)) owners.set(actor, subject)
    return owners
  }

  private async insertEvents(c: ClientBase, rows: readonly { docId: PurchaseId; row: NewRow }[], storedAt: IsoInstant): Promise<void> {
    const values: unknown[] = []
    const tuples = rows.map(({ docId, row: { seq, prepared: p } }) => {
      const e = p.event
      const b = values.length
      values.push(docId, seq, e.id, e.actor, e.seq, e.hlc, e.kind, e.backend, p.depsJson, p.metaJson, e.payload, storedAt, p.hash)
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9}::jsonb, $${b + 10}::jsonb, $${b + 11}, $${b + 12}, $${b + 13})`
    })
    await c.query(
      `INSERT INTO ${this.t.events} (doc_id, seq, event_id, actor, actor_seq, hlc, kind, backend, deps, meta, payload, stored_at, hash) VALUES ${tuples.join(', ')}`,
      values,
    )
  }

  async readFrom(docId: PurchaseId, afterSeq: number, limit?: number): Promise<StoredEvent[]> {
    const pool = this.open()
    const r = await pool.query<EventRow & { payload: Buffer }>(
      `SELECT seq, event_id, actor, actor_seq, hlc, kind, backend, deps, meta, payload, stored_at
       FROM ${this.t.events} WHERE doc_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [checkDocId(docId), checkSeq(afterSeq, 'afterSeq'), checkLimit(limit)],
    )
    return r.rows.map((row) => ({
      seq: Number(row.seq),
      event: envelopeOf(docId, {
        eventId: row.event_id, actor: row.actor, actorSeq: Number(row.actor_seq), hlc: row.hlc, kind: row.kind, backend: row.backend,
        deps: row.deps, meta: row.meta, payload: plainBytes(row.payload),
      }),
      storedAt: row.stored_at as IsoInstant,
    }))
  }

  readPages(docId: PurchaseId, afterSeq: number, pageSize: number = DEFAULT_PAGE): AsyncIterable<StoredEvent[]> {
    checkDocId(docId)
    checkSeq(afterSeq, 'afterSeq')
    const size = checkLimit(pageSize)
    return pagesOf((after, limit) => this.readFrom(docId, after, limit), afterSeq, size)
  }

  async readSummaries(docId: PurchaseId, afterSeq: number, limit?: number): Promise<EventSummary[]> {
    const pool = this.open()
    const r = await pool.query<EventRow & { payload_size: number }>(
      `SELECT seq, event_id, actor, actor_seq, hlc, kind, backend, deps, meta, octet_length(payload) AS payload_size, stored_at
       FROM ${this.t.events} WHERE doc_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [checkDocId(docId), checkSeq(afterSeq, 'afterSeq'), checkLimit(limit)],
    )
    return r.rows.map((row) => ({
      seq: Number(row.seq), id: row.event_id as EventId, actor: row.actor as ReplicaId, actorSeq: Number(row.actor_seq), hlc: row.hlc as Hlc,
      kind: row.kind, deps: row.deps as EventId[], meta: row.meta, payloadSize: row.payload_size, storedAt: row.stored_at as IsoInstant,
    }))
  }

  private docSelect(where: string): string {
    return `SELECT d.doc_id, d.backend, d.last_seq, d.created_at, n.number
            FROM ${this.t.docs} d LEFT JOIN ${this.t.numbers} n ON n.doc_id = d.doc_id ${where}`
  }

  async getDoc(docId: PurchaseId): Promise<DocInfo | undefined> {
    const pool = this.open()
    const r = await pool.query<DocRow>(this.docSelect('WHERE d.doc_id = $1'), [checkDocId(docId)])
    const row = r.rows[0]
    return row === undefined ? undefined : toDocInfo(row)
  }

  async listDocs(options: ListDocsOptions): Promise<DocInfo[]> {
    const pool = this.open()
    const after = options.after === undefined ? '' : checkDocId(options.after)
    const r = await pool.query<DocRow>(this.docSelect('WHERE d.doc_id > $1 ORDER BY d.doc_id LIMIT $2'), [after, checkLimit(options.limit)])
    return r.rows.map(toDocInfo)
  }

  async putSnapshot(docId: PurchaseId, snapshot: SnapshotInput): Promise<PutSnapshotResult> {
    const pool = this.open()
    const id = checkDocId(docId)
    const snap = checkSnapshot(snapshot)
    // Step 1: the new snapshot, committed on its own.
    const written = await inTransaction(pool, async (c): Promise<number | undefined> => {
      const doc = await c.query<{ last_seq: string }>(`SELECT last_seq FROM ${this.t.docs} WHERE doc_id = $1`, [id])
      const row = doc.rows[0]
      if (row === undefined) fail('NOT_FOUND', `no document ${id}`, { docId: id })
      const lastSeq = Number(row.last_seq)
      if (snap.upToSeq > lastSeq) fail('INVALID_ARGUMENT', `snapshot upToSeq ${snap.upToSeq} is past the document's last event ${lastSeq}`)
      const max = await c.query<{ max: string | null }>(`SELECT max(up_to_seq) AS max FROM ${this.t.snapshots} WHERE doc_id = $1`, [id])
      const maxSeq = max.rows[0]?.max
      if (maxSeq !== null && maxSeq !== undefined && Number(maxSeq) > snap.upToSeq) return undefined
      const ins = await c.query<{ id: string }>(
        `INSERT INTO ${this.t.snapshots} (doc_id, up_to_seq, heads, bytes, created_at) VALUES ($1, $2, $3::jsonb, $4, $5) RETURNING id`,
        [id, snap.upToSeq, JSON.stringify(snap.heads), snap.bytes, this.stamp()],
      )
      return Number(ins.rows[0]!.id)
    })
    if (written === undefined) return { written: false }
    await this.hooks.afterSnapshotWrite?.()
    // Step 2: only now the older ones go. A crash before this leaves two
    // snapshots; the next putSnapshot removes the older one.
    await this.open().query(`DELETE FROM ${this.t.snapshots} WHERE doc_id = $1 AND (up_to_seq < $2 OR (up_to_seq = $2 AND id < $3))`, [
      id, snap.upToSeq, written,
    ])
    return { written: true }
  }

  async latestSnapshot(docId: PurchaseId): Promise<StoredSnapshot | undefined> {
    const pool = this.open()
    const id = checkDocId(docId)
    const r = await pool.query<{ up_to_seq: string; heads: EventId[]; bytes: Buffer; created_at: string }>(
      `SELECT up_to_seq, heads, bytes, created_at FROM ${this.t.snapshots} WHERE doc_id = $1 ORDER BY up_to_seq DESC, id DESC LIMIT 1`,
      [id],
    )
    const row = r.rows[0]
    return row === undefined
      ? undefined
      : { docId: id, upToSeq: Number(row.up_to_seq), heads: row.heads, bytes: plainBytes(row.bytes), createdAt: row.created_at as IsoInstant }
  }

  async listSnapshots(docId: PurchaseId): Promise<SnapshotInfo[]> {
    const pool = this.open()
    const r = await pool.query<{ up_to_seq: string; size: number; created_at: string }>(
      `SELECT up_to_seq, octet_length(bytes) AS size, created_at FROM ${this.t.snapshots} WHERE doc_id = $1 ORDER BY up_to_seq, id`,
      [checkDocId(docId)],
    )
    return r.rows.map((row) => ({ upToSeq: Number(row.up_to_seq), size: row.size, createdAt: row.created_at as IsoInstant }))
  }

  async allocateNumber(docId: PurchaseId, year: number): Promise<string> {
    const pool = this.open()
    const id = checkDocId(docId)
    const y = checkYear(year)
    const getExisting = async (): Promise<string | undefined> =>
      (await pool.query<{ number: string }>(`SELECT number FROM ${this.t.numbers} WHERE doc_id = $1`, [id])).rows[0]?.number
    const known = await getExisting()
    if (known !== undefined) return known
    try {
      return await inTransaction(pool, async (c) => {
        // The counter row lock serialises allocations within a year.
        const n = await c.query<{ last: number }>(
          `INSERT INTO ${this.t.counters} (year, last) VALUES ($1, 1) ON CONFLICT (year) DO UPDATE SET last = ${this.t.counters}.last + 1 RETURNING last`,
          [y],
        )
        const last = n.rows[0]!.last
        const number = formatNumber(y, last)
        const ins = await c.query(`INSERT INTO ${this.t.numbers} (doc_id, year, n, number) VALUES ($1, $2, $3, $4) ON CONFLICT (doc_id) DO NOTHING`, [
          id, y, last, number,
        ])
        // Another relay numbered this document meanwhile: undo our counter
        // bump (no gap) and return theirs.
        if (ins.rowCount === 0) throw new Rollback(undefined)
        return number
      })
    } catch (e) {
      if (!(e instanceof Rollback)) throw e
      const theirs = await getExisting()
      if (theirs === undefined) fail('STORE_CORRUPT', `number for ${id} vanished`)
      return theirs
    }
  }

  async relayId(): Promise<ReplicaId> {
    this.open()
    return this.id
  }

  async actorOwners(actors: readonly ReplicaId[]): Promise<Map<ReplicaId, string>> {
    return this.readOwners(this.open(), checkActors(actors))
  }

  async actorHeads(docId: PurchaseId, actors: readonly ReplicaId[]): Promise<Map<ReplicaId, number>> {
    const pool = this.open()
    const id = checkDocId(docId)
    const list = checkActors(actors)
    const heads = new Map<ReplicaId, number>()
    if (list.length === 0) return heads
    const r = await pool.query<{ actor: string; head: string }>(
      `SELECT actor, max(actor_seq) AS head FROM ${this.t.events} WHERE doc_id = $1 AND actor = ANY($2::text[]) GROUP BY actor`,
      [id, list],
    )
    for (const row of r.rows) heads.set(row.actor as ReplicaId, Number(row.head))
    return heads
  }

  async ping(): Promise<void> {
    await this.open().query('SELECT 1')
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.ownsPool) await this.pool.end()
  }
}

async function readSchemaVersion(c: ClientBase, schema: string): Promise<number> {
  const tables = await c.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [schema])
  if (tables.rows.length === 0) return 0
  if (!tables.rows.some((r) => r.table_name === 'meta')) {
    fail('STORE_CORRUPT', `schema ${schema} holds tables but is not a Concord event store (no meta table); refusing to touch it`, { schema })
  }
  const r = await c.query<{ value: string }>(`SELECT value FROM "${schema}".meta WHERE key = 'schema_version'`)
  const version = Number(r.rows[0]?.value)
  if (!Number.isSafeInteger(version) || version < 0) fail('STORE_CORRUPT', `schema ${schema} has no valid schema_version`, { schema })
  return version
}

/** BEGIN, run, COMMIT; ROLLBACK on any throw (and drop the connection if even that fails). */
async function inTransaction<T>(pool: Pool, body: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect()
  let broken = false
  try {
    try {
      await c.query('BEGIN')
    } catch (e) {
      broken = true
      throw e
    }
    try {
      const value = await body(c)
      await c.query('COMMIT')
      return value
    } catch (e) {
      try {
        await c.query('ROLLBACK')
      } catch {
        broken = true
      }
      throw e
    }
  } finally {
    c.release(broken)
  }
}

function toDocInfo(r: DocRow): DocInfo {
  return {
    docId: r.doc_id as PurchaseId,
    backend: storedBackend(r.backend, `document ${r.doc_id}`),
    lastSeq: Number(r.last_seq),
    createdAt: r.created_at as IsoInstant,
    ...(r.number === null ? {} : { number: r.number }),
  }
}
