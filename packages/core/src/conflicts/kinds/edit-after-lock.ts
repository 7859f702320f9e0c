/** EDIT_AFTER_LOCK: lines, taxes or header fields edited concurrently with locking the order. */
import type { RegisterEntry } from '../../backends/backend.js'
import { fail } from '../../errors.js'
import type { EventId } from '../../ids.js'
import { covers } from '../../ids.js'
import { entryBranch, recordBranch, uniqSorted } from '../evidence.js'
import { accepting, defineKind } from '../spec.js'
import { writeReg } from '../writes.js'

/** Register keys a lock forbids editing: lines, taxes and header fields. */
function isEditableKey(key: string): boolean {
  return key.startsWith('l.') || key.startsWith('x.') || (key.startsWith('h.') && key !== 'h.number' && key !== 'h.hold')
}

export const editAfterLock = defineKind({
  label: 'Edited after the order was locked',
  severity: 'REVIEW',
  scope: 'order',
  detect: ({ state, derived }) => {
    const lock = derived.lifecycle.lockedBy
    if (lock === undefined) return []
    const byEvent = new Map<EventId, { entry: RegisterEntry; keys: string[] }>()
    for (const [key, entries] of state.registers) {
      if (!isEditableKey(key)) continue
      for (const e of entries) {
        if (e.res !== undefined || covers(lock.vv, e.ev) || e.ev === lock.ev) continue
        const g = byEvent.get(e.ev) ?? { entry: e, keys: [] }
        g.keys.push(key)
        byEvent.set(e.ev, g)
      }
    }
    return [...byEvent.values()].map(({ entry, keys }) => ({
      subject: `edit:${entry.ev}`,
      causes: uniqSorted([lock.ev, entry.ev]),
      branches: [recordBranch(lock, 'locked the order'), entryBranch(entry, `edited ${keys.sort().join(', ')}`)],
      facts: { fields: keys.sort().join(', ') },
    }))
  },
  options: {
    amend: accepting('Keep the edit (amend the locked order)'),
    discard: {
      label: 'Discard the edit',
      effect: 'removes',
      resolve: (ctx) => {
        const lock = ctx.derived.lifecycle.lockedBy
        if (lock === undefined) fail('INVALID_RESOLUTION', 'the order is no longer locked')
        const keysEdited = (ctx.conflict.facts.fields ?? '').split(', ').filter((k) => k !== '')
        for (const key of keysEdited) {
          const v = ctx.valueAsOf(key, lock.vv)
          if (v === undefined && key.startsWith('l.')) {
            // The line did not exist when the order was locked: discarding the edit removes it.
            writeReg(ctx, `${key.slice(0, key.lastIndexOf('.'))}.removed`, true)
          } else if (v !== undefined) writeReg(ctx, key, v)
        }
      },
    },
  },
})
