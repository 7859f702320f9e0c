/**
 * The Automerge update inspector: what a payload (change chunks back to
 * back) would do to a Concord Automerge document, read from each change
 * decoded once and resolved with lookups on the document's low-level handle.
 * Nothing is applied, forked or cloned: the relay runs this on every write.
 *
 * Automerge's change encoding, as `decodeChange` gives it:
 * - map ops have `key`; ops inside a text have `elemId` (and `insert: true`
 *   for an insertion), never `key`;
 * - a put is action 'set'; a scalar string has no `datatype` (other
 *   scalars: 'int', 'uint', 'float64', 'counter', 'timestamp'; null,
 *   booleans and bytes have none either, so the value's type tells them);
 * - an op's id is `${startOp + index}@${actor}`; a new object's id is the
 *   id of the op that makes it; `pred` lists the ids of the values the op
 *   supersedes (the ones its author had seen);
 * - a text splice is one insertion per code point (`elemId`: the element
 *   it goes after, `_head` at the start), a delete one `del` per element;
 *   an element's id is the id of the op that inserted it, which is also its
 *   cursor (`getCursorPosition`).
 */
import type * as A from '@automerge/automerge'
import { SET_NAMES, type SetName } from './backend.js'
import type { EffectOp, UpdateEffect } from './effect.js'

type Handle = ReturnType<typeof A.getBackend>
type Op = A.DecodedChange['ops'][number]
type Kind = 'text' | 'set'

/**
 * The document layout, given by automerge.ts (which imports this module, so
 * this one cannot import it back).
 */
export interface AutomergeLayout {
  readonly ids: { readonly init: string; readonly regs: string; readonly sets: string; readonly texts: string; readonly clock: string }
  /** Bucket map object -> its name (00..3f). */
  readonly buckets: ReadonlyMap<string, string>
  /** Genesis set map object -> its set. */
  readonly sets: ReadonlyMap<string, SetName>
  readonly genesisHash: string
  /** Splits and decodes a payload (throws INVALID_UPDATE), recording its hashes. */
  decode(payload: Uint8Array): readonly { readonly bytes: Uint8Array; readonly change: A.DecodedChange }[]
  bucketOf(key: string): string
  /** The bucket map object a register key lives in. */
  bucketObjOf(key: string): string
  /** Whether a change (its actor, its chunk) is exactly the deterministic change that creates this container. */
  isCreationChange(kind: Kind, key: string, actor: string, bytes: Uint8Array): boolean
}

/**
 * A document to inspect against: its handle, and its heads when it is a view
 * of the past (values are read as of the heads; which changes it holds is
 * asked of the whole handle, so inspect against live documents).
 */
export interface AutomergeInspectTarget {
  readonly handle: Handle
  readonly heads: string[] | undefined
  readonly layout: AutomergeLayout
  /** Text objects the document already knows, by object id (cheaper than asking Automerge for the path). */
  readonly textKeyOf?: (obj: string) => string | undefined
}

/** Where an op lands. */
type Place =
  | { readonly k: 'init' }
  | { readonly k: 'bucket'; readonly name: string }
  | { readonly k: 'set'; readonly set: SetName; readonly obj: string; readonly fresh: boolean }
  | { readonly k: 'texts' }
  | { readonly k: 'clock' }
  | { readonly k: 'text'; readonly key: string; readonly obj: string; readonly fresh: boolean }
  /** A part of the document that is not a Concord container (the root, regs, sets, anything nested). */
  | { readonly k: 'other'; readonly where: string }
  /** Neither in the document nor made by this payload: made by a change the document lacks. */
  | { readonly k: 'unknown'; readonly where: string }

/**
 * What looking up a payload's deleted characters of the document may cost.
 * A character is found by its cursor (its element id), which costs Automerge
 * a walk of the text (up to a few hundred us in a long, much-edited text);
 * the next character of a run of deletes (what deleteText makes) is checked
 * at the position after it instead, one indexed read. Within these bounds,
 * Concord's own deletes are counted exactly; beyond them a payload's further
 * deletes count as nothing, which only errs on the side of a text looking
 * longer than it is.
 */
const MAX_CURSOR_LOOKUPS = 256
const MAX_ELEMENT_CHECKS = 20_000

/** A register's values as the payload's ops leave them: op id -> slot. */
interface RegNow {
  /** Written by this payload: op id -> the index of its reg op. */
  readonly mine: Map<string, number>
  /** Held by the document, once read. */
  doc?: Map<string, string>
  /** Superseded by this payload. */
  readonly gone: Set<string>
}

interface TextCount {
  readonly index: number
  readonly obj: string
  inserted: number
  deleted: number
  /** Deleted element ids of the document, to look up. */
  readonly lookups: string[]
}

/** One Unicode code point: what Automerge's splice puts in each element. */
function isOneCodePoint(s: string): boolean {
  if (s.length === 1) return true
  if (s.length !== 2) return false
  const hi = s.charCodeAt(0)
  const lo = s.charCodeAt(1)
  return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff
}

/** A value as `getAll` gives it: [datatype, value, opId], or [objType, objId] for an object. */
type Full = readonly unknown[]

/** Decoded changes are hostile input too: nothing is assumed of their shape beyond what decodeChange types. */
const predOf = (op: Op): readonly string[] => (Array.isArray(op.pred) ? op.pred : [])

const isStr = (op: Op): op is Op & { value: string } =>
  (op.datatype === undefined || op.datatype === 'str') && typeof op.value === 'string'

function typeName(op: Op): string {
  if (op.datatype !== undefined) return op.datatype
  const v: unknown = op.value
  if (v === null || v === undefined) return 'null'
  if (Array.isArray(v) || v instanceof Uint8Array) return 'bytes'
  return typeof v
}

/** A held value as Concord reads it: JSON text parsed; anything else reported as the raw [datatype, value]. */
function heldValue(full: Full | null | undefined): unknown {
  if (full == null) return undefined
  if (full[0] === 'str' && typeof full[1] === 'string') {
    try {
      return JSON.parse(full[1]) as unknown
    } catch {
      // Not Concord's: reported raw, so the checker sees that something is there.
    }
  }
  return [full[0], full[1]]
}

function slotOf(entry: unknown): string {
  const ev = typeof entry === 'object' && entry !== null ? (entry as { readonly ev?: unknown }).ev : undefined
  return typeof ev === 'string' ? ev : ''
}

export function inspectAutomergeUpdate(doc: AutomergeInspectTarget, payload: Uint8Array): UpdateEffect {
  const { handle: h, heads, layout: L } = doc
  const chunks = L.decode(payload)
  const ops: EffectOp[] = []
  const authors = new Set<string>()
  let incomplete = false

  const inPayload = new Set<string>()
  /**
   * Whether the document holds the change, and whether it lacks some of its
   * deps that are not earlier in the payload: one call for both (the
   * metadata of a known change costs more to build). getMissingDeps also
   * lists the deps of changes the document holds back; only these count.
   */
  const lookUp = (change: A.DecodedChange): { known: boolean; missing: boolean } => {
    const asked = [change.hash, ...change.deps.filter((d) => !inPayload.has(d))]
    const lacking = new Set(h.getMissingDeps(asked))
    return { known: !lacking.has(change.hash), missing: asked.some((d, i) => i > 0 && lacking.has(d)) }
  }

  /** Objects made by this payload: containers by creation changes, anything else by malformed ops. */
  const made = new Map<string, Place>()
  const places = new Map<string, Place>()

  // What the payload's earlier ops left, over what the document holds.
  const initNow = new Map<string, unknown>()
  const recordsNow = new Map<string, unknown>()
  const clockNow = new Map<string, number | undefined>()
  const regsNow = new Map<string, RegNow>()
  /** Indexes of reg ops a later op of the payload superseded. */
  const dropped = new Set<number>()
  const texts = new Map<string, TextCount>()
  /** Characters this payload inserts: element id -> its text object and UTF-16 width. */
  const insertedHere = new Map<string, { readonly obj: string; readonly width: number }>()
  const deletedHere = new Set<string>()

  const get = (obj: string, key: string): Full | null =>
    h.getWithType(obj, key, heads) as unknown as Full | null

  function creationOf(change: A.DecodedChange, bytes: Uint8Array): { kind: Kind; key: string; id: string } | undefined {
    const op = change.ops[0]
    if (change.ops.length !== 1 || op === undefined || change.seq !== 1 || change.deps.length !== 1 || change.deps[0] !== L.genesisHash) return undefined
    const kind: Kind | undefined =
      op.action === 'makeText' && op.obj === L.ids.texts ? 'text'
      : op.action === 'makeMap' && op.obj === L.ids.sets && (SET_NAMES as readonly string[]).includes(op.key) ? 'set'
      : undefined
    if (kind === undefined || typeof op.key !== 'string' || op.key === '' || predOf(op).length !== 0) return undefined
    if (!L.isCreationChange(kind, op.key, change.actor, bytes)) return undefined
    return { kind, key: op.key, id: `${change.startOp}@${change.actor}` }
  }

  function placeOf(obj: string): Place {
    const m = made.get(obj)
    if (m !== undefined) return m
    let p = places.get(obj)
    if (p === undefined) {
      p = resolve(obj)
      places.set(obj, p)
    }
    return p
  }

  function resolve(obj: string): Place {
    if (obj === L.ids.init) return { k: 'init' }
    if (obj === L.ids.clock) return { k: 'clock' }
    if (obj === L.ids.texts) return { k: 'texts' }
    const bucket = L.buckets.get(obj)
    if (bucket !== undefined) return { k: 'bucket', name: bucket }
    const set = L.sets.get(obj)
    if (set !== undefined) return { k: 'set', set, obj, fresh: false }
    if (obj === '_root') return { k: 'other', where: '' }
    if (obj === L.ids.regs) return { k: 'other', where: 'regs' }
    if (obj === L.ids.sets) return { k: 'other', where: 'sets' }
    const textKey = doc.textKeyOf?.(obj)
    if (textKey !== undefined) return { k: 'text', key: textKey, obj, fresh: false }
    let info: ReturnType<Handle['objInfo']>
    try {
      info = h.objInfo(obj, heads)
    } catch {
      // Automerge refuses ids of objects it does not hold (and ids that do not parse).
      return { k: 'unknown', where: `object ${obj}` }
    }
    const path = info.path ?? []
    const [top, key] = path
    if (path.length === 2 && typeof key === 'string') {
      // Checked against the parent too: an object that lost its key to a concurrent one keeps its path.
      const under = top === 'texts' ? get(L.ids.texts, key) : top === 'sets' ? get(L.ids.sets, key) : null
      if (top === 'texts' && info.type === 'text' && under?.[0] === 'text' && under[1] === obj) return { k: 'text', key, obj, fresh: false }
      if (top === 'sets' && info.type === 'map' && under?.[0] === 'map' && under[1] === obj && (SET_NAMES as readonly string[]).includes(key)) {
        return { k: 'set', set: key as SetName, obj, fresh: false }
      }
    }
    return { k: 'other', where: path.length > 0 ? path.join('/') : `object ${obj}` }
  }

  function whereOf(p: Place, key: string | undefined): string {
    const k = key === undefined ? '' : `/${key}`
    switch (p.k) {
      case 'init': return `init${k}`
      case 'bucket': return `regs/${p.name}${k}`
      case 'set': return `sets/${p.set}${k}`
      case 'texts': return `texts${k}`
      case 'clock': return `clock${k}`
      case 'text': return `texts/${p.key}`
      // A root key reads `/init`; a key of the regs or sets map `regs/00`.
      case 'other': case 'unknown': return `${p.where}${k}`
    }
  }

  const emit = (op: EffectOp): void => {
    ops.push(op)
  }
  const malformed = (where: string, why: string): void => emit({ k: 'malformed', where, why })

  /** A register's values the document holds, read the first time a pred needs them. */
  function docValues(key: string, r: RegNow): Map<string, string> {
    if (r.doc === undefined) {
      r.doc = new Map()
      for (const full of h.getAll(L.bucketObjOf(key), key, heads) as unknown as Full[]) {
        // Scalars carry their op id third; an object's id is the id of the op that made it.
        const id = full.length >= 3 ? full[2] : full[1]
        if (typeof id === 'string' && !r.gone.has(id)) r.doc.set(id, slotOf(heldValue(full)))
      }
    }
    return r.doc
  }

  function regNow(key: string): RegNow {
    let r = regsNow.get(key)
    if (r === undefined) regsNow.set(key, (r = { mine: new Map(), gone: new Set() }))
    return r
  }

  /**
   * The register entries `pred` supersedes: the document's are reported
   * removed; an entry this payload wrote itself is dropped from the list, so
   * the list says what the payload leaves (a write then an overwrite is one
   * write, a write then its delete none). Returns how many of the
   * document's entries it removes.
   */
  function supersede(key: string, pred: readonly string[]): number {
    const r = regNow(key)
    let n = 0
    for (const id of pred) {
      if (r.gone.has(id)) continue
      const own = r.mine.get(id)
      if (own !== undefined) {
        r.gone.add(id)
        r.mine.delete(id)
        dropped.add(own)
        continue
      }
      // A write with no pred (a new register) costs no lookup.
      const slot = docValues(key, r).get(id)
      if (slot === undefined) continue
      r.gone.add(id)
      r.doc?.delete(id)
      emit({ k: 'regDelete', key, slot })
      n++
    }
    return n
  }

  /** JSON text stored as a scalar string, or why not. */
  function jsonOf(op: Op): { ok: true; value: unknown } | { ok: false; why: string } {
    if (!isStr(op)) return { ok: false, why: `a ${typeName(op)} value where Concord stores JSON text` }
    try {
      return { ok: true, value: JSON.parse(op.value) as unknown }
    } catch {
      return { ok: false, why: 'a string that is not JSON text' }
    }
  }

  function mapOp(p: Place, key: string, op: Op, id: string): void {
    const where = whereOf(p, key)
    if (p.k === 'bucket' && L.bucketOf(key) !== p.name) {
      malformed(where, `register ${key} belongs in bucket ${L.bucketOf(key)}`)
      return
    }
    if (op.action === 'del') {
      switch (p.k) {
        case 'init':
          initNow.set(key, undefined)
          emit({ k: 'initDelete', key })
          return
        case 'bucket':
          // A delete that removes nothing the document holds is still listed: Concord never deletes a register.
          if (supersede(key, predOf(op)) === 0) emit({ k: 'regDelete', key, slot: '' })
          return
        case 'set':
          recordsNow.set(`${p.set}\u0000${key}`, undefined)
          emit({ k: 'recordDelete', set: p.set, id: key })
          return
        case 'clock':
          clockNow.set(key, undefined)
          emit({ k: 'clockDelete', replica: key })
          return
        default:
          malformed(where, p.k === 'texts' ? 'deletes a text' : 'a delete outside Concord\'s containers')
          return
      }
    }
    if (p.k === 'clock') {
      if (op.datatype !== 'int' && op.datatype !== 'uint') {
        malformed(where, `a ${typeName(op)} value where Concord stores an int`)
        return
      }
      let existing: number | undefined
      if (clockNow.has(key)) existing = clockNow.get(key)
      else {
        const full = get(L.ids.clock, key)
        existing = full != null && typeof full[1] === 'number' ? full[1] : undefined
      }
      clockNow.set(key, typeof op.value === 'number' ? op.value : undefined)
      emit({ k: 'clock', replica: key, value: op.value, existing })
      return
    }
    if (p.k !== 'init' && p.k !== 'bucket' && p.k !== 'set') {
      malformed(where, p.k === 'texts' ? 'a value in place of a text' : 'a write outside Concord\'s containers')
      return
    }
    const v = jsonOf(op)
    if (!v.ok) {
      malformed(where, v.why)
      return
    }
    switch (p.k) {
      case 'init': {
        const existing = initNow.has(key) ? initNow.get(key) : heldValue(get(L.ids.init, key))
        initNow.set(key, v.value)
        emit({ k: 'init', key, value: v.value, existing })
        return
      }
      case 'bucket': {
        const slot = slotOf(v.value)
        const index = ops.length
        emit({ k: 'reg', key, slot, entry: v.value, existing: undefined })
        supersede(key, predOf(op))
        regNow(key).mine.set(id, index)
        return
      }
      case 'set': {
        const at = `${p.set}\u0000${key}`
        const existing = recordsNow.has(at) ? recordsNow.get(at) : p.fresh ? undefined : heldValue(get(p.obj, key))
        recordsNow.set(at, v.value)
        emit({ k: 'record', set: p.set, id: key, record: v.value, existing })
        return
      }
    }
  }

  /**
   * Counts in UTF-16 code units, as JavaScript strings and the schema's
   * bounds count. An insertion's width is in its op; a deleted character of
   * the document is looked up (its element id is its cursor), and counts only
   * while it is visible: deleting a character someone already deleted
   * removes nothing, and counting it would let a payload grow a text past
   * its bound while claiming to keep its length.
   */
  function textOp(p: Extract<Place, { k: 'text' }>, op: Op, mapKey: string | undefined, id: string): void {
    const where = `texts/${p.key}`
    if (mapKey !== undefined) {
      malformed(where, 'a map op inside a text')
      return
    }
    const elem = (op as { readonly elemId?: unknown }).elemId
    if (op.action === 'set') {
      if (!isStr(op)) {
        malformed(where, `a ${typeName(op)} element in a text`)
        return
      }
      // Automerge's splice makes one element per code point; anything else is made by hand.
      if ((op as { readonly insert?: unknown }).insert !== true) {
        malformed(where, 'a character overwritten in place')
        return
      }
      if (!isOneCodePoint(op.value)) {
        malformed(where, `an element of ${op.value.length} UTF-16 units`)
        return
      }
    }
    const t = textCount(p)
    if (op.action === 'set') {
      t.inserted += (op.value as string).length
      insertedHere.set(id, { obj: p.obj, width: (op.value as string).length })
      return
    }
    if (typeof elem !== 'string' || deletedHere.has(elem)) return
    deletedHere.add(elem)
    const here = insertedHere.get(elem)
    if (here !== undefined) {
      if (here.obj === p.obj) t.deleted += here.width
      else incomplete = true
    } else if (p.fresh) incomplete = true
    else t.lookups.push(elem)
  }

  function textCount(p: Extract<Place, { k: 'text' }>): TextCount {
    let t = texts.get(p.key)
    if (t === undefined) {
      // Its place in the list is kept; the counts are filled in at the end.
      t = { index: ops.length, obj: p.obj, inserted: 0, deleted: 0, lookups: [] }
      texts.set(p.key, t)
      emit({ k: 'text', key: p.key, inserted: 0, deleted: 0 })
    }
    return t
  }

  /** The UTF-16 width of character `elem` if it is the visible one at `at`. */
  function widthAt(obj: string, at: number, elem: string): number | undefined {
    let all: Full[]
    try {
      all = h.getAll(obj, at, heads) as unknown as Full[]
    } catch {
      return undefined
    }
    for (const full of all) if (full[2] === elem && typeof full[1] === 'string') return full[1].length
    return undefined
  }

  let cursorLookups = 0
  let elementChecks = 0
  /** Adds the visible width of the document characters a text's deletes name. */
  function countDeleted(t: TextCount): void {
    let next: number | undefined
    for (const elem of t.lookups) {
      if (elementChecks >= MAX_ELEMENT_CHECKS) return
      let at = next
      let w = at === undefined ? undefined : (elementChecks++, widthAt(t.obj, at, elem))
      if (w === undefined) {
        if (cursorLookups >= MAX_CURSOR_LOOKUPS) continue
        cursorLookups++
        try {
          at = h.getCursorPosition(t.obj, elem, heads)
        } catch {
          // Not a character of this text: made by a change the document lacks.
          incomplete = true
          next = undefined
          continue
        }
        elementChecks++
        // A deleted character's cursor is the position of the next visible one, which has another id.
        w = widthAt(t.obj, at, elem) ?? 0
      }
      t.deleted += w
      next = at! + w
    }
  }

  for (const { bytes, change } of chunks) {
    if (inPayload.has(change.hash)) continue
    const { known, missing } = lookUp(change)
    inPayload.add(change.hash)
    // Already applied (a resend): it does nothing, whoever made it.
    if (known) continue
    if (missing) incomplete = true
    const creation = creationOf(change, bytes)
    if (creation !== undefined) {
      if (creation.kind === 'text') {
        made.set(creation.id, { k: 'text', key: creation.key, obj: creation.id, fresh: true })
        continue
      }
      // A set the document already has would get a second, empty map that could win the key and hide its records.
      const held = get(L.ids.sets, creation.key)
      if (held == null) {
        made.set(creation.id, { k: 'set', set: creation.key as SetName, obj: creation.id, fresh: true })
        continue
      }
    }
    authors.add(change.actor)
    change.ops.forEach((op, i) => {
      const id = `${change.startOp + i}@${change.actor}`
      const elem = (op as { readonly elemId?: unknown }).elemId
      const key = typeof op.key === 'string' && elem === undefined ? op.key : undefined
      const p = placeOf(op.obj)
      if (typeof op.action === 'string' && op.action.startsWith('make')) {
        // Ops inside what it makes land in an object Concord never made, and are malformed too.
        made.set(id, { k: 'other', where: `object ${id}` })
        malformed(whereOf(p, key), `makes a ${op.action.slice(4).toLowerCase()}`)
      } else if (op.action !== 'set' && op.action !== 'del') malformed(whereOf(p, key), `an op Concord never writes (${String(op.action)})`)
      else if (p.k === 'unknown') incomplete = true
      else if (p.k === 'text') textOp(p, op, key, id)
      else if (key === undefined) malformed(whereOf(p, key), 'a list op on a map')
      else mapOp(p, key, op, id)
    })
  }
  // Deleted characters of the document are looked up last, within bounds (MAX_CURSOR_LOOKUPS).
  for (const t of texts.values()) countDeleted(t)
  for (const [key, t] of texts) ops[t.index] = { k: 'text', key, inserted: t.inserted, deleted: t.deleted }
  return { ops: dropped.size === 0 ? ops : ops.filter((_, i) => !dropped.has(i)), authors: [...authors], incomplete }
}
