/**
 * One socket to the relay at a time: the handshake (hello -> welcome), frame
 * decoding, ping/pong liveness, and the classification of every way it can
 * end: retryable (reconnect with backoff), token refresh, or fatal.
 *
 * A half-open TCP connection never fires `close` by itself; the ping timer
 * notices the missing pong, drops the socket at once and reports it as lost.
 */
import { isConcordError } from '@concord/core'
import {
  type ClientMessage, type ServerMessage, type WelcomeMessage,
  PROTOCOL_VERSION, closeCodeInfo, decodeServerMessage, encodeClientMessage,
} from '@concord/core/protocol'
import type { ClientError, SocketLike, Timers, WebSocketConstructor } from './types.js'

/** Why a socket ended (or never got past the handshake). */
export interface SessionEnd {
  readonly code: string
  readonly message: string
  /** reconnect: retry with backoff; refresh-token: get a new token first; stop: fatal. */
  readonly action: 'reconnect' | 'refresh-token' | 'stop'
  readonly closeCode: number | null
}

export interface SessionHandlers {
  onMessage(m: ServerMessage): void
  onPong(rttMs: number): void
  /** After the welcome: the socket ended. Not called for a close the client asked for. */
  onEnd(end: SessionEnd): void
}

export interface SessionOptions {
  readonly url: string
  readonly token: string
  readonly WebSocket: WebSocketConstructor
  readonly timers: Timers
  readonly now: () => number
  readonly clientName: string
  /** The device the stamps of this client's events name (`dev`); the relay holds the connection to it. */
  readonly device: string
  readonly handshakeTimeoutMs: number
  readonly pingIntervalMs: number
  readonly pongTimeoutMs: number
}

export class SessionFailure extends Error {
  constructor(readonly end: SessionEnd) {
    super(end.message)
    this.name = 'SessionFailure'
  }
}

/** The transport's own errors (a certificate pin that does not match, an HTTP refusal at upgrade). */
function classifyTransportError(ev: unknown): SessionEnd | null {
  const err = (ev as { error?: unknown })?.error ?? ev
  const code = (err as { code?: unknown })?.code
  const message = String((err as { message?: unknown })?.message ?? (ev as { message?: unknown })?.message ?? '')
  if (code === 'PIN_MISMATCH') return { code: 'PIN_MISMATCH', message, action: 'stop', closeCode: null }
  const http = /Unexpected server response: (\d{3})/.exec(message)
  if (http !== null) {
    const status = Number(http[1])
    if (status === 401) return { code: 'UNAUTHORIZED', message: `the relay refused the token at upgrade (HTTP 401)`, action: 'stop', closeCode: null }
    if (status === 403) return { code: 'FORBIDDEN', message: `the relay refused the connection at upgrade (HTTP 403)`, action: 'stop', closeCode: null }
    if (status === 426 || status === 400) return { code: 'UPGRADE_REFUSED', message: `the relay refused the upgrade (HTTP ${status})`, action: 'stop', closeCode: null }
  }
  if (message !== '') return { code: 'NETWORK', message, action: 'reconnect', closeCode: null }
  return null
}

export class Session {
  private socket: SocketLike | null = null
  private welcome: WelcomeMessage | null = null
  private ended = false
  private pingTimer: unknown = null
  private pongTimer: unknown = null
  private nonce = 0
  private pingSentAt = new Map<number, number>()
  private lastError: SessionEnd | null = null
  /** The relay's error message just before it closed, which says more than the close code. */
  private relayError: { code: string; message: string } | null = null

  constructor(
    private readonly o: SessionOptions,
    private readonly handlers: SessionHandlers,
  ) {}

  get info(): WelcomeMessage | null {
    return this.welcome
  }

  /** Opens the socket and completes the handshake; rejects with SessionFailure. */
  start(): Promise<WelcomeMessage> {
    return new Promise((resolve, reject) => {
      let settled = false
      const fail = (end: SessionEnd) => {
        if (settled) return
        settled = true
        this.stop()
        reject(new SessionFailure(end))
      }
      const handshake = this.o.timers.setTimeout(
        () => fail({ code: 'HANDSHAKE_TIMEOUT', message: `no welcome from the relay within ${this.o.handshakeTimeoutMs} ms`, action: 'reconnect', closeCode: null }),
        this.o.handshakeTimeoutMs,
      )
      let socket: SocketLike
      try {
        socket = new this.o.WebSocket(this.o.url)
      } catch (e) {
        this.o.timers.clearTimeout(handshake)
        fail({ code: 'INVALID_URL', message: `cannot open ${this.o.url}: ${(e as Error).message}`, action: 'stop', closeCode: null })
        return
      }
      this.socket = socket
      socket.binaryType = 'arraybuffer'
      socket.onopen = () => {
        this.send({ t: 'hello', version: PROTOCOL_VERSION, token: this.o.token, client: this.o.clientName, device: this.o.device })
      }
      socket.onerror = (ev) => {
        this.lastError = classifyTransportError(ev) ?? this.lastError
        if (this.lastError?.action === 'stop') {
          this.o.timers.clearTimeout(handshake)
          fail(this.lastError)
        }
      }
      socket.onclose = (ev) => {
        this.o.timers.clearTimeout(handshake)
        const end = this.endFromClose(ev.code, ev.reason)
        if (!settled) fail(end)
        else this.finish(end)
      }
      socket.onmessage = (ev) => {
        let m: ServerMessage
        try {
          const data = ev.data
          const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null
          if (bytes === null) throw new Error('a text frame on a binary protocol')
          m = decodeServerMessage(bytes)
        } catch (e) {
          const code = isConcordError(e) ? e.code : 'MALFORMED_FRAME'
          const end: SessionEnd = {
            code, message: `the relay sent a frame this client cannot read: ${(e as Error).message}`,
            action: code === 'UNSUPPORTED_VERSION' ? 'stop' : 'reconnect', closeCode: null,
          }
          this.o.timers.clearTimeout(handshake)
          if (!settled) fail(end)
          else this.finish(end)
          return
        }
        if (!settled) {
          if (m.t === 'welcome') {
            settled = true
            this.o.timers.clearTimeout(handshake)
            this.welcome = m
            this.schedulePing()
            resolve(m)
          } else if (m.t === 'error') {
            this.relayError = { code: m.code, message: m.message }
          } else {
            this.o.timers.clearTimeout(handshake)
            fail({ code: 'MALFORMED_FRAME', message: `the relay sent ${m.t} before welcome`, action: 'reconnect', closeCode: null })
          }
          return
        }
        this.onMessage(m)
      }
    })
  }

  private onMessage(m: ServerMessage): void {
    if (m.t === 'pong') {
      const sent = this.pingSentAt.get(m.nonce)
      this.pingSentAt.delete(m.nonce)
      if (sent !== undefined) {
        if (this.pongTimer !== null) this.o.timers.clearTimeout(this.pongTimer)
        this.pongTimer = null
        this.handlers.onPong(Math.max(0, this.o.now() - sent))
        this.schedulePing()
      }
      return
    }
    if (m.t === 'error') {
      this.relayError = { code: m.code, message: m.message }
    }
    this.handlers.onMessage(m)
  }

  private endFromClose(code: number, reason: string): SessionEnd {
    if (this.lastError?.action === 'stop') return this.lastError
    const info = closeCodeInfo(code)
    const said = this.relayError
    const message = said !== null ? `${said.message} (${info.name} ${code})` : `${reason || info.reason} (${info.name} ${code})`
    if (code === 1006 && this.lastError !== null) {
      return { ...this.lastError, closeCode: code }
    }
    return { code: said?.code ?? info.name, message, action: info.action, closeCode: code }
  }

  private schedulePing(): void {
    if (this.ended || this.o.pingIntervalMs <= 0) return
    if (this.pingTimer !== null) this.o.timers.clearTimeout(this.pingTimer)
    this.pingTimer = this.o.timers.setTimeout(() => this.ping(), this.o.pingIntervalMs)
  }

  /** Sends a ping now; a missing pong within pongTimeoutMs ends the session as lost. */
  ping(): void {
    if (this.ended || this.welcome === null) return
    const nonce = ++this.nonce
    this.pingSentAt.set(nonce, this.o.now())
    this.send({ t: 'ping', nonce })
    if (this.pongTimer === null) {
      this.pongTimer = this.o.timers.setTimeout(() => {
        this.finish({ code: 'PING_TIMEOUT', message: `no pong within ${this.o.pongTimeoutMs} ms: the connection is dead`, action: 'reconnect', closeCode: null })
      }, this.o.pongTimeoutMs)
    }
  }

  send(m: ClientMessage): boolean {
    const s = this.socket
    if (s === null || this.ended || s.readyState !== 1) return false
    s.send(encodeClientMessage(m))
    return true
  }

  get open(): boolean {
    return !this.ended && this.welcome !== null && this.socket?.readyState === 1
  }

  private finish(end: SessionEnd): void {
    if (this.ended) return
    this.stop()
    this.handlers.onEnd(end)
  }

  /** Ends the session without reporting it (the client asked). */
  close(code = 1000, reason = 'client closing'): void {
    if (this.ended) return
    this.stop({ code, reason })
  }

  /** Stops timers and handlers; closes gracefully when given a code, else drops the socket at once. */
  private stop(graceful?: { code: number; reason: string }): void {
    this.ended = true
    if (this.pingTimer !== null) this.o.timers.clearTimeout(this.pingTimer)
    if (this.pongTimer !== null) this.o.timers.clearTimeout(this.pongTimer)
    this.pingTimer = this.pongTimer = null
    const s = this.socket
    if (s !== null) {
      s.onopen = s.onmessage = null
      s.onclose = null
      // Keep a listener: `ws` emits 'error' when a connecting socket is dropped, and an unheard one would crash the process.
      s.onerror = () => undefined
      if (s.readyState === 0 || s.readyState === 1) {
        const t = s as unknown as { terminate?: () => void }
        try {
          if (graceful !== undefined) s.close(graceful.code, graceful.reason)
          else if (typeof t.terminate === 'function') t.terminate()
          else s.close(1000)
        } catch {
          // ignore
        }
      }
    }
  }
}

export function errorOf(end: SessionEnd): ClientError {
  return { code: end.code, message: end.message, fatal: end.action === 'stop' }
}
