/**
 * What the three stores share: argument checks, the append plan (sequencing,
 * duplicates, id conflicts, actor ownership) as a pure function, and small
 * encodings. Each store only fetches rows (the document, the stored hashes of
 * the batch's ids, the owners of its actors) and writes what the plan says
 * (events, bindings, last_seq); the rules live here, once.
 */
import { randomBytes } from 'node:crypto'
import {
  type BackendName, type ConcordError, type EventEnvelope, type EventId, type EventMeta, type Hlc, type IsoInstant, type PurchaseId, type ReplicaId, ConcordError as ConcordErrorClass, isBackendName, isConcordError, parseEventId, parsePurchaseId, parseReplicaId,
} from '@concord/core'
import { backendList, eventHash, fail, validateEnvelope } from '@concord/core/internal'
import { type AppendRequest, type AppendResult, type EventOutcome, type SnapshotInput, type StoredEvent, DEFAULT_PAGE, MAX_PAGE } from './types.js'

export function checkDocId(docId: unknown): PurchaseId {
  return parsePurchaseId(docId)
}

export function checkSeq(n: unknown, name: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) fail('INVALID_ARGUMENT', `${name} must be a non-negative integer, got ${String(n)}`, { [name]: n })
  return n
}

export function checkLimit(limit: unknown, fallback = DEFAULT_PAGE): number {
  if (limit === undefined) return fallback
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    fail('INVALID_ARGUMENT', `limit must be an integer from 1 to ${MAX_PAGE}, got ${String(limit)}`, { limit })
  }
  return limit
}

export function checkYear(year: unknown): number {
  if (typeof year !== 'number' || !Number.isSafeInteger(year) || year < 1 || year > 9999) {
    fail('INVALID_ARGUMENT', `year must be an integer from 1 to 9999, got ${String(year)}`, { year })
  }
  return year
}

export function checkSnapshot(snapshot: unknown): SnapshotInput {
  if (typeof snapshot !== 'object' || snapshot === null) fail('INVALID_ARGUMENT', 'snapshot must be an object')
  const s = snapshot as Record<string, unknown>
  checkSeq(s.upToSeq, 'upToSeq')
  if (!Array.isArray(s.heads)) fail('INVALID_ARGUMENT', 'snapshot heads must be an array of event ids')
  for (const h of s.heads as unknown[]) parseEventId(h)
  if (!(s.bytes instanceof Uint8Array)) fail('INVALID_ARGUMENT', 'snapshot bytes must be a Uint8Array')
  return snapshot as SnapshotInput
}

export function checkBatch(batch: unknown): readonly AppendRequest[] {
  if (!Array.isArray(batch)) fail('INVALID_ARGUMENT', 'append takes an array of { docId, backend, events }')
  return batch as readonly AppendRequest[]
}

/** The human number of a purchase: PO-2026-00042 (more digits past 99999). */
export function formatNumber(year: number, n: number): string {
  return `PO-${String(year).padStart(4, '0')}-${String(n).padStart(5, '0')}`
}

/** A fresh relay id: "relay-" and 16 random hex digits, a valid ReplicaId. */
export function defaultRelayId(): string {
  return `relay-${randomBytes(8).toString('hex')}`
}

/** The actors argument of actorOwners / actorHeads: replica ids, each once. */
export function checkActors(actors: unknown): ReplicaId[] {
  if (!Array.isArray(actors)) fail('INVALID_ARGUMENT', 'actors must be an array of replica ids')
  return [...new Set((actors as unknown[]).map((a) => parseReplicaId(a)))]
}

export function checkRelayId(id: unknown): ReplicaId {
  try {
    return parseReplicaId(id)
  } catch {
    return fail('STORE_CORRUPT', `stored relay id ${JSON.stringify(id)} is not a valid replica id`)
  }
}

/**
 * The store's own timestamps (createdAt, storedAt): the same ISO form as
 * core's instants, made with Date because it sits on the append hot path and
 * the Temporal polyfill takes tens of microseconds per call.
 */
export function isoStamp(ms: number): IsoInstant {
  return new Date(Math.floor(ms)).toISOString() as IsoInstant
}

export function storeClosed(): never {
  return fail('STORE_CLOSED', 'the event store is closed')
}

/** An event that passed validation, with its columns encoded once, outside any transaction. */
export interface PreparedEvent {
  readonly event: EventEnvelope
  readonly id: EventId
  /** eventHash(event): the `hash` column, and all a duplicate check compares. */
  readonly hash: string
  readonly depsJson: string
  readonly metaJson: string
}

export type PreparedItem =
  | { readonly ok: true; readonly prepared: PreparedEvent }
  | { readonly ok: false; readonly id: string | undefined; readonly error: ConcordError }

export interface PreparedRequest {
  /** The docId as given (echoed in the result even when invalid). */
  readonly docId: PurchaseId
  readonly backend: BackendName
  /** Set when the whole request is refused (bad docId or backend): every event gets it. */
  readonly error: ConcordError | undefined
  readonly items: readonly PreparedItem[]
  /** The writing subject (AppendRequest.subject); undefined: the relay's own events, not bound or checked. */
  readonly subject: string | undefined
}

function asConcordError(e: unknown): ConcordError {
  if (isConcordError(e)) return e
  return new ConcordErrorClass('INVALID_EVENT', `event is invalid: ${(e as Error).message}`)
}

function rawId(e: unknown): string | undefined {
  const id = typeof e === 'object' && e !== null ? (e as Record<string, unknown>).id : undefined
  return typeof id === 'string' ? id.slice(0, 200) : undefined
}

/**
 * Envelopes already run through validateEnvelope on their way in: the native
 * codec validates every event it decodes, and a push is then validated again
 * here only if nothing says so (a third time when the replica applies it).
 * The relay never changes an envelope after decoding it (the type is readonly
 * throughout), so the check still holds when it reaches the store. Anything
 * not marked (every other caller of a store) is checked as before.
 */
const validated = new WeakSet<object>()

export function markValidated(events: readonly EventEnvelope[]): void {
  for (const e of events) validated.add(e)
}

/** Validates and encodes every event of a request. Never throws: refusals become items. */
export function prepareRequest(request: unknown): PreparedRequest {
  const r = (typeof request === 'object' && request !== null ? request : {}) as Record<string, unknown>
  const events = Array.isArray(r.events) ? (r.events as unknown[]) : []
  let error: ConcordError | undefined
  try {
    if (!Array.isArray(r.events)) fail('INVALID_ARGUMENT', 'an append request needs an events array')
    parsePurchaseId(r.docId)
    if (!isBackendName(r.backend)) fail('INVALID_ARGUMENT', `unknown backend ${JSON.stringify(r.backend)} (expected ${backendList()})`, { backend: r.backend })
    // Never taken for "no subject": that would skip the ownership check.
    if (r.subject !== undefined && typeof r.subject !== 'string') fail('INVALID_ARGUMENT', 'an append request subject must be a string when given')
  } catch (e) {
    error = asConcordError(e)
  }
  const docId = r.docId as PurchaseId
  const backend = r.backend as BackendName
  const subject = r.subject as string | undefined
  if (error !== undefined) {
    const refused = error
    return { docId, backend, error, subject, items: events.map((e) => ({ ok: false, id: rawId(e), error: refused })) }
  }
  const items = events.map((raw): PreparedItem => {
    try {
      const event = typeof raw === 'object' && raw !== null && validated.has(raw) ? (raw as EventEnvelope) : validateEnvelope(raw)
      if (event.docId !== docId) fail('INVALID_EVENT', `event ${event.id} belongs to ${event.docId}, not ${docId}`, { field: 'docId' })
      if (event.backend !== backend) {
        fail('BACKEND_MISMATCH', `event ${event.id} is a ${event.backend} event, the request is for ${backend}`, { expected: backend, actual: event.backend })
      }
      return {
        ok: true,
        prepared: { event, id: event.id, hash: eventHash(event), depsJson: JSON.stringify(event.deps), metaJson: JSON.stringify(event.meta) },
      }
    } catch (e) {
      return { ok: false, id: rawId(raw), error: asConcordError(e) }
    }
  })
  return { docId, backend, error: undefined, subject, items }
}

/**
 * The actors whose owners an append must know: those of the valid events of
 * requests that name a subject (a superset of what the plan binds or checks).
 */
export function actorsToCheck(requests: readonly PreparedRequest[]): ReplicaId[] {
  const actors = new Set<ReplicaId>()
  for (const r of requests) {
    if (r.error !== undefined || r.subject === undefined) continue
    for (const it of r.items) if (it.ok) actors.add(it.prepared.event.actor)
  }
  return [...actors]
}

/** An already stored event, as much of it as a duplicate check needs: no payload is read. */
export interface ExistingEvent {
  readonly seq: number
  readonly hash: string
}

export interface NewRow {
  readonly seq: number
  readonly prepared: PreparedEvent
}

/** An actor bound to the subject that wrote its first stored event: a row of `actors`. */
export interface Binding {
  readonly actor: ReplicaId
  readonly subject: string
}

export interface DocPlan {
  readonly outcomes: EventOutcome[]
  readonly rows: NewRow[]
  /** Actors this request binds (first new event of an unbound actor); the store inserts them. */
  readonly bindings: Binding[]
  readonly lastSeq: number
  /** Set when the whole request is refused. */
  readonly error: ConcordError | undefined
}

export function resultOf(docId: PurchaseId, plan: DocPlan): AppendResult {
  return { docId, events: plan.outcomes, lastSeq: plan.lastSeq, ...(plan.error === undefined ? {} : { error: plan.error }) }
}

/** The plan of a request refused as a whole (it touches no row). */
export function refusedPlan(request: PreparedRequest): DocPlan {
  return planDocAppend(request, undefined, () => undefined, new Map())
}

/**
 * Decides, for one request against one document's current state, which events
 * are new (and their sequence numbers), which are duplicates and which are
 * refused, and which actors it binds. In order, for each valid event:
 *   - its id is stored (before this request, or earlier in it): the same hash
 *     is a duplicate (the stored seq); another hash is an ID_CONFLICT, and
 *     so is every later event of that actor in the request (built on it);
 *   - otherwise it is new, if the request names no subject, or its actor is
 *     unbound (then bound to the subject) or bound to this subject; an actor
 *     bound to another subject is FORBIDDEN. A refused event takes no seq.
 * `existing` looks an id up among the events stored before this request;
 * `owners` holds the subjects of the batch's actors as stored (actorsToCheck)
 * and is updated with this request's bindings, so the batch's later requests
 * see them.
 */
export function planDocAppend(
  request: PreparedRequest,
  doc: { readonly backend: BackendName; readonly lastSeq: number } | undefined,
  existing: (id: EventId) => ExistingEvent | undefined,
  owners: Map<ReplicaId, string>,
): DocPlan {
  if (request.error !== undefined) {
    const error = request.error
    return { outcomes: request.items.map((it) => ({ ok: false, id: it.ok ? it.prepared.id : it.id, error })), rows: [], bindings: [], lastSeq: doc?.lastSeq ?? 0, error }
  }
  if (doc !== undefined && doc.backend !== request.backend) {
    const error = new ConcordErrorClass('BACKEND_MISMATCH', `document ${request.docId} uses ${doc.backend}, not ${request.backend}`, {
      docId: request.docId, expected: doc.backend, actual: request.backend,
    })
    // An event refused on its own keeps its own (more specific) error.
    return { outcomes: request.items.map((it) => (it.ok ? { ok: false, id: it.prepared.id, error } : it)), rows: [], bindings: [], lastSeq: doc.lastSeq, error }
  }
  const { docId, subject } = request
  let lastSeq = doc?.lastSeq ?? 0
  const rows: NewRow[] = []
  const bindings: Binding[] = []
  const inBatch = new Map<EventId, ExistingEvent>()
  /** Per actor, the lowest seq of this request refused as an ID_CONFLICT: its later events are built on that other content. */
  const conflicted = new Map<ReplicaId, number>()
  const outcomes = request.items.map((it): EventOutcome => {
    if (!it.ok) return it
    const p = it.prepared
    const found = inBatch.get(p.id) ?? existing(p.id)
    if (found !== undefined) {
      if (found.hash === p.hash) return { ok: true, id: p.id, seq: found.seq, duplicate: true }
      conflicted.set(p.event.actor, Math.min(conflicted.get(p.event.actor) ?? Infinity, p.event.seq))
      return {
        ok: false,
        id: p.id,
        error: new ConcordErrorClass('ID_CONFLICT', `event ${p.id} is already stored in ${docId} with other content: an event id names one event`, {
          docId, eventId: p.id, seq: found.seq,
        }),
      }
    }
    const actor = p.event.actor
    const owner = subject === undefined ? undefined : owners.get(actor)
    if (owner !== undefined && owner !== subject) {
      return {
        ok: false,
        id: p.id,
        error: new ConcordErrorClass('FORBIDDEN', `actor ${actor} belongs to another writer; write as your own actor`, { actor }),
      }
    }
    const after = conflicted.get(actor)
    if (after !== undefined && p.event.seq > after) {
      return {
        ok: false,
        id: p.id,
        error: new ConcordErrorClass('ID_CONFLICT', `event ${p.id} follows ${actor}.${after}, which ${docId} holds with other content: it is built on the other one`, {
          docId, eventId: p.id,
        }),
      }
    }
    if (subject !== undefined && owner === undefined) {
      owners.set(actor, subject)
      bindings.push({ actor, subject })
    }
    const seq = ++lastSeq
    rows.push({ seq, prepared: p })
    inBatch.set(p.id, { seq, hash: p.hash })
    return { ok: true, id: p.id, seq, duplicate: false }
  })
  return { outcomes, rows, bindings, lastSeq, error: undefined }
}

/** A stored event's columns, decoded (deps and meta parsed, numbers as numbers). */
export interface EventColumns {
  readonly eventId: string
  readonly actor: string
  readonly actorSeq: number
  readonly hlc: string
  readonly kind: string
  readonly backend: string
  readonly deps: readonly string[]
  readonly meta: EventMeta
  readonly payload: Uint8Array
}

/**
 * The envelope a store reads back from a row. The migrations that filled the
 * `hash` column hashed exactly this, so a stored hash is eventHash of the
 * event as read.
 */
export function envelopeOf(docId: PurchaseId, c: EventColumns): EventEnvelope {
  return {
    id: c.eventId as EventId, docId, actor: c.actor as ReplicaId, seq: c.actorSeq, hlc: c.hlc as Hlc, deps: c.deps as EventId[],
    kind: c.kind, backend: storedBackend(c.backend, `event ${c.eventId}`), payload: c.payload, meta: c.meta,
  }
}

/** Rows per page when a migration hashes the events stored before the hash column. */
export const MIGRATION_PAGE = 500

/**
 * The actor bindings a migration derives from stored events: each actor's
 * first stored event (earliest stored_at, then lowest seq, then doc id) names
 * its writer in meta.user ('' when it names none).
 */
export const BINDING_ORDER = 'stored_at, seq, doc_id'

/** Whether a request has anything that could create its document. */
export function hasValidEvents(request: PreparedRequest): boolean {
  return request.error === undefined && request.items.some((it) => it.ok)
}

/** Pages over a `readFrom`, one query per page, until a short page. */
export async function* pagesOf(
  readFrom: (afterSeq: number, limit: number) => Promise<StoredEvent[]>,
  afterSeq: number,
  pageSize: number,
): AsyncGenerator<StoredEvent[], void, undefined> {
  let cursor = afterSeq
  for (;;) {
    const page = await readFrom(cursor, pageSize)
    if (page.length > 0) yield page
    if (page.length < pageSize) return
    cursor = page[page.length - 1]!.seq
  }
}

/** A zero-copy Uint8Array view of a driver's Buffer, so callers see plain bytes. */
export function plainBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

/**
 * A backend column read back. Stores keep the registry name as text (not the
 * wire id), so a change of event body layout never touches them; a name this
 * build does not know (written by a newer relay, or edited by hand) is
 * STORE_CORRUPT naming the row, never a backend lookup that fails later.
 */
export function storedBackend(text: string, what: string): BackendName {
  if (!isBackendName(text)) fail('STORE_CORRUPT', `stored ${what} names unknown backend ${JSON.stringify(text)} (this relay knows ${backendList()})`, { backend: text })
  return text
}

/** Safe parse of a JSON column the store itself wrote. */
export function parseJsonColumn<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T
  } catch {
    return fail('STORE_CORRUPT', `stored ${what} is not valid JSON`)
  }
}

/** Checks a migration list: versions 1..N in order, so the newest is its length. */
export function checkMigrations(migrations: readonly { readonly version: number }[]): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) fail('INVALID_ARGUMENT', `migration ${i + 1} is numbered ${m.version}: migrations must be 1, 2, 3... in order`)
  })
  if (migrations.length === 0) fail('INVALID_ARGUMENT', 'at least one migration is required')
  return migrations.length
}

export function schemaTooNew(found: number, supported: number): never {
  return fail(
    'STORE_SCHEMA_TOO_NEW',
    `the store's schema is version ${found}, newer than version ${supported} that this relay supports: run a newer relay (downgrading is not supported)`,
    { found, supported },
  )
}
