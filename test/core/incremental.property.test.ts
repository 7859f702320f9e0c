/**
 * Incremental views equal from-scratch ones. A replica builds each view of
 * its purchase from the previous one, re-reading, re-deriving and
 * re-checking only the lines a merge or command touched (purchase/view.ts).
 * Over seeded random scripts (every command, merges in random order, both
 * tax modes and both tax roundings) the state, the derived figures and the
 * conflict queue are compared after every step with a recomputation from
 * scratch: readPurchase + derivePurchase + detectConflicts of the same
 * snapshot, and every few steps of a document freshly loaded from bytes,
 * which shares no object with the replica.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  type CreatePurchaseInput, type PurchaseDerived, type PurchaseReplica, type PurchaseState, type ReplicaId, derivePurchase, isConcordError,
} from '@concord/core'
import { detectConflicts, readPurchase } from '@concord/core/internal'
import { canonicalOf } from '../support/canonical.js'
import type { Conflict } from '@concord/core'
import { BACKENDS } from '../support/backends.js'
import { check, SEED } from '../support/seed.js'
import { int, newWorld, pick, randomCommand } from '../support/replicas.js'

const RUNS = Number(process.env.INCREMENTAL_RUNS ?? 60)


/** Everything a reader sees, in a string; Map order included (a from-scratch pass fixes it). */
function print(state: PurchaseState, derived: PurchaseDerived, conflicts: readonly Conflict[]): string {
  const { registers: _r, clock: _c, ...rest } = state
  return canonicalOf({
    state: rest,
    derived: { ...derived, lifecycle: derived.lifecycle.state },
    conflicts,
  })
}

function fromScratch(state: PurchaseState): string {
  const derived = derivePurchase(state)
  return print(state, derived, detectConflicts({ state, derived }))
}

function firstDifference(a: string, b: string): string {
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return `...${a.slice(Math.max(0, i - 200), i + 200)}\n  vs from scratch\n...${b.slice(Math.max(0, i - 200), i + 200)}`
}

function assertSameAsScratch(r: PurchaseReplica, fresh: boolean): void {
  const incremental = print(r.state(), r.derived(), r.conflicts())
  const same = fromScratch(readPurchase(r.log.doc.read()))
  if (incremental !== same) throw new Error(`incremental view differs:\n${firstDifference(incremental, same)}`)
  if (!fresh) return
  const copy = r.log.backend.load(r.log.doc.save(), 'zz-fresh' as ReplicaId)
  try {
    const loaded = fromScratch(readPurchase(copy.read()))
    if (incremental !== loaded) throw new Error(`incremental view differs from a freshly loaded document:\n${firstDifference(incremental, loaded)}`)
  } finally {
    copy.destroy()
  }
}

/**
 * Lowers a line's quantity to 1: refused where the replica has seen more
 * received, accepted where it has not, so merges raise (and, raised again,
 * close) per-line conflicts on lines whose records did not change: the case
 * where only the changed line's detectors run.
 */
function shrinkQty(rng: () => number, r: PurchaseReplica, ops: Map<string, number>): void {
  const live = r.state().lines.filter((l) => !l.removed)
  if (live.length === 0) return
  try {
    r.updateLine(pick(rng, live).id, { qty: pick(rng, ['1', '2', '20']) })
    ops.set('shrinkQty', (ops.get('shrinkQty') ?? 0) + 1)
  } catch (e) {
    if (!isConcordError(e)) throw e
  }
}

const SETTINGS: readonly CreatePurchaseInput[] = [
  { currency: 'EUR', supplier: 'ACME', approvalThreshold: '3000', receiptTolerance: '10' },
  { currency: 'EUR', supplier: 'ACME', approvalThreshold: '3000', receiptTolerance: '10', taxMode: 'INCLUSIVE' },
  { currency: 'EUR', supplier: 'ACME', approvalThreshold: '3000', receiptTolerance: '0', rounding: { mode: 'HALF_EVEN', tax: 'GLOBAL' } },
  { currency: 'EUR', supplier: 'ACME', approvalThreshold: null, receiptTolerance: '5', taxMode: 'INCLUSIVE', rounding: { mode: 'HALF_UP', tax: 'GLOBAL' } },
]

for (const backend of BACKENDS) {
  test(`[${backend.name}] incremental state, totals and conflicts equal a from-scratch pass after every step (${RUNS} scripts)`, () => {
    const ops = new Map<string, number>()
    let compared = 0
    check(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 10, max: 50 }), fc.nat({ max: SETTINGS.length - 1 }), (seed, n, steps, s) => {
        const { sim, replicas, net } = newWorld(seed, backend, n, SETTINGS[s])
        try {
          for (let step = 0; step < steps; step++) {
            sim.time += int(sim.rng, 1, 5000)
            const roll = sim.rng()
            if (roll < 0.55) randomCommand(sim, pick(sim.rng, replicas), ops)
            else if (roll < 0.63) shrinkQty(sim.rng, pick(sim.rng, replicas), ops)
            else if (roll < 0.8) net.deliverOne()
            else if (roll < 0.9) net.deliverBatch()
            else if (roll < 0.95) net.partition(int(sim.rng, 0, n - 1))
            else net.heal()
            for (const r of replicas) {
              assertSameAsScratch(r, step % 7 === 0)
              compared++
            }
          }
          net.settle()
          for (const r of replicas) assertSameAsScratch(r, true)
        } catch (e) {
          ;(e as Error).message = `scenario seed=${seed} n=${n} steps=${steps} settings=${s} (suite SEED=${SEED}): ${(e as Error).message}`
          throw e
        } finally {
          for (const r of replicas) r.log.doc.destroy()
        }
      }),
      { numRuns: RUNS },
    )
    for (const op of ['addLine', 'updateQty', 'updatePrice', 'moveLine', 'removeLine', 'tax', 'receipt']) assert.ok((ops.get(op) ?? 0) > 0, `no successful ${op}`)
    assert.ok(compared > RUNS * 10, `only ${compared} comparisons`)
  })
}

test.run()
