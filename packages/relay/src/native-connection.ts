/**
 * One native-protocol socket: many documents, one connection.
 *
 *   hello (version, token) -> welcome | error + close
 *   subscribe(doc, cursor, actors) -> events... caughtUp (with the actors' heads), validated; then live events
 *   push(doc, events)      -> ack (once stored) | reject per event
 *   auth(token)            -> authorized (the session is extended)
 *   ping                   -> pong
 *
 * Frames are handled one after another in arrival order; only hello, auth
 * and the load of a document are awaited in that chain, so pushes from many
 * sockets in one event-loop turn still land in one commit group. The token is
 * checked before any document is loaded. Nothing but hello is accepted before
 * it, and only preAuthMaxBytes may arrive before the relay has answered it.
 */
import type { Logger } from 'pino'
import { BOUNDS, type PurchaseId, type ReplicaId, isConcordError, instantFromEpochMs } from '@concord/core'
import {
  type ClientMessage, type CloseCodeInfo, type SequencedEvent,
  CLOSE_CODES, PROTOCOL_VERSION, closeCodeForError, decodeClientMessage, encodeEventsFrame, encodeServerMessage, rightsFor,
} from '@concord/core/protocol'
import { AuthError, type Session, type TokenVerifier } from './auth.js'
import type { RelayConfig } from './config.js'
import type { DocHost, LoadedDoc } from './doc-host.js'
import type { NativeSubscriber } from './fanout.js'
import type { RelayMetrics } from './metrics.js'
import { Peer, type RelaySocket } from './peer.js'
import { markValidated } from './store/common.js'

interface Subscription {
  readonly doc: LoadedDoc
  /** The cursor the client asked to start after. */
  readonly from: number
  /** Highest seq this connection has been sent for the document. */
  sent: number
  live: boolean
  /** Broadcasts that arrived during the catch-up, sent (minus what the catch-up covered) when it ends. */
  queue: { items: readonly SequencedEvent[]; frame: Uint8Array; cursor: number }[]
  /** The device's actors, as the subscribe named them: caughtUp tells each one's highest stored event. */
  readonly actors: readonly ReplicaId[]
}

export interface NativeContext {
  readonly config: RelayConfig
  readonly metrics: RelayMetrics
  readonly log: Logger
  readonly host: DocHost
  readonly verifier: TokenVerifier
  readonly relayId: ReplicaId
}

export class NativeConnection extends Peer implements NativeSubscriber {
  private phase: 'hello' | 'authorizing' | 'open' = 'hello'
  /** The device this connection writes from, as its hello named it. */
  private device = ''
  private preAuthBytes = 0
  private chain: Promise<void> = Promise.resolve()
  private readonly subs = new Map<PurchaseId, Subscription>()
  private readonly handshakeTimer: unknown

  constructor(ws: RelaySocket, private readonly ctx: NativeContext) {
    super(ws, 'native', ctx.config, ctx.metrics, ctx.log, ctx.host.runtime)
    this.handshakeTimer = this.runtime.setTimeout(() => {
      if (this.phase !== 'open') this.fatal(CLOSE_CODES.HANDSHAKE_TIMEOUT, 'HANDSHAKE_TIMEOUT', `no hello within ${ctx.config.handshakeTimeoutMs} ms`)
    }, ctx.config.handshakeTimeoutMs)
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary))
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed) return
    this.metrics.bytesIn.inc({ endpoint: 'native' }, data.length)
    if (!isBinary) {
      this.fatal(CLOSE_CODES.POLICY_VIOLATION, 'MALFORMED_FRAME', 'text frames are not part of the protocol')
      return
    }
    if (this.phase !== 'open') {
      this.preAuthBytes += data.length
      if (this.preAuthBytes > this.config.preAuthMaxBytes) {
        this.fatal(CLOSE_CODES.POLICY_VIOLATION, 'PRE_AUTH_LIMIT', `more than ${this.config.preAuthMaxBytes} bytes before authorization`)
        return
      }
    }
    if (!this.takeToken()) {
      this.fatal(CLOSE_CODES.RATE_LIMITED, 'RATE_LIMITED', `more than ${this.config.rateLimitPerSecond} messages per second`)
      return
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    const receivedAt = process.hrtime.bigint()
    this.chain = this.chain.then(() => this.handle(bytes, receivedAt)).catch((e: unknown) => {
      this.log.error({ peer: this.id, err: e }, 'native connection failed')
      this.fatal(CLOSE_CODES.INTERNAL, 'INTERNAL', 'internal relay error')
    })
  }

  private sendMessage(m: Parameters<typeof encodeServerMessage>[0]): void {
    this.send(encodeServerMessage(m))
  }

  /** An error message the client can read, then the close that goes with it. */
  private fatal(info: CloseCodeInfo, code: string, message: string): void {
    if (this.closed) return
    this.sendMessage({ t: 'error', code, message, fatal: true })
    this.close(info, message)
  }

  private async handle(bytes: Uint8Array, receivedAt: bigint): Promise<void> {
    if (this.closed) return
    let m: ClientMessage
    try {
      m = decodeClientMessage(bytes, { maxFrameBytes: this.config.maxFrameBytes })
    } catch (e) {
      if (!isConcordError(e)) throw e
      this.fatal(closeCodeForError(e.code), e.code, e.message)
      return
    }
    if (this.phase !== 'open') {
      if (m.t !== 'hello' || this.phase === 'authorizing') {
        this.fatal(CLOSE_CODES.MALFORMED, 'MALFORMED_FRAME', `expected hello as the first frame, got ${m.t}`)
        return
      }
      if (m.device.length > BOUNDS.author) {
        this.fatal(CLOSE_CODES.MALFORMED, 'MALFORMED_FRAME', `hello names a device of more than ${BOUNDS.author} characters`)
        return
      }
      this.device = m.device
      this.phase = 'authorizing'
      const session = await this.authorize(m.token)
      if (session === undefined) return
      this.runtime.clearTimeout(this.handshakeTimer)
      this.phase = 'open'
      this.log.debug({ peer: this.id, user: session.user, client: m.client }, 'native session open')
      this.sendMessage({
        t: 'welcome', version: PROTOCOL_VERSION, relayId: this.ctx.relayId, session: this.id, maxFrameBytes: this.config.maxFrameBytes, ...this.authInfo(session),
      })
      return
    }
    const session = this.session as Session
    switch (m.t) {
      case 'hello':
        this.fatal(CLOSE_CODES.MALFORMED, 'MALFORMED_FRAME', 'hello was already received')
        return
      case 'auth': {
        const next = await this.authorize(m.token)
        if (next === undefined) return
        // A narrower token ends the subscriptions it no longer covers.
        for (const [docId] of this.subs) {
          if (!rightsFor(next.grants, docId).has('read')) {
            this.unsubscribe(docId)
            this.sendMessage({ t: 'error', code: 'FORBIDDEN', message: `the new token does not grant ${docId}`, docId, fatal: false })
          }
        }
        this.sendMessage({ t: 'authorized', ...this.authInfo(next) })
        return
      }
      case 'subscribe': {
        if (!rightsFor(session.grants, m.docId).has('read')) {
          this.sendMessage({ t: 'error', code: 'FORBIDDEN', message: `the token does not grant reading ${m.docId}`, docId: m.docId, fatal: false })
          return
        }
        let doc: LoadedDoc
        try {
          doc = await this.ctx.host.load(m.docId, m.backend)
        } catch (e) {
          if (!isConcordError(e)) throw e
          this.sendMessage({ t: 'error', code: e.code, message: e.message, docId: m.docId, fatal: false })
          return
        }
        // A cursor past what this relay holds: another relay stored more (cluster mode), read it before answering.
        if (m.cursor > doc.lastSeq) await this.ctx.host.catchUpFromStore(doc)
        if (this.closed) return
        this.unsubscribe(m.docId)
        const sub: Subscription = { doc, from: m.cursor, sent: m.cursor, live: false, queue: [], actors: m.actors }
        this.subs.set(m.docId, sub)
        doc.natives.add(this)
        void this.catchUp(sub).catch((e: unknown) => {
          this.log.error({ peer: this.id, docId: m.docId, err: e }, 'catch-up failed')
          this.fatal(CLOSE_CODES.INTERNAL, 'INTERNAL', 'catch-up failed')
        })
        return
      }
      case 'unsubscribe':
        this.unsubscribe(m.docId)
        return
      case 'push': {
        const first = m.events[0]
        if (first === undefined) return
        const rights = rightsFor(session.grants, m.docId)
        let doc: LoadedDoc | undefined
        if (rights.has('write')) {
          try {
            doc = await this.ctx.host.load(m.docId, first.backend)
          } catch (e) {
            if (!isConcordError(e)) throw e
            for (const ev of m.events) this.sendMessage({ t: 'reject', docId: m.docId, id: ev.id, code: e.code, reason: e.message })
            return
          }
        } else {
          // Not loaded for a client that may not write it: refuse each event as the protocol says.
          for (const ev of m.events) this.sendMessage({ t: 'reject', docId: m.docId, id: ev.id, code: 'FORBIDDEN', reason: `the token gives no write right on ${m.docId}` })
          return
        }
        // Only on a miss: an actor the relay has not seen, a dependency another relay stored.
        await this.ctx.host.learnActors(m.events)
        if (this.ctx.host.lacksDependencies(doc, m.events)) await this.ctx.host.catchUpFromStore(doc)
        if (this.closed) return
        // decodeClientMessage ran validateEnvelope on each: the store need not again.
        markValidated(m.events)
        this.ctx.host.contained(doc, 'push', () => this.ctx.host.pushNative(doc, { sender: this, session, docId: m.docId, events: m.events, receivedAt, device: this.device }))
        return
      }
      case 'ping':
        this.sendMessage({ t: 'pong', nonce: m.nonce })
        return
      default:
        return m satisfies never
    }
  }

  private authInfo(s: Session) {
    return { expiresAt: s.expiresAt === null ? null : instantFromEpochMs(s.expiresAt), user: s.user, grants: s.grants }
  }

  /** Verifies a token; on failure sends the typed error, closes, and returns undefined. */
  private async authorize(token: string): Promise<Session | undefined> {
    try {
      const session = await this.ctx.verifier.verify(token)
      if (this.closed) return undefined
      this.setSession(session)
      return session
    } catch (e) {
      if (!(e instanceof AuthError)) throw e
      this.fatal(CLOSE_CODES[e.code], e.code, e.message)
      return undefined
    }
  }

  protected override onTokenExpired(): void {
    this.fatal(CLOSE_CODES.TOKEN_EXPIRED, 'TOKEN_EXPIRED', 'the token expired; reconnect with a fresh one')
  }

  /** Sends every stored event after the subscription's cursor, then the broadcasts queued meanwhile, then caughtUp. */
  private async catchUp(sub: Subscription): Promise<void> {
    const { doc } = sub
    const docId = doc.docId
    const current = () => !this.closed && this.subs.get(docId) === sub
    const budget = Math.floor(this.config.maxFrameBytes / 2)
    let batch: SequencedEvent[] = []
    let size = 0
    const flush = async () => {
      if (batch.length === 0) return
      const last = (batch[batch.length - 1] as SequencedEvent).seq
      const bytes = encodeEventsFrame(docId, batch, last, { maxFrameBytes: Number.MAX_SAFE_INTEGER })
      batch = []
      size = 0
      await this.sendPaced(bytes)
      sub.sent = Math.max(sub.sent, last)
    }
    for await (const page of this.ctx.host.readPages(docId, sub.from)) {
      if (!current()) return
      for (const s of page) {
        const cost = s.event.payload.length + 200
        if (batch.length > 0 && (size + cost > budget || batch.length >= this.config.catchUpPageSize)) await flush()
        batch.push({ seq: s.seq, event: s.event })
        size += cost
      }
      await flush()
    }
    const actorHeads = await this.ctx.host.actorHeads(doc, sub.actors)
    if (!current()) return
    for (const q of sub.queue) this.sendLive(sub, q.items, q.frame, q.cursor)
    sub.queue = []
    sub.live = true
    this.sendMessage({ t: 'caughtUp', docId, cursor: sub.sent, actorHeads })
    if (doc.replica.exists) this.send(this.ctx.host.validatedFrame(doc))
  }

  /** `frame` holds exactly `items`; only a catch-up that already sent some of them needs a frame of its own. */
  private sendLive(sub: Subscription, items: readonly SequencedEvent[], frame: Uint8Array, cursor: number): void {
    const rest = items.filter((i) => i.seq > sub.sent)
    if (rest.length > 0) {
      this.send(rest.length === items.length ? frame : encodeEventsFrame(sub.doc.docId, rest, cursor, { maxFrameBytes: Number.MAX_SAFE_INTEGER }))
    }
    sub.sent = Math.max(sub.sent, cursor)
  }

  deliverEvents(docId: PurchaseId, items: readonly SequencedEvent[], frame: Uint8Array, cursor: number): void {
    const sub = this.subs.get(docId)
    if (sub === undefined) return
    if (!sub.live) sub.queue.push({ items, frame, cursor })
    else this.sendLive(sub, items, frame, cursor)
  }

  deliverLive(docId: PurchaseId, bytes: Uint8Array): void {
    if (this.subs.get(docId)?.live === true) this.send(bytes)
  }

  private unsubscribe(docId: PurchaseId): void {
    const sub = this.subs.get(docId)
    if (sub === undefined) return
    this.subs.delete(docId)
    sub.doc.natives.delete(this)
    sub.doc.lastUsed = this.runtime.now()
  }

  protected onClose(): void {
    this.runtime.clearTimeout(this.handshakeTimer)
    for (const docId of [...this.subs.keys()]) this.unsubscribe(docId)
  }
}
