/**
 * The conflicts of one purchase and the resolution dialog: both sides (who,
 * on which device, when, what they did), the facts, and the options core
 * offers for that kind (docs/DOMAIN.md), default first. A resolution is an
 * ordinary event, so it clears the conflict on every device that receives it.
 */
import { useEffect, useId, useRef, useState } from 'preact/hooks'
import { type Conflict, type ConflictBranch, type PurchaseState, type ResolutionOption, KIND_LABEL, majorToMinor, parseMinor } from '@concord/core'
import type { PurchaseHandle } from '../client-api.js'
import { ACTION_LABEL, branchText, numberExample, optionLabel, conflictFacts, money, orderMoney, parseNumber, qty, subjectText, taxName, when } from '../format.js'
import { useAction, useApp } from '../hooks.js'
import { Alert } from './fields.js'

export function ConflictPanel({ handle }: { readonly handle: PurchaseHandle }) {
  const conflicts = handle.conflicts()
  const [open, setOpen] = useState<string | null>(null)
  const state = handle.state()
  if (conflicts.length === 0) return null
  const current = conflicts.find((c) => c.id === open)
  return (
    <section class="conflicts" aria-labelledby="conflicts-title" data-testid="conflicts">
      <h2 id="conflicts-title">{conflicts.length === 1 ? '1 conflict to resolve' : `${conflicts.length} conflicts to resolve`}</h2>
      <ul>
        {conflicts.map((c) => (
          <li key={c.id} data-testid="conflict" data-kind={c.kind} data-id={c.id} class={`sev-${c.severity}`}>
            <div>
              <strong>{KIND_LABEL[c.kind] ?? c.kind}</strong>
              <span class={`pill sev sev-${c.severity}`}>{c.severity === 'BLOCKING' ? 'blocking' : c.severity === 'REVIEW' ? 'review' : 'suggestion'}</span>
              {c.deferred ? <span class="pill">deferred</span> : null}
              <p class="small">{subjectText(c, state)} · {conflictFacts(c, state).filter(([k]) => k !== 'Line').map(([k, v]) => `${k.toLowerCase()} ${v}`).join(', ')}</p>
            </div>
            <button type="button" class="primary" onClick={() => setOpen(c.id)} aria-haspopup="dialog">Resolve…</button>
          </li>
        ))}
      </ul>
      {current !== undefined ? <ResolveDialog handle={handle} conflict={current} onClose={() => setOpen(null)} /> : null}
    </section>
  )
}

/** A readable name for an option's choice: record ids become "6 received on DN-1 by Bob". */
function choiceLabel(value: string, param: string, c: Conflict, state: PurchaseState): string {
  const m = orderMoney(state)
  if (param === 'tax') return value === 'none' ? 'No tax' : taxName(value, state)
  const rec = state.receipts.find((r) => r.id === value)
  if (rec !== undefined) return `${qty(rec.qty)} received on note ${rec.deliveryNote} by ${rec.by || 'someone'} (${when(rec.at)})`
  const bill = state.bills.find((b) => b.id === value)
  if (bill !== undefined) return `bill ${bill.ref}: ${qty(bill.qty)} by ${bill.by || 'someone'}`
  const pay = state.payments.find((p) => p.id === value)
  if (pay !== undefined) return `${money(parseMinor(pay.amount), m)} paid, ref ${pay.ref}, by ${pay.by || 'someone'}`
  const line = state.lines.find((l) => l.id === value)
  if (line !== undefined) return `${qty(line.qty)} × ${line.product} (added by ${line.created.by || 'someone'})`
  const tr = state.transitions.find((t) => t.ev === value || t.id === value)
  if (tr !== undefined) return `${ACTION_LABEL[tr.action as keyof typeof ACTION_LABEL] ?? tr.action} by ${tr.by || 'someone'} (${when(tr.at)})`
  const res = state.resolutions.find((r) => r.id === value)
  if (res !== undefined) return `${c.options.find((o) => o.id === res.option)?.label ?? 'an earlier resolution'} by ${res.by || 'someone'}`
  if (c.kind === 'TOTAL_MISMATCH' && /^-?\d+$/.test(value)) return money(BigInt(value), m)
  if (/^-?\d+(\.\d+)?$/.test(value)) return qty(value)
  return value
}

function Branch({ b, mine, c, state }: { readonly b: ConflictBranch; readonly mine: boolean; readonly c: Conflict; readonly state: PurchaseState }) {
  return (
    <li class={`branch ${mine ? 'mine' : 'theirs'}`} data-testid="branch">
      <p class="side">{mine ? 'This device' : 'Another device'}</p>
      <p class="what">{branchText(c, b.summary, state)}</p>
      <p class="muted small"><span class="who">{b.by || 'someone'}</span> · {b.device || 'unknown device'} · <time dateTime={b.at}>{when(b.at)}</time></p>
    </li>
  )
}

export function ResolveDialog({ handle, conflict: c, onClose }: {
  readonly handle: PurchaseHandle
  readonly conflict: Conflict
  readonly onClose: () => void
}) {
  const { identity } = useApp()
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  const state = handle.state()
  const [option, setOption] = useState<string>(c.options[0]?.id ?? 'defer')
  const [params, setParams] = useState<Record<string, string>>({})
  const [note, setNote] = useState('')
  const action = useAction(orderMoney(state))

  useEffect(() => {
    const d = ref.current
    if (d !== null && !d.open) d.showModal()
    return () => d?.close()
  }, [])

  const spec = c.options.find((o) => o.id === option)
  const submit = (e: Event) => {
    e.preventDefault()
    if (spec === undefined) return
    void action.run(() => {
      const values: Record<string, string> = {}
      for (const p of spec.params) {
        if (p.name === 'note') continue
        const v = params[`${option}.${p.name}`] ?? p.choices?.[0] ?? ''
        values[p.name] = c.kind === 'TOTAL_MISMATCH' && option === 'custom' && p.name === 'value' && v !== ''
          ? safeMinor(v, state.settings.currencyExponent) : v
      }
      return handle.run((r) => r.resolve(c.id, option, values, note))
    }).then((ok) => ok && onClose())
  }
  // Sides: the branches written on this device first.
  const branches = [...c.branches].sort((a, b) => Number(b.device === identity.device) - Number(a.device === identity.device))
  return (
    <dialog ref={ref} class="resolve" aria-labelledby={titleId} data-testid="resolve-dialog" onClose={onClose}
      onCancel={(e) => {
        e.preventDefault()
        onClose()
      }}>
      <form method="dialog" onSubmit={submit}>
        <header>
          <h2 id={titleId}>{KIND_LABEL[c.kind] ?? c.kind}</h2>
          <p class="muted small">{subjectText(c, state)} · <span class={`pill sev sev-${c.severity}`}>{c.severity === 'BLOCKING' ? 'blocking' : c.severity === 'REVIEW' ? 'review' : 'suggestion'}</span></p>
        </header>
        <h3>Both sides</h3>
        <ul class="branches">
          {branches.map((b) => <Branch key={`${b.ev}-${b.summary}`} b={b} mine={b.device === identity.device} c={c} state={state} />)}
        </ul>
        <h3>Facts</h3>
        <dl class="facts" data-testid="facts">
          {conflictFacts(c, state).map(([k, v], i) => [<dt key={`k-${i}`}>{k}</dt>, <dd key={`v-${i}`}>{v}</dd>])}
        </dl>
        <details class="tech small">
          <summary>Details for support</summary>
          <code>{c.kind} {c.id} on {c.subject}: {JSON.stringify(c.facts)}</code>
        </details>
        <fieldset class="options">
          <legend>How to resolve it</legend>
          {c.options.map((o, i) => (
            <OptionRow key={o.id} o={o} first={i === 0} checked={option === o.id} onPick={() => setOption(o.id)}
              params={params} setParam={(k, v) => setParams({ ...params, [`${o.id}.${k}`]: v })} conflict={c} state={state} />
          ))}
        </fieldset>
        <div class="field">
          <label for={`${titleId}-note`}>Note (optional, kept in the history)</label>
          <textarea id={`${titleId}-note`} rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        </div>
        <Alert error={action.error} />
        <footer>
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
          <button type="submit" class="primary" disabled={action.busy}>Resolve</button>
        </footer>
      </form>
    </dialog>
  )
}

/** The custom total typed in the locale's format, as the minor units the option takes; throws in words when it is not a number. */
function safeMinor(major: string, exp: 0 | 1 | 2 | 3 | 4): string {
  return majorToMinor(parseNumber(major), exp).toString()
}

function OptionRow({ o, first, checked, onPick, params, setParam, conflict, state }: {
  readonly o: ResolutionOption
  readonly first: boolean
  readonly checked: boolean
  readonly onPick: () => void
  readonly params: Record<string, string>
  readonly setParam: (name: string, v: string) => void
  readonly conflict: Conflict
  readonly state: PurchaseState
}) {
  const id = useId()
  const shown = o.params.filter((p) => p.name !== 'note')
  return (
    <div class={`option ${checked ? 'checked' : ''}`}>
      <input type="radio" id={id} name="option" value={o.id} checked={checked} onChange={onPick} />
      <label for={id}>{optionLabel(conflict, o.label, state)}{first ? <span class="muted small"> (suggested)</span> : null}</label>
      {checked && shown.length > 0 ? (
        <div class="params">
          {shown.map((p) => {
            const pid = `${id}-${p.name}`
            const v = params[`${o.id}.${p.name}`]
            const custom = conflict.kind === 'TOTAL_MISMATCH' && o.id === 'custom' && p.name === 'value'
            const label = custom ? `Total (${state.currency.values[0] ?? ''}, format ${numberExample(state.settings.currencyExponent)})` : p.label
            return (
              <div class="field" key={p.name}>
                <label for={pid}>{label}</label>
                {p.choices !== undefined ? (
                  <select id={pid} value={v ?? p.choices[0] ?? ''} onChange={(e) => setParam(p.name, e.currentTarget.value)}>
                    {p.choices.map((ch) => <option key={ch} value={ch}>{choiceLabel(ch, p.name, conflict, state)}</option>)}
                  </select>
                ) : (
                  <input id={pid} value={v ?? ''} required onInput={(e) => setParam(p.name, e.currentTarget.value)} />
                )}
              </div>
            )
          })}
        </div>
      ) : null}
    </div>
  )
}
