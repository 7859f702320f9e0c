/** Happened-before on document state: a record's version vector says which events its author had seen. */
import { type EventId, splitEventId } from '../ids.js'
import { clockProblem } from '../purchase/invalid.js'
import type { StoredClock } from '../purchase/model.js'

/** True when an author whose clock was `vv` had seen event `ev`. */
export function covers(vv: StoredClock | ReadonlyMap<string, number>, ev: EventId): boolean {
  const { replica, seq } = splitEventId(ev)
  // Own keys only: a replica named `constructor` must not read Object's.
  const n = vv instanceof Map ? vv.get(replica) : Object.hasOwn(vv, replica) ? (vv as StoredClock)[replica] : undefined
  return (n ?? 0) >= seq
}

/** Neither saw the other. */
export function concurrent(a: { ev: EventId; vv: StoredClock }, b: { ev: EventId; vv: StoredClock }): boolean {
  return a.ev !== b.ev && !covers(a.vv, b.ev) && !covers(b.vv, a.ev)
}

/**
 * The clock a new record stores. Counters the schema refuses (a raw client
 * wrote them into the document's clock) are left out: stored, they would make
 * every record written from now on invalid.
 */
export function clockToRecord(clock: ReadonlyMap<string, number>): StoredClock {
  return Object.fromEntries([...clock].filter(([r, n]) => clockProblem(r, n) === undefined).sort((a, b) => (a[0] < b[0] ? -1 : 1)))
}
