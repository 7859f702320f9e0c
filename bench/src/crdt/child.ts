/**
 * One CRDT case for one variant, in its own process (started with
 * --expose-gc): memory figures are not polluted by the previous case and a
 * crash fails only that cell. Receives its job over IPC, answers once, exits.
 */
import { crdtCases, limitSteps, stepCount } from './cases.js'
import { runB1, runB2, runB3, runB4, yjsDocSize, yjsTraceSize, type CaseResult } from './measure.js'
import { loadTrace } from './trace.js'
import { loadVariants } from './variants.js'

export interface CrdtJob {
  readonly variant: string
  /** "B1.4", "B2.1", "B3.2" or "B4". */
  readonly caseId: string
  readonly reps: number
  readonly applyOneBudgetMs: number
  readonly tracePath?: string
  readonly txnLimit?: number
  readonly streamTxnLimit?: number
  /** B1/B2: run only the first this-many input steps (quick mode). */
  readonly stepLimit?: number
  /** B3: clients (quick mode cuts them). */
  readonly clients?: number
}

/** Quick mode's sanity pass: raw Yjs v2 sizes of whole cases ("B1.1", "B4"...). */
export interface SanityJob {
  readonly sanity: readonly string[]
  readonly tracePath?: string
}

export type CrdtJobReply =
  | { readonly ok: true; readonly result: CaseResult; readonly library: string; readonly supported: boolean }
  | { readonly ok: true; readonly sizes: Record<string, number>; readonly traceContentOk?: boolean }
  | { readonly ok: false; readonly error: string }

async function runSanity(job: SanityJob): Promise<CrdtJobReply> {
  const yjs = (await loadVariants()).find((v) => v.id === 'yjs')
  if (yjs === undefined) return { ok: false, error: 'no yjs variant' }
  const sizes: Record<string, number> = {}
  let traceContentOk: boolean | undefined
  for (const id of job.sanity) {
    if (id === 'B4') {
      if (job.tracePath === undefined) continue
      const r = yjsTraceSize(yjs, loadTrace(job.tracePath))
      sizes[id] = r.size
      traceContentOk = r.ok
      continue
    }
    const def = crdtCases().find((c) => c.id === id)
    if (def !== undefined) sizes[id] = yjsDocSize(yjs, def)
  }
  return { ok: true, sizes, ...(traceContentOk !== undefined ? { traceContentOk } : {}) }
}

async function runJob(job: CrdtJob): Promise<CrdtJobReply> {
  const variants = await loadVariants()
  const factory = variants.find((v) => v.id === job.variant)
  if (factory === undefined) return { ok: false, error: `unknown variant ${job.variant}` }
  const empty: CaseResult = { reps: [], checks: [], notes: [] }
  if (job.caseId === 'B4') {
    if (!factory.supports.text) return { ok: true, result: empty, library: factory.library, supported: false }
    if (job.tracePath === undefined) return { ok: false, error: 'B4 needs a trace path' }
    const trace = loadTrace(job.tracePath)
    const result = runB4(factory, trace, {
      reps: job.reps,
      applyOneBudgetMs: job.applyOneBudgetMs,
      txnLimit: job.txnLimit ?? Number.POSITIVE_INFINITY,
      streamTxnLimit: job.streamTxnLimit ?? Number.POSITIVE_INFINITY,
    })
    return { ok: true, result, library: factory.library, supported: true }
  }
  const full = crdtCases().find((c) => c.id === job.caseId)
  if (full === undefined) return { ok: false, error: `unknown case ${job.caseId}` }
  const def = job.stepLimit !== undefined ? limitSteps(full, job.stepLimit) : full
  if (!factory.supports[def.needs]) return { ok: true, result: empty, library: factory.library, supported: false }
  const opts = { reps: job.reps, applyOneBudgetMs: job.applyOneBudgetMs, ...(job.clients !== undefined ? { clients: job.clients } : {}) }
  const result = def.group === 'B1' ? runB1(factory, def, opts) : def.group === 'B2' ? runB2(factory, def, opts) : runB3(factory, def, opts)
  const steps = stepCount(def)
  const of = stepCount(full)
  if (steps < of) {
    result.notes.push(`${def.id} ${factory.id}: first ${steps.toLocaleString('en-US')} of ${of.toLocaleString('en-US')} steps (quick mode)`)
    for (const rep of result.reps) rep.steps = steps
  }
  return { ok: true, result, library: factory.library, supported: true }
}

/** Several jobs in one process (quick mode): the start-up (imports, case generation) is paid once. */
export interface JobBatch {
  readonly batch: readonly CrdtJob[]
}

async function runBatch(b: JobBatch): Promise<CrdtJobReply[]> {
  const out: CrdtJobReply[] = []
  for (const job of b.batch) {
    out.push(await runJob(job).catch((err: unknown): CrdtJobReply => ({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) })))
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
  }
  return out
}

process.once('message', (job: CrdtJob | SanityJob | JobBatch) => {
  ('batch' in job ? runBatch(job) : 'sanity' in job ? runSanity(job) : runJob(job))
    .catch((err: unknown): CrdtJobReply => ({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }))
    .then((reply: CrdtJobReply | CrdtJobReply[]) => {
      process.send?.(reply, () => process.exit(0))
    })
    .catch(() => process.exit(1))
})
