/**
 * Runs worlds by seed: one for a replay (with its whole trace), or many for
 * the suite and the soak. A failure names the seed and the command that
 * replays exactly that world, and the tail of its trace.
 */
import type { BackendName } from '@concord/core'
import { hashSeed } from './scheduler.js'
import { describePlan, planDay, planWorld } from './plan.js'
import { World, WorldFailure, type WorldResult } from './world.js'

export interface RunOptions {
  /** A team's working day (planDay) instead of a suite world. */
  readonly day?: boolean
  /** Also count the events that raised a conflict needing a person (metrics.ts; costly). */
  readonly measure?: boolean
}

export function replayCommand(seed: number, backend: BackendName | undefined, scale = 1, options: RunOptions = {}): string {
  const flags = [backend === undefined ? '' : ` --backend ${backend}`, scale === 1 ? '' : ` --scale ${scale}`, options.day === true ? ' --day' : ''].join('')
  return `node scripts/sim.mjs --seed ${seed}${flags}`
}

export class SimulationFailed extends Error {
  constructor(readonly seed: number, readonly backend: BackendName | undefined, message: string) {
    super(message)
    this.name = 'SimulationFailed'
  }
}

export async function runWorld(seed: number, backend?: BackendName, scale = 1, options: RunOptions = {}): Promise<WorldResult> {
  const plan = options.day === true ? planDay(seed, backend) : planWorld(seed, backend, scale)
  const world = new World(plan, options.measure === true)
  const rejections: unknown[] = []
  const onRejection = (e: unknown) => rejections.push(e)
  process.on('unhandledRejection', onRejection)
  try {
    const result = await world.run()
    if (rejections.length > 0) throw new WorldFailure(`an unhandled rejection: ${(rejections[0] as Error)?.stack ?? String(rejections[0])}`, [])
    return result
  } catch (e) {
    const trace = e instanceof WorldFailure ? e.trace : []
    throw new SimulationFailed(seed, backend, [
      `full-stack world failed: SEED=${seed} (${describePlan(plan)})`,
      `  replay: ${replayCommand(seed, backend, scale, options)}`,
      `  ${(e as Error).stack ?? String(e)}`,
      ...(trace.length > 0 ? ['  trace (last steps):', ...trace.map((l) => `    ${l}`)] : []),
    ].join('\n'))
  } finally {
    process.off('unhandledRejection', onRejection)
  }
}

/** The seed of the i-th world of a suite run. */
export function worldSeed(base: number, backend: BackendName, i: number): number {
  return hashSeed(base, `${backend}:${i}`)
}
