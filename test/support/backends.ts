/**
 * The CRDT backends every core suite runs against, chosen by one parameter:
 * BACKEND=<a registry name>|all (default all). Suites loop over `BACKENDS`
 * rather than being copied per backend, so a backend added to core's
 * registry is tested by every suite at once.
 */
import { ALL_BACKENDS, BACKEND_NAMES, type CrdtBackend, backendNamed, isBackendName } from '@concord/core'

function select(): CrdtBackend[] {
  const want = process.env.BACKEND ?? 'all'
  if (want === 'all') return [...ALL_BACKENDS]
  if (!isBackendName(want)) throw new Error(`BACKEND must be one of ${BACKEND_NAMES.join(', ')} or all, got ${want}`)
  return [backendNamed(want)]
}

export const BACKENDS: readonly CrdtBackend[] = select()
