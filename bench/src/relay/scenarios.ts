/**
 * Relay anchors: [R1] fan-out on one document at K = 10, 50, 200 clients,
 * [R2] the same spread over many documents, [R3] connection rate and memory
 * per connection and per document. Every server in relay/servers.ts runs in
 * the same run, one at a time, each in its own process; servers that cannot
 * run yet (Concord's, until its relay is built) are listed with the reason.
 */
import { median, LatencyHistogram } from '../stats.js'
import { fmtInt, fmtMem, fmtPct, fmtRate, fmtUs } from '../report/markdown.js'
import { lineChart, type Series } from '../report/svg.js'
import type { Check, MarkdownTable, Measurement, Plot, RunOptions, Scenario, ScenarioResult } from '../types.js'
import { relayServers, type RelayServer, type ServerContext, type ServerHandle } from './servers.js'
import { LoadPool, runConnect, runFanout, type FanoutConfig, type FanoutResult } from './fanout.js'
import { writeCheckCostScenario } from './write-check-cost.js'

const KS = [10, 50, 200] as const
/** Offered load for the "same load" latency runs, in delivered messages per second. */
const FIXED_LOAD = 10_000

function fmtMsFromUs(us: number | undefined): string {
  if (us === undefined || !Number.isFinite(us)) return 'n/a'
  const ms = us / 1000
  return ms < 10 ? `${ms.toFixed(2)} ms` : ms < 100 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`
}

interface Agg {
  readonly server: RelayServer
  readonly params: Record<string, number>
  readonly runs: FanoutResult[]
  /** The runs at the fixed offered load (one per repetition), when the cell has them. */
  readonly fixed?: readonly FanoutResult[]
  readonly error?: string
}

function busier(r: FanoutResult): string {
  const load = Math.max(...r.loadCpuShares)
  const server = r.serverCpuShare
  // Neither near a full core: the closed loop waited on latency (or other processes had the CPUs).
  if (Math.max(load, server) < 0.7) return `neither (server ${fmtPct(server * 100)}, load ${fmtPct(load * 100)})`
  return server >= load ? `server (${fmtPct(server * 100)} vs load ${fmtPct(load * 100)})` : `load (${fmtPct(load * 100)} vs server ${fmtPct(server * 100)})`
}

function metricsOf(a: Agg): { metrics: Record<string, number>; samples: Record<string, number[]> } {
  const samples: Record<string, number[]> = {
    deliveredPerSec: a.runs.map((r) => r.deliveredPerSec),
    p50Us: a.runs.map((r) => r.hist.quantile(0.5)),
    p99Us: a.runs.map((r) => r.hist.quantile(0.99)),
    serverCpuUsPerDelivery: a.runs.map((r) => r.serverCpuUsPerDelivery),
    serverCpuPct: a.runs.map((r) => r.serverCpuShare * 100),
    loadCpuPct: a.runs.map((r) => Math.max(...r.loadCpuShares) * 100),
    deliveries: a.runs.map((r) => r.deliveries),
    seconds: a.runs.map((r) => r.wallUs / 1e6),
  }
  const metrics: Record<string, number> = {}
  for (const [k, v] of Object.entries(samples)) metrics[k] = median(v)
  if (a.fixed !== undefined && a.fixed.length > 0) {
    samples.fixedLoadP50Us = a.fixed.map((r) => r.hist.quantile(0.5))
    samples.fixedLoadP99Us = a.fixed.map((r) => r.hist.quantile(0.99))
    samples.fixedLoadDeliveredPerSec = a.fixed.map((r) => r.deliveredPerSec)
    for (const k of ['fixedLoadP50Us', 'fixedLoadP99Us', 'fixedLoadDeliveredPerSec']) metrics[k] = median(samples[k]!)
  }
  return { metrics, samples }
}

/** The run whose throughput is the median: its histogram and busier side represent the cell. */
function medianRun(runs: readonly FanoutResult[]): FanoutResult | undefined {
  const sorted = [...runs].sort((x, y) => x.deliveredPerSec - y.deliveredPerSec)
  return sorted[(sorted.length - 1) >> 1]
}

/** The fixed-load run whose p99 is the median: its latency distribution is the one plotted. */
function medianFixedRun(runs: readonly FanoutResult[]): FanoutResult | undefined {
  const sorted = [...runs].sort((x, y) => x.hist.quantile(0.99) - y.hist.quantile(0.99))
  return sorted[(sorted.length - 1) >> 1]
}

function usableServers(options: RunOptions, notes: string[]): RelayServer[] {
  const ctx: ServerContext = { repoRoot: options.repoRoot }
  const out: RelayServer[] = []
  for (const s of relayServers) {
    if (options.servers !== undefined && !options.servers.includes(s.id)) continue
    const why = s.unavailable(ctx)
    if (why === undefined) out.push(s)
    else notes.push(`${s.title}: not run (${why}).`)
  }
  return out
}

async function fanoutCells(
  options: RunOptions,
  label: string,
  servers: readonly RelayServer[],
  configs: ReadonlyArray<{ params: Record<string, number>; cfg: FanoutConfig; fixed?: FanoutConfig }>,
): Promise<Agg[]> {
  const ctx: ServerContext = { repoRoot: options.repoRoot }
  const out: Agg[] = []
  const pool = new LoadPool()
  try {
    for (const server of servers) {
      // One server process for all of this scenario's runs on it (each run uses
      // fresh documents): its JIT is warm after the first, as in production.
      let handle: ServerHandle
      try {
        handle = await server.start(ctx)
      } catch (err) {
        for (const { params } of configs) out.push({ server, params, runs: [], error: `start: ${err instanceof Error ? err.message : String(err)}` })
        continue
      }
      for (const { params, cfg, fixed } of configs) {
        const runs: FanoutResult[] = []
        const desc = Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ')
        try {
          for (let rep = 0; rep < options.reps; rep++) {
            options.progress.log(`${label} ${server.id} ${desc} rep ${rep + 1}/${options.reps}: ${cfg.docs * cfg.clientsPerDoc} clients x ${cfg.updatesPerClient} updates`)
            const r = await runFanout(server, handle, cfg, pool)
            options.progress.log(`  ${fmtRate(r.deliveredPerSec)} delivered/s, p99 ${fmtMsFromUs(r.hist.quantile(0.99))}, ${fmtUs(r.serverCpuUsPerDelivery)} server CPU per delivery, busier: ${busier(r)}${r.problems.length > 0 ? `, PROBLEMS: ${r.problems.slice(0, 3).join('; ')}` : ''}`)
            runs.push(r)
          }
          // Latency at the same offered load, repeated like the saturation runs: one run's p99 is a handful of slow updates.
          const fixedRuns: FanoutResult[] = []
          for (let rep = 0; fixed !== undefined && rep < options.reps; rep++) {
            options.progress.log(`${label} ${server.id} ${desc} at ${fmtRate(FIXED_LOAD)} deliveries/s offered, rep ${rep + 1}/${options.reps}: ${fixed.docs * fixed.clientsPerDoc} clients x ${fixed.updatesPerClient} updates`)
            const r = await runFanout(server, handle, fixed, pool)
            options.progress.log(`  p50 ${fmtMsFromUs(r.hist.quantile(0.5))}, p99 ${fmtMsFromUs(r.hist.quantile(0.99))}${r.problems.length > 0 ? `, PROBLEMS: ${r.problems.slice(0, 3).join('; ')}` : ''}`)
            fixedRuns.push(r)
          }
          out.push({ server, params, runs, ...(fixed !== undefined ? { fixed: fixedRuns } : {}) })
        } catch (err) {
          out.push({ server, params, runs, error: err instanceof Error ? err.message : String(err) })
        }
      }
      await handle.stop()
    }
  } finally {
    await pool.close()
  }
  return out
}

function checksOf(caseId: string, aggs: readonly Agg[]): Check[] {
  const checks: Check[] = []
  for (const a of aggs) {
    const desc = Object.entries(a.params).map(([k, v]) => `${k}=${v}`).join(' ')
    const name = `${caseId} ${a.server.id} ${desc}`
    if (a.error !== undefined) {
      checks.push({ name: `${name}: ran`, ok: false, detail: a.error })
      continue
    }
    const problems = [...a.runs, ...(a.fixed ?? [])].flatMap((r) => r.problems)
    checks.push({
      name: `${name}: every client received every update exactly once${a.server.stateful ? ', late joiner has the whole text' : ''}`,
      ok: problems.length === 0,
      detail: problems.length === 0 ? 'ok' : problems.slice(0, 5).join('; '),
    })
  }
  return checks
}

function measurementsOf(caseId: string, title: string, aggs: readonly Agg[]): Measurement[] {
  return aggs.filter((a) => a.runs.length > 0).map((a) => {
    const { metrics, samples } = metricsOf(a)
    return { case: caseId, caseTitle: title, subject: a.server.id, params: a.params, metrics, samples }
  })
}

function targetRate(a: Agg): string {
  const t = a.server.targets?.deliveredPerSec?.[a.params.K ?? -1]
  return t === undefined ? '' : `~${fmtRate(t)}`
}

function targetCpu(a: Agg): string {
  const t = a.server.targets?.cpuUsPerDelivery
  return t === undefined ? '' : `${t[0]}-${t[1]} us`
}

function fanoutTable(title: string, paramCols: readonly string[], aggs: readonly Agg[], withFixed: boolean, notes: readonly string[]): MarkdownTable {
  const header = ['server', ...paramCols, 'delivered/s', 'target', 'p50', 'p99', 'server CPU / delivery', 'target', 'server CPU', 'load CPU', 'busier side']
  if (withFixed) header.push(`p50 @${fmtRate(FIXED_LOAD)}/s`, `p99 @${fmtRate(FIXED_LOAD)}/s`)
  const rows: string[][] = []
  for (const a of aggs) {
    const params = paramCols.map((c) => fmtInt(a.params[c]))
    if (a.runs.length === 0) {
      rows.push([a.server.title, ...params, `failed: ${(a.error ?? '').slice(0, 60)}`, ...header.slice(paramCols.length + 2).map(() => '')])
      continue
    }
    const { metrics } = metricsOf(a)
    const mid = medianRun(a.runs)!
    const row = [
      a.server.title,
      ...params,
      fmtRate(metrics.deliveredPerSec),
      targetRate(a),
      fmtMsFromUs(metrics.p50Us),
      fmtMsFromUs(metrics.p99Us),
      fmtUs(metrics.serverCpuUsPerDelivery),
      targetCpu(a),
      fmtPct(metrics.serverCpuPct),
      fmtPct(metrics.loadCpuPct),
      busier(mid).split(' ')[0]!,
    ]
    if (withFixed) row.push(fmtMsFromUs(metrics.fixedLoadP50Us), fmtMsFromUs(metrics.fixedLoadP99Us))
    rows.push(row)
  }
  return { title, header, rows, notes: [...notes] }
}

function cdfPlot(file: string, title: string, entries: ReadonlyArray<{ name: string; hist: LatencyHistogram }>): Plot {
  const series: Series[] = entries.map((e) => ({ name: e.name, points: e.hist.cdf().map(([us, f]) => [us / 1000, f * 100] as [number, number]) }))
  return { file, title, svg: lineChart({ title, xLabel: 'latency send -> receipt (ms, log)', yLabel: '% of deliveries at or below', series, xLog: true }) }
}

/**
 * The relay targets for every Concord entry, as sentences for the table
 * notes: at K = 50 and 200, at least 1.5x the deliveries per second of
 * @y/websocket-server, at most 2x the CPU per delivery of the built-once
 * floor, p99 at the same load no worse than y-websocket-server's.
 */
function concordTargetNotes(aggs: readonly Agg[]): string[] {
  const notes: string[] = []
  const find = (id: string, K: number): Record<string, number> | undefined => {
    const a = aggs.find((x) => x.server.id === id && x.params.K === K && x.runs.length > 0)
    return a === undefined ? undefined : metricsOf(a).metrics
  }
  for (const a of aggs) {
    if (!a.server.id.startsWith('concord') || a.runs.length === 0) continue
    const K = a.params.K
    if (K !== 50 && K !== 200) continue
    const m = metricsOf(a).metrics
    const yws = find('y-websocket-server', K)
    const floor = find('built-once', K)
    const parts: string[] = []
    if (yws?.deliveredPerSec !== undefined && m.deliveredPerSec !== undefined) {
      const r = m.deliveredPerSec / yws.deliveredPerSec
      parts.push(`${r.toFixed(2)}x the deliveries/s of @y/websocket-server (target >= 1.5x: ${r >= 1.5 ? 'met' : 'MISSED'})`)
    }
    if (floor?.serverCpuUsPerDelivery !== undefined && m.serverCpuUsPerDelivery !== undefined) {
      const r = m.serverCpuUsPerDelivery / floor.serverCpuUsPerDelivery
      parts.push(`${r.toFixed(2)}x the CPU per delivery of the built-once floor (target <= 2x: ${r <= 2 ? 'met' : 'MISSED'})`)
    }
    if (yws?.fixedLoadP99Us !== undefined && m.fixedLoadP99Us !== undefined) {
      const ok = m.fixedLoadP99Us <= yws.fixedLoadP99Us
      parts.push(`p99 at ${fmtRate(FIXED_LOAD)}/s ${fmtMsFromUs(m.fixedLoadP99Us)} vs ${fmtMsFromUs(yws.fixedLoadP99Us)} (target: no worse: ${ok ? 'met' : 'MISSED'})`)
    }
    if (parts.length > 0) notes.push(`Target check, ${a.server.title} at K=${K}: ${parts.join('; ')}.`)
  }
  return notes
}

const FANOUT_NOTES = [
  'delivered/s: updates received by all clients together per second of the run (each update counts once per receiving client, the sender included); saturation run, closed loop (each client keeps a few of its own updates in flight; its own update coming back is the acknowledgement). Medians of the repetitions.',
  `p50/p99: send -> receipt latency measured inside each load process on its own clock. At saturation this is mostly queueing; the @${fmtRate(FIXED_LOAD)}/s columns are the same clients at a fixed offered load of ${FIXED_LOAD.toLocaleString('en-US')} deliveries/s (open loop), the fair comparison of latency: at least 3 s and 500 updates per run, medians of the repetitions' p50 and p99 (quick mode: K = 50 only, 1 s).`,
  'server CPU / delivery: user+system CPU time of the server process over the run divided by deliveries; it holds on a shared machine where wall-clock throughput does not. server/load CPU: share of one core used by the server process and by the busiest load process (above 100% when other threads of the process work too: GC, the libuv pool doing SQLite writes and fsyncs).',
  'busier side: the process with the higher CPU share. When it is the load side, the server was not the bottleneck and delivered/s understates the server; "neither" (both under 70% of a core) means the run waited on latency or other processes had the CPUs.',
  'Targets: anchors measured on this kind of machine (medians of 3 runs; Hocuspocus 5-20 us, raw ws 3.4-4.1 us, built-once 1-3 us per delivery). Hocuspocus 4 merges the updates of one event-loop turn into one broadcast; its deliveries are counted per update inside the merged frames.',
]

function r1Scenario(): Scenario {
  return {
    id: 'R1',
    title: 'Relay fan-out: K clients on one document',
    group: 'relay',
    async run(options: RunOptions): Promise<ScenarioResult> {
      const notes: string[] = []
      const servers = usableServers(options, notes)
      const target = options.quick ? 25_000 : 300_000
      const configs = KS.map((K) => {
        const window = Math.max(1, Math.ceil(400 / K))
        const cfg: FanoutConfig = {
          docs: 1,
          clientsPerDoc: K,
          updatesPerClient: Math.max(3, Math.ceil(target / (K * K))),
          window,
          loadProcesses: options.loadProcesses,
          timeoutMs: 120_000,
        }
        // At least 3 s and 500 updates (p99 over deliveries is then the 5 slowest updates' fan-outs); quick: 1 s.
        const fixedSeconds = options.quick ? 1 : Math.max(3, 500 / (FIXED_LOAD / K))
        const fixed: FanoutConfig = {
          ...cfg,
          updatesPerClient: Math.max(1, Math.round((FIXED_LOAD * fixedSeconds) / (K * K))),
          ratePerSec: FIXED_LOAD / K,
        }
        // Quick mode measures latency at the fixed load at K = 50 only.
        return { params: { K }, cfg, ...(options.quick && K !== 50 ? {} : { fixed }) }
      })
      const aggs = await fanoutCells(options, 'R1', servers, configs)
      const plots: Plot[] = []
      const byServer = (metric: 'deliveredPerSec' | 'serverCpuUsPerDelivery'): Series[] =>
        servers.map((s) => ({
          name: s.id,
          points: aggs.filter((a) => a.server === s && a.runs.length > 0).map((a) => [a.params.K!, metricsOf(a).metrics[metric]!] as [number, number]),
        }))
      plots.push({
        file: 'r1-throughput.svg',
        title: 'R1 delivered messages per second by K',
        svg: lineChart({ title: 'R1: delivered messages/s by K (one document)', xLabel: 'K clients (log)', yLabel: 'delivered messages / s', series: byServer('deliveredPerSec'), xLog: true, xTicks: [...KS], markers: true, yFromZero: true }),
      })
      plots.push({
        file: 'r1-cpu-per-delivery.svg',
        title: 'R1 server CPU per delivered message by K',
        svg: lineChart({ title: 'R1: server CPU per delivered message', xLabel: 'K clients (log)', yLabel: 'us of server CPU / delivery', series: byServer('serverCpuUsPerDelivery'), xLog: true, xTicks: [...KS], markers: true, yFromZero: true }),
      })
      for (const K of KS) {
        const cell = aggs.filter((a) => a.params.K === K && a.runs.length > 0)
        plots.push(cdfPlot(`r1-latency-k${K}.svg`, `R1 latency distribution at saturation, K=${K}`, cell.map((a) => ({ name: a.server.id, hist: medianRun(a.runs)!.hist }))))
        const fixedCells = cell.filter((a) => a.fixed !== undefined && a.fixed.length > 0)
        if (fixedCells.length > 0) plots.push(cdfPlot(`r1-latency-k${K}-fixed-load.svg`, `R1 latency at ${fmtRate(FIXED_LOAD)} deliveries/s, K=${K} (run with the median p99)`, fixedCells.map((a) => ({ name: a.server.id, hist: medianFixedRun(a.fixed!)!.hist }))))
      }
      const table = fanoutTable('[R1] Fan-out on one document', ['K'], aggs, true, [...FANOUT_NOTES, ...concordTargetNotes(aggs), ...notes])
      return {
        measurements: measurementsOf('R1', 'Fan-out on one document', aggs),
        checks: checksOf('R1', aggs),
        tables: [table],
        plots,
        notes,
        extra: { histograms: aggs.filter((a) => a.runs.length > 0).map((a) => ({ server: a.server.id, params: a.params, saturation: medianRun(a.runs)!.hist.toJSON(), fixedLoad: a.fixed === undefined || a.fixed.length === 0 ? undefined : medianFixedRun(a.fixed)!.hist.toJSON() })) },
      }
    },
  }
}

function r2Scenario(): Scenario {
  return {
    id: 'R2',
    title: 'Relay fan-out over many documents',
    group: 'relay',
    async run(options: RunOptions): Promise<ScenarioResult> {
      const notes: string[] = []
      const servers = usableServers(options, notes)
      const docs = options.quick ? 10 : 100
      const perDoc = 5
      const target = options.quick ? 15_000 : 300_000
      const cfg: FanoutConfig = {
        docs,
        clientsPerDoc: perDoc,
        updatesPerClient: Math.max(3, Math.ceil(target / (docs * perDoc * perDoc))),
        window: 1,
        loadProcesses: options.loadProcesses,
        timeoutMs: 120_000,
      }
      const aggs = await fanoutCells(options, 'R2', servers, [{ params: { docs, 'clients/doc': perDoc }, cfg }])
      const table = fanoutTable('[R2] Fan-out over many documents', ['docs', 'clients/doc'], aggs, false, [
        `${docs} documents x ${perDoc} clients, every client sending (window 1). Same measures as R1; the R1 targets do not apply.`,
        ...notes,
      ])
      const plots = [cdfPlot('r2-latency.svg', `R2 latency distribution, ${docs} documents x ${perDoc} clients`, aggs.filter((a) => a.runs.length > 0).map((a) => ({ name: a.server.id, hist: medianRun(a.runs)!.hist })))]
      return { measurements: measurementsOf('R2', 'Fan-out over many documents', aggs), checks: checksOf('R2', aggs), tables: [table], plots, notes }
    },
  }
}

function r3Scenario(): Scenario {
  return {
    id: 'R3',
    title: 'Connections per second, memory per connection and per document',
    group: 'relay',
    async run(options: RunOptions): Promise<ScenarioResult> {
      const notes: string[] = []
      const servers = usableServers(options, notes)
      const connections = options.quick ? 100 : 1000
      const documents = options.quick ? 50 : 1000
      const measurements: Measurement[] = []
      const checks: Check[] = []
      const rows: string[][] = []
      const curves: Series[] = []
      const pool = new LoadPool()
      for (const server of servers) {
        options.progress.log(`R3 ${server.id}: ${connections} connections on one document, then ${documents} documents`)
        const samples: Record<string, number[]> = {}
        let last: Awaited<ReturnType<typeof runConnect>> | undefined
        try {
          for (let rep = 0; rep < options.reps; rep++) {
            const r = await runConnect(server, { repoRoot: options.repoRoot }, connections, documents, options.loadProcesses, options.quick ? 2 : 5, pool)
            last = r
            const add = (k: string, v: number | undefined): void => { if (v !== undefined) (samples[k] ??= []).push(v) }
            add('connectionsPerSec', r.perSec)
            add('rssPerConnection', r.rssPerConnection)
            add('heapPerConnection', r.heapPerConnection)
            add('rssPerDocument', r.rssPerDocument)
            add('heapPerDocument', r.heapPerDocument)
          }
          const metrics: Record<string, number> = {}
          for (const [k, v] of Object.entries(samples)) metrics[k] = median(v)
          measurements.push({ case: 'R3', caseTitle: 'Connections and memory', subject: server.id, params: { connections, documents }, metrics, samples })
          checks.push({ name: `R3 ${server.id}: every connection completed its handshake`, ok: last !== undefined && last.problems.length === 0, detail: last?.problems.join('; ') || 'ok' })
          if (last !== undefined) curves.push({ name: server.id, points: last.rssCurve.map(([n, rss]) => [n, rss / 2 ** 20] as [number, number]) })
          rows.push([server.title, fmtInt(metrics.connectionsPerSec), fmtMem(metrics.rssPerConnection), fmtMem(metrics.heapPerConnection), fmtMem(metrics.rssPerDocument), fmtMem(metrics.heapPerDocument)])
          options.progress.log(`  ${fmtInt(metrics.connectionsPerSec)} connections/s, ${fmtMem(metrics.rssPerConnection)} RSS per connection, ${fmtMem(metrics.rssPerDocument)} RSS per document`)
        } catch (err) {
          checks.push({ name: `R3 ${server.id}: ran`, ok: false, detail: err instanceof Error ? err.message : String(err) })
          rows.push([server.title, 'failed', '', '', '', ''])
        }
      }
      await pool.close()
      const table: MarkdownTable = {
        title: '[R3] Connections per second and memory',
        header: ['server', 'connections/s', 'RSS / connection', 'heap / connection', 'RSS / document', 'heap / document'],
        rows,
        notes: [
          `connections/s: ${connections} clients opening a WebSocket and completing the sync handshake on one document, 32 at a time per load process.`,
          `memory: server RSS and V8 heap (after a full GC in the server) after those connections, divided by their count; per document: ${documents} clients on as many documents, less one connection's share. Heap is n/a for servers we cannot ask to GC (external command).`,
          ...notes,
        ],
      }
      const plots: Plot[] = [{
        file: 'r3-memory-growth.svg',
        title: 'R3 server RSS as connections grow',
        svg: lineChart({ title: 'R3: server RSS by open connections (one document)', xLabel: 'open connections', yLabel: 'RSS (MiB)', series: curves, markers: true }),
      }]
      return { measurements, checks, tables: [table], plots, notes }
    },
  }
}

export const relayScenarios: readonly Scenario[] = [r1Scenario(), r2Scenario(), r3Scenario(), writeCheckCostScenario()]
