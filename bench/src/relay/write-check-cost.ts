/**
 * [R4] What the trust boundary costs: the relay's time in its write check
 * (inspecting an update's effect and checking it against the schema, the
 * token and the author; its own concord_write_check_seconds_total) beside
 * the relay process's whole CPU, per event, at a fixed offered load below
 * saturation. Three loads of R2's shape (many documents x 5 clients):
 *
 * - native: purchases, every client typing into its notes over the native protocol;
 * - y text: generic Yjs rooms (one character per update), the load R1/R2 and the peers use;
 * - y purchase: purchases, every y-websocket client setting its own line's
 *   quantity (purchase-load.ts), so the relay derives the purchase and runs
 *   its invariants and conflict detection on every group as well.
 *
 * The check is timed with a monotonic clock around the synchronous check, so
 * it counts wall time: on a busy machine that is at least its CPU time, and
 * the share is an upper bound. Target: at most 15 % of the relay's CPU per event.
 */
import { median } from '../stats.js'
import { fmtInt, fmtPct, fmtRate, fmtUs } from '../report/markdown.js'
import type { Check, Measurement, RunOptions, Scenario, ScenarioResult } from '../types.js'
import { LoadPool, runFanout, type FanoutConfig, type FanoutResult } from './fanout.js'
import type { LoadWorkload } from './loadgen.js'
import { relayServers, type ServerContext } from './servers.js'

const TARGET_SHARE = 0.15

interface Load {
  readonly id: string
  readonly server: string
  readonly workload: LoadWorkload
  readonly what: string
}

const LOADS: readonly Load[] = [
  { id: 'native', server: 'concord-native', workload: 'text', what: 'native protocol, purchases, notes typing' },
  { id: 'y-text', server: 'concord-y', workload: 'text', what: 'y-websocket, generic rooms, text typing' },
  { id: 'y-purchase', server: 'concord-y', workload: 'purchase-lines', what: 'y-websocket, purchases, line quantity writes' },
]

interface Cell {
  readonly load: Load
  readonly runs: FanoutResult[]
  readonly error?: string
}

const stat = (xs: readonly number[]) => ({ min: Math.min(...xs), med: median(xs), max: Math.max(...xs) })
const perEvent = (r: FanoutResult) => ({ cpu: r.serverCpuUs / Math.max(1, r.events), check: (r.writeCheckUs ?? NaN) / Math.max(1, r.events) })

export function writeCheckCostScenario(): Scenario {
  return {
    id: 'R4',
    title: 'The write check\'s share of the relay\'s CPU',
    group: 'relay',
    async run(options: RunOptions): Promise<ScenarioResult> {
      const docs = options.quick ? 20 : 100
      const perDoc = 5
      const seconds = options.quick ? 4 : 12
      // Offered updates per second, all clients together: each is delivered to 5 clients, so 5x deliveries/s.
      const rate = options.quick ? 400 : 1000
      const ctx: ServerContext = { repoRoot: options.repoRoot }
      const notes: string[] = []
      const cells: Cell[] = []
      const pool = new LoadPool()
      try {
        for (const load of LOADS) {
          const server = relayServers.find((s) => s.id === load.server)!
          if (options.servers !== undefined && !options.servers.includes(server.id)) continue
          if (!options.selects(`R4.${load.id}`)) continue
          const why = server.unavailable(ctx)
          if (why !== undefined) {
            notes.push(`${load.id}: not run (${why}).`)
            continue
          }
          const cfg: FanoutConfig = {
            docs, clientsPerDoc: perDoc, updatesPerClient: Math.ceil((rate * seconds) / (docs * perDoc)), window: 1, ratePerSec: rate,
            loadProcesses: options.loadProcesses, timeoutMs: seconds * 1000 + 60_000, workload: load.workload,
          }
          const handle = await server.start(ctx)
          const runs: FanoutResult[] = []
          try {
            // One warm-up run (JIT, SQLite page cache), not counted.
            for (let rep = 0; rep <= options.reps; rep++) {
              options.progress.log(`R4 ${load.id} ${rep === 0 ? 'warm-up' : `rep ${rep}/${options.reps}`}: ${docs} docs x ${perDoc} clients, ${fmtRate(rate)} updates/s for ${seconds} s`)
              const r = await runFanout(server, handle, cfg, pool)
              const pe = perEvent(r)
              options.progress.log(`  relay CPU ${fmtUs(pe.cpu)}/event, write check ${fmtUs(pe.check)}/event (${fmtPct((pe.check / pe.cpu) * 100)})${r.problems.length > 0 ? `, PROBLEMS: ${r.problems.slice(0, 3).join('; ')}` : ''}`)
              if (rep > 0) runs.push(r)
            }
            cells.push({ load, runs })
          } catch (err) {
            cells.push({ load, runs, error: err instanceof Error ? err.message : String(err) })
          } finally {
            await handle.stop()
          }
        }
      } finally {
        await pool.close()
      }

      const measurements: Measurement[] = []
      const checks: Check[] = []
      const rows: string[][] = []
      for (const c of cells) {
        const problems = c.runs.flatMap((r) => r.problems)
        const measured = c.runs.length > 0 && c.runs.every((r) => r.writeCheckUs !== undefined && r.writeCheckUs > 0)
        checks.push({
          name: `R4 ${c.load.id}: every update delivered, the write check measured`,
          ok: c.error === undefined && problems.length === 0 && measured,
          detail: c.error ?? (problems.length > 0 ? problems.slice(0, 3).join('; ') : measured ? `${c.runs.length} runs` : 'the relay reported no write-check time'),
        })
        if (c.runs.length === 0) continue
        const cpu = stat(c.runs.map((r) => perEvent(r).cpu))
        const check = stat(c.runs.map((r) => perEvent(r).check))
        const share = stat(c.runs.map((r) => perEvent(r).check / perEvent(r).cpu))
        measurements.push({
          case: 'R4', caseTitle: 'The write check\'s share of the relay\'s CPU', subject: c.load.id,
          params: { docs, 'clients/doc': perDoc, 'updates/s': rate, seconds },
          metrics: { relayCpuUsPerEvent: cpu.med, writeCheckUsPerEvent: check.med, writeCheckShare: share.med, events: median(c.runs.map((r) => r.events)) },
          samples: {
            relayCpuUsPerEvent: c.runs.map((r) => perEvent(r).cpu),
            writeCheckUsPerEvent: c.runs.map((r) => perEvent(r).check),
            writeCheckShare: c.runs.map((r) => perEvent(r).check / perEvent(r).cpu),
          },
        })
        rows.push([
          c.load.id, c.load.what, fmtInt(median(c.runs.map((r) => r.events))),
          `${fmtUs(cpu.med)} (${fmtUs(cpu.min)}-${fmtUs(cpu.max)})`,
          `${fmtUs(check.med)} (${fmtUs(check.min)}-${fmtUs(check.max)})`,
          `${fmtPct(share.med * 100)} (${fmtPct(share.min * 100)}-${fmtPct(share.max * 100)})`,
          share.med <= TARGET_SHARE ? 'met' : 'MISSED',
        ])
      }
      return {
        measurements,
        checks,
        tables: [{
          title: '[R4] The write check\'s share of the relay\'s CPU',
          header: ['load', 'what', 'events/run', 'relay CPU / event', 'write check / event', 'share', `target <= ${TARGET_SHARE * 100} %`],
          rows,
          notes: [
            `${docs} documents x ${perDoc} clients, ${fmtRate(rate)} updates/s offered (open loop) for ${seconds} s per run, after one warm-up run; median (min-max) of ${options.reps} runs.`,
            'relay CPU: user+system time of the relay process over the run / updates sent. write check: concord_write_check_seconds_total over the run / updates sent (wall time around a synchronous check: an upper bound of its CPU).',
            ...notes,
          ],
        }],
        plots: [],
        notes,
      }
    },
  }
}
