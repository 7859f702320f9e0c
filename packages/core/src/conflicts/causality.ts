/** Happened-before on document state: a record's version vector says which events its author had seen. */
import { type EventId, splitEventId } from '../ids.js'
import type { StoredClock } from '../purchase/model.js'

/** True when an author whose clock was `vv` had seen event `ev`. */
export function covers(vv: StoredClock | ReadonlyMap<string, number>, ev: EventId): boolean {
  const { replica, seq } = splitEventId(ev)
  const n = vv instanceof Map ? vv.get(replica) : (vv as StoredClock)[replica]
  return (n ?? 0) >= seq
}

/** Neither saw the other. */
export function concurrent(a: { ev: EventId; vv: StoredClock }, b: { ev: EventId; vv: StoredClock }): boolean {
  return a.ev !== b.ev && !covers(a.vv, b.ev) && !covers(b.vv, a.ev)
}

export function clockToRecord(clock: ReadonlyMap<string, number>): StoredClock {
  return Object.fromEntries([...clock].sort((a, b) => (a[0] < b[0] ? -1 : 1)))
}
