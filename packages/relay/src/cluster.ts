/**
 * Cluster mode: several relay processes on one Postgres store, woken up by
 * notices on a Redis stream.
 *
 * Redis carries only wake-ups, never data. After a group commit has stored a
 * relay's events, it appends (XADD) a small notice to the cluster's one
 * stream `<prefix>notices`: `{ relayProcess, docId, lastSeq }`, coalesced per
 * document per event-loop turn. The stream is trimmed to about
 * `--redis-stream-maxlen` entries (MAXLEN ~, default 100000). One stream for
 * the whole cluster, not one per document: each relay then reads with a
 * single blocking XREAD, whatever the number of documents.
 *
 * Every relay reads the stream on a connection of its own (XREAD BLOCK from
 * the id of the last entry it processed, kept in memory); a relay holding a
 * notice's document reads it from Postgres from its own cursor
 * (DocHost.catchUpFromStore), applies the events to its replica and fans
 * them out to its own subscribers (native and y-websocket) like local ones.
 * It skips its own notices. On its first connection a relay starts at the
 * stream's end: what was stored before, it loads from Postgres anyway.
 *
 * A relay whose connection drops (or that loses Redis while Redis stays up
 * for the others) resumes from the last id it processed, so it reads the
 * notices written meanwhile: no notice is lost while Redis keeps them, and no
 * document has to be read again. Only when the stream no longer holds that id
 * (trimmed past it, or Redis lost its data: a restart without persistence)
 * can the relay not know what it missed: it then catches up every loaded
 * document from Postgres, counts it in
 * `concord_cluster_stream_fallbacks_total` and logs a warning. (Trimming
 * keeps at least MAXLEN entries, so a relay that falls behind by fewer while
 * connected misses nothing; one that falls behind by more while connected
 * would skip the trimmed notices unseen. A relay that stored events but died
 * before appending their notice also leaves them unannounced: the next notice
 * or write on that document reads them.)
 *
 * Awareness (presence) is the one thing Redis carries itself, over pub/sub: it
 * is ephemeral, never stored, so there is nothing to read back. A relay
 * publishes its y-websocket clients' awareness updates on
 * `<prefix>aw:<docId>` and hands those of the other relays to its own room
 * of that document (awareness.ts); while Redis is away, presence across
 * relays pauses and recovers with the clients' next renewal (every 15 s).
 *
 * Redis is not the source of truth: Postgres is. While Redis is unreachable
 * each relay keeps serving its clients and storing to Postgres; cross-relay
 * delivery pauses (a relay that writes still reads the gap it meets in the
 * sequence, so only read-only subscribers wait), a warning is logged,
 * `/readyz` answers 200 with status "degraded", and
 * `concord_cluster_redis_connected` is 0. A relay holds one notice per
 * document it wrote meanwhile and appends it once its connection is back
 * (ioredis reconnects with capped exponential backoff); the readers resume as
 * above.
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
  /** How long start() waits for the notice stream before going on degraded. Default 5 s. */
  readonly connectTimeoutMs?: number
  /** About how many notices the stream keeps (XADD MAXLEN ~). Default 100000. */
  readonly streamMaxLen?: number
}

interface Notice {
  readonly relayProcess: string
  readonly docId: PurchaseId
  readonly lastSeq: number
}

/** An awareness update of one relay's clients, base64 in JSON. */
interface AwarenessNotice {
  readonly relayProcess: string
  readonly docId: string
  readonly update: string
}

/** The default of --redis-stream-maxlen (config.ts), for a ClusterLink started without it. */
const DEFAULT_STREAM_MAXLEN = 100_000
/** Entries per XREAD: a relay back from an outage reads the backlog in rounds of this many. */
const READ_COUNT = 1000
/** How long one XREAD waits for a notice before the loop asks again (the read connection does nothing else). */
const READ_BLOCK_MS = 5000
const RETRY_CAP_MS = 2000
/** The id before every stream entry: where a relay reads from when the stream was empty. */
const STREAM_START = '0-0'

/** Capped exponential backoff with jitter (ioredis asks for the delay before each reconnect attempt). */
function retryDelay(attempt: number): number {
  const base = Math.min(RETRY_CAP_MS, 50 * 2 ** Math.min(attempt, 10))
  return Math.round(base / 2 + Math.random() * (base / 2))
}

/** Orders two stream ids (`<ms>-<seq>`): negative, zero or positive. */
function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint]
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint]
  if (am !== bm) return am < bm ? -1 : 1
  return as === bs ? 0 : as < bs ? -1 : 1
}

/** A stream entry's fields (`[name, value, name, value, ...]`) as a notice; throws on anything else. */
function noticeOf(fields: readonly string[]): Notice {
  const f = new Map<string, string>()
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!)
  const relayProcess = f.get('relayProcess')
  if (relayProcess === undefined) throw new Error('no relayProcess')
  const docId = parsePurchaseId(f.get('docId') ?? '')
  const lastSeq = Number(f.get('lastSeq'))
  if (!Number.isSafeInteger(lastSeq) || lastSeq < 1) throw new Error('bad lastSeq')
  return { relayProcess, docId, lastSeq }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

type StreamEntry = [id: string, fields: string[]]

export class ClusterLink implements ClusterSink {
  /** Appends notices and publishes awareness. */
  private readonly pub: Redis
  /** Subscribed to awareness (a subscribed connection can do nothing else). */
  private readonly sub: Redis
  /** Reads the notice stream: a blocking XREAD holds its connection. */
  private readonly reader: Redis
  private readonly streamKey: string
  private readonly maxLen: number
  private readonly awarenessPattern: string
  private readonly outgoing = new Map<PurchaseId, number>()
  private readonly incoming = new Map<PurchaseId, number>()
  private outScheduled = false
  private inScheduled = false
  /** The id of the last stream entry processed; undefined until the first connection has read the stream's end. */
  private lastId: string | undefined
  /** Bumped on every connection and loss of the reader: a read loop of an older connection stops. */
  private readerGen = 0
  private reading = false
  private awarenessSubscribed = false
  private downSince: number | undefined
  private closing = false
  private readonly connectedGauge: Gauge
  private readonly notices: Counter<'direction'>
  private readonly caughtUpEvents: Counter
  private readonly reconnects: Counter
  private readonly fallbacks: Counter
  private readonly awarenessNotices: Counter<'direction'>

  private constructor(private readonly o: ClusterOptions) {
    this.streamKey = `${o.prefix}notices`
    this.maxLen = o.streamMaxLen ?? DEFAULT_STREAM_MAXLEN
    this.awarenessPattern = `${o.prefix}aw:*`
    const common = {
      retryStrategy: retryDelay,
      // Never queue commands for a Redis that is away: notices wait in `outgoing` (one per document) until the
      // publisher is back, presence is renewed by the clients, and the reader resumes from its last id.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
    }
    const name = (role: string) => `concord-relay:${o.processId}:${role}`
    this.pub = new Redis(o.redisUrl, { ...common, connectionName: name('pub') })
    // The subscriber re-subscribes itself on every 'ready', so that the gauge knows when presence flows again.
    this.sub = new Redis(o.redisUrl, { ...common, connectionName: name('aw'), autoResubscribe: false })
    // maxRetriesPerRequest 0: a read in flight is rejected as soon as the connection closes (ioredis would
    // otherwise keep it for a resend, or drop it unsettled), so the read loop ends and 'ready' starts a new one.
    this.reader = new Redis(o.redisUrl, { ...common, connectionName: name('read'), maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false })
    const registers = [o.metrics.registry]
    this.connectedGauge = new Gauge({ name: 'concord_cluster_redis_connected', help: 'Cluster mode: 1 while notices are written to and read from the Redis stream and presence is subscribed', registers })
    this.notices = new Counter({ name: 'concord_cluster_notices_total', help: 'Cluster notices appended to the stream (out) and read from it for other relays\' writes (in)', labelNames: ['direction'], registers })
    this.caughtUpEvents = new Counter({ name: 'concord_cluster_caught_up_events_total', help: 'Events of other relays read from the store and fanned out', registers })
    this.reconnects = new Counter({ name: 'concord_cluster_redis_reconnects_total', help: 'Times the Redis notice stream was read again after an outage', registers })
    this.fallbacks = new Counter({ name: 'concord_cluster_stream_fallbacks_total', help: 'Times a relay back from an outage could not resume the notice stream where it stopped (trimmed, or Redis lost it) and caught up every loaded document from Postgres', registers })
    this.awarenessNotices = new Counter({ name: 'concord_cluster_awareness_total', help: 'Awareness updates published to (out) and received from (in) other relays', labelNames: ['direction'], registers })
    this.connectedGauge.set(0)
    // Both series exist from the start, so a dashboard (or a test) reads 0 rather than nothing.
    this.notices.inc({ direction: 'in' }, 0)
    this.notices.inc({ direction: 'out' }, 0)
  }

  /** Connects to Redis; waits up to connectTimeoutMs for the notice stream, then goes on (degraded) if Redis is not there. */
  static async start(o: ClusterOptions): Promise<ClusterLink> {
    const link = new ClusterLink(o)
    link.wire()
    const first = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), o.connectTimeoutMs ?? 5000)
      timer.unref()
      link.onFirstRead = () => {
        clearTimeout(timer)
        resolve(true)
      }
    })
    for (const r of [link.pub, link.sub, link.reader]) r.connect().catch(() => {}) // errors are reported by the 'error' handler; ioredis retries
    if (!(await first)) {
      o.log.warn({ redis: redact(o.redisUrl) }, 'cluster mode: Redis is not reachable yet; serving this relay\'s clients and storing to Postgres, cross-relay delivery starts once it is')
    }
    return link
  }

  private onFirstRead: (() => void) | undefined

  /** Every connection up: notices go out and come in, presence crosses relays. */
  get connected(): boolean {
    return this.reading && this.awarenessSubscribed && this.pub.status === 'ready'
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
    for (const r of [this.pub, this.sub, this.reader]) r.on('error', onError)
    this.reader.on('ready', () => void this.onReaderReady())
    this.reader.on('close', () => this.onReaderDown())
    this.sub.on('ready', () => void this.onSubReady())
    this.sub.on('close', () => {
      this.awarenessSubscribed = false
      this.refreshGauge()
    })
    // Notices held while the publisher was away go out as soon as it is back.
    this.pub.on('ready', () => {
      this.refreshGauge()
      this.publish()
    })
    this.pub.on('close', () => this.refreshGauge())
    this.sub.on('pmessage', (_pattern: string, _channel: string, message: string) => this.onAwareness(message))
  }

  // ------------------------------------------------------------ reading notices

  /** The read connection is (back) up: choose where to read from, then read until it drops. */
  private async onReaderReady(): Promise<void> {
    const gen = ++this.readerGen
    const stale = () => gen !== this.readerGen || this.closing || this.reader.status !== 'ready'
    for (;;) {
      if (stale()) return
      try {
        await this.resume()
        break
      } catch (e) {
        // A command error on a live connection (a key of another type under our name, a Redis refusing): retry, slowly.
        if (stale()) return
        this.o.log.warn({ err: (e as Error).message, stream: this.streamKey }, 'cluster mode: could not read the notice stream; retrying')
        await sleep(RETRY_CAP_MS)
      }
    }
    if (stale()) return
    this.reading = true
    this.downSince = undefined
    this.refreshGauge()
    this.onFirstRead?.()
    this.onFirstRead = undefined
    await this.readLoop(stale)
  }

  /**
   * Sets where this connection reads from. First connection: the stream's
   * end. After an outage: the last id processed, if the stream still holds
   * it; otherwise the stream's end, and every loaded document is caught up
   * from Postgres, since the notices in between are gone.
   */
  private async resume(): Promise<void> {
    const { first, last } = await this.probeStream()
    const tip = last ?? STREAM_START
    const previous = this.lastId
    if (previous === undefined) {
      this.lastId = tip
      this.o.log.info({ redis: redact(this.o.redisUrl), processId: this.o.processId, stream: this.streamKey, from: tip }, 'cluster mode: reading cross-relay notices from the Redis stream')
      // Documents loaded while Redis was not reachable yet (a degraded start) may have missed notices.
      void this.o.host.catchUpAll()
      return
    }
    this.reconnects.inc()
    const downMs = this.downSince === undefined ? null : Date.now() - this.downSince
    // Trimming removes the oldest entries only, and ids only grow: if the first entry is not after the last one
    // processed, every entry after that one is still there. Otherwise (or if the stream is gone) some may be
    // lost. Conservative where it cannot tell: the last one processed was itself trimmed but its successor is
    // still first, or the stream was empty when this relay started; a catch-up then costs reads, never events.
    if (first !== undefined && compareStreamIds(first, previous) <= 0) {
      this.o.log.warn({ downMs, from: previous }, 'cluster mode: Redis is back; reading the notices written meanwhile from the stream')
      return
    }
    this.lastId = tip
    this.fallbacks.inc()
    this.o.log.warn(
      { downMs, lastRead: previous, firstInStream: first ?? null, documents: this.o.host.docs.size },
      'cluster mode: Redis is back, but the notice stream no longer holds where this relay stopped (trimmed past it, or Redis lost its data); catching up every loaded document from Postgres',
    )
    void this.o.host.catchUpAll()
  }

  /** The ids of the stream's first and last entries (undefined: empty or absent), read at one instant. */
  private async probeStream(): Promise<{ first: string | undefined; last: string | undefined }> {
    const replies = await this.reader.multi().xrange(this.streamKey, '-', '+', 'COUNT', 1).xrevrange(this.streamKey, '+', '-', 'COUNT', 1).exec()
    if (replies === null) throw new Error('stream probe aborted')
    const ids = replies.map(([err, entries]) => {
      if (err !== null) throw err
      return (entries as StreamEntry[])[0]?.[0]
    })
    return { first: ids[0], last: ids[1] }
  }

  private async readLoop(stale: () => boolean): Promise<void> {
    while (!stale()) {
      let reply: [key: string, entries: StreamEntry[]][] | null
      try {
        reply = await this.reader.xread('COUNT', READ_COUNT, 'BLOCK', READ_BLOCK_MS, 'STREAMS', this.streamKey, this.lastId ?? STREAM_START)
      } catch (e) {
        // The connection closed (the read is rejected at once): the next 'ready' resumes from lastId.
        if (stale()) return
        this.o.log.warn({ err: (e as Error).message, stream: this.streamKey }, 'cluster mode: reading the notice stream failed; retrying')
        await sleep(RETRY_CAP_MS)
        continue
      }
      if (stale()) return // a newer connection reads from lastId again; these entries are not processed here
      for (const [, entries] of reply ?? []) this.onEntries(entries)
    }
  }

  private onReaderDown(): void {
    this.readerGen++
    if (this.closing || !this.reading) return
    this.reading = false
    this.refreshGauge()
    this.downSince = Date.now()
    this.o.log.warn('cluster mode: lost Redis; this relay keeps serving its clients and storing to Postgres, but events of other relays are not delivered until it is back (reconnecting with backoff)')
  }

  private onEntries(entries: readonly StreamEntry[]): void {
    for (const [id, fields] of entries) {
      this.lastId = id
      let n: Notice
      try {
        n = noticeOf(fields)
      } catch (e) {
        this.o.log.warn({ err: (e as Error).message, id }, 'cluster mode: ignoring a malformed notice')
        continue
      }
      if (n.relayProcess !== this.o.processId) this.onNotice(n)
    }
  }

  private onNotice(n: Notice): void {
    this.notices.inc({ direction: 'in' })
    this.incoming.set(n.docId, Math.max(this.incoming.get(n.docId) ?? 0, n.lastSeq))
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

  // ------------------------------------------------------------ ClusterSink

  written(docId: PurchaseId, lastSeq: number): void {
    this.hold(docId, lastSeq)
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

  // ------------------------------------------------------------ writing notices

  /** Keeps the latest lastSeq per document: bounded by the documents written, not by the events. */
  private hold(docId: PurchaseId, lastSeq: number): void {
    this.outgoing.set(docId, Math.max(this.outgoing.get(docId) ?? 0, lastSeq))
  }

  private publish(): void {
    // While the publisher is away, notices wait in `outgoing` and go out when it is back ('ready').
    if (this.outgoing.size === 0 || this.pub.status !== 'ready' || this.closing) return
    const batch = [...this.outgoing]
    this.outgoing.clear()
    const pipeline = this.pub.pipeline()
    for (const [docId, lastSeq] of batch) {
      pipeline.xadd(this.streamKey, 'MAXLEN', '~', this.maxLen, '*', 'relayProcess', this.o.processId, 'docId', docId, 'lastSeq', lastSeq)
    }
    const failed = (err: string) => {
      // Held again and written on the next 'ready' or write. A notice written twice only costs a store read.
      for (const [docId, lastSeq] of batch) this.hold(docId, lastSeq)
      const live = this.pub.status === 'ready' && !this.closing
      this.o.log[live ? 'warn' : 'debug']({ err, notices: batch.length }, 'cluster notices not appended to the stream; held for the next try')
    }
    pipeline.exec().then(
      (results) => {
        const err = results === null ? 'aborted' : results.find(([e]) => e !== null)?.[0]?.message
        if (err !== undefined) failed(err)
        else this.notices.inc({ direction: 'out' }, batch.length)
      },
      (e: unknown) => failed((e as Error).message),
    )
  }

  // ------------------------------------------------------------ awareness over pub/sub

  private async onSubReady(): Promise<void> {
    if (this.closing) return
    try {
      await this.sub.psubscribe(this.awarenessPattern)
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'cluster mode: could not subscribe to awareness; retrying on the next connection')
      this.sub.disconnect(true)
      return
    }
    this.awarenessSubscribed = true
    this.refreshGauge()
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

  async close(): Promise<void> {
    this.closing = true
    this.readerGen++
    this.reading = false
    this.refreshGauge()
    const quit = (r: Redis) => (r.status === 'ready' ? r.quit().then(() => undefined, () => r.disconnect()) : Promise.resolve(r.disconnect()))
    // The reader is not asked to QUIT: its blocked XREAD would hold the QUIT for up to READ_BLOCK_MS.
    this.reader.disconnect()
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
