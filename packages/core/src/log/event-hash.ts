/**
 * An event's content identity. An event id (`<actor>.<seq>`) is a name; the
 * content hash says what it names: the document, backend, actor, seq, HLC,
 * kind, dependencies (as a set) and payload, everything but `meta` (display
 * data the relay restamps). Two envelopes with one id and one hash are the
 * same event (a retry); one id with two hashes is an ID_CONFLICT, refused by
 * every log and store, never taken for a duplicate.
 *
 * The hash is derived, never trusted from elsewhere: each side computes it
 * from the content it holds (a relay store keeps it in a column so that a
 * duplicate check reads no payload). Computed once per envelope object.
 */
import * as encoding from 'lib0/encoding'
import { digest } from 'lib0/hash/sha256'
import type { EventEnvelope } from './envelope.js'

/** Lowercase Crockford base32, as hash.ts writes. */
const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz'

/** Bumped if the canonical form below ever changes (stores then rehash). */
export const EVENT_HASH_VERSION = 1

const cache = new WeakMap<EventEnvelope, string>()

/** The canonical bytes the hash is taken over (exported for tests). */
export function eventHashInput(e: EventEnvelope): Uint8Array {
  const enc = encoding.createEncoder()
  encoding.writeVarUint(enc, EVENT_HASH_VERSION)
  encoding.writeVarString(enc, e.docId)
  encoding.writeVarString(enc, e.backend)
  encoding.writeVarString(enc, e.actor)
  encoding.writeVarUint(enc, e.seq)
  encoding.writeVarString(enc, e.hlc)
  encoding.writeVarString(enc, e.kind)
  // A set: the stores have always compared deps regardless of order.
  const deps = e.deps.length < 2 ? e.deps : [...e.deps].sort()
  encoding.writeVarUint(enc, deps.length)
  for (const d of deps) encoding.writeVarString(enc, d)
  encoding.writeVarUint8Array(enc, e.payload)
  return encoding.toUint8Array(enc)
}

/** SHA-256 of the event's content, as 52 characters of base32 (the whole 256 bits). */
export function eventHash(e: EventEnvelope): string {
  const known = cache.get(e)
  if (known !== undefined) return known
  const bytes = digest(eventHashInput(e))
  let out = ''
  let acc = 0
  let bits = 0
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += BASE32[(acc >>> bits) & 31]
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31]
  cache.set(e, out)
  return out
}

/** True when two envelopes carry the same content (whatever their meta). */
export function sameContent(a: EventEnvelope, b: EventEnvelope): boolean {
  return a === b || eventHash(a) === eventHash(b)
}
