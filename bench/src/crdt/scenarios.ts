/**
 * Scenarios [B1]..[B4]: every selected case, for every variant, each in its
 * own child process. Tables follow crdt-benchmarks (one row per case and
 * measure, one column per variant) plus remote apply, one update at a time
 * and batched; Concord variants get a ratio column against their raw library.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import { crdtCases, N, SEED, SQRT_N_CLIENTS } from './cases.js'
import type { CrdtJob, CrdtJobReply, JobBatch, SanityJob } from './child.js'
import type { CaseResult } from './measure.js'
import { rawVariantOf } from './concord.js'
import { loadVariants } from './variants.js'
import { traceMissingMessage } from './trace.js'
import { median } from '../stats.js'
import { fmtBytes, fmtMem, fmtMs, fmtRatio, fmtUs } from '../report/markdown.js'
import { lineChart } from '../report/svg.js'
import type { Check, MarkdownTable, Measurement, RunOptions, Scenario, ScenarioResult } from '../types.js'

const childPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'child.js')

/** Raw Yjs with v2 encoding must give exactly these document sizes (crdt-benchmarks' published table). */
export const YJS_V2_SANITY: Readonly<Record<string, number>> = { 'B1.1': 6031, 'B1.4': 29554, 'B1.7': 28377, B4: 159929 }

function runChild(job: CrdtJob | SanityJob, timeoutMs: number): Promise<CrdtJobReply>
function runChild(job: JobBatch, timeoutMs: number): Promise<CrdtJobReply | CrdtJobReply[]>
function runChild(job: CrdtJob | SanityJob | JobBatch, timeoutMs: number): Promise<CrdtJobReply | CrdtJobReply[]> {
  return new Promise((resolve) => {
    const child = fork(childPath, [], { execArgv: ['--expose-gc', '--max-old-space-size=8192'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let settled = false
    const finish = (reply: CrdtJobReply | CrdtJobReply[]): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(reply)
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      finish({ ok: false, error: `timed out after ${Math.round(timeoutMs / 1000)} s` })
    }, timeoutMs)
    child.on('message', (reply: CrdtJobReply | CrdtJobReply[]) => finish(reply))
    child.on('error', (err) => finish({ ok: false, error: err.message }))
    child.on('exit', (code, signal) => finish({ ok: false, error: `child exited (${signal ?? code}) without an answer` }))
    child.send(job)
  })
}

interface MeasureRow {
  readonly key: string
  readonly label: string
  readonly format: (v: number | undefined) => string
  /** Ratio column meaningful (smaller is better)? */
  readonly ratio: boolean
}

const B1_ROWS: readonly MeasureRow[] = [
  { key: 'timeMs', label: 'time', format: fmtMs, ratio: true },
  { key: 'timeCpuMs', label: 'time, CPU', format: fmtMs, ratio: true },
  { key: 'avgUpdateBytes', label: 'avgUpdateSize', format: fmtBytes, ratio: true },
  { key: 'applyOneUs', label: 'remote apply, one at a time (per update)', format: fmtUs, ratio: true },
  { key: 'applyBatchUs', label: 'remote apply, batched (per update)', format: fmtUs, ratio: true },
  { key: 'encodeMs', label: 'encodeTime', format: fmtMs, ratio: true },
  { key: 'docBytes', label: 'docSize', format: fmtBytes, ratio: true },
  { key: 'parseMs', label: 'parseTime', format: fmtMs, ratio: true },
  { key: 'memBytes', label: 'memUsed', format: (v) => fmtMem(v === undefined ? v : Math.max(0, v)), ratio: true },
]
const B23_ROWS: readonly MeasureRow[] = B1_ROWS.map((r) => (r.key === 'avgUpdateBytes' ? { ...r, key: 'updateBytes', label: 'updateSize' } : r))

interface Cell {
  readonly variant: string
  readonly caseId: string
  readonly result?: CaseResult
  readonly supported: boolean
  readonly error?: string
}

function medians(result: CaseResult): { metrics: Record<string, number>; samples: Record<string, number[]> } {
  const samples: Record<string, number[]> = {}
  for (const rep of result.reps) {
    for (const [k, v] of Object.entries(rep)) (samples[k] ??= []).push(v)
  }
  const metrics: Record<string, number> = {}
  for (const [k, vs] of Object.entries(samples)) metrics[k] = median(vs)
  return { metrics, samples }
}

/**
 * Quick mode runs every variant on the same cut-down inputs, so the ratios
 * still compare like with like: B1/B2 on their first 600 steps, B3 with a
 * quarter of the clients, B4 on the first 5,000 transactions. The sanity
 * sizes are then checked on the whole cases by a separate raw-Yjs pass.
 */
const QUICK_STEPS = 600
const QUICK_CLIENTS = Math.floor(SQRT_N_CLIENTS / 4)
const QUICK_B4 = { txnLimit: 5_000, streamTxnLimit: 2_000 }

function b4Limits(variant: string, quick: boolean): { txnLimit: number; streamTxnLimit: number } {
  if (quick) return QUICK_B4
  // Remote apply of Automerge changes one call at a time grows with the
  // document (milliseconds per change at 10k characters): its update stream
  // is always cut.
  return variant.includes('automerge') ? { txnLimit: Number.MAX_SAFE_INTEGER, streamTxnLimit: 20_000 } : { txnLimit: Number.MAX_SAFE_INTEGER, streamTxnLimit: Number.MAX_SAFE_INTEGER }
}

/** Quick mode: raw Yjs v2 sizes of the whole cases, checked against crdt-benchmarks. */
async function sanityChecks(options: RunOptions, ids: readonly string[]): Promise<Check[]> {
  const wanted = ids.filter((id) => YJS_V2_SANITY[id] !== undefined)
  if (wanted.length === 0) return []
  options.progress.log(`sanity: raw Yjs v2 sizes of the whole ${wanted.join(', ')}`)
  const reply = await runChild({ sanity: wanted, ...(wanted.includes('B4') ? { tracePath: options.tracePath } : {}) }, 5 * 60_000)
  if (!reply.ok) return [{ name: `sanity (${wanted.join(', ')}): ran`, ok: false, detail: reply.error }]
  if (!('sizes' in reply)) return [{ name: 'sanity: answered', ok: false, detail: 'unexpected reply' }]
  const checks: Check[] = wanted.map((id) => ({
    name: `${id} yjs: v2 document size of the whole case is ${YJS_V2_SANITY[id]!.toLocaleString('en-US')} B (crdt-benchmarks)`,
    ok: reply.sizes[id] === YJS_V2_SANITY[id],
    detail: `got ${reply.sizes[id] ?? 'nothing'} B`,
  }))
  if (reply.traceContentOk !== undefined) checks.push({ name: 'B4 yjs: whole trace ends with endContent', ok: reply.traceContentOk, detail: reply.traceContentOk ? 'ok' : 'differs' })
  return checks
}

function jobFor(options: RunOptions, variant: string, caseId: string): CrdtJob {
  return {
    variant,
    caseId,
    reps: options.reps,
    applyOneBudgetMs: options.quick ? 250 : 4000,
    ...(caseId === 'B4' ? { tracePath: options.tracePath, ...b4Limits(variant, options.quick) } : {}),
    ...(options.quick && /^B[12]\./.test(caseId) ? { stepLimit: QUICK_STEPS } : {}),
    ...(options.quick && caseId.startsWith('B3.') ? { clients: QUICK_CLIENTS } : {}),
  }
}

function cellOf(variant: string, caseId: string, reply: CrdtJobReply): Cell {
  if (reply.ok && 'result' in reply) return { variant, caseId, result: reply.result, supported: reply.supported }
  return { variant, caseId, supported: true, error: reply.ok ? 'unexpected reply' : reply.error }
}

/**
 * Full runs give every (case, variant) its own process, so memory figures
 * start from a clean heap; quick runs give each variant one process for all
 * the scenario's cases, paying the start-up (imports, case generation) once.
 */
async function runCells(options: RunOptions, caseIds: readonly string[], label: string): Promise<{ cells: Cell[]; variants: string[] }> {
  const known = (await loadVariants()).map((v) => v.id)
  for (const v of options.variants ?? []) if (!known.includes(v)) throw new Error(`--variants: unknown variant ${v} (have ${known.join(', ')})`)
  const variants = known.filter((v) => options.variants === undefined || options.variants.includes(v))
  const cells: Cell[] = []
  if (options.quick) {
    for (const [i, variant] of variants.entries()) {
      options.progress.log(`${label} ${variant}: ${caseIds.join(', ')} (${i + 1}/${variants.length})`)
      const reply = await runChild({ batch: caseIds.map((c) => jobFor(options, variant, c)) }, 10 * 60_000)
      caseIds.forEach((caseId, k) => {
        const r = Array.isArray(reply) ? reply[k] : reply
        cells.push(cellOf(variant, caseId, r ?? { ok: false, error: 'no answer' }))
      })
    }
    return { cells, variants }
  }
  const total = caseIds.length * variants.length
  let done = 0
  for (const caseId of caseIds) {
    for (const variant of variants) {
      done++
      options.progress.log(`${label} ${caseId} ${variant} (${done}/${total}, ${options.reps} rep${options.reps === 1 ? '' : 's'})`)
      cells.push(cellOf(variant, caseId, await runChild(jobFor(options, variant, caseId), 40 * 60_000)))
    }
  }
  return { cells, variants }
}

function collect(cells: readonly Cell[], titles: Readonly<Record<string, string>>): { measurements: Measurement[]; checks: Check[]; notes: string[] } {
  const measurements: Measurement[] = []
  const checks: Check[] = []
  const notes: string[] = []
  for (const cell of cells) {
    if (cell.error !== undefined) {
      checks.push({ name: `${cell.caseId} ${cell.variant}: ran`, ok: false, detail: cell.error })
      continue
    }
    if (!cell.supported || cell.result === undefined) continue
    const { metrics, samples } = medians(cell.result)
    measurements.push({ case: cell.caseId, caseTitle: titles[cell.caseId] ?? cell.caseId, subject: cell.variant, metrics, samples })
    for (const c of cell.result.checks) checks.push({ ...c, name: `${cell.caseId} ${cell.variant}: ${c.name}` })
    notes.push(...cell.result.notes)
    const sanity = YJS_V2_SANITY[cell.caseId]
    const full = metrics.steps === undefined && (cell.caseId !== 'B4' || metrics.txns === metrics.txnsTotal)
    if (cell.variant === 'yjs' && sanity !== undefined && full) {
      const sizes = cell.result.reps.map((r) => r.docBytes)
      checks.push({
        name: `${cell.caseId} yjs: v2 document size is ${sanity.toLocaleString('en-US')} B (crdt-benchmarks)`,
        ok: sizes.every((s) => s === sanity),
        detail: `got ${sizes.join(', ')} B`,
      })
    }
  }
  return { measurements, checks, notes }
}

function crdtTable(title: string, caseIds: readonly string[], titles: Readonly<Record<string, string>>, rows: readonly MeasureRow[], variants: readonly string[], measurements: readonly Measurement[], extraNotes: readonly string[]): MarkdownTable {
  const rawOf = (v: string) => rawVariantOf(v, variants)
  const ratioCols = variants.filter((v) => rawOf(v) !== undefined && variants.includes(rawOf(v)!))
  const header = [`N = ${N}, seed ${SEED}`, ...variants, ...ratioCols.map((v) => `${v} / ${rawOf(v)!}`)]
  const out: string[][] = []
  for (const caseId of caseIds) {
    for (const row of rows) {
      const get = (variant: string): number | undefined =>
        measurements.find((m) => m.case === caseId && m.subject === variant)?.metrics[row.key]
      const cells = variants.map((v) => row.format(get(v)))
      const ratios = ratioCols.map((v) => {
        const a = get(v)
        const b = get(rawOf(v)!)
        return row.ratio && a !== undefined && b !== undefined && a > 0 && b > 0 ? fmtRatio(a / b) : 'n/a'
      })
      out.push([`[${caseId}] ${titles[caseId] ?? ''} (${row.label})`, ...cells, ...ratios])
    }
  }
  // Target: the core within 1.15x of the raw backend on B1 to B4 (CPU time of the edits).
  const targetNotes = ratioCols.map((v) => {
    const raw = rawOf(v)!
    const ratios = caseIds.flatMap((caseId) => {
      const a = measurements.find((m) => m.case === caseId && m.subject === v)?.metrics.timeCpuMs
      const b = measurements.find((m) => m.case === caseId && m.subject === raw)?.metrics.timeCpuMs
      return a !== undefined && b !== undefined && b > 0 ? [{ caseId, r: a / b }] : []
    })
    if (ratios.length === 0) return undefined
    const over = ratios.filter((x) => x.r > 1.15)
    return `Target check (${v} / ${raw} time, CPU <= 1.15x): ${ratios.length - over.length} of ${ratios.length} cases within${over.length > 0 ? `; MISSED on ${over.map((x) => `${x.caseId} ${x.r.toFixed(2)}x`).join(', ')}` : ''}.`
  }).filter((n): n is string => n !== undefined)
  return {
    title,
    header,
    rows: out,
    notes: [
      ...targetNotes,
      'Medians of the repetitions. time: local edits with update capture (crdt-benchmarks "time", wall clock); time, CPU: the same span in process CPU time, the figure that holds on a shared machine; remote apply: a second replica applying the same updates one call per update, then a third applying them in one batch; memUsed: heap held by the reloaded document (after gc).',
      'yjs: update/state encoding v2 as in crdt-benchmarks (comparable with its published table); yjs-v1: the same with v1 updates, the encoding Concord\'s events and y-websocket carry, and the baseline of the concord-yjs ratio. Automerge updates are the bytes of each change.',
      ...extraNotes,
    ],
  }
}

function makeGroupScenario(id: 'B1' | 'B2' | 'B3', title: string): Scenario {
  return {
    id,
    title,
    group: 'crdt',
    async run(options: RunOptions): Promise<ScenarioResult> {
      const defs = crdtCases().filter((c) => c.group === id && options.selects(c.id))
      const titles = Object.fromEntries(defs.map((d) => [d.id, d.title]))
      const { cells, variants } = await runCells(options, defs.map((d) => d.id), id)
      const collected = collect(cells, titles)
      const { measurements } = collected
      const checks = [...collected.checks, ...(options.quick ? await sanityChecks(options, defs.map((d) => d.id)) : [])]
      // One line for the quick-mode cut instead of one per cell.
      const cut = collected.notes.filter((n) => n.endsWith('(quick mode)'))
      const notes = collected.notes.filter((n) => !n.endsWith('(quick mode)'))
      if (cut.length > 0 && id !== 'B3') notes.unshift(`Quick mode: every variant runs the first ${QUICK_STEPS.toLocaleString('en-US')} input steps of each case (of ${N.toLocaleString('en-US')}); sizes are not comparable with the published table, ratios are.`)
      if (options.quick && id === 'B3') notes.unshift(`Quick mode: ${QUICK_CLIENTS} clients instead of ${SQRT_N_CLIENTS}.`)
      const unsupported = cells.filter((c) => !c.supported).map((c) => `${c.variant} cannot run ${c.caseId} (n/a)`)
      const oneNotes = measurements
        .filter((m) => m.metrics.applyOneCount !== undefined && m.metrics.updates !== undefined && m.metrics.applyOneCount < m.metrics.updates)
        .map((m) => `${m.case} ${m.subject}: one-at-a-time apply measured on the first ${Math.round(m.metrics.applyOneCount!)} of ${Math.round(m.metrics.updates!)} updates (time budget)`)
      const extra = id === 'B3' ? [`B3 runs ${options.quick ? QUICK_CLIENTS : SQRT_N_CLIENTS} clients (20 x floor(sqrt(N)) = ${SQRT_N_CLIENTS} in a full run); time = one client applying every update in one batch.`] : []
      const table = crdtTable(`[${id}] ${title}`, defs.map((d) => d.id), titles, id === 'B1' ? B1_ROWS : B23_ROWS, variants, measurements, [...extra, ...notes, ...oneNotes, ...unsupported])
      return { measurements, checks, notes: [...notes, ...unsupported], tables: [table], plots: [] }
    },
  }
}

const B4_ROWS: readonly MeasureRow[] = [
  { key: 'timeMs', label: 'time', format: fmtMs, ratio: true },
  { key: 'timeCpuMs', label: 'time, CPU', format: fmtMs, ratio: true },
  { key: 'avgUpdateBytes', label: 'avgUpdateSize', format: fmtBytes, ratio: true },
  { key: 'applyOneUs', label: 'remote apply, one at a time (per update)', format: fmtUs, ratio: true },
  { key: 'applyBatchUs', label: 'remote apply, batched (per update)', format: fmtUs, ratio: true },
  { key: 'encodeMs', label: 'encodeTime', format: fmtMs, ratio: true },
  { key: 'docBytes', label: 'docSize', format: fmtBytes, ratio: true },
  { key: 'parseMs', label: 'parseTime', format: fmtMs, ratio: true },
  { key: 'memBytes', label: 'memUsed', format: (v) => fmtMem(v === undefined ? v : Math.max(0, v)), ratio: true },
]

const b4Scenario: Scenario = {
  id: 'B4',
  title: 'Real-world editing trace (automerge-paper)',
  group: 'crdt',
  async run(options: RunOptions): Promise<ScenarioResult> {
    const missing = traceMissingMessage(options.tracePath)
    if (missing !== undefined) {
      return { measurements: [], checks: [], tables: [], plots: [], notes: [missing], skipped: missing }
    }
    const titles = { B4: 'Apply real-world editing dataset' }
    const { cells, variants } = await runCells(options, ['B4'], 'B4')
    const collected = collect(cells, titles)
    const { measurements, notes } = collected
    const checks = [...collected.checks, ...(options.quick ? await sanityChecks(options, ['B4']) : [])]
    const series = cells
      .filter((c) => c.result?.growth !== undefined && c.result.growth.length > 1)
      .map((c) => ({ name: c.variant, points: c.result!.growth! }))
    const plot = {
      file: 'b4-growth.svg',
      title: 'B4: cumulative edit time along the trace',
      svg: lineChart({ title: 'B4 automerge-paper: cumulative local edit time', xLabel: 'transactions replayed', yLabel: 'ms', series, yFromZero: true }),
    }
    const rowNotes = measurements.map((m) => {
      const parts = [`${m.subject}: edit pass ${Math.round(m.metrics.txns ?? 0).toLocaleString('en-US')} transactions`]
      if (m.metrics.streamTxns !== undefined) parts.push(`update stream ${Math.round(m.metrics.streamTxns).toLocaleString('en-US')} transactions`)
      if (m.metrics.applyOneCount !== undefined) parts.push(`one-at-a-time apply measured on ${Math.round(m.metrics.applyOneCount).toLocaleString('en-US')} updates`)
      return parts.join(', ')
    })
    const table = crdtTable('[B4] Real-world editing trace (automerge-paper)', ['B4'], titles, B4_ROWS, variants, measurements, [
      `Trace: ${options.tracePath} (from ${options.tracePathSource}). time = replaying the edits with every transaction's update captured (counted and dropped), the work a replication engine does per edit; the update stream (bytes per update, remote apply) is a second pass that keeps them.`,
      ...rowNotes,
    ])
    return { measurements, checks, notes, tables: [table], plots: [plot] }
  },
}

export const crdtScenarios: readonly Scenario[] = [
  makeGroupScenario('B1', 'No conflicts: one user edits, the other receives'),
  makeGroupScenario('B2', 'Two users producing conflicts'),
  makeGroupScenario('B3', 'Many conflicts: 20√N clients'),
  b4Scenario,
]
