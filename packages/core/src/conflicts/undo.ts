/**
 * Taking back what a resolution did, when a person keeps a concurrent
 * resolution of the same conflict instead. A pick settles two resolutions by
 * repeating the kept one after both; without this, the other one's writes
 * would stay (its adjustment line, its return, its restated value) and the
 * order would end at a total nobody chose.
 *
 * What the other resolution's event wrote is read from the merged state (its
 * event id is on every record, line and register entry it made), so every
 * replica derives the same undo:
 * - lines it added are removed;
 * - receipts, returns, bills, payments and refunds it recorded are voided;
 * - a register it wrote whose value still shows its write gets back the value
 *   its author saw before it (unless the kept resolution wrote it too: the
 *   repeat writes it again).
 * Voids and forced transitions it made are not taken back: a void cannot be
 * voided, and a forced state is superseded by the kept resolution's own
 * transition when it makes one.
 */
import type { DocWriter } from '../backends/backend.js'
import type { EventId, RecordId } from '../ids.js'
import type { Json } from '../json.js'
import type { PurchaseDerived } from '../purchase/derive.js'
import { type PurchaseState, type ResolutionRecord, type Stamp, type StoredClock, type VoidableSet, keys } from '../purchase/model.js'

export interface UndoContext {
  readonly state: PurchaseState
  readonly derived: PurchaseDerived
  readonly w: DocWriter
  readonly stamp: Stamp
  newRecordId(): RecordId
  valueAsOf(key: string, vv: StoredClock): Json | undefined
}

const RECORD_SETS: readonly VoidableSet[] = ['receipts', 'returns', 'bills', 'payments', 'refunds']

export function undoResolution(ctx: UndoContext, undone: ResolutionRecord, kept: ResolutionRecord): void {
  const { state, derived, w, stamp } = ctx
  const ev: EventId = undone.ev
  const reg = (key: string, value: Json) =>
    w.setRegister(key, { value, ev: stamp.ev, hlc: stamp.hlc, by: stamp.by, dev: stamp.dev, res: undone.conflict })
  const added = new Set<string>()
  for (const l of state.lines) {
    if (l.created.ev !== ev) continue
    added.add(l.id)
    if (!l.removed) reg(keys.line(l.id, 'removed'), true)
  }
  for (const set of RECORD_SETS) {
    for (const r of state[set] as readonly { readonly id: RecordId; readonly ev: EventId }[]) {
      if (r.ev !== ev || derived.voided.has(r.id)) continue
      const id = ctx.newRecordId()
      w.addRecord('voids', id, { id, set, target: r.id, reason: `undone: resolution ${kept.id} was kept instead`, ...stamp } as unknown as Json)
    }
  }
  for (const [key, entries] of state.registers) {
    if (!entries.some((e) => e.ev === ev) || entries.some((e) => e.ev === kept.ev)) continue
    // The registers (fields, taxes) of a line it added go with the line.
    if ((key.startsWith('l.') || key.startsWith('x.')) && added.has(key.slice(2, key.indexOf('.', 2)))) continue
    const before = ctx.valueAsOf(key, undone.vv)
    if (before !== undefined) reg(key, before)
  }
}
