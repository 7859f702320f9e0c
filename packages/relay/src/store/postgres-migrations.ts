/**
 * The Postgres schema, as a list of migrations (same rules as
 * sqlite-migrations.ts: append, never edit; version N is what 1..N make).
 * Every table lives in the store's own schema, passed to `up` already quoted.
 */
import type { ClientBase } from 'pg'

export interface PostgresMigration {
  /** 1, 2, 3...: the schema version this migration produces. */
  readonly version: number
  readonly description: string
  /** Runs inside the opening transaction, under the store's advisory lock. */
  readonly up: (client: ClientBase, schema: string) => Promise<void>
}

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    description: 'documents, events, snapshots, numbers',
    up: async (client, s) => {
      // doc_id sorts bytewise (COLLATE "C") so listDocs pages the same way on
      // every store whatever the database's locale.
      await client.query(`
        CREATE TABLE ${s}.docs (
          doc_id     text COLLATE "C" PRIMARY KEY,
          backend    text NOT NULL,
          last_seq   bigint NOT NULL,
          created_at text NOT NULL
        );
        CREATE TABLE ${s}.events (
          doc_id     text COLLATE "C" NOT NULL,
          seq        bigint NOT NULL,
          event_id   text NOT NULL,
          actor      text NOT NULL,
          actor_seq  bigint NOT NULL,
          hlc        text NOT NULL,
          kind       text NOT NULL,
          backend    text NOT NULL,
          deps       jsonb NOT NULL,
          meta       jsonb NOT NULL,
          payload    bytea NOT NULL,
          stored_at  text NOT NULL,
          PRIMARY KEY (doc_id, seq)
        );
        CREATE UNIQUE INDEX events_by_id ON ${s}.events (doc_id, event_id);
        CREATE TABLE ${s}.snapshots (
          id         bigserial PRIMARY KEY,
          doc_id     text COLLATE "C" NOT NULL,
          up_to_seq  bigint NOT NULL,
          heads      jsonb NOT NULL,
          bytes      bytea NOT NULL,
          created_at text NOT NULL
        );
        CREATE INDEX snapshots_by_doc ON ${s}.snapshots (doc_id, up_to_seq);
        CREATE TABLE ${s}.numbers (
          doc_id     text COLLATE "C" PRIMARY KEY,
          year       integer NOT NULL,
          n          integer NOT NULL,
          number     text NOT NULL UNIQUE
        );
        CREATE TABLE ${s}.number_counters (
          year       integer PRIMARY KEY,
          last       integer NOT NULL
        );
      `)
    },
  },
]
