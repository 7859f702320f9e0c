/** Which resolutions of one conflict stand: those no other resolution of it had seen. */
import { splitEventId } from '../ids.js'
import { canonicalJson } from '../json.js'
import type { ResolutionRecord } from '../purchase/model.js'

/**
 * Resolutions of one conflict that no other resolution of it had seen. Another
 * resolution saw `r` when its clock counts r's replica up to r's sequence, so
 * the two highest counts per replica decide it: linear in the clocks, where
 * comparing every pair would take minutes on thousands of deferrals.
 */
export function maximalResolutions(resolutions: readonly ResolutionRecord[]): ResolutionRecord[] {
  if (resolutions.length < 2) return [...resolutions]
  const parts = resolutions.map((r) => splitEventId(r.ev))
  const authors = new Set(parts.map((p) => p.replica as string))
  const top = new Map<string, { first: number; by: ResolutionRecord; second: number }>()
  for (const o of resolutions) {
    for (const [replica, n] of Object.entries(o.vv)) {
      if (!authors.has(replica) || typeof n !== 'number') continue
      const t = top.get(replica)
      if (t === undefined) top.set(replica, { first: n, by: o, second: -1 })
      else if (t.by === o) continue
      else if (n > t.first) {
        t.second = t.first
        t.first = n
        t.by = o
      } else if (n > t.second) t.second = n
    }
  }
  return resolutions.filter((r, i) => {
    const { replica, seq } = parts[i]!
    const t = top.get(replica)
    const seen = t === undefined ? -1 : t.by === r ? t.second : t.first
    return seen < seq
  })
}

export function pushTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k)
  if (list === undefined) m.set(k, [v])
  else list.push(v)
}

/** A resolution's decision: two resolutions that decide the same collapse into one. */
export function decisionOf(r: ResolutionRecord): string {
  return canonicalJson({ option: r.option, params: r.params })
}

/** The resolutions recorded for each conflict id. */
export function resolutionsByConflict(resolutions: readonly ResolutionRecord[]): Map<string, ResolutionRecord[]> {
  const byConflict = new Map<string, ResolutionRecord[]>()
  for (const r of resolutions) pushTo(byConflict, r.conflict, r)
  return byConflict
}
