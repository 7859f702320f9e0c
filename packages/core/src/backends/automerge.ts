/**
 * The Automerge backend (Automerge 3). A purchase is one Automerge document:
 *
 *   { init: {key: json}, regs: {00: {key: json}, ..., 3f: {...}},
 *     sets: {lines: {id: json}, ...}, texts: {key: Text}, clock: {replica: int} }
 *
 * - Registers are plain map keys, spread over 64 bucket maps by a hash of
 *   the key (see REGISTER_BUCKETS). A write assigns the key, which in Automerge
 *   supersedes every value the writer has seen; concurrent assignments all
 *   survive as Automerge's own conflicts (`getAll` / `getConflicts`), so the
 *   multi-value register is Automerge's native one, not a hand-made one.
 * - Register entries, init values and set records are JSON text stored as
 *   immutable (scalar) strings: one op per write, and nobody edits inside them.
 *   (A plain JS string would become a character-level text CRDT.)
 * - Texts are Automerge text objects edited with `splice`.
 *
 * Shared skeleton. Two replicas that each create `regs = {}` make two
 * different maps under one key and one of them is hidden. So every document
 * starts from one genesis change (a constant below: fixed actor, time 0),
 * which creates all the root maps; nothing a replica writes later creates a
 * container concurrently. A text (or a set that genesis lacks) is created by a
 * deterministic change too: actor derived from its path, time 0, depending on
 * genesis only. Every replica that creates it produces the same bytes and the
 * same hash, so concurrent creations are one change, applied once. Such a
 * creation change travels in front of the change that first needs it, in the
 * same payload: a payload is one or more Automerge change chunks, back to
 * back (Automerge's own incremental format).
 *
 * The document is used through Automerge's low-level handle and never
 * materialized as a JS tree (that tree, and the patches that keep it current,
 * cost about half of every apply and most of a load). Reads are incremental:
 * the ops of each local or applied change name the keys it touched; only those
 * are re-read (with all their concurrent values) and re-parsed, and only the
 * touched maps of the snapshot are copied.
 */
import * as A from '@automerge/automerge'
import { digest } from 'lib0/hash/sha256'
import { ConcordError, fail, isConcordError } from '../errors.js'
import type { ReplicaId } from '../ids.js'
import type { Json } from '../json.js'
import { compareHlc } from '../time/hlc.js'
import type { CrdtBackend, CrdtDoc, DocSnapshot, DocWriteOp, DocWriter, RegisterEntry, SetName, VersionVector } from './backend.js'
import { SET_NAMES } from './backend.js'
import type { UpdateEffect } from './effect.js'
import { type AutomergeLayout, inspectAutomergeUpdate } from './automerge-inspect.js'
import { unwrapSnapshot, wrapSnapshot } from './snapshot-header.js'
import { PatchedMap } from './patched-map.js'
import { UnreadableEntries, describeStored } from './unreadable.js'

type Heads = string[]
type Handle = ReturnType<typeof A.getBackend>
// A materialized document: only used to derive the deterministic creation changes.
type AmDoc = A.Doc<Record<string, unknown>>

/**
 * The genesis change every document starts from: actor 00..00, seq 1, time 0,
 * creating the root maps init, regs (holding REGISTER_BUCKETS bucket maps
 * named 00..3f), sets (with one map per SetName), texts and clock. It is a
 * constant, not recomputed, so that a future Automerge encoding cannot fork
 * the skeleton; a test checks that Automerge still makes exactly these bytes
 * from that description.
 *
 * Registers are spread over bucket maps by a hash of their key: Automerge 3
 * pays for a remote put roughly in proportion to the size of the map it lands
 * in, and a 1,000-line purchase has about 7,000 registers (measured: a
 * single remote register write ~7 ms into one flat map, ~0.6 ms into 64
 * buckets).
 */
export const AUTOMERGE_GENESIS_HEX =
  '856f4a8373c0791a01f002001000000000000000000000000000000000010100000007010b020b15a90234014203560370030002c000000001090000020002c00002000109430002b27f04696e697404726567730230300230310230320230330230340230350230360230370230380230390230610230620230630230640230650230660231300231310231320231330231340231350231360231370231380231390231610231620231630231640231650231660232300232310232320232330232340232350232360232370232380232390232610232620232630232640232650232660233300233310233320233330233340233350233360233370233380233390233610233620233630233640233650233660473657473056c696e65730872656365697074730772657475726e730562696c6c73087061796d656e747307726566756e647305766f6964730b7472616e736974696f6e730b7265736f6c7574696f6e7305746578747305636c6f636b4ece0000ce0000ce0000'
const GENESIS: Uint8Array = hexToBytes(AUTOMERGE_GENESIS_HEX)
export const AUTOMERGE_GENESIS_ACTOR = '00'.repeat(16)
export const REGISTER_BUCKETS = 64

/** The bucket map name a register key lives in: FNV-1a over UTF-16 code units. */
export function registerBucketOf(key: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return ((h >>> 0) % REGISTER_BUCKETS).toString(16).padStart(2, '0')
}

/** Object ids of the skeleton, read from genesis itself. */
function skeleton() {
  const g = A.getBackend(A.init({ actor: 'ff'.repeat(16) }))
  g.applyChanges([GENESIS])
  const obj = (parent: string, key: string): string => {
    const full = g.getWithType(parent, key) as unknown as unknown[] | null
    if (full == null || full[0] !== 'map') throw new Error(`Automerge genesis lacks ${key}`)
    return full[1] as string
  }
  const ids = {
    init: obj('_root', 'init'),
    regs: obj('_root', 'regs'),
    sets: obj('_root', 'sets'),
    texts: obj('_root', 'texts'),
    clock: obj('_root', 'clock'),
  }
  const buckets = new Map<string, string>()
  for (let b = 0; b < REGISTER_BUCKETS; b++) {
    const name = b.toString(16).padStart(2, '0')
    buckets.set(name, obj(ids.regs, name))
  }
  const sets = new Map(SET_NAMES.map((s) => [obj(ids.sets, s), s]))
  // Kept: new documents fork it (about 30x cheaper than applying genesis).
  return { genesis: g, ids, buckets, bucketObjs: new Set(buckets.values()), sets }
}
// Built on first use, not at module load: nothing here calls Automerge until a
// document is made, so a browser bundle can load Automerge lazily.
let skeletonCache: ReturnType<typeof skeleton> | undefined
const sk = (): ReturnType<typeof skeleton> => (skeletonCache ??= skeleton())
const bucketObjOf = (key: string): string => sk().buckets.get(registerBucketOf(key))!

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return out
}

function toHex(bytes: Uint8Array, n = bytes.length): string {
  let s = ''
  for (let i = 0; i < n; i++) s += (bytes[i] ?? 0).toString(16).padStart(2, '0')
  return s
}

/** A replica's Automerge actor id: the first 16 bytes of sha256(replica id), in hex. */
export function automergeActorOf(replica: ReplicaId | string): string {
  return toHex(digest(new TextEncoder().encode(replica)), 16)
}

// ------------------------------------------------------------ change chunks

const MAGIC = [0x85, 0x6f, 0x4a, 0x83]
const CHUNK_CHANGE = 1
const CHUNK_COMPRESSED_CHANGE = 2

/** Splits a payload into its change chunks (magic, checksum, type, uLEB length, body). */
function splitChunks(payload: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let pos = 0
  while (pos < payload.length) {
    for (let i = 0; i < 4; i++) {
      if (payload[pos + i] !== MAGIC[i]) fail('INVALID_UPDATE', `not an Automerge change: bad magic bytes at offset ${pos}`)
    }
    const type = payload[pos + 8]
    if (type !== CHUNK_CHANGE && type !== CHUNK_COMPRESSED_CHANGE) {
      fail('INVALID_UPDATE', `not an Automerge change: chunk type ${String(type)} at offset ${pos}`)
    }
    let len = 0
    let shift = 0
    let p = pos + 9
    for (;;) {
      const b = payload[p++]
      if (b === undefined || shift > 28) fail('INVALID_UPDATE', 'not an Automerge change: truncated chunk length')
      len += (b & 0x7f) * 2 ** shift
      shift += 7
      if ((b & 0x80) === 0) break
    }
    const end = p + len
    if (end > payload.length) fail('INVALID_UPDATE', 'not an Automerge change: truncated chunk')
    out.push(payload.subarray(pos, end))
    pos = end
  }
  if (out.length === 0) fail('INVALID_UPDATE', 'an Automerge payload holds at least one change')
  return out
}

/** Change hashes of validated payloads (payload objects are held by the event log, so this hits). */
const hashesOf = new WeakMap<Uint8Array, readonly string[]>()

/** One change chunk and its decoded change. */
interface DecodedChunk {
  readonly bytes: Uint8Array
  readonly change: A.DecodedChange
}

/** One decoded change: its hash and the (object, key) pairs its ops touch. */
interface Decoded {
  readonly bytes: Uint8Array
  readonly hash: string
  readonly touches: readonly (readonly [obj: string, key: string | undefined])[]
}

/** Splits a payload and decodes every chunk once; throws INVALID_UPDATE unless every chunk is an Automerge change. */
function decodeChanges(payload: Uint8Array): DecodedChunk[] {
  if (!(payload instanceof Uint8Array)) fail('INVALID_UPDATE', 'an Automerge payload is bytes')
  const out: DecodedChunk[] = []
  for (const bytes of splitChunks(payload)) {
    let change: A.DecodedChange
    try {
      change = A.decodeChange(bytes)
    } catch (e) {
      throw new ConcordError('INVALID_UPDATE', `not an Automerge change: ${(e as Error).message}`, {}, { cause: e })
    }
    out.push({ bytes, change })
  }
  hashesOf.set(payload, out.map((d) => d.change.hash))
  return out
}

/** Splits and fully decodes a payload; throws INVALID_UPDATE unless every chunk is an Automerge change. */
function decodePayload(payload: Uint8Array): Decoded[] {
  return decodeChanges(payload).map(({ bytes, change }) => ({
    bytes,
    hash: change.hash,
    touches: change.ops.map((op) => [op.obj, typeof op.key === 'string' ? op.key : undefined] as const),
  }))
}

export function validateAutomergeUpdate(payload: Uint8Array): void {
  decodePayload(payload)
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let pos = 0
  for (const p of parts) {
    out.set(p, pos)
    pos += p.length
  }
  return out
}

// ------------------------------------------------------ containers created once

/** Genesis as a document, to derive creation changes from. */
let genesisDoc: AmDoc | undefined
const creationChanges = new Map<string, Uint8Array>()

/**
 * The deterministic change that creates a container: same bytes on every
 * replica, so concurrent creations collapse into one change.
 */
function creationChange(kind: 'text' | 'set', key: string): Uint8Array {
  const id = `${kind}\u0000${key}`
  let bytes = creationChanges.get(id)
  if (bytes === undefined) {
    genesisDoc ??= A.applyChanges(A.init<Record<string, unknown>>({ actor: 'ff'.repeat(16) }), [GENESIS])[0]
    const doc = A.clone(genesisDoc, { actor: creationActorOf(kind, key) })
    const made = A.change(doc, { time: 0 }, (d) => {
      const root = d as unknown as { texts: Record<string, string>; sets: Record<string, Record<string, unknown>> }
      if (kind === 'text') root.texts[key] = ''
      else root.sets[key] = {}
    })
    bytes = A.getLastLocalChange(made)!
    A.free(made)
    if (creationChanges.size > 256) creationChanges.clear()
    creationChanges.set(id, bytes)
  }
  return bytes
}

/** The actor of a container's creation change, derived from its path. */
function creationActorOf(kind: 'text' | 'set', key: string): string {
  return automergeActorOf(`concord:${kind}\u0000${key}`)
}

/**
 * A creation change encoded straight from its description: what
 * `creationChange` makes for a container genesis lacks, for ~1/50 of the
 * cost. The inspector recognises creations with it: a payload can carry
 * thousands of them, and making each the way a writer does would let one
 * payload cost the relay seconds.
 */
let afterGenesis: number | undefined
function encodedCreation(kind: 'text' | 'set', key: string): Uint8Array {
  afterGenesis ??= (({ startOp, ops }) => startOp + ops.length)(A.decodeChange(GENESIS))
  return A.encodeChange({
    actor: creationActorOf(kind, key), author: null, seq: 1, startOp: afterGenesis, time: 0, message: null, deps: [genesisHashOf()],
    ops: [{ action: kind === 'text' ? 'makeText' : 'makeMap', obj: kind === 'text' ? sk().ids.texts : sk().ids.sets, key, pred: [] }],
  })
}

/** Whether encodedCreation makes the very bytes creationChange makes (checked once, on a key no document uses). */
let encodingAgrees: boolean | undefined
const expectedCreations = new Map<string, Uint8Array>()

/** Whether a change (`actor`, `bytes`) is the creation change of a container genesis lacks, for the inspector to recognise one. */
function isCreationChange(kind: 'text' | 'set', key: string, actor: string, bytes: Uint8Array): boolean {
  const id = `${kind}\u0000${key}`
  let expected = expectedCreations.get(id)
  if (expected === undefined) {
    // The actor first: a sha256, where the change to compare with costs an encoding.
    if (actor !== creationActorOf(kind, key)) return false
    encodingAgrees ??= toHex(encodedCreation('text', '\u0000probe')) === toHex(creationChange('text', '\u0000probe'))
    // Should a future Automerge encode differently, the writer's own way stays the reference.
    expected = encodingAgrees ? encodedCreation(kind, key) : creationChange(kind, key)
    if (expectedCreations.size > 256) expectedCreations.clear()
    expectedCreations.set(id, expected)
  }
  // Equal bytes, equal hash: the hash is taken over the chunk.
  if (expected.length !== bytes.length) return false
  for (let i = 0; i < bytes.length; i++) if (expected[i] !== bytes[i]) return false
  return true
}

/** What the inspector knows of the layout, built once (the inspector cannot import this module: it imports the inspector). */
let layoutCache: AutomergeLayout | undefined
function layout(): AutomergeLayout {
  if (layoutCache === undefined) {
    const s = sk()
    layoutCache = {
      ids: s.ids,
      buckets: new Map([...s.buckets].map(([name, obj]) => [obj, name])),
      sets: s.sets,
      genesisHash: genesisHashOf(),
      decode: decodeChanges,
      bucketOf: registerBucketOf,
      bucketObjOf,
      isCreationChange,
    }
  }
  return layoutCache
}

// ------------------------------------------------------------------ helpers

function compareEntries(a: RegisterEntry, b: RegisterEntry): number {
  return compareHlc(a.hlc, b.hlc) || (a.ev < b.ev ? -1 : a.ev > b.ev ? 1 : 0)
}

/** Automerge refuses undefined; JSON text drops undefined fields anyway, this keeps entries tidy. */
function stripUndefined(entry: RegisterEntry): RegisterEntry {
  return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)) as unknown as RegisterEntry
}

/** The JSON text a value is stored as (a scalar string: `put` of a string never makes a text object). */
function jsonText(value: unknown, what: string): string {
  const text = JSON.stringify(value)
  if (text === undefined) fail('INVALID_ARGUMENT', `${what} is not a JSON value`)
  return text
}

/** A scalar from `getAll`: ['str', value, opId]. Anything else was not written by Concord. */
function parseScalar(full: readonly unknown[] | null | undefined): Json | undefined {
  if (full == null) return undefined
  if (full[0] === 'str' && typeof full[1] === 'string') {
    try {
      return JSON.parse(full[1]) as Json
    } catch {
      return undefined
    }
  }
  return undefined
}

function isEntryLike(v: Json | undefined): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const o = v as { readonly ev?: unknown; readonly hlc?: unknown }
  return typeof o.ev === 'string' && typeof o.hlc === 'string'
}

/** Keys touched since the last read, per part of the document. */
interface Dirty {
  all: boolean
  init: Set<string>
  regs: Set<string>
  sets: Map<SetName, Set<string>>
  texts: Set<string>
  clock: Set<string>
  /** Some text changed inside: re-read every text. */
  allTexts: boolean
}

function emptyDirty(all: boolean): Dirty {
  return { all, init: new Set(), regs: new Set(), sets: new Map(), texts: new Set(), clock: new Set(), allTexts: false }
}

const EMPTY_SNAPSHOT: DocSnapshot = {
  init: new Map(),
  registers: new Map(),
  sets: Object.fromEntries(SET_NAMES.map((s) => [s, new Map()])) as unknown as DocSnapshot['sets'],
  texts: new Map(),
  clock: new Map(),
}

export class AutomergeDoc implements CrdtDoc {
  readonly backend = 'automerge' as const
  /**
   * The low-level Automerge document. Concord never materializes the JS
   * object tree that Automerge keeps for `A.change` users: computing and
   * applying patches costs about half of every apply and most of a load,
   * and reads go straight to the keys a change touched.
   */
  private readonly h: Handle
  /** Set for a read-only view of the past (`viewAt`), which shares the handle. */
  private readonly heads: Heads | undefined
  private snapshot: DocSnapshot = EMPTY_SNAPSHOT
  private dirty: Dirty = emptyDirty(true)
  /** Applied changes Automerge is holding back for a missing dependency, by hash. */
  private readonly waiting = new Map<string, Decoded>()
  private cached: DocSnapshot | undefined
  /** Text key -> its text object, once it exists (live documents only). */
  private readonly textObjs = new Map<string, string>()
  /** The same, backwards: the inspector resolves a text op's object without asking Automerge for its path. */
  private readonly textKeys = new Map<string, string>()
  /** Register values that are no entry, noted on every read of their register. */
  private readonly unreadable = new UnreadableEntries()

  /** `fresh`: the handle holds exactly genesis, whose snapshot is empty (no first full read). */
  constructor(handle: Handle, heads?: Heads, fresh = false) {
    this.h = handle
    this.heads = heads
    if (fresh) this.dirty.all = false
  }

  /** A materialized copy as a regular Automerge document (for tests and tools). */
  toAutomerge(): A.Doc<unknown> {
    return A.load(this.heads === undefined ? this.h.save() : this.forkSave())
  }

  private get handle(): Handle {
    return this.h
  }

  // ------------------------------------------------------------- writing

  change(fn: (w: DocWriter) => void): Uint8Array {
    if (this.heads !== undefined) fail('INVALID_ARGUMENT', 'a view of the past is read-only')
    const ops = this.record(fn)
    const h = this.h
    // Containers this change needs that do not exist yet: created by deterministic changes first.
    // (Asked of the handle, not of read(): after a text edit read() would copy the whole text.)
    const pre: Uint8Array[] = []
    const texts = new Set(ops.flatMap((o) => (o.k === 'ins' || o.k === 'del' ? [o.key] : [])))
    for (const key of texts) if (this.textObjOf(h, key) === undefined) pre.push(creationChange('text', key))
    const sets = new Set(ops.flatMap((o) => (o.k === 'rec' ? [o.set] : [])))
    let newSet = false
    for (const set of sets) {
      if (this.setObj(h, set) === undefined) {
        pre.push(creationChange('set', set))
        newSet = true
      }
    }
    if (pre.length > 0) {
      h.applyChanges(pre)
      // A new text is marked by the ops below; a new set map needs a full re-read.
      if (newSet) this.dirty.all = true
      this.cached = undefined
    }
    try {
      this.applyOps(ops)
    } catch (e) {
      h.rollback()
      throw e
    }
    // One change per call, at time 0 so replays are deterministic; an empty one when nothing changed.
    if (h.commit(null, 0) === null) h.emptyChange(null, 0)
    this.markTouches(ops.map((o) => {
      switch (o.k) {
        case 'init': return [sk().ids.init, o.key] as const
        case 'reg': return [bucketObjOf(o.key), o.key] as const
        case 'rec': return [this.setObj(h, o.set) ?? '', o.id] as const
        case 'ins': case 'del': return [sk().ids.texts, o.key] as const
        case 'tick': return [sk().ids.clock, o.replica] as const
      }
    }))
    const last = h.getLastLocalChange()
    if (last === null) fail('INVALID_ARGUMENT', 'Automerge made no change')
    const payload = concat([...pre, last])
    hashesOf.set(payload, [...pre.map((c) => A.decodeChange(c).hash), ...h.getHeads()])
    return payload
  }

  /**
   * The text object of a text key, if that text exists. A text is created
   * once, by a deterministic change, and never replaced, so its object id
   * is remembered (the lookup costs more than a one-character splice).
   */
  private textObjOf(h: Handle, key: string): string | undefined {
    const known = this.heads === undefined ? this.textObjs.get(key) : undefined
    if (known !== undefined) return known
    const full = h.getWithType(sk().ids.texts, key, this.heads) as unknown as unknown[] | null
    const obj = full != null && full[0] === 'text' ? (full[1] as string) : undefined
    if (obj !== undefined && this.heads === undefined) {
      this.textObjs.set(key, obj)
      this.textKeys.set(obj, key)
    }
    return obj
  }

  /** A text's length without materialising it (UTF-16 code units, as JavaScript strings count). */
  textLength(key: string): number {
    const obj = this.textObjOf(this.h, key)
    return obj === undefined ? 0 : this.h.length(obj, this.heads)
  }

  private applyOps(ops: readonly DocWriteOp[]): void {
    const h = this.h
    const textObj = (key: string): string => {
      const obj = this.textObjOf(h, key)
      if (obj === undefined) fail('INVALID_ARGUMENT', `no text ${key}`)
      return obj
    }
    for (const o of ops) {
      switch (o.k) {
        case 'init':
          if (h.getWithType(sk().ids.init, o.key) == null) h.put(sk().ids.init, o.key, jsonText(o.value, o.key))
          break
        case 'reg':
          // Assigning the key supersedes every value this replica has seen; concurrent ones stay.
          h.put(bucketObjOf(o.key), o.key, jsonText(o.entry, o.key))
          break
        case 'rec': {
          const obj = this.setObj(h, o.set)!
          if (h.getWithType(obj, o.id) == null) h.put(obj, o.id, jsonText(o.record, o.id))
          break
        }
        case 'ins':
          if (o.text !== '') h.splice(textObj(o.key), o.index, 0, o.text)
          break
        case 'del':
          if (o.length > 0) h.splice(textObj(o.key), o.index, o.length)
          break
        case 'tick':
          if ((this.readClock(h, o.replica) ?? 0) < o.seq) h.put(sk().ids.clock, o.replica, o.seq, 'int')
          break
      }
    }
  }

  /**
   * Runs the writer against a recorder, validating every op against the
   * current state, so a throwing writer leaves the document untouched.
   */
  private record(fn: (w: DocWriter) => void): DocWriteOp[] {
    const ops: DocWriteOp[] = []
    // The snapshot only for init and record checks: a text edit would make read() copy the text.
    let snapshot: DocSnapshot | undefined
    const snap = () => (snapshot ??= this.read())
    const init = new Map<string, string>()
    const textLen = new Map<string, number>()
    const lengthOf = (key: string) => textLen.get(key) ?? this.textLength(key)
    const checkKey = (key: unknown, what: string) => {
      if (typeof key !== 'string' || key === '') fail('INVALID_ARGUMENT', `${what} must be a non-empty string`)
    }
    const checkIndex = (n: unknown, max: number, what: string) => {
      if (!Number.isSafeInteger(n) || (n as number) < 0 || (n as number) > max) fail('INVALID_ARGUMENT', `${what} ${String(n)} is outside 0..${max}`)
    }
    fn({
      init: (key, value) => {
        checkKey(key, 'an init key')
        const text = jsonText(value, key)
        const prev = init.get(key) ?? (snap().init.has(key) ? JSON.stringify(snap().init.get(key)) : undefined)
        if (prev !== undefined && prev !== text) fail('INVALID_ARGUMENT', `${key} is set once and already holds another value`)
        if (prev === undefined) {
          init.set(key, text)
          ops.push({ k: 'init', key, value })
        }
      },
      setRegister: (key, entry) => {
        checkKey(key, 'a register key')
        ops.push({ k: 'reg', key, entry: stripUndefined(entry) })
      },
      addRecord: (set, id, record) => {
        if (!(SET_NAMES as readonly string[]).includes(set)) fail('INVALID_ARGUMENT', `unknown set ${String(set)}`)
        checkKey(id, 'a record id')
        if (!snap().sets[set].has(id) && !ops.some((o) => o.k === 'rec' && o.set === set && o.id === id)) ops.push({ k: 'rec', set, id, record })
      },
      insertText: (key, index, text) => {
        checkKey(key, 'a text key')
        const len = lengthOf(key)
        checkIndex(index, len, 'text index')
        if (typeof text !== 'string') fail('INVALID_ARGUMENT', 'inserted text must be a string')
        textLen.set(key, len + text.length)
        ops.push({ k: 'ins', key, index, text })
      },
      deleteText: (key, index, length) => {
        checkKey(key, 'a text key')
        const len = lengthOf(key)
        checkIndex(index, len, 'text index')
        checkIndex(length, len - index, 'delete length')
        textLen.set(key, len - length)
        ops.push({ k: 'del', key, index, length })
      },
      tickClock: (replica, seq) => {
        checkKey(replica, 'a replica id')
        if (!Number.isSafeInteger(seq) || seq < 0) fail('INVALID_ARGUMENT', `clock value ${String(seq)} must be a non-negative integer`)
        ops.push({ k: 'tick', replica, seq })
      },
    })
    return ops
  }

  applyBatch(payloads: readonly Uint8Array[]): void {
    if (this.heads !== undefined) fail('INVALID_ARGUMENT', 'a view of the past is read-only')
    if (payloads.length === 0) return
    const decoded: Decoded[] = []
    for (const p of payloads) decoded.push(...decodePayload(p))
    try {
      this.h.applyChanges(decoded.map((d) => d.bytes))
    } catch (e) {
      throw new ConcordError('INVALID_UPDATE', `Automerge refused the changes: ${(e as Error).message}`, {}, { cause: e })
    }
    this.markApplied(decoded)
  }

  /**
   * The ops of applied changes say which keys they touch (patches would not:
   * a concurrent value that does not win its key comes with no patch). Keys
   * are marked once a change has really applied: Automerge holds back a
   * change whose dependencies are missing and applies it with a later batch.
   */
  private markApplied(batch: readonly Decoded[]): void {
    for (const d of batch) this.waiting.set(d.hash, d)
    const h = this.handle
    const allIn = h.getMissingDeps([]).length === 0
    for (const [hash, d] of this.waiting) {
      if (!allIn && h.getChangeMetaByHash(hash) === null) continue
      this.waiting.delete(hash)
      this.markTouches(d.touches)
    }
  }

  private markTouches(touches: Decoded['touches']): void {
    const d = this.dirty
    this.cached = undefined
    if (d.all) return
    for (const [obj, key] of touches) {
      if (key === undefined) {
        // An element op: inside a text (or a list Concord never makes).
        d.allTexts = true
        continue
      }
      if (sk().bucketObjs.has(obj)) d.regs.add(key)
      else if (obj === sk().ids.init) d.init.add(key)
      else if (obj === sk().ids.clock) d.clock.add(key)
      else if (obj === sk().ids.texts) d.texts.add(key)
      else {
        const set = sk().sets.get(obj)
        if (set !== undefined) {
          let keys = d.sets.get(set)
          if (keys === undefined) d.sets.set(set, (keys = new Set()))
          keys.add(key)
        } else {
          // A map Concord's genesis did not make (a set created later): re-read everything.
          d.all = true
          return
        }
      }
    }
  }

  // ------------------------------------------------------------- reading

  read(): DocSnapshot {
    if (this.cached !== undefined) return this.cached
    const d = this.dirty
    this.dirty = emptyDirty(false)
    const snap = d.all ? this.readAll() : this.readDirty(d)
    this.snapshot = snap
    this.cached = snap
    return snap
  }

  private readRegister(h: Handle, key: string): RegisterEntry[] | undefined {
    const all = h.getAll(bucketObjOf(key), key, this.heads)
    const entries: RegisterEntry[] = []
    const skipped: string[] = []
    for (const full of all) {
      const v = parseScalar(full as unknown as unknown[])
      // Anything else was not written by Concord (and would break sorting and the readers): noted, to be reported.
      if (isEntryLike(v)) entries.push(v as unknown as RegisterEntry)
      else skipped.push(describeStored(v))
    }
    this.unreadable.note(key, skipped)
    return entries.length === 0 ? undefined : entries.sort(compareEntries)
  }

  private readValue(h: Handle, obj: string, key: string): Json | undefined {
    return parseScalar(h.getWithType(obj, key, this.heads) as unknown as unknown[] | null)
  }

  private readText(h: Handle, key: string): string | undefined {
    const full = h.getWithType(sk().ids.texts, key, this.heads) as unknown as unknown[] | null
    if (full == null || full[0] !== 'text') return undefined
    return h.text(full[1] as string, this.heads)
  }

  private readClock(h: Handle, key: string): number | undefined {
    const full = h.getWithType(sk().ids.clock, key, this.heads) as unknown as unknown[] | null
    return full != null && typeof full[1] === 'number' ? full[1] : undefined
  }

  private readAll(): DocSnapshot {
    const h = this.handle
    const heads = this.heads
    const init = new Map<string, Json>()
    for (const k of h.keys(sk().ids.init, heads)) {
      const v = this.readValue(h, sk().ids.init, k)
      if (v !== undefined) init.set(k, v)
    }
    const registers = new Map<string, readonly RegisterEntry[]>()
    for (const bucket of sk().bucketObjs) {
      for (const k of h.keys(bucket, heads)) {
        const e = this.readRegister(h, k)
        if (e !== undefined) registers.set(k, e)
      }
    }
    const sets = {} as Record<SetName, Map<string, Json>>
    for (const s of SET_NAMES) {
      const m = new Map<string, Json>()
      const obj = this.setObj(h, s)
      if (obj !== undefined) {
        for (const k of h.keys(obj, heads)) {
          const v = this.readValue(h, obj, k)
          if (v !== undefined) m.set(k, v)
        }
      }
      sets[s] = m
    }
    const texts = new Map<string, string>()
    for (const k of h.keys(sk().ids.texts, heads)) {
      const t = this.readText(h, k)
      if (t !== undefined) texts.set(k, t)
    }
    const clock = new Map<ReplicaId, number>()
    for (const k of h.keys(sk().ids.clock, heads)) {
      const n = this.readClock(h, k)
      if (n !== undefined) clock.set(k as ReplicaId, n)
    }
    const unreadable = this.unreadable.snapshot()
    return { init, registers, sets, texts, clock: clock as VersionVector, ...(unreadable === undefined ? {} : { unreadable }) }
  }

  /** A set's map: from genesis, or (for a set genesis lacks) the deterministic creation. */
  private setObj(h: Handle, set: SetName): string | undefined {
    const full = h.getWithType(sk().ids.sets, set, this.heads) as unknown as unknown[] | null
    if (full == null) return undefined
    return full[0] === 'map' ? (full[1] as string) : undefined
  }

  private readDirty(d: Dirty): DocSnapshot {
    const h = this.handle
    const prev = this.snapshot
    const update = <V>(base: ReadonlyMap<string, V>, keys: ReadonlySet<string>, get: (k: string) => V | undefined): ReadonlyMap<string, V> => {
      if (keys.size === 0) return base
      const m = new Map(base)
      for (const k of keys) {
        const v = get(k)
        if (v === undefined) m.delete(k)
        else m.set(k, v)
      }
      return m
    }
    // Registers and records are patched, not copied: a change to one register costs O(1), not O(registers).
    const patch = <V>(base: ReadonlyMap<string, V>, keys: ReadonlySet<string>, get: (k: string) => V | undefined): ReadonlyMap<string, V> =>
      keys.size === 0 ? base : PatchedMap.of(base, new Map([...keys].map((k) => [k, get(k)])))
    let sets = prev.sets
    if (d.sets.size > 0) {
      const next = { ...prev.sets } as Record<SetName, ReadonlyMap<string, Json>>
      for (const [s, keys] of d.sets) {
        const obj = this.setObj(h, s)
        next[s] = obj === undefined ? new Map() : patch(prev.sets[s], keys, (k) => this.readValue(h, obj, k))
      }
      sets = next as DocSnapshot['sets']
    }
    const registers = patch(prev.registers, d.regs, (k) => this.readRegister(h, k))
    const unreadable = this.unreadable.snapshot()
    return {
      init: update(prev.init, d.init, (k) => this.readValue(h, sk().ids.init, k)),
      registers,
      sets,
      texts: update(prev.texts, d.allTexts ? new Set([...d.texts, ...h.keys(sk().ids.texts, this.heads)]) : d.texts, (k) => this.readText(h, k)),
      clock: update(prev.clock as ReadonlyMap<string, number>, d.clock, (k) => this.readClock(h, k)) as VersionVector,
      ...(unreadable === undefined ? {} : { unreadable }),
      // What this read patched, for readers that update per register or record.
      delta: { from: new WeakRef(prev), registers: d.regs, sets: d.sets },
    }
  }

  // ---------------------------------------------------------- inspection

  /** What `payload` would do to this document, without applying it (automerge-inspect.ts). */
  inspectUpdate(payload: Uint8Array): UpdateEffect {
    const textKeyOf = (obj: string) => (this.heads === undefined ? this.textKeys.get(obj) : undefined)
    return inspectAutomergeUpdate({ handle: this.h, heads: this.heads, layout: layout(), textKeyOf }, payload)
  }

  // ----------------------------------------------------- state and history

  save(): Uint8Array {
    return wrapSnapshot('automerge', this.heads === undefined ? this.h.save() : this.forkSave())
  }

  /** A view saves the document as of its heads. */
  private forkSave(): Uint8Array {
    const past = this.h.fork(undefined, this.heads)
    try {
      return past.save()
    } finally {
      past.free()
    }
  }

  version(): string {
    return (this.heads ?? this.h.getHeads()).slice().sort().join(',')
  }

  /**
   * A read-only view of this document as it was when exactly the given
   * payloads (causally closed, all applied here) had applied: Automerge's
   * history by heads, instead of replaying the events into a new document.
   */
  viewAt(payloads: readonly Uint8Array[]): CrdtDoc {
    const heads = new Set<string>([genesisHashOf()])
    for (const p of payloads) for (const hash of hashesOf.get(p) ?? decodePayload(p).map((d) => d.hash)) heads.add(hash)
    const h = this.handle
    const covered = new Set<string>()
    for (const hash of heads) {
      const meta = h.getChangeMetaByHash(hash)
      if (meta === null) fail('UNKNOWN_EVENT', `change ${hash} is not in this document's history`)
      for (const d of meta.deps) covered.add(d)
    }
    // The minimal heads, so version() matches a document that applied exactly these payloads.
    return new AutomergeDoc(this.h, [...heads].filter((x) => !covered.has(x)))
  }

  destroy(): void {
    if (this.heads === undefined) this.h.free()
  }
}

// Hashed on first use, not at module load: a browser bundle can then load
// Automerge lazily, only when a purchase uses it.
let genesisHash: string | undefined
const genesisHashOf = (): string => (genesisHash ??= A.decodeChange(GENESIS).hash)

/** A bare low-level document with this replica's actor (no materialized JS tree). */
function emptyHandle(replica: ReplicaId): Handle {
  return A.getBackend(A.init({ actor: automergeActorOf(replica) }))
}

function fromGenesis(replica: ReplicaId): Handle {
  return sk().genesis.fork(automergeActorOf(replica))
}

export const automergeBackend: CrdtBackend = {
  name: 'automerge',
  create: (replica) => new AutomergeDoc(fromGenesis(replica), undefined, true),
  load: (snapshot, replica) => {
    const body = unwrapSnapshot('automerge', snapshot)
    const h = emptyHandle(replica)
    try {
      if (body.length === 0) fail('CORRUPT_SNAPSHOT', 'the saved Automerge document is empty')
      h.loadIncremental(body)
      if (h.getChangeMetaByHash(genesisHashOf()) === null) fail('CORRUPT_SNAPSHOT', 'the saved Automerge document is not a Concord document (no genesis change)')
      if (h.getMissingDeps([]).length > 0) fail('CORRUPT_SNAPSHOT', 'the saved Automerge document misses changes it depends on')
    } catch (e) {
      h.free()
      if (isConcordError(e)) throw e
      throw new ConcordError('CORRUPT_SNAPSHOT', `the saved Automerge document does not load: ${(e as Error).message}`, {}, { cause: e })
    }
    return new AutomergeDoc(h)
  },
  validateUpdate: validateAutomergeUpdate,
  inspectUpdate: (doc, payload) => {
    if (!(doc instanceof AutomergeDoc)) fail('BACKEND_MISMATCH', `an Automerge update is inspected against an Automerge document, not ${doc.backend}`)
    return doc.inspectUpdate(payload)
  },
  authorOf: (replica) => automergeActorOf(replica),
}
