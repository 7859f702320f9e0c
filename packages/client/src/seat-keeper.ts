/**
 * The running client's hold on its seat of the store (storage/seats.ts):
 * the lease renewed while it runs, and a note to the store's other running
 * instances each time this one saves a change (BroadcastChannel, where the
 * runtime has one: tabs of one browser profile, threads of one process), so
 * they carry it in at once (absorb.ts) and not only at their next renewal.
 */
import { SEAT_TTL_MS } from './storage/seats.js'
import type { ClientContext } from './context.js'
import type { SeatChannel } from './types.js'

interface SeatNote {
  readonly seat: number
  readonly docId: string
}

export class SeatKeeper {
  private timer: unknown = null
  private readonly channel: SeatChannel | undefined
  private stopped = false

  constructor(
    private readonly ctx: ClientContext,
    /** Another instance holds the seat now: this one must stop writing. */
    private readonly onLost: (e: Error) => void,
    /** Another instance saved changes (to one document, or to any when undefined). */
    private readonly onNews: (docId: string | undefined) => void,
  ) {
    this.channel = openChannel(ctx.options.seatChannel, `concord:${ctx.store.describe}`)
    if (this.channel !== undefined) {
      this.channel.onmessage = (m) => {
        const note = m.data as Partial<SeatNote> | null
        if (note?.seat !== ctx.store.seatNumber && typeof note?.docId === 'string') this.onNews(note.docId)
      }
    }
  }

  start(): void {
    this.schedule()
  }

  private schedule(): void {
    if (this.stopped) return
    const ms = (this.ctx.options.seatTtlMs ?? SEAT_TTL_MS) / 3
    this.timer = this.ctx.timers.setTimeout(() => void this.renew(), ms)
    ;(this.timer as { unref?: () => void } | null)?.unref?.()
  }

  private async renew(): Promise<void> {
    if (this.stopped) return
    let held: boolean
    try {
      held = await this.ctx.store.renewSeat()
    } catch (e) {
      this.onLost(e as Error)
      return
    }
    if (!held) {
      this.onLost(new Error(`another running instance took over seat ${this.ctx.store.seatNumber} of ${this.ctx.store.describe}; open the client again`))
      return
    }
    // Without a channel between the instances (two Node processes), renewal is when the others' changes are read.
    this.onNews(undefined)
    this.schedule()
  }

  /** This instance saved changes to a document. */
  announce(docId: string): void {
    if (this.stopped) return
    try {
      this.channel?.postMessage({ seat: this.ctx.store.seatNumber, docId } satisfies SeatNote)
    } catch {
      // a closed channel (page going away) tells nobody; the others read the store at their next renewal
    }
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== null) this.ctx.timers.clearTimeout(this.timer)
    this.channel?.close()
  }
}

/** The channel the options give, or a BroadcastChannel where the runtime has one. */
function openChannel(option: ((name: string) => SeatChannel) | null | undefined, name: string): SeatChannel | undefined {
  if (option === null) return undefined
  if (option !== undefined) return option(name)
  const BC = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel
  if (BC === undefined) return undefined
  const channel = new BC(name)
  ;(channel as { unref?: () => void }).unref?.() // a Node process may exit while a client is open
  return channel as unknown as SeatChannel
}
