/**
 * One device's copy of one purchase: the CRDT document, its event log, a
 * hybrid logical clock, and the intent-level commands. Every command reads
 * the merged state, validates its input, checks that the state it would
 * produce raises no new conflict, and only then writes one event. So a
 * single replica never produces an invalid order; only merges can, and
 * those land in the conflict queue.
 *
 * This file is the engine: reading, receiving, and the one commit path
 * (record the writes once; check size, own writes and invariants; apply),
 * transactions and reissues. The commands themselves live by area in
 * commands/ and reach the engine through a CommandContext.
 *
 * Nondeterminism comes in through options: the wall clock, the id factory
 * (ULIDs for lines and records). Nothing here does I/O or keeps timers.
 */
import type { CrdtBackend, DocSnapshot, DocWriteOp, DocWriter } from '../backends/backend.js'
import { overlaySnapshot } from '../backends/overlay.js'
import { yjsBackend } from '../backends/yjs.js'
import { ConcordError, fail, isConcordError } from '../errors.js'
import { type ConflictId, type EventId, type LineId, type PurchaseId, type RecordId, type ReplicaId, eventIdOf } from '../ids.js'
import type { Json } from '../json.js'
import { minorToString, parseMinor } from '../money/amount.js'
import { HybridLogicalClock } from '../time/hlc.js'
import { instantFromEpochMs } from '../time/dates.js'
import { type AppendResult, EventLog, type LogSnapshot } from '../log/event-log.js'
import type { EventEnvelope, Priority } from '../log/envelope.js'
import { clockToRecord } from '../conflicts/causality.js'
import type { Conflict } from '../conflicts/types.js'
import type { PurchaseDerived } from './derive.js'
import { allowedActions } from './lifecycle.js'
import { type GuardedField, type HeaderField, type PurchaseState, type Stamp, type TransitionAction, type VoidableSet, keys } from './model.js'
import { hasPurchase, lwwValue, readPurchase } from './read.js'
import { type AuditEntry, auditTrailFrom } from './audit.js'
import { measureInput } from './event-size.js'
import { recordWrites, replayWrites } from './writes.js'
import { reissueWrites } from './reissue.js'
import { checkWrite, effectOfWrites } from './inspect.js'
import { type EventKind, isEventKind, priorityOf } from './event-kinds.js'
import { StagedTransaction } from './transaction.js'
import { PurchaseView } from './view.js'
import { type CommandContext, type CommitOptions, entry, refuse } from './commands/context.js'
import * as header from './commands/header.js'
import * as lines from './commands/lines.js'
import * as goods from './commands/goods-money.js'
import * as lifecycle from './commands/lifecycle.js'
import * as resolution from './commands/resolution.js'
import type { CreatePurchaseInput } from './commands/header.js'
import type { LineInput, LinePatch } from './commands/lines.js'
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

/** Where a change came from: nothing is echoed back or stored twice. */
export type ChangeOrigin = 'local' | 'remote'
export type ChangeListener = (change: { readonly origin: ChangeOrigin; readonly events: readonly EventEnvelope[] }) => void


/** A device checking its own changes holds every right: what it may do is the relay's to decide. */
const ALL_RIGHTS: ReadonlySet<Right> = new Set(RIGHTS)

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
  /** What the commands (commands/) see of this replica. */
  private readonly cmd: CommandContext

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
    this.cmd = {
      docId: this.docId,
      backend: log.backend.name,
      exists: () => this.exists,
      state: () => this.state(),
      derived: () => this.derived(),
      conflicts: () => this.conflicts(),
      now: this.now,
      newId: this.newId,
      user: this.userOf,
      inTransaction: () => this.staging !== undefined,
      textLength: (key) => this.staging?.textLength(key) ?? log.doc.textLength?.(key) ?? log.doc.read().texts.get(key)?.length ?? 0,
      clockRecord: () => this.clockRecord(),
      valueAsOf: (key, vv) => this.valueAsOf(key, vv),
      commit: (kind, write, opts) => this.commit(kind, write, opts),
      preview: (ops) => {
        const v = PurchaseView.of(overlaySnapshot(this.view().snapshot, (w) => replayWrites(w, ops)), this.view())
        return { state: v.state, derived: v.derived }
      },
    }
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
    header.createPurchase(r.cmd, init)
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
  private commit(kind: EventKind, write: (w: DocWriter, s: Stamp) => void, { check = true, causal = true, restate = false }: CommitOptions = {}): EventEnvelope {
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

  private clockRecord() {
    return clockToRecord(this.log.doc.read().clock)
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
    return [{ k: 'reg', key: keys.guarded('statedTotal'), entry: entry(minorToString(total), s) }]
  }

  // ---------------------------------------------------------------- commands
  // Each is a function of its area's module (commands/), run on this replica.

  setGuarded(field: Exclude<GuardedField, 'statedTotal' | 'currency'>, value: string): EventEnvelope {
    return header.setGuarded(this.cmd, field, value)
  }

  setSupplier(name: string): EventEnvelope {
    return header.setSupplier(this.cmd, name)
  }

  setFxRate(rate: string): EventEnvelope {
    return header.setFxRate(this.cmd, rate)
  }

  /** Switches the currency; only with no live lines, and only to one with the same exponent. */
  setCurrency(code: string): EventEnvelope {
    return header.setCurrency(this.cmd, code)
  }

  /** Records the total the order commits to; see commands/header.ts. `null` withdraws it. */
  setStatedTotal(amount: string | null): EventEnvelope {
    return header.setStatedTotal(this.cmd, amount)
  }

  setHeader(field: HeaderField, value: string | null): EventEnvelope {
    return header.setHeader(this.cmd, field, value)
  }

  setHold(on: boolean, reason = ''): EventEnvelope {
    return header.setHold(this.cmd, on, reason)
  }

  /** Edits the notes (collaborative text): delete `remove` characters at `index`, then insert `insert`. */
  editNotes(index: number, remove: number, insert = ''): EventEnvelope {
    return header.editNotes(this.cmd, index, remove, insert)
  }

  /** Assigns the human order number (the relay does this on first sync). */
  assignNumber(number: string): EventEnvelope {
    return header.assignNumber(this.cmd, number)
  }

  addLine(line: LineInput): { event: EventEnvelope; lineId: LineId } {
    return lines.addLine(this.cmd, line)
  }

  updateLine(id: LineId, patch: LinePatch): EventEnvelope {
    return lines.updateLine(this.cmd, id, patch)
  }

  setLineTax(id: LineId, tax: { code: string; name?: string; rate: string }, on: boolean): EventEnvelope {
    return lines.setLineTax(this.cmd, id, tax, on)
  }

  /** Moves a line between two others (fractional index): one register write. */
  moveLine(id: LineId, after: LineId | null): EventEnvelope {
    return lines.moveLine(this.cmd, id, after)
  }

  removeLine(id: LineId): EventEnvelope {
    return lines.removeLine(this.cmd, id)
  }

  restoreLine(id: LineId): EventEnvelope {
    return lines.restoreLine(this.cmd, id)
  }

  recordReceipt(r: Parameters<typeof goods.recordReceipt>[1]) {
    return goods.recordReceipt(this.cmd, r)
  }

  recordReturn(r: Parameters<typeof goods.recordReturn>[1]) {
    return goods.recordReturn(this.cmd, r)
  }

  recordBill(b: Parameters<typeof goods.recordBill>[1]) {
    return goods.recordBill(this.cmd, b)
  }

  recordPayment(p: Parameters<typeof goods.recordPayment>[1]) {
    return goods.recordPayment(this.cmd, p)
  }

  recordRefund(p: Parameters<typeof goods.recordRefund>[1]) {
    return goods.recordRefund(this.cmd, p)
  }

  /** Corrections are events too: a void cancels one receipt, return, bill, payment or refund. */
  voidRecord(set: VoidableSet, target: RecordId, reason: string) {
    return goods.voidRecord(this.cmd, set, target, reason)
  }

  transition(action: Exclude<TransitionAction, 'force'>): EventEnvelope {
    return lifecycle.transition(this.cmd, action)
  }

  /**
   * Resolves a conflict with one of its options: an ordinary event holding
   * the option's writes and a record of the decision (commands/resolution.ts).
   */
  resolve(conflictId: ConflictId, option: string, params: Record<string, string> = {}, note = ''): EventEnvelope {
    return resolution.resolve(this.cmd, conflictId, option, params, note)
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
