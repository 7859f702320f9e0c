/**
 * The Postgres schema, as a list of migrations (same rules as
 * sqlite-migrations.ts: append, never edit; version N is what 1..N make).
 * Every table lives in the store's own schema, passed to `up` already quoted.
 */
import type { ClientBase } from 'pg'
import { type EventMeta, type PurchaseId } from '@concord/core'
import { eventHash } from '@concord/core/internal'
import { BINDING_ORDER, MIGRATION_PAGE, envelopeOf } from './common.js'

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
  {
    version: 2,
    description: 'content hash per event, actors bound to their writer, actor heads index',
    up: async (client, s) => {
      await client.query(`
        ALTER TABLE ${s}.events ADD COLUMN hash text;
        CREATE INDEX events_by_actor ON ${s}.events (doc_id, actor, actor_seq);
        CREATE TABLE ${s}.actors (
          actor      text PRIMARY KEY,
          subject    text NOT NULL,
          bound_at   text NOT NULL
        );
      `)
      await hashStoredEvents(client, s)
      await client.query(`ALTER TABLE ${s}.events ALTER COLUMN hash SET NOT NULL`)
      // Each actor belongs to the user its first stored event names.
      await client.query(`
        INSERT INTO ${s}.actors (actor, subject, bound_at)
        SELECT DISTINCT ON (actor) actor, coalesce(meta->>'user', ''), stored_at FROM ${s}.events ORDER BY actor, ${BINDING_ORDER}
      `)
    },
  },
]

interface V1Row {
  doc_id: string
  seq: string
  event_id: string
  actor: string
  actor_seq: string
  hlc: string
  kind: string
  backend: string
  deps: string[]
  meta: EventMeta
  payload: Buffer
}

/** Fills `hash` for every stored event, MIGRATION_PAGE rows at a time (keyset on the primary key), so memory stays bounded. */
async function hashStoredEvents(client: ClientBase, s: string): Promise<void> {
  let after: [string, string] = ['', '0']
  for (;;) {
    const { rows } = await client.query<V1Row>(
      `SELECT doc_id, seq, event_id, actor, actor_seq, hlc, kind, backend, deps, meta, payload
       FROM ${s}.events WHERE (doc_id, seq) > ($1, $2::bigint) ORDER BY doc_id, seq LIMIT $3`,
      [after[0], after[1], MIGRATION_PAGE],
    )
    if (rows.length === 0) return
    const hashes = rows.map((r) =>
      eventHash(envelopeOf(r.doc_id as PurchaseId, {
        eventId: r.event_id, actor: r.actor, actorSeq: Number(r.actor_seq), hlc: r.hlc, kind: r.kind, backend: r.backend,
        deps: r.deps, meta: r.meta, payload: r.payload,
      })),
    )
    await client.query(
      `UPDATE ${s}.events AS e SET hash = v.h FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(d, q, h) WHERE e.doc_id = v.d AND e.seq = v.q`,
      [rows.map((r) => r.doc_id), rows.map((r) => r.seq), hashes],
    )
    if (rows.length < MIGRATION_PAGE) return
    const last = rows[rows.length - 1]!
    after = [last.doc_id, last.seq]
  }
}
