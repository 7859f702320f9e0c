/**
 * Applies a change to a plain copy of a DocSnapshot instead of a CRDT
 * document: "what would the document look like after this command". Commands
 * use it to run the invariant registry on the state they are about to
 * produce, and refuse a change that would raise a conflict, which is how a
 * single replica can never produce an invalid order on its own.
 *
 * Copies are shallow per map: only the maps a change touches are cloned.
 */
import type { DocSnapshot, DocWriter, RegisterEntry, SetName } from './backend.js'
import type { Json } from '../json.js'
import type { ReplicaId } from '../ids.js'
import { PatchedMap } from './patched-map.js'

export function overlaySnapshot(base: DocSnapshot, fn: (w: DocWriter) => void): DocSnapshot {
  let init: Map<string, Json> | undefined
  // Registers and records written, applied at the end as patches of the base maps (no copy of thousands of entries).
  const registers = new Map<string, readonly RegisterEntry[]>()
  let texts: Map<string, string> | undefined
  let clock: Map<ReplicaId, number> | undefined
  const sets: Partial<Record<SetName, Map<string, Json>>> = {}
  // What the change touched, so readers can update only that (see SnapshotDelta).
  const touched = { registers: new Set<string>(), sets: new Map<SetName, Set<string>>() }
  const writer: DocWriter = {
    init: (key, value) => {
      init ??= new Map(base.init)
      if (!init.has(key)) init.set(key, value)
    },
    setRegister: (key, entry) => {
      registers.set(key, [entry])
      touched.registers.add(key)
    },
    addRecord: (set, id, record) => {
      const map = (sets[set] ??= new Map())
      if (!map.has(id) && !base.sets[set].has(id)) {
        map.set(id, record)
        let ids = touched.sets.get(set)
        if (ids === undefined) touched.sets.set(set, (ids = new Set()))
        ids.add(id)
      }
    },
    insertText: (key, index, text) => {
      texts ??= new Map(base.texts)
      const s = texts.get(key) ?? ''
      texts.set(key, s.slice(0, index) + text + s.slice(index))
    },
    deleteText: (key, index, length) => {
      texts ??= new Map(base.texts)
      const s = texts.get(key) ?? ''
      texts.set(key, s.slice(0, index) + s.slice(index + length))
    },
    tickClock: (replica, seq) => {
      clock ??= new Map(base.clock)
      if ((clock.get(replica) ?? 0) < seq) clock.set(replica, seq)
    },
  }
  fn(writer)
  const patched = { ...base.sets }
  for (const [set, added] of Object.entries(sets) as [SetName, Map<string, Json>][]) patched[set] = PatchedMap.of(base.sets[set], added)
  return {
    init: init ?? base.init,
    registers: PatchedMap.of(base.registers, registers),
    sets: patched,
    texts: texts ?? base.texts,
    clock: clock ?? base.clock,
    delta: { from: new WeakRef(base), ...touched },
  }
}
