// The full-stack simulation outside the suite (build first: pnpm build).
//   node scripts/sim.mjs --seed N [--backend yjs|automerge] [--day]   replay one world (--day: a team day, as sim-metrics.mjs runs), print its plan and result
//   node scripts/sim.mjs --soak [--seconds S] [--scale K]       fresh seeds until S seconds pass (default 600), worlds K times larger (default 3)
// A failure prints its seed, the command that replays it, and the tail of its trace.
import { randomInt } from 'node:crypto'
import { resolve, dirname } from 'node:path'
import { pathToFileURL } from 'node:url'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const { runWorld } = await import(pathToFileURL(resolve(root, 'test/dist/support/sim/run.js')).href)
const { describePlan, planDay, planWorld } = await import(pathToFileURL(resolve(root, 'test/dist/support/sim/plan.js')).href)

const args = process.argv.slice(2)
const value = (flag) => {
  const i = args.indexOf(flag)
  return i < 0 ? undefined : args[i + 1]
}
const backend = value('--backend')
let scale = Number(value('--scale') ?? 1)
const day = args.includes('--day')
if (backend !== undefined && backend !== 'yjs' && backend !== 'automerge') {
  console.error(`--backend must be yjs or automerge, not ${backend}`)
  process.exit(2)
}

async function one(seed) {
  try {
    const r = await runWorld(seed, backend, scale, { day })
    return r
  } catch (e) {
    console.error(e.message)
    process.exit(1)
  }
}

if (args.includes('--soak')) {
  if (value('--scale') === undefined) scale = 3
  const seconds = Number(value('--seconds') ?? process.env.SOAK_SECONDS ?? 600)
  const until = Date.now() + seconds * 1000
  let n = 0
  while (Date.now() < until) {
    await one(randomInt(1, 2 ** 31 - 1))
    n++
  }
  console.log(`full-stack soak: ${n} fresh worlds passed in ${seconds} s`)
} else {
  const seed = Number(value('--seed'))
  if (!Number.isSafeInteger(seed)) {
    console.error('usage: node scripts/sim.mjs --seed N [--backend yjs|automerge] [--day] | --soak [--seconds S]')
    process.exit(2)
  }
  console.log(`SEED=${seed}: ${describePlan(day ? planDay(seed, backend) : planWorld(seed, backend, scale))}`)
  const t0 = Date.now()
  const r = await one(seed)
  console.log(`passed: ${r.commands} commands, ${r.events} stored events, ${r.steps} steps, ${(r.virtualMs / 60000).toFixed(1)} virtual min in ${((Date.now() - t0) / 1000).toFixed(2)} s`)
}
