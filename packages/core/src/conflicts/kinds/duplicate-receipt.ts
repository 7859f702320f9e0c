/** DUPLICATE_RECEIPT: two live receipts on one line with the same delivery note. */
import type { RecordId } from '../../ids.js'
import type { PurchaseState } from '../../purchase/model.js'
import { recordBranch, uniqSorted } from '../evidence.js'
import { type Found, acceptWithNote, defineKind } from '../spec.js'
import { param, voidRecord } from '../writes.js'

export const duplicateReceipt = defineKind({
  label: 'Same delivery note recorded twice',
  severity: 'BLOCKING',
  scope: 'order',
  detect: ({ state, derived }) => {
    const groups = new Map<string, PurchaseState['receipts'][number][]>()
    for (const r of state.receipts) {
      if (derived.voided.has(r.id)) continue
      const k = `${r.line}:${r.deliveryNote}`
      const g = groups.get(k)
      if (g === undefined) groups.set(k, [r])
      else g.push(r)
    }
    const out: Found<'void-receipt'>[] = []
    for (const [k, rs] of groups) {
      if (rs.length < 2) continue
      const later = rs[rs.length - 1]!
      out.push({
        subject: `receipt-note:${k}`,
        causes: uniqSorted(rs.map((r) => r.ev)),
        branches: rs.map((r) => recordBranch(r, `received ${r.qty} on note ${r.deliveryNote}`)),
        facts: { deliveryNote: rs[0]!.deliveryNote, receipts: String(rs.length), quantities: rs.map((r) => r.qty).join(' + ') },
        choices: { 'void-receipt': { receipt: [later.id, ...rs.slice(0, -1).map((r) => r.id)] } },
      })
    }
    return out
  },
  options: {
    'void-receipt': {
      label: 'Void one receipt',
      params: [{ name: 'receipt', label: 'Receipt' }],
      effect: 'removes',
      resolve: (ctx) => voidRecord(ctx, 'receipts', param(ctx, 'receipt') as RecordId, 'duplicate delivery note (conflict resolution)'),
    },
    accept: acceptWithNote('Keep both: they are different deliveries'),
  },
})
