/**
 * Test events for the store suites: valid envelopes built from a few numbers,
 * so a test says "actor a's third event" rather than spelling out an envelope.
 */
import {
  type BackendName, type EventEnvelope, type EventId, type PurchaseId, type ReplicaId,
  encodeHlc, eventIdOf, instantFromEpochMs, parsePurchaseId, parseReplicaId,
} from '@concord/core'

export const T0 = 1_767_225_600_000 // 2026-01-01T00:00:00Z

export interface EventSpec {
  readonly backend?: BackendName
  readonly payload?: Uint8Array
  readonly deps?: readonly string[]
  readonly kind?: string
  /** Shifts the HLC, to make a same-id event with another stamp. */
  readonly hlcShift?: number
  readonly user?: string
}

export const doc = (s: string): PurchaseId => parsePurchaseId(s)
export const actor = (s: string): ReplicaId => parseReplicaId(s)

/** Actor `a`'s event number `n` in document `docId`. The default payload is derived from all three. */
export function ev(docId: string, a: string, n: number, spec: EventSpec = {}): EventEnvelope {
  const replica = actor(a)
  return {
    id: eventIdOf(replica, n),
    docId: doc(docId),
    actor: replica,
    seq: n,
    hlc: encodeHlc({ wall: T0 + n * 1000 + (spec.hlcShift ?? 0), counter: 0, replica }),
    deps: (spec.deps ?? (n > 1 ? [`${a}.${n - 1}`] : [])) as EventId[],
    kind: spec.kind ?? 'yjs.update',
    backend: spec.backend ?? 'yjs',
    payload: spec.payload ?? new TextEncoder().encode(`${docId}/${a}/${n}`),
    meta: { at: instantFromEpochMs(T0 + n * 1000), user: spec.user ?? `user-${a}`, priority: 'normal' },
  }
}

/** Actor `a`'s events from..to (inclusive) in `docId`. */
export function evs(docId: string, a: string, from: number, to: number, spec: EventSpec = {}): EventEnvelope[] {
  const out: EventEnvelope[] = []
  for (let n = from; n <= to; n++) out.push(ev(docId, a, n, spec))
  return out
}

/**
 * Waits until `cond` holds, checking every few ms, and fails loudly after
 * `timeoutMs` naming what it waited for (uvu has no timeouts of its own).
 */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
