/**
 * The full-stack suite of one backend: SIM_WORLDS worlds (default 500) from
 * the suite seed, one after another in this process. Prints
 * `full-stack scenarios: N passed (<backend>)`, which the test runner adds up.
 */
import { test } from 'uvu'
import type { BackendName } from '@concord/core'
import { SEED } from '../seed.js'
import { runWorld, worldSeed } from './run.js'

export function fullStackSuite(backend: BackendName): void {
  const count = Number(process.env.SIM_WORLDS ?? 500)
  test(`${count} seeded full-stack worlds on ${backend} (suite SEED=${SEED})`, async () => {
    const started = Date.now()
    let steps = 0
    let commands = 0
    let events = 0
    for (let i = 0; i < count; i++) {
      const r = await runWorld(worldSeed(SEED, backend, i), backend)
      steps += r.steps
      commands += r.commands
      events += r.events
    }
    const secs = (Date.now() - started) / 1000
    console.log(`full-stack scenarios: ${count} passed (${backend}; ${commands} commands, ${events} stored events, ${steps} scheduler steps; ${secs.toFixed(1)} s, ${(count / (secs / 60)).toFixed(0)} worlds/min)`)
  })
  test.run()
}
