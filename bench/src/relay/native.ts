/**
 * The load client's side of Concord's native protocol (one socket per
 * client here, though the protocol multiplexes documents): hello -> welcome,
 * subscribe -> caughtUp, then pushes of events prepared in advance. Events
 * are real purchase edits (notes text), made by a PurchaseReplica per client
 * on top of one deterministic creation event per document, so the relay
 * validates and stores them like any device's. Loaded only by load
 * processes that speak this protocol.
 */
import {
  type EventEnvelope, type PurchaseId, type ReplicaId, PurchaseReplica, createUlidFactory, parsePurchaseId, splitEventId,
} from '@concord/core'
import { seededRandom } from '@concord/core/internal'
import { PROTOCOL_VERSION, decodeServerMessage, encodeClientMessage } from '@concord/core/protocol'

/** A fixed clock: the same creation events in every load process. */
const T0 = 1_767_225_600_000
export const GENESIS_ACTOR = 'bench-genesis'

export function actorOf(yClient: number): string {
  return `b${yClient}`
}

const genesisCache = new Map<string, readonly EventEnvelope[]>()

/** The purchase's creation events, identical in every process (fixed clock, seeded ids). */
export function genesis(doc: string): readonly EventEnvelope[] {
  let g = genesisCache.get(doc)
  if (g === undefined) {
    const docId = parsePurchaseId(doc)
    const r = PurchaseReplica.create(
      { docId, replica: GENESIS_ACTOR as ReplicaId, now: () => T0, newId: createUlidFactory(() => T0, seededRandom(7)), user: 'bench', device: 'bench' },
      { currency: 'EUR', supplier: 'Bench' },
    )
    g = r.log.events().slice()
    genesisCache.set(doc, g)
  }
  return g
}

export function helloFrame(token: string): Uint8Array {
  return encodeClientMessage({ t: 'hello', version: PROTOCOL_VERSION, token, client: 'concord-bench/1', device: 'bench' })
}

export function subscribeFrame(doc: string): Uint8Array {
  return encodeClientMessage({ t: 'subscribe', docId: parsePurchaseId(doc), backend: 'yjs', cursor: 0, actors: [] })
}

export function pushFrame(doc: string, events: readonly EventEnvelope[]): Uint8Array {
  return encodeClientMessage({ t: 'push', docId: parsePurchaseId(doc) as PurchaseId, events })
}

/**
 * `count` one-character notes edits by this client's own replica, each its
 * own push frame; event i has seq i + 1.
 */
export function prepareEdits(doc: string, yClient: number, count: number, seed: number): Buffer[] {
  const docId = parsePurchaseId(doc)
  let clock = T0
  const replica = PurchaseReplica.fromEvents(
    { docId, replica: actorOf(yClient) as ReplicaId, now: () => ++clock, newId: createUlidFactory(() => clock, seededRandom(seed + yClient)), user: 'bench', device: actorOf(yClient) },
    genesis(doc),
  )
  const frames: Buffer[] = []
  for (let i = 0; i < count; i++) {
    // Each client appends to its own run of the notes, as the y-websocket load
    // clients append to their own run of text: edits from different clients
    // never depend on each other, and a replica integrates each one next to its
    // author's previous character. (Typing at the start instead makes every
    // insert a concurrent insert at one position, which a Yjs replica resolves
    // by scanning all of them: quadratic work the y-websocket load never asks for.)
    const e = replica.editNotes(i, 0, String.fromCharCode(97 + ((yClient + i) % 26)))
    if (e.seq !== i + 1) throw new Error(`expected seq ${i + 1}, got ${e.seq}`)
    frames.push(Buffer.from(pushFrame(doc, [e])))
  }
  return frames
}

export type NativeIncoming =
  | { readonly kind: 'welcome' }
  | { readonly kind: 'caughtUp' }
  /** Events from other clients: (actor, seq) pairs. */
  | { readonly kind: 'events'; readonly items: ReadonlyArray<{ actor: string; seq: number }> }
  /** This client's own events, stored. */
  | { readonly kind: 'ack'; readonly items: ReadonlyArray<{ actor: string; seq: number }> }
  | { readonly kind: 'reject'; readonly reason: string }
  | { readonly kind: 'error'; readonly reason: string }
  | { readonly kind: 'other' }

export function parseNative(data: Uint8Array): NativeIncoming {
  const m = decodeServerMessage(data)
  switch (m.t) {
    case 'welcome': return { kind: 'welcome' }
    case 'caughtUp': return { kind: 'caughtUp' }
    case 'events': return { kind: 'events', items: m.events.map((s) => ({ actor: s.event.actor, seq: s.event.seq })) }
    case 'ack': return { kind: 'ack', items: m.ids.map((id) => { const p = splitEventId(id); return { actor: p.replica, seq: p.seq } }) }
    case 'reject': return { kind: 'reject', reason: `${m.code}: ${m.reason}` }
    case 'error': return { kind: 'error', reason: `${m.code}: ${m.message}` }
    default: return { kind: 'other' }
  }
}
