/**
 * Text that compares what a replica holds: everything in it, or a refusal.
 *
 * States and snapshots hold Maps (registers, clocks, records) and sometimes
 * Sets, bigints and bytes, which `canonicalJson` refuses (JSON.stringify would
 * render a Map as `{}`, and a full document would equal an empty one). This is
 * the one place tests turn such values into plain data: a Map (a PatchedMap
 * too) becomes its [key, value] entries, in the Map's order or sorted by key;
 * a Set a sorted array; a bigint `12n`; bytes `<n bytes>`. Any other class
 * instance reaches `canonicalJson`, which refuses it.
 */
import { type Json } from '@concord/core'
import { PatchedMap, canonicalJson } from '@concord/core/internal'

export interface PlainOptions {
  /** Sort map entries by key: for states built in different orders that must still be equal. */
  readonly sortMaps?: boolean
}

export function plainOf(v: unknown, opts: PlainOptions = {}): Json {
  const rec = (x: unknown) => plainOf(x, opts)
  if (typeof v === 'bigint') return `${v}n`
  if (v instanceof Uint8Array) return `<${v.length} bytes>`
  if (v instanceof Map || v instanceof PatchedMap) {
    const entries = [...(v as ReadonlyMap<unknown, unknown>)].map(([k, x]) => [rec(k), rec(x)] as [Json, Json])
    if (opts.sortMaps) entries.sort(([a], [b]) => (canonicalJson(a) < canonicalJson(b) ? -1 : 1))
    return entries
  }
  if (v instanceof Set) return [...v].map(rec).sort((a, b) => (canonicalJson(a) < canonicalJson(b) ? -1 : 1))
  if (Array.isArray(v)) return v.map(rec)
  if (typeof v === 'object' && v !== null) {
    const proto: unknown = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) return v as never // canonicalJson names and refuses it
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, rec(x)]))
  }
  return v as Json
}

/** canonicalJson of plainOf: equal text means equal content, Maps included. */
export const canonicalOf = (v: unknown, opts?: PlainOptions): string => canonicalJson(plainOf(v, opts))
