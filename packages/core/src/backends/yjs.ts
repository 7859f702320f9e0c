/**
 * The Yjs backend. Registers live in one flat Y.Map whose keys are
 * `<register key>\u0000<writing event id>`: a write deletes the keys it has
 * seen and adds its own, so concurrent writes (different event ids) all
 * survive, which is a multi-value register built from Y.Map deletes and
 * sets. Flat keys avoid nested Y.Maps, which two replicas could create
 * concurrently under one key and lose one of. Texts are root-level Y.Texts,
 * which any replica may create without that risk.
 */
import * as Y from 'yjs'
import { digest } from 'lib0/hash/sha256'
import { ConcordError, fail, isConcordError } from '../errors.js'
import type { ReplicaId } from '../ids.js'
import type { Json } from '../json.js'
import { compareHlc } from '../time/hlc.js'
import type { CrdtBackend, CrdtDoc, DocSnapshot, DocWriter, RegisterEntry, SetName, VersionVector } from './backend.js'
import { SET_NAMES } from './backend.js'
import { YJS_V2_FORMAT, unwrapSnapshotFormat, wrapSnapshot } from './snapshot-header.js'
import { PatchedMap } from './patched-map.js'
import { inspectYjsUpdate } from './yjs-inspect.js'
import { UnreadableEntries, describeStored } from './unreadable.js'

const SEP = '\u0000'
const TEXT_PREFIX = 't:'
const LOCAL = Symbol('concord.local')
const REMOTE = Symbol('concord.remote')

/** A replica's Yjs client id, derived from its id so replays are deterministic. */
export function yjsClientIdOf(replica: ReplicaId): number {
  const h = digest(new TextEncoder().encode(replica))
  // 31 bits keeps it a positive small integer in every Yjs encoding path.
  return (((h[0] ?? 0) << 23) | ((h[1] ?? 0) << 15) | ((h[2] ?? 0) << 7) | ((h[3] ?? 0) >>> 1)) >>> 0
}

function compareEntries(a: RegisterEntry, b: RegisterEntry): number {
  return compareHlc(a.hlc, b.hlc) || (a.ev < b.ev ? -1 : a.ev > b.ev ? 1 : 0)
}

/**
 * What a register may hold to be read: a plain object with a string `ev`
 * and `hlc`. Raw Yjs clients can write anything into `regs` (null, a
 * number, a nested type); those are skipped, never sorted. The value
 * itself is for the purchase layer to judge.
 */
function isReadableEntry(v: unknown): v is RegisterEntry {
  if (typeof v !== 'object' || v === null) return false
  const proto = Object.getPrototypeOf(v) as unknown
  if (proto !== Object.prototype && proto !== null) return false
  const e = v as { ev?: unknown; hlc?: unknown }
  return typeof e.ev === 'string' && typeof e.hlc === 'string'
}

/**
 * A record as a set read gives it: anything a raw client wrote, except
 * what is no value at all (undefined, which the patched read takes for
 * "removed") and live Yjs types, which hold their document and would send
 * any walk over the snapshot round in circles. The purchase layer filters
 * the rest (read.ts).
 */
function recordValue(v: unknown): Json | undefined {
  return v === undefined || v instanceof Y.AbstractType ? undefined : (v as Json)
}

/** The register a `regs` key belongs to; undefined for a key without the separator (no Concord write makes one). */
function registerOf(full: string): string | undefined {
  const cut = full.indexOf(SEP)
  return cut < 0 ? undefined : full.slice(0, cut)
}

/** Yjs stores JSON: drop undefined optional fields rather than store them. */
function stripUndefined(entry: RegisterEntry): RegisterEntry {
  return Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)) as unknown as RegisterEntry
}

export class YjsDoc implements CrdtDoc {
  readonly backend = 'yjs' as const
  readonly ydoc: Y.Doc
  private readonly initMap: Y.Map<Json>
  private readonly regs: Y.Map<RegisterEntry>
  private readonly sets: Record<SetName, Y.Map<Json>>
  private readonly clock: Y.Map<number>
  /** Register key -> the full Y.Map keys holding its entries. */
  private readonly index = new Map<string, Set<string>>()
  /** The last snapshot read, and what changed since: read() patches it instead of rebuilding. */
  private cached: DocSnapshot | undefined
  private last: DocSnapshot | undefined
  /** Register values that are no entry, noted on every read of their register. */
  private readonly unreadable = new UnreadableEntries()
  private readonly dirty = { regs: new Set<string>(), sets: new Map<SetName, Set<string>>(), texts: false, clock: false, init: false }
  /** Root texts by key: a root type, once made, stays the same object (saves a name lookup per keystroke). */
  private readonly texts = new Map<string, Y.Text>()

  private text(key: string): Y.Text {
    let t = this.texts.get(key)
    if (t === undefined) this.texts.set(key, (t = this.ydoc.getText(TEXT_PREFIX + key)))
    return t
  }

  /** Set while `change` runs: where the update listener puts the local update. */
  private localUpdates: Uint8Array[] | undefined
  private readonly collect = (update: Uint8Array, origin: unknown): void => {
    if (origin === LOCAL) this.localUpdates?.push(update)
  }

  constructor(replica: ReplicaId, ydoc?: Y.Doc) {
    this.ydoc = ydoc ?? new Y.Doc({ gc: true })
    this.ydoc.clientID = yjsClientIdOf(replica)
    this.initMap = this.ydoc.getMap('init')
    this.regs = this.ydoc.getMap('regs')
    this.clock = this.ydoc.getMap('clock')
    this.sets = Object.fromEntries(SET_NAMES.map((s) => [s, this.ydoc.getMap(`set:${s}`)])) as Record<SetName, Y.Map<Json>>
    for (const key of this.regs.keys()) this.indexAdd(key)
    this.regs.observe((event) => {
      for (const [key, change] of event.changes.keys) {
        if (change.action === 'delete') this.indexRemove(key)
        else if (change.action === 'add') this.indexAdd(key)
      }
    })
    const setOf = new Map<unknown, SetName>(SET_NAMES.map((n) => [this.sets[n], n]))
    this.ydoc.on('afterTransaction', (tr: Y.Transaction) => {
      if (tr.changed.size === 0) return
      this.cached = undefined
      for (const [changedType, keys] of tr.changed) {
        const type: unknown = changedType
        if (type === this.regs) {
          for (const k of keys) {
            const reg = k === null ? undefined : registerOf(k)
            if (reg !== undefined) this.dirty.regs.add(reg)
          }
        } else if (type === this.clock) this.dirty.clock = true
        else if (type === this.initMap) this.dirty.init = true
        else {
          const set = setOf.get(type)
          if (set === undefined) this.dirty.texts = true
          else {
            let ids = this.dirty.sets.get(set)
            if (ids === undefined) this.dirty.sets.set(set, (ids = new Set()))
            for (const k of keys) if (k !== null) ids.add(k)
          }
        }
      }
    })
  }

  private indexAdd(full: string): void {
    const reg = registerOf(full)
    if (reg === undefined) return
    let keys = this.index.get(reg)
    if (keys === undefined) this.index.set(reg, (keys = new Set()))
    keys.add(full)
  }

  private indexRemove(full: string): void {
    const reg = registerOf(full)
    if (reg === undefined) return
    const keys = this.index.get(reg)
    keys?.delete(full)
    if (keys?.size === 0) this.index.delete(reg)
  }

  change(fn: (w: DocWriter) => void): Uint8Array {
    const updates: Uint8Array[] = []
    this.localUpdates = updates
    // Listening only while a local change runs: with a listener Yjs encodes
    // every transaction's update, remote applies included.
    this.ydoc.on('update', this.collect)
    try {
      this.ydoc.transact(() => fn(this.writer), LOCAL)
    } finally {
      this.ydoc.off('update', this.collect)
      this.localUpdates = undefined
    }
    return updates.length === 1 ? (updates[0] as Uint8Array) : Y.mergeUpdates(updates)
  }

  private readonly writer: DocWriter = this.makeWriter()

  private makeWriter(): DocWriter {
    return {
      init: (key, value) => {
        const prev = this.initMap.get(key)
        if (prev !== undefined && JSON.stringify(prev) !== JSON.stringify(value)) {
          fail('INVALID_ARGUMENT', `${key} is set once and already holds another value`)
        }
        if (prev === undefined) this.initMap.set(key, value)
      },
      setRegister: (key, entry) => {
        if (key.includes(SEP)) fail('INVALID_ARGUMENT', 'register keys may not contain NUL')
        for (const full of this.index.get(key) ?? []) this.regs.delete(full)
        this.regs.set(`${key}${SEP}${entry.ev}`, stripUndefined(entry))
      },
      addRecord: (set, id, record) => {
        const map = this.sets[set]
        if (!map.has(id)) map.set(id, record)
      },
      insertText: (key, index, text) => this.text(key).insert(index, text),
      deleteText: (key, index, length) => this.text(key).delete(index, length),
      tickClock: (replica, seq) => {
        if ((this.clock.get(replica) ?? 0) < seq) this.clock.set(replica, seq)
      },
    }
  }

  applyBatch(payloads: readonly Uint8Array[]): void {
    if (payloads.length === 0) return
    for (const p of payloads) validateYjsUpdate(p)
    // Replaying this replica's own stored events is a remote transaction that
    // contains our client id, and Yjs then switches to a random one, fearing a
    // clash. Ours derives from a unique replica id, so those structs are ours:
    // keep the id, which keeps replays deterministic. (A stand-in id during the
    // apply also keeps Yjs from printing its warning.)
    const own = this.ydoc.clientID
    this.ydoc.clientID = own ^ 0x40000000
    try {
      // One transaction for the batch: observers and the snapshot cache run
      // once. (Y.mergeUpdates first would cost more than the apply itself.)
      this.ydoc.transact(() => {
        for (const p of payloads) Y.applyUpdate(this.ydoc, p, REMOTE)
      }, REMOTE)
    } finally {
      this.ydoc.clientID = own
    }
  }

  /**
   * The document as plain values. Unchanged parts keep their identity from
   * one read to the next (the same entry arrays, the same set maps), and only
   * what a transaction touched is rebuilt, so reading after a small remote
   * change costs little more than copying two maps, and callers can cache
   * per line by identity.
   */
  read(): DocSnapshot {
    if (this.cached !== undefined) return this.cached
    const prev = this.last
    const d = this.dirty
    let registers: ReadonlyMap<string, readonly RegisterEntry[]>
    if (prev === undefined) {
      const all = new Map<string, readonly RegisterEntry[] | undefined>()
      for (const reg of this.index.keys()) this.readRegister(all, reg)
      registers = new Map([...all].filter((x): x is [string, readonly RegisterEntry[]] => x[1] !== undefined))
    } else {
      // Patched, not copied: a change to one register costs O(1), not O(registers).
      const changes = new Map<string, readonly RegisterEntry[] | undefined>()
      for (const reg of d.regs) this.readRegister(changes, reg)
      registers = PatchedMap.of(prev.registers, changes)
    }
    let texts = prev?.texts
    if (texts === undefined || d.texts) {
      const fresh = new Map<string, string>()
      for (const name of this.ydoc.share.keys()) {
        if (name.startsWith(TEXT_PREFIX)) fresh.set(name.slice(TEXT_PREFIX.length), this.ydoc.getText(name).toString())
      }
      texts = fresh
    }
    const sets = {} as Record<SetName, ReadonlyMap<string, Json>>
    for (const name of SET_NAMES) {
      const before = prev?.sets[name]
      const ids = d.sets.get(name)
      if (before === undefined) {
        const all = new Map<string, Json>()
        for (const [id, v] of this.sets[name].entries()) {
          const rec = recordValue(v)
          if (rec !== undefined) all.set(id, rec)
        }
        sets[name] = all
      } else if (ids === undefined) sets[name] = before
      else sets[name] = PatchedMap.of(before, new Map([...ids].map((id) => [id, recordValue(this.sets[name].get(id))])))
    }
    const clock = prev === undefined || d.clock ? (new Map(this.clock.entries()) as unknown as VersionVector) : prev.clock
    const init = prev === undefined || d.init ? new Map(this.initMap.entries()) : prev.init
    // What this read patched, for readers that update per register or record.
    const delta = prev === undefined ? undefined : { from: new WeakRef(prev), registers: new Set(d.regs), sets: new Map(d.sets) }
    d.regs.clear()
    d.sets = new Map()
    d.texts = false
    d.clock = false
    d.init = false
    const unreadable = this.unreadable.snapshot()
    this.cached = this.last = {
      init, registers, sets: sets as DocSnapshot['sets'], texts, clock,
      ...(unreadable === undefined ? {} : { unreadable }),
      ...(delta === undefined ? {} : { delta }),
    }
    return this.cached
  }

  /** Reads one register into `into`; undefined when it holds no entry (for a patch: removed). */
  private readRegister(into: Map<string, readonly RegisterEntry[] | undefined>, reg: string): void {
    const keys = this.index.get(reg)
    const entries: RegisterEntry[] = []
    const skipped: string[] = []
    for (const k of keys ?? []) {
      const e: unknown = this.regs.get(k)
      if (isReadableEntry(e)) entries.push(e)
      else skipped.push(describeStored(e))
    }
    this.unreadable.note(reg, skipped)
    into.set(reg, entries.length > 0 ? entries.sort(compareEntries) : undefined)
  }

  textLength(key: string): number {
    const known = this.texts.get(key)
    if (known !== undefined) return known.length
    return this.ydoc.share.has(TEXT_PREFIX + key) ? this.text(key).length : 0
  }

  /** Saved as Yjs update v2: its run-length columns make typed text several times smaller, and faster to load. */
  save(): Uint8Array {
    return wrapSnapshot('yjs', Y.encodeStateAsUpdateV2(this.ydoc), YJS_V2_FORMAT)
  }

  version(): string {
    const sv = Y.decodeStateVector(Y.encodeStateVector(this.ydoc))
    return [...sv.entries()].sort((a, b) => a[0] - b[0]).map(([c, k]) => `${c}:${k}`).join(',')
  }

  destroy(): void {
    this.ydoc.destroy()
  }
}

/** Throws INVALID_UPDATE unless the bytes decode completely as a Yjs v1 update. */
export function validateYjsUpdate(payload: Uint8Array): void {
  if (!(payload instanceof Uint8Array) || payload.length < 2) fail('INVALID_UPDATE', 'a Yjs update has at least two bytes')
  try {
    Y.decodeUpdate(payload)
  } catch (e) {
    throw new ConcordError('INVALID_UPDATE', `not a Yjs update: ${(e as Error).message}`, {}, { cause: e })
  }
}

export const yjsBackend: CrdtBackend = {
  name: 'yjs',
  create: (replica) => new YjsDoc(replica),
  load: (snapshot, replica) => {
    const { body, format } = unwrapSnapshotFormat('yjs', snapshot)
    const ydoc = new Y.Doc({ gc: true })
    try {
      // Applied without decoding it twice first: a fresh document is thrown
      // away on failure, and a whole saved state never leaves anything
      // pending, so leftovers mean the bytes were not one.
      if (body.length < 2) throw new Error('a saved Yjs document has at least two bytes')
      if (format === YJS_V2_FORMAT) Y.applyUpdateV2(ydoc, body)
      else Y.applyUpdate(ydoc, body)
      if (ydoc.store.pendingStructs !== null || ydoc.store.pendingDs !== null) throw new Error('it refers to changes it does not contain')
      // v1 reads a v2 body (or other bytes starting with 0) as an empty document: an empty one is two bytes.
      if (format !== YJS_V2_FORMAT && ydoc.store.clients.size === 0 && body.length > 2) throw new Error('it holds bytes but no changes')
    } catch (e) {
      ydoc.destroy()
      if (isConcordError(e)) throw e
      throw new ConcordError('CORRUPT_SNAPSHOT', `the saved Yjs document does not load: ${(e as Error).message}`, {}, { cause: e })
    }
    return new YjsDoc(replica, ydoc)
  },
  validateUpdate: validateYjsUpdate,
  inspectUpdate: (doc, payload) => {
    if (!(doc instanceof YjsDoc)) fail('BACKEND_MISMATCH', `a Yjs update is inspected against a Yjs document, not a ${doc.backend} one`, { actual: doc.backend, expected: 'yjs' })
    return inspectYjsUpdate(doc, payload)
  },
  authorOf: (replica) => String(yjsClientIdOf(replica)),
}
