/**
 * How many bytes a command's input puts into its event, measured before
 * anything is applied: the UTF-8 length of every text inserted and of every
 * value written (as JSON). The encoded event is at least this large on Yjs
 * (which stores strings as UTF-8) and on Automerge for single changes (not
 * compressed), so an input over the relay's frame limit can never be sent:
 * the replica refuses the command (EVENT_TOO_LARGE) instead of applying a
 * change that would be refused and undone later.
 */
import type { DocWriter, RegisterEntry, SetName } from '../backends/backend.js'
import type { Json } from '../json.js'
import type { ReplicaId } from '../ids.js'

const te = new TextEncoder()
const jsonBytes = (v: Json): number => te.encode(JSON.stringify(v)).length

export interface InputSize {
  readonly bytes: number
  /** The key that took the most bytes (what the person should shorten). */
  readonly field: string
}

/** Runs `write` against a writer that only counts; `write` must not depend on what it reads back (writers read nothing). */
export function measureInput(write: (w: DocWriter) => void): InputSize {
  const byKey = new Map<string, number>()
  const add = (key: string, n: number) => byKey.set(key, (byKey.get(key) ?? 0) + n)
  const counter: DocWriter = {
    init: (key: string, value: Json) => add(key, jsonBytes(value)),
    setRegister: (key: string, entry: RegisterEntry) => add(key, jsonBytes(entry.value)),
    addRecord: (set: SetName, id: string, record: Json) => add(`${set}.${id}`, jsonBytes(record)),
    insertText: (key: string, _index: number, text: string) => add(key, te.encode(text).length),
    deleteText: () => undefined,
    tickClock: (_replica: ReplicaId, _seq: number) => undefined,
  }
  write(counter)
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
