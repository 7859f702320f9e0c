/**
 * What a command needs from the replica it runs on, and the checks commands
 * share. Commands are grouped by area (header, lines, goods and money,
 * lifecycle, resolution); each reads the merged state through this context,
 * validates its input, and writes one event through `commit`, which records
 * the writes once and checks them (size, schema, invariants) before they
 * reach the document. The replica (replica.ts) implements the context; the
 * commands never see its log or its document.
 */
import type { DocWriteOp, DocWriter } from '../../backends/backend.js'
import type { Conflict } from '../../conflicts/types.js'
import { fail } from '../../errors.js'
import type { LineId, PurchaseId } from '../../ids.js'
import type { Json } from '../../json.js'
import type { EventEnvelope } from '../../log/envelope.js'
import type { BackendName } from '../../backends/registry.js'
import type { CurrencyCode } from '../../money/currency.js'
import { type IsoDate, businessDateOf, instantFromEpochMs } from '../../time/dates.js'
import type { PurchaseDerived } from '../derive.js'
import type { EventKind } from '../event-kinds.js'
import type { LifecycleState, PurchaseLine, PurchaseState, Stamp, StoredClock } from '../model.js'

export interface CommitOptions {
  /** Run the invariant registry on the state the change would produce (default true). */
  readonly check?: boolean
  /** Tick the document clock (default true; text edits do not). */
  readonly causal?: boolean
  /** Restate a stated total that the change would contradict (default false). */
  readonly restate?: boolean
}

export interface CommandContext {
  readonly docId: PurchaseId
  readonly backend: BackendName
  exists(): boolean
  state(): PurchaseState
  derived(): PurchaseDerived
  conflicts(): Conflict[]
  /** Epoch ms now (the replica's clock). */
  now(): number
  newId(): string
  /** The acting user, as the token names them. */
  user(): string
  /** Inside a multi-command transaction. */
  inTransaction(): boolean
  /** A text's length now, transaction included (UTF-16 code units). */
  textLength(key: string): number
  /** The clock a new record stores: what its author has seen. */
  clockRecord(): StoredClock
  /** A register's value as an author whose clock was `vv` saw it. */
  valueAsOf(key: string, vv: Record<string, number>): Json | undefined
  commit(kind: EventKind, write: (w: DocWriter, s: Stamp) => void, opts?: CommitOptions): EventEnvelope
  /** The purchase as it would be after `ops` (recorded writes), without writing them. */
  preview(ops: readonly DocWriteOp[]): { readonly state: PurchaseState; readonly derived: PurchaseDerived }
}

/** The states in which the order's content may change, goods be received, and bills and payments be recorded (an app offers its forms by them). */
export const EDITABLE: ReadonlySet<LifecycleState> = new Set(['draft', 'sent', 'toApprove', 'confirmed'])
export const RECEIVABLE: ReadonlySet<LifecycleState> = new Set(['confirmed', 'locked'])
export const BILLABLE: ReadonlySet<LifecycleState> = new Set(['confirmed', 'locked', 'closed'])

export function refuse(message: string, details: Record<string, unknown> = {}): never {
  fail('COMMAND_REFUSED', message, details)
}

/** A register entry written with a command's stamp. */
export function entry(value: Json, s: Stamp) {
  return { value, ev: s.ev, hlc: s.hlc, ...(s.by ? { by: s.by } : {}), ...(s.dev ? { dev: s.dev } : {}) }
}

export function requireState(ctx: CommandContext, allowed: ReadonlySet<LifecycleState>, what: string): void {
  const state = ctx.derived().lifecycle.state
  if (!allowed.has(state)) refuse(`cannot ${what} while the order is ${state}`, { state })
}

export function requireNotBlocked(ctx: CommandContext, subjects: readonly string[], what: string): void {
  const blocking = ctx.conflicts().find((c) => c.severity === 'BLOCKING' && !c.deferred && subjects.includes(c.subject))
  if (blocking !== undefined) {
    fail('BLOCKED_BY_CONFLICT', `cannot ${what}: conflict ${blocking.kind} on ${blocking.subject} must be resolved first`, { conflict: blocking.id })
  }
}

export function lineOf(ctx: CommandContext, id: LineId, { live = true } = {}): PurchaseLine {
  const l = ctx.state().lines.find((x) => x.id === id)
  if (l === undefined) fail('NOT_FOUND', `no line ${id}`)
  if (live && l.removed) refuse(`line ${id} was removed`)
  return l
}

export function currencyOf(ctx: CommandContext): CurrencyCode {
  const c = ctx.state().currency.values
  if (c.length !== 1) refuse('the currency has concurrent values: resolve that conflict first')
  return c[0]!
}

/** Today in the order's time zone. */
export function today(ctx: CommandContext): IsoDate {
  return businessDateOf(instantFromEpochMs(ctx.now()), ctx.state().settings.timeZone)
}
