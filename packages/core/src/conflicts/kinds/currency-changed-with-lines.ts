/** CURRENCY_CHANGED_WITH_LINES: the order's currency changed while lines were priced in the old one. */
import { keys } from '../../purchase/model.js'
import { entryBranch, reg, uniqSorted } from '../evidence.js'
import { defineKind } from '../spec.js'
import { param, writeReg } from '../writes.js'

export const currencyChangedWithLines = defineKind({
  label: 'Currency changed under priced lines',
  severity: 'BLOCKING',
  scope: 'order',
  detect: ({ state }) => {
    if (state.currency.values.length !== 1) return []
    const currency = state.currency.values[0]!
    const stale = state.lines.filter((l) => !l.removed && l.price.currency !== '' && l.price.currency !== currency)
    if (stale.length === 0) return []
    const cur = state.currency.entries
    const priceEntries = stale.flatMap((l) => reg(state, `l.${l.id}.price`))
    return [{
      subject: 'field:h.currency',
      causes: uniqSorted([...cur.map((e) => e.ev), ...priceEntries.map((e) => e.ev)]),
      branches: [...cur.map((e) => entryBranch(e, `switched currency to ${String(e.value)}`)), ...priceEntries.map((e) => entryBranch(e, 'priced a line'))],
      facts: { currency, linesPricedIn: [...new Set(stale.map((l) => l.price.currency))].join(', '), lines: String(stale.length) },
      choices: { 'revert-currency': { currency: [...new Set(stale.map((l) => l.price.currency))] } },
    }]
  },
  options: {
    'reprice-lines': {
      label: (f) => `Keep ${f.currency}: re-enter those prices in ${f.currency}`,
      effect: 'removes',
      resolve: (ctx) => {
        const currency = ctx.state.currency.values[0]!
        for (const l of ctx.state.lines) {
          if (!l.removed && l.price.currency !== currency) writeReg(ctx, keys.line(l.id, 'price'), { amount: l.price.amount, currency })
        }
      },
    },
    'revert-currency': {
      label: 'Revert the currency',
      params: [{ name: 'currency', label: 'Currency' }],
      effect: 'removes',
      resolve: (ctx) => writeReg(ctx, keys.guarded('currency'), param(ctx, 'currency')),
    },
  },
})
