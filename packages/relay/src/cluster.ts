/**
 * Cluster mode: several relay processes on one Postgres store, woken up by
 * Redis pub/sub.
 *
 * Redis carries only wake-ups, never data. After a group commit has stored a
 * relay's events, it publishes a small notice on `<prefix>doc:<docId>`:
 * `{ relayProcess, docId, lastSeq }`, coalesced per document per event-loop
 * turn. Every relay pattern-subscribes to `<prefix>doc:*`; a relay holding
 * that document reads it from Postgres from its own cursor
 * (DocHost.catchUpFromStore), applies the events to its replica and fans
 * them out to its own subscribers (native and y-websocket) like local ones.
 *
 * Awareness (presence) is the one thing Redis carries itself: it is
 * ephemeral, never stored, so there is nothing to read back. A relay
 * publishes its y-websocket clients' awareness updates on
 * `<prefix>aw:<docId>` and hands those of the other relays to its own room
 * of that document (awareness.ts); while Redis is away, presence across
 * relays pauses and recovers with the clients' next renewal (every 15 s).
 *
 * Redis is not the source of truth. While it is unreachable each relay keeps
 * serving its clients and storing to Postgres; cross-relay delivery pauses
 * (a relay that writes still reads the gap it meets in the sequence, so only
 * read-only subscribers wait), a warning is logged, `/readyz` answers 200
 * with status "degraded", and `concord_cluster_redis_connected` is 0. Once the
 * subscription is back (ioredis reconnects with capped exponential backoff)
 * every loaded document is caught up from Postgres, so nothing is lost.
 */
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { Counter, Gauge } from 'prom-client'
import { type PurchaseId, type ReplicaId, parsePurchaseId } from '@concord/core'
import { decodeAwarenessUpdate } from '@concord/core/protocol'
import type { ClusterSink, DocHost } from './doc-host.js'
import type { RelayMetrics } from './metrics.js'

export interface ClusterOptions {
  readonly redisUrl: string
  readonly prefix: string
  /** This process's replica id (clusterProcessId). */
  readonly processId: ReplicaId
  readonly host: DocHost
  readonly metrics: RelayMetrics
  readonly log: Logger
  /** How long start() waits for the first subscription before going on degraded. Default 5 s. */
  readonly connectTimeoutMs?: number
}

interface Notice {
  readonly relayProcess: string
  readonly docId: string
  readonly lastSeq: number
}

/** An awareness update of one relay's clients, base64 in JSON like the notices. */
interface AwarenessNotice {
  readonly relayProcess: string
  readonly docId: string
  readonly update: string
}

const RETRY_CAP_MS = 2000

/** Capped exponential backoff with jitter (ioredis asks for the delay before each reconnect attempt). */
function retryDelay(attempt: number): number {
  const base = Math.min(RETRY_CAP_MS, 50 * 2 ** Math.min(attempt, 10))
  return Math.round(base / 2 + Math.random() * (base / 2))
}

export class ClusterLink implements ClusterSink {
  private readonly pub: Redis
  private readonly sub: Redis
  private readonly pattern: string
  private readonly awarenessPattern: string
  private readonly outgoing = new Map<PurchaseId, number>()
  private readonly incoming = new Map<PurchaseId, number>()
  private outScheduled = false
  private inScheduled = false
  private subscribed = false
  private everSubscribed = false
  private downSince: number | undefined
  private closing = false
  private readonly connectedGauge: Gauge
  private readonly notices: Counter<'direction'>
  private readonly caughtUpEvents: Counter
  private readonly reconnects: Counter
  private readonly awarenessNotices: Counter<'direction'>

  private constructor(private readonly o: ClusterOptions) {
    this.pattern = `${o.prefix}doc:*`
    this.awarenessPattern = `${o.prefix}aw:*`
    const common = {
      retryStrategy: retryDelay,
      // Never queue commands for a Redis that is away: a notice is only a wake-up, and the reconnect catch-up covers what was not sent.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
      connectionName: `concord-relay:${o.processId}`,
    }
    this.pub = new Redis(o.redisUrl, common)
    // The subscriber re-subscribes itself on every 'ready' (then catches up), so that no notice falls between the two.
    this.sub = new Redis(o.redisUrl, { ...common, autoResubscribe: false })
    const registers = [o.metrics.registry]
    this.connectedGauge = new Gauge({ name: 'concord_cluster_redis_connected', help: 'Cluster mode: 1 while the Redis notice subscription is up', registers })
    this.notices = new Counter({ name: 'concord_cluster_notices_total', help: 'Cluster notices published (out) and received from other relays (in)', labelNames: ['direction'], registers })
    this.caughtUpEvents = new Counter({ name: 'concord_cluster_caught_up_events_total', help: 'Events of other relays read from the store and fanned out', registers })
    this.reconnects = new Counter({ name: 'concord_cluster_redis_reconnects_total', help: 'Times the Redis subscription came back after an outage', registers })
    this.awarenessNotices = new Counter({ name: 'concord_cluster_awareness_total', help: 'Awareness updates published to (out) and received from (in) other relays', labelNames: ['direction'], registers })
    this.connectedGauge.set(0)
  }

  /** Connects to Redis; waits up to connectTimeoutMs for the subscription, then goes on (degraded) if Redis is not there. */
  static async start(o: ClusterOptions): Promise<ClusterLink> {
    const link = new ClusterLink(o)
    link.wire()
    const first = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), o.connectTimeoutMs ?? 5000)
      timer.unref()
      link.onFirstSubscribe = () => {
        clearTimeout(timer)
        resolve(true)
      }
    })
    link.pub.connect().catch(() => {}) // errors are reported by the 'error' handler; ioredis retries
    link.sub.connect().catch(() => {})
    if (!(await first)) {
      o.log.warn({ redis: redact(o.redisUrl) }, 'cluster mode: Redis is not reachable yet; serving this relay\'s clients and storing to Postgres, cross-relay delivery starts once it is')
    }
    return link
  }

  private onFirstSubscribe: (() => void) | undefined

  /** Both connections up: notices go out and come in. */
  get connected(): boolean {
    return this.subscribed && this.pub.status === 'ready'
  }

  private refreshGauge(): void {
    this.connectedGauge.set(this.connected && !this.closing ? 1 : 0)
  }

  private wire(): void {
    const { log } = this.o
    let lastError = ''
    const onError = (e: Error) => {
      // ioredis reports each failed attempt; one line per distinct message is enough.
      if (e.message !== lastError) log.debug({ err: e.message }, 'redis connection error')
      lastError = e.message
    }
    this.pub.on('error', onError)
    this.sub.on('error', onError)
    this.sub.on('ready', () => void this.onReady())
    this.sub.on('close', () => this.onDown())
    // Notices held while the publisher was away go out as soon as it is back (the subscriber side may have come back first).
    this.pub.on('ready', () => {
      this.refreshGauge()
      this.publish()
    })
    this.pub.on('close', () => this.refreshGauge())
    this.sub.on('pmessage', (pattern: string, _channel: string, message: string) => {
      if (pattern === this.awarenessPattern) this.onAwareness(message)
      else this.onMessage(message)
    })
  }

  private async onReady(): Promise<void> {
    if (this.closing) return
    try {
      await this.sub.psubscribe(this.pattern, this.awarenessPattern)
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'cluster mode: could not subscribe to notices; retrying on the next connection')
      this.sub.disconnect(true)
      return
    }
    this.subscribed = true
    this.refreshGauge()
    const wasDown = this.downSince
    this.downSince = undefined
    if (!this.everSubscribed) {
      this.everSubscribed = true
      this.o.log.info({ redis: redact(this.o.redisUrl), processId: this.o.processId, pattern: this.pattern }, 'cluster mode: subscribed to cross-relay notices')
      this.onFirstSubscribe?.()
    } else {
      this.reconnects.inc()
      this.o.log.warn({ downMs: wasDown === undefined ? null : Date.now() - wasDown, documents: this.o.host.docs.size }, 'cluster mode: Redis is back; catching up every loaded document from Postgres')
    }
    // Notices may have been missed (an outage, or events stored before the subscription): read the store.
    await this.o.host.catchUpAll()
  }

  private onDown(): void {
    if (this.closing || !this.subscribed) return
    this.subscribed = false
    this.refreshGauge()
    this.downSince = Date.now()
    this.o.log.warn('cluster mode: lost Redis; this relay keeps serving its clients and storing to Postgres, but events of other relays are not delivered until it is back (reconnecting with backoff)')
  }

  private onMessage(message: string): void {
    let n: Notice
    let docId: PurchaseId
    try {
      n = JSON.parse(message) as Notice
      docId = parsePurchaseId(n.docId)
      if (!Number.isSafeInteger(n.lastSeq) || n.lastSeq < 1) throw new Error('bad lastSeq')
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'cluster mode: ignoring a malformed notice')
      return
    }
    if (n.relayProcess === this.o.processId) return
    this.notices.inc({ direction: 'in' })
    this.incoming.set(docId, Math.max(this.incoming.get(docId) ?? 0, n.lastSeq))
    if (this.inScheduled) return
    this.inScheduled = true
    // Coalesced per document per event-loop turn.
    setImmediate(() => {
      this.inScheduled = false
      const batch = [...this.incoming]
      this.incoming.clear()
      for (const [d, seq] of batch) this.o.host.noticeFromCluster(d, seq)
    })
  }

  // ClusterSink
  written(docId: PurchaseId, lastSeq: number): void {
    this.outgoing.set(docId, Math.max(this.outgoing.get(docId) ?? 0, lastSeq))
    if (this.outScheduled) return
    this.outScheduled = true
    setImmediate(() => {
      this.outScheduled = false
      this.publish()
    })
  }

  caughtUp(_docId: PurchaseId, events: number): void {
    this.caughtUpEvents.inc(events)
  }

  awareness(docId: PurchaseId, update: Uint8Array): void {
    // Presence is not worth holding while Redis is away: the clients renew it every 15 s.
    if (this.pub.status !== 'ready' || this.closing) return
    const notice: AwarenessNotice = { relayProcess: this.o.processId, docId, update: Buffer.from(update).toString('base64') }
    this.awarenessNotices.inc({ direction: 'out' })
    this.pub.publish(`${this.o.prefix}aw:${docId}`, JSON.stringify(notice)).catch((e: unknown) => this.o.log.debug({ err: (e as Error).message }, 'awareness not published'))
  }

  private onAwareness(message: string): void {
    let n: AwarenessNotice
    let docId: PurchaseId
    let update: Uint8Array
    let entries: ReturnType<typeof decodeAwarenessUpdate>
    try {
      n = JSON.parse(message) as AwarenessNotice
      docId = parsePurchaseId(n.docId)
      if (typeof n.update !== 'string') throw new Error('no update')
      update = new Uint8Array(Buffer.from(n.update, 'base64'))
      entries = decodeAwarenessUpdate(update)
    } catch (e) {
      // Everything above only parses what came over Redis: any failure means a malformed notice.
      this.o.log.warn({ err: (e as Error).message }, 'cluster mode: ignoring a malformed awareness notice')
      return
    }
    if (n.relayProcess === this.o.processId) return
    this.awarenessNotices.inc({ direction: 'in' })
    this.o.host.awarenessFromCluster(docId, entries, update)
  }

  private publish(): void {
    // While Redis is away, only the latest lastSeq per document is kept (bounded by
    // the documents written, not by the events) and sent when the publisher is
    // back: a relay whose subscription returned before this publisher would
    // otherwise miss the wake-up. (The others' own reconnect catch-up covers the rest.)
    if (this.outgoing.size === 0 || this.pub.status !== 'ready' || this.closing) return
    const batch = [...this.outgoing]
    this.outgoing.clear()
    const pipeline = this.pub.pipeline()
    for (const [docId, lastSeq] of batch) {
      const notice: Notice = { relayProcess: this.o.processId, docId, lastSeq }
      pipeline.publish(`${this.o.prefix}doc:${docId}`, JSON.stringify(notice))
    }
    this.notices.inc({ direction: 'out' }, batch.length)
    pipeline.exec().catch((e: unknown) => this.o.log.debug({ err: (e as Error).message }, 'cluster notices not published'))
  }

  async close(): Promise<void> {
    this.closing = true
    this.subscribed = false
    this.refreshGauge()
    const quit = (r: Redis) => (r.status === 'ready' ? r.quit().then(() => undefined, () => r.disconnect()) : Promise.resolve(r.disconnect()))
    await Promise.all([quit(this.pub), quit(this.sub)])
  }
}

/** The URL without its password, for logs. */
function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return 'redis'
  }
}
