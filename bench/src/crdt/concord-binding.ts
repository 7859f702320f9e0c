/**
 * The B cases through Concord: every local text edit is a purchase command
 * (`editNotes`), so it becomes an event (HLC stamp, envelope, log record), or
 * joins the event of the open replica transaction (`transact`), and
 * goes on the wire as the native protocol's event encoding; every remote
 * update is decoded and appended to the event log, which hands the backend
 * one batch. That is exactly the work a replica pays in production, and the
 * difference to the raw library is the layer's overhead.
 *
 * A purchase has no generic arrays or maps, so only the text cases run.
 */
import {
  type CrdtBackend, type EventEnvelope, type PurchaseId, type ReplicaId, backendNamed, createUlidFactory, parsePurchaseId, PurchaseReplica,
} from '@concord/core'
import { type LogSnapshot, seededRandom } from '@concord/core/internal'
import { decodeEvent, encodeEvent } from '@concord/core/protocol'
import type { ApplyThroughConcord, ConcordReplicaFactory } from './concord.js'
import type { CrdtReplica, UpdateHandler } from './adapter.js'

const DOC: PurchaseId = parsePurchaseId('01J0000000000000000BENCH01')

function encodeSnapshot(s: LogSnapshot): Uint8Array {
  const head = new TextEncoder().encode(JSON.stringify({ docId: s.docId, clock: s.clock, heads: s.heads }))
  const out = new Uint8Array(4 + head.length + s.doc.length)
  new DataView(out.buffer).setUint32(0, head.length)
  out.set(head, 4)
  out.set(s.doc, 4 + head.length)
  return out
}

function decodeSnapshot(bytes: Uint8Array): LogSnapshot {
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0)
  const head = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n))) as Omit<LogSnapshot, 'doc'>
  return { ...head, doc: bytes.subarray(4 + n) }
}

class ConcordTextReplica implements CrdtReplica {
  constructor(
    readonly replica: PurchaseReplica,
    onUpdate?: UpdateHandler,
  ) {
    if (onUpdate !== undefined) {
      replica.onChange(({ origin, events }) => {
        if (origin === 'local') for (const e of events) onUpdate(encodeEvent(e))
      })
    }
  }
  insertText(index: number, text: string): void {
    this.replica.editNotes(index, 0, text)
  }
  deleteText(index: number, length: number): void {
    this.replica.editNotes(index, length)
  }
  getText(): string {
    return this.replica.state().notes
  }
  insertArray(): void {
    throw new Error('a purchase has no generic arrays')
  }
  getArray(): unknown[] {
    return []
  }
  setMap(): void {
    throw new Error('a purchase has no generic maps')
  }
  getMap(): Record<string, unknown> {
    return {}
  }
  /** A replica transaction: the edits become one event (one update), as a Yjs transaction does. */
  transact(fn: () => void): void {
    this.replica.transaction(fn)
  }
  applyUpdate(update: Uint8Array): void {
    this.applyUpdates([update])
  }
  applyUpdates(updates: readonly Uint8Array[]): void {
    const events: EventEnvelope[] = updates.map((u) => decodeEvent(u))
    const r = this.replica.receive(events)
    if (r.rejected.length > 0) throw new Error(`rejected: ${r.rejected[0]!.error.message}`)
  }
  encodeState(): Uint8Array {
    return encodeSnapshot(this.replica.log.snapshot())
  }
  destroy(): void {
    this.replica.log.doc.destroy()
  }
}

export const applyThroughConcord: ApplyThroughConcord = (name) => {
  const backend: CrdtBackend = backendNamed(name)
  const rng = seededRandom(42)
  let next = 0
  const options = () => {
    const replica = `bench${next++}` as ReplicaId
    return { docId: DOC, replica, backend, now: Date.now, newId: createUlidFactory(Date.now, rng), user: 'bench', device: replica }
  }
  // Every replica of a case starts from the same purchase (its creation event).
  let genesis: readonly EventEnvelope[] | undefined
  const base = () => (genesis ??= PurchaseReplica.create(options(), { currency: 'EUR', supplier: 'Bench' }).log.events().slice())
  const factory: ConcordReplicaFactory = {
    library: `@concord/core (${name})`,
    supports: { text: true, array: false, map: false },
    create: (onUpdate) => new ConcordTextReplica(PurchaseReplica.fromEvents(options(), base()), onUpdate),
    load: (state, onUpdate) => new ConcordTextReplica(PurchaseReplica.fromSnapshot(options(), decodeSnapshot(state)), onUpdate),
  }
  return factory
}
