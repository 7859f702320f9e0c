/**
 * The benchmark runner: `node bench/dist/run.js [--quick] [--only B1,R1]
 * [--trace <path>] [--reps n] [--load-procs 1|2]`. Runs the registered
 * scenarios in order, prints progress on stderr and the Markdown table on
 * stdout, and writes bench/results/<timestamp>.json, latest.json, latest.md
 * and SVG plots under bench/results/plots/. Exits 1 when any scenario's own
 * check failed: a fast wrong answer is a failure, not a result.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import os from 'node:os'
import path from 'node:path'
import { scenarios } from './registry.js'
import { relayServers } from './relay/servers.js'
import { Progress } from './progress.js'
import { libraryVersions, machineInfo } from './versions.js'
import { resolveTracePath } from './crdt/trace.js'
import { renderTable } from './report/markdown.js'
import type { RunOptions, Scenario, ScenarioResult } from './types.js'

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const repoRoot = path.resolve(benchDir, '..')

interface Args {
  quick: boolean
  only: string[]
  trace: string | undefined
  reps: number | undefined
  loadProcs: number | undefined
  servers: string[] | undefined
  variants: string[] | undefined
  readme: boolean
  out: string
}

const USAGE = `usage: node bench/dist/run.js [options]
  --quick            small version of every scenario (whole run under 3 minutes)
  --only B1,B4,R1    run only these scenarios or cases (B1.4, R1...)
  --trace <path>     B4 editing trace (default: $CONCORD_TRACE, then ../shared/data/automerge-paper.json.gz)
  --reps <n>         repetitions per measure (default 3, quick 1); tables show medians
  --load-procs <n>   load generator processes for the relay scenarios (1 or 2, default 2)
  --servers a,b      relay servers to run (default all): ${relayServers.map((s) => s.id).join(', ')}
  --variants a,b     CRDT variants to run (default all): yjs, yjs-v1, automerge, concord-yjs, concord-automerge
  --readme           also put this run's tables in bench/README.md (after its latest-results marker)
  --out <dir>        results directory (default bench/results)
scenarios: ${scenarios.map((s) => s.id).join(', ')}`

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, only: [], trace: undefined, reps: undefined, loadProcs: undefined, servers: undefined, variants: undefined, readme: false, out: path.join(benchDir, 'results') }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`)
      return v
    }
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined]
    const v = (): string => inline ?? value()
    switch (flag) {
      case '--quick': args.quick = true; break
      case '--only': args.only = v().split(',').map((s) => s.trim().replace(/^\[|\]$/g, '')).filter((s) => s !== ''); break
      case '--trace': args.trace = v(); break
      case '--reps': args.reps = Number(v()); break
      case '--load-procs': args.loadProcs = Number(v()); break
      case '--servers': args.servers = v().split(',').map((x) => x.trim()).filter((x) => x !== ''); break
      case '--readme': args.readme = true; break
      case '--variants': args.variants = v().split(',').map((x) => x.trim()).filter((x) => x !== ''); break
      case '--out': args.out = path.resolve(v()); break
      case '--help': case '-h': process.stdout.write(USAGE + '\n'); process.exit(0); break
      default: throw new Error(`unknown option ${a}\n${USAGE}`)
    }
  }
  if (args.reps !== undefined && (!Number.isInteger(args.reps) || args.reps < 1)) throw new Error('--reps must be a positive integer')
  if (args.loadProcs !== undefined && args.loadProcs !== 1 && args.loadProcs !== 2) throw new Error('--load-procs must be 1 or 2')
  const known = new Set(scenarios.map((s) => s.id))
  for (const t of args.only) {
    if (!known.has(t.split('.')[0]!)) throw new Error(`--only: unknown scenario ${t}\n${USAGE}`)
  }
  return args
}

/** A case runs when --only is empty, names its scenario, or names the case itself. */
function caseSelector(only: readonly string[]): (caseId: string) => boolean {
  if (only.length === 0) return () => true
  return (caseId) => only.some((t) => t === caseId || t === caseId.split('.')[0] || caseId.startsWith(t + '.'))
}

function scenarioSelected(s: Scenario, only: readonly string[]): boolean {
  return only.length === 0 || only.some((t) => t === s.id || t.startsWith(s.id + '.'))
}

interface ScenarioRecord {
  readonly id: string
  readonly title: string
  readonly group: string
  readonly status: 'ok' | 'failed' | 'skipped'
  readonly seconds: number
  readonly error?: string
  readonly result: ScenarioResult
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  const progress = new Progress()
  const trace = resolveTracePath(args.trace, repoRoot)
  const options: RunOptions = {
    quick: args.quick,
    reps: args.reps ?? (args.quick ? 1 : 3),
    selects: caseSelector(args.only),
    tracePath: trace.path,
    tracePathSource: trace.source,
    loadProcesses: args.loadProcs ?? 2,
    servers: args.servers,
    variants: args.variants,
    repoRoot,
    benchDir,
    progress,
  }
  const startedAt = new Date()
  const loadBefore = os.loadavg()
  const command = `node bench/dist/run.js ${process.argv.slice(2).join(' ')}`.trim()
  const selected = scenarios.filter((s) => scenarioSelected(s, args.only))
  progress.log(`${selected.length} scenario(s): ${selected.map((s) => s.id).join(', ')}${options.quick ? ' (quick)' : ''}, ${options.reps} rep(s)`)
  const records: ScenarioRecord[] = []
  for (const [i, s] of selected.entries()) {
    progress.log(`[${i + 1}/${selected.length}] ${s.id} ${s.title}`)
    const t0 = performance.now()
    let result: ScenarioResult
    let error: string | undefined
    try {
      result = await s.run(options)
    } catch (err) {
      error = err instanceof Error ? (err.stack ?? err.message) : String(err)
      result = { measurements: [], checks: [], tables: [], plots: [], notes: [] }
    }
    const seconds = (performance.now() - t0) / 1000
    const failed = error !== undefined || result.checks.some((c) => !c.ok)
    const status = failed ? 'failed' : result.skipped !== undefined ? 'skipped' : 'ok'
    progress.log(`${s.id} ${status} in ${seconds.toFixed(1)} s${result.skipped !== undefined ? `: ${result.skipped}` : ''}`)
    for (const c of result.checks.filter((c) => !c.ok)) progress.log(`  CHECK FAILED ${c.name}: ${c.detail}`)
    if (error !== undefined) progress.log(`  ERROR ${error}`)
    records.push({ id: s.id, title: s.title, group: s.group, status, seconds, ...(error !== undefined ? { error } : {}), result })
  }
  const wallSeconds = (Date.now() - startedAt.getTime()) / 1000
  const loadAfter = os.loadavg()
  const machine = machineInfo()
  const libraries = libraryVersions(benchDir)

  // Markdown.
  const md: string[] = []
  md.push(`## Benchmark results`, '')
  md.push(`Command: \`${command}\` — ${startedAt.toISOString()}, wall time ${wallSeconds.toFixed(0)} s.`)
  md.push(`Machine: ${machine.cpus} x ${machine.cpuModel}, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${machine.platform} ${machine.arch}; Node ${machine.node}.`)
  md.push(`Libraries: ${Object.entries(libraries).map(([k, v]) => `${k} ${v}`).join(', ')}.`)
  md.push(`Load average (1 min) at start ${loadBefore[0]!.toFixed(1)}, at end ${loadAfter[0]!.toFixed(1)} on ${machine.cpus} CPUs.`, '')
  if (Math.max(loadBefore[0]!, loadAfter[0]!) > machine.cpus) {
    md.push(`**Warning: other processes competed for the CPUs during this run (load average above the CPU count). Wall-clock figures (time, delivered/s, latency) are inflated; CPU-time figures (server CPU per delivery) hold better.**`, '')
  }
  for (const r of records) {
    md.push(`## [${r.id}] ${r.title} — ${r.status} (${r.seconds.toFixed(1)} s)`, '')
    if (r.result.skipped !== undefined) md.push(`Skipped: ${r.result.skipped}`, '')
    if (r.error !== undefined) md.push('```', r.error, '```', '')
    for (const t of r.result.tables) md.push(renderTable(t))
    const failedChecks = r.result.checks.filter((c) => !c.ok)
    if (failedChecks.length > 0) {
      md.push('**Failed checks:**', '')
      for (const c of failedChecks) md.push(`- ${c.name}: ${c.detail}`)
      md.push('')
    } else if (r.result.checks.length > 0) {
      md.push(`All ${r.result.checks.length} checks passed.`, '')
    }
    for (const p of r.result.plots) md.push(`Plot: [${p.title}](plots/${p.file})`)
    if (r.result.plots.length > 0) md.push('')
  }
  const markdown = md.join('\n')

  // Files.
  mkdirSync(path.join(args.out, 'plots'), { recursive: true })
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
  const json = {
    startedAt: startedAt.toISOString(),
    wallSeconds,
    command,
    options: { quick: options.quick, reps: options.reps, only: args.only, servers: args.servers ?? null, variants: args.variants ?? null, tracePath: options.tracePath, tracePathSource: options.tracePathSource, loadProcesses: options.loadProcesses },
    seeds: { crdtBenchmarks: 42, relay: 7 },
    machine,
    loadAverage: { start: loadBefore, end: loadAfter },
    libraries,
    scenarios: records.map((r) => ({ ...r, result: { ...r.result, plots: r.result.plots.map((p) => ({ file: `plots/${p.file}`, title: p.title })) } })),
  }
  const text = JSON.stringify(json, null, 2)
  writeFileSync(path.join(args.out, `${stamp}.json`), text)
  writeFileSync(path.join(args.out, 'latest.json'), text)
  writeFileSync(path.join(args.out, 'latest.md'), markdown + '\n')
  for (const r of records) for (const p of r.result.plots) writeFileSync(path.join(args.out, 'plots', p.file), p.svg)
  if (args.readme) {
    const readmePath = path.join(benchDir, 'README.md')
    const marker = '<!-- latest-results -->'
    const readme = readFileSync(readmePath, 'utf8')
    const at = readme.indexOf(marker)
    if (at < 0) progress.log(`--readme: no ${marker} in ${readmePath}; left it alone`)
    else writeFileSync(readmePath, `${readme.slice(0, at + marker.length)}\n\n${markdown.replace(/\(plots\//g, '(results/plots/').replace(/^### /gm, '#### ').replace(/^## /gm, '### ')}\n`)
  }
  process.stdout.write(markdown + '\n')
  const failed = records.filter((r) => r.status === 'failed')
  progress.log(`done in ${wallSeconds.toFixed(0)} s: ${records.length - failed.length} ok/skipped, ${failed.length} failed; results in ${path.relative(process.cwd(), args.out) || '.'}/latest.md`)
  return failed.length > 0 ? 1 : 0
}

main().then(
  (code) => { process.exitCode = code },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    process.exitCode = 2
  },
)
