/**
 * Branded identifiers. Each is made only by a parse function that rejects bad
 * input, or by an injected factory, so a plain string never passes for an id.
 */
import { fail } from './errors.js'

export type PurchaseId = string & { readonly __purchaseId: true }
export type LineId = string & { readonly __lineId: true }
export type EventId = string & { readonly __eventId: true }
export type ReplicaId = string & { readonly __replicaId: true }
export type RecordId = string & { readonly __recordId: true }
export type ConflictId = string & { readonly __conflictId: true }

// Crockford base32, as ULIDs use: no I, L, O, U.
const ULID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/
// Purchase ids are ULIDs or other url-safe names chosen by an application
// (y-websocket rooms name documents freely); bounded so they fit in a key.
const DOC_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
const REPLICA_RE = /^[A-Za-z0-9_-]{1,64}$/
const EVENT_RE = /^[A-Za-z0-9_-]{1,64}\.[1-9][0-9]{0,15}$/
const CONFLICT_RE = /^c_[0-9a-z]{26}$/

function parser<T extends string>(kind: string, re: RegExp): (s: unknown) => T {
  return (s) => {
    if (typeof s !== 'string' || !re.test(s)) fail('INVALID_ID', `invalid ${kind}: ${JSON.stringify(s)}`, { kind })
    return s as T
  }
}

export const parsePurchaseId = parser<PurchaseId>('purchase id', DOC_RE)
export const parseLineId = parser<LineId>('line id', ULID_RE)
export const parseRecordId = parser<RecordId>('record id', ULID_RE)
export const parseReplicaId = parser<ReplicaId>('replica id', REPLICA_RE)
export const parseEventId = parser<EventId>('event id', EVENT_RE)
export const parseConflictId = parser<ConflictId>('conflict id', CONFLICT_RE)

/**
 * An event id is `<replica>.<seq>`: unique because a replica numbers its own
 * events 1, 2, 3..., and stable across retries, so a re-sent event is
 * recognised by id wherever it arrives.
 */
export function eventIdOf(replica: ReplicaId, seq: number): EventId {
  if (!Number.isSafeInteger(seq) || seq < 1) fail('INVALID_ID', `invalid event sequence ${seq}`)
  return `${replica}.${seq}` as EventId
}

export function splitEventId(id: EventId): { replica: ReplicaId; seq: number } {
  const dot = id.lastIndexOf('.')
  return { replica: id.slice(0, dot) as ReplicaId, seq: Number(id.slice(dot + 1)) }
}

/** True when an author whose clock was `vv` had seen event `ev` (every author's events are a prefix 1..n). */
export function covers(vv: Readonly<Record<string, number>> | ReadonlyMap<string, number>, ev: EventId): boolean {
  const { replica, seq } = splitEventId(ev)
  // Own keys only: a replica named `constructor` must not read Object's.
  const n = vv instanceof Map ? vv.get(replica) : Object.hasOwn(vv, replica) ? (vv as Readonly<Record<string, number>>)[replica] : undefined
  return (n ?? 0) >= seq
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** Source of randomness, injected so that tests and simulations replay. */
export type RandomSource = () => number

/**
 * Makes ULIDs from an injected clock and random source. Within one
 * millisecond the random part is incremented, so ids from one factory sort
 * in creation order.
 */
export function createUlidFactory(now: () => number, random: RandomSource): () => string {
  let lastTime = -1
  let lastRandom: number[] = []
  return () => {
    let t = Math.max(0, Math.floor(now()))
    if (t <= lastTime) {
      t = lastTime
      let i = lastRandom.length - 1
      while (i >= 0 && lastRandom[i] === 31) lastRandom[i--] = 0
      if (i >= 0) lastRandom[i] = (lastRandom[i] ?? 0) + 1
    } else {
      lastTime = t
      lastRandom = Array.from({ length: 16 }, () => Math.floor(random() * 32) & 31)
    }
    let timePart = ''
    for (let i = 0; i < 10; i++) {
      timePart = CROCKFORD[t % 32] + timePart
      t = Math.floor(t / 32)
    }
    return timePart + lastRandom.map((d) => CROCKFORD[d]).join('')
  }
}

/** A small seeded PRNG (mulberry32) for deterministic defaults in simulations. */
export function seededRandom(seed: number): RandomSource {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
