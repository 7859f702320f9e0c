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
import type { CrdtJob, CrdtJobReply } from './child.js'
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

function runChild(job: CrdtJob, timeoutMs: number): Promise<CrdtJobReply> {
  return new Promise((resolve) => {
    const child = fork(childPath, [], { execArgv: ['--expose-gc', '--max-old-space-size=8192'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let settled = false
    const finish = (reply: CrdtJobReply): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(reply)
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      finish({ ok: false, error: `timed out after ${Math.round(timeoutMs / 1000)} s` })
    }, timeoutMs)
    child.on('message', (reply: CrdtJobReply) => finish(reply))
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

const QUICK_AUTOMERGE_STEPS = 1500

function b4Limits(variant: string, quick: boolean): { txnLimit: number; streamTxnLimit: number } {
  const automerge = variant.includes('automerge')
  // Automerge's change() costs ~200 us here and remote apply one change at a
  // time grows with the document (ms per change at 10k characters), so its
  // trace is cut in quick mode and its update stream always.
  if (quick) return automerge ? { txnLimit: 10_000, streamTxnLimit: 5_000 } : { txnLimit: Number.MAX_SAFE_INTEGER, streamTxnLimit: 20_000 }
  return automerge ? { txnLimit: Number.MAX_SAFE_INTEGER, streamTxnLimit: 20_000 } : { txnLimit: Number.MAX_SAFE_INTEGER, streamTxnLimit: Number.MAX_SAFE_INTEGER }
}

async function runCells(options: RunOptions, caseIds: readonly string[], label: string): Promise<{ cells: Cell[]; variants: string[] }> {
  const variants = (await loadVariants()).map((v) => v.id)
  const cells: Cell[] = []
  const total = caseIds.length * variants.length
  let done = 0
  for (const caseId of caseIds) {
    for (const variant of variants) {
      done++
      options.progress.log(`${label} ${caseId} ${variant} (${done}/${total}, ${options.reps} rep${options.reps === 1 ? '' : 's'})`)
      const limits = b4Limits(variant, options.quick)
      const job: CrdtJob = {
        variant,
        caseId,
        reps: options.reps,
        applyOneBudgetMs: options.quick ? 250 : 4000,
        ...(caseId === 'B4' ? { tracePath: options.tracePath, ...limits } : {}),
        // Quick mode: Automerge edits cost ~0.3-0.5 ms each here, so its B1/B2 cases run a prefix.
        ...(options.quick && variant.includes('automerge') && caseId !== 'B4' ? { stepLimit: QUICK_AUTOMERGE_STEPS } : {}),
      }
      const reply = await runChild(job, options.quick ? 5 * 60_000 : 40 * 60_000)
      if (reply.ok) cells.push({ variant, caseId, result: reply.result, supported: reply.supported })
      else cells.push({ variant, caseId, supported: true, error: reply.error })
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
    const full = cell.caseId !== 'B4' || metrics.txns === metrics.txnsTotal
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
  const ratioCols = variants.filter((v) => rawVariantOf(v) !== undefined && variants.includes(rawVariantOf(v)!))
  const header = [`N = ${N}, seed ${SEED}`, ...variants, ...ratioCols.map((v) => `${v} / ${rawVariantOf(v)!}`)]
  const out: string[][] = []
  for (const caseId of caseIds) {
    for (const row of rows) {
      const get = (variant: string): number | undefined =>
        measurements.find((m) => m.case === caseId && m.subject === variant)?.metrics[row.key]
      const cells = variants.map((v) => row.format(get(v)))
      const ratios = ratioCols.map((v) => {
        const a = get(v)
        const b = get(rawVariantOf(v)!)
        return row.ratio && a !== undefined && b !== undefined && a > 0 && b > 0 ? fmtRatio(a / b) : 'n/a'
      })
      out.push([`[${caseId}] ${titles[caseId] ?? ''} (${row.label})`, ...cells, ...ratios])
    }
  }
  return {
    title,
    header,
    rows: out,
    notes: [
      'Medians of the repetitions. time: local edits with update capture (crdt-benchmarks "time", wall clock); time, CPU: the same span in process CPU time, the figure that holds on a shared machine; remote apply: a second replica applying the same updates one call per update, then a third applying them in one batch; memUsed: heap held by the reloaded document (after gc).',
      'Yjs uses update/state encoding v2 as in crdt-benchmarks; Automerge updates are the bytes of each change.',
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
      const { measurements, checks, notes } = collect(cells, titles)
      const unsupported = cells.filter((c) => !c.supported).map((c) => `${c.variant} cannot run ${c.caseId} (n/a)`)
      const oneNotes = measurements
        .filter((m) => m.metrics.applyOneCount !== undefined && m.metrics.updates !== undefined && m.metrics.applyOneCount < m.metrics.updates)
        .map((m) => `${m.case} ${m.subject}: one-at-a-time apply measured on the first ${Math.round(m.metrics.applyOneCount!)} of ${Math.round(m.metrics.updates!)} updates (time budget)`)
      const extra = id === 'B3' ? [`B3 runs ${SQRT_N_CLIENTS} clients (20 x floor(sqrt(N))); time = one client applying every update in one batch.`] : []
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
    const { measurements, checks, notes } = collect(cells, titles)
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
      `Trace: ${options.tracePath} (from ${options.tracePathSource}). time = replaying the edits without capturing updates (as crdt-benchmarks); the update stream is a second pass that captures them.`,
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
