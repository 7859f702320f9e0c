/**
 * Notes as collaborative text: each input becomes one text edit (the
 * smallest splice between the old and new value), so two people typing in
 * the notes interleave rather than overwrite each other. A remote edit keeps
 * the caret where it was relative to the text around it.
 */
import { useLayoutEffect, useRef, useState } from 'preact/hooks'
import type { PurchaseHandle } from '../client-api.js'
import { errorText } from '../format.js'

/** The single splice turning `a` into `b`: common prefix and suffix kept. */
export function splice(a: string, b: string): { index: number; remove: number; insert: string } {
  let start = 0
  const min = Math.min(a.length, b.length)
  while (start < min && a.charCodeAt(start) === b.charCodeAt(start)) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a.charCodeAt(endA - 1) === b.charCodeAt(endB - 1)) {
    endA--
    endB--
  }
  return { index: start, remove: endA - start, insert: b.slice(start, endB) }
}

/** Where a caret at `pos` in `a` lands in `b`. */
function mapCaret(pos: number, a: string, b: string): number {
  const s = splice(a, b)
  if (pos <= s.index) return pos
  if (pos >= s.index + s.remove) return pos - s.remove + s.insert.length
  return s.index + s.insert.length
}

export function Notes({ handle }: { readonly handle: PurchaseHandle }) {
  const text = handle.state().notes
  const ref = useRef<HTMLTextAreaElement>(null)
  const last = useRef(text)
  const [error, setError] = useState<string | null>(null)

  // A remote edit: put the new text in and keep the caret and selection in place.
  useLayoutEffect(() => {
    const el = ref.current
    if (el === null || el.value === text) {
      last.current = text
      return
    }
    const focused = document.activeElement === el
    const [s, e] = [el.selectionStart, el.selectionEnd]
    const before = el.value
    el.value = text
    if (focused) el.setSelectionRange(mapCaret(s, before, text), mapCaret(e, before, text))
    last.current = text
  }, [text])

  const onInput = (e: Event) => {
    const el = e.currentTarget as HTMLTextAreaElement
    const next = el.value
    const s = splice(last.current, next)
    if (s.remove === 0 && s.insert === '') return
    last.current = next
    handle.run((r) => r.editNotes(s.index, s.remove, s.insert)).then(
      () => setError(null),
      (err: unknown) => {
        // Refused (too large for the relay, say): nothing was applied. The typed text stays for the person
        // to shorten, and the next input is measured against the notes as they are.
        last.current = handle.state().notes
        setError(errorText(err))
      },
    )
  }

  return (
    <div class="field notes">
      <label for="notes">Notes</label>
      <textarea id="notes" ref={ref} rows={3} defaultValue={text} onInput={onInput} data-testid="notes"
        placeholder="Delivery instructions, agreements with the supplier… Everyone editing this order can type here at once." />
      {error !== null ? <p class="field-error" role="alert">{error}</p> : null}
    </div>
  )
}
