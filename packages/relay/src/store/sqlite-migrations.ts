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
]
