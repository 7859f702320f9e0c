/**
 * Goods and money: receipts (with the delivery note) and returns, bills,
 * payments and refunds. They are append-only events: a mistake is corrected
 * by voiding, never by editing, so each entry keeps who recorded it, where
 * and when. Returns and refunds are how goods and money go back, in any
 * state: they are also what settles activity on a cancelled order.
 */
import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import { type LineId, type PurchaseState, type RecordId, type VoidableSet, parseMinor } from '@concord/core'
import type { PurchaseHandle } from '../client-api.js'
import { money, orderMoney, parseNumber, qty, when } from '../format.js'
import { useAction } from '../hooks.js'
import type { OrderRules } from '../what-is-allowed.js'
import { Alert, Field, NotNow, formValues } from './fields.js'

export function GoodsAndMoney({ handle, rules }: { readonly handle: PurchaseHandle; readonly rules: OrderRules }) {
  const state = handle.state()
  return (
    <section class="card" aria-labelledby="gm-title">
      <h2 id="gm-title">Goods and money</h2>
      <Receipts handle={handle} state={state} rules={rules} />
      <Returns handle={handle} state={state} rules={rules} />
      <Bills handle={handle} state={state} rules={rules} />
      <Payments handle={handle} state={state} rules={rules} />
      <Refunds handle={handle} state={state} rules={rules} />
    </section>
  )
}

function lineName(state: PurchaseState, id: LineId): string {
  return state.lines.find((l) => l.id === id)?.product ?? 'removed line'
}

/** The amount field of a form in the locale's format, as the canonical decimal a command takes (throws, in words, when it is not a number). */
const num = (v: string | undefined) => parseNumber(v ?? '')

function LineSelect({ state, id, goodsOnly, only }: {
  readonly state: PurchaseState
  readonly id: string
  readonly goodsOnly: boolean
  readonly only?: (id: LineId) => boolean
}) {
  const lines = state.lines.filter((l) => !l.removed && (!goodsOnly || l.kind === 'goods') && (only === undefined || only(l.id)))
  return (
    <div class="field">
      <label for={id}>Line</label>
      <select id={id} name="line" required>
        {lines.map((l, i) => <option key={l.id} value={l.id}>{i + 1}. {l.product} ({qty(l.qty)} {l.uom})</option>)}
      </select>
    </div>
  )
}

function VoidButton({ handle, set, target, label }: { readonly handle: PurchaseHandle; readonly set: VoidableSet; readonly target: RecordId; readonly label: string }) {
  const [open, setOpen] = useState(false)
  const [reason, setReason] = useState('')
  const action = useAction()
  if (!open) return <button type="button" class="link" onClick={() => setOpen(true)} aria-label={`Void ${label}`}>Void</button>
  return (
    <form class="void" onSubmit={(e) => {
      e.preventDefault()
      void action.run(() => handle.run((r) => r.voidRecord(set, target, reason))).then((ok) => ok && setOpen(false))
    }}>
      <label>
        <span class="sr-only">Reason to void {label}</span>
        <input value={reason} required placeholder="Reason" onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      <button type="submit" class="secondary">Void</button>
      <button type="button" class="link" onClick={() => setOpen(false)}>Keep</button>
      <Alert error={action.error} />
    </form>
  )
}

/** One receipt, return, bill, payment or refund: who recorded it, and a void (or the mark of one). */
function RecordRow({ handle, set, record, label, children }: {
  readonly handle: PurchaseHandle
  readonly set: VoidableSet
  readonly record: { readonly id: RecordId; readonly by: string; readonly dev: string; readonly at: string }
  readonly label: string
  readonly children: ComponentChildren
}) {
  const voided = handle.derived().voided.has(record.id)
  return (
    <li class={voided ? 'voided' : undefined}>
      {children}{' '}
      <Who r={record} />
      {voided ? <span class="pill">void</span> : <VoidButton handle={handle} set={set} target={record.id} label={label} />}
    </li>
  )
}

function Who({ r }: { readonly r: { by: string; dev: string; at: string } }) {
  return <span class="muted small">{r.by || 'someone'} · {r.dev || 'unknown device'} · {when(r.at)}</span>
}

function Receipts({ handle, state, rules }: { readonly handle: PurchaseHandle; readonly state: PurchaseState; readonly rules: OrderRules }) {
  const action = useAction(orderMoney(state))
  const can = rules.receive()
  return (
    <div class="records" data-testid="receipts">
      <h3>Receipts</h3>
      {state.receipts.length === 0 ? <p class="muted small">Nothing received yet.</p> : (
        <ul>
          {state.receipts.map((r) => (
            <RecordRow key={r.id} handle={handle} set="receipts" record={r} label={`receipt ${r.deliveryNote}`}>
              <span><strong>{qty(r.qty)}</strong> × {lineName(state, r.line)} · note <strong>{r.deliveryNote}</strong> · {r.date}</span>
            </RecordRow>
          ))}
        </ul>
      )}
      {!can.allowed ? <NotNow label="Record receipt" why={can.why} /> : (
        <form class="inline-form" data-testid="receipt-form" onSubmit={(e) => {
          e.preventDefault()
          const f = e.currentTarget as HTMLFormElement
          const v = formValues(f)
          void action.run(() => handle.run((r) => r.recordReceipt({ line: v.line as LineId, qty: num(v.qty), deliveryNote: v.note ?? '', ...(v.date ? { date: v.date } : {}) })))
            .then((ok) => ok && f.reset())
        }}>
          <LineSelect state={state} id="receipt-line" goodsOnly only={rules.receivable} />
          <Field label="Quantity received" name="qty" required numberDigits={2} />
          <Field label="Delivery note" name="note" required placeholder="DN-1234" />
          <Field label="Date" name="date" type="date" />
          <button type="submit" class="primary" disabled={action.busy}>Record receipt</button>
          <Alert error={action.error} onClose={action.clear} />
        </form>
      )}
    </div>
  )
}

function Returns({ handle, state, rules }: { readonly handle: PurchaseHandle; readonly state: PurchaseState; readonly rules: OrderRules }) {
  const action = useAction(orderMoney(state))
  // What can go back: goods received and not yet returned (the derived quantity is net of returns).
  const returnable = rules.returnable
  const any = rules.returnGoods().allowed
  if (state.returns.length === 0 && !any) return null
  return (
    <div class="records" data-testid="returns">
      <h3>Returns</h3>
      {state.returns.length === 0 ? <p class="muted small">Nothing returned.</p> : (
        <ul>
          {state.returns.map((r) => (
            <RecordRow key={r.id} handle={handle} set="returns" record={r} label={`return of ${qty(r.qty)} ${lineName(state, r.line)}`}>
              <span><strong>{qty(r.qty)}</strong> × {lineName(state, r.line)} returned{r.reason ? <> · {r.reason}</> : null} · {r.date}</span>
            </RecordRow>
          ))}
        </ul>
      )}
      {any ? (
        <form class="inline-form" data-testid="return-form" onSubmit={(e) => {
          e.preventDefault()
          const f = e.currentTarget as HTMLFormElement
          const v = formValues(f)
          void action.run(() => handle.run((r) => r.recordReturn({ line: v.line as LineId, qty: num(v.qty), reason: v.reason ?? '', ...(v.date ? { date: v.date } : {}) })))
            .then((ok) => ok && f.reset())
        }}>
          <LineSelect state={state} id="return-line" goodsOnly only={returnable} />
          <Field label="Quantity returned" name="qty" required numberDigits={2} />
          <Field label="Reason" name="reason" placeholder="Damaged in transit" />
          <Field label="Date" name="date" type="date" />
          <button type="submit" class="secondary" disabled={action.busy}>Record return</button>
          <Alert error={action.error} onClose={action.clear} />
        </form>
      ) : null}
    </div>
  )
}

function Bills({ handle, state, rules }: { readonly handle: PurchaseHandle; readonly state: PurchaseState; readonly rules: OrderRules }) {
  const action = useAction(orderMoney(state))
  const can = rules.bill()
  return (
    <div class="records" data-testid="bills">
      <h3>Bills</h3>
      {state.bills.length === 0 ? <p class="muted small">No bills yet.</p> : (
        <ul>
          {state.bills.map((b) => (
            <RecordRow key={b.id} handle={handle} set="bills" record={b} label={`bill ${b.ref}`}>
              <span><strong>{qty(b.qty)}</strong> × {lineName(state, b.line)} · bill <strong>{b.ref}</strong> · {b.date}</span>
            </RecordRow>
          ))}
        </ul>
      )}
      {!can.allowed ? <NotNow label="Record bill" why={can.why} /> : (
        <form class="inline-form" data-testid="bill-form" onSubmit={(e) => {
          e.preventDefault()
          const f = e.currentTarget as HTMLFormElement
          const v = formValues(f)
          void action.run(() => handle.run((r) => r.recordBill({ line: v.line as LineId, qty: num(v.qty), ref: v.ref ?? '', ...(v.date ? { date: v.date } : {}) })))
            .then((ok) => ok && f.reset())
        }}>
          <LineSelect state={state} id="bill-line" goodsOnly={false} only={rules.billable} />
          <Field label="Quantity billed" name="qty" required numberDigits={2} />
          <Field label="Supplier bill ref." name="ref" required placeholder="INV-889" />
          <Field label="Date" name="date" type="date" />
          <button type="submit" class="primary" disabled={action.busy}>Record bill</button>
          <Alert error={action.error} onClose={action.clear} />
        </form>
      )}
    </div>
  )
}

function Payments({ handle, state, rules }: { readonly handle: PurchaseHandle; readonly state: PurchaseState; readonly rules: OrderRules }) {
  const action = useAction(orderMoney(state))
  const m = orderMoney(state)
  const can = rules.pay()
  return (
    <div class="records" data-testid="payments">
      <h3>Payments</h3>
      {state.payments.length === 0 ? <p class="muted small">No payments yet.</p> : (
        <ul>
          {state.payments.map((p) => (
            <RecordRow key={p.id} handle={handle} set="payments" record={p} label={`payment ${p.ref}`}>
              <span><strong>{money(parseMinor(p.amount), m)}</strong> · ref <strong>{p.ref}</strong> · {p.date}</span>
            </RecordRow>
          ))}
        </ul>
      )}
      {!can.allowed ? <NotNow label="Record payment" why={can.why} /> : (
        <form class="inline-form" data-testid="payment-form" onSubmit={(e) => {
          e.preventDefault()
          const f = e.currentTarget as HTMLFormElement
          const v = formValues(f)
          void action.run(() => handle.run((r) => r.recordPayment({ amount: num(v.amount), ref: v.ref ?? '', ...(v.date ? { date: v.date } : {}) })))
            .then((ok) => ok && f.reset())
        }}>
          <Field label={`Amount (${state.currency.values[0] ?? ''})`} name="amount" required numberDigits={m.exponent}
            hint={`Due: ${money(handle.derived().totals.due, m)}.`} />
          <Field label="Payment ref." name="ref" required placeholder="Bank transfer 42" />
          <Field label="Date" name="date" type="date" />
          <button type="submit" class="primary" disabled={action.busy}>Record payment</button>
          <Alert error={action.error} onClose={action.clear} />
        </form>
      )}
    </div>
  )
}

function Refunds({ handle, state, rules }: { readonly handle: PurchaseHandle; readonly state: PurchaseState; readonly rules: OrderRules }) {
  const action = useAction(orderMoney(state))
  const derived = handle.derived()
  const m = orderMoney(state)
  // The derived "paid" is net of refunds: what the supplier still holds of ours.
  const refundable = rules.refund().allowed
  if (state.refunds.length === 0 && !refundable) return null
  return (
    <div class="records" data-testid="refunds">
      <h3>Refunds</h3>
      {state.refunds.length === 0 ? <p class="muted small">No refunds.</p> : (
        <ul>
          {state.refunds.map((p) => (
            <RecordRow key={p.id} handle={handle} set="refunds" record={p} label={`refund ${p.ref}`}>
              {/* A requested refund is not money back yet: recording the refund when it arrives is. */}
              <span><strong>{money(parseMinor(p.amount), m)}</strong> {p.status === 'requested' ? 'requested, not yet received' : 'refunded'} · ref <strong>{p.ref}</strong> · {p.date}</span>
            </RecordRow>
          ))}
        </ul>
      )}
      {refundable ? (
        <form class="inline-form" data-testid="refund-form" onSubmit={(e) => {
          e.preventDefault()
          const f = e.currentTarget as HTMLFormElement
          const v = formValues(f)
          void action.run(() => handle.run((r) => r.recordRefund({ amount: num(v.amount), ref: v.ref ?? '', ...(v.date ? { date: v.date } : {}) })))
            .then((ok) => ok && f.reset())
        }}>
          <Field label={`Refund amount (${state.currency.values[0] ?? ''})`} name="amount" required numberDigits={m.exponent}
            hint={`Paid: ${money(derived.totals.paid, m)}.`} />
          <Field label="Refund ref." name="ref" required placeholder="Credit note CN-7" />
          <Field label="Date" name="date" type="date" />
          <button type="submit" class="secondary" disabled={action.busy}>Record refund</button>
          <Alert error={action.error} onClose={action.clear} />
        </form>
      ) : null}
    </div>
  )
}
