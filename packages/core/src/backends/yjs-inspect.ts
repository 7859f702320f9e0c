/**
 * The Yjs update inspector: what a v1 update would do to a Concord Yjs
 * document (effect.ts), read from one `Y.decodeUpdate` pass and lookups in
 * the document's struct store, without applying it. The relay runs it on
 * every incoming write, so it never copies the document and never touches
 * it: no root type is created, no item is split (Yjs's own lookups that
 * split, getItemCleanStart and iterateDeletedStructs, are not used).
 *
 * It follows how Yjs integrates an update (utils/encoding.js integrateStructs,
 * Item.getMissing and Item.integrate, DeleteSet.readAndApplyDeleteSet):
 *
 * - an item without a parent takes its parent and key from its origin, else
 *   from its right origin; either one being a GC drops the item;
 * - a change of a client whose earlier changes neither the document nor the
 *   update holds, and anything that refers to one, is parked (incomplete);
 * - a map item that becomes a key's value deletes the value before it
 *   whether or not the delete set says so, even when the new item is
 *   already deleted content: a "write" can be a hidden delete;
 * - the items landing on one map key settle by chain: each one's origin
 *   the last clock of the one before, starting from the key's current item,
 *   leaves the last one holding the key; anything else is a conflict Yjs
 *   settles by client ids, so every value that may win is listed and the
 *   document's value as deleted;
 * - the delete set applies after the structs, so it can delete the update's
 *   own items: those are net effects of nothing.
 *
 * Some updates that decode make Y.applyUpdate throw halfway or link an item
 * into another type's list (a later change of the same author as origin, an
 * empty struct, an empty delete range past the document, a struct that
 * overlaps the document's but lands elsewhere, a client given twice): those
 * are listed as `malformed` at 'update'.
 *
 * It never throws on bytes that decode: what it cannot follow is listed as
 * `malformed`, so the checker refuses it.
 */
import * as Y from 'yjs'
import { ConcordError, fail } from '../errors.js'
import type { SetName } from './backend.js'
import { SET_NAMES } from './backend.js'
import type { EffectOp, UpdateEffect } from './effect.js'

// The layout's names, repeated from yjs.ts: yjs.ts imports this module, so
// this one may not import it back (scripts/check-cycles.mjs).
const SEP = '\u0000'
const TEXT_PREFIX = 't:'
const SET_OF_ROOT: ReadonlyMap<string, SetName> = new Map(SET_NAMES.map((s) => [`set:${s}`, s]))

/** What the inspector needs of a YjsDoc: taken by shape, see above. */
export interface InspectableYjsDoc {
  readonly ydoc: Y.Doc
}

type Struct = Y.Item | Y.GC | Y.Skip
/** What the document's share map holds. */
type AnyType = Y.AbstractType<Y.YEvent<any>>
type Stored = Y.Item | Y.GC

/** Where an item of the update lands once Yjs integrates it. */
type Place =
  | { readonly t: 'in'; readonly root: string; readonly sub: string | null; readonly nested: boolean }
  /** Integrated as a GC struct: no content anywhere. */
  | { readonly t: 'gone' }
  /** Parked by Yjs: it depends on a change neither the update nor the document holds. */
  | { readonly t: 'missing' }
  /** Yjs throws while applying it: it refers to a later change of its own author. */
  | { readonly t: 'broken' }

const GONE: Place = { t: 'gone' }
const MISSING: Place = { t: 'missing' }
const BROKEN: Place = { t: 'broken' }

/** One client's structs in the update. */
interface Run {
  readonly structs: Struct[]
  /** The client's clock in the document: structs below it are already there. */
  readonly state: number
  /** Where the clocks Yjs can integrate end: structs at or after it are parked behind a gap. */
  reach: number
  /** Where Yjs stops integrating because a change depends on one it lacks: it parks the rest of the client's changes. */
  parked: number
  /** The last item pushed, for the next item's predecessor. */
  last: Y.Item | undefined
}

type RootKind =
  | { readonly k: 'init' | 'regs' | 'clock' }
  | { readonly k: 'set'; readonly set: SetName }
  | { readonly k: 'text'; readonly key: string }
  | { readonly k: 'foreign' }

function rootKind(root: string): RootKind {
  if (root === 'init' || root === 'regs' || root === 'clock') return { k: root }
  const set = SET_OF_ROOT.get(root)
  if (set !== undefined) return { k: 'set', set }
  if (root.startsWith(TEXT_PREFIX)) return { k: 'text', key: root.slice(TEXT_PREFIX.length) }
  return { k: 'foreign' }
}

/** A key of a Concord map root, as the effect names it. */
interface MapKey {
  readonly root: string
  readonly kind: RootKind
  readonly sub: string
}

const at = (root: string, sub: string | null) => (sub === null ? root : `${root}[${JSON.stringify(sub)}]`)

function contentName(c: unknown): string {
  if (c instanceof Y.ContentString) return 'a string'
  if (c instanceof Y.ContentAny) return c.arr.length === 1 ? 'a value' : `a list of ${c.arr.length} values`
  if (c instanceof Y.ContentType) return 'a nested type'
  if (c instanceof Y.ContentFormat) return 'a text format'
  if (c instanceof Y.ContentEmbed) return 'an embed'
  if (c instanceof Y.ContentBinary) return 'binary content'
  if (c instanceof Y.ContentJSON) return 'legacy JSON content'
  if (c instanceof Y.ContentDoc) return 'a subdocument'
  return 'unknown content'
}

/**
 * The value a map item gives its key, as Y.Map.get reads it (its last
 * element), as plain data: a nested type as its JSON and a subdocument by
 * its guid, since live Yjs objects hold their document and a checker
 * walking one would never finish.
 */
function valueOf(item: Y.Item): unknown {
  const c = item.content
  if (c instanceof Y.ContentAny || c instanceof Y.ContentJSON) return c.arr[c.arr.length - 1]
  if (c instanceof Y.ContentString) return c.str[c.str.length - 1]
  if (c instanceof Y.ContentType) return c.type.toJSON()
  if (c instanceof Y.ContentDoc) return { subdocument: c.doc?.guid ?? null }
  const all = c.getContent()
  return all[all.length - 1]
}

/**
 * The index of the struct holding `clock` in a client's structs (ascending,
 * contiguous), or -1. Zero-length structs (hostile input) never hold a clock.
 */
function indexOfClock(structs: readonly Struct[], clock: number): number {
  let lo = 0
  let hi = structs.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if ((structs[mid] as Struct).id.clock <= clock) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  if (found < 0) return -1
  const s = structs[found] as Struct
  return clock < s.id.clock + s.length ? found : -1
}

/** A map item Concord could have written: one value. */
const isValue = (it: Y.Item) => it.content instanceof Y.ContentAny && it.content.arr.length === 1

const idText = (client: number, clock: number) => `${client}:${clock}`

/**
 * The last item of the chain `items` make from `head` (the key's current
 * item in the document, if any), or undefined unless every item is on it.
 */
function chainEnd(items: readonly Y.Item[], head: Y.Item | undefined): Y.Item | undefined {
  const byOrigin = new Map<string, Y.Item>()
  for (const it of items) {
    if (it.rightOrigin !== null) return undefined
    const from = it.origin === null ? '' : idText(it.origin.client, it.origin.clock)
    if (byOrigin.has(from)) return undefined
    byOrigin.set(from, it)
  }
  let at = head === undefined ? '' : idText(head.id.client, head.id.clock + head.length - 1)
  let last: Y.Item | undefined
  for (let n = 0; n < items.length; n++) {
    const next = byOrigin.get(at)
    if (next === undefined) return undefined
    last = next
    at = idText(next.id.client, next.id.clock + next.length - 1)
  }
  return last
}

/** Merged, sorted [start, end) ranges: a delete set may repeat or overlap ranges, and Yjs deletes each item once. */
function mergeRanges(items: readonly { readonly clock: number; readonly len: number }[]): [number, number][] {
  const sorted = items.filter((d) => d.len > 0).map((d): [number, number] => [d.clock, d.clock + d.len]).sort((a, b) => a[0] - b[0])
  const out: [number, number][] = []
  for (const r of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && r[0] <= last[1]) last[1] = Math.max(last[1], r[1])
    else out.push(r)
  }
  return out
}

/** How many clocks of [start, end) the ranges cover. */
function overlap(ranges: readonly (readonly [number, number])[] | undefined, start: number, end: number): number {
  if (ranges === undefined) return 0
  let lo = 0
  let hi = ranges.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((ranges[mid] as readonly [number, number])[1] <= start) lo = mid + 1
    else hi = mid
  }
  let n = 0
  for (let i = lo; i < ranges.length; i++) {
    const [s, e] = ranges[i] as readonly [number, number]
    if (s >= end) break
    n += Math.min(e, end) - Math.max(s, start)
  }
  return n
}

/** Throws INVALID_UPDATE unless the bytes decode; otherwise lists what they would do to `doc`. Never throws on decoded input. */
export function inspectYjsUpdate(doc: InspectableYjsDoc, payload: Uint8Array): UpdateEffect {
  if (!(payload instanceof Uint8Array) || payload.length < 2) fail('INVALID_UPDATE', 'a Yjs update has at least two bytes')
  let decoded: ReturnType<typeof Y.decodeUpdate>
  try {
    decoded = Y.decodeUpdate(payload)
  } catch (e) {
    throw new ConcordError('INVALID_UPDATE', `not a Yjs update: ${(e as Error).message}`, {}, { cause: e })
  }
  const inspection = new Inspection(doc.ydoc, decoded.structs, decoded.ds.clients)
  try {
    return inspection.run()
  } catch (e) {
    // A document store or a decoded struct in a shape Yjs itself would not
    // make: refuse what cannot be followed rather than throw at the relay.
    return {
      ops: [...inspection.ops, { k: 'malformed', where: 'update', why: `it could not be inspected: ${(e as Error).message}` }],
      authors: inspection.authorList(),
      incomplete: inspection.incomplete,
    }
  }
}

/** Per document, its root types' names: a reverse of `share`, kept across inspections (Yjs's findRootTypeKey scans it). */
const ROOT_NAMES = new WeakMap<Y.Doc, Map<AnyType, string>>()

class Inspection {
  readonly ops: EffectOp[] = []
  incomplete = false
  private readonly store: Y.Doc['store']
  private readonly runs = new Map<number, Run>()
  private readonly authors = new Set<number>()
  /** The update's own delete set, per client, merged. */
  private readonly ds = new Map<number, [number, number][]>()
  /** Per client, the highest clock of an empty delete range (Yjs throws re-encoding one it cannot apply). */
  private readonly emptyDeletes = new Map<number, number>()
  private readonly places = new Map<Y.Item, Place>()
  /** Each item's previous item of the same client in the update: Yjs integrates a client's changes in order, so one parked parks the rest. */
  private readonly predecessor = new Map<Y.Item, Y.Item>()
  private readonly foreign = new Set<string>()
  private readonly malformedSeen = new Set<string>()
  private readonly texts = new Map<string, { inserted: number; deleted: number }>()
  /** The update's items that land on each Concord map key, by `root\0key`, in update order. */
  private readonly landings = new Map<string, { readonly key: MapKey; readonly items: Y.Item[]; partial: boolean }>()
  /** Keys an item of this update holds once it applied. */
  private readonly held = new Set<string>()
  /** Keys whose document value is listed as deleted. */
  private readonly gone = new Set<string>()
  /** Live document map items the delete set removes, by `root\0key`. */
  private readonly dsDeleted = new Map<string, MapKey>()

  constructor(
    private readonly ydoc: Y.Doc,
    private readonly structs: readonly Struct[],
    dsClients: ReadonlyMap<number, readonly { readonly clock: number; readonly len: number }[]>,
  ) {
    this.store = ydoc.store
    for (const [client, items] of dsClients) {
      this.ds.set(client, mergeRanges(items))
      for (const d of items) if (d.len === 0) this.emptyDeletes.set(client, Math.max(d.clock, this.emptyDeletes.get(client) ?? 0))
    }
  }

  authorList(): string[] {
    return [...this.authors].map(String)
  }

  run(): UpdateEffect {
    this.groupRuns()
    for (const run of this.runs.values()) {
      for (const s of run.structs) {
        if (s instanceof Y.Skip) continue
        // Parked behind a gap: it applies when the gap fills, so its effect is not known now.
        if (s.id.clock >= run.reach) this.incomplete = true
        else if (s instanceof Y.Item && (s.id.clock + s.length > run.state || (s.length === 0 && s.id.clock >= run.state))) {
          if (this.item(s, Math.max(0, run.state - s.id.clock)) === MISSING) run.parked = Math.min(run.parked, s.id.clock)
        } else if (s instanceof Y.Item && this.place(s) === MISSING) {
          // Already held, but Yjs looks for its references before it sees that, and parks it.
          this.incomplete = true
          run.parked = Math.min(run.parked, s.id.clock)
        }
      }
    }
    this.settleKeys()
    this.deletes()
    for (const [id, key] of this.dsDeleted) if (!this.held.has(id)) this.keyGone(id, key)
    for (const [key, { inserted, deleted }] of this.texts) {
      if (inserted > 0 || deleted > 0) this.ops.push({ k: 'text', key, inserted, deleted })
    }
    for (const root of this.foreign) this.ops.push({ k: 'foreign', root })
    return { ops: this.ops, authors: this.authorList(), incomplete: this.incomplete }
  }

  /**
   * Per client, its structs in clock order and how far Yjs can integrate
   * them. Yjs reads one group per client and a later group of the same
   * client replaces an earlier one (readClientsStructRefs): a group that
   * does not continue the one before it is such a repeat.
   */
  private groupRuns(): void {
    let prev: Struct | undefined
    for (const s of this.structs) {
      const client = s.id.client
      if (!(s instanceof Y.Skip)) this.authors.add(client)
      let run = this.runs.get(client)
      const continues = prev !== undefined && prev.id.client === client && prev.id.clock + prev.length === s.id.clock
      if (run === undefined || !continues) {
        if (run !== undefined) this.malformed('update', `the changes of client ${client} are given twice; Yjs keeps only the last`)
        const state = Y.getState(this.store, client)
        run = { structs: [], state, reach: state, parked: Infinity, last: undefined }
        this.runs.set(client, run)
      }
      // No Yjs encoder writes an empty struct, and one in the store breaks Yjs's binary searches (findIndexSS).
      if (s.length === 0 && !(s instanceof Y.Skip)) this.malformed('update', 'an empty change; Yjs can throw applying it, now or with a later update')
      run.structs.push(s)
      if (s instanceof Y.Item) {
        if (run.last !== undefined) this.predecessor.set(s, run.last)
        run.last = s
      }
      prev = s
    }
    for (const run of this.runs.values()) {
      for (const s of run.structs) {
        if (s instanceof Y.Skip) continue
        if (s.id.clock > run.reach) break
        run.reach = Math.max(run.reach, s.id.clock + s.length)
      }
    }
  }

  /** The struct holding `id`: the document's first (Yjs looks there first), else the update's, else none. */
  private lookup(id: Y.ID): { readonly s: Stored; readonly own: boolean } | undefined {
    const state = Y.getState(this.store, id.client)
    if (id.clock < state) {
      const structs = this.store.clients.get(id.client) as Stored[]
      return { s: structs[Y.findIndexSS(structs, id.clock)] as Stored, own: false }
    }
    const run = this.runs.get(id.client)
    if (run === undefined || id.clock >= run.reach) return undefined
    const i = indexOfClock(run.structs, id.clock)
    const s = i < 0 ? undefined : run.structs[i]
    return s === undefined || s instanceof Y.Skip ? undefined : { s, own: true }
  }

  // ------------------------------------------------------------ placement

  private rootName(type: AnyType): string {
    let names = ROOT_NAMES.get(this.ydoc)
    let name = names?.get(type)
    if (name === undefined) {
      // New roots, or a root Yjs replaced by its typed version (getText on one an update made): look again.
      names = new Map()
      for (const [n, t] of this.ydoc.share) names.set(t, n)
      ROOT_NAMES.set(this.ydoc, names)
      name = names.get(type)
    }
    // A root type the document does not list cannot exist; the empty name is nobody's.
    return name ?? ''
  }

  /** The root a type hangs from, through any nesting (iterative: nesting depth is the writer's choice). */
  private rootOf(type: AnyType): string {
    let t = type
    while (t._item !== null && t._item.parent instanceof Y.AbstractType) t = t._item.parent
    return this.rootName(t)
  }

  private docPlace(item: Y.Item): Place {
    const parent = item.parent
    if (!(parent instanceof Y.AbstractType)) return GONE
    if (parent._item === null) return { t: 'in', root: this.rootName(parent), sub: item.parentSub, nested: false }
    return { t: 'in', root: this.rootOf(parent), sub: null, nested: true }
  }

  /** Where an item of the update lands. Dependency chains are as long as the update: resolved with a stack, memoized. */
  private place(start: Y.Item): Place {
    const known = this.places.get(start)
    if (known !== undefined) return known
    const stack: Y.Item[] = [start]
    const onStack = new Set<Y.Item>(stack)
    while (stack.length > 0) {
      const cur = stack[stack.length - 1] as Y.Item
      const r = this.step(cur)
      if (r instanceof Y.Item) {
        if (onStack.has(r)) {
          // A cycle of cross-client references: Yjs parks every item on it.
          this.places.set(cur, MISSING)
        } else {
          stack.push(r)
          onStack.add(r)
          continue
        }
      } else this.places.set(cur, r)
      stack.pop()
      onStack.delete(cur)
    }
    return this.places.get(start) ?? MISSING
  }

  /** The place of a struct some item refers to, or the update item still to place first. */
  private placeOfRef(ref: { readonly s: Stored; readonly own: boolean }): Place | Y.Item {
    if (!(ref.s instanceof Y.Item)) return GONE
    if (!ref.own) return this.docPlace(ref.s)
    return this.places.get(ref.s) ?? ref.s
  }

  /** One resolution step for `it`: its place, or an update item whose place it needs first. */
  private step(it: Y.Item): Place | Y.Item {
    const before = this.predecessor.get(it)
    if (before !== undefined) {
      const p = this.places.get(before)
      if (p === undefined) return before
      if (p === MISSING) return MISSING
    }
    const parent = it.parent as unknown
    if (typeof parent === 'string') return { t: 'in', root: parent, sub: it.parentSub, nested: false }
    const parentId = parent instanceof Y.ID ? parent : null
    const left = it.origin === null ? null : this.lookup(it.origin)
    const right = it.rightOrigin === null ? null : this.lookup(it.rightOrigin)
    const up = parentId === null ? null : this.lookup(parentId)
    // Yjs first parks an item that refers to another author's change it lacks
    // (Item.getMissing); one of its own author's it assumes it holds, and
    // throws looking up one that comes later.
    const own = (id: Y.ID | null) => id !== null && id.client === it.id.client
    if ((left === undefined && !own(it.origin)) || (right === undefined && !own(it.rightOrigin)) || (up === undefined && !own(parentId))) return MISSING
    const later = (id: Y.ID | null) => own(id) && (id as Y.ID).clock >= it.id.clock
    if (later(it.origin) || later(it.rightOrigin) || later(parentId)) return BROKEN
    if (left === undefined || right === undefined || up === undefined) return MISSING
    if (up !== null) {
      // Yjs takes the parent item's type; anything but a type leaves the item without a parent.
      if (!(up.s instanceof Y.Item) || !(up.s.content instanceof Y.ContentType)) return GONE
      if (!up.own) return { t: 'in', root: this.rootOf(up.s.content.type), sub: null, nested: true }
      const p = this.placeOfRef(up)
      return p instanceof Y.Item ? p : p.t === 'in' ? { t: 'in', root: p.root, sub: null, nested: true } : p
    }
    const lp = left === null ? null : this.placeOfRef(left)
    if (lp instanceof Y.Item) return lp
    const rp = right === null ? null : this.placeOfRef(right)
    if (rp instanceof Y.Item) return rp
    // Yjs parks before it checks for GCs, and parks what follows a change it cannot apply.
    if (lp?.t === 'missing' || rp?.t === 'missing') return MISSING
    if (lp?.t === 'broken' || rp?.t === 'broken') return BROKEN
    if (lp?.t === 'gone' || rp?.t === 'gone') return GONE
    return lp ?? rp ?? GONE
  }

  // ------------------------------------------------------------ new items

  private malformed(where: string, why: string): void {
    const id = `${where}\u0000${why}`
    if (this.malformedSeen.has(id)) return
    this.malformedSeen.add(id)
    this.ops.push({ k: 'malformed', where, why })
  }

  private text(key: string): { inserted: number; deleted: number } {
    let t = this.texts.get(key)
    if (t === undefined) this.texts.set(key, (t = { inserted: 0, deleted: 0 }))
    return t
  }

  /** Lists what one item of the update does and returns where it lands. `offset`: how many of its first clocks the document already holds. */
  private item(it: Y.Item, offset: number): Place {
    const p = this.place(it)
    if (p.t === 'missing') this.incomplete = true
    else if (p.t === 'broken') this.malformed('update', 'a change refers to a later change of its own author; Yjs throws applying it')
    else if (p.t === 'in') {
      if (offset > 0 && !this.continues(it, offset, p)) {
        this.malformed('update', 'a change overlaps one the document holds but lands somewhere else; Yjs would link it into the wrong place')
      } else this.landed(it, offset, p)
    }
    return p
  }

  /**
   * For an item the document already holds the start of: Yjs integrates the
   * rest right after the held part, whatever the item says its origin is,
   * and a map item there deletes what it follows. That is only the item's
   * own start when the held part is in the same place.
   */
  private continues(it: Y.Item, offset: number, p: Extract<Place, { t: 'in' }>): boolean {
    const held = this.lookup(Y.createID(it.id.client, it.id.clock + offset - 1))
    if (held === undefined || held.own || !(held.s instanceof Y.Item)) return false
    const q = this.docPlace(held.s)
    return q.t === 'in' && !q.nested && !p.nested && q.root === p.root && q.sub === p.sub
  }

  private landed(it: Y.Item, offset: number, p: Extract<Place, { t: 'in' }>): void {
    const kind = rootKind(p.root)
    if (kind.k === 'foreign') {
      this.foreign.add(p.root)
      return
    }
    const content = it.content
    if (p.nested) return this.malformed(p.root, `${contentName(content)} inside a nested type`)
    if (kind.k === 'text') {
      if (content instanceof Y.ContentDeleted) return
      if (p.sub !== null) return this.malformed(at(p.root, p.sub), 'a map entry on a text')
      if (!(content instanceof Y.ContentString)) return this.malformed(p.root, `${contentName(content)} in a text`)
      const start = it.id.clock + offset
      const end = it.id.clock + it.length
      this.text(kind.key).inserted += end - start - overlap(this.ds.get(it.id.client), start, end)
      return
    }
    if (p.sub === null) {
      if (!(content instanceof Y.ContentDeleted)) this.malformed(p.root, `${contentName(content)} as a list item of a map`)
      return
    }
    const id = `${p.root}${SEP}${p.sub}`
    let landing = this.landings.get(id)
    if (landing === undefined) this.landings.set(id, (landing = { key: { root: p.root, kind, sub: p.sub }, items: [], partial: false }))
    landing.items.push(it)
    // Part of it already held: Yjs integrates the rest after that part, not after its origin.
    if (offset > 0) landing.partial = true
    if (!(content instanceof Y.ContentDeleted) && !isValue(it)) this.malformed(at(p.root, p.sub), `${contentName(content)}, not one JSON value`)
  }

  /** Whether the update's own delete set removes the clock that carries a map item's value (its last). */
  private dead(it: Y.Item): boolean {
    const last = it.id.clock + Math.max(it.length, 1) - 1
    return overlap(this.ds.get(it.id.client), last, last + 1) > 0
  }

  /**
   * What the items landing on each map key leave there. When they form one
   * chain from the key's current item (each one's origin the last clock of
   * the one before, no right origins: how every Yjs map write is made), the
   * last of the chain holds the key and the others are overwritten within
   * the update. Anything else is a conflict Yjs settles by client ids: every
   * value that may win is listed, and the document's value as deleted.
   */
  private settleKeys(): void {
    for (const [id, { key, items, partial }] of this.landings) {
      const head = this.ydoc.share.get(key.root)?._map.get(key.sub)
      const live = head === undefined || head.deleted ? undefined : head
      const existing = live === undefined ? undefined : valueOf(live)
      const last = partial ? undefined : chainEnd(items, head)
      if (last !== undefined) {
        if (this.dead(last) || last.content instanceof Y.ContentDeleted) {
          if (live !== undefined) this.keyGone(id, key)
        } else {
          // It holds the key: the document's value goes as this write's `existing`, not as a delete.
          this.held.add(id)
          if (isValue(last)) this.write(key, (last.content as Y.ContentAny).arr[0], existing)
        }
        continue
      }
      let before = existing
      for (const it of items) {
        if (!isValue(it) || this.dead(it)) continue
        const value = (it.content as Y.ContentAny).arr[0] as unknown
        this.write(key, value, before)
        before = value
      }
      if (live !== undefined) this.keyGone(id, key)
    }
  }

  private write({ kind, root, sub }: MapKey, value: unknown, existing: unknown): void {
    switch (kind.k) {
      case 'init':
        return void this.ops.push({ k: 'init', key: sub, value, existing })
      case 'regs': {
        const cut = sub.indexOf(SEP)
        if (cut < 0) return this.malformed(at(root, sub), 'a register entry without an event id')
        return void this.ops.push({ k: 'reg', key: sub.slice(0, cut), slot: sub.slice(cut + 1), entry: value, existing })
      }
      case 'clock':
        return void this.ops.push({ k: 'clock', replica: sub, value, existing: typeof existing === 'number' ? existing : undefined })
      case 'set':
        return void this.ops.push({ k: 'record', set: kind.set, id: sub, record: value, existing })
      default:
        return
    }
  }

  private liveItem(root: string, sub: string): Y.Item | undefined {
    const item = this.ydoc.share.get(root)?._map.get(sub)
    return item === undefined || item.deleted ? undefined : item
  }

  // ------------------------------------------------------------ deletes

  /** The delete set against the document; the update's own items it deletes were settled in item(). */
  private deletes(): void {
    for (const [client, clock] of this.emptyDeletes) {
      const run = this.runs.get(client)
      const applied = run === undefined ? Y.getState(this.store, client) : Math.min(run.reach, run.parked)
      if (clock >= applied) this.malformed('update', 'an empty delete range past what the document holds; Yjs throws applying it')
    }
    for (const [client, ranges] of this.ds) {
      const state = Y.getState(this.store, client)
      const reach = this.runs.get(client)?.reach ?? state
      const structs = this.store.clients.get(client) as Stored[] | undefined
      for (const [start, end] of ranges) {
        if (end > reach) this.incomplete = true
        if (start >= state || structs === undefined) continue
        const stop = Math.min(end, state)
        for (let i = Y.findIndexSS(structs, start); i < structs.length; i++) {
          const s = structs[i] as Stored
          if (s.id.clock >= stop) break
          if (s instanceof Y.Item && !s.deleted) this.deleteDocItem(s, start, stop)
        }
      }
    }
  }

  private deleteDocItem(s: Y.Item, start: number, stop: number): void {
    const p = this.docPlace(s)
    if (p.t !== 'in') return
    const kind = rootKind(p.root)
    if (kind.k === 'foreign') {
      this.foreign.add(p.root)
      return
    }
    if (p.nested) return this.malformed(p.root, 'a delete inside a nested type')
    if (kind.k === 'text') {
      if (p.sub === null && s.content instanceof Y.ContentString) {
        this.text(kind.key).deleted += Math.min(stop, s.id.clock + s.length) - Math.max(start, s.id.clock)
      }
      return
    }
    if (p.sub === null) return
    // Only the item's last clock carries the key's value (a split leaves the rest live).
    const last = s.id.clock + s.length - 1
    if (last < start || last >= stop || this.liveItem(p.root, p.sub) !== s) return
    const id = `${p.root}${SEP}${p.sub}`
    if (!this.dsDeleted.has(id)) this.dsDeleted.set(id, { root: p.root, kind, sub: p.sub })
  }

  /** Lists the document's value of a key as deleted (once). */
  private keyGone(id: string, { kind, root, sub }: MapKey): void {
    if (this.gone.has(id)) return
    this.gone.add(id)
    switch (kind.k) {
      case 'init':
        return void this.ops.push({ k: 'initDelete', key: sub })
      case 'regs': {
        const cut = sub.indexOf(SEP)
        if (cut < 0) return this.malformed(at(root, sub), 'a register entry without an event id')
        return void this.ops.push({ k: 'regDelete', key: sub.slice(0, cut), slot: sub.slice(cut + 1) })
      }
      case 'clock':
        return void this.ops.push({ k: 'clockDelete', replica: sub })
      case 'set':
        return void this.ops.push({ k: 'recordDelete', set: kind.set, id: sub })
      default:
        return
    }
  }
}
