/**
 * Stored register values that are no register entry at all (null, a number,
 * an object without `ev` and `hlc`): a raw client or an older relay wrote
 * them. A backend cannot sort or return them as entries, and must not drop
 * them without a trace either, so it notes them here and the snapshot
 * carries the note (DocSnapshot.unreadable) for purchase/invalid.ts to
 * report.
 */

/** What a stored value is, in a few words (never the value itself: it can be huge). */
export function describeStored(v: unknown): string {
  if (v === null) return 'null'
  if (v === undefined) return 'a value of a type Concord does not write'
  if (Array.isArray(v)) return 'an array'
  if (v instanceof Uint8Array) return 'bytes'
  if (typeof v === 'object') return 'an object without a string ev and hlc'
  return `a ${typeof v}`
}

/** Register key -> descriptions of its unreadable values, as of the last read. */
export class UnreadableEntries {
  private readonly byKey = new Map<string, readonly string[]>()
  private view: ReadonlyMap<string, readonly string[]> | undefined

  /** Records what a read of register `key` skipped (nothing: forget it). */
  note(key: string, skipped: readonly string[]): void {
    if (skipped.length === 0) {
      if (this.byKey.delete(key)) this.view = undefined
      return
    }
    const had = this.byKey.get(key)
    if (had !== undefined && had.length === skipped.length && had.every((s, i) => s === skipped[i])) return
    this.byKey.set(key, skipped)
    this.view = undefined
  }

  /** The map a snapshot carries: the same object while nothing changed, undefined when empty. */
  snapshot(): ReadonlyMap<string, readonly string[]> | undefined {
    if (this.byKey.size === 0) return undefined
    return (this.view ??= new Map(this.byKey))
  }
}
