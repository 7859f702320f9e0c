/**
 * Reissuing changes under a fresh actor. When the relay holds other content
 * under one of a device's event ids (a restored backup, a second writer of
 * the actor), the device's events from that one on cannot be sent: their ids
 * are taken, and their CRDT payloads carry the old actor's clock. What they
 * did is written again instead, as one new event of a fresh actor, on the
 * document without them: the same values, records, creation fields and text
 * edits, stamped as the new event's own.
 *
 * The writes come from comparing two snapshots: `withDropped` (the device's
 * document, holding the dropped events) and `without` (the document rebuilt
 * without them). A register whose surviving entries include one a dropped
 * event wrote gets that value again; a record a dropped event added is added
 * again; a creation field only `withDropped` has is written; a text is edited
 * from its `without` form to its `withDropped` form. Records keep the clocks
 * their authors saw (what they say was seen stays true of the content).
 */
import type { DocSnapshot, DocWriter, RegisterEntry } from '../backends/backend.js'
import { SET_NAMES } from '../backends/sets.js'
import type { Json } from '../json.js'
import type { Stamp } from './model.js'

/** The writes that redo what `dropped` events did, stamped with `s`. */
export function reissueWrites(withDropped: DocSnapshot, without: DocSnapshot, dropped: ReadonlySet<string>, w: DocWriter, s: Stamp): void {
  for (const [key, value] of withDropped.init) if (!without.init.has(key)) w.init(key, value)
  for (const [key, entries] of withDropped.registers) {
    // Entries are sorted by (hlc, ev): the last dropped one is the value the device showed.
    const mine = entries.filter((e) => dropped.has(e.ev))
    const last = mine[mine.length - 1]
    if (last === undefined) continue
    const entry: RegisterEntry = {
      value: last.value, ev: s.ev, hlc: s.hlc, ...(s.by ? { by: s.by } : {}), ...(s.dev ? { dev: s.dev } : {}), ...(last.res !== undefined ? { res: last.res } : {}),
    }
    w.setRegister(key, entry)
  }
  for (const set of SET_NAMES) {
    const have = without.sets[set]
    for (const [id, record] of withDropped.sets[set]) {
      if (have.has(id) || !isStamped(record) || !dropped.has(record.ev)) continue
      w.addRecord(set, id, { ...record, ev: s.ev, hlc: s.hlc, by: s.by, dev: s.dev })
    }
  }
  for (const [key, text] of withDropped.texts) {
    const before = without.texts.get(key) ?? ''
    if (before === text) continue
    // One splice from the common prefix to the common suffix: the same text, however the dropped edits were spread.
    let p = 0
    while (p < before.length && p < text.length && before[p] === text[p]) p++
    let q = 0
    while (q < before.length - p && q < text.length - p && before[before.length - 1 - q] === text[text.length - 1 - q]) q++
    if (before.length - p - q > 0) w.deleteText(key, p, before.length - p - q)
    if (text.length - p - q > 0) w.insertText(key, p, text.slice(p, text.length - q))
  }
}

function isStamped(record: Json): record is { [k: string]: Json } & { ev: string } {
  return typeof record === 'object' && record !== null && !Array.isArray(record) && typeof (record as { ev?: unknown }).ev === 'string'
}
