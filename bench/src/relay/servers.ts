/**
 * The relays compared side by side. Each entry starts one server in its own
 * process and says how to reach a document's room. Adding the Concord relay
 * is one entry: `commandServer` starts any server from a command line that
 * prints `{"msg":"listening","url":...}` on stdout and measures its CPU from
 * /proc/<pid>/stat.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import type { ServerKind, ServerReply, ServerRequest } from './server-child.js'
import type { WireProtocol } from './protocol.js'

const serverChildPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server-child.js')

export interface ServerStatsSample {
  /** User + system CPU time of the server process so far, microseconds. */
  readonly cpuUs: number
  readonly rss: number
  /** Only for servers we host ourselves (IPC). */
  readonly heapUsed?: number
  /** Concord's relays: the time its write check took so far (concord_write_check_seconds_total, every endpoint), microseconds. */
  readonly writeCheckUs?: number
}

export interface ServerHandle {
  /** Base ws:// URL. */
  readonly url: string
  /** Access token for servers that require one (sent as ?token=). */
  readonly token?: string
  /** Concord's relays: the native endpoint (ws://.../sync). */
  readonly syncUrl?: string
  readonly pid: number
  stats(): Promise<ServerStatsSample>
  /** Runs a full GC in the server if it can; false when it cannot (external command). */
  gc(): Promise<boolean>
  stop(): Promise<void>
}

export interface ServerContext {
  readonly repoRoot: string
}

/** Anchor figures of the relay targets (measured on this kind of machine), shown beside ours. */
export interface Targets {
  /** Delivered messages per second by K. */
  readonly deliveredPerSec?: Readonly<Record<number, number>>
  /** Server CPU per delivered message, [low, high] microseconds. */
  readonly cpuUsPerDelivery?: readonly [number, number]
}

export interface RelayServer {
  readonly id: string
  readonly title: string
  /** What the load clients speak to it. */
  readonly protocol: WireProtocol | 'concord-native'
  /** Whether it keeps document state (so a late joiner can be checked against it). */
  readonly stateful: boolean
  roomUrl(server: ServerHandle, doc: string): string
  /** Why it cannot run here, or undefined when it can. */
  unavailable(ctx: ServerContext): string | undefined
  start(ctx: ServerContext): Promise<ServerHandle>
  readonly targets?: Targets
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      resolve()
    }, ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/** Starts one of our own server children (server-child.ts). */
export function childServer(kind: ServerKind): Promise<ServerHandle> {
  return new Promise((resolve, reject) => {
    const child = fork(serverChildPath, [kind], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let nextId = 1
    const pending = new Map<number, (r: ServerReply) => void>()
    const ask = (req: ServerRequest & { id: number }): Promise<ServerReply> =>
      new Promise((res, rej) => {
        pending.set(req.id, res)
        child.send(req, (err) => { if (err !== null) rej(err) })
      })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${kind}: did not start within 20 s`))
    }, 20_000)
    child.on('message', (msg: ServerReply) => {
      if (msg.type === 'listening') {
        clearTimeout(timer)
        resolve({
          url: msg.url,
          pid: child.pid!,
          stats: async () => {
            const r = await ask({ type: 'stats', id: nextId++ })
            if (r.type !== 'stats') throw new Error('bad stats reply')
            return { cpuUs: r.stats.cpuUserUs + r.stats.cpuSystemUs, rss: r.stats.rss, heapUsed: r.stats.heapUsed }
          },
          gc: async () => {
            await ask({ type: 'gc', id: nextId++ })
            return true
          },
          stop: async () => {
            if (child.connected) child.send({ type: 'stop' } satisfies ServerRequest)
            await waitExit(child, 5000)
          },
        })
      } else if (msg.type === 'error') {
        clearTimeout(timer)
        reject(new Error(`${kind}: ${msg.message}`))
      } else if ('id' in msg) {
        pending.get(msg.id)?.(msg)
        pending.delete(msg.id)
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${kind}: exited (${code}) before listening`))
    })
  })
}

let clockTicks: number | undefined
function ticksPerSecond(): number {
  // CLK_TCK is 100 on every Linux this runs on; `getconf` would be a process per call.
  clockTicks ??= 100
  return clockTicks
}

/** CPU time (us) and RSS (bytes) of any process, from /proc. */
export function procStats(pid: number): ServerStatsSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is parenthesised and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return { cpuUs: ((utime + stime) * 1e6) / ticksPerSecond(), rss: rssKb * 1024 }
}

export interface CommandServerOptions {
  readonly command: string
  readonly args: readonly string[]
  readonly cwd: string
  readonly env?: Readonly<Record<string, string>>
  /** Removed when the server stops (its data directory). */
  readonly cleanup?: string
}

/**
 * Starts a server from a command line that prints one JSON line
 * `{"msg":"listening","url":"http://127.0.0.1:PORT"}` on stdout (other lines
 * are ignored). CPU and memory come from /proc; it cannot be asked to GC.
 */
export function commandServer(opts: CommandServerOptions): Promise<ServerHandle> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.command, [...opts.args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${opts.command} ${opts.args.join(' ')}: no "listening" line within 20 s`))
    }, 20_000)
    const lines = createInterface({ input: child.stdout! })
    let started = false
    lines.on('line', (line) => {
      if (started) return
      let json: unknown
      try {
        json = JSON.parse(line)
      } catch {
        return
      }
      const { msg, url } = json as { msg?: unknown; url?: unknown }
      if (msg !== 'listening' || typeof url !== 'string') return
      started = true
      clearTimeout(timer)
      // Keep draining stdout so the server never blocks on a full pipe.
      child.stdout!.resume()
      resolve({
        url: url.replace(/^http/, 'ws').replace(/\/$/, ''),
        pid: child.pid!,
        stats: async () => procStats(child.pid!),
        gc: async () => false,
        stop: async () => {
          child.kill('SIGTERM')
          await waitExit(child, 10_000)
          if (opts.cleanup !== undefined) rmSync(opts.cleanup, { recursive: true, force: true })
        },
      })
    })
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (!started) reject(new Error(`${opts.command} ${opts.args.join(' ')}: exited (${code}) before listening`))
    })
  })
}

/** The Concord relay CLI, once packages/relay is built. */
function concordRelayCli(ctx: ServerContext): string {
  return path.join(ctx.repoRoot, 'packages', 'relay', 'dist', 'cli.js')
}

/**
 * The Concord relay as a user starts it, in demo auth mode (no secret: it
 * signs a token with every right at POST /demo/token), with the per-connection
 * rate limit lifted (a benchmark client sends thousands of updates a second).
 * Logging stays at its default (info): the "listening" line is an info line.
 * The y-websocket loads edit plain Yjs rooms (a text, no purchase), which the
 * relay takes only with --generic-rooms; every write is still inspected.
 */
async function startConcordRelay(ctx: ServerContext, extraArgs: readonly string[] = []): Promise<ServerHandle> {
  const data = mkdtempSync(path.join(tmpdir(), 'concord-bench-relay-'))
  // For profiling the relay under a scenario's load, e.g. CONCORD_BENCH_RELAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.CONCORD_BENCH_RELAY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')
  const handle = await commandServer({
    command: process.execPath,
    args: [...nodeArgs, concordRelayCli(ctx), '--port', '0', '--data', data, '--rate-limit', '1000000', '--rate-burst', '10000000', '--generic-rooms', 'true', ...extraArgs],
    cwd: ctx.repoRoot,
    cleanup: data,
  })
  try {
    const res = await fetch(`${handle.url.replace(/^ws/, 'http')}/demo/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'bench', device: 'bench' }),
    })
    const body = (await res.json()) as { token?: unknown }
    if (!res.ok || typeof body.token !== 'string') throw new Error(`POST /demo/token answered ${res.status}`)
    const metricsUrl = `${handle.url.replace(/^ws/, 'http')}/metrics`
    return {
      ...handle,
      token: body.token,
      syncUrl: `${handle.url}/sync`,
      stats: async () => ({ ...(await handle.stats()), writeCheckUs: await writeCheckUsOf(metricsUrl) }),
    }
  } catch (err) {
    await handle.stop()
    throw err
  }
}

/** The sum of concord_write_check_seconds_total over its endpoints, in microseconds. */
async function writeCheckUsOf(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text()
  let seconds = 0
  for (const line of text.split('\n')) if (line.startsWith('concord_write_check_seconds_total{')) seconds += Number(line.slice(line.lastIndexOf(' ') + 1))
  return seconds * 1e6
}

const withToken = (url: string, server: ServerHandle): string => (server.token === undefined ? url : `${url}?token=${encodeURIComponent(server.token)}`)
const plainRoom = (server: ServerHandle, doc: string): string => withToken(`${server.url}/${doc}`, server)

export const relayServers: readonly RelayServer[] = [
  {
    id: 'concord-native',
    title: 'Concord relay (native)',
    protocol: 'concord-native',
    stateful: true,
    // One socket per client at /sync; the token goes in the hello message.
    roomUrl: (server) => `${server.url}/sync`,
    unavailable: (ctx) => (existsSync(concordRelayCli(ctx)) ? undefined : 'packages/relay/dist/cli.js is not built yet'),
    start: (ctx) => startConcordRelay(ctx),
  },
  {
    id: 'concord-y',
    title: 'Concord relay (y-websocket endpoint)',
    protocol: 'y-websocket',
    stateful: true,
    roomUrl: (server, doc) => withToken(`${server.url}/y/${doc}`, server),
    unavailable: (ctx) => (existsSync(concordRelayCli(ctx)) ? undefined : 'packages/relay/dist/cli.js is not built yet'),
    start: (ctx) => startConcordRelay(ctx),
  },
  {
    id: 'concord-y-fsync',
    title: 'Concord relay (y-websocket endpoint, fsync per commit group)',
    protocol: 'y-websocket',
    stateful: true,
    roomUrl: (server, doc) => withToken(`${server.url}/y/${doc}`, server),
    unavailable: (ctx) => (existsSync(concordRelayCli(ctx)) ? undefined : 'packages/relay/dist/cli.js is not built yet'),
    start: (ctx) => startConcordRelay(ctx, ['--durability', 'power']),
  },
  {
    id: 'y-websocket-server',
    title: '@y/websocket-server',
    protocol: 'y-websocket',
    stateful: true,
    roomUrl: plainRoom,
    unavailable: () => undefined,
    start: () => childServer('y-websocket-server'),
    targets: { deliveredPerSec: { 10: 97_000, 50: 156_000, 200: 143_000 }, cpuUsPerDelivery: [7, 11.5] },
  },
  {
    id: 'hocuspocus',
    title: '@hocuspocus/server',
    protocol: 'hocuspocus',
    stateful: true,
    roomUrl: (server) => server.url,
    unavailable: () => undefined,
    start: () => childServer('hocuspocus'),
    targets: { cpuUsPerDelivery: [5, 20] },
  },
  {
    id: 'raw-ws',
    title: 'raw ws broadcast (ws.send per client)',
    protocol: 'y-websocket',
    stateful: false,
    roomUrl: plainRoom,
    unavailable: () => undefined,
    start: () => childServer('raw-ws'),
    targets: { cpuUsPerDelivery: [3.4, 4.1] },
  },
  {
    id: 'built-once',
    title: 'built-once frame (floor)',
    protocol: 'y-websocket',
    stateful: false,
    roomUrl: plainRoom,
    unavailable: () => undefined,
    start: () => childServer('built-once'),
    targets: { cpuUsPerDelivery: [1, 3] },
  },
  {
    id: 'built-once-coalesced',
    title: 'built-once frame, one write per socket per turn',
    protocol: 'y-websocket',
    stateful: false,
    roomUrl: plainRoom,
    unavailable: () => undefined,
    start: () => childServer('built-once-coalesced'),
  },
]
