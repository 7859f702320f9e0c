/**
 * Order lines: edit quantity, price, discount and taxes in place, with the
 * line amount and the order totals recomputed while typing; add, remove,
 * restore and reorder (fractional index: one write, no renumbering).
 */
import { useRef, useState } from 'preact/hooks'
import type { LineId, PurchaseDerived, PurchaseLine } from '@concord/core'
import type { PurchaseHandle } from '../client-api.js'
import { type OrderMoney, inputValue, money, orderMoney, parseNumber, parseOptionalNumber, qty } from '../format.js'
import { useAction } from '../hooks.js'
import { Alert, CommitInput, Field, formValues } from './fields.js'
import type { LinePreview } from './preview.js'

/** Tax rates offered in the demo; each line keeps a snapshot of the rate it was given. */
export const TAX_PRESETS = [
  { code: 'VAT20', name: 'VAT 20%', rate: '20' },
  { code: 'VAT10', name: 'VAT 10%', rate: '10' },
  { code: 'VAT5_5', name: 'VAT 5.5%', rate: '5.5' },
  { code: 'ST7_5', name: 'Sales tax 7.5%', rate: '7.5' },
  { code: 'ZERO', name: 'Zero-rated', rate: '0' },
] as const

export function Lines({ handle, shown, editable, onPreview }: {
  readonly handle: PurchaseHandle
  readonly shown: PurchaseDerived
  readonly editable: boolean
  readonly onPreview: (p: LinePreview | null) => void
}) {
  const state = handle.state()
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
              <LineRow key={l.id} line={l} index={i} count={live.length} handle={handle} shown={shown} editable={editable}
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
      {editable ? <AddLine handle={handle} /> : <p class="muted small">Lines can be changed while the order is a draft, sent, to approve or confirmed.</p>}
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

function LineRow({ line: l, index, count, handle, shown, editable, onPreview, onMove, m }: {
  readonly line: PurchaseLine
  readonly index: number
  readonly count: number
  readonly handle: PurchaseHandle
  readonly shown: PurchaseDerived
  readonly editable: boolean
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
  const addable = TAX_PRESETS.filter((p) => !l.taxes.some((x) => x.code === p.code))
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
        {editable && addable.length > 0 ? (
          <select aria-label={`Add a tax to ${name}`} value="" onChange={(e) => {
            const p = TAX_PRESETS.find((x) => x.code === e.currentTarget.value)
            e.currentTarget.value = ''
            if (p !== undefined) void action.run(() => handle.run((r) => r.setLineTax(l.id, p, true)))
          }}>
            <option value="">+ tax</option>
            {addable.map((p) => <option key={p.code} value={p.code}>{taxLabel(p)}</option>)}
          </select>
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
            <button type="button" aria-label={`Remove ${name}`} class="danger" onClick={() => void action.run(() => handle.run((r) => r.removeLine(l.id as LineId)))}>✕</button>
          </div>
        ) : null}
        {action.error !== null ? <Alert error={action.error} onClose={action.clear} /> : null}
      </td>
    </tr>
  )
}

/** "VAT 5,5 %" in de-DE: the tax's name with its rate as a locale number. */
function taxLabel(t: { readonly name: string; readonly rate: string }): string {
  const base = t.name.replace(/\s*\d+(\.\d+)?%$/, '')
  return t.rate === '0' && !/\d/.test(t.name) ? t.name : `${base} ${qty(t.rate)} %`
}

function AddLine({ handle }: { readonly handle: PurchaseHandle }) {
  const m = orderMoney(handle.state())
  const action = useAction(m)
  const form = useRef<HTMLFormElement>(null)
  const submit = (e: Event) => {
    e.preventDefault()
    const v = formValues(e.currentTarget as HTMLFormElement)
    const tax = TAX_PRESETS.find((p) => p.code === v.tax)
    void action.run(() => handle.run((r) => r.addLine({
      product: v.product ?? '',
      qty: parseNumber(v.qty ?? ''),
      price: parseNumber(v.price ?? ''),
      ...(v.discount ? { discount: parseOptionalNumber(v.discount) } : {}),
      ...(v.uom ? { uom: v.uom } : {}),
      kind: v.kind === 'service' ? 'service' : 'goods',
      taxes: tax === undefined ? [] : [tax],
    }))).then((ok) => {
      if (ok && form.current !== null) {
        form.current.reset()
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
          <select id="add-tax" name="tax">
            <option value="">No tax</option>
            {TAX_PRESETS.map((p) => <option key={p.code} value={p.code}>{taxLabel(p)}</option>)}
          </select>
        </div>
        <div class="field">
          <label for="add-kind">Kind</label>
          <select id="add-kind" name="kind">
            <option value="goods">Goods (received)</option>
            <option value="service">Service (billed only)</option>
          </select>
        </div>
      </div>
      <Alert error={action.error} onClose={action.clear} />
      <button type="submit" class="primary" disabled={action.busy}>Add line</button>
    </form>
  )
}
