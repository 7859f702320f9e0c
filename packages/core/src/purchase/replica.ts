/**
 * One device's copy of one purchase: the CRDT document, its event log, a
 * hybrid logical clock, and the intent-level commands. Every command reads
 * the merged state, validates its input, checks that the state it would
 * produce raises no new conflict, and only then writes one event. So a
 * single replica never produces an invalid order; only merges can, and
 * those land in the conflict queue.
 *
 * Nondeterminism comes in through options: the wall clock, the id factory
 * (ULIDs for lines and records). Nothing here does I/O or keeps timers.
 */
import type { CrdtBackend, DocSnapshot, DocWriteOp, DocWriter } from '../backends/backend.js'
import { overlaySnapshot } from '../backends/overlay.js'
import { yjsBackend } from '../backends/yjs.js'
import { ConcordError, fail, isConcordError } from '../errors.js'
import {
  type ConflictId, type EventId, type LineId, type PurchaseId, type RecordId, type ReplicaId,
  eventIdOf, parseLineId, parseRecordId,
} from '../ids.js'
import type { Json } from '../json.js'
import { type MinorString, majorToMinor, minorToString, parseMinor } from '../money/amount.js'
import { type CurrencyCode, currencyExponent, parseCurrencyCode } from '../money/currency.js'
import { type Decimal, compareDecimal, subDecimal } from '../money/decimal.js'
import type { RoundingPolicy } from '../money/rounding.js'
import { HybridLogicalClock } from '../time/hlc.js'
import { type IsoDate, businessDateOf, instantFromEpochMs, parseIsoDate, parseTimeZone } from '../time/dates.js'
import { type AppendResult, EventLog, type LogSnapshot } from '../log/event-log.js'
import type { EventEnvelope, Priority } from '../log/envelope.js'
import { clockToRecord } from '../conflicts/causality.js'
import { detectViolations } from '../conflicts/detect.js'
import { optionSpec } from '../conflicts/registry.js'
import type { ResolveContext } from '../conflicts/spec.js'
import type { Conflict } from '../conflicts/types.js'
import type { PurchaseDerived } from './derive.js'
import * as input from './inputs.js'
import { allowedActions, nextState } from './lifecycle.js'
import {
  type GuardedField, type HeaderField, type LineKind, type PurchaseSettings, type PurchaseState, type Stamp,
  type TaxMode, type TaxSnapshot, type TransitionAction, type VoidableSet, HEADER_FIELDS, keys,
} from './model.js'
import { hasPurchase, lwwValue, readPurchase } from './read.js'
import { type AuditEntry, auditTrailFrom } from './audit.js'
import { keyBetween } from './sort-key.js'
import { measureInput } from './event-size.js'
import { recordWrites, replayWrites } from './writes.js'
import { reissueWrites } from './reissue.js'
import { checkWrite, effectOfWrites } from './inspect.js'
import { type EventKind, isEventKind, priorityOf, voidKindOf } from './event-kinds.js'
import { StagedTransaction } from './transaction.js'
import { PurchaseView } from './view.js'
import { type Right, RIGHTS } from '../protocol/native.js'

export interface ReplicaOptions {
  readonly docId: PurchaseId
  /** This device's replica id: unique per device and store. */
  readonly replica: ReplicaId
  /** CRDT backend; Yjs by default. */
  readonly backend?: CrdtBackend
  /** Wall clock in epoch milliseconds (`Date.now` in production); only stamps and HLC physical time use it. */
  readonly now: () => number
  /** Makes ULIDs for lines and records. */
  readonly newId: () => string
  /**
   * The acting user, as the token names them (the relay refuses stamps that
   * name anyone else). A function when it is learnt later: the client takes
   * the subject the relay's welcome names.
   */
  readonly user?: string | (() => string)
  /** The device, as it names itself. */
  readonly device?: string
  /**
   * The most bytes a command's input may put into one event (the relay's
   * frame limit, as the client last heard it; a function because it becomes
   * known only once connected). Over it, the command is refused with
   * EVENT_TOO_LARGE before anything is applied. Undefined: no limit.
   */
  readonly maxEventBytes?: () => number | undefined
  /**
   * Hold every own change to the rules the relay applies before it is made
   * (a command that would write what the schema refuses throws
   * SCHEMA_VIOLATION and changes nothing). The client turns it on.
   */
  readonly checkWrites?: boolean
}

export interface CreatePurchaseInput {
  readonly currency: string
  /** Needed only for a currency not in the ISO table. */
  readonly currencyExponent?: number
  readonly rounding?: RoundingPolicy
  readonly taxMode?: TaxMode
  readonly timeZone?: string
  /** In major units ("1000.00"); orders above it need approval. */
  readonly approvalThreshold?: string | null
  /** Percent of extra quantity a receipt may bring without a conflict. */
  readonly receiptTolerance?: string
  readonly supplier?: string
}

export interface LineInput {
  readonly kind?: LineKind
  readonly product: string
  readonly description?: string
  readonly qty: string
  readonly price: string
  readonly discount?: string
  readonly uom?: string
  readonly taxes?: readonly { readonly code: string; readonly name?: string; readonly rate: string }[]
  /** Insert after this line (default: at the end). */
  readonly after?: LineId
}

export type LinePatch = Partial<Pick<LineInput, 'product' | 'description' | 'qty' | 'price' | 'discount' | 'uom'>>

/** Where a change came from: nothing is echoed back or stored twice. */
export type ChangeOrigin = 'local' | 'remote'
export type ChangeListener = (change: { readonly origin: ChangeOrigin; readonly events: readonly EventEnvelope[] }) => void


/** A device checking its own changes holds every right: what it may do is the relay's to decide. */
const ALL_RIGHTS: ReadonlySet<Right> = new Set(RIGHTS)

const EDITABLE: ReadonlySet<string> = new Set(['draft', 'sent', 'toApprove', 'confirmed'])
const RECEIVABLE: ReadonlySet<string> = new Set(['confirmed', 'locked'])
const BILLABLE: ReadonlySet<string> = new Set(['confirmed', 'locked', 'closed'])

function refuse(message: string, details: Record<string, unknown> = {}): never {
  fail('COMMAND_REFUSED', message, details)
}

export class PurchaseReplica {
  readonly log: EventLog
  readonly docId: PurchaseId
  readonly replica: ReplicaId
  private readonly hlc: HybridLogicalClock
  private readonly now: () => number
  private readonly newId: () => string
  private readonly userOf: () => string
  private readonly device: string
  private readonly maxEventBytes: () => number | undefined
  private readonly checkWrites: boolean
  private readonly listeners = new Set<ChangeListener>()
  /** Sequence numbers handed out by prepareImport and not yet applied, per importing actor. */
  private readonly reserved = new Map<ReplicaId, number>()
  private cache: PurchaseView | undefined
  /** The open multi-command transaction, if any (see `transaction`). */
  private staging: StagedTransaction | undefined

  private constructor(options: ReplicaOptions, log: EventLog) {
    this.log = log
    this.docId = options.docId
    this.replica = options.replica
    this.now = options.now
    this.newId = options.newId
    const user = options.user ?? ''
    this.userOf = typeof user === 'function' ? user : () => user
    this.device = options.device ?? ''
    this.maxEventBytes = options.maxEventBytes ?? (() => undefined)
    this.checkWrites = options.checkWrites ?? false
    this.hlc = new HybridLogicalClock(options.replica, this.now)
    for (const e of log.events()) this.hlc.receive(e.hlc)
  }

  private static logOptions(o: ReplicaOptions) {
    return { backend: o.backend ?? yjsBackend, docId: o.docId, replica: o.replica }
  }

  /** An empty replica, to receive a purchase someone else created. */
  static empty(options: ReplicaOptions): PurchaseReplica {
    return new PurchaseReplica(options, EventLog.create(PurchaseReplica.logOptions(options)))
  }

  /** Creates a new purchase: its first event sets what is frozen for the order's life. */
  static create(options: ReplicaOptions, init: CreatePurchaseInput): PurchaseReplica {
    const r = PurchaseReplica.empty(options)
    r.createPurchase(init)
    return r
  }

  /** Rebuilds a replica from stored events (any order; the log sorts out causality). */
  static fromEvents(options: ReplicaOptions, events: readonly EventEnvelope[]): PurchaseReplica {
    const r = PurchaseReplica.empty(options)
    if (events.length > 0) r.receive(events)
    return r
  }

  /** Rebuilds a replica from a snapshot plus the events after it. */
  static fromSnapshot(options: ReplicaOptions, snapshot: LogSnapshot, tail: readonly EventEnvelope[] = []): PurchaseReplica {
    const log = EventLog.restore(PurchaseReplica.logOptions(options), snapshot)
    const r = new PurchaseReplica(options, log)
    if (tail.length > 0) r.receive(tail)
    return r
  }

  // ------------------------------------------------------------------ reading

  /** False until the creating event has arrived. */
  get exists(): boolean {
    return hasPurchase(this.staging?.snapshot() ?? this.log.doc.read())
  }

  private view(): PurchaseView {
    // Inside a transaction, commands see what the earlier ones wrote.
    const snapshot = this.staging?.snapshot() ?? this.log.doc.read()
    // Built from the previous view: only what the last changes touched is recomputed.
    if (this.cache?.snapshot !== snapshot) this.cache = PurchaseView.of(snapshot, this.cache)
    return this.cache
  }

  state(): PurchaseState {
    return this.view().state
  }

  derived(): PurchaseDerived {
    return this.view().derived
  }

  /** The open conflict queue, sorted by id: the same on every replica that has the same events. */
  conflicts(): Conflict[] {
    return this.view().conflicts()
  }

  /** Lifecycle actions that may be taken now (for menus). */
  allowedActions(): TransitionAction[] {
    return allowedActions(this.derived().lifecycle.state)
  }

  /**
   * The purchase as it was: after an event (and everything it depended on),
   * or at a moment (every event stamped at or before an HLC). Rebuilt from the
   * events this replica holds, after the snapshot it started from if any: a
   * point before that snapshot is HISTORY_TRUNCATED.
   */
  stateAt(at: { readonly event: EventId } | { readonly hlc: string }): PurchaseState {
    const past = this.log.pastEvents(at)
    // A backend with its own history (Automerge's view by heads) answers without a replay.
    const doc = (this.log.base === undefined ? this.log.doc.viewAt?.(past.map((e) => e.payload)) : undefined) ?? this.log.docOf(`${this.replica}-h` as ReplicaId, past)
    try {
      return readPurchase(doc.read())
    } finally {
      doc.destroy()
    }
  }

  /**
   * Who changed which field, when, from which device: one entry per event,
   * oldest first. On a replica opened from a snapshot, the entries start
   * after it (`historyBase` says which events it folds).
   */
  history(): AuditEntry[] {
    const doc = this.log.docOf('audit' as ReplicaId, [])
    try {
      return auditTrailFrom(doc, this.log.events())
    } finally {
      doc.destroy()
    }
  }

  /** The events folded into the snapshot this replica started from (per author, how many), which `history` does not list; undefined when it holds every event. */
  get historyBase(): Readonly<Record<string, number>> | undefined {
    const clock = this.log.base?.clock
    return clock === undefined || Object.keys(clock).length === 0 ? undefined : clock
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  // ---------------------------------------------------------------- receiving

  /** Applies remote or stored events; what becomes ready applies as one batch. */
  receive(events: readonly EventEnvelope[]): AppendResult {
    if (this.staging !== undefined) fail('INVALID_ARGUMENT', 'cannot apply remote events inside a transaction: its commands read the state it opened on')
    const result = this.log.append(events)
    for (const e of result.applied) this.hlc.receive(e.hlc)
    if (result.applied.length > 0) for (const l of this.listeners) l({ origin: 'remote', events: result.applied })
    return result
  }

  /**
   * Receives events from a relay, each held to the purchase schema first:
   * an older relay may have stored what this one would refuse. The relay's
   * store is what every device converges on, so such an event still
   * applies (its invalid values read as absent); it is returned in
   * `violations`, naming the rule and key, for the person to be told.
   * Events are checked one at a time, each against a document holding the
   * ones before it; one whose dependencies are not here yet is parked
   * unchecked, as `receive` parks it (a relay sends a document's events in
   * order).
   */
  receiveChecked(events: readonly EventEnvelope[]): AppendResult & { readonly violations: readonly { readonly id: EventId; readonly error: ConcordError }[] } {
    const backend = this.log.backend
    const violations: { id: EventId; error: ConcordError }[] = []
    if (backend.inspectUpdate === undefined) return { ...this.receive(events), violations }
    const applied: EventEnvelope[] = []
    const duplicates: EventId[] = []
    const pending: EventId[] = []
    const rejected: { id: string; error: ConcordError }[] = []
    const here = (id: EventId) => this.log.has(id)
    for (const e of events) {
      const ready = !here(e.id) && this.log.get(e.id) === undefined && e.deps.every(here) && (e.seq <= 1 || here(eventIdOf(e.actor, e.seq - 1)))
      if (ready) {
        const doc = this.log.doc
        const snapshot = doc.read()
        const raw = e.kind === 'yjs.update'
        let why: ConcordError | undefined
        try {
          const refusal = checkWrite(backend.inspectUpdate(doc, e.payload), {
            docId: this.docId, backend: backend.name, snapshot,
            textLength: (key) => doc.textLength?.(key) ?? snapshot.texts.get(key)?.length ?? 0,
            event: e, raw, ...(raw ? {} : { authorId: backend.authorOf?.(e.actor) ?? '' }), now: this.now(), genericRooms: true,
          })
          if (refusal !== undefined) why = new ConcordError('SCHEMA_VIOLATION', `${e.id} breaks the purchase schema (${refusal.rule}): ${refusal.message}`, { rule: refusal.rule, key: refusal.key })
        } catch (err) {
          // Undecodable: receive refuses it below with the same error.
          if (!isConcordError(err)) throw err
        }
        if (why !== undefined) violations.push({ id: e.id, error: why })
      }
      const r = this.receive([e])
      applied.push(...r.applied)
      duplicates.push(...r.duplicates)
      pending.push(...r.pending)
      rejected.push(...r.rejected)
    }
    return { applied, duplicates, pending, rejected, violations }
  }

  /**
   * Wraps a raw backend update (a y-websocket client's Yjs update) into an
   * event made by `actor`, without applying it: the relay stores the event
   * first, and applies and broadcasts it (with `receive`) only once it is
   * durable. Sequence numbers are reserved per actor, so several imports
   * may be in flight; `actor` must differ from this replica's own id, whose
   * commands apply immediately.
   */
  prepareImport(payload: Uint8Array, actor: ReplicaId, meta: { readonly user?: string; readonly device?: string } = {}): EventEnvelope {
    if (actor === this.replica) fail('INVALID_ARGUMENT', 'imports need an actor other than the replica itself')
    this.log.backend.validateUpdate(payload)
    const seq = Math.max(this.log.seqOf(actor), this.reserved.get(actor) ?? 0) + 1
    this.reserved.set(actor, seq)
    const id = eventIdOf(actor, seq)
    const hlc = this.hlc.tick()
    return {
      id, docId: this.docId, actor, seq, hlc, deps: this.log.heads(), kind: 'yjs.update', backend: this.log.backend.name, payload,
      meta: { at: instantFromEpochMs(this.now()), ...(meta.user ? { user: meta.user } : {}), ...(meta.device ? { device: meta.device } : {}), priority: 'normal' },
    }
  }

  /** Forgets reservations (after a failed store write the caller reloads from the store). */
  dropReservations(): void {
    this.reserved.clear()
  }

  // ----------------------------------------------------------------- writing

  private stamp(id: EventId): Stamp {
    return { ev: id, hlc: this.hlc.tick(), by: this.userOf(), dev: this.device, at: instantFromEpochMs(this.now()) }
  }

  /**
   * Writes one event. `check` runs the invariant registry on the state the
   * change would produce and refuses it if it raises a conflict that was not
   * already open on that subject.
   */
  private commit(kind: EventKind, write: (w: DocWriter, s: Stamp) => void, { check = true, causal = true, restate = false } = {}): EventEnvelope {
    if (this.staging !== undefined) return this.stage(kind, write, { check, causal, restate })
    const seq = this.log.seqOf(this.replica) + 1
    const id = eventIdOf(this.replica, seq)
    const stamp = this.stamp(id)
    // Text-only events skip the document clock: nothing asks whether a text edit was seen.
    // The command's writes, recorded once: measured, checked, then replayed into the overlay and the document.
    const own = recordWrites((w) => write(w, stamp))
    const ops = [...own, ...(restate ? this.restatement(own, stamp) : []), ...(causal ? [{ k: 'tick', replica: this.replica, seq } as const] : [])]
    const full = (w: DocWriter) => replayWrites(w, ops)
    this.checkSize(kind, ops)
    this.checkOwnWrites(kind, seq, stamp, ops)
    if (check) this.checkInvariants(full)
    return this.recordLocal(kind, seq, stamp, this.log.doc.change(full), priorityOf(kind))
  }

  /**
   * With `checkWrites`, a change is held to the rules the relay applies
   * (purchase/inspect.ts) before anything is applied: a command that would
   * write what the schema refuses is a bug, caught on the device.
   */
  private checkOwnWrites(kind: EventKind, seq: number, stamp: Stamp, ops: readonly DocWriteOp[]): void {
    if (!this.checkWrites) return
    const doc = this.log.doc
    const snapshot = doc.read()
    const authorId = this.log.backend.authorOf?.(this.replica) ?? ''
    const refusal = checkWrite(effectOfWrites(ops, snapshot, authorId), {
      docId: this.docId, backend: this.log.backend.name, snapshot,
      textLength: (key) => doc.textLength?.(key) ?? snapshot.texts.get(key)?.length ?? 0,
      event: { id: stamp.ev, actor: this.replica, seq, hlc: stamp.hlc, kind },
      raw: false, author: { subject: stamp.by, device: this.device, rights: ALL_RIGHTS }, authorId, now: this.now(),
    })
    if (refusal !== undefined) {
      fail('SCHEMA_VIOLATION', `this change breaks the purchase schema, so it was not made (${refusal.rule}): ${refusal.message}`, { rule: refusal.rule, key: refusal.key })
    }
  }

  /** Refuses, before anything is applied, a change whose input alone exceeds the relay's limit (maxEventBytes). */
  private checkSize(kind: EventKind, ops: readonly DocWriteOp[]): void {
    const limit = this.maxEventBytes()
    if (limit === undefined) return
    const size = measureInput(ops)
    if (size.bytes > limit) {
      fail('EVENT_TOO_LARGE', `this change holds ${size.bytes} bytes (most in ${size.field}); the relay accepts at most ${limit} per change`, { field: size.field, bytes: size.bytes, limit, kind })
    }
  }

  /** Wraps a change already applied to the document as this replica's next event. */
  private recordLocal(kind: EventKind, seq: number, stamp: Stamp, payload: Uint8Array, priority: Priority): EventEnvelope {
    // Built in place rather than by spreading (this runs per keystroke); same key order as before.
    const meta: { at: Stamp['at']; user?: string; device?: string; priority?: Priority } = { at: stamp.at }
    const user = this.userOf()
    if (user) meta.user = user
    if (this.device) meta.device = this.device
    meta.priority = priority
    const e: EventEnvelope = {
      id: stamp.ev, docId: this.docId, actor: this.replica, seq, hlc: stamp.hlc, deps: this.log.heads(), kind,
      backend: this.log.backend.name, payload, meta,
    }
    this.log.recordLocal(e)
    for (const l of this.listeners) l({ origin: 'local', events: [e] })
    return e
  }

  // ------------------------------------------------------------ transactions

  /**
   * Writes again, as one event of this replica, what the `dropped` events did
   * in `from` (a snapshot of a document that held them; this replica holds
   * the same events but those): see reissue.ts. Undefined when they did
   * nothing that is still visible. Not checked against the invariants: the
   * change was made once already, and what it raises goes to the queue.
   */
  reissue(from: DocSnapshot, dropped: ReadonlySet<EventId>, kinds: readonly string[]): EventEnvelope | undefined {
    const base = this.log.doc.read()
    const probe = recordWrites((w) => reissueWrites(from, base, dropped, w, this.stamp(eventIdOf(this.replica, this.log.seqOf(this.replica) + 1))))
    if (probe.length === 0) return undefined
    // The label must say what the writes do: a resolution only under conflict.resolve, anything else under transaction.
    const only = kinds.length === 1 ? kinds[0]! : undefined
    const kind: EventKind = only !== undefined && isEventKind(only) && only !== 'yjs.update' ? only : kinds.includes('conflict.resolve') ? 'conflict.resolve' : 'transaction'
    return this.commit(kind, (w, s) => reissueWrites(from, base, dropped, w, s), { check: false })
  }

  /**
   * Runs several commands as one event: one backend update, all or nothing.
   * Each command validates against the state the earlier ones produce; the
   * invariant registry runs once, on the combined result. If `fn` throws,
   * nothing is written and the error propagates; a command whose error `fn`
   * catches leaves no trace and the others go on. Nested calls join the
   * open transaction. Returns the event, or undefined when no command ran.
   * (Typing bursts, a form saving several fields.) `fn` is synchronous;
   * inside it, commands return a preview of the coming event (its id, seq,
   * hlc and kind; no payload or deps yet).
   */
  transaction(fn: () => void): EventEnvelope | undefined {
    if (this.staging !== undefined) {
      fn()
      return undefined
    }
    const seq = this.log.seqOf(this.replica) + 1
    const doc = this.log.doc
    const t = new StagedTransaction(
      doc.read(),
      (key) => doc.textLength?.(key) ?? doc.read().texts.get(key)?.length ?? 0,
      this.stamp(eventIdOf(this.replica, seq)),
      seq,
    )
    this.staging = t
    try {
      fn()
    } finally {
      this.staging = undefined
    }
    if (t.empty) return undefined
    const ops = recordWrites((w) => {
      t.replay(w)
      if (t.causal) w.tickClock(this.replica, seq)
    })
    const full = (w: DocWriter) => replayWrites(w, ops)
    const kinds = new Set(t.kinds)
    const kind = kinds.size === 1 ? t.kinds[0]! : 'transaction'
    this.checkSize(kind, ops)
    this.checkOwnWrites(kind, seq, t.stamp, ops)
    if (t.check) this.checkInvariants(full)
    return this.recordLocal(kind, seq, t.stamp, doc.change(full), t.priority)
  }

  /** Inside a transaction: records the command's writes instead of changing the document. */
  private stage(kind: EventKind, write: (w: DocWriter, s: Stamp) => void, opts: { check: boolean; causal: boolean; restate: boolean }): EventEnvelope {
    const t = this.staging!
    t.add(kind, priorityOf(kind), (w) => {
      const own = recordWrites((r) => write(r, t.stamp))
      replayWrites(w, opts.restate ? [...own, ...this.restatement(own, t.stamp)] : own)
    }, opts)
    // The event does not exist yet: callers inside a transaction get a placeholder of the one to come.
    return {
      id: t.stamp.ev, docId: this.docId, actor: this.replica, seq: t.seq, hlc: t.stamp.hlc, deps: [], kind,
      backend: this.log.backend.name, payload: new Uint8Array(0), meta: { at: t.stamp.at, priority: priorityOf(kind) },
    }
  }

  private checkInvariants(write: (w: DocWriter) => void): void {
    const before = this.view()
    const openBefore = new Set(this.conflicts().map((c) => `${c.kind}|${c.subject}`))
    // The state the change would produce, as a view built from the current one (the overlay says what it touched).
    const after = PurchaseView.of(overlaySnapshot(before.snapshot, write), before)
    const raised = after.conflicts().filter((c) => !openBefore.has(`${c.kind}|${c.subject}`))
    if (raised.length > 0) {
      const c = raised[0]!
      refuse(`this change would break an invariant (${c.kind} on ${c.subject}: ${Object.entries(c.facts).map(([k, v]) => `${k} ${v}`).join(', ')})`, {
        conflict: c.kind,
        subject: c.subject,
      })
    }
  }

  private entry(value: Json, s: Stamp) {
    return { value, ev: s.ev, hlc: s.hlc, ...(s.by ? { by: s.by } : {}), ...(s.dev ? { dev: s.dev } : {}) }
  }

  private clockRecord() {
    return clockToRecord(this.log.doc.read().clock)
  }

  private requireState(allowed: ReadonlySet<string>, what: string): void {
    const state = this.derived().lifecycle.state
    if (!allowed.has(state)) refuse(`cannot ${what} while the order is ${state}`, { state })
  }

  private requireNotBlocked(subjects: readonly string[], what: string): void {
    const blocking = this.conflicts().find((c) => c.severity === 'BLOCKING' && !c.deferred && subjects.includes(c.subject))
    if (blocking !== undefined) {
      fail('BLOCKED_BY_CONFLICT', `cannot ${what}: conflict ${blocking.kind} on ${blocking.subject} must be resolved first`, { conflict: blocking.id })
    }
  }

  private line(id: LineId, { live = true } = {}) {
    const l = this.state().lines.find((x) => x.id === id)
    if (l === undefined) fail('NOT_FOUND', `no line ${id}`)
    if (live && l.removed) refuse(`line ${id} was removed`)
    return l
  }

  private currency(): CurrencyCode {
    const c = this.state().currency.values
    if (c.length !== 1) refuse('the currency has concurrent values: resolve that conflict first')
    return c[0]!
  }

  /**
   * The write that restates the stated total when the recorded change alters
   * the total, so one device never contradicts itself; none when it does not.
   */
  private restatement(ops: readonly DocWriteOp[], s: Stamp): DocWriteOp[] {
    const st = this.state().statedTotal
    if (st.values.length === 0) return []
    const total = PurchaseView.of(overlaySnapshot(this.view().snapshot, (w) => replayWrites(w, ops)), this.view()).derived.totals.total
    if (st.values.length === 1 && parseMinor(st.values[0]) === total) return []
    return [{ k: 'reg', key: keys.guarded('statedTotal'), entry: this.entry(minorToString(total), s) }]
  }

  private createPurchase(init: CreatePurchaseInput): EventEnvelope {
    if (this.exists) refuse('this purchase already exists')
    const code = input.field('currency', () => parseCurrencyCode(init.currency))
    const exponent = input.field('currencyExponent', () => currencyExponent(code, init.currencyExponent))
    const rounding = init.rounding ?? { mode: 'HALF_UP', tax: 'PER_LINE' }
    if (!['HALF_UP', 'HALF_EVEN'].includes(rounding.mode) || !['PER_LINE', 'GLOBAL'].includes(rounding.tax)) {
      fail('INVALID_ARGUMENT', 'rounding must be { mode: HALF_UP | HALF_EVEN, tax: PER_LINE | GLOBAL }', { field: 'rounding' })
    }
    const taxMode = init.taxMode ?? 'EXCLUSIVE'
    if (taxMode !== 'EXCLUSIVE' && taxMode !== 'INCLUSIVE') fail('INVALID_ARGUMENT', 'taxMode must be EXCLUSIVE or INCLUSIVE', { field: 'taxMode' })
    const threshold = init.approvalThreshold == null ? null : input.field('approvalThreshold', () => minorToString(majorToMinor(init.approvalThreshold!, exponent)))
    const settings: PurchaseSettings = {
      id: this.docId,
      backend: this.log.backend.name,
      currencyExponent: exponent,
      rounding: { mode: rounding.mode, tax: rounding.tax },
      taxMode,
      timeZone: input.field('timeZone', () => parseTimeZone(init.timeZone ?? 'UTC')),
      approvalThreshold: threshold,
      receiptTolerance: input.percent('receiptTolerance', init.receiptTolerance ?? '0'),
      createdAt: instantFromEpochMs(this.now()),
      createdBy: this.userOf(),
    }
    const supplier = init.supplier === undefined ? undefined : input.text('supplier', init.supplier, { required: true })
    return this.commit('purchase.create', (w, s) => {
      w.init('settings', settings as unknown as Json)
      w.setRegister(keys.guarded('currency'), this.entry(code, s))
      if (supplier !== undefined) w.setRegister(keys.guarded('supplier'), this.entry(supplier, s))
      w.setRegister(keys.header('orderDate'), this.entry(businessDateOf(s.at, settings.timeZone), s))
      w.insertText(keys.notes, 0, '')
    }, { check: false })
  }

  // ------------------------------------------------------------------ header

  setGuarded(field: Exclude<GuardedField, 'statedTotal' | 'currency'>, value: string): EventEnvelope {
    const v = field === 'supplier' ? input.text('supplier', value, { required: true }) : input.rate('fxRate', value)
    this.requireState(EDITABLE, `change the ${field}`)
    return this.commit(`header.${field}`, (w, s) => w.setRegister(keys.guarded(field), this.entry(v, s)))
  }

  setSupplier(name: string): EventEnvelope {
    return this.setGuarded('supplier', name)
  }

  setFxRate(rate: string): EventEnvelope {
    return this.setGuarded('fxRate', rate)
  }

  /** Switches the currency; only with no live lines, and only to one with the same exponent. */
  setCurrency(code: string): EventEnvelope {
    const c = input.field('currency', () => parseCurrencyCode(code))
    const exp = this.state().settings.currencyExponent
    input.field('currency', () => currencyExponent(c, exp))
    this.requireState(new Set(['draft']), 'change the currency')
    if (this.state().lines.some((l) => !l.removed)) refuse('remove the lines before changing the currency: their prices are in the old one')
    return this.commit('header.currency', (w, s) => w.setRegister(keys.guarded('currency'), this.entry(c, s)))
  }

  /**
   * Records the total the order commits to (the amount on the order sent, a
   * supplier's acknowledgement). It must equal the computed total; later
   * line changes on this device restate it. `null` withdraws it.
   */
  setStatedTotal(amount: string | null): EventEnvelope {
    const exp = this.state().settings.currencyExponent
    const minor = amount === null ? null : input.field('statedTotal', () => majorToMinor(amount, exp))
    if (minor !== null && minor !== this.derived().totals.total) {
      refuse(`the stated total must equal the computed total (${minorToString(this.derived().totals.total)} minor units)`, { field: 'statedTotal' })
    }
    return this.commit('header.statedTotal', (w, s) => w.setRegister(keys.guarded('statedTotal'), this.entry(minor === null ? null : minorToString(minor), s)))
  }

  setHeader(field: HeaderField, value: string | null): EventEnvelope {
    if (!HEADER_FIELDS.includes(field)) fail('INVALID_ARGUMENT', `unknown header field ${String(field)}`, { field })
    const v = field === 'orderDate' || field === 'requiredBy'
      ? value === null ? null : input.field(field, () => parseIsoDate(value))
      : input.text(field, value ?? '')
    this.requireState(EDITABLE, `change ${field}`)
    return this.commit(`header.${field}`, (w, s) => w.setRegister(keys.header(field), this.entry(v, s)))
  }

  setHold(on: boolean, reason = ''): EventEnvelope {
    const r = input.text('reason', reason)
    return this.commit('lifecycle.hold', (w, s) => w.setRegister(keys.hold, this.entry({ on, reason: r }, s)), { check: false })
  }

  /** Edits the notes (collaborative text): delete `remove` characters at `index`, then insert `insert`. */
  editNotes(index: number, remove: number, insert = ''): EventEnvelope {
    const doc = this.log.doc
    const len = this.staging?.textLength(keys.notes) ?? doc.textLength?.(keys.notes) ?? doc.read().texts.get(keys.notes)?.length ?? 0
    if (!Number.isInteger(index) || index < 0 || index > len) fail('INVALID_ARGUMENT', `notes index ${index} is outside 0..${len}`, { field: 'index' })
    if (!Number.isInteger(remove) || remove < 0 || index + remove > len) fail('INVALID_ARGUMENT', `cannot delete ${remove} characters at ${index}`, { field: 'remove' })
    if (typeof insert !== 'string' || insert.length > 100_000) fail('INVALID_ARGUMENT', 'notes insert must be a string under 100k characters', { field: 'insert' })
    return this.commit('notes.edit', (w) => {
      if (remove > 0) w.deleteText(keys.notes, index, remove)
      if (insert !== '') w.insertText(keys.notes, index, insert)
    }, { check: false, causal: false })
  }

  /** Assigns the human order number (the relay does this on first sync). */
  assignNumber(number: string): EventEnvelope {
    if (!/^PO-\d{4}-\d{5,}$/.test(number)) fail('INVALID_ARGUMENT', `order number must look like PO-2026-00042, got ${number}`, { field: 'number' })
    if (this.state().number !== null) refuse(`the order already has number ${this.state().number}`)
    return this.commit('purchase.number', (w, s) => w.setRegister(keys.number, this.entry(number, s)), { check: false })
  }

  // ------------------------------------------------------------------- lines

  addLine(line: LineInput): { event: EventEnvelope; lineId: LineId } {
    const kind = line.kind ?? 'goods'
    if (kind !== 'goods' && kind !== 'service') fail('INVALID_ARGUMENT', 'line kind must be goods or service', { field: 'kind' })
    const product = input.text('product', line.product, { required: true })
    const description = input.text('description', line.description ?? '', { max: 2000 })
    const qty = input.quantity('qty', line.qty)
    const price = input.unitPrice('price', line.price)
    const discount = input.percent('discount', line.discount ?? '0')
    const uom = input.text('uom', line.uom ?? 'unit', { max: 20 })
    const taxes = (line.taxes ?? []).map((t, i) => this.taxInput(t, i))
    this.requireState(EDITABLE, 'add a line')
    const currency = this.currency()
    const live = this.state().lines
    let sortKey: string
    if (line.after !== undefined) {
      const i = live.findIndex((l) => l.id === line.after)
      if (i < 0) fail('NOT_FOUND', `no line ${line.after}`)
      sortKey = keyBetween(live[i]!.sortKey, live[i + 1]?.sortKey ?? null)
    } else sortKey = keyBetween(live[live.length - 1]?.sortKey ?? null, null)
    const id = parseLineId(this.newId())
    const vv = this.clockRecord()
    const write = (w: DocWriter, s: Stamp) => {
      w.addRecord('lines', id, { id, kind, vv, ...s } as unknown as Json)
      const set = (f: Parameters<typeof keys.line>[1], v: Json) => w.setRegister(keys.line(id, f), this.entry(v, s))
      set('product', product)
      if (description !== '') set('description', description)
      set('qty', qty)
      set('price', { amount: price, currency })
      if (discount !== '0') set('discount', discount)
      if (uom !== 'unit') set('uom', uom)
      set('sortKey', sortKey)
      for (const t of taxes) w.setRegister(keys.tax(id, t.code), this.entry({ on: true, ...t }, s))
    }
    const event = this.commit('line.add', write, { restate: true })
    return { event, lineId: id }
  }

  private taxInput(t: { code: string; name?: string; rate: string }, i: number): TaxSnapshot {
    const code = input.text(`taxes[${i}].code`, t.code, { required: true, max: 20 })
    if (!/^[A-Za-z0-9_-]+$/.test(code)) fail('INVALID_ARGUMENT', `taxes[${i}].code must be letters, digits, - or _`, { field: 'code' })
    return { code, name: input.text(`taxes[${i}].name`, t.name ?? code), rate: input.percent(`taxes[${i}].rate`, t.rate) }
  }

  updateLine(id: LineId, patch: LinePatch): EventEnvelope {
    const l = this.line(id)
    this.requireState(EDITABLE, 'edit a line')
    const values: [Parameters<typeof keys.line>[1], Json][] = []
    if (patch.product !== undefined) values.push(['product', input.text('product', patch.product, { required: true })])
    if (patch.description !== undefined) values.push(['description', input.text('description', patch.description, { max: 2000 })])
    if (patch.qty !== undefined) values.push(['qty', input.quantity('qty', patch.qty)])
    if (patch.price !== undefined) values.push(['price', { amount: input.unitPrice('price', patch.price), currency: this.currency() }])
    if (patch.discount !== undefined) values.push(['discount', input.percent('discount', patch.discount)])
    if (patch.uom !== undefined) values.push(['uom', input.text('uom', patch.uom, { max: 20 })])
    if (values.length === 0) fail('INVALID_ARGUMENT', 'nothing to change')
    const write = (w: DocWriter, s: Stamp) => {
      for (const [f, v] of values) w.setRegister(keys.line(l.id, f), this.entry(v, s))
    }
    return this.commit('line.update', write, { restate: true })
  }

  setLineTax(id: LineId, tax: { code: string; name?: string; rate: string }, on: boolean): EventEnvelope {
    this.line(id)
    const t = this.taxInput(tax, 0)
    this.requireState(EDITABLE, 'change taxes')
    const write = (w: DocWriter, s: Stamp) => w.setRegister(keys.tax(id, t.code), this.entry({ on, ...t }, s))
    return this.commit('line.tax', write, { restate: true })
  }

  /** Moves a line between two others (fractional index): one register write. */
  moveLine(id: LineId, after: LineId | null): EventEnvelope {
    this.line(id)
    if (after === id) fail('INVALID_ARGUMENT', 'a line cannot be moved after itself', { field: 'after' })
    this.requireState(EDITABLE, 'reorder lines')
    const others = this.state().lines.filter((l) => l.id !== id)
    const i = after === null ? -1 : others.findIndex((l) => l.id === after)
    if (after !== null && i < 0) fail('NOT_FOUND', `no line ${after}`)
    const lower = i < 0 ? null : others[i]!.sortKey
    let upper = others[i + 1]?.sortKey ?? null
    // Equal keys (two devices picked the same) leave no room between: go just above lower.
    if (upper !== null && lower !== null && upper <= lower) upper = null
    const sortKey = keyBetween(lower, upper)
    return this.commit('line.move', (w, s) => w.setRegister(keys.line(id, 'sortKey'), this.entry(sortKey, s)))
  }

  removeLine(id: LineId): EventEnvelope {
    this.line(id)
    this.requireState(EDITABLE, 'remove a line')
    const t = this.derived().lines.get(id)!
    if (compareDecimal(t.received, '0' as Decimal) !== 0 || compareDecimal(t.billed, '0' as Decimal) !== 0) {
      refuse('a line with receipts or bills cannot be removed: return or void them first')
    }
    const write = (w: DocWriter, s: Stamp) => w.setRegister(keys.line(id, 'removed'), this.entry(true, s))
    return this.commit('line.remove', write, { restate: true })
  }

  restoreLine(id: LineId): EventEnvelope {
    const l = this.line(id, { live: false })
    if (!l.removed) refuse(`line ${id} is not removed`)
    this.requireState(EDITABLE, 'restore a line')
    const write = (w: DocWriter, s: Stamp) => w.setRegister(keys.line(id, 'removed'), this.entry(false, s))
    return this.commit('line.restore', write, { restate: true })
  }

  // ------------------------------------------------------- goods and money

  private today(): IsoDate {
    return businessDateOf(instantFromEpochMs(this.now()), this.state().settings.timeZone)
  }

  private record(set: VoidableSet, kind: EventKind, fields: Record<string, Json>): { event: EventEnvelope; id: RecordId } {
    const id = parseRecordId(this.newId())
    const event = this.commit(kind, (w, s) => w.addRecord(set, id, { id, ...fields, ...s } as unknown as Json))
    return { event, id }
  }

  recordReceipt(r: { line: LineId; qty: string; deliveryNote: string; date?: string }) {
    const l = this.line(r.line)
    if (l.kind !== 'goods') refuse('services are not received; bill them')
    const qty = input.quantity('qty', r.qty)
    const deliveryNote = input.text('deliveryNote', r.deliveryNote, { required: true, max: 100 })
    const date = r.date === undefined ? this.today() : input.field('date', () => parseIsoDate(r.date))
    this.requireState(RECEIVABLE, 'receive goods')
    this.requireNotBlocked(['order', `line:${l.id}`], 'receive goods')
    const voided = this.derived().voided
    if (this.state().receipts.some((x) => x.line === l.id && x.deliveryNote === deliveryNote && !voided.has(x.id))) {
      refuse(`delivery note ${deliveryNote} is already recorded on this line`, { field: 'deliveryNote' })
    }
    return this.record('receipts', 'receipt.record', { line: l.id, qty, product: l.product, deliveryNote, date })
  }

  recordReturn(r: { line: LineId; qty: string; reason?: string; date?: string }) {
    const l = this.line(r.line)
    const qty = input.quantity('qty', r.qty)
    const received = this.derived().lines.get(l.id)!.received
    if (compareDecimal(qty, received) > 0) refuse(`cannot return ${qty}: only ${received} received`, { field: 'qty' })
    const date = r.date === undefined ? this.today() : input.field('date', () => parseIsoDate(r.date))
    return this.record('returns', 'return.record', { line: l.id, qty, reason: input.text('reason', r.reason ?? ''), date })
  }

  recordBill(b: { line: LineId; qty: string; ref: string; date?: string }) {
    const l = this.line(b.line)
    const qty = input.quantity('qty', b.qty)
    this.requireState(BILLABLE, 'record a bill')
    this.requireNotBlocked(['order', `line:${l.id}`], 'record a bill')
    const t = this.derived().lines.get(l.id)!
    const limit = l.kind === 'goods' ? t.received : l.qty
    const after = subDecimal(limit, t.billed)
    if (compareDecimal(qty, after) > 0) refuse(`cannot bill ${qty}: ${after} left to bill (${l.kind === 'goods' ? 'received' : 'ordered'} ${limit})`, { field: 'qty' })
    const date = b.date === undefined ? this.today() : input.field('date', () => parseIsoDate(b.date))
    return this.record('bills', 'bill.record', { line: l.id, qty, ref: input.text('ref', b.ref, { required: true }), date })
  }

  recordPayment(p: { amount: string; ref: string; date?: string }) {
    const amount = input.field('amount', () => majorToMinor(p.amount, this.state().settings.currencyExponent))
    if (amount <= 0n) fail('INVALID_MONEY', 'amount must be positive', { field: 'amount' })
    this.requireState(BILLABLE, 'record a payment')
    if (this.state().hold.on) refuse(`the order is on hold: ${this.state().hold.reason}`)
    this.requireNotBlocked(['order'], 'record a payment')
    const due = this.derived().totals.due
    if (amount > due) refuse(`cannot pay ${minorToString(amount)}: ${minorToString(due)} is due (minor units)`, { field: 'amount' })
    const date = p.date === undefined ? this.today() : input.field('date', () => parseIsoDate(p.date))
    return this.record('payments', 'payment.record', { amount: minorToString(amount) as MinorString, ref: input.text('ref', p.ref, { required: true }), date })
  }

  recordRefund(p: { amount: string; ref: string; date?: string }) {
    const amount = input.field('amount', () => majorToMinor(p.amount, this.state().settings.currencyExponent))
    if (amount <= 0n) fail('INVALID_MONEY', 'amount must be positive', { field: 'amount' })
    if (amount > this.derived().totals.paid) refuse('cannot refund more than was paid', { field: 'amount' })
    const date = p.date === undefined ? this.today() : input.field('date', () => parseIsoDate(p.date))
    return this.record('refunds', 'refund.record', { amount: minorToString(amount) as MinorString, ref: input.text('ref', p.ref, { required: true }), date })
  }

  /** Corrections are events too: a void cancels one receipt, return, bill, payment or refund. */
  voidRecord(set: VoidableSet, target: RecordId, reason: string) {
    const list = this.state()[set] as readonly { id: RecordId }[]
    if (!list.some((r) => r.id === target)) fail('NOT_FOUND', `no ${set} record ${target}`)
    if (this.derived().voided.has(target)) refuse(`${target} is already void`)
    const id = parseRecordId(this.newId())
    const why = input.text('reason', reason, { required: true })
    const event = this.commit(voidKindOf(set), (w, s) => w.addRecord('voids', id, { id, set, target, reason: why, ...s } as unknown as Json))
    return { event, id }
  }

  // ---------------------------------------------------------------- lifecycle

  transition(action: Exclude<TransitionAction, 'force'>): EventEnvelope {
    const lc = this.derived().lifecycle
    if (nextState(lc.state, action) === undefined) {
      refuse(`cannot ${action} an order that is ${lc.state}; allowed: ${allowedActions(lc.state).join(', ') || 'none'}`, { state: lc.state, action })
    }
    if (['send', 'submit', 'confirm', 'approve'].includes(action) && this.state().hold.on) refuse(`the order is on hold: ${this.state().hold.reason}`)
    if (['confirm', 'approve'].includes(action)) this.requireNotBlocked(['order', 'lifecycle'], action)
    if (action === 'confirm') {
      const threshold = this.state().settings.approvalThreshold
      if (threshold !== null && this.derived().totals.total > parseMinor(threshold)) refuse('the total is above the approval threshold: submit it for approval')
    }
    if (action === 'cancel') {
      const d = this.derived()
      if ([...d.lines.values()].some((t) => compareDecimal(t.received, '0' as Decimal) > 0 || compareDecimal(t.billed, '0' as Decimal) > 0) || d.totals.paid > 0n) {
        refuse('an order with receipts, bills or payments cannot be cancelled: return and refund first, or close it')
      }
    }
    const id = parseRecordId(this.newId())
    const vv = this.clockRecord()
    return this.commit(`lifecycle.${action}`, (w, s) => w.addRecord('transitions', id, { id, action, vv, ...s } as unknown as Json))
  }

  // -------------------------------------------------------------- resolutions

  /**
   * Resolves a conflict with one of its options. The resolution is an
   * ordinary event: its writes and a record of the decision, made after
   * seeing both branches, so it replicates and converges like any edit.
   */
  resolve(conflictId: ConflictId, option: string, params: Record<string, string> = {}, note = ''): EventEnvelope {
    // The relay checks the right to resolve by event kind: a resolution travels as its own event.
    if (this.staging !== undefined) fail('INVALID_ARGUMENT', 'a conflict resolution is an event of its own, not part of a transaction')
    const conflict = this.conflicts().find((c) => c.id === conflictId)
    if (conflict === undefined) fail('UNKNOWN_CONFLICT', `no open conflict ${conflictId}`)
    const spec = conflict.options.find((o) => o.id === option)
    if (spec === undefined) fail('INVALID_RESOLUTION', `${conflict.kind} has no option ${option}; options: ${conflict.options.map((o) => o.id).join(', ')}`)
    for (const p of spec.params) {
      const v = params[p.name]
      if (p.name === 'note') continue
      if (v === undefined) fail('INVALID_RESOLUTION', `option ${option} needs ${p.name}`)
      if (p.choices !== undefined && !p.choices.includes(v)) fail('INVALID_RESOLUTION', `${p.name} must be one of ${p.choices.join(', ')}`)
    }
    const why = input.text('note', note, { max: 1000 })
    const clean: Record<string, string> = Object.fromEntries(spec.params.filter((p) => params[p.name] !== undefined).map((p) => [p.name, params[p.name]!]))
    const vv = this.clockRecord()
    const state = this.state()
    const derived = this.derived()
    const apply = (w: DocWriter, s: Stamp) => {
      const ctx: Omit<ResolveContext, 'conflict' | 'params'> = {
        state, derived, w, stamp: s, vv,
        newRecordId: () => parseRecordId(this.newId()),
        valueAsOf: (key: string, at: Record<string, number>) => this.valueAsOf(key, at),
        repeatResolution: (chosen) => this.repeatResolution(ctx, chosen),
      }
      optionSpec(conflict.kind, option).resolve({ ...ctx, conflict, params: clean })
      const id = parseRecordId(this.newId())
      w.addRecord('resolutions', id, { id, conflict: conflict.id, kind: conflict.kind, option, params: clean, note: why, vv, ...s } as unknown as Json)
    }
    // A resolution that changes the total restates a stated total, as a
    // command does; TOTAL_MISMATCH's own options state it themselves.
    return this.commit('conflict.resolve', apply, { check: false, restate: conflict.kind !== 'TOTAL_MISMATCH' })
  }

  /**
   * Settles two concurrent resolutions by repeating the chosen one after both.
   * The chosen record is any text a client wrote: an option its conflict's
   * kind does not have is refused. Repeating a pick does not repeat what that
   * pick chose again: its own event already did.
   */
  private repeatResolution(ctx: Omit<ResolveContext, 'conflict' | 'params'>, chosenId: RecordId): void {
    const chosen = ctx.state.resolutions.find((r) => r.id === chosenId)
    if (chosen === undefined) fail('INVALID_RESOLUTION', `no resolution ${chosenId}`)
    const original = detectViolations({ state: ctx.state, derived: ctx.derived }).find((c) => c.id === chosen.conflict)
    if (original !== undefined) {
      optionSpec(original.kind, chosen.option).resolve({ ...ctx, repeatResolution: () => {}, conflict: original, params: chosen.params })
    }
    const id = parseRecordId(this.newId())
    ctx.w.addRecord('resolutions', id, {
      id, conflict: chosen.conflict, kind: chosen.kind, option: chosen.option, params: chosen.params, note: `kept resolution ${chosen.id}`, vv: ctx.vv, ...ctx.stamp,
    } as unknown as Json)
  }

  /** A register's LWW value as an author with clock `vv` saw it, rebuilt from the events this replica holds. */
  private valueAsOf(key: string, vv: Record<string, number>): Json | undefined {
    const doc = this.log.docOf(`${this.replica}-h` as ReplicaId, this.log.pastEvents({ clock: vv }))
    try {
      return lwwValue(doc.read().registers.get(key))
    } finally {
      doc.destroy()
    }
  }

}
