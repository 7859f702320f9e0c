/**
 * fast-check generators for the wire protocols: valid envelopes (ids
 * `<replica>.<seq>`, HLC stamps as encodeHlc writes them) and every message
 * type of both protocols. Shared by the protocol tests; not a test itself.
 */
import fc from 'fast-check'
import * as assert from 'uvu/assert'
import {
  BACKEND_NAMES, type ConflictId, type EventEnvelope, type EventId, type IsoInstant, type PurchaseId, type ReplicaId,
  encodeHlc, instantFromEpochMs, isConcordError,
} from '@concord/core'
import {
  type AwarenessEntry, type ClientMessage, type Grant, type SequencedEvent, type ServerMessage, type YMessage,
  PROTOCOL_VERSION, RIGHTS,
} from '@concord/core/protocol'

export const LONE_SURROGATE = /[\uD800-\uDFFF]/u
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const chars = (s: string): fc.Arbitrary<string> => fc.constantFrom(...Array.from(s))

export const replicaArb: fc.Arbitrary<ReplicaId> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: chars(ALNUM + '_-'), minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: chars(ALNUM + '_-'), minLength: 1, maxLength: 64 }) },
) as fc.Arbitrary<ReplicaId>

export const seqArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 500 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) },
)

export const eventIdArb: fc.Arbitrary<EventId> = fc.tuple(replicaArb, seqArb).map(([r, s]) => `${r}.${s}` as EventId)

export const docIdArb: fc.Arbitrary<PurchaseId> = fc
  .tuple(chars(ALNUM), fc.string({ unit: chars(ALNUM + '._-'), maxLength: 30 }))
  .map(([a, b]) => (a + b) as PurchaseId)

const segment = fc.tuple(chars('abcdefghijklmnopqrstuvwxyz'), fc.string({ unit: chars(ALNUM), maxLength: 10 })).map(([a, b]) => a + b)
export const kindArb: fc.Arbitrary<string> = fc
  .array(segment, { minLength: 1, maxLength: 3 })
  .map((s) => s.join('.'))
  .filter((k) => k.length <= 64)

/** Mostly the canonical form (sent as milliseconds), sometimes other valid ISO forms (sent as text). */
export const atArb: fc.Arbitrary<IsoInstant> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 253_402_300_799_999 }).map((ms) => new Date(ms).toISOString() as IsoInstant) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '2026-01-01T00:00Z',
      '2026-01-01T02:00:00+02:00',
      '1960-01-01T00:00:00.000Z',
      '+010000-01-01T00:00:00.000Z',
      '2026-03-01T12:00:00.5Z',
      '2026-03-01T12:00:00.000000001Z',
    ) as fc.Arbitrary<IsoInstant>,
  },
)

/** Any well-formed text, surrogate pairs and U+FEFF included. */
export const textArb = (maxLength = 30): fc.Arbitrary<string> =>
  fc.oneof(
    // fast-check's 'binary' unit includes unpaired surrogates, which UTF-8
    // cannot carry; encoders refuse them (tested apart), so keep them out here.
    { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength }).filter((s) => !LONE_SURROGATE.test(s)) },
    { weight: 1, arbitrary: fc.string({ unit: chars('a\uFEFF\u0000é€😀\u{10FFFF}'), maxLength }) },
  )

export const metaArb = fc.record(
  {
    at: atArb,
    user: textArb(40),
    device: textArb(40),
    priority: fc.constantFrom('high', 'normal', 'low' as const),
    // A key the format has no slot for: must survive as JSON.
    note: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: ['at'] },
)

export function envelopeArb(docIdGen: fc.Arbitrary<PurchaseId> = docIdArb): fc.Arbitrary<EventEnvelope> {
  return fc
    .record({
      docId: docIdGen,
      actor: replicaArb,
      seq: seqArb,
      wall: fc.integer({ min: 0, max: 999_999_999_999_999 }),
      counter: fc.integer({ min: 0, max: 999_999 }),
      hlcReplica: fc.option(replicaArb, { nil: undefined, freq: 4 }),
      kind: kindArb,
      backend: fc.constantFrom(...BACKEND_NAMES),
      payload: fc.uint8Array({ maxLength: 64 }),
      meta: metaArb,
    })
    .chain((b) =>
      fc
        .uniqueArray(fc.oneof(eventIdArb, seqArb.map((s) => `${b.actor}.${s}` as EventId)), { maxLength: 6 })
        .map((deps) => deps.filter((d) => d !== `${b.actor}.${b.seq}`))
        .map(
          (deps): EventEnvelope => ({
            id: `${b.actor}.${b.seq}` as EventId,
            docId: b.docId,
            actor: b.actor,
            seq: b.seq,
            hlc: encodeHlc({ wall: b.wall, counter: b.counter, replica: b.hlcReplica ?? b.actor }),
            deps,
            kind: b.kind,
            backend: b.backend,
            payload: b.payload,
            meta: b.meta as EventEnvelope['meta'],
          }),
        ),
    )
}

/** Envelopes of one document, as a push or an events frame carries them. */
export const docEventsArb = (maxLength = 5): fc.Arbitrary<{ docId: PurchaseId; events: EventEnvelope[] }> =>
  docIdArb.chain((docId) => fc.array(envelopeArb(fc.constant(docId)), { minLength: 1, maxLength }).map((events) => ({ docId, events })))

const nonceArb = fc.oneof(fc.nat(1000), fc.maxSafeNat())
const cursorArb = fc.oneof(fc.nat(1000), fc.maxSafeNat())
const codeArb = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,20}$/)
const conflictIdArb = fc.string({ unit: chars('0123456789abcdefghijklmnopqrstuvwxyz'), minLength: 26, maxLength: 26 }).map((s) => `c_${s}` as ConflictId)
const grantArb: fc.Arbitrary<Grant> = fc.record({
  doc: fc.oneof(fc.constant('*'), docIdArb, docIdArb.map((d) => `${d.slice(0, 127)}*`)),
  rights: fc.subarray([...RIGHTS], { minLength: 1 }),
})
const authInfoArb = fc.record({
  expiresAt: fc.option(fc.integer({ min: 0, max: 4_102_444_800_000 }).map(instantFromEpochMs), { nil: null }),
  user: fc.option(textArb(), { nil: null }),
  grants: fc.array(grantArb, { maxLength: 4 }),
})

type ByType<M extends { t: string }> = { [K in M['t']]: fc.Arbitrary<Extract<M, { t: K }>> }

/** One generator per client message type: the compiler insists on all of them. */
export const clientMessageArbs: ByType<ClientMessage> = {
  hello: fc.record({ t: fc.constant('hello'), version: fc.constant(PROTOCOL_VERSION), token: textArb(200), client: textArb(), device: textArb() }),
  auth: fc.record({ t: fc.constant('auth'), token: textArb(200) }),
  subscribe: fc.record({ t: fc.constant('subscribe'), docId: docIdArb, backend: fc.constantFrom(...BACKEND_NAMES), cursor: cursorArb, actors: fc.uniqueArray(replicaArb, { maxLength: 16 }) }),
  unsubscribe: fc.record({ t: fc.constant('unsubscribe'), docId: docIdArb }),
  push: docEventsArb().map(({ docId, events }) => ({ t: 'push' as const, docId, events })),
  ping: fc.record({ t: fc.constant('ping'), nonce: nonceArb }),
}

const sequencedArb = fc
  .tuple(docEventsArb(), fc.array(fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 1e12 })), { minLength: 5, maxLength: 5 }), fc.integer({ min: 0, max: 1e12 }), fc.nat(5))
  .map(([{ docId, events }, gaps, start, extra]) => {
    let seq = start
    const items: SequencedEvent[] = events.map((event, i) => ({ seq: (seq += gaps[i] ?? 1), event }))
    return { t: 'events' as const, docId, events: items, cursor: seq + extra }
  })

export const serverMessageArbs: ByType<ServerMessage> = {
  welcome: fc
    .tuple(fc.record({ relayId: textArb(), session: textArb(), maxFrameBytes: fc.integer({ min: 1, max: 2 ** 31 }) }), authInfoArb)
    .map(([w, a]) => ({ t: 'welcome' as const, version: PROTOCOL_VERSION, ...w, ...a })),
  authorized: authInfoArb.map((a) => ({ t: 'authorized' as const, ...a })),
  events: sequencedArb,
  caughtUp: fc.record({
    t: fc.constant('caughtUp'), docId: docIdArb, cursor: cursorArb,
    actorHeads: fc.uniqueArray(fc.record({ actor: replicaArb, seq: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })) }), { maxLength: 16, selector: (h) => h.actor }),
  }),
  ack: fc.record({ t: fc.constant('ack'), docId: docIdArb, ids: fc.array(eventIdArb, { minLength: 1, maxLength: 8 }), cursor: cursorArb }),
  reject: fc.record({ t: fc.constant('reject'), docId: docIdArb, id: eventIdArb, code: codeArb, reason: textArb() }),
  validated: fc.record({ t: fc.constant('validated'), docId: docIdArb, cursor: cursorArb, conflicts: fc.array(conflictIdArb, { maxLength: 4 }) }),
  error: fc.record(
    { t: fc.constant('error'), code: codeArb, message: textArb(), docId: docIdArb, fatal: fc.boolean() },
    { requiredKeys: ['t', 'code', 'message', 'fatal'] },
  ),
  pong: fc.record({ t: fc.constant('pong'), nonce: nonceArb }),
}

export const clientMessageArb: fc.Arbitrary<ClientMessage> = fc.oneof(...Object.values<fc.Arbitrary<ClientMessage>>(clientMessageArbs))
export const serverMessageArb: fc.Arbitrary<ServerMessage> = fc.oneof(...Object.values<fc.Arbitrary<ServerMessage>>(serverMessageArbs))

const bytesArb = fc.uint8Array({ maxLength: 200 })
export const yMessageArbs: ByType<YMessage> = {
  syncStep1: fc.record({ t: fc.constant('syncStep1'), stateVector: bytesArb }),
  syncStep2: fc.record({ t: fc.constant('syncStep2'), update: bytesArb }),
  update: fc.record({ t: fc.constant('update'), update: bytesArb }),
  awareness: fc.record({ t: fc.constant('awareness'), update: bytesArb }),
  authPermissionDenied: fc.record({ t: fc.constant('authPermissionDenied'), reason: textArb() }),
  queryAwareness: fc.record({ t: fc.constant('queryAwareness') }),
}
export const yMessageArb: fc.Arbitrary<YMessage> = fc.oneof(...Object.values<fc.Arbitrary<YMessage>>(yMessageArbs))

export const awarenessEntriesArb: fc.Arbitrary<AwarenessEntry[]> = fc.array(
  fc.record({
    clientId: fc.oneof(fc.nat(2 ** 32 - 1), fc.maxSafeNat()),
    clock: fc.oneof(fc.nat(100), fc.maxSafeNat()),
    state: fc.oneof(fc.constant(null), fc.jsonValue({ maxDepth: 3 })).map((v) => JSON.stringify(v)),
  }),
  { maxLength: 6 },
)

/** Runs `f` and returns the ConcordError it throws; fails unless it throws one with `code`. */
export function expectError(f: () => unknown, code: string, context = ''): Error & { code: string; details: Record<string, unknown> } {
  try {
    f()
  } catch (e) {
    if (isConcordError(e)) {
      assert.is(e.code, code, `${context} expected ${code}, got ${e.code}: ${e.message}`)
      return e as never
    }
    throw new Error(`${context} expected ConcordError ${code}, got ${String(e)}`, { cause: e })
  }
  throw new Error(`${context} expected ConcordError ${code}, but nothing was thrown`)
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ')
}

/**
 * A deep copy with ordinary prototypes: fast-check builds some records with a
 * null prototype, which uvu's deep equality tells apart from what a decoder
 * returns although every key and value is the same.
 */
export function plain<T>(v: T): T {
  if (v instanceof Uint8Array || typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) return v.map(plain) as T
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) as T
}
