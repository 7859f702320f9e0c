/**
 * One HTTP(S) server for everything the relay serves:
 *
 *   /sync                  native protocol (WebSocket)
 *   /y/<docId>?token=...   y-websocket rooms (WebSocket)
 *   /healthz               the process is up
 *   /readyz                the store answers (503 while shutting down)
 *   /metrics               Prometheus
 *   /admin/...             admin API (admin token)
 *   POST /demo/token       demo mode only: a token with every right, for the web app
 *   /                      the web app's static files, when packages/web/dist exists
 *
 * `close()` is the graceful shutdown: stop accepting, store everything
 * queued, write snapshots, close every socket with SHUTTING_DOWN, close the store.
 */
import { existsSync, mkdirSync, readFileSync, statSync, createReadStream } from 'node:fs'
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { extname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import { WebSocketServer, type WebSocket } from 'ws'
import { type PurchaseId, type ReplicaId, instantFromEpochMs, parsePurchaseId } from '@concord/core'
import { type CloseCodeInfo, CLOSE_CODES, rightsFor } from '@concord/core/protocol'
import { processReplicaId } from './process-id.js'
import { handleAdmin, sendJson } from './admin.js'
import { AuditCheckpoints } from './admin-history.js'
import { AuthError, type Session, type TokenVerifier, createTokenVerifier } from './auth.js'
import type { RelayConfig } from './config.js'
import type { DocHost } from './doc-host.js'
import { RelayMetrics } from './metrics.js'
import { createRelayCore } from './relay-core.js'
import { MemoryEventStore } from './store/memory.js'
import { SqliteEventStore } from './store/sqlite.js'
import type { EventStore } from './store/types.js'

export interface Relay {
  /** http(s)://host:port */
  readonly url: string
  readonly port: number
  readonly relayId: ReplicaId
  readonly host: DocHost
  readonly metrics: RelayMetrics
  readonly store: EventStore
  /** Graceful shutdown; resolves when everything is stored and closed. */
  close(): Promise<void>
}

export interface RelayOptions {
  /** A store to use instead of opening the configured one (tests, benchmarks); closed with the relay. */
  readonly store?: EventStore
}

const DEMO_TOKEN_TTL_S = 12 * 3600

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ico': 'image/x-icon', '.webmanifest': 'application/manifest+json', '.wasm': 'application/wasm', '.map': 'application/json',
  '.woff2': 'font/woff2', '.txt': 'text/plain; charset=utf-8',
}

async function openStore(config: RelayConfig, log: Logger, metrics: RelayMetrics): Promise<EventStore> {
  switch (config.store) {
    case 'memory':
      return new MemoryEventStore()
    case 'postgres': {
      // Loaded only in cluster mode: pg costs start-up time everywhere else.
      const { PostgresEventStore } = await import('./store/postgres.js')
      return PostgresEventStore.open({ connectionString: config.postgresUrl as string, schema: config.postgresSchema })
    }
    case 'sqlite':
      mkdirSync(config.dataDir, { recursive: true })
      return SqliteEventStore.open({
        path: join(config.dataDir, 'concord.sqlite'),
        durability: config.durability,
        checkpoint: {
          onCheckpoint: (r) => metrics.walCheckpoints.observe(r.ms / 1000),
          onError: (message) => log.warn({ err: message }, 'WAL checkpoint worker failed; SQLite checkpoints inside commits from now on'),
        },
      })
  }
}

function webRoot(config: RelayConfig): string | undefined {
  const dir = config.webDir ?? fileURLToPath(new URL('../../web/dist/', import.meta.url))
  try {
    return statSync(dir).isDirectory() ? resolve(dir) : undefined
  } catch {
    return undefined
  }
}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > max) throw new Error(`body over ${max} bytes`)
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

export async function startRelay(config: RelayConfig, log: Logger, options: RelayOptions = {}): Promise<Relay> {
  const metrics = new RelayMetrics()
  const store = options.store ?? (await openStore(config, log, metrics))
  const storeRelayId = await store.relayId()
  // Cluster mode (several relays on one Postgres schema, notices on a Redis stream): each process writes as its own actor.
  const clusterModule = config.redisUrl !== undefined ? await import('./cluster.js') : undefined
  const relayId = processReplicaId(storeRelayId)
  const verifier: TokenVerifier = await createTokenVerifier({
    ...(config.tokenSecret !== undefined ? { secret: config.tokenSecret } : {}),
    ...(config.tokenPublicKey !== undefined ? { publicKeyFile: config.tokenPublicKey } : {}),
    ...(config.tokenIssuer !== undefined ? { issuer: config.tokenIssuer } : {}),
    ...(config.tokenAudience !== undefined ? { audience: config.tokenAudience } : {}),
  })
  const core = createRelayCore({ config, log, store, verifier, relayId, metrics })
  const host = core.host
  let cluster: import('./cluster.js').ClusterLink | undefined
  if (clusterModule !== undefined && config.redisUrl !== undefined) {
    cluster = await clusterModule.ClusterLink.start({ redisUrl: config.redisUrl, prefix: config.redisPrefix, streamMaxLen: config.redisStreamMaxLen, processId: relayId, host, metrics, log })
    host.attachCluster(cluster)
  }
  const auditCheckpoints = new AuditCheckpoints()
  const web = webRoot(config)
  let closing = false

  const serveStatic = (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    if (web === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return false
    let path: string
    try {
      path = resolve(web, `.${decodeURIComponent(url.pathname)}`)
    } catch {
      return false
    }
    if (path !== web && !path.startsWith(web + sep)) return false
    if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'index.html')
    // Client-side routes (no extension) get the app's index.html.
    if (!existsSync(path) && extname(url.pathname) === '') path = join(web, 'index.html')
    if (!existsSync(path)) return false
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
      'content-length': statSync(path).size,
      'cache-control': path.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
    })
    if (req.method === 'HEAD') res.end()
    else createReadStream(path).pipe(res)
    return true
  }

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://relay')
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok', relayId, storeRelayId })
    if (url.pathname === '/readyz') {
      if (closing) return sendJson(res, 503, { status: 'shutting down' })
      try {
        await store.ping()
        // Without Redis a cluster relay still serves its own clients and stores everything: ready, but degraded.
        if (cluster !== undefined && !cluster.connected) {
          return sendJson(res, 200, { status: 'degraded', redis: 'disconnected', detail: 'events of other relays are delayed until Redis is back' })
        }
        return sendJson(res, 200, cluster === undefined ? { status: 'ready' } : { status: 'ready', redis: 'connected' })
      } catch (e) {
        return sendJson(res, 503, { status: 'store unavailable', error: (e as Error).message })
      }
    }
    if (url.pathname === '/metrics') {
      const text = await metrics.registry.metrics()
      res.writeHead(200, { 'content-type': metrics.registry.contentType })
      res.end(text)
      return
    }
    if (url.pathname === '/admin' || url.pathname.startsWith('/admin/')) return handleAdmin({ store, host, verifier, auditCheckpoints }, req, res, url)
    if (url.pathname === '/demo/token' && verifier.sign !== undefined) {
      if (req.method !== 'POST') return sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'POST { user, device? }' } })
      let body: { user?: unknown; device?: unknown }
      try {
        body = JSON.parse(await readBody(req, 4096)) as typeof body
      } catch (e) {
        return sendJson(res, 400, { error: { code: 'INVALID_ARGUMENT', message: `body must be JSON { user, device? }: ${(e as Error).message}` } })
      }
      const user = body?.user
      if (typeof user !== 'string' || user.trim().length === 0 || user.length > 100) {
        return sendJson(res, 400, { error: { code: 'INVALID_ARGUMENT', message: 'user must be a non-empty string of at most 100 characters' } })
      }
      const device = typeof body.device === 'string' ? body.device.slice(0, 100) : null
      const token = await verifier.sign({ sub: user, grants: [{ doc: '*', rights: ['read', 'write', 'resolve', 'approve'] }] }, DEMO_TOKEN_TTL_S)
      return sendJson(res, 200, { token, user, device, expiresAt: instantFromEpochMs(Date.now() + DEMO_TOKEN_TTL_S * 1000) })
    }
    if (serveStatic(req, res, url)) return
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `nothing at ${url.pathname}` } })
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    onRequest(req, res).catch((e: unknown) => {
      log.error({ err: e, url: req.url }, 'request failed')
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal relay error' } })
      else res.destroy()
    })
  }

  const server: Server =
    config.tlsCert !== undefined && config.tlsKey !== undefined
      ? createHttpsServer({ cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }, handler)
      : createServer(handler)
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxFrameBytes, perMessageDeflate: false, clientTracking: false })

  /** Accepts the upgrade only to close it with a code the client can act on. */
  const refuse = (req: IncomingMessage, socket: Socket, head: Buffer, info: CloseCodeInfo, reason: string) => {
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      metrics.closes.inc({ code: info.name })
      ws.close(info.code, reason.slice(0, 120))
    })
  }

  const upgradeY = async (req: IncomingMessage, socket: Socket, head: Buffer, url: URL) => {
    let docId: PurchaseId
    try {
      docId = parsePurchaseId(decodeURIComponent(url.pathname.slice('/y/'.length)))
    } catch {
      return refuse(req, socket, head, CLOSE_CODES.MALFORMED, 'invalid document id')
    }
    let session: Session
    try {
      session = await verifier.verify(url.searchParams.get('token') ?? '')
    } catch (e) {
      if (!(e instanceof AuthError)) throw e
      return refuse(req, socket, head, CLOSE_CODES[e.code], e.message)
    }
    if (!rightsFor(session.grants, docId).has('read')) return refuse(req, socket, head, CLOSE_CODES.FORBIDDEN, `the token does not grant ${docId}`)
    if (closing || socket.destroyed) return refuse(req, socket, head, CLOSE_CODES.SHUTTING_DOWN, 'relay shutting down')
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => core.acceptY(ws, docId, session))
  }

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy())
    const url = new URL(req.url ?? '/', 'http://relay')
    if (closing) return refuse(req, socket, head, CLOSE_CODES.SHUTTING_DOWN, 'relay shutting down')
    if (url.pathname === '/sync') {
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => core.acceptNative(ws))
      return
    }
    if (url.pathname.startsWith('/y/')) {
      upgradeY(req, socket, head, url).catch((e: unknown) => {
        log.error({ err: e }, 'y-websocket upgrade failed')
        socket.destroy()
      })
      return
    }
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
  })

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => {
      server.off('error', reject)
      resolveListen()
    })
  })
  const port = (server.address() as AddressInfo).port
  const scheme = config.tlsCert !== undefined ? 'https' : 'http'
  const url = `${scheme}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  if (verifier.mode === 'demo') {
    log.warn('demo mode: no token secret or public key is configured, so the relay made a random secret and serves POST /demo/token (every right on every document, 12 h). Configure --token-secret or --token-public-key for real use.')
  }
  log.info({ url, relayId, ...(cluster !== undefined ? { cluster: { storeRelayId, redisPrefix: config.redisPrefix, redis: cluster.connected ? 'connected' : 'disconnected' } } : {}), store: config.store, dataDir: config.store === 'sqlite' ? resolve(config.dataDir) : undefined, durability: config.durability, tokens: verifier.mode, web: web ?? null }, 'listening')

  let closed: Promise<void> | undefined
  const close = () => {
    closed ??= (async () => {
      closing = true
      log.info('shutting down: no new connections, storing what is queued')
      const serverClosed = new Promise<void>((r) => server.close(() => r()))
      await core.close()
      await cluster?.close()
      server.closeIdleConnections()
      // Give sockets a moment for their close handshake, but never hang the shutdown on one.
      await Promise.race([serverClosed, new Promise((r) => setTimeout(r, 2000).unref())])
      server.closeAllConnections()
      await store.close()
      log.info('shut down')
    })()
    return closed
  }

  return { url, port, relayId, host, metrics, store, close }
}
