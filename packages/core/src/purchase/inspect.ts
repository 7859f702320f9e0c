/**
 * The write check: what an incoming update does (its effect, listed by the
 * backend's inspector without applying it) against the purchase schema, the
 * writer's rights and the writer's identity. The relay runs it on every
 * write, on both endpoints; the client runs the schema part on what it
 * receives and on its own events before saving them.
 *
 * Labels are never trusted: the right to resolve is needed for adding a
 * resolution record whatever the event's kind says, the right to approve
 * for an approve or reject transition, and the kind must match what the
 * update does (a `line.update` that adds a payment is refused).
 */
import type { DocSnapshot, DocWriteOp, SetName } from '../backends/backend.js'
import type { EffectOp, UpdateEffect } from '../backends/effect.js'
import { canonicalJson } from '../json.js'
import type { Right } from '../protocol/native.js'
import { decodeHlc } from '../time/hlc.js'
import { type Part, eventKindSpec, isEventKind } from './event-kinds.js'
import type { PurchaseSettings } from './model.js'
import {
  INIT_SCHEMA, type SchemaContext, TEXTS, checkEntry, checkRecord, isPlainObject, isRecordSet, registerSpecOf, settingsCheck,
} from './schema.js'

export type WriteRefusalCode = 'SCHEMA_VIOLATION' | 'FORBIDDEN'

/** Why a write was refused: the rule, the key it broke it on, and a sentence. */
export interface WriteRefusal {
  readonly code: WriteRefusalCode
  readonly rule: string
  readonly key: string
  readonly message: string
}

/** Who is writing, as the relay knows it from the token and the connection. */
export interface WriteAuthor {
  /** The token's subject; null for a token that names nobody. */
  readonly subject: string | null
  /** The device the connection said it is (the stamps' `dev`). */
  readonly device: string
  readonly rights: ReadonlySet<Right>
}

export interface WriteCheckContext {
  readonly docId: string
  readonly backend: string
  /** The document before the write. */
  readonly snapshot: DocSnapshot
  /** A text's length now (UTF-16 code units). */
  readonly textLength: (key: string) => number
  /** The event carrying the update. For a raw Yjs update, the event the relay wraps it in. */
  readonly event: { readonly id: string; readonly actor: string; readonly seq: number; readonly hlc: string; readonly kind: string }
  /**
   * A raw Yjs update (y-websocket): its writer could not know the event id,
   * sequence or clock the relay gives it, so stamps are checked for shape
   * and a bounded clock instead of for equality, and it may not tick the
   * version vector or create a purchase.
   */
  readonly raw: boolean
  /** The writer, checked for rights and authorship; absent for what the relay already checked (a client's inbound events). */
  readonly author?: WriteAuthor
  /** The backend author id the event's actor writes as (UpdateEffect.authors); absent skips the check (raw updates). */
  readonly authorId?: string
  /** Epoch ms now, and how far ahead of it a stamp's clock may be: an LWW value must not win for ever. */
  readonly now: number
  readonly maxClockAheadMs?: number
  /** Whether a document holding no purchase may take content that is not Concord's (a generic Yjs room). */
  readonly genericRooms?: boolean
}

const DEFAULT_CLOCK_AHEAD_MS = 24 * 3600_000

// ------------------------------------------------------------------ the check

class Refused extends Error {
  constructor(readonly refusal: WriteRefusal) {
    super(refusal.message)
  }
}

const schema = (rule: string, key: string, message: string): never => {
  throw new Refused({ code: 'SCHEMA_VIOLATION', rule, key, message })
}
const forbidden = (rule: string, key: string, message: string): never => {
  throw new Refused({ code: 'FORBIDDEN', rule, key, message })
}

const same = (a: unknown, b: unknown) => canonicalJson(a) === canonicalJson(b)

/** The refusal of a write, or undefined when the write may be stored. Never throws. */
export function checkWrite(effect: UpdateEffect, ctx: WriteCheckContext): WriteRefusal | undefined {
  try {
    new WriteChecker(effect, ctx).run()
    return undefined
  } catch (e) {
    if (e instanceof Refused) return e.refusal
    return { code: 'SCHEMA_VIOLATION', rule: 'unreadable', key: '', message: `the update could not be checked: ${(e as Error).message}` }
  }
}

class WriteChecker {
  private readonly ops: readonly EffectOp[]
  private readonly snapshot: DocSnapshot
  private readonly settings: PurchaseSettings | undefined
  private readonly sctx: SchemaContext
  /** Record ids this update adds, per set (an added receipt may name a line added by the same update). */
  private readonly added = new Map<SetName, Map<string, unknown>>()
  private readonly written = new Set<string>()
  private readonly parts = new Set<Part>()

  constructor(private readonly effect: UpdateEffect, private readonly ctx: WriteCheckContext) {
    this.ops = effect.ops
    this.snapshot = ctx.snapshot
    const s = this.snapshot.init.get('settings')
    const created = this.ops.find((o) => o.k === 'init' && o.key === 'settings')
    const settings = s !== undefined && settingsCheck(s) === undefined ? s : created?.k === 'init' ? created.value : undefined
    this.settings = isPlainObject(settings) ? (settings as unknown as PurchaseSettings) : undefined
    this.sctx = this.settings === undefined ? {} : { currencyExponent: this.settings.currencyExponent }
    for (const o of this.ops) {
      if (o.k === 'record') {
        let m = this.added.get(o.set)
        if (m === undefined) this.added.set(o.set, (m = new Map()))
        m.set(o.id, o.record)
      } else if (o.k === 'reg') this.written.add(o.key)
    }
  }

  run(): void {
    const { effect, ctx } = this
    if (effect.incomplete) schema('incomplete', '', 'the update refers to content the relay does not hold')
    if (this.genericRoom()) return
    if (ctx.authorId !== undefined) {
      for (const a of effect.authors) if (a !== ctx.authorId) forbidden('author', ctx.event.actor, `the update is written by ${a}, not by actor ${ctx.event.actor}`)
    }
    if (ctx.author !== undefined && !isEventKind(ctx.event.kind)) schema('kind', ctx.event.kind, `unknown event kind ${JSON.stringify(ctx.event.kind)}`)
    for (const op of this.ops) this.op(op)
    if (ctx.author !== undefined) this.kindMatches()
  }

  /**
   * A document that holds no purchase: a generic Yjs room takes anything
   * that is not Concord's when the relay allows such rooms; Concord's parts
   * only come with the event that creates the purchase.
   */
  private genericRoom(): boolean {
    if (this.snapshot.init.has('settings')) {
      for (const o of this.ops) if (o.k === 'foreign') schema('outside-schema', o.root, `the purchase has no part ${JSON.stringify(o.root)}`)
      return false
    }
    const foreign = this.ops.filter((o) => o.k === 'foreign')
    const concord = this.ops.filter((o) => o.k !== 'foreign')
    if (concord.length === 0) {
      if (foreign.length > 0 && this.ctx.genericRooms !== true) forbidden('generic-room', this.ctx.docId, 'this relay keeps purchases only: a room that holds no purchase takes no other content')
      return true
    }
    if (foreign.length > 0) schema('outside-schema', foreign[0]!.k === 'foreign' ? foreign[0]!.root : '', 'an update that creates a purchase writes nothing else')
    if (this.ctx.raw) forbidden('create', this.ctx.docId, 'a raw Yjs update cannot create a purchase: create it with the client library')
    if (this.settings === undefined || !this.ops.some((o) => o.k === 'init' && o.key === 'settings')) {
      schema('no-purchase', this.ctx.docId, `${this.ctx.docId} holds no purchase yet: its first event must create it`)
    }
    return false
  }

  private op(op: EffectOp): void {
    switch (op.k) {
      case 'init': return this.init(op.key, op.value, op.existing)
      case 'initDelete': return schema('set-once', op.key, `${op.key} is set once and never removed`)
      case 'reg': return this.register(op.key, op.slot, op.entry, op.existing)
      case 'regDelete':
        if (!this.written.has(op.key)) schema('supersede-only', op.key, `an entry of ${op.key} may only be removed by a write of ${op.key} that supersedes it`)
        return
      case 'record': return this.record(op.set, op.id, op.record, op.existing)
      case 'recordDelete': return schema('insert-only', `${op.set}/${op.id}`, `${op.set} are never deleted: void or return instead`)
      case 'text': return this.text(op.key, op.inserted, op.deleted)
      case 'clock': return this.clock(op.replica, op.value, op.existing)
      case 'clockDelete': return schema('clock', op.replica, 'the version vector only grows')
      case 'foreign': return schema('outside-schema', op.root, `the purchase has no part ${JSON.stringify(op.root)}`)
      case 'malformed': return schema('malformed', op.where, `${op.where}: ${op.why}`)
      default: return op satisfies never
    }
  }

  private init(key: string, value: unknown, existing: unknown): void {
    const check = INIT_SCHEMA[key]
    if (check === undefined) schema('outside-schema', key, `the purchase has no set-once field ${JSON.stringify(key)}`)
    if (existing !== undefined && !same(existing, value)) schema('set-once', key, `${key} is set once and already holds another value`)
    const why = check!(value)
    if (why !== undefined) schema('value', key, `${key}: ${why}`)
    const s = value as PurchaseSettings
    if (s.id !== this.ctx.docId) schema('value', key, `the settings name purchase ${s.id}, not ${this.ctx.docId}`)
    if (s.backend !== this.ctx.backend) schema('value', key, `the settings name the ${s.backend} backend; the document uses ${this.ctx.backend}`)
    this.parts.add('settings')
    const a = this.ctx.author
    if (a !== undefined && existing === undefined && s.createdBy !== '' && s.createdBy !== (a.subject ?? '')) {
      forbidden('author', `${key}.createdBy`, `createdBy is ${JSON.stringify(s.createdBy)}; the token names ${JSON.stringify(a.subject ?? '')}`)
    }
  }

  private register(key: string, slot: string, entry: unknown, existing: unknown): void {
    const spec = registerSpecOf(key)
    if (spec === undefined) schema('outside-schema', key, `the purchase has no register ${JSON.stringify(key.slice(0, 80))}`)
    if (existing !== undefined && !same(existing, entry)) schema('overwrite', key, `an entry of ${key} is never overwritten in place`)
    const why = checkEntry(key, entry, this.sctx)
    if (why !== undefined) schema('value', key, `${key}: ${why}`)
    const e = entry as { ev: string; hlc: string; by?: string; dev?: string; res?: string }
    if (slot !== e.ev) schema('value', key, `${key}: the entry names event ${e.ev} but is stored under ${slot}`)
    if (spec!.line !== undefined && !this.lineExists(spec!.line)) schema('line', key, `line ${spec!.line} does not exist`)
    if (e.res !== undefined) {
      const resolutions = this.added.get('resolutions')
      if (resolutions === undefined || ![...resolutions.values()].some((r) => isPlainObject(r) && r.conflict === e.res)) {
        forbidden('resolve', key, `${key} is tagged as resolving ${e.res}, which this update does not resolve`)
      }
    }
    this.stamp(key, e)
    this.parts.add(spec!.area)
    if (spec!.area === 'number' && this.ctx.author !== undefined) forbidden('number', key, 'order numbers are assigned by the relay')
  }

  private record(set: SetName, id: string, record: unknown, existing: unknown): void {
    const key = `${set}/${id}`
    if (!isRecordSet(set)) schema('outside-schema', key, `the purchase has no record set ${set}`)
    if (existing !== undefined && !same(existing, record)) schema('insert-only', key, `${set} are never overwritten: void or return instead`)
    const why = checkRecord(set, id, record)
    if (why !== undefined) schema('value', key, `${key}: ${why}`)
    const r = record as Record<string, unknown> & { ev: string; hlc: string; by: string; dev: string }
    this.stamp(key, r)
    this.parts.add(`set:${set}`)
    switch (set) {
      case 'receipts': case 'returns': case 'bills':
        if (!this.lineExists(r.line as string)) schema('line', key, `line ${String(r.line)} does not exist`)
        return
      case 'voids': {
        const target = r.target as string
        const inSet = r.set as SetName
        if (!this.snapshot.sets[inSet].has(target) && this.added.get(inSet)?.has(target) !== true) schema('void', key, `there is no ${inSet} record ${target} to void`)
        return
      }
      case 'transitions': {
        const action = r.action as string
        const rights = this.ctx.author?.rights
        if ((action === 'approve' || action === 'reject') && rights !== undefined && !rights.has('approve')) {
          forbidden('approve', key, `to ${action} an order needs the approve right on ${this.ctx.docId}`)
        }
        if (action === 'force' && !this.added.has('resolutions')) forbidden('resolve', key, 'a state is only forced by a conflict resolution')
        return
      }
      case 'resolutions': {
        const rights = this.ctx.author?.rights
        if (rights !== undefined && !rights.has('resolve')) forbidden('resolve', key, `resolving a conflict needs the resolve right on ${this.ctx.docId}`)
        return
      }
      default:
        return
    }
  }

  private text(key: string, inserted: number, deleted: number): void {
    const spec = TEXTS[key]
    if (spec === undefined) schema('outside-schema', `text:${key}`, `the purchase has no text ${JSON.stringify(key)}`)
    const after = this.ctx.textLength(key) + inserted - deleted
    if (after > spec!.maxLength) schema('value', `text:${key}`, `${key} would hold ${after} characters; at most ${spec!.maxLength}`)
    this.parts.add('notes')
  }

  private clock(replica: string, value: unknown, existing: number | undefined): void {
    if (this.ctx.raw) schema('clock', replica, 'a raw Yjs update may not write the version vector')
    if (!Number.isSafeInteger(value) || (value as number) <= (existing ?? 0)) schema('clock', replica, `the counter of ${replica} must grow (${String(existing ?? 0)} -> ${String(value)})`)
    if (this.ctx.author !== undefined || this.ctx.authorId !== undefined) {
      if (replica !== this.ctx.event.actor || value !== this.ctx.event.seq) {
        forbidden('clock', replica, `event ${this.ctx.event.id} may only count itself in the version vector`)
      }
    }
  }

  /** ev, hlc, by and dev of an entry or record: the event's own, and the writer's. */
  private stamp(key: string, s: { ev: string; hlc: string; by?: string; dev?: string }): void {
    const { ctx } = this
    if (!ctx.raw) {
      if (s.ev !== ctx.event.id) schema('stamp', key, `${key} names event ${s.ev}; it is written by ${ctx.event.id}`)
      if (s.hlc !== ctx.event.hlc) schema('stamp', key, `${key} carries clock ${s.hlc}; its event has ${ctx.event.hlc}`)
    } else {
      const wall = decodeHlc(s.hlc).wall
      if (wall > ctx.now + (ctx.maxClockAheadMs ?? DEFAULT_CLOCK_AHEAD_MS)) schema('stamp', key, `${key} carries a clock too far in the future (${s.hlc})`)
    }
    const a = ctx.author
    if (a === undefined) return
    // An empty name claims nobody (a device that wrote before it learnt its subject); any other name must be the writer's.
    const subject = a.subject ?? ''
    if (s.by !== undefined && s.by !== '' && s.by !== subject) {
      forbidden('author', `${key}.by`, `${key} says it was made by ${JSON.stringify(s.by)}; the token names ${JSON.stringify(subject)}`)
    }
    if (s.dev !== undefined && s.dev !== '' && s.dev !== a.device) {
      forbidden('author', `${key}.dev`, `${key} says it was made on device ${JSON.stringify(s.dev)}; the connection is ${JSON.stringify(a.device)}`)
    }
  }

  private lineExists(id: string): boolean {
    return this.snapshot.sets.lines.has(id) || this.added.get('lines')?.has(id) === true
  }

  /** The kind label must say what the update does. */
  private kindMatches(): void {
    const { kind } = this.ctx.event
    const allowed = isEventKind(kind) ? eventKindSpec(kind).parts : schema('kind', kind, `unknown event kind ${JSON.stringify(kind)}`)
    const resolving = this.parts.has('set:resolutions')
    if (kind === 'conflict.resolve' && !resolving) schema('kind', kind, 'a conflict.resolve event must record a resolution')
    if (resolving && kind !== 'conflict.resolve' && kind !== 'yjs.update') schema('kind', kind, `a ${kind} event may not record a resolution`)
    if (allowed === '*') {
      if (this.parts.has('number')) forbidden('number', 'h.number', 'order numbers are assigned by the relay')
      return
    }
    for (const p of this.parts) {
      if (!allowed.includes(p)) schema('kind', kind, `a ${kind} event may not write ${p}`)
    }
    if (kind.startsWith('lifecycle.') && kind !== 'lifecycle.hold') {
      const action = kind.slice('lifecycle.'.length)
      for (const r of this.added.get('transitions')?.values() ?? []) {
        if (isPlainObject(r) && r.action !== action) schema('kind', kind, `a ${kind} event records a ${String(r.action)} transition`)
      }
    }
    if (kind.endsWith('.void')) {
      const set = `${kind.slice(0, -'.void'.length)}s`
      for (const r of this.added.get('voids')?.values() ?? []) {
        if (isPlainObject(r) && r.set !== set) schema('kind', kind, `a ${kind} event voids a record of ${String(r.set)}`)
      }
    }
  }
}

// ------------------------------------------------------------ own writes

/**
 * The effect of a command's recorded writes on the document they are about
 * to change, as a backend inspector would list it for the resulting update:
 * so a device checks its own events with the same rules before saving them.
 */
export function effectOfWrites(ops: readonly DocWriteOp[], snapshot: DocSnapshot, authorId: string): UpdateEffect {
  const out: EffectOp[] = []
  const texts = new Map<string, { inserted: number; deleted: number }>()
  const written = new Map<string, unknown>()
  const clock = new Map<string, number>()
  for (const o of ops) {
    switch (o.k) {
      case 'init':
        // Writing an init key again with its value changes nothing (both backends skip it).
        if (!snapshot.init.has(o.key) && !written.has(`i:${o.key}`)) out.push({ k: 'init', key: o.key, value: o.value, existing: undefined })
        written.set(`i:${o.key}`, o.value)
        break
      case 'reg':
        // A write supersedes every entry the writer has seen: those in the document, and its own earlier ones.
        for (const e of snapshot.registers.get(o.key) ?? []) out.push({ k: 'regDelete', key: o.key, slot: e.ev })
        out.push({ k: 'reg', key: o.key, slot: o.entry.ev, entry: o.entry, existing: undefined })
        break
      case 'rec':
        if (!snapshot.sets[o.set].has(o.id) && !written.has(`r:${o.set}/${o.id}`)) out.push({ k: 'record', set: o.set, id: o.id, record: o.record, existing: undefined })
        written.set(`r:${o.set}/${o.id}`, o.record)
        break
      case 'ins': case 'del': {
        const t = texts.get(o.key) ?? { inserted: 0, deleted: 0 }
        if (o.k === 'ins') t.inserted += o.text.length
        else t.deleted += o.length
        texts.set(o.key, t)
        break
      }
      case 'tick': {
        const before = clock.get(o.replica) ?? snapshot.clock.get(o.replica as never)
        if ((before ?? 0) < o.seq) {
          out.push({ k: 'clock', replica: o.replica, value: o.seq, existing: before })
          clock.set(o.replica, o.seq)
        }
        break
      }
    }
  }
  for (const [key, t] of texts) if (t.inserted > 0 || t.deleted > 0) out.push({ k: 'text', key, ...t })
  return { ops: out, authors: [authorId], incomplete: false }
}
