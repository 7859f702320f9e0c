/**
 * The embedded event store: one SQLite file in WAL mode (better-sqlite3).
 *
 * Durability. In WAL mode a commit appends the transaction to the -wal file
 * before it returns. With `synchronous=NORMAL` ('process', the default) the
 * WAL is written to the operating system but fsynced only at checkpoints: a
 * kill -9 or crash of the relay process loses nothing acknowledged (the OS
 * still has the pages), but a power cut or kernel panic may lose the last
 * commits (never corrupting the database). With `synchronous=FULL` ('power')
 * every commit fsyncs the WAL: it survives power loss, at the price of one
 * fsync per batch, which is why the relay group-commits.
 *
 * Checkpoints run in a worker thread (sqlite-checkpointer.ts), not inside a
 * commit: copying the WAL into the database file and fsyncing it would stall
 * every event queued behind that commit.
 *
 * Hot path. `append` runs one BEGIN IMMEDIATE transaction per batch with
 * prepared statements; better-sqlite3 is synchronous, so the batch is not
 * interleaved with anything else in this process, and IMMEDIATE takes the
 * write lock up front so a second process on the same file (not a supported
 * deployment, but not a corrupting one) waits instead of racing on last_seq
 * or on an actor's binding. Per batch: one query for the owners of its
 * actors; per request: its document, the stored hashes of its ids, then the
 * inserts.
 *
 * A data file that is not an SQLite database, or an SQLite database that is
 * not a Concord store, is refused with STORE_CORRUPT before anything is
 * written to it.
 */
import Database from 'better-sqlite3'
import {
  type EventEnvelope, type EventId, type EventMeta, type Hlc, type IsoInstant, type PurchaseId, type ReplicaId, ConcordError, isConcordError,
} from '@concord/core'
import { fail } from '@concord/core/internal'
import {
  type ExistingEvent, type PreparedRequest,
  actorsToCheck, checkActors, checkBatch, checkDocId, checkLimit, checkMigrations, checkRelayId, checkSeq, checkSnapshot, checkYear,
  defaultRelayId, envelopeOf, isoStamp, formatNumber, pagesOf, parseJsonColumn, planDocAppend, refusedPlan, resultOf, plainBytes,
  prepareRequest, schemaTooNew, storeClosed,
  storedBackend,
} from './common.js'
import { type CheckpointerOptions, WalCheckpointer } from './sqlite-checkpointer.js'
import { type SqliteMigration, SQLITE_MIGRATIONS } from './sqlite-migrations.js'
import type {
  AppendRequest, AppendResult, DocInfo, EventStore, EventSummary, ListDocsOptions, PutSnapshotResult, SnapshotInfo, SnapshotInput,
  StoreTestHooks, StoredEvent, StoredSnapshot,
} from './types.js'
import { DEFAULT_PAGE } from './types.js'

export type SqliteDurability = 'process' | 'power'

export interface SqliteEventStoreOptions {
  /** The database file (created if missing); ':memory:' for a throwaway store. */
  readonly path: string
  /**
   * 'process' (default): survives a crash or kill -9 of the relay, not a power
   * cut (synchronous=NORMAL). 'power': fsync on every commit (synchronous=FULL).
   */
  readonly durability?: SqliteDurability
  /** How long to wait for another connection's write lock, in ms. Default 5000. */
  readonly busyTimeoutMs?: number
  /** Milliseconds since the epoch, for createdAt / storedAt. Default Date.now. */
  readonly now?: () => number
  /** Makes the relay id when the store is created. Default: "relay-" and random hex. */
  readonly newRelayId?: () => string
  /** The schema migrations; only tests pass their own (to prove a future migration). */
  readonly migrations?: readonly SqliteMigration[]
  readonly testHooks?: StoreTestHooks
  /** WAL checkpoints in a worker thread (default), or false for SQLite's own, inside commits. */
  readonly checkpoint?: CheckpointerOptions | false
}

/** The pragmas in force, for diagnostics and tests. */
export interface SqliteSettings {
  readonly journalMode: string
  /** 1 = NORMAL, 2 = FULL. */
  readonly synchronous: number
  /** WAL pages at which a commit checkpoints itself: the checkpointer's backstop, or SQLite's 1000 without it. */
  readonly walAutocheckpoint: number
  readonly schemaVersion: number
}

interface EventRow {
  seq: number
  event_id: string
  actor: string
  actor_seq: number
  hlc: string
  kind: string
  backend: string
  deps: string
  meta: string
  payload: Buffer
  stored_at: string
}

interface DocRow {
  doc_id: string
  backend: string
  last_seq: number
  created_at: string
  number: string | null
}

interface SnapshotRow {
  id: number
  up_to_seq: number
  heads: string
  bytes: Buffer
  created_at: string
}

/** SQLite's codes for "this is not (or no longer) a database file". */
const CORRUPT_CODES = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT'])

function sqliteCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

function openDatabase(path: string): Database.Database {
  try {
    return new Database(path)
  } catch (e) {
    throw new ConcordError('INVALID_ARGUMENT', `cannot open the data file ${path}: ${(e as Error).message}`, { path }, { cause: e })
  }
}

/**
 * Reads the schema version without writing anything: 0 for an empty database,
 * a typed error for a file that is not a Concord store.
 */
function readSchemaVersion(db: Database.Database, path: string): number {
  let tables: string[]
  try {
    tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]
  } catch (e) {
    if (CORRUPT_CODES.has(sqliteCode(e) ?? '')) {
      throw new ConcordError('STORE_CORRUPT', `${path} is not an SQLite database (${(e as Error).message}); refusing to touch it`, { path }, { cause: e })
    }
    throw e
  }
  if (tables.length === 0) return 0
  if (!tables.includes('meta')) fail('STORE_CORRUPT', `${path} is an SQLite database but not a Concord event store (no meta table); refusing to touch it`, { path })
  const raw = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get()
  const version = typeof raw === 'string' ? Number(raw) : NaN
  if (!Number.isSafeInteger(version) || version < 0) fail('STORE_CORRUPT', `${path} has no valid schema_version (${String(raw)})`, { path })
  return version
}

/** SQLite's synchronous level for a durability. */
const synchronousOf = (durability: SqliteDurability): 'NORMAL' | 'FULL' => (durability === 'power' ? 'FULL' : 'NORMAL')

/** Roughly what a row adds to the WAL besides its payload: the other columns and index entries. */
const ROW_OVERHEAD_BYTES = 400

function walBytesOf(requests: readonly PreparedRequest[]): number {
  let n = 0
  for (const r of requests) for (const i of r.items) if (i.ok) n += i.prepared.event.payload.length + ROW_OVERHEAD_BYTES
  return n
}

export class SqliteEventStore implements EventStore {
  private closed = false
  private readonly now: () => number
  private readonly hooks: StoreTestHooks
  private readonly id: ReplicaId
  private readonly stmts
  private readonly appendTx: Database.Transaction<(requests: readonly PreparedRequest[], storedAt: IsoInstant) => AppendResult[]>
  /** Absent for ':memory:' and when turned off. */
  readonly checkpointer: WalCheckpointer | undefined

  private constructor(
    private readonly db: Database.Database,
    options: SqliteEventStoreOptions,
  ) {
    this.now = options.now ?? Date.now
    this.hooks = options.testHooks ?? {}
    this.stmts = {
      getDoc: db.prepare<[string], { backend: string; last_seq: number }>('SELECT backend, last_seq FROM docs WHERE doc_id = ?'),
      insertDoc: db.prepare<[string, string, string]>('INSERT INTO docs (doc_id, backend, last_seq, created_at) VALUES (?, ?, 0, ?)'),
      setLastSeq: db.prepare<[number, string]>('UPDATE docs SET last_seq = ? WHERE doc_id = ?'),
      // One lookup per request for all its ids (a JSON array), not one per event.
      findEvents: db.prepare<[string, string], { seq: number; event_id: string; hash: string }>(
        'SELECT seq, event_id, hash FROM events WHERE doc_id = ? AND event_id IN (SELECT value FROM json_each(?))',
      ),
      insertEvent: db.prepare(
        `INSERT INTO events (doc_id, seq, event_id, actor, actor_seq, hlc, kind, backend, deps, meta, payload, stored_at, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      owners: db.prepare<[string], { actor: string; subject: string }>(
        'SELECT actor, subject FROM actors WHERE actor IN (SELECT value FROM json_each(?))',
      ),
      insertActor: db.prepare<[string, string, string]>('INSERT INTO actors (actor, subject, bound_at) VALUES (?, ?, ?)'),
      actorHeads: db.prepare<[string, string], { actor: string; head: number }>(
        `SELECT actor, max(actor_seq) AS head FROM events
         WHERE doc_id = ? AND actor IN (SELECT value FROM json_each(?)) GROUP BY actor`,
      ),
      readFrom: db.prepare<[string, number, number], EventRow>(
        `SELECT seq, event_id, actor, actor_seq, hlc, kind, backend, deps, meta, payload, stored_at
         FROM events WHERE doc_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
      ),
      readSummaries: db.prepare<[string, number, number], Omit<EventRow, 'payload'> & { payload_size: number }>(
        `SELECT seq, event_id, actor, actor_seq, hlc, kind, backend, deps, meta, length(payload) AS payload_size, stored_at
         FROM events WHERE doc_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
      ),
      docInfo: db.prepare<[string], DocRow>(
        `SELECT d.doc_id, d.backend, d.last_seq, d.created_at, n.number
         FROM docs d LEFT JOIN numbers n ON n.doc_id = d.doc_id WHERE d.doc_id = ?`,
      ),
      listDocs: db.prepare<[string, number], DocRow>(
        `SELECT d.doc_id, d.backend, d.last_seq, d.created_at, n.number
         FROM docs d LEFT JOIN numbers n ON n.doc_id = d.doc_id WHERE d.doc_id > ? ORDER BY d.doc_id LIMIT ?`,
      ),
      maxSnapshotSeq: db.prepare<[string], number | null>('SELECT max(up_to_seq) FROM snapshots WHERE doc_id = ?'),
      insertSnapshot: db.prepare<[string, number, string, Uint8Array, string]>(
        'INSERT INTO snapshots (doc_id, up_to_seq, heads, bytes, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      deleteOlderSnapshots: db.prepare<[string, number, number, number]>(
        'DELETE FROM snapshots WHERE doc_id = ? AND (up_to_seq < ? OR (up_to_seq = ? AND id < ?))',
      ),
      latestSnapshot: db.prepare<[string], SnapshotRow>(
        'SELECT id, up_to_seq, heads, bytes, created_at FROM snapshots WHERE doc_id = ? ORDER BY up_to_seq DESC, id DESC LIMIT 1',
      ),
      listSnapshots: db.prepare<[string], { up_to_seq: number; size: number; created_at: string }>(
        'SELECT up_to_seq, length(bytes) AS size, created_at FROM snapshots WHERE doc_id = ? ORDER BY up_to_seq, id',
      ),
      getNumber: db.prepare<[string], string>('SELECT number FROM numbers WHERE doc_id = ?'),
      bumpCounter: db.prepare<[number], number>(
        'INSERT INTO number_counters (year, last) VALUES (?, 1) ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last',
      ),
      insertNumber: db.prepare<[string, number, number, string]>('INSERT INTO numbers (doc_id, year, n, number) VALUES (?, ?, ?, ?)'),
    }
    // better-sqlite3 returns a single column as the value with pluck().
    this.stmts.maxSnapshotSeq.pluck()
    this.stmts.getNumber.pluck()
    this.stmts.bumpCounter.pluck()
    // Made once: better-sqlite3 wraps BEGIN/COMMIT/ROLLBACK around it.
    this.appendTx = db.transaction((requests: readonly PreparedRequest[], storedAt: IsoInstant) => {
      const owners = this.owners(actorsToCheck(requests))
      return requests.map((r) => this.appendOne(r, storedAt, owners))
    })
    this.id = this.ensureRelayId(options.newRelayId ?? defaultRelayId)
    const wal = String(db.pragma('journal_mode', { simple: true })) === 'wal'
    this.checkpointer = wal && options.checkpoint !== false
      ? WalCheckpointer.start(db, db.name, synchronousOf(options.durability ?? 'process'), options.checkpoint)
      : undefined
  }

  /**
   * Opens (creating if needed) the store at `options.path`, migrating an older
   * schema in place. Refuses a newer schema (STORE_SCHEMA_TOO_NEW) and a file
   * that is not a Concord store (STORE_CORRUPT), leaving the file untouched.
   */
  static async open(options: SqliteEventStoreOptions): Promise<SqliteEventStore> {
    const migrations = options.migrations ?? SQLITE_MIGRATIONS
    const latest = checkMigrations(migrations)
    const durability = options.durability ?? 'process'
    if (durability !== 'process' && durability !== 'power') fail('INVALID_ARGUMENT', `durability must be 'process' or 'power', got ${String(durability)}`)
    const db = openDatabase(options.path)
    try {
      const version = readSchemaVersion(db, options.path)
      if (version > latest) schemaTooNew(version, latest)
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`)
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${synchronousOf(durability)}`)
      migrate(db, version, migrations)
      return new SqliteEventStore(db, options)
    } catch (e) {
      db.close()
      throw e
    }
  }

  private ensureRelayId(make: () => string): ReplicaId {
    const get = this.db.prepare("SELECT value FROM meta WHERE key = 'relay_id'").pluck()
    let id = get.get()
    if (id === undefined) {
      this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('relay_id', ?)").run(checkRelayId(make()))
      id = get.get()
    }
    return checkRelayId(id)
  }

  private open(): Database.Database {
    if (this.closed) storeClosed()
    return this.db
  }

  private stamp(): IsoInstant {
    return isoStamp(this.now())
  }

  /** The pragmas in force (journal mode, synchronous level) and the schema version. */
  settings(): SqliteSettings {
    const db = this.open()
    return {
      journalMode: String(db.pragma('journal_mode', { simple: true })),
      synchronous: Number(db.pragma('synchronous', { simple: true })),
      walAutocheckpoint: Number(db.pragma('wal_autocheckpoint', { simple: true })),
      schemaVersion: readSchemaVersion(db, db.name),
    }
  }

  async append(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    this.open()
    // Validation and encoding happen before the transaction: it holds the
    // write lock, so it should only do row work.
    const requests = checkBatch(batch).map(prepareRequest)
    const results = this.appendTx.immediate(requests, this.stamp())
    this.checkpointer?.committed(walBytesOf(requests))
    return results
  }

  /** The subjects these actors are bound to (one query). */
  private owners(actors: readonly ReplicaId[]): Map<ReplicaId, string> {
    const owners = new Map<ReplicaId, string>()
    if (actors.length > 0) for (const r of this.stmts.owners.all(JSON.stringify(actors))) owners.set(r.actor as ReplicaId, r.subject)
    return owners
  }

  /** One request's rows, inside the append transaction; `owners` is the batch's, updated by each plan. */
  private appendOne(req: PreparedRequest, storedAt: IsoInstant, owners: Map<ReplicaId, string>): AppendResult {
    const s = this.stmts
    if (req.error !== undefined) return resultOf(req.docId, refusedPlan(req))
    const row = s.getDoc.get(req.docId)
    const doc = row === undefined ? undefined : { backend: storedBackend(row.backend, `document ${req.docId}`), lastSeq: row.last_seq }
    const existing = new Map<string, ExistingEvent>()
    if (doc !== undefined && doc.lastSeq > 0) {
      const ids = req.items.flatMap((it) => (it.ok ? [it.prepared.id] : []))
      if (ids.length > 0) {
        for (const f of s.findEvents.all(req.docId, JSON.stringify(ids))) existing.set(f.event_id, { seq: f.seq, hash: f.hash })
      }
    }
    const plan = planDocAppend(req, doc, (id) => existing.get(id), owners)
    for (const b of plan.bindings) s.insertActor.run(b.actor, b.subject, storedAt)
    if (plan.rows.length > 0) {
      if (doc === undefined) s.insertDoc.run(req.docId, req.backend, storedAt)
      for (const { seq, prepared: p } of plan.rows) {
        const e = p.event
        s.insertEvent.run(req.docId, seq, e.id, e.actor, e.seq, e.hlc, e.kind, e.backend, p.depsJson, p.metaJson, e.payload, storedAt, p.hash)
      }
      s.setLastSeq.run(plan.lastSeq, req.docId)
    }
    return resultOf(req.docId, plan)
  }

  async readFrom(docId: PurchaseId, afterSeq: number, limit?: number): Promise<StoredEvent[]> {
    this.open()
    const rows = this.stmts.readFrom.all(checkDocId(docId), checkSeq(afterSeq, 'afterSeq'), checkLimit(limit))
    return rows.map((r) => ({ seq: r.seq, event: toEnvelope(docId, r, plainBytes(r.payload)), storedAt: r.stored_at as IsoInstant }))
  }

  readPages(docId: PurchaseId, afterSeq: number, pageSize: number = DEFAULT_PAGE): AsyncIterable<StoredEvent[]> {
    checkDocId(docId)
    checkSeq(afterSeq, 'afterSeq')
    const size = checkLimit(pageSize)
    return pagesOf((after, limit) => this.readFrom(docId, after, limit), afterSeq, size)
  }

  async readSummaries(docId: PurchaseId, afterSeq: number, limit?: number): Promise<EventSummary[]> {
    this.open()
    const rows = this.stmts.readSummaries.all(checkDocId(docId), checkSeq(afterSeq, 'afterSeq'), checkLimit(limit))
    return rows.map((r) => ({
      seq: r.seq, id: r.event_id as EventId, actor: r.actor as ReplicaId, actorSeq: r.actor_seq, hlc: r.hlc as Hlc, kind: r.kind,
      deps: parseJsonColumn<EventId[]>(r.deps, 'deps'), meta: parseJsonColumn<EventMeta>(r.meta, 'meta'),
      payloadSize: r.payload_size, storedAt: r.stored_at as IsoInstant,
    }))
  }

  async getDoc(docId: PurchaseId): Promise<DocInfo | undefined> {
    this.open()
    const row = this.stmts.docInfo.get(checkDocId(docId))
    return row === undefined ? undefined : toDocInfo(row)
  }

  async listDocs(options: ListDocsOptions): Promise<DocInfo[]> {
    this.open()
    const after = options.after === undefined ? '' : checkDocId(options.after)
    return this.stmts.listDocs.all(after, checkLimit(options.limit)).map(toDocInfo)
  }

  async putSnapshot(docId: PurchaseId, snapshot: SnapshotInput): Promise<PutSnapshotResult> {
    const db = this.open()
    const id = checkDocId(docId)
    const snap = checkSnapshot(snapshot)
    const s = this.stmts
    // Step 1: the new snapshot, committed on its own.
    const written = db.transaction((): number | undefined => {
      const doc = s.getDoc.get(id)
      if (doc === undefined) fail('NOT_FOUND', `no document ${id}`, { docId: id })
      if (snap.upToSeq > doc.last_seq) fail('INVALID_ARGUMENT', `snapshot upToSeq ${snap.upToSeq} is past the document's last event ${doc.last_seq}`)
      const max = s.maxSnapshotSeq.get(id)
      if (max !== undefined && max !== null && max > snap.upToSeq) return undefined
      return Number(s.insertSnapshot.run(id, snap.upToSeq, JSON.stringify(snap.heads), snap.bytes, this.stamp()).lastInsertRowid)
    }).immediate()
    if (written === undefined) return { written: false }
    this.checkpointer?.committed(snap.bytes.length + ROW_OVERHEAD_BYTES)
    await this.hooks.afterSnapshotWrite?.()
    // Step 2: only now the older ones go. A crash before this leaves two
    // snapshots; the next putSnapshot removes the older one.
    this.open()
    s.deleteOlderSnapshots.run(id, snap.upToSeq, snap.upToSeq, written)
    return { written: true }
  }

  async latestSnapshot(docId: PurchaseId): Promise<StoredSnapshot | undefined> {
    this.open()
    const id = checkDocId(docId)
    const row = this.stmts.latestSnapshot.get(id)
    if (row === undefined) return undefined
    return {
      docId: id, upToSeq: row.up_to_seq, heads: parseJsonColumn<EventId[]>(row.heads, 'snapshot heads'), bytes: plainBytes(row.bytes),
      createdAt: row.created_at as IsoInstant,
    }
  }

  async listSnapshots(docId: PurchaseId): Promise<SnapshotInfo[]> {
    this.open()
    return this.stmts.listSnapshots.all(checkDocId(docId)).map((r) => ({ upToSeq: r.up_to_seq, size: r.size, createdAt: r.created_at as IsoInstant }))
  }

  async allocateNumber(docId: PurchaseId, year: number): Promise<string> {
    const db = this.open()
    const id = checkDocId(docId)
    const y = checkYear(year)
    const s = this.stmts
    return db.transaction((): string => {
      const existing = s.getNumber.get(id)
      if (existing !== undefined) return existing
      const n = s.bumpCounter.get(y)
      if (n === undefined) fail('STORE_CORRUPT', 'number counter did not return a value')
      const number = formatNumber(y, n)
      s.insertNumber.run(id, y, n, number)
      return number
    }).immediate()
  }

  async relayId(): Promise<ReplicaId> {
    this.open()
    return this.id
  }

  async actorOwners(actors: readonly ReplicaId[]): Promise<Map<ReplicaId, string>> {
    this.open()
    return this.owners(checkActors(actors))
  }

  async actorHeads(docId: PurchaseId, actors: readonly ReplicaId[]): Promise<Map<ReplicaId, number>> {
    this.open()
    const id = checkDocId(docId)
    const list = checkActors(actors)
    const heads = new Map<ReplicaId, number>()
    if (list.length > 0) for (const r of this.stmts.actorHeads.all(id, JSON.stringify(list))) heads.set(r.actor as ReplicaId, r.head)
    return heads
  }

  async ping(): Promise<void> {
    this.open().prepare('SELECT 1').get()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.checkpointer?.stop()
    this.db.close()
  }
}

/** Runs the pending migrations, each in its own transaction with its version bump. */
function migrate(db: Database.Database, from: number, migrations: readonly SqliteMigration[]): void {
  if (from === 0) {
    db.transaction(() => {
      db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)')
      db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '0')").run()
    }).immediate()
  }
  for (const m of migrations.slice(from)) {
    db.transaction(() => {
      // Re-read under the write lock: another process may have migrated meanwhile.
      const current = Number(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get())
      if (current >= m.version) return
      try {
        m.up(db)
      } catch (e) {
        if (isConcordError(e)) throw e
        throw new ConcordError('STORE_CORRUPT', `migration ${m.version} (${m.description}) failed: ${(e as Error).message}`, { version: m.version }, { cause: e })
      }
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(m.version))
    }).immediate()
  }
}

function toEnvelope(docId: PurchaseId, r: EventRow, payload: Uint8Array): EventEnvelope {
  return envelopeOf(docId, {
    eventId: r.event_id, actor: r.actor, actorSeq: r.actor_seq, hlc: r.hlc, kind: r.kind, backend: r.backend,
    deps: parseJsonColumn<string[]>(r.deps, 'deps'), meta: parseJsonColumn<EventMeta>(r.meta, 'meta'), payload,
  })
}

function toDocInfo(r: DocRow): DocInfo {
  return {
    docId: r.doc_id as PurchaseId,
    backend: storedBackend(r.backend, `document ${r.doc_id}`),
    lastSeq: r.last_seq,
    createdAt: r.created_at as IsoInstant,
    ...(r.number === null ? {} : { number: r.number }),
  }
}
