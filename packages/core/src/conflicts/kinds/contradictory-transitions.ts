/** CONTRADICTORY_TRANSITIONS: two concurrent lifecycle actions that cannot both hold (confirm and cancel...). */
import { fail } from '../../errors.js'
import type { EventId } from '../../ids.js'
import type { TransitionRecord } from '../../purchase/model.js'
import { covers } from '../../ids.js'
import { concurrent } from '../causality.js'
import { recordBranch, uniqSorted } from '../evidence.js'
import { type Found, defineKind } from '../spec.js'
import { force, param } from '../writes.js'

const CONTRADICTIONS: readonly (readonly [string, string])[] = [
  ['confirm', 'cancel'], ['approve', 'cancel'], ['approve', 'reject'],
]

const CONTRADICTING: ReadonlySet<string> = new Set(CONTRADICTIONS.flat())

/**
 * Pair checks plus settling checks one detection may make. A real order has
 * a few contradictory transitions; a crafted document can hold thousands,
 * which would take minutes (pairs times transitions). Past the budget the
 * detector stops where it is: the conflicts it found so far, in order, the
 * same on every replica.
 */
const TRANSITION_WORK = 500_000

export const contradictoryTransitions = defineKind({
  label: 'Contradictory status changes',
  severity: 'BLOCKING',
  scope: 'order',
  detect: ({ state, derived }) => {
    const out: Found<'keep'>[] = []
    const ts = state.transitions
    // Only these can form a pair; kept in fold order, so pairs come in the order a scan of every pair meets them.
    const candidates = ts.filter((t) => CONTRADICTING.has(t.action))
    let work = 0
    const settled = (a: TransitionRecord, b: TransitionRecord): boolean | undefined => {
      for (const t of ts) {
        if (++work > TRANSITION_WORK) return undefined
        if (t !== a && t !== b && covers(t.vv, a.ev) && covers(t.vv, b.ev)) return true
      }
      return false
    }
    for (let i = 0; i < candidates.length; i++) {
      for (let j = i + 1; j < candidates.length; j++) {
        if (++work > TRANSITION_WORK) return out
        const a = candidates[i]!
        const b = candidates[j]!
        const pair = CONTRADICTIONS.some(([x, y]) => (a.action === x && b.action === y) || (a.action === y && b.action === x))
        if (!pair || !concurrent(a, b)) continue
        const done = settled(a, b)
        if (done === undefined) return out
        if (done) continue
        out.push({
          subject: 'lifecycle',
          causes: uniqSorted([a.ev, b.ev]),
          branches: [recordBranch(a, a.action), recordBranch(b, b.action)],
          facts: { first: a.action, second: b.action, now: derived.lifecycle.state },
          choices: { keep: { transition: [a.ev, b.ev] } },
        })
      }
    }
    return out
  },
  options: {
    keep: {
      label: 'Keep one intent',
      params: [{ name: 'transition', label: 'Transition' }],
      // The forced transition has seen both sides, which settles the pair.
      effect: 'removes',
      resolve: (ctx) => {
        const ev = param(ctx, 'transition') as EventId
        const t = ctx.state.transitions.find((x) => x.ev === ev)
        if (t === undefined || !ctx.conflict.causes.includes(ev)) fail('INVALID_RESOLUTION', `transition ${ev} is not a side of this conflict`)
        force(ctx, t.action === 'cancel' ? 'cancelled' : t.action === 'reject' ? 'draft' : 'confirmed')
      },
    },
  },
})
