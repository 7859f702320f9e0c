/** OVERPAYMENT: more paid (net of refunds) than the order's total. */
import type { Json } from '../../json.js'
import type { RecordId } from '../../ids.js'
import { formatMinor, minorToString, parseMinor } from '../../money/amount.js'
import type { RefundRecord } from '../../purchase/model.js'
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
    // A requested refund moves no money: it is not a cause, so requesting one leaves the violation's id as it was.
    const live = [...state.payments, ...state.refunds.filter((r) => r.status !== 'requested')].filter((p) => !derived.voided.has(p.id))
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
      // The excess stays paid until the supplier pays it back and that refund
      // is recorded (which ends the violation); until then the request is on
      // file and a person has accepted the overpayment.
      effect: 'accepts',
      resolve: (ctx) => {
        const id = ctx.newRecordId()
        const excess = ctx.derived.totals.paid - ctx.derived.totals.total
        const refund: RefundRecord = {
          id, amount: minorToString(excess), ref: 'refund requested (conflict resolution)', date: today(ctx), status: 'requested', ...ctx.stamp,
        }
        ctx.w.addRecord('refunds', id, refund as unknown as Json)
      },
    },
  },
})
