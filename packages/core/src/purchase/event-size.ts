/**
 * How many bytes a command's input puts into its event, measured before
 * anything is applied: the UTF-8 length of every text inserted and of every
 * value written (as JSON). The encoded event is at least this large on Yjs
 * (which stores strings as UTF-8) and on Automerge for single changes (not
 * compressed), so an input over the relay's frame limit can never be sent:
 * the replica refuses the command (EVENT_TOO_LARGE) instead of applying a
 * change that would be refused and undone later.
 */
import type { DocWriteOp } from '../backends/backend.js'
import type { Json } from '../json.js'

const te = new TextEncoder()
const jsonBytes = (v: Json): number => te.encode(JSON.stringify(v)).length

export interface InputSize {
  readonly bytes: number
  /** The key that took the most bytes (what the person should shorten). */
  readonly field: string
}

/** The input size of recorded writes (see recordWrites). */
export function measureInput(ops: readonly DocWriteOp[]): InputSize {
  const byKey = new Map<string, number>()
  const add = (key: string, n: number) => byKey.set(key, (byKey.get(key) ?? 0) + n)
  for (const o of ops) {
    switch (o.k) {
      case 'init': add(o.key, jsonBytes(o.value)); break
      case 'reg': add(o.key, jsonBytes(o.entry.value)); break
      case 'rec': add(`${o.set}.${o.id}`, jsonBytes(o.record)); break
      case 'ins': add(o.key, te.encode(o.text).length); break
      case 'del': case 'tick': break
    }
  }
  let bytes = 0
  let field = ''
  let top = -1
  for (const [k, n] of byKey) {
    bytes += n
    if (n > top) {
      top = n
      field = k
    }
  }
  return { bytes, field }
}
