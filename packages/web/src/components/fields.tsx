/**
 * Inputs that write a command when the person is done with the field
 * (Enter, Tab, leaving it), and keep what they type as a draft until then,
 * so a remote change never overwrites a half-typed value. A refused command
 * leaves the draft in place with the reason under the field.
 */
import type { ComponentChildren } from 'preact'
import { useId, useState } from 'preact/hooks'
import { type OrderMoney, type Said, explainError, numberExample } from '../format.js'

interface CommitProps {
  readonly label: string
  /** Hide the label visually (tables): it still names the field for assistive technology. */
  readonly hideLabel?: boolean
  readonly value: string
  readonly onCommit: (value: string) => Promise<unknown>
  /** Called on every keystroke, with null when the draft is dropped: for previews. */
  readonly onDraft?: (value: string | null) => void
  readonly type?: 'text' | 'date' | 'number'
  readonly inputMode?: 'decimal' | 'text' | 'numeric'
  readonly disabled?: boolean
  readonly placeholder?: string
  readonly class?: string
  readonly hint?: string
  readonly list?: string
  readonly testId?: string
  readonly required?: boolean
  /** The order's money, so that a refusal's amounts read in its currency. */
  readonly money?: OrderMoney
  /** A number input: its placeholder and title say the locale's format, with this many decimals. */
  readonly numberDigits?: number
}

export function CommitInput(p: CommitProps) {
  const id = useId()
  const [draft, setDraft] = useState<string | null>(null)
  const [error, setError] = useState<Said | null>(null)
  const shown = draft ?? p.value
  const example = p.numberDigits !== undefined ? numberExample(p.numberDigits) : undefined
  const drop = () => {
    setDraft(null)
    setError(null)
    p.onDraft?.(null)
  }
  const commit = async (v: string) => {
    if (v === p.value) return drop()
    try {
      await p.onCommit(v)
      drop()
    } catch (e) {
      setError(explainError(e, p.money))
    }
  }
  const hintId = `${id}-hint`
  return (
    <div class={`field ${p.class ?? ''}`}>
      <label for={id} class={p.hideLabel ? 'sr-only' : undefined}>{p.label}</label>
      <input
        id={id}
        type={p.type ?? 'text'}
        inputMode={p.inputMode}
        value={shown}
        placeholder={p.placeholder ?? example}
        title={example !== undefined ? `Number format: ${example}` : undefined}
        disabled={p.disabled}
        list={p.list}
        required={p.required}
        data-testid={p.testId}
        aria-invalid={error !== null ? 'true' : undefined}
        aria-describedby={error !== null || p.hint !== undefined ? hintId : undefined}
        onInput={(e) => {
          const v = e.currentTarget.value
          setDraft(v)
          p.onDraft?.(v)
        }}
        onChange={(e) => void commit(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape' && draft !== null) {
            e.preventDefault()
            drop()
          }
        }}
      />
      {error !== null ? <p id={hintId} class="field-error" role="alert"><Words said={error} /></p>
        : p.hint !== undefined ? <p id={hintId} class="field-hint">{p.hint}</p> : null}
    </div>
  )
}

interface SelectProps {
  readonly label: string
  readonly hideLabel?: boolean
  readonly value: string
  readonly options: readonly { readonly value: string; readonly label: string }[]
  readonly onCommit: (value: string) => Promise<unknown>
  readonly disabled?: boolean
}

export function CommitSelect(p: SelectProps) {
  const id = useId()
  const [error, setError] = useState<Said | null>(null)
  return (
    <div class="field">
      <label for={id} class={p.hideLabel ? 'sr-only' : undefined}>{p.label}</label>
      <select
        id={id}
        value={p.value}
        disabled={p.disabled}
        aria-invalid={error !== null ? 'true' : undefined}
        onChange={(e) => {
          const v = e.currentTarget.value
          setError(null)
          p.onCommit(v).catch((err: unknown) => setError(explainError(err)))
        }}
      >
        {p.options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
      </select>
      {error !== null ? <p class="field-error" role="alert"><Words said={error} /></p> : null}
    </div>
  )
}

/** A plain labelled input for forms that submit as a whole. */
export function Field(p: {
  readonly label: string
  readonly name: string
  readonly value?: string
  readonly type?: 'text' | 'date' | 'number'
  readonly inputMode?: 'decimal' | 'text' | 'numeric'
  readonly required?: boolean
  readonly placeholder?: string
  readonly class?: string
  readonly onInput?: (v: string) => void
  readonly hint?: string
  /** A number in the locale's format, with this many decimals in the example the field shows. */
  readonly numberDigits?: number
  readonly children?: ComponentChildren
}) {
  const id = useId()
  const example = p.numberDigits !== undefined ? numberExample(p.numberDigits) : undefined
  const hint = example !== undefined ? `${p.hint !== undefined ? `${p.hint} ` : ''}Format: ${example}` : p.hint
  return (
    <div class={`field ${p.class ?? ''}`}>
      <label for={id}>{p.label}</label>
      <input id={id} name={p.name} type={(p.type ?? 'text') as 'text'} inputMode={p.inputMode ?? (example !== undefined ? 'decimal' : undefined)} required={p.required}
        placeholder={p.placeholder ?? example}
        {...(p.value !== undefined ? { value: p.value } : {})}
        aria-describedby={hint !== undefined ? `${id}-hint` : undefined}
        onInput={p.onInput === undefined ? undefined : (e) => p.onInput!(e.currentTarget.value)} />
      {hint !== undefined ? <p id={`${id}-hint`} class="field-hint">{hint}</p> : null}
    </div>
  )
}

/** A message in words, with its code and raw text (for support) in a disclosure. */
export function Words({ said }: { readonly said: Said }) {
  return (
    <>
      {said.text}
      {said.detail !== null ? <details class="tech"><summary>Details for support</summary><code>{said.detail}</code></details> : null}
    </>
  )
}

export function Alert({ error, onClose }: { readonly error: Said | string | null; readonly onClose?: () => void }) {
  if (error === null) return null
  return (
    <div class="alert" role="alert">
      <span>{typeof error === 'string' ? error : <Words said={error} />}</span>
      {onClose !== undefined ? <button type="button" class="link" onClick={onClose} aria-label="Dismiss">×</button> : null}
    </div>
  )
}

/** Reads a submitted form's fields as strings. */
export function formValues(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of new FormData(form)) if (typeof v === 'string') out[k] = v
  return out
}

/**
 * An action the order does not allow now: its button, disabled, with the
 * sentence saying why (the button's description for assistive technology).
 * Offered-then-refused never happens: the rule comes from what-is-allowed.ts.
 */
export function NotNow({ label, why, class: cls }: { readonly label: string; readonly why: string | undefined; readonly class?: string }) {
  const id = useId()
  return (
    <span class="not-now" data-testid="not-now" data-action={label}>
      <button type="button" class={cls ?? 'secondary'} disabled aria-describedby={id}>{label}</button>
      <span id={id} class="why small" data-testid="why">{why}</span>
    </span>
  )
}
