/**
 * The full-stack suite of one backend: SIM_WORLDS worlds (default 500) from
 * the suite seed, one after another in this process. Prints
 * `full-stack scenarios: N passed (<backend>)`, which the test runner adds up.
 */
import { test } from 'uvu'
import type { BackendName } from '@concord/core'
import { SEED } from '../seed.js'
import { planWorld } from './plan.js'
import { runWorld, worldSeed } from './run.js'

/**
 * Worlds that once found a bug, replayed on every run (their backend comes
 * from the seed): 41, a change built on a refused one re-sent forever on
 * UNKNOWN_EVENT (the catch-up count was reset by the caughtUp it asked for).
 */
export const REGRESSION_SEEDS: readonly number[] = [41]

export function fullStackSuite(backend: BackendName): void {
  const count = Number(process.env.SIM_WORLDS ?? 500)
  test(`${count} seeded full-stack worlds on ${backend} (suite SEED=${SEED})`, async () => {
    const started = Date.now()
    let steps = 0
    let commands = 0
    let events = 0
    const seeds = [
      ...REGRESSION_SEEDS.filter((s) => planWorld(s).backend === backend).map((s) => ({ seed: s, backend: undefined })),
      ...Array.from({ length: count }, (_, i) => ({ seed: worldSeed(SEED, backend, i), backend })),
    ]
    for (const [i, w] of seeds.entries()) {
      const r = await runWorld(w.seed, w.backend).catch((e: unknown) => {
        throw new Error(`world ${i + 1} of ${seeds.length}, after ${((Date.now() - started) / 1000).toFixed(1)} s:\n${(e as Error).message}`)
      })
      steps += r.steps
      commands += r.commands
      events += r.events
    }
    const secs = (Date.now() - started) / 1000
    const n = seeds.length
    console.log(`full-stack scenarios: ${n} passed (${backend}; ${commands} commands, ${events} stored events, ${steps} scheduler steps; ${secs.toFixed(1)} s, ${(n / (secs / 60)).toFixed(0)} worlds/min)`)
  })
  test.run()
}
