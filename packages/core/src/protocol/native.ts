/**
 * The native protocol: many documents over one WebSocket, one binary message
 * per frame. It carries event envelopes, never CRDT internals, so it serves
 * both backends alike.
 *
 * A frame is a type byte and the message's fields in a fixed order; nothing is
 * optional without a flag saying so up front, so every strict prefix of a
 * valid frame is refused and so is every trailing byte. Client and relay
 * types use separate ranges (0x01-0x06 and 0x41-0x49), so a frame sent the
 * wrong way is an unknown type rather than a misread message.
 *
 * `hello` and `welcome` begin with the protocol version, so whatever a future
 * version puts after it, an old peer reads the version and answers
 * UNSUPPORTED_VERSION instead of garbage.
 *
 * Strings are varint-length UTF-8, integers minimal varints, and event bodies
 * as described in events.ts.
 */
import { fail } from '../errors.js'
import {
  type ConflictId, type EventId, type PurchaseId, type ReplicaId, parseConflictId, parseEventId, parsePurchaseId, parseReplicaId,
} from '../ids.js'
import type { BackendName } from '../backends/registry.js'
import type { EventEnvelope } from '../log/envelope.js'
import { type IsoInstant, parseIsoInstant } from '../time/dates.js'
import { ReplicaTable, readBackend, readEventBody, readReplica, writeBackend, writeEventBody, writeReplica } from './events.js'
import { type CodecOptions, FrameReader, FrameWriter, parseField } from './wire.js'

/**
 * 2: subscribe names the device's actors and caughtUp answers each one's highest stored event.
 * 3: an event body names its backend by a wire id byte (events.ts) instead of a flag bit.
 */
export const PROTOCOL_VERSION = 3
/** The versions this build can speak; a relay answers any other with UNSUPPORTED_VERSION. */
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION]

// ---------------------------------------------------------------- rights

/**
 * read: subscribe; write: push changes; resolve: record a conflict
 * resolution; approve: approve or reject an order waiting for approval.
 * The relay checks each against what a write does, never its label.
 */
export type Right = 'read' | 'write' | 'resolve' | 'approve'
/** In the order decoders return them (and their bit in a grant's mask). */
export const RIGHTS: readonly Right[] = ['read', 'write', 'resolve', 'approve']

/**
 * What a token grants on some documents. `doc` is `*` (every document), a
 * document id, or an id prefix followed by `*` (`PO-2026-*`).
 */
export interface Grant {
  readonly doc: string
  /** Without duplicates; decoders return them in RIGHTS order. */
  readonly rights: readonly Right[]
}

const DOC_PATTERN = /^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,127}\*?)$/

/** Whether a grant's document pattern covers a document. */
export function grantCovers(pattern: string, docId: PurchaseId): boolean {
  if (pattern === '*') return true
  return pattern.endsWith('*') ? docId.startsWith(pattern.slice(0, -1)) : docId === pattern
}

/** Every right that some grant gives on a document. */
export function rightsFor(grants: readonly Grant[], docId: PurchaseId): ReadonlySet<Right> {
  const rights = new Set<Right>()
  for (const g of grants) if (grantCovers(g.doc, docId)) for (const r of g.rights) rights.add(r)
  return rights
}

/** The session a token opens, as the relay understood it: sent in welcome and after each refresh. */
export interface AuthInfo {
  /** When the token expires (the client refreshes before), or null if it does not. */
  readonly expiresAt: IsoInstant | null
  /** The person or service the token names, for `meta.user`; null if it names none. */
  readonly user: string | null
  readonly grants: readonly Grant[]
}

// ---------------------------------------------------------------- messages

/** Must be the first frame on a socket. */
export interface HelloMessage {
  readonly t: 'hello'
  readonly version: number
  readonly token: string
  /** The client's name and version, for logs (`concord-client/0.1.0`). */
  readonly client: string
  /**
   * The device this connection writes from, as its stamps name it (`dev`):
   * the relay refuses a stamp that names another device on this connection.
   */
  readonly device: string
}
/** A fresh token on an open socket; the relay answers `authorized` or an error. */
export interface AuthMessage {
  readonly t: 'auth'
  readonly token: string
}
export interface SubscribeMessage {
  readonly t: 'subscribe'
  readonly docId: PurchaseId
  readonly backend: BackendName
  /** The relay sequence number after which to send events; 0 for all. */
  readonly cursor: number
  /**
   * The actors this device writes the document as (at most MAX_SUBSCRIBE_ACTORS):
   * caughtUp tells the highest event the relay holds of each, so a device
   * whose store went back in time (a restored backup) finds out before it
   * writes under an id the relay already holds.
   */
  readonly actors: readonly ReplicaId[]
}
/** Actors a subscribe may name. */
export const MAX_SUBSCRIBE_ACTORS = 16
export interface UnsubscribeMessage {
  readonly t: 'unsubscribe'
  readonly docId: PurchaseId
}
export interface PushMessage {
  readonly t: 'push'
  readonly docId: PurchaseId
  /** At least one, every one of document `docId`. */
  readonly events: readonly EventEnvelope[]
}
export interface PingMessage {
  readonly t: 'ping'
  readonly nonce: number
}

export type ClientMessage = HelloMessage | AuthMessage | SubscribeMessage | UnsubscribeMessage | PushMessage | PingMessage

export interface WelcomeMessage extends AuthInfo {
  readonly t: 'welcome'
  readonly version: number
  /** Which relay process answered (cluster mode has several). */
  readonly relayId: string
  /** This connection's id, for logs on both sides. */
  readonly session: string
  /** The largest frame the relay accepts, so the client splits its pushes below it. */
  readonly maxFrameBytes: number
}
/** The answer to `auth`: the refreshed token's session. */
export interface AuthorizedMessage extends AuthInfo {
  readonly t: 'authorized'
}
export interface SequencedEvent {
  /** The relay's sequence number for the event in its document. */
  readonly seq: number
  readonly event: EventEnvelope
}
/** Catch-up and broadcast alike. */
export interface EventsMessage {
  readonly t: 'events'
  readonly docId: PurchaseId
  /** At least one, every one of document `docId`, with strictly increasing seq. */
  readonly events: readonly SequencedEvent[]
  /** Where to resume after this frame: at least the last event's seq. */
  readonly cursor: number
}
/** The end of the catch-up that a subscribe started: the client may say "synced". */
export interface CaughtUpMessage {
  readonly t: 'caughtUp'
  readonly docId: PurchaseId
  readonly cursor: number
  /** For each actor the subscribe named that has stored events here, the highest of its own sequence numbers. */
  readonly actorHeads: readonly { readonly actor: ReplicaId; readonly seq: number }[]
}
/** Sent only once the events are durable. */
export interface AckMessage {
  readonly t: 'ack'
  readonly docId: PurchaseId
  /** At least one. */
  readonly ids: readonly EventId[]
  readonly cursor: number
}
/** One event refused; the others of its push are unaffected. */
export interface RejectMessage {
  readonly t: 'reject'
  readonly docId: PurchaseId
  readonly id: EventId
  /** An upper-case code (`INVALID_EVENT`, `FORBIDDEN`...). */
  readonly code: string
  readonly reason: string
}
/** The relay ran the invariant registry on the merged state up to `cursor`. */
export interface ValidatedMessage {
  readonly t: 'validated'
  readonly docId: PurchaseId
  readonly cursor: number
  /** The open conflicts at that point; empty when every invariant holds. */
  readonly conflicts: readonly ConflictId[]
}
export interface ErrorMessage {
  readonly t: 'error'
  /** An upper-case code (`FORBIDDEN`, `BACKEND_MISMATCH`, an ErrorCode...). */
  readonly code: string
  readonly message: string
  /** The document concerned, when there is one. */
  readonly docId?: PurchaseId
  /** True when the relay closes the socket after this message. */
  readonly fatal: boolean
}
export interface PongMessage {
  readonly t: 'pong'
  readonly nonce: number
}

export type ServerMessage =
  | WelcomeMessage
  | AuthorizedMessage
  | EventsMessage
  | CaughtUpMessage
  | AckMessage
  | RejectMessage
  | ValidatedMessage
  | ErrorMessage
  | PongMessage

/** Type bytes, client to relay. */
export const CLIENT_MESSAGE_TYPES = {
  hello: 0x01,
  auth: 0x02,
  subscribe: 0x03,
  unsubscribe: 0x04,
  push: 0x05,
  ping: 0x06,
} as const satisfies Record<ClientMessage['t'], number>

/** Type bytes, relay to client. */
export const SERVER_MESSAGE_TYPES = {
  welcome: 0x41,
  authorized: 0x42,
  events: 0x43,
  caughtUp: 0x44,
  ack: 0x45,
  reject: 0x46,
  validated: 0x47,
  error: 0x48,
  pong: 0x49,
} as const satisfies Record<ServerMessage['t'], number>

// ---------------------------------------------------------------- field codecs

const CODE_RE = /^[A-Z][A-Z0-9_]{0,63}$/
const AUTH_HAS_EXPIRY = 0x01
const AUTH_HAS_USER = 0x02
const ERROR_FATAL = 0x01
const ERROR_HAS_DOC = 0x02
// Smallest possible event body (flags, backend, one-byte actor, seq, hlc, no
// deps, one-byte kind, empty payload, at): a bound for counts, not a promise.
const MIN_EVENT_BYTES = 12

function writeDocId(w: FrameWriter, field: string, docId: unknown): void {
  try {
    parsePurchaseId(docId)
  } catch (e) {
    w.invalid(field, (e as Error).message)
  }
  w.string(field, docId)
}

function readDocId(r: FrameReader, field = 'docId'): PurchaseId {
  const at = r.offset
  return parseField(r, field, at, parsePurchaseId, r.string(field))
}

function writeCode(w: FrameWriter, code: unknown): void {
  if (typeof code !== 'string' || !CODE_RE.test(code)) w.invalid('code', 'must be an upper-case code such as FORBIDDEN')
  w.string('code', code)
}

function readCode(r: FrameReader): string {
  const at = r.offset
  const code = r.string('code')
  if (!CODE_RE.test(code)) r.malformed('code', 'must be an upper-case code such as FORBIDDEN', at)
  return code
}

function writeVersion(w: FrameWriter, version: unknown): void {
  w.uint('version', version)
}

/** Reads the version before anything else and refuses one this build does not speak. */
function readVersion(r: FrameReader): number {
  const version = r.uint('version')
  if (!SUPPORTED_VERSIONS.includes(version)) {
    fail('UNSUPPORTED_VERSION', `protocol version ${version} is not supported (this side speaks ${SUPPORTED_VERSIONS.join(', ')})`, {
      version,
      supported: SUPPORTED_VERSIONS,
    })
  }
  return version
}

function writeAuthInfo(w: FrameWriter, a: AuthInfo): void {
  const { expiresAt, user, grants } = a
  if (expiresAt !== null) {
    let canonical: string | undefined
    try {
      canonical = parseIsoInstant(expiresAt)
    } catch {
      // reported below
    }
    if (canonical !== expiresAt) w.invalid('expiresAt', 'must be null or an ISO instant as parseIsoInstant returns it')
  }
  if (user !== null && typeof user !== 'string') w.invalid('user', 'must be null or a string')
  if (!Array.isArray(grants)) w.invalid('grants', 'must be an array')
  w.u8((expiresAt !== null ? AUTH_HAS_EXPIRY : 0) | (user !== null ? AUTH_HAS_USER : 0))
  if (expiresAt !== null) w.string('expiresAt', expiresAt)
  if (user !== null) w.string('user', user)
  w.uint('grants', grants.length)
  for (const g of grants) {
    if (typeof g?.doc !== 'string' || !DOC_PATTERN.test(g.doc)) w.invalid('grants', 'doc must be *, a document id, or an id prefix followed by *')
    if (!Array.isArray(g.rights) || g.rights.length === 0) w.invalid('grants', 'rights must be a non-empty array')
    let mask = 0
    for (const right of g.rights) {
      const bit = 1 << RIGHTS.indexOf(right)
      if (bit < 1 || (mask & bit) !== 0) w.invalid('grants', `right ${JSON.stringify(right)} is unknown or repeated`)
      mask |= bit
    }
    w.string('grants', g.doc)
    w.u8(mask)
  }
}

function readAuthInfo(r: FrameReader): AuthInfo {
  const flagsAt = r.offset
  const flags = r.u8('auth flags')
  if ((flags & ~(AUTH_HAS_EXPIRY | AUTH_HAS_USER)) !== 0) r.malformed('auth flags', `has unknown bits ${flags}`, flagsAt)
  let expiresAt: IsoInstant | null = null
  if ((flags & AUTH_HAS_EXPIRY) !== 0) {
    const at = r.offset
    const text = r.string('expiresAt')
    let canonical: string | undefined
    try {
      canonical = parseIsoInstant(text)
    } catch {
      // reported below
    }
    if (canonical !== text) r.malformed('expiresAt', 'is not an ISO instant (YYYY-MM-DDTHH:mm:ss.sssZ)', at)
    expiresAt = text as IsoInstant
  }
  const user = (flags & AUTH_HAS_USER) !== 0 ? r.string('user') : null
  const n = r.count('grants', 3)
  const grants: Grant[] = []
  for (let i = 0; i < n; i++) {
    const at = r.offset
    const doc = r.string(`grants[${i}].doc`)
    if (!DOC_PATTERN.test(doc)) r.malformed(`grants[${i}].doc`, 'must be *, a document id, or an id prefix followed by *', at)
    const maskAt = r.offset
    const mask = r.u8(`grants[${i}].rights`)
    if (mask === 0 || mask >= 1 << RIGHTS.length) r.malformed(`grants[${i}].rights`, `has invalid bits ${mask}`, maskAt)
    grants.push({ doc, rights: RIGHTS.filter((_, bit) => (mask & (1 << bit)) !== 0) })
  }
  return { expiresAt, user, grants }
}

function writeEvents(w: FrameWriter, docId: PurchaseId, events: readonly EventEnvelope[]): void {
  if (!Array.isArray(events) || events.length === 0) w.invalid('events', 'must be a non-empty array')
  w.uint('events', events.length)
  for (const e of events) {
    // The frame names the document once; an event of another one cannot ride along.
    if (e?.docId !== docId) w.invalid('events', `hold an event of document ${String(e?.docId)} in a frame for ${docId}`, 'INVALID_EVENT')
    writeEventBody(w, e)
  }
}

function writeSequencedEvents(w: FrameWriter, docId: PurchaseId, items: readonly SequencedEvent[], cursor: number): void {
  if (!Array.isArray(items) || items.length === 0) w.invalid('events', 'must be a non-empty array')
  w.uint('events', items.length)
  // Sequence numbers travel as gaps from the previous one (one byte in a
  // catch-up), the cursor as its distance past the last event.
  let prev = 0
  for (const item of items) {
    const seq = item?.seq
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= prev) w.invalid('events', `seq ${String(seq)} must be an integer above ${prev}`)
    if (item.event?.docId !== docId) w.invalid('events', `hold an event of document ${String(item.event?.docId)} in a frame for ${docId}`, 'INVALID_EVENT')
    w.uint('events', seq - prev)
    writeEventBody(w, item.event)
    prev = seq
  }
  if (typeof cursor !== 'number' || !Number.isSafeInteger(cursor) || cursor < prev) w.invalid('cursor', `must be an integer of at least ${prev}`)
  w.uint('cursor', cursor - prev)
}

function readSequencedEvents(r: FrameReader, docId: PurchaseId): { events: SequencedEvent[]; cursor: number } {
  const n = r.count('events', 1 + MIN_EVENT_BYTES, 1)
  const events: SequencedEvent[] = []
  let prev = 0
  for (let i = 0; i < n; i++) {
    const at = r.offset
    const gap = r.uint(`events[${i}].seq`)
    if (gap === 0) r.malformed(`events[${i}].seq`, 'does not increase', at)
    const seq = prev + gap
    if (!Number.isSafeInteger(seq)) r.malformed(`events[${i}].seq`, 'is above 2^53 - 1', at)
    events.push({ seq, event: readEventBody(r, docId, `events[${i}]`) })
    prev = seq
  }
  const at = r.offset
  const cursor = prev + r.uint('cursor')
  if (!Number.isSafeInteger(cursor)) r.malformed('cursor', 'is above 2^53 - 1', at)
  return { events, cursor }
}

function writeEventIds(w: FrameWriter, ids: readonly EventId[]): void {
  if (!Array.isArray(ids) || ids.length === 0) w.invalid('ids', 'must be a non-empty array')
  w.uint('ids', ids.length)
  const table = new ReplicaTable()
  for (const id of ids) {
    try {
      parseEventId(id)
    } catch (e) {
      w.invalid('ids', (e as Error).message)
    }
    const dot = id.lastIndexOf('.')
    writeReplica(w, table, 'ids', id.slice(0, dot), 'INVALID_ARGUMENT')
    w.uint('ids', Number(id.slice(dot + 1)))
  }
}

function readEventIds(r: FrameReader): EventId[] {
  const n = r.count('ids', 2, 1)
  const table = new ReplicaTable()
  const ids: EventId[] = []
  for (let i = 0; i < n; i++) {
    const at = r.offset
    const replica = readReplica(r, table, `ids[${i}]`)
    const id = `${replica}.${r.uint(`ids[${i}]`)}`
    ids.push(parseField(r, `ids[${i}]`, at, parseEventId, id))
  }
  return ids
}

function writeActor(w: FrameWriter, field: string, actor: unknown): void {
  try {
    parseReplicaId(actor)
  } catch (e) {
    w.invalid(field, (e as Error).message)
  }
  w.string(field, actor)
}

function readActor(r: FrameReader, field: string): ReplicaId {
  const at = r.offset
  return parseField(r, field, at, parseReplicaId, r.string(field))
}

/** Distinct actors, at most MAX_SUBSCRIBE_ACTORS. */
function writeActors(w: FrameWriter, actors: readonly ReplicaId[]): void {
  if (!Array.isArray(actors) || actors.length > MAX_SUBSCRIBE_ACTORS) w.invalid('actors', `must be an array of at most ${MAX_SUBSCRIBE_ACTORS} replica ids`)
  if (new Set(actors).size !== actors.length) w.invalid('actors', 'must not repeat an actor')
  w.uint('actors', actors.length)
  for (const a of actors) writeActor(w, 'actors', a)
}

function readActors(r: FrameReader): ReplicaId[] {
  const at = r.offset
  const n = r.count('actors', 2)
  if (n > MAX_SUBSCRIBE_ACTORS) r.malformed('actors', `names ${n} actors; at most ${MAX_SUBSCRIBE_ACTORS}`, at)
  const actors: ReplicaId[] = []
  for (let i = 0; i < n; i++) {
    const start = r.offset
    const a = readActor(r, `actors[${i}]`)
    if (actors.includes(a)) r.malformed(`actors[${i}]`, 'repeats an actor', start)
    actors.push(a)
  }
  return actors
}

function writeActorHeads(w: FrameWriter, heads: readonly { readonly actor: ReplicaId; readonly seq: number }[]): void {
  if (!Array.isArray(heads) || heads.length > MAX_SUBSCRIBE_ACTORS) w.invalid('actorHeads', `must be an array of at most ${MAX_SUBSCRIBE_ACTORS} entries`)
  w.uint('actorHeads', heads.length)
  for (const h of heads) {
    writeActor(w, 'actorHeads', h?.actor)
    if (typeof h.seq !== 'number' || !Number.isSafeInteger(h.seq) || h.seq < 1) w.invalid('actorHeads', 'seq must be a positive integer')
    w.uint('actorHeads', h.seq)
  }
}

function readActorHeads(r: FrameReader): { actor: ReplicaId; seq: number }[] {
  const at = r.offset
  const n = r.count('actorHeads', 3)
  if (n > MAX_SUBSCRIBE_ACTORS) r.malformed('actorHeads', `has ${n} entries; at most ${MAX_SUBSCRIBE_ACTORS}`, at)
  const heads: { actor: ReplicaId; seq: number }[] = []
  for (let i = 0; i < n; i++) {
    const actor = readActor(r, `actorHeads[${i}].actor`)
    const seqAt = r.offset
    const seq = r.uint(`actorHeads[${i}].seq`)
    if (seq < 1) r.malformed(`actorHeads[${i}].seq`, 'must be positive', seqAt)
    heads.push({ actor, seq })
  }
  return heads
}

function writeNonce(w: FrameWriter, nonce: unknown): void {
  w.uint('nonce', nonce)
}

// ---------------------------------------------------------------- client messages

function unknownMessage(t: unknown): never {
  return fail('INVALID_ARGUMENT', `cannot encode a message of unknown type ${JSON.stringify(t)}`, { field: 't' })
}

function byByte<T extends string>(types: Record<T, number>): ReadonlyMap<number, T> {
  return new Map(Object.entries<number>(types).map(([name, byte]) => [byte, name as T]))
}
const CLIENT_TYPE_NAMES = byByte<ClientMessage['t']>(CLIENT_MESSAGE_TYPES)
const SERVER_TYPE_NAMES = byByte<ServerMessage['t']>(SERVER_MESSAGE_TYPES)

/** Reads the type byte and names it; the decoders then switch on the name, exhaustively. */
function readType<T extends string>(r: FrameReader, names: ReadonlyMap<number, T>, direction: string): T {
  const type = r.u8('message type')
  const name = names.get(type)
  if (name === undefined) {
    fail('UNKNOWN_MESSAGE_TYPE', `unknown ${direction} message type 0x${type.toString(16).padStart(2, '0')}`, { type, offset: r.offset - 1 })
  }
  return name
}

export function encodeClientMessage(m: ClientMessage, options?: CodecOptions): Uint8Array {
  const w = new FrameWriter()
  switch (m.t) {
    case 'hello':
      w.u8(CLIENT_MESSAGE_TYPES.hello)
      writeVersion(w, m.version)
      w.string('token', m.token)
      w.string('client', m.client)
      w.string('device', m.device)
      break
    case 'auth':
      w.u8(CLIENT_MESSAGE_TYPES.auth)
      w.string('token', m.token)
      break
    case 'subscribe':
      w.u8(CLIENT_MESSAGE_TYPES.subscribe)
      writeDocId(w, 'docId', m.docId)
      writeBackend(w, 'backend', m.backend)
      w.uint('cursor', m.cursor)
      writeActors(w, m.actors)
      break
    case 'unsubscribe':
      w.u8(CLIENT_MESSAGE_TYPES.unsubscribe)
      writeDocId(w, 'docId', m.docId)
      break
    case 'push':
      w.u8(CLIENT_MESSAGE_TYPES.push)
      writeDocId(w, 'docId', m.docId)
      writeEvents(w, m.docId, m.events)
      break
    case 'ping':
      w.u8(CLIENT_MESSAGE_TYPES.ping)
      writeNonce(w, m.nonce)
      break
    default:
      return unknownMessage((m satisfies never as { t: unknown }).t)
  }
  return w.finish(options)
}

/**
 * Decodes a frame from a client. Throws MALFORMED_FRAME, UNKNOWN_MESSAGE_TYPE,
 * UNSUPPORTED_VERSION (hello), FRAME_TOO_LARGE or INVALID_EVENT (push).
 */
export function decodeClientMessage(bytes: Uint8Array, options?: CodecOptions): ClientMessage {
  const r = new FrameReader(bytes, options)
  const m = readClientMessage(r)
  r.end()
  return m
}

function readClientMessage(r: FrameReader): ClientMessage {
  const type = readType(r, CLIENT_TYPE_NAMES, 'client')
  switch (type) {
    case 'hello': {
      const version = readVersion(r)
      return { t: 'hello', version, token: r.string('token'), client: r.string('client'), device: r.string('device') }
    }
    case 'auth':
      return { t: 'auth', token: r.string('token') }
    case 'subscribe': {
      const docId = readDocId(r)
      const backend = readBackend(r, 'backend')
      const cursor = r.uint('cursor')
      return { t: 'subscribe', docId, backend, cursor, actors: readActors(r) }
    }
    case 'unsubscribe':
      return { t: 'unsubscribe', docId: readDocId(r) }
    case 'push': {
      const docId = readDocId(r)
      const n = r.count('events', MIN_EVENT_BYTES, 1)
      const events: EventEnvelope[] = []
      for (let i = 0; i < n; i++) events.push(readEventBody(r, docId, `events[${i}]`))
      return { t: 'push', docId, events }
    }
    case 'ping':
      return { t: 'ping', nonce: r.uint('nonce') }
    default:
      return type satisfies never
  }
}

// ---------------------------------------------------------------- server messages

export function encodeServerMessage(m: ServerMessage, options?: CodecOptions): Uint8Array {
  const w = new FrameWriter()
  switch (m.t) {
    case 'welcome':
      w.u8(SERVER_MESSAGE_TYPES.welcome)
      writeVersion(w, m.version)
      w.string('relayId', m.relayId)
      w.string('session', m.session)
      if (m.maxFrameBytes === 0) w.invalid('maxFrameBytes', 'must be positive')
      w.uint('maxFrameBytes', m.maxFrameBytes)
      writeAuthInfo(w, m)
      break
    case 'authorized':
      w.u8(SERVER_MESSAGE_TYPES.authorized)
      writeAuthInfo(w, m)
      break
    case 'events':
      w.u8(SERVER_MESSAGE_TYPES.events)
      writeDocId(w, 'docId', m.docId)
      writeSequencedEvents(w, m.docId, m.events, m.cursor)
      break
    case 'caughtUp':
      w.u8(SERVER_MESSAGE_TYPES.caughtUp)
      writeDocId(w, 'docId', m.docId)
      w.uint('cursor', m.cursor)
      writeActorHeads(w, m.actorHeads)
      break
    case 'ack':
      w.u8(SERVER_MESSAGE_TYPES.ack)
      writeDocId(w, 'docId', m.docId)
      w.uint('cursor', m.cursor)
      writeEventIds(w, m.ids)
      break
    case 'reject':
      w.u8(SERVER_MESSAGE_TYPES.reject)
      writeDocId(w, 'docId', m.docId)
      try {
        parseEventId(m.id)
      } catch (e) {
        w.invalid('id', (e as Error).message)
      }
      w.string('id', m.id)
      writeCode(w, m.code)
      w.string('reason', m.reason)
      break
    case 'validated':
      w.u8(SERVER_MESSAGE_TYPES.validated)
      writeDocId(w, 'docId', m.docId)
      w.uint('cursor', m.cursor)
      if (!Array.isArray(m.conflicts)) w.invalid('conflicts', 'must be an array')
      w.uint('conflicts', m.conflicts.length)
      for (const c of m.conflicts) {
        try {
          parseConflictId(c)
        } catch (e) {
          w.invalid('conflicts', (e as Error).message)
        }
        w.string('conflicts', c)
      }
      break
    case 'error':
      w.u8(SERVER_MESSAGE_TYPES.error)
      if (typeof m.fatal !== 'boolean') w.invalid('fatal', 'must be a boolean')
      w.u8((m.fatal ? ERROR_FATAL : 0) | (m.docId !== undefined ? ERROR_HAS_DOC : 0))
      writeCode(w, m.code)
      w.string('message', m.message)
      if (m.docId !== undefined) writeDocId(w, 'docId', m.docId)
      break
    case 'pong':
      w.u8(SERVER_MESSAGE_TYPES.pong)
      writeNonce(w, m.nonce)
      break
    default:
      return unknownMessage((m satisfies never as { t: unknown }).t)
  }
  return w.finish(options)
}

/**
 * An `events` frame, encoded once so that the relay writes the same bytes to
 * every subscriber of the document.
 */
export function encodeEventsFrame(docId: PurchaseId, items: readonly SequencedEvent[], cursor: number, options?: CodecOptions): Uint8Array {
  return encodeServerMessage({ t: 'events', docId, events: items, cursor }, options)
}

/** An event's body exactly as an `events` frame carries it (events.ts), for encodeEventsFrameOfBodies. */
export function encodeEventBody(event: EventEnvelope): Uint8Array {
  const w = new FrameWriter('INVALID_EVENT')
  writeEventBody(w, event)
  return w.finish(undefined)
}

/** One event of a frame, its body encoded beforehand by encodeEventBody. */
export interface SequencedBody {
  readonly seq: number
  readonly body: Uint8Array
}

/**
 * The same bytes as encodeEventsFrame, from bodies encoded once. A relay
 * sends one group's events in several selections (each sender gets them
 * without its own), so it encodes each event once and splices the bodies
 * rather than encoding every event again for every frame. The bodies must
 * be encodeEventBody's output for events of `docId` (they are not re-read).
 */
export function encodeEventsFrameOfBodies(docId: PurchaseId, items: readonly SequencedBody[], cursor: number): Uint8Array {
  const head = new FrameWriter()
  head.u8(SERVER_MESSAGE_TYPES.events)
  writeDocId(head, 'docId', docId)
  if (!Array.isArray(items) || items.length === 0) head.invalid('events', 'must be a non-empty array')
  head.uint('events', items.length)
  // Checked and measured first, then written into one buffer of the exact size: a
  // frame of a large group is copied once, not grown and concatenated.
  let size = head.length
  let prev = 0
  for (const item of items) {
    const seq = item?.seq
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= prev) head.invalid('events', `seq ${String(seq)} must be an integer above ${prev}`)
    if (!(item.body instanceof Uint8Array) || item.body.length === 0) head.invalid('events', 'bodies must be non-empty byte arrays')
    size += varUintSize(seq - prev) + item.body.length
    prev = seq
  }
  if (typeof cursor !== 'number' || !Number.isSafeInteger(cursor) || cursor < prev) head.invalid('cursor', `must be an integer of at least ${prev}`)
  size += varUintSize(cursor - prev)
  const out = new Uint8Array(size)
  out.set(head.finish(undefined))
  let pos = head.length
  prev = 0
  for (const { seq, body } of items) {
    pos = putVarUint(out, pos, seq - prev)
    out.set(body, pos)
    pos += body.length
    prev = seq
  }
  putVarUint(out, pos, cursor - prev)
  return out
}

/** Bytes of n as an unsigned LEB128 varint (the FrameWriter's form). */
function varUintSize(n: number): number {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    size++
  }
  return size
}

function putVarUint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  out[pos++] = n
  return pos
}

/**
 * Decodes a frame from the relay. Throws MALFORMED_FRAME, UNKNOWN_MESSAGE_TYPE,
 * UNSUPPORTED_VERSION (welcome), FRAME_TOO_LARGE or INVALID_EVENT (events).
 */
export function decodeServerMessage(bytes: Uint8Array, options?: CodecOptions): ServerMessage {
  const r = new FrameReader(bytes, options)
  const m = readServerMessage(r)
  r.end()
  return m
}

function readServerMessage(r: FrameReader): ServerMessage {
  const type = readType(r, SERVER_TYPE_NAMES, 'relay')
  switch (type) {
    case 'welcome': {
      const version = readVersion(r)
      const relayId = r.string('relayId')
      const session = r.string('session')
      const at = r.offset
      const maxFrameBytes = r.uint('maxFrameBytes')
      if (maxFrameBytes === 0) r.malformed('maxFrameBytes', 'must be positive', at)
      return { t: 'welcome', version, relayId, session, maxFrameBytes, ...readAuthInfo(r) }
    }
    case 'authorized':
      return { t: 'authorized', ...readAuthInfo(r) }
    case 'events': {
      const docId = readDocId(r)
      return { t: 'events', docId, ...readSequencedEvents(r, docId) }
    }
    case 'caughtUp': {
      const docId = readDocId(r)
      const cursor = r.uint('cursor')
      return { t: 'caughtUp', docId, cursor, actorHeads: readActorHeads(r) }
    }
    case 'ack': {
      const docId = readDocId(r)
      const cursor = r.uint('cursor')
      return { t: 'ack', docId, ids: readEventIds(r), cursor }
    }
    case 'reject': {
      const docId = readDocId(r)
      const at = r.offset
      const id = parseField(r, 'id', at, parseEventId, r.string('id'))
      const code = readCode(r)
      return { t: 'reject', docId, id, code, reason: r.string('reason') }
    }
    case 'validated': {
      const docId = readDocId(r)
      const cursor = r.uint('cursor')
      const n = r.count('conflicts', 1)
      const conflicts: ConflictId[] = []
      for (let i = 0; i < n; i++) {
        const at = r.offset
        conflicts.push(parseField(r, `conflicts[${i}]`, at, parseConflictId, r.string(`conflicts[${i}]`)))
      }
      return { t: 'validated', docId, cursor, conflicts }
    }
    case 'error': {
      const at = r.offset
      const flags = r.u8('error flags')
      if ((flags & ~(ERROR_FATAL | ERROR_HAS_DOC)) !== 0) r.malformed('error flags', `has unknown bits ${flags}`, at)
      const code = readCode(r)
      const message = r.string('message')
      const fatal = (flags & ERROR_FATAL) !== 0
      if ((flags & ERROR_HAS_DOC) === 0) return { t: 'error', code, message, fatal }
      return { t: 'error', code, message, docId: readDocId(r), fatal }
    }
    case 'pong':
      return { t: 'pong', nonce: r.uint('nonce') }
    default:
      return type satisfies never
  }
}
