/**
 * The CRDT backends every core suite runs against, chosen by one parameter:
 * BACKEND=yjs|automerge|all (default all). Suites loop over `BACKENDS`
 * rather than being copied per backend.
 */
import { type CrdtBackend, automergeBackend, yjsBackend } from '@concord/core'

const ALL: Readonly<Record<string, CrdtBackend>> = {
  yjs: yjsBackend,
  automerge: automergeBackend,
}

function select(): CrdtBackend[] {
  const want = process.env.BACKEND ?? 'all'
  if (want === 'all') return Object.values(ALL)
  const b = ALL[want]
  if (b === undefined) throw new Error(`BACKEND must be one of ${Object.keys(ALL).join(', ')} or all, got ${want}`)
  return [b]
}

export const BACKENDS: readonly CrdtBackend[] = select()
