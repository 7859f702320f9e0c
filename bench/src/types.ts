/**
 * The scenario registry's types. A scenario is one id ([B1], [R1]...) that
 * runs its cases against every registered variant or server and checks its
 * own result: a fast wrong answer fails the run.
 */
import type { Progress } from './progress.js'

export interface RunOptions {
  readonly quick: boolean
  /** Repetitions per measure; tables show medians. */
  readonly reps: number
  /** Case filter from --only: a case runs when this returns true for its id. */
  readonly selects: (caseId: string) => boolean
  readonly tracePath: string
  readonly tracePathSource: 'flag' | 'env' | 'default'
  /** Load generator processes for the relay scenarios (1 or 2). */
  readonly loadProcesses: number
  /** CRDT variants to run (--variants); undefined runs them all. */
  readonly variants: readonly string[] | undefined
  /** Relay servers to run (--servers); undefined runs them all. */
  readonly servers: readonly string[] | undefined
  readonly repoRoot: string
  readonly benchDir: string
  readonly progress: Progress
}

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export interface Measurement {
  /** Case id: "B1.4", "B4", "R1"... */
  readonly case: string
  readonly caseTitle: string
  /** Variant or server id: "yjs", "automerge", "y-websocket-server"... */
  readonly subject: string
  readonly params?: Readonly<Record<string, number | string>>
  /** Medians over the repetitions. */
  readonly metrics: Readonly<Record<string, number>>
  /** Every repetition's value, for the JSON record. */
  readonly samples?: Readonly<Record<string, readonly number[]>>
}

export interface MarkdownTable {
  readonly title: string
  readonly header: readonly string[]
  readonly rows: ReadonlyArray<readonly string[]>
  /** Lines printed under the table (units, caveats, targets). */
  readonly notes?: readonly string[]
}

export interface Plot {
  /** File name under bench/results/plots/. */
  readonly file: string
  readonly title: string
  readonly svg: string
}

export interface ScenarioResult {
  readonly measurements: Measurement[]
  readonly checks: Check[]
  readonly tables: MarkdownTable[]
  readonly plots: Plot[]
  readonly notes: string[]
  /** Set when the scenario could not run at all (trace missing...). */
  readonly skipped?: string
  /** Anything else worth keeping in the JSON (histograms, curves). */
  readonly extra?: Readonly<Record<string, unknown>>
}

export interface Scenario {
  readonly id: string
  readonly title: string
  readonly group: 'crdt' | 'relay' | 'store'
  run(options: RunOptions): Promise<ScenarioResult>
}

export function emptyResult(): ScenarioResult {
  return { measurements: [], checks: [], tables: [], plots: [], notes: [] }
}
