/**
 * The audit trail (who changed what, when, from which device) and the order
 * as it was after any one change, read-only.
 */
import { useState } from 'preact/hooks'
import { type AuditEntry, type EventId, type PurchaseState, derivePurchase, parseMinor } from '@concord/core'
import type { PurchaseHandle } from '../client-api.js'
import { STATE_LABEL, currencyOf, eventLabel, explainError, fieldLabel, fieldValue, money, orderMoney, price, qty, supplierOf, when } from '../format.js'
import { hrefPurchase } from '../hooks.js'
import { Alert } from './fields.js'

const PAGE = 25

export function History({ handle }: { readonly handle: PurchaseHandle }) {
  const [open, setOpen] = useState(false)
  const [limit, setLimit] = useState(PAGE)
  const state = handle.state()
  let entries: AuditEntry[] = []
  let error: ReturnType<typeof explainError> | null = null
  if (open) {
    try {
      entries = handle.history().slice().reverse()
    } catch (e) {
      error = explainError(e)
    }
  }
  return (
    <section class="card" aria-labelledby="history-title" data-testid="history">
      <div class="section-head">
        <h2 id="history-title">History</h2>
        <button type="button" class="link" aria-expanded={open} aria-controls="history-list" onClick={() => setOpen(!open)}>
          {open ? 'Hide' : 'Show who changed what'}
        </button>
      </div>
      <Alert error={error} />
      {open ? (
        <ol id="history-list" class="audit">
          {entries.slice(0, limit).map((e) => (
            <li key={e.event} data-testid="audit-entry">
              <p>
                <strong>{eventLabel(e.kind)}</strong>
                <span class="muted small"> · {e.user || 'someone'} · {e.device || 'unknown device'} · <time dateTime={e.at}>{when(e.at)}</time></span>
              </p>
              {e.changes.length > 0 ? (
                <ul class="changes">
                  {e.changes.filter((c) => shownChange(c, e.kind)).slice(0, 8).map((c) => (
                    <li key={c.field}>{fieldLabel(c.field, state)}: {c.from === null || c.from === '' ? '' : <><del>{short(fieldValue(c.field, c.from, state))}</del> → </>}<ins>{short(fieldValue(c.field, c.to, state))}</ins></li>
                  ))}
                </ul>
              ) : null}
              <a href={hrefPurchase(handle.id, e.event)} class="small">See the order as it was after this</a>
            </li>
          ))}
          {entries.length > limit ? <li><button type="button" class="link" onClick={() => setLimit(limit + PAGE)}>Show older changes</button></li> : null}
        </ol>
      ) : null}
    </section>
  )
}

/** A new line's position and "not removed" are not news: the trail shows them only when they change. */
function shownChange(c: AuditEntry['changes'][number], kind: string): boolean {
  if (c.field.endsWith('.position')) return kind === 'line.move'
  if (c.field.endsWith('.removed')) return !(c.to === 'false' && (c.from === null || c.from === ''))
  return true
}

function short(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}…` : s
}

export function AsOf({ handle, event }: { readonly handle: PurchaseHandle; readonly event: string }) {
  let state: PurchaseState
  let entry: AuditEntry | undefined
  try {
    state = handle.stateAt({ event: event as EventId })
    entry = handle.history().find((e) => e.event === event)
  } catch (e) {
    return (
      <section>
        <a href={hrefPurchase(handle.id)} class="back">← Back to the current order</a>
        <Alert error={{ ...explainError(e), text: `Cannot rebuild the order at that point. ${explainError(e).text}` }} />
      </section>
    )
  }
  const d = derivePurchase(state)
  const m = orderMoney(state)
  return (
    <article class="editor as-of" aria-labelledby="asof-title" data-testid="as-of">
      <a href={hrefPurchase(handle.id)} class="back">← Back to the current order</a>
      <div class="banner banner-history" role="note">
        <p>
          <strong>As it was</strong> after “{entry === undefined ? 'this change' : eventLabel(entry.kind)}”
          {entry !== undefined ? ` by ${entry.user || 'someone'} on ${entry.device || 'an unknown device'}, ${when(entry.at)}` : ''}. Read-only.
        </p>
      </div>
      <h1 id="asof-title">{state.number ?? 'Unnumbered draft'} <span class="supplier">· {supplierOf(state)}</span></h1>
      <p class="meta"><span class={`pill state-${d.lifecycle.state}`}>{STATE_LABEL[d.lifecycle.state]}</span> <span>{currencyOf(state)}</span></p>
      <section class="card">
        <h2>Lines</h2>
        <table class="lines readonly">
          <thead><tr><th scope="col">Product</th><th scope="col" class="num">Qty</th><th scope="col" class="num">Unit price</th><th scope="col" class="num">Disc. %</th><th scope="col" class="num">Amount</th></tr></thead>
          <tbody>
            {state.lines.filter((l) => !l.removed).map((l) => (
              <tr key={l.id}>
                <td data-label="Product">{l.product}</td><td data-label="Qty" class="num">{qty(l.qty)} {l.uom}</td>
                <td data-label="Unit price" class="num">{price(l.price.amount, m)}</td><td data-label="Disc. %" class="num">{qty(l.discount)}</td>
                <td data-label="Amount" class="num">{money(d.lines.get(l.id)?.amount ?? 0n, m)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <dl class="totals-inline">
          <dt>Untaxed</dt><dd>{money(d.totals.untaxed, m)}</dd>
          <dt>Tax</dt><dd>{money(d.totals.tax, m)}</dd>
          <dt>Total</dt><dd data-testid="asof-total">{money(d.totals.total, m)}</dd>
          <dt>Paid</dt><dd>{money(d.totals.paid, m)}</dd>
        </dl>
      </section>
      {state.notes !== '' ? <section class="card"><h2>Notes</h2><p class="prewrap">{state.notes}</p></section> : null}
      <section class="card">
        <h2>Receipts and payments</h2>
        <ul>
          {state.receipts.map((r) => <li key={r.id}>{qty(r.qty)} × {state.lines.find((l) => l.id === r.line)?.product} · note {r.deliveryNote}</li>)}
          {state.payments.map((p) => <li key={p.id}>paid {money(parseMinor(p.amount), m)} · ref {p.ref}</li>)}
          {state.receipts.length + state.payments.length === 0 ? <li class="muted">none</li> : null}
        </ul>
      </section>
    </article>
  )
}
