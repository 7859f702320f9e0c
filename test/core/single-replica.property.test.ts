/**
 * One replica's own valid commands never raise a conflict: commands validate
 * at write time (and check the state they would produce against the
 * invariant registry), so only merges can break an invariant.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { BACKENDS } from '../support/backends.js'
import { check, SEED } from '../support/seed.js'
import { int, newWorld, randomCommand } from '../support/replicas.js'

const RUNS = Number(process.env.SINGLE_RUNS ?? 300)

for (const backend of BACKENDS) {
  test(`[${backend.name}] a single replica never raises a conflict (${RUNS} scripts)`, () => {
    const ops = new Map<string, number>()
    check(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 10, max: 80 }), (seed, steps) => {
        const { sim, replicas } = newWorld(seed, backend, 1)
        const r = replicas[0]!
        for (let step = 0; step < steps; step++) {
          sim.time += int(sim.rng, 1, 60_000)
          randomCommand(sim, r, ops)
          const open = r.conflicts()
          if (open.length > 0) {
            throw new Error(`seed=${seed} (suite SEED=${SEED}) step ${step}: ${open.map((c) => `${c.kind} on ${c.subject} ${JSON.stringify(c.facts)}`).join('; ')}`)
          }
        }
      }),
      { numRuns: RUNS },
    )
    for (const op of ['addLine', 'receipt', 'bill', 'payment', 'transition', 'void']) assert.ok((ops.get(op) ?? 0) > 0, `no successful ${op}`)
  })
}

test.run()
