/**
 * Seed discipline: one module decides every test's seed. `SEED=n` replays a
 * run; without it the suite uses a fixed default so CI is deterministic, and
 * `pnpm test:soak` loops over fresh seeds. Every random test reports its seed
 * when it fails.
 */
import fc from 'fast-check'

function readSeed(): number {
  const raw = process.env.SEED
  if (raw === undefined || raw === '') return 20261122
  const n = Number(raw)
  if (!Number.isSafeInteger(n)) throw new Error(`SEED must be an integer, got ${raw}`)
  return n
}

export const SEED = readSeed()

/** Scales the number of generated cases: `RUNS_SCALE=10` for a long soak. */
export const RUNS_SCALE = Number(process.env.RUNS_SCALE ?? 1)

fc.configureGlobal({ seed: SEED })

function failure(details: fc.RunDetails<unknown[]>): Error {
  const cause = (details as { errorInstance?: unknown }).errorInstance
  const why = cause instanceof Error ? cause.message : String(cause)
  return new Error(`property failed, replay with SEED=${SEED}\n${why}\n${fc.defaultReportMessage(details) ?? ''}`, { cause })
}

/** Runs a fast-check property with the suite seed; a failure names the seed that replays it. */
export function check<Ts extends unknown[]>(prop: fc.IProperty<Ts>, params: fc.Parameters<Ts> = {}): void {
  const numRuns = Math.max(1, Math.round((params.numRuns ?? 100) * RUNS_SCALE))
  const details = fc.check(prop, { ...params, seed: SEED, numRuns })
  if (details.failed) {
    throw failure(details as unknown as fc.RunDetails<unknown[]>)
  }
}

export async function checkAsync<Ts extends unknown[]>(prop: fc.IAsyncProperty<Ts>, params: fc.Parameters<Ts> = {}): Promise<void> {
  const numRuns = Math.max(1, Math.round((params.numRuns ?? 100) * RUNS_SCALE))
  const details = await fc.check(prop, { ...params, seed: SEED, numRuns })
  if (details.failed) {
    throw failure(details as unknown as fc.RunDetails<unknown[]>)
  }
}

/** Wraps a seeded test body so any failure prints the seed that replays it. */
export function withSeed<T>(seed: number, body: () => T): T {
  try {
    return body()
  } catch (e) {
    const err = e as Error
    err.message = `SEED=${seed}: ${err.message}`
    throw err
  }
}
