/**
 * The binary form of one EventEnvelope, on the hot path of every push,
 * broadcast and catch-up, so it spends bytes only on what cannot be derived:
 *
 *   flags      u8       bit 0 reserved, 0 (it held the backend before protocol 3)
 *                       bits 1-2 meta.priority (0 none, 1 high, 2 normal, 3 low)
 *                       bit 3 meta.user, bit 4 meta.device present
 *                       bit 5 meta.at as epoch milliseconds (else as text)
 *                       bit 6 other meta keys follow as JSON; bit 7 reserved, 0
 *   backend    u8       the backend's wire id (backends/registry.ts)
 *   actor      string   replica table entry 0
 *   seq        varuint  (id is `<actor>.<seq>`, so it is not sent)
 *   hlc        varuint wall, varuint counter, replica ref
 *   deps       varuint count, then per dep: replica ref, varuint seq
 *   kind       string
 *   payload    bytes
 *   meta.at    varuint ms or string, then user, device, extra JSON if flagged
 *
 * A replica ref is a varuint index into the event's table of replica ids,
 * which starts as [actor]; the index equal to the table's length means "a new
 * id follows as a string" and appends it. The HLC's replica is nearly always
 * the actor and deps mostly name a handful of replicas, so each costs one byte.
 *
 * The document id is not in the body: a frame names it once for all its
 * events, and `encodeEvent` puts it in front of a standalone event.
 *
 * Up to protocol 2 the backend was flag bit 0 (0 yjs, 1 automerge: the same
 * numbers as their wire ids) and no backend byte followed. `decodeLegacyEvent`
 * still reads that form, for stores written before protocol 3; nothing
 * writes it.
 *
 * Every encoding is canonical (one byte string per envelope): the decoder
 * refuses a new table entry that repeats an existing one, a textual `at` that
 * the millisecond form could carry, and a non-canonical extra-meta JSON, so
 * `encode(decode(bytes))` gives back `bytes`.
 */
import { ConcordError, type ErrorCode, fail, isConcordError } from '../errors.js'
import { type PurchaseId, type ReplicaId, parsePurchaseId } from '../ids.js'
import { type EventEnvelope, type EventMeta, type Priority, validateEnvelope } from '../log/envelope.js'
import { BACKENDS, type BackendName, backendList, backendOfWireId, isBackendName } from '../backends/registry.js'
import { encodeHlc, decodeHlc } from '../time/hlc.js'
import { type CodecOptions, FrameReader, FrameWriter, parseField } from './wire.js'

/** Until protocol 3, bit 0 of the flags was the backend's wire id (0 or 1). */
const LEGACY_FLAG_BACKEND = 0x01
const PRIORITY_SHIFT = 1
const PRIORITY_MASK = 0x06
const FLAG_USER = 0x08
const FLAG_DEVICE = 0x10
const FLAG_AT_MS = 0x20
const FLAG_EXTRA = 0x40
const FLAG_RESERVED = 0x81

const PRIORITY_CODES: readonly (Priority | undefined)[] = [undefined, 'high', 'normal', 'low']

/** The form `instantFromEpochMs` produces; only it travels as milliseconds. */
const CANONICAL_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
/** 9999-12-31T23:59:59.999Z: past it `toISOString` switches to six-digit years. */
const MAX_AT_MS = 253_402_300_799_999

const KNOWN_META = new Set(['at', 'user', 'device', 'priority'])
const SEQ_TEXT = /^[1-9][0-9]{0,15}$/

/** The epoch milliseconds of a canonical `at`, or -1 when it must travel as text. */
function atAsMs(at: string): number {
  if (!CANONICAL_AT.test(at)) return -1
  const ms = Date.parse(at)
  // Date.parse rolls 02-30 over to 03-02; the round trip catches that.
  return Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_AT_MS && new Date(ms).toISOString() === at ? ms : -1
}

/** Meta keys this format has no slot for, kept as JSON rather than dropped. */
function extraMeta(meta: EventMeta): Record<string, unknown> | undefined {
  const entries = Object.entries(meta).filter(([k, v]) => !KNOWN_META.has(k) && v !== undefined)
  // fromEntries defines own properties, so even a `__proto__` key stays data.
  return entries.length === 0 ? undefined : Object.fromEntries(entries)
}

/**
 * The replica ids an event (or an ack) has named so far. A Map rather than an
 * array search: the number of deps is bounded only by the frame size until
 * validateEnvelope runs, and a hostile frame must not make decoding quadratic.
 */
export class ReplicaTable {
  private readonly refs = new Map<string, number>()
  /** Entries in ref order. */
  private readonly list: string[] = []

  constructor(first?: string) {
    if (first !== undefined) this.add(first)
  }

  get size(): number {
    return this.list.length
  }

  /** The ref of `replica`, or -1 when it is new. */
  refOf(replica: string): number {
    return this.refs.get(replica) ?? -1
  }

  at(ref: number): string | undefined {
    return this.list[ref]
  }

  /** Appends a new replica; false if it is already there. */
  add(replica: string): boolean {
    if (this.refs.has(replica)) return false
    this.refs.set(replica, this.list.length)
    this.list.push(replica)
    return true
  }
}

/** Writes a replica id as a ref into `table`, appending it when new. */
export function writeReplica(w: FrameWriter, table: ReplicaTable, field: string, replica: string, code: ErrorCode = 'INVALID_EVENT'): void {
  const ref = table.refOf(replica)
  if (ref >= 0) {
    w.uint(field, ref)
  } else {
    w.uint(field, table.size)
    w.string(field, replica, code)
    table.add(replica)
  }
}

export function readReplica(r: FrameReader, table: ReplicaTable, field: string): string {
  const at = r.offset
  const ref = r.uint(field)
  const known = table.at(ref)
  if (known !== undefined) return known
  if (ref > table.size) r.malformed(field, `refers to replica ${ref} of ${table.size}`, at)
  const replica = r.string(field)
  // Refused when already in the table, so that one envelope has one encoding.
  if (!table.add(replica)) r.malformed(field, 'repeats a replica already in the table', at)
  return replica
}

function readExtraMeta(r: FrameReader, field: string): Record<string, unknown> {
  const at = r.offset
  const json = r.string(field)
  let extra: unknown
  try {
    extra = JSON.parse(json)
  } catch {
    return r.malformed(field, 'has extra keys that are not JSON', at)
  }
  if (typeof extra !== 'object' || extra === null || Array.isArray(extra) || JSON.stringify(extra) !== json) {
    return r.malformed(field, 'has extra keys that are not a canonical JSON object', at)
  }
  const keys = Object.keys(extra)
  if (keys.length === 0 || keys.some((k) => KNOWN_META.has(k))) r.malformed(field, 'has extra keys that are empty or repeat a known key', at)
  return extra as Record<string, unknown>
}

function badEvent(field: string, why: string): never {
  return fail('INVALID_EVENT', `cannot encode event ${field}: ${why}`, { field })
}

/** A backend as its wire id byte; the writer's own error code for a name the registry lacks. */
export function writeBackend(w: FrameWriter, field: string, backend: unknown): void {
  if (!isBackendName(backend)) w.invalid(field, `must be ${backendList()}`)
  w.u8(BACKENDS[backend as BackendName].wireId)
}

/** A backend from its wire id byte; MALFORMED_FRAME naming the id when the registry has none such. */
export function readBackend(r: FrameReader, field: string): BackendName {
  const at = r.offset
  const id = r.u8(field)
  return backendOfWireId(id) ?? r.malformed(field, `names unknown backend id ${id} (this side knows ${backendList()})`, at)
}

/**
 * Writes an event body. Checks only what the bytes need (types, integer
 * ranges, the id and dep shapes that are sent in parts); the receiving
 * decoder runs the full validateEnvelope, so the sender is not taxed twice.
 */
export function writeEventBody(w: FrameWriter, e: EventEnvelope): void {
  if (typeof e !== 'object' || e === null) badEvent('', 'is not an object')
  const meta = e.meta
  if (typeof meta !== 'object' || meta === null) badEvent('meta', 'must be an object')
  if (typeof e.actor !== 'string') badEvent('actor', 'must be a string')
  if (typeof e.seq !== 'number' || !Number.isSafeInteger(e.seq) || e.seq < 1) badEvent('seq', 'must be a positive integer')
  // The id is rebuilt from actor and seq on the other side, so it must be exactly that.
  if (e.id !== `${e.actor}.${e.seq}`) badEvent('id', `must be ${e.actor}.${e.seq}`)
  let hlc: { wall: number; counter: number; replica: string }
  try {
    hlc = decodeHlc(e.hlc)
  } catch {
    return badEvent('hlc', 'is not a hybrid logical clock stamp')
  }
  if (!Array.isArray(e.deps)) badEvent('deps', 'must be an array')
  if (!isBackendName(e.backend)) badEvent('backend', `must be ${backendList()}`)
  const priority = PRIORITY_CODES.indexOf(meta.priority)
  if (priority < 0) badEvent('meta.priority', 'must be high, normal or low')
  if (typeof meta.at !== 'string') badEvent('meta.at', 'must be a string')
  const atMs = atAsMs(meta.at)
  const extra = extraMeta(meta)
  let extraJson = ''
  if (extra !== undefined) {
    try {
      extraJson = JSON.stringify(extra)
    } catch (err) {
      badEvent('meta', `cannot be written as JSON: ${(err as Error).message}`)
    }
  }

  w.u8(
    (priority << PRIORITY_SHIFT) |
      (meta.user !== undefined ? FLAG_USER : 0) |
      (meta.device !== undefined ? FLAG_DEVICE : 0) |
      (atMs >= 0 ? FLAG_AT_MS : 0) |
      (extra !== undefined ? FLAG_EXTRA : 0),
  )
  writeBackend(w, 'backend', e.backend)
  const table = new ReplicaTable(e.actor)
  w.string('actor', e.actor, 'INVALID_EVENT')
  w.uint('seq', e.seq, 'INVALID_EVENT')
  w.uint('hlc', hlc.wall, 'INVALID_EVENT')
  w.uint('hlc', hlc.counter, 'INVALID_EVENT')
  writeReplica(w, table, 'hlc', hlc.replica)
  w.uint('deps', e.deps.length, 'INVALID_EVENT')
  for (const dep of e.deps) {
    const dot = typeof dep === 'string' ? dep.lastIndexOf('.') : -1
    const seqText = dot > 0 ? dep.slice(dot + 1) : ''
    const seq = Number(seqText)
    if (!SEQ_TEXT.test(seqText) || !Number.isSafeInteger(seq)) badEvent('deps', `entry ${JSON.stringify(dep)} is not <replica>.<seq>`)
    writeReplica(w, table, 'deps', dep.slice(0, dot))
    w.uint('deps', seq, 'INVALID_EVENT')
  }
  w.string('kind', e.kind, 'INVALID_EVENT')
  w.bytes('payload', e.payload, 'INVALID_EVENT')
  if (atMs >= 0) w.uint('meta.at', atMs)
  else w.string('meta.at', meta.at, 'INVALID_EVENT')
  if (meta.user !== undefined) w.string('meta.user', meta.user, 'INVALID_EVENT')
  if (meta.device !== undefined) w.string('meta.device', meta.device, 'INVALID_EVENT')
  if (extra !== undefined) w.string('meta', extraJson, 'INVALID_EVENT')
}

/**
 * Reads an event body for document `docId` and validates it with
 * validateEnvelope. `field` names the event in errors (`events[3]`).
 */
export function readEventBody(r: FrameReader, docId: PurchaseId, field: string): EventEnvelope {
  return readBody(r, docId, field, false)
}

function readBody(r: FrameReader, docId: PurchaseId, field: string, legacy: boolean): EventEnvelope {
  const flagsAt = r.offset
  const flags = r.u8(`${field}.flags`)
  if ((flags & (legacy ? FLAG_RESERVED & ~LEGACY_FLAG_BACKEND : FLAG_RESERVED)) !== 0) r.malformed(`${field}.flags`, 'has a reserved bit set', flagsAt)
  const backend = legacy ? backendOfWireId(flags & LEGACY_FLAG_BACKEND)! : readBackend(r, `${field}.backend`)
  const actor = r.string(`${field}.actor`)
  const table = new ReplicaTable(actor)
  const seq = r.uint(`${field}.seq`)
  const wall = r.uint(`${field}.hlc`)
  const counter = r.uint(`${field}.hlc`)
  const hlcReplica = readReplica(r, table, `${field}.hlc`)
  // Each dep takes at least two bytes: a replica ref and a seq.
  const depCount = r.count(`${field}.deps`, 2)
  const deps: string[] = []
  for (let i = 0; i < depCount; i++) {
    const replica = readReplica(r, table, `${field}.deps`)
    deps.push(`${replica}.${r.uint(`${field}.deps`)}`)
  }
  const kind = r.string(`${field}.kind`)
  const payload = r.bytes(`${field}.payload`)
  let at: string
  const atAt = r.offset
  if ((flags & FLAG_AT_MS) !== 0) {
    const ms = r.uint(`${field}.meta.at`)
    if (ms > MAX_AT_MS) r.malformed(`${field}.meta.at`, 'is past year 9999', atAt)
    at = new Date(ms).toISOString()
  } else {
    at = r.string(`${field}.meta.at`)
    if (atAsMs(at) >= 0) r.malformed(`${field}.meta.at`, 'is text although it has the millisecond form', atAt)
  }
  const user = (flags & FLAG_USER) !== 0 ? r.string(`${field}.meta.user`) : undefined
  const device = (flags & FLAG_DEVICE) !== 0 ? r.string(`${field}.meta.device`) : undefined
  // Extra keys go in first, so that they can never overwrite a known key.
  const meta: Record<string, unknown> = (flags & FLAG_EXTRA) !== 0 ? readExtraMeta(r, `${field}.meta`) : {}
  meta.at = at
  if (user !== undefined) meta.user = user
  if (device !== undefined) meta.device = device
  const priority = PRIORITY_CODES[(flags & PRIORITY_MASK) >> PRIORITY_SHIFT]
  if (priority !== undefined) meta.priority = priority
  const envelope = {
    id: `${actor}.${seq}`,
    docId,
    actor,
    seq,
    hlc: encodeHlc({ wall, counter, replica: hlcReplica as ReplicaId }),
    deps,
    kind,
    backend,
    payload,
    meta,
  }
  try {
    return validateEnvelope(envelope)
  } catch (err) {
    if (!isConcordError(err, 'INVALID_EVENT')) throw err
    throw new ConcordError('INVALID_EVENT', `${field}: ${err.message}`, { ...err.details, event: field, offset: flagsAt })
  }
}

/**
 * One envelope as bytes, document id included: for stores and caches. The
 * same canonical body as in frames, so a decoded event re-encodes identically.
 */
export function encodeEvent(event: EventEnvelope, options?: CodecOptions): Uint8Array {
  const w = new FrameWriter('INVALID_EVENT')
  w.string('docId', event?.docId)
  writeEventBody(w, event)
  return w.finish(options)
}

/** Reads what `encodeEvent` wrote; MALFORMED_FRAME for bad bytes, INVALID_EVENT for a bad envelope. */
export function decodeEvent(bytes: Uint8Array, options?: CodecOptions): EventEnvelope {
  return decodeStandalone(bytes, false, options)
}

/**
 * Reads what `encodeEvent` wrote up to protocol 2, when the backend was flag
 * bit 0: only for migrating stores written then (`encodeEvent` of the result
 * gives the current form).
 */
export function decodeLegacyEvent(bytes: Uint8Array, options?: CodecOptions): EventEnvelope {
  return decodeStandalone(bytes, true, options)
}

function decodeStandalone(bytes: Uint8Array, legacy: boolean, options?: CodecOptions): EventEnvelope {
  const r = new FrameReader(bytes, options)
  const at = r.offset
  const docId = parseField(r, 'docId', at, parsePurchaseId, r.string('docId'))
  const event = readBody(r, docId, 'event', legacy)
  r.end()
  return event
}
