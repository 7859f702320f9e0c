/**
 * Convergence: seeded random scripts of every command on 2 to 8 replicas,
 * delivered in random order, duplicated, dropped and re-sent, across
 * partitions. After full delivery every replica has the same purchase, the
 * same derived totals, the same conflict queue and an empty pending buffer,
 * and rebuilding each from its log, and from a snapshot plus tail, agrees.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { BACKENDS } from '../support/backends.js'
import { check, SEED } from '../support/seed.js'
import { assertConverged, int, newWorld, pick, randomCommand } from '../support/replicas.js'

const RUNS = Number(process.env.CONVERGENCE_RUNS ?? 500)

for (const backend of BACKENDS) {
  const ops = new Map<string, number>()
  const kinds = new Map<string, number>()
  let scenarios = 0

  test(`[${backend.name}] random scripts on 2-8 replicas converge (${RUNS} scenarios)`, () => {
    check(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 2, max: 8 }), fc.integer({ min: 10, max: 60 }), (seed, n, steps) => {
        try {
          const { sim, replicas, net } = newWorld(seed, backend, n)
          for (let step = 0; step < steps; step++) {
            sim.time += int(sim.rng, 1, 5000)
            const roll = sim.rng()
            if (roll < 0.55) randomCommand(sim, pick(sim.rng, replicas), ops)
            else if (roll < 0.75) net.deliverOne()
            else if (roll < 0.82) net.deliverBatch()
            else if (roll < 0.86) net.duplicateOne()
            else if (roll < 0.89) net.dropOne()
            else if (roll < 0.94) net.partition(int(sim.rng, 0, n - 1))
            else net.heal()
          }
          net.settle()
          for (const c of replicas[0]!.conflicts()) kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1)
          assertConverged(sim, backend, replicas)
          scenarios++
        } catch (e) {
          ;(e as Error).message = `scenario seed=${seed} n=${n} steps=${steps} (suite SEED=${SEED}): ${(e as Error).message}`
          throw e
        }
      }),
      { numRuns: RUNS },
    )
    assert.ok(scenarios >= RUNS, `ran ${scenarios} scenarios`)
    // The generator must actually reach the interesting commands and conflicts.
    for (const op of ['addLine', 'transition', 'receipt', 'payment', 'resolve']) assert.ok((ops.get(op) ?? 0) > 0, `no successful ${op}`)
    console.log(`[${backend.name}] ${scenarios} scenarios; commands ${JSON.stringify(Object.fromEntries(ops))}; open conflicts at the end ${JSON.stringify(Object.fromEntries(kinds))}`)
    assert.ok(kinds.size >= 4, `only ${[...kinds.keys()].join(', ')} conflicts arose`)
  })
}

test.run()
