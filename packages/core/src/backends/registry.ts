/**
 * The CRDT backends Concord knows, and every number that stands for one of
 * them outside the code: the byte that names it in an event body, the code in
 * a snapshot header, the snapshot body formats it reads. BackendName and
 * BACKEND_NAMES derive from this table, and every list or switch over
 * backends elsewhere derives from them, so a new backend is one entry here
 * plus its implementation in implementations.ts.
 *
 * This module holds data only (no backend code), so that the encoders and the
 * backends themselves can import it without a cycle.
 */
import { fail } from '../errors.js'

export interface BackendInfo {
  /** The byte naming the backend in an event body (events.ts) and a subscribe frame. Never reused. */
  readonly wireId: number
  /** Byte 4 of a snapshot header (snapshot-header.ts). Never reused. */
  readonly snapshotCode: number
  /** Snapshot body formats it reads; the first is what `wrapSnapshot` writes by default. */
  readonly snapshotFormats: readonly number[]
}

export const BACKENDS = {
  yjs: { wireId: 0, snapshotCode: 1, snapshotFormats: [1, 2] },
  automerge: { wireId: 1, snapshotCode: 2, snapshotFormats: [1] },
} as const satisfies Record<string, BackendInfo>

export type BackendName = keyof typeof BACKENDS
/** In registry order; the first is the default backend of a new purchase. */
export const BACKEND_NAMES: readonly BackendName[] = Object.keys(BACKENDS) as BackendName[]
export const DEFAULT_BACKEND: BackendName = BACKEND_NAMES[0]!

const byWireId = new Map<number, BackendName>(BACKEND_NAMES.map((n) => [BACKENDS[n].wireId, n]))
const bySnapshotCode = new Map<number, BackendName>(BACKEND_NAMES.map((n) => [BACKENDS[n].snapshotCode, n]))

export function isBackendName(v: unknown): v is BackendName {
  return typeof v === 'string' && Object.hasOwn(BACKENDS, v)
}

/** `v` as a BackendName, or INVALID_ARGUMENT naming the backends there are. */
export function parseBackendName(v: unknown, field = 'backend'): BackendName {
  if (!isBackendName(v)) fail('INVALID_ARGUMENT', `${field} ${JSON.stringify(v)} is not a backend (${backendList()})`, { field, backend: v })
  return v
}

/** "yjs or automerge": for messages that say what is accepted. */
export function backendList(): string {
  return BACKEND_NAMES.length === 1 ? BACKEND_NAMES[0]! : `${BACKEND_NAMES.slice(0, -1).join(', ')} or ${BACKEND_NAMES[BACKEND_NAMES.length - 1]!}`
}

export function backendOfWireId(id: number): BackendName | undefined {
  return byWireId.get(id)
}

export function backendOfSnapshotCode(code: number): BackendName | undefined {
  return bySnapshotCode.get(code)
}
