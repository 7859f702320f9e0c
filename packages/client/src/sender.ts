/**
 * Draining the outbox onto the open session: documents with the most urgent
 * waiting change first (then the longest waiting), within the in-flight
 * limits (events and bytes), in push frames under the relay's frame limit.
 * An event too large for any frame is refused locally instead of wedging its
 * document's outbox. One drain runs at a time; a kick during a drain runs
 * another pass after it.
 */
import { type EventEnvelope, type Priority, type PurchaseId, ConcordError } from '@concord/core'
import type { Connector } from './connector.js'
import { type ClientContext, eventRoomIn } from './context.js'
import type { Inbound } from './inbound.js'
import type { OutboxEntry } from './storage/store.js'

export const RANK: Record<Priority, number> = { high: 0, normal: 1, low: 2 }

export class Sender {
  private scheduled = false
  private pumping = false
  private again = false

  constructor(
    private readonly ctx: ClientContext,
    private readonly connector: Connector,
    private readonly inbound: Inbound,
  ) {}

  /** Drains soon (once per microtask, however often it is called). */
  kick(): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      void this.pump().catch((e) => this.connector.storeFailed(e))
    })
  }

  /** The order documents are drained in: highest pending priority first, then the longest waiting. */
  private drainOrder(): PurchaseId[] {
    const { ctx } = this
    const rows: { id: PurchaseId; rank: number; since: string }[] = []
    for (const [id, list] of ctx.outbox.byDoc()) {
      const d = ctx.docs.get(id)
      if (d === undefined || d.dead !== null || list.length === 0 || !ctx.subs.has(id)) continue
      let rank = d.priority !== null ? RANK[d.priority] : 2
      for (const e of list) rank = Math.min(rank, RANK[e.priority])
      rows.push({ id, rank, since: list[0]!.savedAt })
    }
    rows.sort((a, b) => a.rank - b.rank || (a.since < b.since ? -1 : a.since > b.since ? 1 : a.id < b.id ? -1 : 1))
    return rows.map((r) => r.id)
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true
      return
    }
    this.pumping = true
    try {
      do {
        this.again = false
        await this.pumpOnce()
      } while (this.again)
    } finally {
      this.pumping = false
    }
  }

  private async pumpOnce(): Promise<void> {
    const { ctx, connector } = this
    const { outbox } = ctx
    const maxEvents = ctx.options.maxInFlightEvents ?? 512
    const maxBytes = ctx.options.maxInFlightBytes ?? 1 << 20
    for (const id of this.drainOrder()) {
      const session = connector.session
      const welcome = connector.welcome
      if (session === null || !session.open || welcome === null) return
      const gen = connector.sessionGen
      const frameLimit = eventRoomIn(welcome.maxFrameBytes)
      const take: OutboxEntry[] = []
      for (const e of outbox.of(id)) {
        if (outbox.isInFlight(id, e.id)) continue
        if (outbox.inFlightCount >= maxEvents) break
        if (outbox.inFlightCount > 0 && outbox.inFlightBytes + e.bytes > maxBytes) break
        if (e.bytes > frameLimit) {
          // It can never be sent: refuse it here rather than wedge the outbox.
          if (take.length === 0) void ctx.serial(() => this.inbound.rejectLocally(id, e.id, 'FRAME_TOO_LARGE', `the event is ${e.bytes} bytes; the relay accepts frames up to ${connector.welcome?.maxFrameBytes ?? '?'}`))
          break
        }
        take.push(e)
        outbox.markInFlight(id, e)
      }
      if (take.length === 0) {
        if (outbox.inFlightCount >= maxEvents || outbox.inFlightBytes >= maxBytes) return
        continue
      }
      const events: EventEnvelope[] = []
      for (const e of take) {
        const ev = await ctx.store.getEvent(e.eventKey)
        if (ev === undefined) throw new ConcordError('STORE_CORRUPT', `outbox entry ${e.id} names a missing event ${e.eventKey}`, { reason: 'CORRUPT' })
        events.push(ev)
      }
      if (gen !== connector.sessionGen || connector.session !== session) return
      // A refusal may have undone some of them while they were read: those are gone from the outbox and must not go out.
      const still = take.map((e, i) => [e, events[i]!] as const).filter(([e]) => outbox.has(id, e.id))
      let frame: EventEnvelope[] = []
      let size = 0
      for (const [entry, event] of still) {
        const bytes = entry.bytes
        if (frame.length > 0 && size + bytes > frameLimit) {
          session.send({ t: 'push', docId: id, events: frame })
          frame = []
          size = 0
        }
        frame.push(event)
        size += bytes
      }
      if (frame.length > 0) session.send({ t: 'push', docId: id, events: frame })
      ctx.emitStatus()
    }
  }
}
