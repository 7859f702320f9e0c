/**
 * Small statistics helpers: medians of repeated runs and a log-bucketed
 * latency histogram that load generators can fill cheaply and ship to the
 * coordinator as plain JSON (bucket counts, not raw samples).
 */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Buckets grow by 2% from 1 us, so a percentile read from them is within 1% of the truth. */
const GROWTH = 1.02
const LOG_GROWTH = Math.log(GROWTH)
/** Bucket count covering 1 us .. ~10 minutes. */
const BUCKETS = Math.ceil(Math.log(600e6) / LOG_GROWTH) + 1

export interface HistogramJson {
  /** Sparse: [bucket index, count] pairs. */
  readonly buckets: Array<[number, number]>
  readonly count: number
  readonly min: number
  readonly max: number
}

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS)
  count = 0
  min = Number.POSITIVE_INFINITY
  max = 0

  /** Records one latency in microseconds. */
  add(us: number): void {
    const v = us < 1 ? 1 : us
    let i = Math.floor(Math.log(v) / LOG_GROWTH)
    if (i >= BUCKETS) i = BUCKETS - 1
    this.counts[i]!++
    this.count++
    if (v < this.min) this.min = v
    if (v > this.max) this.max = v
  }

  clear(): void {
    this.counts.fill(0)
    this.count = 0
    this.min = Number.POSITIVE_INFINITY
    this.max = 0
  }

  merge(other: HistogramJson): void {
    for (const [i, c] of other.buckets) this.counts[i]! += c
    this.count += other.count
    if (other.count > 0) {
      this.min = Math.min(this.min, other.min)
      this.max = Math.max(this.max, other.max)
    }
  }

  /** The latency (us) below which a fraction q of the samples fall. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN
    const target = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!
      if (seen >= target) {
        // Upper edge of the bucket, clamped to what was really seen.
        return Math.min(this.max, Math.max(this.min, Math.pow(GROWTH, i + 1)))
      }
    }
    return this.max
  }

  /** Cumulative distribution as (latency us, fraction) points, for plots. */
  cdf(): Array<[number, number]> {
    const out: Array<[number, number]> = []
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.counts[i]!
      if (c === 0) continue
      seen += c
      out.push([Math.min(this.max, Math.pow(GROWTH, i + 1)), seen / this.count])
    }
    return out
  }

  toJSON(): HistogramJson {
    const buckets: Array<[number, number]> = []
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.counts[i]!
      if (c > 0) buckets.push([i, c])
    }
    return { buckets, count: this.count, min: this.count > 0 ? this.min : 0, max: this.max }
  }

  static fromJSON(json: HistogramJson): LatencyHistogram {
    const h = new LatencyHistogram()
    h.merge(json)
    return h
  }
}
