/** Resolving a conflict: the option's writes and a record of the decision, as one event of its own. */
import type { DocWriter } from '../../backends/backend.js'
import { detectViolations } from '../../conflicts/detect.js'
import { optionSpec } from '../../conflicts/registry.js'
import { decisionOf, maximalResolutions, resolutionsByConflict } from '../../conflicts/resolutions.js'
import { undoResolution } from '../../conflicts/undo.js'
import type { ResolveContext } from '../../conflicts/spec.js'
import { fail } from '../../errors.js'
import { type ConflictId, type RecordId, parseRecordId } from '../../ids.js'
import type { Json } from '../../json.js'
import type { EventEnvelope } from '../../log/envelope.js'
import * as input from '../inputs.js'
import { recordWrites, replayWrites } from '../writes.js'
import type { Stamp } from '../model.js'
import type { CommandContext } from './context.js'

/**
 * Resolves a conflict with one of its options. The resolution is an
 * ordinary event: its writes and a record of the decision, made after
 * seeing both branches, so it replicates and converges like any edit.
 */
export function resolve(ctx: CommandContext, conflictId: ConflictId, option: string, params: Record<string, string> = {}, note = ''): EventEnvelope {
  // The relay checks the right to resolve by event kind: a resolution travels as its own event.
  if (ctx.inTransaction()) fail('INVALID_ARGUMENT', 'a conflict resolution is an event of its own, not part of a transaction')
  const conflict = ctx.conflicts().find((c) => c.id === conflictId)
  if (conflict === undefined) fail('UNKNOWN_CONFLICT', `no open conflict ${conflictId}`)
  const spec = conflict.options.find((o) => o.id === option)
  if (spec === undefined) fail('INVALID_RESOLUTION', `${conflict.kind} has no option ${option}; options: ${conflict.options.map((o) => o.id).join(', ')}`)
  for (const p of spec.params) {
    const v = params[p.name]
    if (p.name === 'note') continue
    if (v === undefined && p.optional === true) continue
    if (v === undefined) fail('INVALID_RESOLUTION', `option ${option} needs ${p.name}`)
    if (p.choices !== undefined && !p.choices.includes(v)) fail('INVALID_RESOLUTION', `${p.name} must be one of ${p.choices.join(', ')}`)
  }
  const why = input.text('note', note, { max: 1000 })
  const clean: Record<string, string> = Object.fromEntries(spec.params.filter((p) => params[p.name] !== undefined).map((p) => [p.name, params[p.name]!]))
  const vv = ctx.clockRecord()
  const state = ctx.state()
  const derived = ctx.derived()
  const apply = (w: DocWriter, s: Stamp) => {
    const rc: Omit<ResolveContext, 'conflict' | 'params'> = {
      state, derived, w, stamp: s, vv,
      newRecordId: () => parseRecordId(ctx.newId()),
      valueAsOf: (key: string, at: Record<string, number>) => ctx.valueAsOf(key, at),
      repeatResolution: (chosen) => repeatResolution(ctx, rc, chosen),
    }
    optionSpec(conflict.kind, option).resolve({ ...rc, conflict, params: clean })
    const id = parseRecordId(ctx.newId())
    w.addRecord('resolutions', id, { id, conflict: conflict.id, kind: conflict.kind, option, params: clean, note: why, vv, ...s } as unknown as Json)
  }
  // A resolution that changes the total restates a stated total, as a
  // command does; TOTAL_MISMATCH's own options state it themselves.
  return ctx.commit('conflict.resolve', apply, { check: false, restate: conflict.kind !== 'TOTAL_MISMATCH' })
}

/**
 * Settles two concurrent resolutions by keeping one: the others' effects are
 * taken back (conflicts/undo.ts) and the kept one is repeated after both, on
 * the purchase as it is once they are gone. The chosen record is any text a
 * client wrote: an option its conflict's kind does not have is refused.
 * Repeating a pick does not repeat what that pick chose again: its own event
 * already did.
 */
function repeatResolution(cmd: CommandContext, ctx: Omit<ResolveContext, 'conflict' | 'params'>, chosenId: RecordId): void {
  const chosen = ctx.state.resolutions.find((r) => r.id === chosenId)
  if (chosen === undefined) fail('INVALID_RESOLUTION', `no resolution ${chosenId}`)
  const rivals = maximalResolutions(resolutionsByConflict(ctx.state.resolutions).get(chosen.conflict) ?? [])
    .filter((r) => r.id !== chosen.id && decisionOf(r) !== decisionOf(chosen))
  const undo = recordWrites((w) => { for (const r of rivals) undoResolution({ ...ctx, w }, r, chosen) })
  replayWrites(ctx.w, undo)
  const after = undo.length === 0 ? ctx : { ...ctx, ...cmd.preview(undo) }
  const original = detectViolations({ state: after.state, derived: after.derived }).find((c) => c.id === chosen.conflict)
  if (original !== undefined) {
    optionSpec(original.kind, chosen.option).resolve({ ...after, repeatResolution: () => {}, conflict: original, params: chosen.params })
  }
  const id = parseRecordId(cmd.newId())
  ctx.w.addRecord('resolutions', id, {
    id, conflict: chosen.conflict, kind: chosen.kind, option: chosen.option, params: chosen.params, note: `kept resolution ${chosen.id}`, vv: ctx.vv, ...ctx.stamp,
  } as unknown as Json)
}
