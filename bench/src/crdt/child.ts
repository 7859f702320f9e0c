/**
 * One CRDT case for one variant, in its own process (started with
 * --expose-gc): memory figures are not polluted by the previous case and a
 * crash fails only that cell. Receives its job over IPC, answers once, exits.
 */
import { crdtCases, limitSteps, stepCount } from './cases.js'
import { runB1, runB2, runB3, runB4, type CaseResult } from './measure.js'
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
  /** B1/B2: run only the first this-many input steps (quick mode, slow variants). */
  readonly stepLimit?: number
}

export type CrdtJobReply =
  | { readonly ok: true; readonly result: CaseResult; readonly library: string; readonly supported: boolean }
  | { readonly ok: false; readonly error: string }

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
  const opts = { reps: job.reps, applyOneBudgetMs: job.applyOneBudgetMs }
  const result = def.group === 'B1' ? runB1(factory, def, opts) : def.group === 'B2' ? runB2(factory, def, opts) : runB3(factory, def, opts)
  const steps = stepCount(def)
  const of = stepCount(full)
  if (steps < of) {
    result.notes.push(`${def.id} ${factory.id}: first ${steps.toLocaleString('en-US')} of ${of.toLocaleString('en-US')} steps (quick mode)`)
    for (const rep of result.reps) rep.steps = steps
  }
  return { ok: true, result, library: factory.library, supported: true }
}

process.once('message', (job: CrdtJob) => {
  runJob(job)
    .catch((err: unknown): CrdtJobReply => ({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }))
    .then((reply) => {
      process.send?.(reply, () => process.exit(0))
    })
    .catch(() => process.exit(1))
})
