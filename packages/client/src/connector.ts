/**
 * The connection to the relay over time: one session at a time, opened when
 * the network and the sync policy allow, retried with backoff behind a
 * circuit breaker, the token refreshed before it expires, and every way it
 * ends sorted into reconnect, refresh the token, or stop (a fatal error, kept
 * until forceSync). The socket itself (handshake, frames, liveness) is
 * connection.ts; what the relay says is handed to the inbound handler.
 */
import * as core from '@concord/core'
import { type PurchaseId, isConcordError } from '@concord/core'
import type { ServerMessage, WelcomeMessage } from '@concord/core/protocol'
import { BrokenCircuitError } from 'cockatiel'
import { Session, SessionFailure, type SessionEnd, errorOf } from './connection.js'
import type { ClientContext } from './context.js'
import { NetworkMonitor } from './network.js'
import { RetryState } from './retry.js'
import type { ClientError, ConnectionStatus, WebSocketConstructor } from './types.js'

const CLIENT_NAME = 'concord-client/0.1.0'

/** A relay message of the current session, with that session's generation. */
export type MessageHandler = (m: ServerMessage, gen: number) => void

export class Connector {
  readonly network = new NetworkMonitor()
  readonly retry: RetryState
  private readonly WS: WebSocketConstructor | undefined
  private session_: Session | null = null
  private welcome_: WelcomeMessage | null = null
  private gen = 0
  private connState: ConnectionStatus['state'] = 'idle'
  private attempts = 0
  private nextRetryAt: number | null = null
  private lastDelay: number | null = null
  private lastError_: ClientError | null = null
  private fatal_: ClientError | null = null
  private looping = false
  private wakeSleep: (() => void) | null = null
  private refreshTimer: unknown = null
  private tokenRefreshedFor = false
  private wasConnected = false
  private onMessage: MessageHandler = () => undefined

  constructor(private readonly ctx: ClientContext) {
    const o = ctx.options
    this.WS = o.WebSocket ?? (globalThis as unknown as { WebSocket?: WebSocketConstructor }).WebSocket
    this.retry = new RetryState(o.retry, o.random ?? Math.random, (e) => e instanceof SessionFailure && e.end.action !== 'reconnect')
    this.retry.breaker.onStateChange(() => ctx.emitStatus())
    this.network.onChange(() => this.onNetworkChange())
  }

  /** Where the relay's messages go (set once, before the first connect). */
  handleMessages(h: MessageHandler): void {
    this.onMessage = h
  }

  // ------------------------------------------------------------ what status reads

  get session(): Session | null {
    return this.session_
  }

  get welcome(): WelcomeMessage | null {
    return this.welcome_
  }

  /** Counts sessions: a message or a timer of an older one is ignored. */
  get sessionGen(): number {
    return this.gen
  }

  get connected(): boolean {
    return this.session_ !== null && this.session_.open
  }

  get state(): ConnectionStatus['state'] {
    return this.connState
  }

  get fatal(): ClientError | null {
    return this.fatal_
  }

  get lastError(): ClientError | null {
    return this.lastError_
  }

  /** A non-fatal problem the relay reported, for the status. */
  noteError(err: ClientError): void {
    this.lastError_ = err
  }

  get attempt(): number {
    return this.attempts
  }

  get nextRetry(): number | null {
    return this.nextRetryAt
  }

  status(): ConnectionStatus {
    return {
      state: this.connState,
      attempt: this.attempts,
      nextRetryAt: this.connState === 'waiting' && this.nextRetryAt !== null ? this.ctx.iso(this.nextRetryAt) : null,
      lastDelayMs: this.lastDelay,
      breaker: this.retry.breakerState,
      lastError: this.fatal_ ?? this.lastError_,
    }
  }

  // ------------------------------------------------------------ controls

  goOffline(): void {
    this.network.setManualOffline(true)
  }

  goOnline(): void {
    this.network.setManualOffline(false)
    this.start()
  }

  /** Skips a pending backoff wait, clears a fatal error to try again, pings a live socket. */
  forceSync(): void {
    if (this.ctx.closed) return
    if (this.fatal_ !== null) {
      this.fatal_ = null
      this.tokenRefreshedFor = false
    }
    if (this.connected) {
      this.session_!.ping()
      this.ctx.kick()
    } else {
      this.start()
      this.wakeSleep?.()
    }
    this.ctx.emitStatus()
  }

  start(): void {
    if (this.looping || this.ctx.closed || this.session_ !== null) return
    void this.connectLoop()
  }

  /** Sends a subscription for a document, if a session is open and it has none yet. */
  subscribe(id: PurchaseId): void {
    const s = this.session_
    if (s === null || !s.open || this.ctx.subs.has(id)) return
    const d = this.ctx.docs.get(id)!
    this.ctx.subs.set(id, false)
    s.send({ t: 'subscribe', docId: id, backend: d.backend, cursor: d.cursor, actors: this.ctx.actorsOf(d) })
  }

  /** Subscribes a document again (the relay reads what it lacks), then its outbox is sent again. */
  resubscribe(id: PurchaseId): void {
    const s = this.session_
    if (s === null || !s.open || !this.ctx.docs.has(id)) return
    this.ctx.subs.delete(id)
    s.send({ t: 'unsubscribe', docId: id })
    this.subscribe(id)
    this.ctx.kick()
  }

  /** The local store failed: syncing stops (the error is fatal until forceSync). */
  storeFailed(e: unknown): void {
    if (this.ctx.closed) return
    const code = isConcordError(e) ? e.code : 'STORE_ERROR'
    this.setFatal({ code, message: `the local store failed: ${(e as Error).message}`, fatal: true })
    if (this.session_ !== null) this.endSession({ code, message: 'local store failure', action: 'stop', closeCode: null }, true)
  }

  /** The client is closing: the socket closes and nothing reconnects. */
  close(): void {
    this.connState = 'stopped'
    const s = this.session_
    this.session_ = null
    if (s !== null) s.close(1000, 'client closing')
    if (this.refreshTimer !== null) this.ctx.timers.clearTimeout(this.refreshTimer)
    this.wakeSleep?.()
    this.network.dispose()
  }

  // ------------------------------------------------------------ the loop

  private onNetworkChange(): void {
    if (this.ctx.closed) return
    const net = this.network.info()
    const policy = this.ctx.options.policy
    const allowed = net.online && (policy === undefined || policy(net))
    if (!allowed && this.session_ !== null) {
      this.endSession({ code: net.online ? 'POLICY' : 'OFFLINE', message: net.online ? 'the sync policy holds syncing' : 'went offline', action: 'reconnect', closeCode: null }, true)
    } else if (allowed && this.session_ === null) {
      this.start()
      this.wakeSleep?.()
    }
    this.ctx.emitStatus()
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let handle: unknown = null
      const wake = () => {
        if (handle !== null) this.ctx.timers.clearTimeout(handle)
        if (this.wakeSleep === wake) this.wakeSleep = null
        resolve()
      }
      this.wakeSleep = wake
      if (Number.isFinite(ms)) handle = this.ctx.timers.setTimeout(wake, ms)
    })
  }

  private async connectLoop(): Promise<void> {
    const { ctx } = this
    const o = ctx.options
    this.looping = true
    try {
      while (!ctx.closed && this.fatal_ === null && this.session_ === null) {
        const net = this.network.info()
        if (!net.online) {
          this.connState = 'offline'
          ctx.emitStatus()
          await this.sleep(Infinity)
          continue
        }
        if (o.policy !== undefined && !o.policy(net)) {
          this.connState = 'policy'
          ctx.emitStatus()
          await this.sleep(Infinity)
          continue
        }
        this.connState = 'connecting'
        ctx.emitStatus()
        try {
          await this.retry.breaker.execute(() => this.open())
          return
        } catch (e) {
          if (ctx.closed) return
          if (e instanceof BrokenCircuitError) {
            const wait = Math.max(1, this.retry.untilHalfOpen())
            this.nextRetryAt = ctx.now() + wait
            this.connState = 'waiting'
            ctx.emitStatus()
            await this.sleep(wait)
            continue
          }
          const end: SessionEnd = e instanceof SessionFailure ? e.end : { code: isConcordError(e) ? e.code : 'INTERNAL', message: (e as Error).message, action: 'reconnect', closeCode: null }
          if (end.action === 'refresh-token' && typeof o.token === 'function' && !this.tokenRefreshedFor) {
            this.tokenRefreshedFor = true
            continue
          }
          if (end.action !== 'reconnect') {
            this.setFatal(errorOf({ ...end, action: 'stop' }))
            return
          }
          this.attempts += 1
          this.lastError_ = errorOf(end)
          this.network.recordFailure()
          ctx.notifier.emit({ type: 'sync-failed', code: end.code, message: end.message, fatal: false })
          const delay = this.retry.nextDelay()
          this.lastDelay = delay
          this.nextRetryAt = ctx.now() + delay
          this.connState = 'waiting'
          ctx.emitStatus()
          await this.sleep(delay)
        }
      }
    } finally {
      this.looping = false
    }
  }

  private setFatal(err: ClientError): void {
    this.fatal_ = err
    this.connState = 'stopped'
    this.ctx.notifier.emit({ type: 'sync-failed', code: err.code, message: err.message, fatal: true })
    this.ctx.emitStatus()
  }

  /** One connection attempt: token, handshake, then every document subscribed and the outbox drained. */
  private async open(): Promise<void> {
    const { ctx } = this
    const o = ctx.options
    if (this.WS === undefined) {
      throw new SessionFailure({ code: 'NO_WEBSOCKET', message: 'no WebSocket implementation: pass options.WebSocket (in Node, use @concord/client/node)', action: 'stop', closeCode: null })
    }
    let token: string
    try {
      token = typeof o.token === 'function' ? await o.token() : o.token
    } catch (e) {
      throw new SessionFailure({ code: 'TOKEN_UNAVAILABLE', message: `the token function failed: ${(e as Error).message}`, action: 'reconnect', closeCode: null })
    }
    const session = new Session({
      url: o.url, token, WebSocket: this.WS, timers: ctx.timers, now: ctx.now,
      clientName: o.clientName ?? CLIENT_NAME,
      device: o.device ?? '',
      handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000,
      pingIntervalMs: o.pingIntervalMs ?? 15_000,
      pongTimeoutMs: o.pongTimeoutMs ?? 10_000,
    }, {
      onMessage: (m) => this.dispatch(session, m),
      onPong: (rtt) => this.network.recordRtt(rtt),
      onEnd: (end) => this.endSession(end, false, session),
    })
    const welcome = await session.start()
    if (ctx.closed || !this.network.info().online) {
      session.close()
      throw new SessionFailure({ code: 'OFFLINE', message: 'went offline during the handshake', action: 'reconnect', closeCode: null })
    }
    this.session_ = session
    this.welcome_ = welcome
    ctx.relayMaxFrameBytes = welcome.maxFrameBytes
    if (welcome.user !== null) ctx.author = welcome.user
    this.gen += 1
    this.attempts = 0
    this.lastError_ = null
    this.lastDelay = null
    this.nextRetryAt = null
    this.tokenRefreshedFor = false
    this.retry.reset()
    this.connState = 'connected'
    this.network.setConnected(true)
    this.scheduleTokenRefresh(welcome.expiresAt)
    for (const id of ctx.docs.keys()) this.subscribe(id)
    const pending = ctx.outbox.pending
    if (this.wasConnected) ctx.notifier.emit({ type: 'online', pending })
    this.wasConnected = true
    ctx.kick()
    ctx.emitStatus()
  }

  private dispatch(session: Session, m: ServerMessage): void {
    if (session !== this.session_) return
    if (m.t === 'authorized') this.scheduleTokenRefresh(m.expiresAt)
    else this.onMessage(m, this.gen)
  }

  private scheduleTokenRefresh(expiresAt: string | null): void {
    const { ctx } = this
    if (this.refreshTimer !== null) ctx.timers.clearTimeout(this.refreshTimer)
    this.refreshTimer = null
    if (expiresAt === null || typeof ctx.options.token !== 'function') return
    const left = core.epochMsOf(expiresAt as core.IsoInstant) - ctx.now()
    const early = Math.min(60_000, Math.max(1000, left * 0.1))
    const gen = this.gen
    this.refreshTimer = ctx.timers.setTimeout(() => {
      this.refreshTimer = null
      const fn = ctx.options.token as () => Promise<string>
      fn().then((t) => {
        if (gen === this.gen) this.session_?.send({ t: 'auth', token: t })
      }, (e: unknown) => {
        this.lastError_ = { code: 'TOKEN_UNAVAILABLE', message: `token refresh failed: ${(e as Error).message}`, fatal: false }
        ctx.emitStatus()
      })
    }, Math.max(0, left - early))
  }

  private endSession(end: SessionEnd, byClient: boolean, which?: Session): void {
    const { ctx } = this
    if (which !== undefined && which !== this.session_) return
    const s = this.session_
    this.session_ = null
    this.welcome_ = null
    this.gen += 1
    ctx.outbox.releaseAll()
    ctx.subs.clear()
    if (this.refreshTimer !== null) ctx.timers.clearTimeout(this.refreshTimer)
    this.refreshTimer = null
    if (byClient) s?.close(1000, end.message)
    this.network.setConnected(false)
    const pending = ctx.outbox.pending
    if (!ctx.closed) ctx.notifier.emit({ type: 'offline', pending })
    if (ctx.closed) {
      this.connState = 'stopped'
    } else if (end.action === 'stop') {
      this.setFatal(errorOf(end))
    } else if (end.action === 'refresh-token' && typeof ctx.options.token !== 'function') {
      this.setFatal({ code: end.code, message: `${end.message}; the token is a fixed string, so the client cannot refresh it`, fatal: true })
    } else {
      if (!byClient) {
        this.lastError_ = errorOf(end)
        this.network.recordFailure()
      }
      this.connState = 'connecting'
      this.start()
    }
    ctx.emitStatus()
  }
}
