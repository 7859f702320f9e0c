/**
 * The event log of one document: append-only, idempotent by event id, causal.
 * An event applies once its dependencies (and its author's previous event)
 * have applied; until then it waits in a pending buffer that callers can see.
 * Everything that becomes ready in one `append` is handed to the backend as
 * one batch (Automerge applies a batch about 100x faster than single changes).
 *
 * Because each author's applied events are a prefix 1..n of its sequence, the
 * set of applied events is exactly a version vector: that is what a snapshot
 * records, and what makes "snapshot plus tail" exact.
 */
import type { CrdtBackend, CrdtDoc } from '../backends/backend.js'
import { ConcordError, isConcordError } from '../errors.js'
import { type EventId, type PurchaseId, type ReplicaId, covers, eventIdOf } from '../ids.js'
import { type EventEnvelope, validateEnvelope } from './envelope.js'
import { sameContent } from './event-hash.js'
import { compareHlc } from '../time/hlc.js'

export interface AppendResult {
  /** Events applied by this call, in the order they were applied. */
  readonly applied: readonly EventEnvelope[]
  /** Events already known (applied or pending): recognised by id, not applied twice. */
  readonly duplicates: readonly EventId[]
  /** Events now waiting for a dependency. */
  readonly pending: readonly EventId[]
  /** Events refused, each with its typed error. */
  readonly rejected: readonly { readonly id: string; readonly error: ConcordError }[]
}

export interface LogSnapshot {
  readonly docId: PurchaseId
  /** The saved document (backend-tagged bytes). */
  readonly doc: Uint8Array
  /** For each author, how many of its events the saved document includes. */
  readonly clock: Readonly<Record<string, number>>
  readonly heads: readonly EventId[]
}

export interface EventLogOptions {
  readonly backend: CrdtBackend
  readonly docId: PurchaseId
  /** The replica that owns this copy (its Yjs client id derives from it). */
  readonly replica: ReplicaId
}

export class EventLog {
  readonly backend: CrdtBackend
  readonly docId: PurchaseId
  readonly replica: ReplicaId
  readonly doc: CrdtDoc
  /** Applied events this log holds, in application order (a causal order). */
  private readonly applied: EventEnvelope[] = []
  private readonly byId = new Map<EventId, EventEnvelope>()
  /** Per author: how many of its events have applied (including those folded into a snapshot). */
  private readonly clock = new Map<ReplicaId, number>()
  private readonly headSet = new Set<EventId>()
  private readonly pendingById = new Map<EventId, EventEnvelope>()
  /**
   * The snapshot this log was restored from. Its events are folded into it,
   * not held one by one: the past before it can only be read as a whole.
   */
  readonly base: LogSnapshot | undefined

  private constructor(options: EventLogOptions, doc: CrdtDoc, base?: LogSnapshot) {
    this.backend = options.backend
    this.docId = options.docId
    this.replica = options.replica
    this.doc = doc
    this.base = base
  }

  static create(options: EventLogOptions): EventLog {
    return new EventLog(options, options.backend.create(options.replica))
  }

  /** Restores from a snapshot; the tail (events after it) is then appended as usual. */
  static restore(options: EventLogOptions, snapshot: LogSnapshot, tail: readonly EventEnvelope[] = []): EventLog {
    if (snapshot.docId !== options.docId) {
      throw new ConcordError('CORRUPT_SNAPSHOT', `snapshot is of ${snapshot.docId}, not ${options.docId}`)
    }
    const log = new EventLog(options, options.backend.load(snapshot.doc, options.replica), snapshot)
    for (const [actor, n] of Object.entries(snapshot.clock)) log.clock.set(actor as ReplicaId, n)
    for (const h of snapshot.heads) log.headSet.add(h)
    if (tail.length > 0) log.append(tail)
    return log
  }

  /** True when the event has applied here (directly or inside a snapshot). */
  has(id: EventId): boolean {
    if (this.byId.has(id)) return true
    const dot = id.lastIndexOf('.')
    return (this.clock.get(id.slice(0, dot) as ReplicaId) ?? 0) >= Number(id.slice(dot + 1))
  }

  /** Number of events `actor` has made that applied here. */
  seqOf(actor: ReplicaId): number {
    return this.clock.get(actor) ?? 0
  }

  heads(): EventId[] {
    // Usually one head (the last event): no sort needed.
    if (this.headSet.size === 1) return [this.headSet.values().next().value as EventId]
    return [...this.headSet].sort()
  }

  /** Applied events held in memory (those after the snapshot this log started from), in causal order. */
  events(): readonly EventEnvelope[] {
    return this.applied
  }

  get(id: EventId): EventEnvelope | undefined {
    return this.byId.get(id) ?? this.pendingById.get(id)
  }

  /** Events waiting for a dependency, and the dependencies they wait for. */
  pending(): { readonly events: readonly EventEnvelope[]; readonly missing: readonly EventId[] } {
    const events = [...this.pendingById.values()]
    const missing = new Set<EventId>()
    for (const e of events) for (const d of this.missingDeps(e)) if (!this.pendingById.has(d)) missing.add(d)
    return { events, missing: [...missing].sort() }
  }

  private missingDeps(e: EventEnvelope): EventId[] {
    const out = e.deps.filter((d) => !this.has(d))
    if (e.seq > 1) {
      const prev = eventIdOf(e.actor, e.seq - 1)
      if (!this.has(prev) && !out.includes(prev)) out.push(prev)
    }
    return out
  }

  /**
   * Records a local event whose change the caller has already applied to
   * `doc` (through `doc.change`). Its dependencies are this log's heads.
   */
  recordLocal(e: EventEnvelope): void {
    // An author's applied events are a prefix 1..n: seq <= n is one we have (has() without parsing the id).
    if (e.seq <= this.seqOf(e.actor)) throw new ConcordError('INVALID_EVENT', `local event ${e.id} already exists`)
    this.markApplied(e, true)
  }

  /**
   * `local`: the event's deps are this log's heads, so the author's previous
   * event, if still a head, is among them and needs no separate removal.
   */
  private markApplied(e: EventEnvelope, local = false): void {
    this.applied.push(e)
    this.byId.set(e.id, e)
    const before = this.clock.get(e.actor) ?? 0
    if (before < e.seq) this.clock.set(e.actor, e.seq)
    for (const d of e.deps) this.headSet.delete(d)
    // The author's previous event stops being a head (a local event usually names it in deps already).
    if (!local && e.seq > 1 && this.headSet.size > 0) this.headSet.delete(`${e.actor}.${e.seq - 1}` as EventId)
    this.headSet.add(e.id)
  }

  /** Appends remote (or stored) events: validates, dedupes, buffers, applies what is ready as one batch. */
  append(input: readonly EventEnvelope[]): AppendResult {
    const duplicates: EventId[] = []
    const rejected: { id: string; error: ConcordError }[] = []
    for (const raw of input) {
      let e: EventEnvelope
      try {
        e = validateEnvelope(raw)
        if (e.docId !== this.docId) throw new ConcordError('INVALID_EVENT', `event ${e.id} belongs to ${e.docId}, not ${this.docId}`)
        if (e.backend !== this.backend.name) {
          throw new ConcordError('BACKEND_MISMATCH', `event ${e.id} carries a ${e.backend} change; this document uses ${this.backend.name}`)
        }
      } catch (err) {
        if (!isConcordError(err)) throw err
        rejected.push({ id: String((raw as { id?: unknown }).id ?? '?'), error: err })
        continue
      }
      const known = this.byId.get(e.id) ?? this.pendingById.get(e.id)
      if (known !== undefined) {
        if (sameContent(known, e)) duplicates.push(e.id)
        else rejected.push({ id: e.id, error: new ConcordError('ID_CONFLICT', `event ${e.id} was already received with other content`, { eventId: e.id }) })
        continue
      }
      if (this.has(e.id)) {
        // Folded into the snapshot we started from: a re-send, recognised by id.
        duplicates.push(e.id)
        continue
      }
      this.pendingById.set(e.id, e)
    }

    const ready = this.drainReady()
    const applied = this.applyBatch(ready, rejected)
    return { applied, duplicates, pending: [...this.pendingById.keys()], rejected }
  }

  /** Takes every pending event whose dependencies are satisfied, in a causal order. */
  private drainReady(): EventEnvelope[] {
    const ready: EventEnvelope[] = []
    const willHave = new Set<EventId>()
    const satisfied = (d: EventId) => willHave.has(d) || this.has(d)
    let progress = true
    while (progress) {
      progress = false
      // HLC order first: it extends causal order, so usually one pass suffices.
      const candidates = [...this.pendingById.values()].sort((a, b) => compareHlc(a.hlc, b.hlc) || (a.id < b.id ? -1 : 1))
      for (const e of candidates) {
        const prevOk = e.seq === 1 || satisfied(eventIdOf(e.actor, e.seq - 1))
        if (prevOk && e.deps.every(satisfied)) {
          ready.push(e)
          willHave.add(e.id)
          this.pendingById.delete(e.id)
          progress = true
        }
      }
    }
    return ready
  }

  private applyBatch(ready: EventEnvelope[], rejected: { id: string; error: ConcordError }[]): EventEnvelope[] {
    if (ready.length === 0) return []
    try {
      this.doc.applyBatch(ready.map((e) => e.payload))
      for (const e of ready) this.markApplied(e)
      return ready
    } catch (err) {
      if (!isConcordError(err)) throw err
    }
    // Some payload is bad: apply one at a time (the rare path), refusing the
    // bad ones and everything that depends on them. A failure here is a typed
    // refusal of that event, never an exception out of append.
    const ok: EventEnvelope[] = []
    const bad = new Set<EventId>()
    for (const e of ready) {
      const dependsOnBad = e.deps.some((d) => bad.has(d)) || (e.seq > 1 && bad.has(eventIdOf(e.actor, e.seq - 1)))
      try {
        if (dependsOnBad) throw new ConcordError('INVALID_EVENT', `event ${e.id} depends on a refused event`)
        this.backend.validateUpdate(e.payload)
        this.doc.applyBatch([e.payload])
        this.markApplied(e)
        ok.push(e)
      } catch (err) {
        if (!isConcordError(err)) throw err
        bad.add(e.id)
        rejected.push({ id: e.id, error: err })
      }
    }
    return ok
  }

  snapshot(): LogSnapshot {
    return {
      docId: this.docId,
      doc: this.doc.save(),
      clock: Object.fromEntries([...this.clock].sort((a, b) => (a[0] < b[0] ? -1 : 1))),
      heads: this.heads(),
    }
  }

  /**
   * The events of a point in the past that this log holds one by one: of an
   * event (it and everything it depended on), of a time (every event stamped
   * at or before it), or of a version vector (every event it covers). With
   * `docOf` they rebuild the document as it was. A past that does not
   * contain every event folded into the base snapshot cannot be rebuilt
   * here: HISTORY_TRUNCATED (the relay's admin history reads it from the
   * store's older snapshots).
   */
  pastEvents(at: PastPoint): EventEnvelope[] {
    const base = this.base
    if ('event' in at && !this.byId.has(at.event) && this.has(at.event)) {
      throw new ConcordError('HISTORY_TRUNCATED', `${at.event} is folded into the snapshot this copy started from`, { event: at.event })
    }
    const past = 'clock' in at ? closure(this.applied, this.applied.filter((e) => covers(at.clock, e.id)).map((e) => e.id)) : eventsUpTo(this.applied, at)
    if (base === undefined || base.heads.length === 0) return past
    const complete = 'clock' in at
      ? Object.entries(base.clock).every(([actor, n]) => n === 0 || covers(at.clock, eventIdOf(actor as ReplicaId, n)))
      : base.heads.every((h) => past.some((e) => e.deps.includes(h) || (e.seq > 1 && eventIdOf(e.actor, e.seq - 1) === h)))
    if (!complete) {
      throw new ConcordError('HISTORY_TRUNCATED', 'that point lies before the snapshot this copy started from, or beside it', { clock: base.clock })
    }
    return past
  }

  /** A new document holding the base snapshot (if any) and then `past` (from pastEvents). */
  docOf(replica: ReplicaId, past: readonly EventEnvelope[]): CrdtDoc {
    const doc = this.base === undefined ? this.backend.create(replica) : this.backend.load(this.base.doc, replica)
    if (past.length > 0) doc.applyBatch(past.map((e) => e.payload))
    return doc
  }

  /** The version vector of applied events. */
  versionVector(): ReadonlyMap<ReplicaId, number> {
    return this.clock
  }
}

/**
 * Rebuilds a document from events alone: the state "as it was" after the
 * given events. Events must be causally closed (every dependency included);
 * `eventsUpTo` selects such a set.
 */
export function replay(backend: CrdtBackend, replica: ReplicaId, events: readonly EventEnvelope[]): CrdtDoc {
  const doc = backend.create(replica)
  if (events.length > 0) doc.applyBatch(events.map((e) => e.payload))
  return doc
}

/**
 * The causal past of a point in history: of an event (it and everything it
 * depended on), or of a time (every event stamped at or before it; a set
 * that is causally closed because an event's HLC exceeds its dependencies').
 */
export function eventsUpTo(events: readonly EventEnvelope[], until: { readonly event: EventId } | { readonly hlc: string }): EventEnvelope[] {
  if ('hlc' in until) return events.filter((e) => e.hlc <= until.hlc)
  if (!events.some((e) => e.id === until.event)) throw new ConcordError('UNKNOWN_EVENT', `no event ${until.event} in this history`)
  return closure(events, [until.event])
}

/** A point in the past, for EventLog.pastEvents. */
export type PastPoint = { readonly event: EventId } | { readonly hlc: string } | { readonly clock: Readonly<Record<string, number>> }

/** `from` and everything they depended on, among `events`, in the order of `events`. */
function closure(events: readonly EventEnvelope[], from: readonly EventId[]): EventEnvelope[] {
  const byId = new Map(events.map((e) => [e.id, e]))
  const keep = new Set<EventId>()
  const stack: EventId[] = [...from]
  while (stack.length > 0) {
    const id = stack.pop()!
    if (keep.has(id)) continue
    const e = byId.get(id)
    if (e === undefined) continue
    keep.add(id)
    stack.push(...e.deps)
    if (e.seq > 1) stack.push(eventIdOf(e.actor, e.seq - 1))
  }
  return events.filter((e) => keep.has(e.id))
}
