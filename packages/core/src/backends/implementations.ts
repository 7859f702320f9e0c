/**
 * The code behind each backend of the registry. Kept apart from registry.ts,
 * which the backends themselves import, so that neither imports the other.
 *
 * Automerge is WebAssembly: the web build points its import at a stub that
 * loads the real module on demand (packages/web/build.mjs), and the backend
 * object calls into it only when a document is created or loaded, so holding
 * it here costs the browser nothing until an Automerge purchase is opened.
 */
import { fail } from '../errors.js'
import { automergeBackend } from './automerge.js'
import type { CrdtBackend } from './backend.js'
import { BACKEND_NAMES, type BackendName, backendList } from './registry.js'
import { yjsBackend } from './yjs.js'

/** A Record, so that a backend added to the registry without its code does not compile. */
const IMPLEMENTATIONS: Readonly<Record<BackendName, CrdtBackend>> = {
  yjs: yjsBackend,
  automerge: automergeBackend,
}

/** Every backend, in registry order. */
export const ALL_BACKENDS: readonly CrdtBackend[] = BACKEND_NAMES.map((n) => IMPLEMENTATIONS[n])

/** The backend of a registry name; INVALID_ARGUMENT for anything else. */
export function backendNamed(name: BackendName): CrdtBackend {
  const b = Object.hasOwn(IMPLEMENTATIONS, name) ? IMPLEMENTATIONS[name] : undefined
  if (b === undefined) fail('INVALID_ARGUMENT', `${JSON.stringify(name)} is not a backend (${backendList()})`, { field: 'backend', backend: name })
  return b
}
