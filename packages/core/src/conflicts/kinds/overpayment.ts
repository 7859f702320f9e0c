/** OVERPAYMENT: more paid (net of refunds) than the order's total. */
import type { Json } from '../../json.js'
import type { RecordId } from '../../ids.js'
import { formatMinor, minorToString, parseMinor } from '../../money/amount.js'
import { recordBranch, uniqSorted } from '../evidence.js'
import { acceptWithNote, defineKind } from '../spec.js'
import { param, today, voidRecord } from '../writes.js'

export const overpayment = defineKind({
  label: 'Paid more than the total',
  severity: 'BLOCKING',
  scope: 'order',
  detect: ({ state, derived }) => {
    const { paid, total } = derived.totals
    if (paid <= total) return []
    const live = [...state.payments, ...state.refunds].filter((p) => !derived.voided.has(p.id))
    const payments = state.payments.filter((p) => !derived.voided.has(p.id))
    const exp = state.settings.currencyExponent
    return [{
      subject: 'order',
      causes: uniqSorted(live.map((p) => p.ev)),
      branches: payments.map((p) => recordBranch(p, `paid ${formatMinor(parseMinor(p.amount), exp)}`)),
      facts: { total: formatMinor(total, exp), paid: formatMinor(paid, exp), excess: formatMinor(paid - total, exp) },
      idFacts: [total.toString()],
      choices: { 'void-payment': { payment: payments.map((p) => p.id) } },
    }]
  },
  options: {
    accept: acceptWithNote('Record a supplier credit'),
    'void-payment': {
      label: 'Void the duplicate payment',
      params: [{ name: 'payment', label: 'Payment' }],
      effect: 'removes',
      resolve: (ctx) => voidRecord(ctx, 'payments', param(ctx, 'payment') as RecordId, 'duplicate payment (conflict resolution)'),
    },
    'request-refund': {
      label: (f) => `Request a refund of ${f.excess}`,
      effect: 'removes',
      resolve: (ctx) => {
        const id = ctx.newRecordId()
        const excess = ctx.derived.totals.paid - ctx.derived.totals.total
        ctx.w.addRecord('refunds', id, { id, amount: minorToString(excess), ref: 'refund requested (conflict resolution)', date: today(ctx), ...ctx.stamp } as unknown as Json)
      },
    },
  },
})
