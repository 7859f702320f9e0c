/**
 * Shared pieces of the purchase scenarios [P1]..[P5]: seeded replicas of one
 * purchase on a simulated clock, a fingerprint of what converged replicas
 * must agree on, an independent total, and timing helpers.
 */
import {
  type BackendName, type CrdtBackend, type EventEnvelope, type LineId, type PurchaseId, type PurchaseReplica as Replica, type RandomSource, type ReplicaId, type ReplicaOptions, ALL_BACKENDS, createUlidFactory, parsePurchaseId, PurchaseReplica,
} from '@concord/core'
import { canonicalJson, flattenPurchase, seededRandom } from '@concord/core/internal'
import { median } from '../stats.js'

export const DOC: PurchaseId = parsePurchaseId('01J0000000000000000000PB01')
/** Every backend of core's registry. */
export const BACKENDS: ReadonlyArray<{ readonly id: BackendName; readonly backend: CrdtBackend }> = ALL_BACKENDS.map((backend) => ({ id: backend.name, backend }))

/** One seeded world: a PRNG and a simulated wall clock every replica shares (each with its own skew). */
export interface World {
  readonly rng: RandomSource
  time: number
}

export function newWorld(seed: number): World {
  return { rng: seededRandom(seed), time: 1_750_000_000_000 }
}

export function options(world: World, backend: CrdtBackend, index: number): ReplicaOptions {
  const now = () => world.time + index * 7919
  return { docId: DOC, replica: `d${index}` as ReplicaId, backend, now, newId: createUlidFactory(now, world.rng), user: `user${index}`, device: `device${index}` }
}

export const CREATE = { currency: 'EUR', supplier: 'ACME', taxMode: 'EXCLUSIVE', approvalThreshold: null, receiptTolerance: '10' } as const

export function int(rng: RandomSource, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1))
}

export function pick<T>(rng: RandomSource, list: readonly T[]): T {
  if (list.length === 0) throw new Error('pick from an empty list')
  return list[Math.floor(rng() * list.length)] as T
}

/**
 * A line whose amounts are exact in cents, so the total has one right answer
 * without rounding: price a multiple of 0.20, discount 0 or 20 %, tax 25 % or none.
 */
export interface PlainLine { readonly qty: number; readonly priceCents: number; readonly discount: 0 | 20; readonly taxed: boolean }

export function randomLine(rng: RandomSource): PlainLine {
  return { qty: int(rng, 1, 12), priceCents: 20 * int(rng, 1, 500), discount: rng() < 0.3 ? 20 : 0, taxed: rng() < 0.5 }
}

export function lineInput(l: PlainLine, i: number) {
  return {
    product: `Item ${i}`,
    qty: String(l.qty),
    price: `${Math.floor(l.priceCents / 100)}.${String(l.priceCents % 100).padStart(2, '0')}`,
    discount: String(l.discount),
    taxes: l.taxed ? [{ code: 'VAT', rate: '25' }] : [],
  }
}

/** The total in cents, computed here without core: sum of qty x price x (1 - discount) x (1 + tax). */
export function independentTotal(lines: readonly PlainLine[]): bigint {
  let total = 0n
  for (const l of lines) {
    const amount = (BigInt(l.qty) * BigInt(l.priceCents) * BigInt(100 - l.discount)) / 100n
    total += l.taxed ? amount + amount / 4n : amount
  }
  return total
}

/** What converged replicas must agree on: the purchase, its totals and statuses, the conflict queue, the heads. */
export function fingerprint(r: Replica): string {
  const d = r.derived()
  return canonicalJson({
    state: Object.fromEntries(flattenPurchase(r.state())),
    totals: Object.fromEntries(Object.entries(d.totals).map(([k, v]) => [k, v instanceof Map ? Object.fromEntries([...v].map(([a, b]) => [a, String(b)])) : String(v)])),
    statuses: [d.receiptStatus, d.billingStatus, d.paymentStatus, d.lifecycle.state, d.percentReceived, d.percentBilled],
    conflicts: conflictQueue(r),
    heads: r.log.heads(),
  })
}

export function conflictQueue(r: Replica): string {
  return canonicalJson(r.conflicts().map((c) => ({ id: c.id, kind: c.kind, subject: c.subject, causes: c.causes, facts: c.facts, deferred: c.deferred })))
}

export function ms(t0: number): number {
  return performance.now() - t0
}

export function medianOf(xs: readonly number[]): number {
  return median(xs)
}

export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!
}

/**
 * A purchase with `n` lines built fast through the public API: `devices`
 * devices each add n/devices lines to their own small copy (a command checks
 * the whole state, so many small copies cost far less than one big one),
 * then one replica receives everything. Returns the events and the lines.
 */
export function bigPurchaseEvents(world: World, backend: CrdtBackend, n: number, devices = Math.max(1, Math.ceil(n / 50))): { events: EventEnvelope[]; lines: PlainLine[] } {
  const creator = PurchaseReplica.create(options(world, backend, 0), CREATE)
  const base = [...creator.log.events()]
  const lines: PlainLine[] = []
  const events: EventEnvelope[] = [...base]
  for (let d = 0; d < devices; d++) {
    const r = PurchaseReplica.fromEvents(options(world, backend, 1000 + d), base)
    const count = Math.floor(n / devices) + (d < n % devices ? 1 : 0)
    for (let i = 0; i < count; i++) {
      const l = randomLine(world.rng)
      lines.push(l)
      world.time += 1000
      events.push(r.addLine(lineInput(l, lines.length)).event)
    }
  }
  return { events, lines }
}

export function liveLineIds(r: Replica): LineId[] {
  return r.state().lines.filter((l) => !l.removed).map((l) => l.id)
}
