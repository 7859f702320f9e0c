// Fresh seeds for a time budget, on both cores at once:
//   pnpm test:soak                     (10 minutes)
//   SOAK_SECONDS=3600 pnpm test:soak
// One core loops the property suites (RUNS_SCALE 3) over fresh seeds; the
// other runs fresh full-stack worlds three times the suite's size
// (scripts/sim.mjs --soak). Every run prints its seed; the first failure
// stops the soak with the command that replays it.
import { spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { resolve, dirname } from 'node:path'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const seconds = Number(process.env.SOAK_SECONDS ?? 600)
if (!(seconds > 0)) {
  console.error(`SOAK_SECONDS must be a positive number of seconds, not ${process.env.SOAK_SECONDS}`)
  process.exit(2)
}
const filters = process.argv.slice(2)
const until = Date.now() + seconds * 1000

function run(args, env = {}) {
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
    child.on('close', (code) => done(code))
  })
}

async function properties() {
  let runs = 0
  while (Date.now() < until) {
    const seed = randomInt(1, 2 ** 31 - 1)
    console.log(`SEED=${seed}`)
    const code = await run(['scripts/run-tests.mjs', ...(filters.length ? filters : ['property'])], {
      SEED: String(seed),
      RUNS_SCALE: process.env.RUNS_SCALE ?? '3',
      TEST_PARALLEL: '1',
    })
    runs++
    if (code !== 0) return `property soak failed after ${runs} runs: replay with SEED=${seed} pnpm test:only property`
  }
  console.log(`property soak passed: ${runs} seeds`)
  return null
}

async function fullStack() {
  const left = Math.max(1, Math.round((until - Date.now()) / 1000))
  const code = await run(['scripts/sim.mjs', '--soak', '--seconds', String(left)])
  return code === 0 ? null : 'full-stack soak failed (its seed and replay command are printed above)'
}

const failed = (await Promise.all([properties(), fullStack()])).filter((f) => f !== null)
for (const f of failed) console.error(f)
process.exit(failed.length > 0 ? 1 : 0)
