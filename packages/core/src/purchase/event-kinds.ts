/**
 * Event kinds: the one list of what a Concord event may say it is, with, for
 * each, the parts of the document it may write and the priority it gets on
 * its way to the relay.
 *
 * A kind is a label, and labels are never trusted: the write check refuses an
 * event whose update writes outside its kind's parts (a `line.update` that adds
 * a payment). Kinds arriving from the wire or a store stay strings until
 * `isEventKind` says otherwise.
 */
import type { SetName } from '../backends/backend.js'
import type { Priority } from '../log/envelope.js'
import { LIFECYCLE_ACTIONS } from './lifecycle.js'
import { GUARDED_FIELDS, HEADER_FIELDS, type GuardedField, type HeaderField, type VoidableSet } from './model.js'
import type { RegisterArea } from './schema.js'

/** A part of the document an event kind may touch. */
export type Part = RegisterArea | `set:${SetName}` | 'settings' | 'notes'

const LINE_ACTIONS = ['add', 'update', 'tax', 'move', 'remove', 'restore'] as const
const RECORDED = ['receipt', 'return', 'bill', 'payment', 'refund'] as const satisfies readonly (VoidableSet extends `${infer S}s` ? S : never)[]
type Recorded = (typeof RECORDED)[number]
type LifecycleAction = (typeof LIFECYCLE_ACTIONS)[number]

export type EventKind =
  | 'purchase.create'
  | 'purchase.number'
  | `header.${GuardedField | HeaderField}`
  | 'notes.edit'
  | `line.${(typeof LINE_ACTIONS)[number]}`
  | `${Recorded}.record`
  | `${Recorded}.void`
  | 'lifecycle.hold'
  | `lifecycle.${LifecycleAction}`
  /** A resolution, alone or with the commands it ran (it may write anything but numbering). */
  | 'conflict.resolve'
  /** Several commands of different kinds in one event. */
  | 'transaction'
  /** A raw Yjs update from a y-websocket client, wrapped by the relay. */
  | 'yjs.update'

export interface EventKindSpec {
  /** What the kind may write (besides ticking its own clock); `*` is anything but resolutions and numbering. */
  readonly parts: readonly Part[] | '*'
  readonly priority: Priority
}

const LINE_PARTS: readonly Part[] = ['lines', 'set:lines', 'statedTotal']
/** What a person waits on another for (an approval, a payment, a resolution) goes first; typing goes last. */
const URGENT_ACTIONS: ReadonlySet<LifecycleAction> = new Set(['submit', 'approve', 'reject', 'confirm', 'cancel'])

const spec = (parts: EventKindSpec['parts'], priority: Priority = 'normal'): EventKindSpec => ({ parts, priority })

const SPECS: ReadonlyMap<EventKind, EventKindSpec> = new Map<EventKind, EventKindSpec>([
  ['purchase.create', spec(['settings', 'currency', 'supplier', 'header', 'notes'])],
  ['purchase.number', spec(['number'])],
  ...GUARDED_FIELDS.map((f) => [`header.${f}`, spec([f], 'low')] as const),
  ...HEADER_FIELDS.map((f) => [`header.${f}`, spec(['header'], 'low')] as const),
  ['notes.edit', spec(['notes'], 'low')],
  ...LINE_ACTIONS.map((a) => [`line.${a}`, spec(LINE_PARTS)] as const),
  ...RECORDED.map((s) => [`${s}.record`, spec([`set:${s}s`], s === 'payment' || s === 'refund' ? 'high' : 'normal')] as const),
  ...RECORDED.map((s) => [`${s}.void`, spec(['set:voids'], s === 'payment' || s === 'refund' ? 'high' : 'normal')] as const),
  ['lifecycle.hold', spec(['hold'])],
  ...LIFECYCLE_ACTIONS.map((a) => [`lifecycle.${a}`, spec(['set:transitions'], URGENT_ACTIONS.has(a) ? 'high' : 'normal')] as const),
  ['conflict.resolve', spec('*', 'high')],
  ['transaction', spec('*')],
  ['yjs.update', spec('*')],
])

export const EVENT_KINDS: readonly EventKind[] = [...SPECS.keys()]

export function isEventKind(kind: string): kind is EventKind {
  return SPECS.has(kind as EventKind)
}

export function eventKindSpec(kind: EventKind): EventKindSpec {
  return SPECS.get(kind)!
}

/** The priority an event deserves on its way to the relay; a kind this version does not know is normal. */
export function priorityOf(kind: string): Priority {
  return isEventKind(kind) ? eventKindSpec(kind).priority : 'normal'
}

/** The kind of a void of a record of `set`. */
export const voidKindOf = (set: VoidableSet): EventKind => `${set.slice(0, -1) as Recorded}.void`
