/**
 * The purchase editor: header and notes, lines, totals, goods and money,
 * lifecycle, conflicts and history of one purchase. Everything shown is read
 * from the handle on each render (a change bumps the version), and every
 * edit is one command through handle.run, saved locally before it resolves.
 */
import { useState } from 'preact/hooks'
import type { HeaderField, PurchaseDerived, PurchaseId, PurchaseState } from '@concord/core'
import type { PurchaseHandle } from '../client-api.js'
import {
  ACTION_LABEL, RISKY_ACTIONS, STATE_LABEL, ago, canonicalMoney, currencyOf, eventLabel, inputValue, money, orderMoney, parseOptionalNumber,
  plainWords, qty, supplierOf, taxName, taxRate, when,
} from '../format.js'
import { explainSafe, useAction, useApp, useNow, usePurchase } from '../hooks.js'
import { Alert, CommitInput, CommitSelect, NotNow, Words } from './fields.js'
import { type OrderRules, whatIsAllowed } from '../what-is-allowed.js'
import { Lines } from './lines.js'
import { GoodsAndMoney } from './goods-and-money.js'
import { ConflictPanel } from './conflicts.js'
import { AsOf, History } from './history.js'
import { Notes } from './notes.js'
import { SYNC_LABEL } from './shell.js'
import { type LinePreview, previewDerived } from './preview.js'

export function Editor({ id, at }: { readonly id: PurchaseId; readonly at: string | null }) {
  const { client } = useApp()
  const { handle, error } = usePurchase(client, id)
  const [preview, setPreview] = useState<LinePreview | null>(null)
  if (error !== null) return <Alert error={`Cannot open this purchase: ${error}`} />
  if (handle === null) return <p role="status" class="muted">Opening the purchase…</p>
  if (!handle.exists) {
    return (
      <section>
        <a href="#/" class="back">← Purchases</a>
        <h1>Waiting for this purchase</h1>
        <p role="status">It has not reached this device yet; it appears as soon as it syncs. {explainSafe(client, id)}</p>
      </section>
    )
  }
  if (at !== null) return <AsOf handle={handle} event={at} />
  const state = handle.state()
  const derived = handle.derived()
  const shown = (preview !== null ? previewDerived(state, preview) : null) ?? derived
  const exp = state.settings.currencyExponent
  // What the order allows now, read once per render from the merged state (not the preview): every form asks it.
  const rules = whatIsAllowed({ state, derived, conflicts: handle.conflicts() })
  return (
    <article class="editor" aria-labelledby="po-title" data-testid="editor">
      <a href="#/" class="back">← Purchases</a>
      <header class="editor-head">
        <div>
          <h1 id="po-title">
            <span data-testid="po-number">{state.number ?? 'Unnumbered draft'}</span>
            <span class="supplier"> · {supplierOf(state)}</span>
          </h1>
          <p class="meta">
            <span class={`pill state-${derived.lifecycle.state}`} data-testid="po-state">{STATE_LABEL[derived.lifecycle.state]}</span>
            {state.hold.on ? <span class="pill hold">On hold{state.hold.reason ? `: ${state.hold.reason}` : ''}</span> : null}
            <span>{currencyOf(state)} · {exp === 1 ? '1 decimal' : `${exp} decimals`}</span>
            <span class="muted">created {when(state.settings.createdAt)}{state.settings.createdBy ? ` by ${state.settings.createdBy}` : ''}</span>
          </p>
        </div>
        <DocSync handle={handle} />
      </header>
      <InvalidValues handle={handle} />
      <ConflictPanel handle={handle} />
      <Lifecycle handle={handle} rules={rules} />
      <div class="editor-grid">
        <div class="main-col">
          <section class="card" aria-labelledby="order-title">
            <h2 id="order-title">Order</h2>
            <HeaderForm handle={handle} rules={rules} />
            <Notes handle={handle} />
          </section>
          <section class="card" aria-labelledby="lines-title">
            <h2 id="lines-title">Lines</h2>
            <Lines handle={handle} shown={shown} rules={rules} onPreview={setPreview} />
          </section>
          <GoodsAndMoney handle={handle} rules={rules} />
          <History handle={handle} />
        </div>
        <aside class="side-col">
          <Totals state={state} shown={shown} previewing={preview !== null && shown !== derived} handle={handle} rules={rules} />
        </aside>
      </div>
      <p class="muted small">Amounts in {currencyOf(state)}, {exp} decimals, rounded {state.settings.rounding.mode === 'HALF_UP' ? 'half up' : 'half even'}, tax {state.settings.rounding.tax === 'PER_LINE' ? 'per line' : 'on the total'}, prices {state.settings.taxMode === 'EXCLUSIVE' ? 'before' : 'including'} tax.</p>
    </article>
  )
}

/**
 * Values the stored purchase holds that its schema refuses: written before
 * the relay checked writes, or by a newer version. They read as absent (a
 * line's quantity as 0, a record not at all); the panel says which, so
 * nobody takes the order for complete.
 */
function InvalidValues({ handle }: { readonly handle: PurchaseHandle }) {
  const invalid = handle.invalid()
  if (invalid.length === 0) return null
  return (
    <div class="alert" role="status" data-testid="invalid-values">
      <p><strong>Some stored values of this purchase could not be read</strong> and are left out of what is shown. Ask the person who changed them to enter them again.</p>
      <details>
        <summary>{invalid.length === 1 ? '1 value' : `${invalid.length} values`} left out</summary>
        <ul class="small">
          {invalid.slice(0, 50).map((v) => <li key={`${v.part}:${v.key}`}><code>{v.key}</code>: {v.reason}</li>)}
        </ul>
      </details>
    </div>
  )
}

function DocSync({ handle }: { readonly handle: PurchaseHandle }) {
  const { client } = useApp()
  const now = useNow()
  const s = handle.status()
  const reason = s.state === 'synced' ? null : (s.reason ?? explainSafe(client, handle.id))
  const said = reason === null || reason === '' ? null : plainWords(reason, undefined, undefined, 'Not synced yet.')
  return (
    <div class={`doc-sync sync-${s.state}`} data-testid="doc-sync" data-state={s.state} data-pending={s.pending}>
      <p>
        <span class="dot" aria-hidden="true" /> <strong>{SYNC_LABEL[s.state]}</strong>
        {s.pending > 0 ? <span> · <span data-testid="doc-pending">{s.pending}</span> {s.pending === 1 ? 'change' : 'changes'} saved on this device, not yet on the relay</span> : <span> · all changes stored on the relay</span>}
      </p>
      <p class="muted small">
        Last synced {ago(s.lastSyncedAt, now)}
        {s.rejected > 0 ? <span class="bad"> · {s.rejected} rejected</span> : null}
        {said !== null && !s.deadLetter && said.detail === null ? <span> · {said.text}</span> : null}
      </p>
      {said !== null && !s.deadLetter && said.detail !== null ? <details class="tech small"><summary>Why not synced (for support)</summary><code>{said.detail}</code></details> : null}
      {s.deadLetter ? <DeadLetter handle={handle} reason={reason} /> : null}
    </div>
  )
}

/**
 * The relay (or the client, for a change too large to send) refused a change
 * of this purchase, so the client stopped sending its changes (a dead letter)
 * rather than retry forever. The refused change was undone on this device,
 * with the changes built on it, since nobody else can ever receive them: the
 * panel names them so the person can make them again. Changes made since are
 * kept; "Send again" resumes the purchase's sync.
 */
function DeadLetter({ handle, reason }: { readonly handle: PurchaseHandle; readonly reason: string | null }) {
  const { client } = useApp()
  const action = useAction()
  const undone = client.deadLetters().find((d) => d.docId === handle.id)?.rejected ?? []
  return (
    <div class="alert" role="alert" data-testid="dead-letter">
      <p><strong>Sync of this purchase stopped: a change was refused.</strong> It was undone on this device, with the changes made on top of it; the others are kept and are sent when sync resumes.</p>
      {reason ? <p class="small"><Words said={plainWords(reason, undefined, undefined, 'The relay refused a change of this purchase.')} /></p> : null}
      {undone.length > 0 ? (
        <ul class="small" data-testid="undone">
          {undone.map((r) => (
            <li key={r.id}>
              Undone: {r.kind !== undefined ? eventLabel(r.kind) : 'a change'} ({r.code === 'DEPENDS_ON_REFUSED' ? 'made on top of the refused change' : 'refused'})
              <details class="tech"><summary>Details for support</summary><code>{r.code} {r.id}: {r.reason}</code></details>
            </li>
          ))}
        </ul>
      ) : null}
      <button type="button" disabled={action.busy} onClick={() => void action.run(() => client.retryDeadLetter(handle.id))}>Send again</button>
      <Alert error={action.error} onClose={action.clear} />
    </div>
  )
}

const INCOTERMS = ['', 'EXW', 'FCA', 'FAS', 'FOB', 'CFR', 'CIF', 'CPT', 'CIP', 'DAP', 'DPU', 'DDP']

function HeaderForm({ handle, rules }: { readonly handle: PurchaseHandle; readonly rules: OrderRules }) {
  const state = handle.state()
  const can = rules.edit('the order')
  const editable = can.allowed
  const h = state.header
  const set = (field: HeaderField) => (v: string) => handle.run((r) => r.setHeader(field, v === '' && (field === 'orderDate' || field === 'requiredBy') ? null : v))
  const suppliers = state.supplier.values
  return (
    <>
    {can.why !== undefined ? <p class="why" data-testid="why-header">{can.why}</p> : null}
    <div class="grid header-form">
      {suppliers.length > 1 ? (
        <div class="field conflicted">
          <span class="label">Supplier</span>
          <p>{suppliers.join(' or ')} <span class="pill conflict">two values: resolve below</span></p>
        </div>
      ) : (
        <CommitInput label="Supplier" value={suppliers[0] ?? ''} disabled={!editable} testId="supplier"
          onCommit={(v) => handle.run((r) => r.setSupplier(v))} />
      )}
      <CommitInput label="Order date" type="date" value={h.orderDate ?? ''} disabled={!editable} onCommit={set('orderDate')} />
      <CommitInput label="Required by" type="date" value={h.requiredBy ?? ''} disabled={!editable} onCommit={set('requiredBy')} />
      <CommitInput label="Payment term" value={h.paymentTerm} disabled={!editable} placeholder="30 days net" onCommit={set('paymentTerm')} />
      <CommitSelect label="Incoterm" value={h.incoterm} disabled={!editable} onCommit={set('incoterm')}
        options={INCOTERMS.map((c) => ({ value: c, label: c === '' ? '—' : c }))} />
      <CommitInput label="Buyer" value={h.buyer} disabled={!editable} onCommit={set('buyer')} />
      <CommitInput label="Supplier reference" value={h.supplierRef} disabled={!editable} onCommit={set('supplierRef')} />
      <CommitInput label="Exchange rate" inputMode="decimal" value={state.fxRate.values.map((v) => inputValue(v)).join(' / ')} disabled={!editable || state.fxRate.values.length > 1}
        numberDigits={4} placeholder="1" hint="Units of company currency per unit of order currency"
        onCommit={(v) => handle.run((r) => r.setFxRate(parseOptionalNumber(v) || '1'))} />
    </div>
    </>
  )
}

function Lifecycle({ handle, rules }: { readonly handle: PurchaseHandle; readonly rules: OrderRules }) {
  const state = handle.state()
  const action = useAction(orderMoney(state))
  const [holdReason, setHoldReason] = useState('')
  return (
    <section class="lifecycle" aria-label="Status actions">
      <div class="actions" role="group" aria-label="Move the order on">
        {rules.offered.map((a) => {
          const can = rules.transition(a)
          return can.allowed ? (
            <button key={a} type="button" data-action={a} class={RISKY_ACTIONS.has(a) ? 'secondary' : 'primary'} disabled={action.busy}
              onClick={() => void action.run(() => handle.run((r) => r.transition(a)))}>{ACTION_LABEL[a]}</button>
          ) : <NotNow key={a} label={ACTION_LABEL[a]} why={can.why} />
        })}
        {state.hold.on ? (
          <button type="button" class="secondary" onClick={() => void action.run(() => handle.run((r) => r.setHold(false)))}>Release hold</button>
        ) : (
          <details class="hold">
            <summary>Put on hold…</summary>
            <form onSubmit={(e) => {
              e.preventDefault()
              void action.run(() => handle.run((r) => r.setHold(true, holdReason))).then((ok) => ok && setHoldReason(''))
            }}>
              <label for="hold-reason">Reason</label>
              <input id="hold-reason" value={holdReason} onInput={(e) => setHoldReason(e.currentTarget.value)} placeholder="Waiting for budget" />
              <button type="submit" class="secondary">Hold</button>
            </form>
          </details>
        )}
      </div>
      <Alert error={action.error} onClose={action.clear} />
    </section>
  )
}

function Totals({ state, shown, previewing, handle, rules }: {
  readonly state: PurchaseState
  readonly shown: PurchaseDerived
  readonly previewing: boolean
  readonly handle: PurchaseHandle
  readonly rules: OrderRules
}) {
  const m = orderMoney(state)
  const t = shown.totals
  const cur = currencyOf(state)
  const action = useAction(m)
  // Taxes by rate, not by code as text ("VAT 5.5 %" before "VAT 10 %").
  const taxes = [...t.taxByCode].sort(([a], [b]) => taxRate(a, state) - taxRate(b, state))
  const stated = state.statedTotal.values
  const statedMismatch = stated.some((v) => v !== null && BigInt(v) !== t.total)
  return (
    <section class="card totals" aria-labelledby="totals-title" data-testid="totals">
      <h2 id="totals-title">Totals <span class="muted">{cur}</span></h2>
      {previewing ? <p class="preview-note" role="status">Preview of what you are typing; saved when you leave the field.</p> : null}
      <dl>
        <dt>Untaxed</dt><dd data-testid="total-untaxed">{money(t.untaxed, m)}</dd>
        {taxes.map(([code, v]) => [<dt key={`t-${code}`} class="sub">{taxName(code, state)}</dt>, <dd key={`v-${code}`} class="sub">{money(v, m)}</dd>])}
        <dt>Tax</dt><dd data-testid="total-tax">{money(t.tax, m)}</dd>
        {t.roundingAdjustment !== 0n ? [<dt key="ra" class="sub">Rounding adjustment</dt>, <dd key="rav" class="sub">{money(t.roundingAdjustment, m)}</dd>] : null}
        <dt class="grand">Total</dt><dd class="grand" data-testid="total">{money(t.total, m)}</dd>
        {stated.length > 0 ? [
          <dt key="st">Stated total</dt>,
          <dd key="stv" class={statedMismatch ? 'bad' : undefined}>{stated.map((v) => v === null ? 'withdrawn' : money(BigInt(v), m)).join(' / ')}</dd>,
        ] : null}
        <dt>Paid</dt><dd data-testid="total-paid">{money(t.paid, m)}</dd>
        <dt>Due</dt><dd data-testid="total-due">{money(t.due, m)}</dd>
      </dl>
      <ul class="flow">
        <li>Received {qty(String(shown.percentReceived))} % <span class={`pill flow-${shown.receiptStatus}`}>{shown.receiptStatus.toLowerCase()}</span></li>
        <li>Billed {qty(String(shown.percentBilled))} % <span class={`pill flow-${shown.billingStatus}`}>{shown.billingStatus.toLowerCase()}</span></li>
        <li>Payment <span class={`pill flow-${shown.paymentStatus}`}>{shown.paymentStatus.toLowerCase()}</span></li>
      </ul>
      {!previewing && (stated.length !== 1 || statedMismatch) && state.lines.some((l) => !l.removed) ? (
        !rules.commitTotal().allowed ? <NotNow label="Commit to this total" why={rules.commitTotal().why} class="link" /> :
        <button type="button" class="link" onClick={() => void action.run(() => handle.run((r) => r.setStatedTotal(canonicalMoney(t.total, m.exponent))))}
          title="Record this total as the amount the order commits to (what the supplier was sent)">
          Commit to this total
        </button>
      ) : null}
      <Alert error={action.error} onClose={action.clear} />
    </section>
  )
}
