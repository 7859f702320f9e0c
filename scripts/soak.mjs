// Loops the property suites over fresh seeds for a time budget:
//   pnpm test:soak            (10 minutes)
//   SOAK_SECONDS=3600 pnpm test:soak
// Prints SEED=n for every run, and stops at the first failure with the seed.
import { spawnSync } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { resolve, dirname } from 'node:path'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const budget = Number(process.env.SOAK_SECONDS ?? 600) * 1000
const filters = process.argv.slice(2)
const until = Date.now() + budget
let runs = 0
while (Date.now() < until) {
  const seed = randomInt(1, 2 ** 31 - 1)
  console.log(`SEED=${seed}`)
  const r = spawnSync(process.execPath, ['scripts/run-tests.mjs', ...(filters.length ? filters : ['property'])], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, SEED: String(seed), RUNS_SCALE: process.env.RUNS_SCALE ?? '3' },
  })
  runs++
  if (r.status !== 0) {
    console.error(`soak failed after ${runs} runs: replay with SEED=${seed} pnpm test:only property`)
    process.exit(1)
  }
}
console.log(`soak passed: ${runs} seeds`)
