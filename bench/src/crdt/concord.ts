/**
 * Extension point for "the same through Concord's event log and backend".
 *
 * The lead supplies `applyThroughConcord(backend)`: it returns the replica
 * factory of the CrdtFactory interface (adapter.ts) whose replicas route every
 * local edit through Concord (a backend change, wrapped in an event envelope
 * and appended to the event log; the update handler receives the event's
 * bytes as they would go on the wire) and every remote update through the
 * log's apply path (`applyUpdate` one event, `applyUpdates` one batch).
 * Replicas that cannot hold generic arrays or maps say so in `supports`; their
 * cells show "n/a" and B4 still runs on the purchase's notes text.
 *
 * It is found, in order, as the `applyThroughConcord` export of
 * `@concord/core`, or of bench/src/crdt/concord-binding.ts (compiled to
 * bench/dist/crdt/concord-binding.js). Once either exists, the variants
 * `concord-yjs` and `concord-automerge` join every B table with a ratio
 * against the raw library (the target: at most 1.15x).
 */
import type { BackendName } from '@concord/core'
import type { CrdtFactory } from './adapter.js'

export type { BackendName } from '@concord/core'

/** What `applyThroughConcord` returns: a factory without the naming fields, which the harness adds. */
export type ConcordReplicaFactory = Pick<CrdtFactory, 'create' | 'load' | 'supports'> & Partial<Pick<CrdtFactory, 'library'>>

export type ApplyThroughConcord = (backend: BackendName) => ConcordReplicaFactory

/** Wraps the lead's function as a table column: `concord-yjs`, `concord-automerge`. */
export function concordVariant(backend: BackendName, applyThroughConcord: ApplyThroughConcord): CrdtFactory {
  const inner = applyThroughConcord(backend)
  return {
    id: `concord-${backend}`,
    title: `Concord (${backend} backend)`,
    library: inner.library ?? `@concord/core (${backend})`,
    supports: inner.supports,
    create: (onUpdate) => inner.create(onUpdate),
    load: (state, onUpdate) => inner.load(state, onUpdate),
  }
}

/**
 * The raw variant a Concord variant is measured against: the library doing
 * the same work, in the same update encoding (Concord's Yjs events carry v1
 * updates, so yjs-v1 when it runs).
 */
export function rawVariantOf(id: string, variants: readonly string[]): string | undefined {
  if (!id.startsWith('concord-')) return undefined
  const raw = id.slice('concord-'.length)
  return variants.includes(`${raw}-v1`) ? `${raw}-v1` : raw
}

async function importExport(specifier: string): Promise<unknown> {
  try {
    const mod = (await import(specifier)) as Record<string, unknown>
    return mod.applyThroughConcord
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined
    throw err
  }
}

/** Finds the lead's `applyThroughConcord`, or undefined while it does not exist yet. */
export async function findApplyThroughConcord(): Promise<ApplyThroughConcord | undefined> {
  // Specifiers in variables: neither module is a compile-time dependency of the bench.
  const candidates = ['@concord/core', new URL('./concord-binding.js', import.meta.url).href]
  for (const specifier of candidates) {
    const fn = await importExport(specifier)
    if (typeof fn === 'function') return fn as ApplyThroughConcord
  }
  return undefined
}
