/**
 * The SQLite schema, as a list of migrations. Version N of the schema is what
 * migrations 1..N make; a store records its version in `meta.schema_version`.
 *
 * To change the schema, append migration N+1 (never edit a released one): it
 * runs once, in its own transaction, on every store that is still at N when a
 * newer relay opens it. Add a fixture of the version-N layout under
 * test/relay/store/fixtures (built by hand, as an old relay left it) so the
 * upgrade stays tested.
 */
import type Database from 'better-sqlite3'
import { type EventMeta, type PurchaseId } from '@concord/core'
import { eventHash } from '@concord/core/internal'
import { BINDING_ORDER, MIGRATION_PAGE, envelopeOf, parseJsonColumn } from './common.js'

export interface SqliteMigration {
  /** 1, 2, 3...: the schema version this migration produces. */
  readonly version: number
  readonly description: string
  /** Runs inside a transaction; must not commit or change pragmas. */
  readonly up: (db: Database.Database) => void
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    description: 'documents, events, snapshots, numbers',
    up: (db) => {
      db.exec(`
        CREATE TABLE docs (
          doc_id     TEXT PRIMARY KEY,
          backend    TEXT NOT NULL,
          last_seq   INTEGER NOT NULL,
          created_at TEXT NOT NULL
        );
        -- One row per event; the payload is the only opaque column, so the
        -- admin history lists events without decoding anything.
        CREATE TABLE events (
          doc_id     TEXT NOT NULL,
          seq        INTEGER NOT NULL,
          event_id   TEXT NOT NULL,
          actor      TEXT NOT NULL,
          actor_seq  INTEGER NOT NULL,
          hlc        TEXT NOT NULL,
          kind       TEXT NOT NULL,
          backend    TEXT NOT NULL,
          deps       TEXT NOT NULL,
          meta       TEXT NOT NULL,
          payload    BLOB NOT NULL,
          stored_at  TEXT NOT NULL,
          PRIMARY KEY (doc_id, seq)
        );
        CREATE UNIQUE INDEX events_by_id ON events (doc_id, event_id);
        CREATE TABLE snapshots (
          id         INTEGER PRIMARY KEY AUTOINCREMENT,
          doc_id     TEXT NOT NULL,
          up_to_seq  INTEGER NOT NULL,
          heads      TEXT NOT NULL,
          bytes      BLOB NOT NULL,
          created_at TEXT NOT NULL
        );
        CREATE INDEX snapshots_by_doc ON snapshots (doc_id, up_to_seq);
        CREATE TABLE numbers (
          doc_id     TEXT PRIMARY KEY,
          year       INTEGER NOT NULL,
          n          INTEGER NOT NULL,
          number     TEXT NOT NULL UNIQUE
        );
        CREATE TABLE number_counters (
          year       INTEGER PRIMARY KEY,
          last       INTEGER NOT NULL
        );
      `)
    },
  },
  {
    version: 2,
    description: 'content hash per event, actors bound to their writer, actor heads index',
    up: (db) => {
      // ADD COLUMN needs a default for NOT NULL; every row is filled below and
      // every insert names the hash, so '' is never left in a row.
      db.exec(`
        ALTER TABLE events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
        CREATE INDEX events_by_actor ON events (doc_id, actor, actor_seq);
        CREATE TABLE actors (
          actor      TEXT PRIMARY KEY,
          subject    TEXT NOT NULL,
          bound_at   TEXT NOT NULL
        );
      `)
      hashStoredEvents(db)
      // Each actor belongs to the user its first stored event names.
      db.exec(`
        INSERT INTO actors (actor, subject, bound_at)
        SELECT actor, coalesce(json_extract(meta, '$.user'), ''), stored_at FROM (
          SELECT actor, meta, stored_at, row_number() OVER (PARTITION BY actor ORDER BY ${BINDING_ORDER}) AS n FROM events
        ) WHERE n = 1
      `)
    },
  },
]

interface V1Row {
  doc_id: string
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
}

/** Fills `hash` for every stored event, MIGRATION_PAGE rows at a time (keyset on the primary key), so memory stays bounded. */
function hashStoredEvents(db: Database.Database): void {
  const page = db.prepare<[string, number, number], V1Row>(
    `SELECT doc_id, seq, event_id, actor, actor_seq, hlc, kind, backend, deps, meta, payload
     FROM events WHERE (doc_id, seq) > (?, ?) ORDER BY doc_id, seq LIMIT ?`,
  )
  const setHash = db.prepare<[string, string, number]>('UPDATE events SET hash = ? WHERE doc_id = ? AND seq = ?')
  let after: [string, number] = ['', 0]
  for (;;) {
    const rows = page.all(after[0], after[1], MIGRATION_PAGE)
    for (const r of rows) {
      const event = envelopeOf(r.doc_id as PurchaseId, {
        eventId: r.event_id, actor: r.actor, actorSeq: r.actor_seq, hlc: r.hlc, kind: r.kind, backend: r.backend,
        deps: parseJsonColumn<string[]>(r.deps, 'deps'), meta: parseJsonColumn<EventMeta>(r.meta, 'meta'), payload: r.payload,
      })
      setHash.run(eventHash(event), r.doc_id, r.seq)
    }
    if (rows.length < MIGRATION_PAGE) return
    const last = rows[rows.length - 1]!
    after = [last.doc_id, last.seq]
  }
}
