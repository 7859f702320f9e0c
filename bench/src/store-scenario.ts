/**
 * [S1] in the registry: runs the standalone store-append benchmark
 * (store-append.ts, the relay's event stores' append throughput) as a child
 * process and turns its JSON into a table. Its own correctness checks make
 * it exit non-zero, which fails the scenario here.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fmtInt } from './report/markdown.js'
import type { RunOptions, Scenario, ScenarioResult } from './types.js'

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'store-append.js')

interface StoreResult { case: string; store: string; batch: number; events: number; seconds: number; eventsPerSec: number; batchesPerSec: number }

export const storeScenario: Scenario = {
  id: 'S1',
  title: 'Event store append throughput',
  group: 'store',
  async run(options: RunOptions): Promise<ScenarioResult> {
    const relayStore = path.join(options.repoRoot, 'packages', 'relay', 'dist', 'store', 'index.js')
    if (!existsSync(relayStore)) {
      const why = 'S1 skipped: packages/relay/dist/store is not built (pnpm build)'
      return { measurements: [], checks: [], tables: [], plots: [], notes: [why], skipped: why }
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'concord-bench-s1-'))
    const out = path.join(dir, 's1.json')
    try {
      options.progress.log('S1 store-append.js' + (options.quick ? ' --quick' : ''))
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [script, ...(options.quick ? ['--quick'] : []), '--json', out], { stdio: ['ignore', 'ignore', 'pipe'] })
        let err = ''
        child.stderr.on('data', (b: Buffer) => {
          err += b.toString()
          for (const line of b.toString().split('\n')) if (line.trim() !== '') options.progress.log(`  ${line.trim()}`)
        })
        child.on('exit', (c) => resolve({ code: c, stderr: err }))
      })
      if (code !== 0 || !existsSync(out)) {
        return { measurements: [], checks: [{ name: 'S1: store-append ran and its checks passed', ok: false, detail: `exit ${code}: ${stderr.slice(-400)}` }], tables: [], plots: [], notes: [] }
      }
      const { results } = JSON.parse(readFileSync(out, 'utf8')) as { results: StoreResult[] }
      return {
        measurements: results.map((r) => ({
          case: r.case,
          caseTitle: 'Event store append',
          subject: r.store,
          params: { batch: r.batch, events: r.events },
          metrics: { eventsPerSec: r.eventsPerSec, batchesPerSec: r.batchesPerSec, seconds: r.seconds },
        })),
        checks: [{ name: 'S1: every store ends with exactly the sequence numbers appended', ok: true, detail: 'ok' }],
        tables: [{
          title: '[S1] Event store append throughput',
          header: ['case', 'store', 'events/batch', 'events', 'events/s', 'batches/s'],
          rows: results.map((r) => [`[${r.case}]`, r.store, String(r.batch), fmtInt(r.events), fmtInt(r.eventsPerSec), fmtInt(r.batchesPerSec)]),
          notes: ['From bench/src/store-append.ts: one-event batches (a quiet relay, every event its own commit) and 50-event batches over 5 documents (a busy relay group-committing). Postgres cases run when CONCORD_BENCH_PG answers.'],
        }],
        plots: [],
        notes: [],
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
