/**
 * What resolvers write with. A resolution never rewrites history: it appends
 * ordinary changes (register writes tagged with the conflict id, returns,
 * voids, forced transitions) plus a resolution record, all in one event that
 * causally follows both branches.
 */
import { fail } from '../errors.js'
import type { LineId, RecordId } from '../ids.js'
import type { Json } from '../json.js'
import type { IsoDate } from '../time/dates.js'
import { businessDateOf } from '../time/dates.js'
import type { LifecycleState, StoredClock, TransitionRecord, VoidableSet } from '../purchase/model.js'
import type { ResolveContext } from './spec.js'

export function writeReg(ctx: ResolveContext, key: string, value: Json): void {
  ctx.w.setRegister(key, { value, ev: ctx.stamp.ev, hlc: ctx.stamp.hlc, by: ctx.stamp.by, dev: ctx.stamp.dev, res: ctx.conflict.id })
}

export function today(ctx: ResolveContext): IsoDate {
  return businessDateOf(ctx.stamp.at, ctx.state.settings.timeZone)
}

export function voidRecord(ctx: ResolveContext, set: VoidableSet, target: RecordId, reason: string): void {
  const id = ctx.newRecordId()
  ctx.w.addRecord('voids', id, { id, set, target, reason, ...ctx.stamp } as unknown as Json)
}

export function force(ctx: ResolveContext, to: LifecycleState): void {
  const id = ctx.newRecordId()
  const t: Omit<TransitionRecord, 'to'> & { to: LifecycleState } = { id, action: 'force', to, vv: ctx.vv, ...ctx.stamp }
  ctx.w.addRecord('transitions', id, t as unknown as Json)
}

export function lineOf(ctx: ResolveContext): LineId {
  const m = /^line:(.+)$/.exec(ctx.conflict.subject)
  if (m === null) fail('INVALID_RESOLUTION', `conflict ${ctx.conflict.id} is not about a line`)
  return m[1] as LineId
}

export function param(ctx: ResolveContext, name: string): string {
  const v = ctx.params[name]
  if (v === undefined) fail('INVALID_RESOLUTION', `option ${name} is required`)
  return v
}

/** The register's value before the events that caused the conflict, from history. */
export function revertRegister(ctx: ResolveContext, key: string, before: StoredClock): void {
  const v = ctx.valueAsOf(key, before)
  if (v === undefined) fail('INVALID_RESOLUTION', `no earlier value of ${key} in the history this replica holds`)
  writeReg(ctx, key, v)
}
