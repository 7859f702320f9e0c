/**
 * The B4 editing trace: automerge-paper from the public josephg/editing-traces
 * collection (about 260k single-character edits made while writing a LaTeX
 * paper). It is not part of this repository; its path comes from --trace, then
 * CONCORD_TRACE, then the shared copy beside the repository.
 */
import { existsSync, readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import path from 'node:path'

export interface EditingTrace {
  readonly startContent: string
  readonly endContent: string
  /** Flattened patches: [position, delete count, inserted text]. */
  readonly patches: ReadonlyArray<readonly [number, number, string]>
  /** Transactions as index ranges into `patches` (every one has one patch in automerge-paper). */
  readonly txnEnds: readonly number[]
}

export const TRACE_SOURCE_HINT =
  'the automerge-paper.json.gz trace of the public josephg/editing-traces collection ' +
  '(under sequential_traces/; the ascii_only copy works too); pass its path with --trace <path> or CONCORD_TRACE'

export function defaultTracePath(repoRoot: string): string {
  return path.resolve(repoRoot, '..', 'shared', 'data', 'automerge-paper.json.gz')
}

export function resolveTracePath(flag: string | undefined, repoRoot: string): { path: string; source: 'flag' | 'env' | 'default' } {
  if (flag !== undefined && flag !== '') return { path: path.resolve(flag), source: 'flag' }
  const env = process.env.CONCORD_TRACE
  if (env !== undefined && env !== '') return { path: path.resolve(env), source: 'env' }
  return { path: defaultTracePath(repoRoot), source: 'default' }
}

export function traceMissingMessage(tracePath: string): string | undefined {
  if (existsSync(tracePath)) return undefined
  return `B4 skipped: the editing trace is not at ${tracePath}. Get ${TRACE_SOURCE_HINT}.`
}

function isPatch(p: unknown): p is [number, number, string] {
  return Array.isArray(p) && p.length === 3 && Number.isInteger(p[0]) && Number.isInteger(p[1]) && typeof p[2] === 'string'
}

/** Loads and validates the trace; throws with a clear message on a malformed file. */
export function loadTrace(tracePath: string): EditingTrace {
  const raw = readFileSync(tracePath)
  const text = tracePath.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8')
  const json = JSON.parse(text) as unknown
  if (typeof json !== 'object' || json === null) throw new Error(`${tracePath}: not a JSON object`)
  const { startContent, endContent, txns } = json as Record<string, unknown>
  if (typeof startContent !== 'string' || typeof endContent !== 'string' || !Array.isArray(txns)) {
    throw new Error(`${tracePath}: expected { startContent, endContent, txns: [{ patches: [[pos, del, text]] }] }`)
  }
  const patches: Array<readonly [number, number, string]> = []
  const txnEnds: number[] = []
  for (const [i, txn] of txns.entries()) {
    const list = (txn as { patches?: unknown }).patches
    if (!Array.isArray(list)) throw new Error(`${tracePath}: txns[${i}] has no patches array`)
    for (const p of list) {
      if (!isPatch(p)) throw new Error(`${tracePath}: txns[${i}] has a malformed patch ${JSON.stringify(p)}`)
      patches.push(p)
    }
    txnEnds.push(patches.length)
  }
  return { startContent, endContent, patches, txnEnds }
}

/** Plain-string replay of the first `txnCount` transactions: the reference content. */
export function replayTrace(trace: EditingTrace, txnCount: number): string {
  const end = txnCount === 0 ? 0 : trace.txnEnds[txnCount - 1]!
  // Chunked rope-less replay is fast enough for 260k edits on a 100 kB text.
  let s = trace.startContent
  for (let i = 0; i < end; i++) {
    const [pos, del, ins] = trace.patches[i]!
    s = s.slice(0, pos) + ins + s.slice(pos + del)
  }
  return s
}
