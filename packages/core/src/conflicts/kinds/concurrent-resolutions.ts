/** CONCURRENT_RESOLUTIONS: two different resolutions of one conflict, made concurrently. */
import type { RecordId } from '../../ids.js'
import { canonicalJson } from '../../json.js'
import { recordBranch, uniqSorted } from '../evidence.js'
import { decisionOf, maximalResolutions, resolutionsByConflict } from '../resolutions.js'
import { type Found, defineKind } from '../spec.js'
import { param } from '../writes.js'

export const concurrentResolutions = defineKind({
  label: 'Resolved two different ways',
  severity: 'BLOCKING',
  scope: 'order',
  detect: ({ state }) => {
    const out: Found<'pick'>[] = []
    for (const [conflict, rs] of resolutionsByConflict(state.resolutions)) {
      const max = maximalResolutions(rs)
      const decisions = new Set(max.map(decisionOf))
      if (decisions.size < 2) continue // identical concurrent resolutions collapse
      out.push({
        subject: `conflict:${conflict}`,
        causes: uniqSorted(max.map((r) => r.ev)),
        branches: max.map((r) => recordBranch(r, `resolved ${r.kind} with ${r.option}${Object.keys(r.params).length ? ` ${canonicalJson(r.params)}` : ''}`)),
        facts: { conflict, kind: max[0]!.kind },
        choices: { pick: { resolution: max.map((r) => r.id) } },
      })
    }
    return out
  },
  options: {
    pick: {
      label: 'Keep one resolution',
      params: [{ name: 'resolution', label: 'Resolution' }],
      // The chosen resolution is repeated after both: the repeat has seen
      // both, so it alone stands.
      effect: 'removes',
      resolve: (ctx) => ctx.repeatResolution(param(ctx, 'resolution') as RecordId),
    },
  },
})
