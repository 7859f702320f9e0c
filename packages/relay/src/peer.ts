/**
 * What every WebSocket connection of the relay shares, native or y-websocket:
 * counted sends that close a slow consumer instead of buffering without end
 * (never a silent drop), a token-bucket rate limit, byte metrics, closes with
 * named codes, and the token's expiry timer.
 */
import type { Duplex } from 'node:stream'
import type { Logger } from 'pino'
import type { Runtime } from '@concord/core'
import { type CloseCodeInfo, CLOSE_CODES } from '@concord/core/protocol'
import type { RelayConfig } from './config.js'
import type { RelayMetrics } from './metrics.js'
import type { Session } from './auth.js'

export type Endpoint = 'native' | 'y'

/** The part of a server-side WebSocket the relay uses (ws's WebSocket fits; a simulation provides its own). */
export interface RelaySocket {
  readonly bufferedAmount: number
  send(data: Uint8Array, options: { binary: boolean }, cb?: (err?: Error) => void): void
  close(code?: number, reason?: string): void
  terminate(): void
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown
  on(event: 'close', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
}

let nextId = 0

/**
 * Write batching. A commit group sends each subscriber several frames (its
 * events, an ack, `validated`); ws writes every frame at once, one syscall
 * each, and on this kind of machine a small socket write costs several
 * microseconds of CPU. Inside `batchWrites` every socket written to is
 * corked, and all are uncorked when it returns: one write per socket per
 * group, sent before the event loop moves on (no timer, no added latency).
 */
let batchDepth = 0
const corked = new Set<Duplex>()

export function batchWrites(f: () => void): void {
  batchDepth++
  try {
    f()
  } finally {
    if (--batchDepth === 0) {
      for (const socket of corked) socket.uncork()
      corked.clear()
    }
  }
}

/**
 * The ws connection's socket; ws keeps it private, but corking it is the only
 * way to merge its frame writes. A simulated socket has none.
 */
function socketOf(ws: RelaySocket): Duplex | undefined {
  return (ws as unknown as { _socket?: Duplex | null })._socket ?? undefined
}

export abstract class Peer {
  readonly id: string
  closed = false
  session: Session | undefined
  private tokens: number
  /** The labelled child, looked up once: send runs once per subscriber per group. */
  private readonly bytesOut
  private refilledAt: number
  private expiryTimer: unknown

  constructor(
    readonly ws: RelaySocket,
    readonly endpoint: Endpoint,
    protected readonly config: RelayConfig,
    protected readonly metrics: RelayMetrics,
    readonly log: Logger,
    protected readonly runtime: Runtime,
  ) {
    const now = runtime.now()
    this.id = `${endpoint === 'native' ? 'n' : 'y'}${(++nextId).toString(36)}-${now.toString(36)}`
    this.refilledAt = now
    this.tokens = config.rateLimitBurst
    this.bytesOut = metrics.bytesOut.labels({ endpoint })
    metrics.connections.inc({ endpoint })
    metrics.connectionsTotal.inc({ endpoint })
    ws.on('close', () => {
      this.closed = true
      runtime.clearTimeout(this.expiryTimer)
      metrics.connections.dec({ endpoint })
      this.onClose()
    })
    ws.on('error', (e) => this.log.debug({ peer: this.id, err: e.message }, 'socket error'))
  }

  /** Called once when the socket is gone (either side closed it). */
  protected abstract onClose(): void

  /**
   * Sends one frame. A socket whose unsent bytes are past the limit is closed
   * with SLOW_CONSUMER (retryable: the client reconnects and catches up from
   * its cursor) rather than buffering without bound or dropping silently.
   */
  send(bytes: Uint8Array, onWritten?: () => void): boolean {
    if (this.closed) return false
    if (this.ws.bufferedAmount + bytes.length > this.config.slowConsumerBytes) {
      this.close(CLOSE_CODES.SLOW_CONSUMER, `more than ${this.config.slowConsumerBytes} bytes unread`)
      return false
    }
    if (batchDepth > 0) {
      const socket = socketOf(this.ws)
      if (socket !== undefined && !corked.has(socket)) {
        socket.cork()
        corked.add(socket)
      }
    }
    this.ws.send(bytes, { binary: true }, onWritten === undefined ? undefined : () => onWritten())
    this.bytesOut.inc(bytes.length)
    return true
  }

  /**
   * Sends a frame of a catch-up, where the relay (not another client) is the
   * producer: when the socket is backed up it waits until the frame has been
   * written rather than closing the reader as slow.
   */
  async sendPaced(bytes: Uint8Array): Promise<boolean> {
    if (this.closed) return false
    if (this.ws.bufferedAmount < this.config.slowConsumerBytes / 4) return this.send(bytes)
    return new Promise((resolve) => {
      if (!this.send(bytes, () => resolve(!this.closed))) resolve(false)
    })
  }

  close(info: CloseCodeInfo, reason?: string): void {
    if (this.closed) return
    this.closed = true
    this.metrics.closes.inc({ code: info.name })
    this.log.debug({ peer: this.id, code: info.code, name: info.name, reason }, 'closing connection')
    // A close reason is at most 123 bytes.
    let text = reason ?? info.reason
    while (Buffer.byteLength(text) > 123) text = text.slice(0, -1)
    try {
      this.ws.close(info.code, text)
    } catch {
      this.ws.terminate()
    }
    // A peer that never answers the close handshake is cut off.
    this.runtime.setTimeout(() => this.ws.terminate(), 5000)
  }

  /** Token bucket: false when this message is over the connection's rate. */
  takeToken(): boolean {
    const now = this.runtime.now()
    const rate = this.config.rateLimitPerSecond
    this.tokens = Math.min(this.config.rateLimitBurst, this.tokens + ((now - this.refilledAt) * rate) / 1000)
    this.refilledAt = now
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Adopts a (new) session: the connection closes with TOKEN_EXPIRED when it runs out. */
  protected setSession(session: Session): void {
    this.session = session
    this.runtime.clearTimeout(this.expiryTimer)
    if (session.expiresAt !== null) {
      const ms = Math.max(0, session.expiresAt - this.runtime.now())
      // setTimeout holds at most 2^31 - 1 ms; a longer token is re-armed on refresh.
      this.expiryTimer = this.runtime.setTimeout(() => this.onTokenExpired(), Math.min(ms, 2 ** 31 - 1))
    }
  }

  protected onTokenExpired(): void {
    this.close(CLOSE_CODES.TOKEN_EXPIRED)
  }
}
