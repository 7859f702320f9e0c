/**
 * A minimal native-protocol client for tests: one `ws` socket, the core
 * codecs, and a PurchaseReplica per subscribed document. It is a test tool,
 * not the real client (packages/client): no outbox, no retry; it records
 * every message so tests can assert on them, and offers `waitFor` (a state
 * with a timeout that fails loudly, never a fixed sleep).
 */
import WebSocket from 'ws'
import {
  type BackendName, type CreatePurchaseInput, type CrdtBackend, type EventEnvelope, type EventId, type PurchaseId, type RandomSource,
  type ReplicaId, PurchaseReplica, createUlidFactory, yjsBackend,
} from '@concord/core'
import { seededRandom } from '@concord/core/internal'
import {
  type ClientMessage, type ErrorMessage, type RejectMessage, type ServerMessage, type ValidatedMessage, type WelcomeMessage,
  PROTOCOL_VERSION, decodeServerMessage, encodeClientMessage,
} from '@concord/core/protocol'

/**
 * Polls `check` (which may be async) until it returns a value other than
 * undefined/false; fails loudly after timeoutMs, naming what it waited for.
 */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const started = Date.now()
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

export interface CloseInfo {
  readonly code: number
  readonly reason: string
}

export interface NativeTestClientOptions {
  /** This device's replica id (event ids are `<replica>.<n>`). */
  readonly replica: string
  /** Seed for the ULIDs of lines and records (tests use no Math.random). */
  readonly seed?: number
  readonly backend?: CrdtBackend
  /** Send hello automatically and wait for welcome (default true). */
  readonly hello?: boolean
  readonly clientName?: string
  /** The user the stamps name (default: the subject the welcome names); another one forges authorship. */
  readonly user?: string
  /** The device the hello and the stamps name (default `test`). */
  readonly device?: string
  /** A previous (closed) client of the same device: its replicas, cursors and push state carry over (reconnect and catch up). */
  readonly resume?: NativeTestClient
}

export class NativeTestClient {
  readonly ws: WebSocket
  readonly messages: ServerMessage[] = []
  /** Raw frames that did not decode (should stay empty). */
  readonly undecodable: Uint8Array[] = []
  readonly replicas = new Map<PurchaseId, PurchaseReplica>()
  readonly cursors = new Map<PurchaseId, number>()
  readonly caughtUp = new Set<PurchaseId>()
  /** The actor heads each caughtUp reported (for the actors the subscribe named). */
  readonly actorHeads = new Map<PurchaseId, readonly { readonly actor: ReplicaId; readonly seq: number }[]>()
  readonly acked = new Set<EventId>()
  readonly pushed = new Set<EventId>()
  readonly rejects: RejectMessage[] = []
  readonly errors: ErrorMessage[] = []
  readonly validated = new Map<PurchaseId, ValidatedMessage>()
  welcome: WelcomeMessage | undefined
  closeInfo: CloseInfo | undefined
  readonly closed: Promise<CloseInfo>
  readonly opened: Promise<void>
  private readonly rng: RandomSource
  private readonly newId: () => string
  private nonce = 0

  private constructor(
    url: string,
    readonly options: NativeTestClientOptions,
  ) {
    this.ws = new WebSocket(url, { perMessageDeflate: false })
    this.rng = seededRandom(options.seed ?? 1)
    let clock = Date.UTC(2026, 0, 15, 9)
    // A fixed, advancing clock keeps the ULIDs reproducible.
    this.newId = createUlidFactory(() => clock++, this.rng)
    if (options.resume !== undefined) {
      for (const [d, r] of options.resume.replicas) this.replicas.set(d, r)
      for (const [d, c] of options.resume.cursors) this.cursors.set(d, c)
      for (const id of options.resume.pushed) this.pushed.add(id)
      for (const id of options.resume.acked) this.acked.add(id)
      this.newId = options.resume.newId
    }
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() }
        resolve(this.closeInfo)
      })
    })
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve())
      this.ws.once('error', (e) => reject(e))
    })
    this.ws.on('error', () => {})
    this.ws.on('message', (data: Buffer) => this.onFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)))
  }

  /** Connects to `<wsUrl>/sync`; with hello (default) resolves once the welcome arrived. */
  static async connect(wsUrl: string, token: string, options: NativeTestClientOptions): Promise<NativeTestClient> {
    const c = new NativeTestClient(`${wsUrl}/sync`, options)
    await c.opened
    if (options.hello !== false) {
      c.send({ t: 'hello', version: PROTOCOL_VERSION, token, client: options.clientName ?? 'native-test-client/0', device: options.device ?? 'test' })
      await c.waitFor('welcome', () => c.welcome)
    }
    return c
  }

  get replicaId(): ReplicaId {
    return this.options.replica as ReplicaId
  }

  private onFrame(bytes: Uint8Array): void {
    let m: ServerMessage
    try {
      m = decodeServerMessage(bytes)
    } catch {
      this.undecodable.push(bytes)
      return
    }
    this.messages.push(m)
    switch (m.t) {
      case 'welcome':
        this.welcome = m
        break
      case 'events': {
        this.replica(m.docId).receive(m.events.map((e) => e.event))
        this.cursors.set(m.docId, Math.max(this.cursors.get(m.docId) ?? 0, m.cursor))
        break
      }
      case 'caughtUp':
        this.cursors.set(m.docId, Math.max(this.cursors.get(m.docId) ?? 0, m.cursor))
        this.actorHeads.set(m.docId, m.actorHeads)
        this.caughtUp.add(m.docId)
        break
      case 'ack':
        for (const id of m.ids) this.acked.add(id)
        break
      case 'reject':
        this.rejects.push(m)
        break
      case 'validated':
        this.validated.set(m.docId, m)
        break
      case 'error':
        this.errors.push(m)
        break
      case 'authorized':
      case 'pong':
        break
      default:
        m satisfies never
    }
  }

  send(m: ClientMessage): void {
    this.ws.send(encodeClientMessage(m, { maxFrameBytes: Number.MAX_SAFE_INTEGER }))
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes)
  }

  /** The replica of a document (made empty on first use). */
  replica(docId: PurchaseId, backend?: CrdtBackend): PurchaseReplica {
    let r = this.replicas.get(docId)
    if (r === undefined) {
      r = PurchaseReplica.empty({
        docId, replica: this.replicaId, backend: backend ?? this.options.backend ?? yjsBackend, now: Date.now, newId: this.newId, user: this.options.user ?? this.welcome?.user ?? '', device: this.options.device ?? 'test',
      })
      this.replicas.set(docId, r)
    }
    return r
  }

  /** Creates a purchase on this device (before subscribing to it). */
  createPurchase(docId: PurchaseId, init: CreatePurchaseInput = { currency: 'EUR', supplier: 'ACME GmbH' }): PurchaseReplica {
    if (this.replicas.has(docId)) throw new Error(`${docId} already has a replica on ${this.replicaId}`)
    const r = PurchaseReplica.create({ docId, replica: this.replicaId, backend: this.options.backend ?? yjsBackend, now: Date.now, newId: this.newId, user: this.options.user ?? this.welcome?.user ?? '', device: this.options.device ?? 'test' }, init)
    this.replicas.set(docId, r)
    return r
  }

  /** Subscribes from a cursor (default: where this client left off) and waits for caughtUp. */
  async subscribe(docId: PurchaseId, options: { cursor?: number; backend?: BackendName; wait?: boolean; actors?: readonly ReplicaId[] } = {}): Promise<void> {
    this.caughtUp.delete(docId)
    this.send({ t: 'subscribe', docId, backend: options.backend ?? this.replica(docId).log.backend.name, cursor: options.cursor ?? this.cursors.get(docId) ?? 0, actors: options.actors ?? [this.replicaId] })
    if (options.wait !== false) await this.waitFor(`caughtUp of ${docId}`, () => this.caughtUp.has(docId))
  }

  /** This client's own events of a document that were not pushed yet. */
  unpushed(docId: PurchaseId): EventEnvelope[] {
    return this.replica(docId).log.events().filter((e) => e.actor === this.replicaId && !this.pushed.has(e.id))
  }

  /** Pushes the given events (default: every unpushed own event) and waits until each is acked or rejected. */
  async push(docId: PurchaseId, events: readonly EventEnvelope[] = this.unpushed(docId), options: { wait?: boolean } = {}): Promise<void> {
    if (events.length === 0) return
    for (const e of events) this.pushed.add(e.id)
    this.send({ t: 'push', docId, events })
    if (options.wait !== false) {
      await this.waitFor(`ack of ${events.map((e) => e.id).join(', ')}`, () =>
        events.every((e) => this.acked.has(e.id) || this.rejects.some((r) => r.id === e.id)),
      )
    }
  }

  async ping(): Promise<void> {
    const nonce = ++this.nonce
    this.send({ t: 'ping', nonce })
    await this.waitFor(`pong ${nonce}`, () => this.messages.some((m) => m.t === 'pong' && m.nonce === nonce))
  }

  waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
    return waitFor(what, () => {
      const v = check()
      if (v !== undefined && v !== false) return v
      if (this.closeInfo !== undefined) {
        throw new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${what}; errors: ${JSON.stringify(this.errors)}`)
      }
      return undefined
    }, timeoutMs)
  }

  /** Waits for the relay to close the socket; fails loudly if it does not. */
  async waitClosed(timeoutMs = 10_000): Promise<CloseInfo> {
    return waitFor('the relay to close the socket', () => this.closeInfo, timeoutMs)
  }

  close(): Promise<CloseInfo> {
    if (this.closeInfo === undefined) this.ws.close(1000)
    return this.closed
  }
}
