// The success metrics over simulated team days (build first: pnpm build).
//   node scripts/sim-metrics.mjs [--days N] [--backend yjs|automerge] [--seed S] [--json PATH]
// Runs N team days per backend (default 6; test/support/sim/plan.ts planDay: 2 to 8 devices, 8 virtual
// hours, every fault class), checks each like the suite does, and prints: sync success rate (saved changes
// stored as they were made, without a refusal), manual-intervention rate (stored changes that raised a
// conflict needing a person; target under 5 %), and reconnect to high-priority acknowledgement (target
// under 30 s). Seeds come from --seed (default 20261204), so a run is repeatable.
import { writeFileSync } from 'node:fs'
import { resolve, dirname } from 'node:path'
import { pathToFileURL } from 'node:url'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const load = (p) => import(pathToFileURL(resolve(root, 'test/dist/support/sim', p)).href)
const { runWorld, worldSeed } = await load('run.js')
const { describePlan, planDay } = await load('plan.js')
const { summarize } = await load('metrics.js')

const args = process.argv.slice(2)
const value = (flag) => {
  const i = args.indexOf(flag)
  return i < 0 ? undefined : args[i + 1]
}
const days = Number(value('--days') ?? 6)
const base = Number(value('--seed') ?? 20261204)
const only = value('--backend')
if (!Number.isSafeInteger(days) || days < 1 || !Number.isSafeInteger(base) || (only !== undefined && only !== 'yjs' && only !== 'automerge')) {
  console.error('usage: node scripts/sim-metrics.mjs [--days N] [--backend yjs|automerge] [--seed S] [--json PATH]')
  process.exit(2)
}

const pct = (x) => `${(100 * x).toFixed(2)} %`
const sec = (ms) => `${(ms / 1000).toFixed(1)} s`
const out = { seed: base, days, node: process.version, backends: {} }
for (const backend of only === undefined ? ['yjs', 'automerge'] : [only]) {
  const stats = []
  for (let i = 0; i < days; i++) {
    const seed = worldSeed(base, backend, i)
    const t0 = Date.now()
    try {
      const r = await runWorld(seed, backend, 1, { day: true, measure: true })
      stats.push(r.stats)
      console.error(`${backend} day ${i + 1}/${days} seed ${seed}: ${describePlan(planDay(seed, backend))}; ${r.commands} commands, ${r.stats.stored} stored, ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    } catch (e) {
      console.error(e.message)
      process.exit(1)
    }
  }
  const s = summarize(stats)
  out.backends[backend] = s
  console.log(`${backend}: ${s.days} team days, ${s.saved} saved changes, ${s.stored} stored events`)
  console.log(`  sync success rate        ${pct(s.syncSuccess)} (per day min ${pct(s.syncSuccessByDay[0])}, median ${pct(s.syncSuccessByDay[1])}, max ${pct(s.syncSuccessByDay[2])})`)
  console.log(`  manual-intervention rate ${pct(s.manualIntervention)} (per day min ${pct(s.manualInterventionByDay[0])}, median ${pct(s.manualInterventionByDay[1])}, max ${pct(s.manualInterventionByDay[2])}; target < 5 %)`)
  console.log(`  reconnect -> high-priority acks: ${s.reconnects} reconnects, median ${sec(s.highPriorityAckMs[0])}, p95 ${sec(s.highPriorityAckMs[1])}, max ${sec(s.highPriorityAckMs[2])}; ${pct(s.within30s)} within 30 s (target); ${s.interrupted} cut short by going offline again`)
}
const json = value('--json')
if (json !== undefined) writeFileSync(json, JSON.stringify(out, null, 2))
