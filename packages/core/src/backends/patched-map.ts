/**
 * A read-only map made of a base map and a small patch: how a snapshot's
 * register and record maps change from one read to the next without copying
 * thousands of entries to change one (a 1,000-line purchase has ~7,000
 * registers). Patches do not stack: patching a patched map patches its base
 * with both patches merged, and once the patch outgrows about twice the
 * square root of the base it is folded into a new plain map, so a read costs
 * O(changes + sqrt(n)) amortized and a lookup at most two map lookups.
 *
 * Iteration order is a Map's: base entries in base order (changed values in
 * place, removed ones skipped), then added keys in the order they came.
 */
const GONE: unique symbol = Symbol('gone')
type Slot<V> = V | typeof GONE

export class PatchedMap<K, V> implements ReadonlyMap<K, V> {
  // Private fields, not properties: like a Map, a PatchedMap has no own
  // enumerable properties, so states holding one serialize (JSON, canonicalJson)
  // exactly as states holding a plain Map do.
  readonly #base: ReadonlyMap<K, V>
  readonly #patch: ReadonlyMap<K, Slot<V>>
  readonly #size: number

  private constructor(base: ReadonlyMap<K, V>, patch: ReadonlyMap<K, Slot<V>>, size: number) {
    this.#base = base
    this.#patch = patch
    this.#size = size
  }

  get size(): number {
    return this.#size
  }

  /** `base` with `changes` applied: a value sets its key, undefined removes it. */
  static of<K, V>(base: ReadonlyMap<K, V>, changes: ReadonlyMap<K, V | undefined>): ReadonlyMap<K, V> {
    if (changes.size === 0) return base
    const root = base instanceof PatchedMap ? (base.#base as ReadonlyMap<K, V>) : base
    const patch = new Map<K, Slot<V>>(base instanceof PatchedMap ? (base.#patch as ReadonlyMap<K, Slot<V>>) : undefined)
    let size = base.size
    for (const [k, v] of changes) {
      const had = base.has(k)
      if (v === undefined) {
        if (had) size--
        if (root.has(k)) patch.set(k, GONE)
        else patch.delete(k)
      } else {
        if (!had) size++
        patch.set(k, v)
      }
    }
    if (patch.size <= 16 + 2 * Math.sqrt(root.size)) return new PatchedMap(root, patch, size)
    const flat = new Map<K, V>()
    for (const [k, v] of new PatchedMap(root, patch, size)) flat.set(k, v)
    return flat
  }

  get(key: K): V | undefined {
    const p = this.#patch.get(key)
    if (p !== undefined) return p === GONE ? undefined : p
    return this.#base.get(key)
  }

  has(key: K): boolean {
    const p = this.#patch.get(key)
    if (p !== undefined) return p !== GONE
    return this.#base.has(key)
  }

  *entries(): MapIterator<[K, V]> {
    const patch = this.#patch
    for (const [k, v] of this.#base) {
      const p = patch.get(k)
      if (p === undefined) yield [k, v]
      else if (p !== GONE) yield [k, p]
    }
    for (const [k, p] of patch) if (p !== GONE && !this.#base.has(k)) yield [k, p]
  }

  *keys(): MapIterator<K> {
    for (const [k] of this.entries()) yield k
  }

  *values(): MapIterator<V> {
    for (const [, v] of this.entries()) yield v
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries()
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this)
  }

  get [Symbol.toStringTag](): string {
    return 'PatchedMap'
  }
}
