/**
 * Order lines: edit quantity, price, discount and taxes in place, with the
 * line amount and the order totals recomputed while typing; add, remove,
 * restore and reorder (fractional index: one write, no renumbering).
 */
import { useRef, useState } from 'preact/hooks'
import type { LineId, PurchaseDerived, PurchaseLine } from '@concord/core'
import type { PurchaseHandle } from '../client-api.js'
import { type OrderMoney, errorText, inputValue, money, orderMoney, parseNumber, parseOptionalNumber, qty, taxLabel } from '../format.js'
import { useAction } from '../hooks.js'
import { OTHER_RATE, type TaxChoice, taxChoices, taxCodeFor } from '../taxes.js'
import type { OrderRules } from '../what-is-allowed.js'
import { Alert, CommitInput, Field, formValues } from './fields.js'
import type { LinePreview } from './preview.js'

export function Lines({ handle, shown, rules, onPreview }: {
  readonly handle: PurchaseHandle
  readonly shown: PurchaseDerived
  readonly rules: OrderRules
  readonly onPreview: (p: LinePreview | null) => void
}) {
  const state = handle.state()
  const canEdit = rules.edit('its lines')
  const editable = canEdit.allowed
  const canAdd = rules.addLine()
  const live = state.lines.filter((l) => !l.removed)
  const removed = state.lines.filter((l) => l.removed)
  const [showRemoved, setShowRemoved] = useState(false)
  const m = orderMoney(state)
  const action = useAction(m)
  const move = (i: number, dir: -1 | 1) => {
    const l = live[i]!
    const after = dir === -1 ? (i >= 2 ? live[i - 2]!.id : null) : live[i + 1]!.id
    void action.run(() => handle.run((r) => r.moveLine(l.id, after))).then(() => {
      // Keep the keyboard on the line that moved.
      requestAnimationFrame(() => document.getElementById(`move-${dir === -1 ? 'up' : 'down'}-${l.id}`)?.focus())
    })
  }
  return (
    <div>
      {live.length === 0 ? <p class="empty">No lines yet.</p> : (
        <table class="lines" data-testid="lines">
          <caption class="sr-only">Order lines; quantities, prices and discounts save when you leave the field</caption>
          <thead>
            <tr>
              <th scope="col" class="pos">#</th><th scope="col">Product</th><th scope="col" class="num">Qty</th>
              <th scope="col" class="num">Unit price</th><th scope="col" class="num">Disc. %</th><th scope="col">Taxes</th>
              <th scope="col" class="num">Amount</th><th scope="col"><span class="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {live.map((l, i) => (
              <LineRow key={l.id} line={l} index={i} count={live.length} handle={handle} shown={shown} editable={editable} rules={rules}
                onPreview={onPreview} onMove={move} m={m} />
            ))}
          </tbody>
        </table>
      )}
      {live.length > 0 ? (
        <p class="lines-total" aria-hidden="true">
          <span>Untaxed {money(shown.totals.untaxed, m)}</span><span>Tax {money(shown.totals.tax, m)}</span>
          <strong>Total {money(shown.totals.total, m)}</strong>
        </p>
      ) : null}
      <Alert error={action.error} onClose={action.clear} />
      {canAdd.allowed ? <AddLine handle={handle} /> : <p class="why" data-testid="why-lines">{canAdd.why ?? canEdit.why}</p>}
      {removed.length > 0 ? (
        <div class="removed">
          <button type="button" class="link" aria-expanded={showRemoved} onClick={() => setShowRemoved(!showRemoved)}>
            {showRemoved ? 'Hide' : 'Show'} removed lines ({removed.length})
          </button>
          {showRemoved ? (
            <ul>
              {removed.map((l) => (
                <li key={l.id}>
                  <s>{qty(l.qty)} × {l.product}</s>{' '}
                  {editable ? <button type="button" class="link" onClick={() => void action.run(() => handle.run((r) => r.restoreLine(l.id)))}>Restore</button> : null}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </div>
  )
}

function LineRow({ line: l, index, count, handle, shown, editable, rules, onPreview, onMove, m }: {
  readonly line: PurchaseLine
  readonly index: number
  readonly count: number
  readonly handle: PurchaseHandle
  readonly shown: PurchaseDerived
  readonly editable: boolean
  readonly rules: OrderRules
  readonly onPreview: (p: LinePreview | null) => void
  readonly onMove: (i: number, dir: -1 | 1) => void
  readonly m: OrderMoney
}) {
  const t = shown.lines.get(l.id)
  const action = useAction(m)
  const name = `line ${index + 1} (${l.product})`
  const upd = (patch: Parameters<typeof handle.replica.updateLine>[1]) => handle.run((r) => r.updateLine(l.id, patch))
  // The preview follows what is typed once it reads as a number in the locale's format.
  const preview = (field: LinePreview['field']) => (v: string | null) => {
    if (v === null) return onPreview(null)
    try {
      onPreview({ line: l.id, field, value: parseNumber(v) })
    } catch {
      onPreview(null)
    }
  }
  const canRemove = rules.removeLine(l.id)
  return (
    <tr data-testid="line-row" data-line={l.id} data-product={l.product}>
      <td class="pos" data-label="#">{index + 1}</td>
      <td data-label="Product" class="product">
        <CommitInput label={`Product, ${name}`} hideLabel value={l.product} disabled={!editable} onCommit={(v) => upd({ product: v })} testId="line-product" />
        <CommitInput label={`Description, ${name}`} hideLabel value={l.description} disabled={!editable} placeholder="Description"
          class="desc" onCommit={(v) => upd({ description: v })} />
        {l.kind === 'goods' && t !== undefined && (t.received !== '0' || t.billed !== '0') ? (
          <p class="muted small">received {qty(t.received)} · billed {qty(t.billed)}</p>
        ) : l.kind === 'service' ? <p class="muted small">service</p> : null}
      </td>
      <td data-label="Qty" class="num">
        <CommitInput label={`Quantity, ${name}`} hideLabel inputMode="decimal" value={inputValue(l.qty)} disabled={!editable}
          numberDigits={2} money={m} onDraft={preview('qty')} onCommit={(v) => upd({ qty: parseNumber(v) })} testId="line-qty" />
        <span class="muted small">{l.uom}</span>
      </td>
      <td data-label="Unit price" class="num">
        <CommitInput label={`Unit price, ${name}`} hideLabel inputMode="decimal" value={inputValue(l.price.amount, m.exponent)} disabled={!editable}
          numberDigits={m.exponent} money={m} onDraft={preview('price')} onCommit={(v) => upd({ price: parseNumber(v) })} testId="line-price" />
      </td>
      <td data-label="Disc. %" class="num">
        <CommitInput label={`Discount percent, ${name}`} hideLabel inputMode="decimal" value={inputValue(l.discount)} disabled={!editable}
          numberDigits={2} money={m} onDraft={preview('discount')} onCommit={(v) => upd({ discount: parseNumber(v) })} testId="line-discount" />
      </td>
      <td data-label="Taxes" class="taxes">
        <ul class="chips" aria-label={`Taxes, ${name}`}>
          {l.taxes.map((x) => (
            <li key={x.code} class="chip">
              {taxLabel(x)}
              {editable ? (
                <button type="button" aria-label={`Remove ${x.name} from ${name}`}
                  onClick={() => void action.run(() => handle.run((r) => r.setLineTax(l.id, x, false)))}>×</button>
              ) : null}
            </li>
          ))}
        </ul>
        {editable ? (
          <AddTax label={`Add a tax to ${name}`} choices={taxChoices(handle.state()).filter((p) => !l.taxes.some((x) => x.code === p.code))}
            onAdd={(t) => action.run(() => handle.run((r) => r.setLineTax(l.id, t, true)))} />
        ) : null}
      </td>
      <td data-label="Amount" class="num amount" data-testid="line-amount">
        {t === undefined ? '' : money(t.amount, m)}
        {t !== undefined && t.tax !== 0n ? <span class="muted small block">+ tax {money(t.tax, m)}</span> : null}
      </td>
      <td class="row-actions">
        {editable ? (
          <div role="group" aria-label={`Actions, ${name}`}>
            <button type="button" id={`move-up-${l.id}`} aria-label={`Move ${name} up`} disabled={index === 0} onClick={() => onMove(index, -1)}>↑</button>
            <button type="button" id={`move-down-${l.id}`} aria-label={`Move ${name} down`} disabled={index === count - 1} onClick={() => onMove(index, 1)}>↓</button>
            <button type="button" aria-label={`Remove ${name}`} class="danger" disabled={!canRemove.allowed}
              aria-describedby={canRemove.allowed ? undefined : `why-remove-${l.id}`}
              onClick={() => void action.run(() => handle.run((r) => r.removeLine(l.id as LineId)))}>✕</button>
          </div>
        ) : null}
        {editable && !canRemove.allowed ? <p id={`why-remove-${l.id}`} class="why small">{canRemove.why}</p> : null}
        {action.error !== null ? <Alert error={action.error} onClose={action.clear} /> : null}
      </td>
    </tr>
  )
}

/**
 * A tax for a line: one of the order's choices, or another rate entered by
 * name and percent in the locale's format. Resolves to true once added.
 */
function AddTax({ label, choices, onAdd }: {
  readonly label: string
  readonly choices: readonly TaxChoice[]
  readonly onAdd: (t: TaxChoice) => Promise<boolean>
}) {
  const [other, setOther] = useState(false)
  const [error, setError] = useState<string | null>(null)
  if (other) {
    return (
      <form class="other-tax" aria-label={label} onSubmit={(e) => {
        e.preventDefault()
        const f = e.currentTarget as HTMLFormElement
        const t = otherTax(formValues(f), setError)
        if (t !== null) void onAdd(t).then((ok) => ok && setOther(false))
      }}>
        <OtherTaxFields />
        {error !== null ? <Alert error={error} onClose={() => setError(null)} /> : null}
        <button type="submit" class="secondary">Add tax</button>
        <button type="button" class="link" onClick={() => setOther(false)}>Cancel</button>
      </form>
    )
  }
  return (
    <select aria-label={label} value="" onChange={(e) => {
      const v = e.currentTarget.value
      e.currentTarget.value = ''
      if (v === OTHER_RATE) return setOther(true)
      const p = choices.find((x) => x.code === v)
      if (p !== undefined) void onAdd(p)
    }}>
      <option value="">+ tax</option>
      {choices.map((p) => <option key={p.code} value={p.code}>{taxLabel(p)}</option>)}
      <option value={OTHER_RATE}>Other rate…</option>
    </select>
  )
}

function OtherTaxFields() {
  return (
    <>
      <Field label="Tax name" name="taxName" required placeholder="VAT" />
      <Field label="Tax rate %" name="taxRate" required numberDigits={1} />
    </>
  )
}

/** The tax a person entered by name and rate (the rate in the locale's format), or null with the reason set. */
function otherTax(v: Record<string, string>, onError: (why: string) => void): TaxChoice | null {
  const name = (v.taxName ?? '').trim()
  if (name === '') {
    onError('Give the tax a name.')
    return null
  }
  let rate: string
  try {
    rate = parseNumber(v.taxRate ?? '')
  } catch (e) {
    onError(errorText(e))
    return null
  }
  if (Number(rate) < 0 || Number(rate) > 100) {
    onError('A tax rate is between 0 and 100 %.')
    return null
  }
  return { code: taxCodeFor(name, rate), name, rate }
}

function AddLine({ handle }: { readonly handle: PurchaseHandle }) {
  const m = orderMoney(handle.state())
  const action = useAction(m)
  const form = useRef<HTMLFormElement>(null)
  const [other, setOther] = useState(false)
  const [taxError, setTaxError] = useState<string | null>(null)
  const choices = taxChoices(handle.state())
  const submit = (e: Event) => {
    e.preventDefault()
    const v = formValues(e.currentTarget as HTMLFormElement)
    setTaxError(null)
    const tax = v.tax === OTHER_RATE ? otherTax(v, setTaxError) : choices.find((p) => p.code === v.tax)
    if (v.tax === OTHER_RATE && tax === null) return
    void action.run(() => handle.run((r) => r.addLine({
      product: v.product ?? '',
      qty: parseNumber(v.qty ?? ''),
      price: parseNumber(v.price ?? ''),
      ...(v.discount ? { discount: parseOptionalNumber(v.discount) } : {}),
      ...(v.uom ? { uom: v.uom } : {}),
      kind: v.kind === 'service' ? 'service' : 'goods',
      taxes: tax == null ? [] : [tax],
    }))).then((ok) => {
      if (ok && form.current !== null) {
        form.current.reset()
        setOther(false)
        form.current.querySelector<HTMLInputElement>('input[name=product]')?.focus()
      }
    })
  }
  return (
    <form class="add-line" ref={form} onSubmit={submit} aria-labelledby="add-line-title" data-testid="add-line">
      <h3 id="add-line-title">Add a line</h3>
      <div class="grid">
        <Field label="Product" name="product" required class="wide" />
        <Field label="Quantity" name="qty" required value={undefined} numberDigits={2} />
        <Field label="Unit" name="uom" placeholder="unit" />
        <Field label="Unit price" name="price" required numberDigits={m.exponent} />
        <Field label="Discount %" name="discount" numberDigits={2} />
        <div class="field">
          <label for="add-tax">Tax</label>
          <select id="add-tax" name="tax" onChange={(e) => setOther(e.currentTarget.value === OTHER_RATE)}>
            <option value="">No tax</option>
            {choices.map((p) => <option key={p.code} value={p.code}>{taxLabel(p)}</option>)}
            <option value={OTHER_RATE}>Other rate…</option>
          </select>
        </div>
        {other ? <OtherTaxFields /> : null}
        <div class="field">
          <label for="add-kind">Kind</label>
          <select id="add-kind" name="kind">
            <option value="goods">Goods (received)</option>
            <option value="service">Service (billed only)</option>
          </select>
        </div>
      </div>
      {taxError !== null ? <Alert error={taxError} onClose={() => setTaxError(null)} /> : null}
      <Alert error={action.error} onClose={action.clear} />
      <button type="submit" class="primary" disabled={action.busy}>Add line</button>
    </form>
  )
}
