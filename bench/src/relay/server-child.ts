/**
 * One relay under test, alone in its own process so that its CPU time
 * (process.cpuUsage, asked over IPC) is the server's and nobody else's.
 * `node server-child.js <kind>`; answers {type:'listening', url} once bound
 * to 127.0.0.1 on a free port, then serves 'stats' / 'gc' requests until
 * told to 'stop'. Started with --expose-gc for the memory figures.
 *
 * Kinds:
 * - y-websocket-server: the unmodified @y/websocket-server connection handler
 *   (setupWSConnection) on the ws version it depends on, wired as its own
 *   bin does it; stores nothing.
 * - hocuspocus: @hocuspocus/server with default options, no extensions.
 * - raw-ws: a ws broadcast server, ws.send per client per message; answers
 *   sync step 1 with an empty sync step 2 so the same load clients work.
 * - built-once: the same, but each broadcast frame is built once and written
 *   to every socket directly: the practical floor of a Node relay.
 * - built-once-coalesced: the same frames, but each socket is corked for the
 *   rest of the event-loop turn, so all the frames a socket gets in one turn
 *   leave in one write (one syscall): the floor for a relay that batches per
 *   turn, as group commit does.
 */
import http from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'

export type ServerKind = 'y-websocket-server' | 'hocuspocus' | 'raw-ws' | 'built-once' | 'built-once-coalesced'

export type ServerRequest = { type: 'stats'; id: number } | { type: 'gc'; id: number } | { type: 'stop' }
export interface ServerStats {
  readonly cpuUserUs: number
  readonly cpuSystemUs: number
  readonly rss: number
  readonly heapUsed: number
}
export type ServerReply =
  | { type: 'listening'; url: string }
  | { type: 'stats'; id: number; stats: ServerStats }
  | { type: 'gc'; id: number }
  | { type: 'error'; message: string }

const SYNC_STEP2_EMPTY = Buffer.from([0, 1, 2, 0, 0])

function roomOf(url: string | undefined): string {
  return (url ?? '/').slice(1).split('?')[0] ?? ''
}

/** Raw ws and built-once share the room bookkeeping and the handshake answer. */
function startBroadcastServer(mode: 'raw-ws' | 'built-once' | 'built-once-coalesced'): Promise<string> {
  const rooms = new Map<string, Set<WebSocket>>()
  const corked = new Set<Duplex>()
  let flushScheduled = false
  const flush = (): void => {
    flushScheduled = false
    for (const sock of corked) sock.uncork()
    corked.clear()
  }
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 1 << 20 })
  wss.on('connection', (ws, req) => {
    const room = roomOf(req.url)
    let members = rooms.get(room)
    if (members === undefined) rooms.set(room, (members = new Set()))
    members.add(ws)
    const peers = members
    // Private in ws' typings; this is the point of the floor: skip ws' Sender.
    const socketOf = (w: WebSocket): Duplex => (w as unknown as { _socket: Duplex })._socket
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length < 2 || data[0] !== 0) return
      if (data[1] === 0) {
        // Sync step 1: we hold no state, so the answer is an empty step 2.
        ws.send(SYNC_STEP2_EMPTY)
        return
      }
      if (data[1] !== 2 && data[1] !== 1) return
      if (data[1] === 1) {
        // A client's sync step 2 carries what we lack: forward it as an update.
        data = Buffer.from(data)
        data[1] = 2
      }
      if (mode === 'raw-ws') {
        for (const peer of peers) if (peer.readyState === 1) peer.send(data)
        return
      }
      const len = data.length
      const header = len < 126 ? Buffer.from([0x82, len]) : len < 65536 ? Buffer.from([0x82, 126, len >> 8, len & 0xff]) : undefined
      if (header === undefined) return
      const frameBytes = Buffer.concat([header, data])
      if (mode === 'built-once') {
        for (const peer of peers) if (peer.readyState === 1) socketOf(peer).write(frameBytes)
        return
      }
      for (const peer of peers) {
        if (peer.readyState !== 1) continue
        const sock = socketOf(peer)
        if (!corked.has(sock)) {
          sock.cork()
          corked.add(sock)
        }
        sock.write(frameBytes)
      }
      if (!flushScheduled) {
        flushScheduled = true
        setImmediate(flush)
      }
    })
    ws.on('close', () => {
      peers.delete(ws)
      if (peers.size === 0) rooms.delete(room)
    })
    ws.on('error', () => ws.terminate())
  })
  return new Promise((resolve) => {
    wss.on('listening', () => resolve(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`))
  })
}

async function startYWebsocketServer(): Promise<string> {
  // The package's own wiring (src/server.js), with its own ws dependency.
  const utilsSpecifier = '@y/websocket-server/utils'
  const utilsUrl = import.meta.resolve(utilsSpecifier)
  const utils = (await import(utilsUrl)) as { setupWSConnection: (conn: unknown, req: http.IncomingMessage) => void }
  const requireFromUtils = createRequire(utilsUrl)
  const WS = requireFromUtils('ws') as { Server: new (opts: { noServer: boolean }) => {
    handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, cb: (ws: unknown) => void): void
    emit(event: string, ...args: unknown[]): boolean
    on(event: string, listener: (...args: unknown[]) => void): void
  } }
  const wss = new WS.Server({ noServer: true })
  wss.on('connection', (conn, req) => utils.setupWSConnection(conn, req as http.IncomingMessage))
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' })
    res.end('okay')
  })
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`))
  })
}

async function startHocuspocus(): Promise<string> {
  const { Server } = await import('@hocuspocus/server')
  const server = new Server({ port: 0, address: '127.0.0.1', quiet: true, stopOnSignals: false })
  await server.listen()
  return `ws://127.0.0.1:${server.address.port}`
}

async function start(kind: string): Promise<string> {
  switch (kind) {
    case 'y-websocket-server': return startYWebsocketServer()
    case 'hocuspocus': return startHocuspocus()
    case 'raw-ws': return startBroadcastServer('raw-ws')
    case 'built-once': return startBroadcastServer('built-once')
    case 'built-once-coalesced': return startBroadcastServer('built-once-coalesced')
    default: throw new Error(`unknown server kind ${kind}`)
  }
}

function send(reply: ServerReply): void {
  process.send?.(reply)
}

process.on('message', (req: ServerRequest) => {
  if (req.type === 'stats') {
    const cpu = process.cpuUsage()
    const mem = process.memoryUsage()
    send({ type: 'stats', id: req.id, stats: { cpuUserUs: cpu.user, cpuSystemUs: cpu.system, rss: mem.rss, heapUsed: mem.heapUsed } })
  } else if (req.type === 'gc') {
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    gc?.()
    send({ type: 'gc', id: req.id })
  } else if (req.type === 'stop') {
    process.exit(0)
  }
})
// The coordinator going away must not leave a server behind.
process.on('disconnect', () => process.exit(0))

start(process.argv[2] ?? '').then(
  (url) => send({ type: 'listening', url }),
  (err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) })
    process.exit(1)
  },
)
