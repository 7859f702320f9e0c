/**
 * The event envelope: one local command, as it travels and as it is stored.
 * `payload` holds the CRDT backend's update bytes; everything else is what a
 * log, a relay or an audit trail needs without decoding the payload.
 */
import { fail } from '../errors.js'
import { type EventId, type PurchaseId, type ReplicaId, eventIdOf, parseEventId, parsePurchaseId, parseReplicaId } from '../ids.js'
import { type Hlc, parseHlc } from '../time/hlc.js'
import { type IsoInstant, parseIsoInstant } from '../time/dates.js'
import { type BackendName, backendList, isBackendName } from '../backends/registry.js'

export type { BackendName } from '../backends/registry.js'

/** How urgently an event should reach the relay: approvals and payments first. */
export type Priority = 'high' | 'normal' | 'low'
export const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low']

export interface EventMeta {
  /** When the device recorded it (display only; ordering uses the HLC). */
  readonly at: IsoInstant
  /** The person or service acting, as the token names them. */
  readonly user?: string
  /** The device, as it names itself ("Anna's phone"). */
  readonly device?: string
  readonly priority?: Priority
}

export interface EventEnvelope {
  /** `<actor>.<seq>`: stable across retries, so a re-sent event is recognised. */
  readonly id: EventId
  readonly docId: PurchaseId
  readonly actor: ReplicaId
  /** This actor's event number in this document, 1, 2, 3... */
  readonly seq: number
  readonly hlc: Hlc
  /** Heads of the log the actor had applied when it made this event. */
  readonly deps: readonly EventId[]
  /** The command that made it (`line.add`, `payment.record`, `yjs.update`...). */
  readonly kind: string
  readonly backend: BackendName
  readonly payload: Uint8Array
  readonly meta: EventMeta
}

const CANONICAL_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** The last instant found canonical: events of one burst share it, and each is checked. */
let lastCanonical = ''

function sameInstant(at: string): boolean {
  if (at === lastCanonical) return true
  const ms = Date.parse(at)
  const ok = !Number.isNaN(ms) && new Date(ms).toISOString() === at
  if (ok) lastCanonical = at
  return ok
}

const KIND_RE = /^[a-z][a-zA-Z0-9]*(\.[a-z][a-zA-Z0-9]*)*$/

/**
 * Checks an envelope's shape, whatever produced it (a decoder, a store, a
 * peer). Throws INVALID_EVENT naming the field at fault.
 */
export function validateEnvelope(e: unknown): EventEnvelope {
  const bad = (field: string, why: string): never => fail('INVALID_EVENT', `event ${field} ${why}`, { field })
  if (typeof e !== 'object' || e === null) return bad('', 'is not an object')
  const r = e as Record<string, unknown>
  // A parse function and its value, not a closure: this runs for every event received.
  const wrap = <T>(field: string, parse: (v: unknown) => T, v: unknown): T => {
    try {
      return parse(v)
    } catch (err) {
      return bad(field, `is invalid: ${(err as Error).message}`)
    }
  }
  const id = wrap('id', parseEventId, r.id)
  wrap('docId', parsePurchaseId, r.docId)
  const actor = wrap('actor', parseReplicaId, r.actor)
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq) || r.seq < 1) bad('seq', 'must be a positive integer')
  if (eventIdOf(actor, r.seq as number) !== id) bad('id', `must be ${actor}.${String(r.seq)}`)
  wrap('hlc', parseHlc, r.hlc)
  if (!Array.isArray(r.deps)) bad('deps', 'must be an array')
  const deps = r.deps as unknown[]
  if (deps.length > 1024) bad('deps', 'has too many entries')
  for (const d of deps) {
    wrap('deps', parseEventId, d)
    // Sequence numbers must stay exact integers on every platform.
    if (!Number.isSafeInteger(Number((d as string).slice((d as string).lastIndexOf('.') + 1)))) bad('deps', 'names a sequence number beyond 2^53 - 1')
  }
  if (new Set(deps).size !== deps.length) bad('deps', 'has duplicates')
  if (deps.includes(id)) bad('deps', 'includes the event itself')
  if (typeof r.kind !== 'string' || r.kind.length > 64 || !KIND_RE.test(r.kind)) bad('kind', 'must be a dotted name')
  if (!isBackendName(r.backend)) bad('backend', `must be ${backendList()}`)
  if (!(r.payload instanceof Uint8Array)) bad('payload', 'must be bytes')
  const meta = r.meta as Record<string, unknown> | undefined
  if (typeof meta !== 'object' || meta === null) return bad('meta', 'must be an object')
  // The canonical form every Concord encoder writes is checked without Temporal (hot path).
  if (typeof meta.at !== 'string' || !CANONICAL_INSTANT.test(meta.at) || !sameInstant(meta.at)) wrap('meta.at', parseIsoInstant, meta.at)
  for (const k of ['user', 'device'] as const) {
    const v = meta[k]
    if (v === undefined) continue
    if (typeof v !== 'string' || v.length > 200) bad(`meta.${k}`, 'must be a short string')
    // Unpaired surrogates cannot be written as UTF-8: the wire format could not carry them.
    if (LONE_SURROGATE.test(v as string)) bad(`meta.${k}`, 'is not well-formed Unicode')
  }
  if (meta.priority !== undefined && !PRIORITIES.includes(meta.priority as Priority)) bad('meta.priority', 'must be high, normal or low')
  return e as EventEnvelope
}
