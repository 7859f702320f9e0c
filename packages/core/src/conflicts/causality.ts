/** Happened-before on document state: a record's version vector says which events its author had seen. */
import { type EventId, covers } from '../ids.js'
import { clockProblem } from '../purchase/invalid.js'
import type { StoredClock } from '../purchase/model.js'

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
