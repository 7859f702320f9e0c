/**
 * What the three stores share: argument checks, the append plan (sequencing,
 * duplicates, mismatches) as a pure function, and small encodings. Each store
 * only fetches and writes rows; the rules live here, once.
 */
import { randomBytes } from 'node:crypto'
import {
  type BackendName, type ConcordError, type EventEnvelope, type EventId, type IsoInstant, type PurchaseId, type ReplicaId,
  ConcordError as ConcordErrorClass, fail, isConcordError, parseEventId, parsePurchaseId, parseReplicaId, validateEnvelope,
} from '@concord/core'
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
}

function asConcordError(e: unknown): ConcordError {
  if (isConcordError(e)) return e
  return new ConcordErrorClass('INVALID_EVENT', `event is invalid: ${(e as Error).message}`)
}

function rawId(e: unknown): string | undefined {
  const id = typeof e === 'object' && e !== null ? (e as Record<string, unknown>).id : undefined
  return typeof id === 'string' ? id.slice(0, 200) : undefined
}

export function depsKeyOf(deps: readonly string[]): string {
  return JSON.stringify([...deps].sort())
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
    if (r.backend !== 'yjs' && r.backend !== 'automerge') fail('INVALID_ARGUMENT', `unknown backend ${JSON.stringify(r.backend)}`, { backend: r.backend })
  } catch (e) {
    error = asConcordError(e)
  }
  const docId = r.docId as PurchaseId
  const backend = r.backend as BackendName
  if (error !== undefined) {
    const refused = error
    return { docId, backend, error, items: events.map((e) => ({ ok: false, id: rawId(e), error: refused })) }
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
        prepared: { event, id: event.id, depsJson: JSON.stringify(event.deps), metaJson: JSON.stringify(event.meta) },
      }
    } catch (e) {
      return { ok: false, id: rawId(raw), error: asConcordError(e) }
    }
  })
  return { docId, backend, error: undefined, items }
}

/** An already stored event, as much of it as a duplicate check needs. */
export interface ExistingEvent {
  readonly seq: number
  readonly hlc: string
  readonly kind: string
  readonly deps: readonly string[]
  readonly payload: Uint8Array
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
}

function sameContent(p: PreparedEvent, x: ExistingEvent): string | undefined {
  if (p.event.hlc !== x.hlc) return 'hlc'
  if (p.event.kind !== x.kind) return 'kind'
  // Deps compare as a set (only computed for a duplicate, off the hot path).
  if (depsKeyOf(p.event.deps) !== depsKeyOf(x.deps)) return 'deps'
  if (!bytesEqual(p.event.payload, x.payload)) return 'payload'
  return undefined
}

export interface NewRow {
  readonly seq: number
  readonly prepared: PreparedEvent
}

export interface DocPlan {
  readonly outcomes: EventOutcome[]
  readonly rows: NewRow[]
  readonly lastSeq: number
  /** Set when the whole request is refused. */
  readonly error: ConcordError | undefined
}

export function resultOf(docId: PurchaseId, plan: DocPlan): AppendResult {
  return { docId, events: plan.outcomes, lastSeq: plan.lastSeq, ...(plan.error === undefined ? {} : { error: plan.error }) }
}

/**
 * Decides, for one request against one document's current state, which events
 * are new (and their sequence numbers), which are duplicates and which are
 * refused. `existing` looks an id up among the events stored before this
 * request; events earlier in the same request are tracked here.
 */
export function planDocAppend(
  request: PreparedRequest,
  doc: { readonly backend: BackendName; readonly lastSeq: number } | undefined,
  existing: (id: EventId) => ExistingEvent | undefined,
): DocPlan {
  if (request.error !== undefined) {
    const error = request.error
    return { outcomes: request.items.map((it) => ({ ok: false, id: it.ok ? it.prepared.id : it.id, error })), rows: [], lastSeq: doc?.lastSeq ?? 0, error }
  }
  if (doc !== undefined && doc.backend !== request.backend) {
    const error = new ConcordErrorClass('BACKEND_MISMATCH', `document ${request.docId} uses ${doc.backend}, not ${request.backend}`, {
      docId: request.docId, expected: doc.backend, actual: request.backend,
    })
    // An event refused on its own keeps its own (more specific) error.
    return { outcomes: request.items.map((it) => (it.ok ? { ok: false, id: it.prepared.id, error } : it)), rows: [], lastSeq: doc.lastSeq, error }
  }
  let lastSeq = doc?.lastSeq ?? 0
  const rows: NewRow[] = []
  const inBatch = new Map<EventId, ExistingEvent>()
  const outcomes = request.items.map((it): EventOutcome => {
    if (!it.ok) return it
    const p = it.prepared
    const found = inBatch.get(p.id) ?? existing(p.id)
    if (found !== undefined) {
      const field = sameContent(p, found)
      if (field === undefined) return { ok: true, id: p.id, seq: found.seq, duplicate: true }
      return {
        ok: false,
        id: p.id,
        error: new ConcordErrorClass('DUPLICATE_EVENT_MISMATCH', `event ${p.id} is already stored in ${request.docId} with a different ${field}`, {
          docId: request.docId, eventId: p.id, field, seq: found.seq,
        }),
      }
    }
    const seq = ++lastSeq
    rows.push({ seq, prepared: p })
    inBatch.set(p.id, { seq, hlc: p.event.hlc, kind: p.event.kind, deps: p.event.deps, payload: p.event.payload })
    return { ok: true, id: p.id, seq, duplicate: false }
  })
  return { outcomes, rows, lastSeq, error: undefined }
}

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
