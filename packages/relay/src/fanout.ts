/**
 * Fan-out of one commit group. The group's new events are merged per
 * document; each event is encoded once, and each document's `events` frame
 * is spliced from those bodies once and the same bytes are written to every
 * native subscriber, and one merged Yjs update to every y-websocket
 * connection of the room (the sender included: for y-websocket the echo is
 * the acknowledgement). A native sender gets a frame without its own events
 * (it has them and holds their ack), spliced for it from the same bodies.
 * Acks and rejects go out after the frames, so a client that
 * sees an ack already holds every event the ack's group stored before it. */
import * as Y from 'yjs'
import type { EventId, PurchaseId } from '@concord/core'
import { type CloseCodeInfo, type SequencedBody, type SequencedEvent, encodeEventBody, encodeEventsFrameOfBodies, encodeYMessage } from '@concord/core/protocol'

/** A native connection, as the fan-out sees it. */
export interface NativeSubscriber {
  readonly id: string
  /** `frame` is the prebuilt `events` frame of exactly `items` and `cursor`. */
  deliverEvents(docId: PurchaseId, items: readonly SequencedEvent[], frame: Uint8Array, cursor: number): void
  /** Sent only to subscribers that have caught up (the others get it after their catch-up). */
  deliverLive(docId: PurchaseId, bytes: Uint8Array): void
  send(bytes: Uint8Array): boolean
  close(info: CloseCodeInfo, reason?: string): void
}

/** A y-websocket connection, as the fan-out sees it. */
export interface YSubscriber {
  readonly id: string
  send(bytes: Uint8Array): boolean
  close(info: CloseCodeInfo, reason?: string): void
}

/** What the fan-out needs of a loaded document. */
export interface FanoutTarget {
  readonly docId: PurchaseId
  readonly natives: ReadonlySet<NativeSubscriber>
  readonly rooms: ReadonlySet<YSubscriber>
  readonly yjs: boolean
}

interface PendingDoc {
  readonly doc: FanoutTarget
  readonly items: SequencedEvent[]
  readonly own: Map<NativeSubscriber, Set<EventId>>
}

// Frames of a group can exceed a client's push limit; the decoder's limit applies on the client side.
const NO_LIMIT = { maxFrameBytes: Number.MAX_SAFE_INTEGER }

export class Fanout {
  private docs = new Map<PurchaseId, PendingDoc>()
  private after: { peer: { send(bytes: Uint8Array): boolean }; bytes: Uint8Array }[] = []
  /** Counts for benchmarks and tests: frames encoded, frames written. */
  framesEncoded = 0
  framesWritten = 0

  /** New stored events of a document; `sender` (a native connection) does not get its own back. */
  add(doc: FanoutTarget, items: readonly SequencedEvent[], sender?: NativeSubscriber): void {
    if (items.length === 0) return
    let p = this.docs.get(doc.docId)
    if (p === undefined) {
      p = { doc, items: [], own: new Map() }
      this.docs.set(doc.docId, p)
    }
    p.items.push(...items)
    if (sender !== undefined) {
      let own = p.own.get(sender)
      if (own === undefined) p.own.set(sender, (own = new Set()))
      for (const i of items) own.add(i.event.id)
    }
  }

  /** A message that must follow this group's frames (ack, reject). */
  later(peer: { send(bytes: Uint8Array): boolean }, bytes: Uint8Array): void {
    this.after.push({ peer, bytes })
  }

  flush(): void {
    const docs = this.docs
    const after = this.after
    this.docs = new Map()
    this.after = []
    for (const { doc, items, own } of docs.values()) {
      items.sort((a, b) => a.seq - b.seq)
      const cursor = (items[items.length - 1] as SequencedEvent).seq
      let bodies: SequencedBody[] | undefined
      const bodiesOf = (): SequencedBody[] => (bodies ??= items.map((i) => ({ seq: i.seq, body: encodeEventBody(i.event) })))
      let shared: Uint8Array | undefined
      for (const sub of doc.natives) {
        const mine = own.get(sub)
        if (mine === undefined) {
          if (shared === undefined) {
            shared = encodeEventsFrameOfBodies(doc.docId, bodiesOf(), cursor)
            this.framesEncoded++
          }
          sub.deliverEvents(doc.docId, items, shared, cursor)
        } else {
          const keep = items.map((i) => !mine.has(i.event.id))
          const rest = items.filter((_, k) => keep[k])
          if (rest.length === 0) continue
          const frame = encodeEventsFrameOfBodies(doc.docId, bodiesOf().filter((_, k) => keep[k]), cursor)
          this.framesEncoded++
          sub.deliverEvents(doc.docId, rest, frame, cursor)
        }
        this.framesWritten++
      }
      if (doc.yjs && doc.rooms.size > 0) {
        const payloads = items.map((i) => i.event.payload)
        const update = payloads.length === 1 ? (payloads[0] as Uint8Array) : Y.mergeUpdates(payloads)
        const bytes = encodeYMessage({ t: 'update', update }, NO_LIMIT)
        this.framesEncoded++
        for (const peer of doc.rooms) {
          peer.send(bytes)
          this.framesWritten++
        }
      }
    }
    for (const { peer, bytes } of after) peer.send(bytes)
  }
}
