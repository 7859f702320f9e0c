/** SUPPLIER_CHANGED_AFTER_SEND: the supplier changed concurrently with sending the order to the old one. */
import { fail } from '../../errors.js'
import { keys } from '../../purchase/model.js'
import { covers } from '../../ids.js'
import { entryBranch, recordBranch, uniqSorted } from '../evidence.js'
import { defineKind } from '../spec.js'
import { force, revertRegister } from '../writes.js'

export const supplierChangedAfterSend = defineKind({
  label: 'Supplier changed after sending',
  severity: 'BLOCKING',
  scope: 'order',
  detect: ({ state, derived }) => {
    const sent = derived.lifecycle.sentBy
    if (sent === undefined || derived.lifecycle.state === 'cancelled') return []
    return state.supplier.entries
      .filter((e) => e.res === undefined && !covers(sent.vv, e.ev))
      .map((e) => ({
        subject: 'field:h.supplier',
        causes: uniqSorted([sent.ev, e.ev]),
        branches: [recordBranch(sent, 'sent the order'), entryBranch(e, `switched supplier to ${String(e.value)}`)],
        facts: { supplier: String(e.value) },
      }))
  },
  options: {
    revert: {
      label: 'Revert to the supplier the order was sent to',
      effect: 'removes',
      resolve: (ctx) => {
        const sent = ctx.derived.lifecycle.sentBy
        if (sent === undefined) fail('INVALID_RESOLUTION', 'the order is no longer sent')
        revertRegister(ctx, keys.guarded('supplier'), sent.vv)
      },
    },
    resend: { label: 'Cancel and re-send to the new supplier', effect: 'removes', resolve: (ctx) => force(ctx, 'draft') },
  },
})
