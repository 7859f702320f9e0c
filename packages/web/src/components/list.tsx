/** The purchase list with offline search, the new-purchase form, and the conflict queue across purchases. */
import { useState } from 'preact/hooks'
import { type LifecycleState, currencyExponent, parseCurrencyCode } from '@concord/core'
import type { PurchaseSummary } from '../client-api.js'
import { STATE_LABEL, parseOptionalNumber, summaryTotal } from '../format.js'
import { hrefPurchase, useAction, useApp, usePurchases } from '../hooks.js'
import { Alert, Field, formValues } from './fields.js'
import { SYNC_LABEL } from './shell.js'

const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'SEK', 'JPY', 'KWD'] as const

export function PurchaseList() {
  const { client } = useApp()
  const [query, setQuery] = useState('')
  const [creating, setCreating] = useState(false)
  const list = usePurchases(client, query)
  return (
    <section aria-labelledby="list-title">
      <div class="page-head">
        <h1 id="list-title">Purchases</h1>
        <button type="button" class="primary" aria-expanded={creating} onClick={() => setCreating(!creating)}>
          {creating ? 'Close' : 'New purchase'}
        </button>
      </div>
      {creating ? <CreatePurchase /> : null}
      <div class="search" role="search">
        <label for="search" class="sr-only">Search purchases</label>
        <input id="search" type="search" placeholder="Search by number, supplier, product, notes…" value={query}
          onInput={(e) => setQuery(e.currentTarget.value)} autoComplete="off" />
        <p class="muted small">Searches the purchases on this device; works offline.</p>
      </div>
      {list.length === 0 ? (
        <p class="empty">{query.trim() === '' ? 'No purchases on this device yet. Create one, or open a link someone shared.' : `Nothing matches “${query}”.`}</p>
      ) : (
        <table class="purchases" data-testid="purchase-list">
          <caption class="sr-only">Purchases on this device</caption>
          <thead>
            <tr><th scope="col">Number</th><th scope="col">Supplier</th><th scope="col">Status</th><th scope="col" class="num">Total</th><th scope="col">Conflicts</th><th scope="col">Sync</th></tr>
          </thead>
          <tbody>{list.map((p) => <Row key={p.id} p={p} />)}</tbody>
        </table>
      )}
    </section>
  )
}

function Row({ p }: { readonly p: PurchaseSummary }) {
  return (
    <tr data-testid="purchase-row" data-id={p.id}>
      <td data-label="Number"><a href={hrefPurchase(p.id)}>{p.number ?? <span class="muted">Unnumbered draft</span>}</a></td>
      <td data-label="Supplier">{p.supplier || <span class="muted">—</span>}</td>
      <td data-label="Status"><span class={`pill state-${p.status}`}>{STATE_LABEL[p.status as LifecycleState] ?? p.status}</span></td>
      <td data-label="Total" class="num">{p.exists ? summaryTotal(p.total) : <span class="muted">not here yet</span>}</td>
      <td data-label="Conflicts">{p.conflicts > 0 ? <span class="pill conflict">{p.conflicts} open</span> : <span class="muted">none</span>}</td>
      <td data-label="Sync"><span class={`sync-chip sync-${p.sync}`}>{SYNC_LABEL[p.sync] ?? p.sync}{p.pending > 0 ? ` · ${p.pending} pending` : ''}</span></td>
    </tr>
  )
}

export function CreatePurchase() {
  const { client } = useApp()
  const action = useAction()
  const [currency, setCurrency] = useState<string>('EUR')
  const exponent = (() => {
    try {
      return currencyExponent(parseCurrencyCode(currency))
    } catch {
      return null
    }
  })()
  const submit = (e: Event) => {
    e.preventDefault()
    const v = formValues(e.currentTarget as HTMLFormElement)
    void action.run(async () => {
      const h = await client.createPurchase({
        currency: v.currency ?? 'EUR',
        supplier: v.supplier ?? '',
        ...(v.threshold ? { approvalThreshold: parseOptionalNumber(v.threshold) } : {}),
        ...(v.tolerance ? { receiptTolerance: parseOptionalNumber(v.tolerance) } : {}),
        timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
      })
      location.hash = hrefPurchase(h.id)
    })
  }
  return (
    <form class="card create" onSubmit={submit} aria-labelledby="create-title">
      <h2 id="create-title">New purchase</h2>
      <div class="grid">
        <Field label="Supplier" name="supplier" required placeholder="ACME Supplies" />
        <div class="field">
          <label for="currency">Currency</label>
          <select id="currency" name="currency" value={currency} onChange={(e) => setCurrency(e.currentTarget.value)}>
            {CURRENCIES.map((c) => <option key={c} value={c}>{c}</option>)}
          </select>
          <p class="field-hint">{exponent === null ? '' : `${exponent === 1 ? '1 decimal' : `${exponent} decimals`}; fixed for the life of the order.`}</p>
        </div>
        <Field label="Approval above (optional)" name="threshold" numberDigits={exponent ?? 2} hint="Orders above this total need approval." />
        <Field label="Receipt tolerance % (optional)" name="tolerance" numberDigits={1} hint="Extra quantity a receipt may bring without a conflict." />
      </div>
      <Alert error={action.error} />
      <button type="submit" class="primary" disabled={action.busy}>Create purchase</button>
    </form>
  )
}

export function ConflictQueue() {
  const { client } = useApp()
  const list = usePurchases(client, '').filter((p) => p.conflicts > 0)
  return (
    <section aria-labelledby="queue-title">
      <h1 id="queue-title">Conflict queue</h1>
      <p class="muted">Changes made on different devices that cannot be merged on their own. Open a purchase to see both sides and resolve them; a resolution here clears the conflict on every device.</p>
      {list.length === 0 ? <p class="empty">No open conflicts.</p> : (
        <ul class="queue">
          {list.map((p) => (
            <li key={p.id}>
              <a href={hrefPurchase(p.id)}>{p.number ?? 'Unnumbered draft'} — {p.supplier}</a>
              <span class="pill conflict">{p.conflicts} open</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
