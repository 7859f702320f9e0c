import type { RunOptions, ScenarioResult } from '../types.js'
export async function runP5(_o: RunOptions): Promise<ScenarioResult> {
  return { measurements: [], checks: [], tables: [], plots: [], notes: [], skipped: 'not yet' }
}
