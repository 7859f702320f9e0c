/**
 * One fan-out run against one server: start the server and the load
 * processes, connect every client, let them send, and measure deliveries,
 * latency, server CPU (from the server's own process) and load CPU. The run
 * checks itself: every client must receive every update of its document
 * exactly once, and a stateful server must hand a late joiner the whole text.
 */
import { fork, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { LatencyHistogram } from '../stats.js'
import { hocuspocusAuth, parseIncoming, syncStep1, type WireProtocol } from './protocol.js'
import type { ClientSpec, LoadDone, LoadReady, LoadReply, LoadRequest, LoadWorkload } from './loadgen.js'
import type { RelayServer, ServerContext, ServerHandle, ServerStatsSample } from './servers.js'

const loadgenPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'loadgen.js')

export const RELAY_SEED = 7

export interface FanoutConfig {
  readonly docs: number
  readonly clientsPerDoc: number
  readonly updatesPerClient: number
  /** Own updates in flight per client (closed loop). */
  readonly window: number
  /** Open loop instead: total updates per second offered by all clients together. */
  readonly ratePerSec?: number
  readonly loadProcesses: number
  readonly timeoutMs: number
  /** What y-websocket clients write (loadgen.ts); text by default. */
  readonly workload?: LoadWorkload
}

export interface FanoutResult {
  readonly deliveries: number
  readonly expectedDeliveries: number
  readonly frames: number
  readonly wallUs: number
  readonly deliveredPerSec: number
  readonly serverCpuUs: number
  readonly serverCpuUsPerDelivery: number
  /** Updates the clients sent (events the relay took). */
  readonly events: number
  /** Time the relay spent in its write check over the run (its own metric), when it reports one. */
  readonly writeCheckUs?: number
  /** Busy fraction of one core over the run, 0..1+. */
  readonly serverCpuShare: number
  /** Each load process' busy fraction of one core. */
  readonly loadCpuShares: number[]
  readonly hist: LatencyHistogram
  readonly problems: string[]
  readonly connectMs: number
}

class LoadProcess {
  private readonly child: ChildProcess
  private waiter: ((r: LoadReply) => void) | undefined
  private readonly early: LoadReply[] = []
  private exited = false

  constructor() {
    this.child = fork(loadgenPath, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', (msg: LoadReply) => {
      const w = this.waiter
      if (w !== undefined) {
        this.waiter = undefined
        w(msg)
      } else this.early.push(msg)
    })
    this.child.on('exit', (code) => {
      this.exited = true
      const w = this.waiter
      this.waiter = undefined
      w?.({ type: 'error', message: `load process exited (${code})` })
    })
  }

  send(req: LoadRequest): void {
    if (!this.exited) this.child.send(req)
  }

  next(timeoutMs: number): Promise<LoadReply> {
    const queued = this.early.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    if (this.exited) return Promise.resolve({ type: 'error', message: 'load process is gone' })
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined
        resolve({ type: 'error', message: `no answer from the load process within ${Math.round(timeoutMs / 1000)} s` })
      }, timeoutMs)
      this.waiter = (r) => {
        clearTimeout(timer)
        resolve(r)
      }
    })
  }

  get alive(): boolean {
    return !this.exited
  }

  async reset(): Promise<void> {
    if (this.exited) return
    this.send({ type: 'reset' })
    const r = await this.next(30_000)
    if (r.type !== 'reset-done') throw new Error(r.type === 'error' ? r.message : `unexpected ${r.type} to reset`)
  }

  async close(): Promise<void> {
    this.send({ type: 'close' })
    if (this.exited) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.child.kill('SIGKILL')
        resolve()
      }, 5000)
      this.child.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}

/** Documents are named per run, so runs that share a server never share a document. */
/**
 * Load processes reused across the runs of a scenario (a process start and
 * its imports cost ~0.2-0.5 s each on a busy two-core machine). Each run
 * resets them when it ends.
 */
export class LoadPool {
  private readonly procs: LoadProcess[] = []

  async take(n: number): Promise<LoadProcess[]> {
    // A process that died (or was killed on a timeout) is replaced.
    for (let i = this.procs.length - 1; i >= 0; i--) if (!this.procs[i]!.alive) this.procs.splice(i, 1)
    while (this.procs.length < n) this.procs.push(new LoadProcess())
    return this.procs.slice(0, n)
  }

  async close(): Promise<void> {
    await Promise.all(this.procs.splice(0).map((p) => p.close()))
  }
}

export function docName(run: number, i: number): string {
  return `bench-${run}-${i}`
}

let runCounter = 0

/** Assigns clients to docs and to load processes (round robin, so each process has a share of every doc). */
export function planClients(server: RelayServer, handle: ServerHandle, run: number, docs: number, perDoc: number, processes: number): ClientSpec[][] {
  const plan: ClientSpec[][] = Array.from({ length: processes }, () => [])
  let index = 0
  for (let d = 0; d < docs; d++) {
    for (let k = 0; k < perDoc; k++) {
      const spec: ClientSpec = {
        index, url: server.roomUrl(handle, docName(run, d)), doc: docName(run, d), yClient: 1000 + index, slot: k,
        ...(handle.token !== undefined ? { token: handle.token } : {}),
        ...(handle.syncUrl !== undefined ? { syncUrl: handle.syncUrl } : {}),
      }
      plan[index % processes]!.push(spec)
      index++
    }
  }
  return plan
}

function expectReady(r: LoadReply): LoadReady {
  if (r.type !== 'ready') throw new Error(r.type === 'error' ? r.message : `unexpected ${r.type}`)
  return r
}

function expectDone(r: LoadReply): LoadDone {
  if (r.type !== 'done') throw new Error(r.type === 'error' ? r.message : `unexpected ${r.type}`)
  return r
}

/** Connects a fresh client to a stateful server and reads the whole document it serves. */
export function fetchDocument(protocol: WireProtocol, url: string, doc: string, timeoutMs = 20_000): Promise<Y.Doc> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false })
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error(`no sync step 2 from ${url} within ${timeoutMs} ms`))
    }, timeoutMs)
    ws.on('open', () => {
      if (protocol === 'hocuspocus') ws.send(hocuspocusAuth(doc))
      ws.send(syncStep1(protocol, doc))
    })
    ws.on('message', (data: Buffer) => {
      const msg = parseIncoming(protocol, data)
      if (msg.kind !== 'step2') return
      clearTimeout(timer)
      const ydoc = new Y.Doc()
      Y.applyUpdate(ydoc, msg.update)
      ws.close()
      resolve(ydoc)
    })
    ws.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

/** One fan-out run on a server that is already started (runs on one server use fresh documents). */
export async function runFanout(server: RelayServer, handle: ServerHandle, cfg: FanoutConfig, pool: LoadPool): Promise<FanoutResult> {
  const protocol = server.protocol
  const run = ++runCounter
  const procs = await pool.take(cfg.loadProcesses)
  try {
    const plan = planClients(server, handle, run, cfg.docs, cfg.clientsPerDoc, cfg.loadProcesses)
    const expectedPerDoc: Record<string, number> = {}
    for (let d = 0; d < cfg.docs; d++) expectedPerDoc[docName(run, d)] = cfg.clientsPerDoc * cfg.updatesPerClient
    procs.forEach((proc, p) =>
      proc.send({
        type: 'setup',
        protocol,
        ...(cfg.workload !== undefined ? { workload: cfg.workload, clientsPerDoc: cfg.clientsPerDoc } : {}),
        clients: plan[p]!,
        expectedPerDoc,
        updatesPerClient: cfg.updatesPerClient,
        window: cfg.window,
        seed: RELAY_SEED,
        connectConcurrency: 32,
      }),
    )
    const ready = (await Promise.all(procs.map((p) => p.next(120_000)))).map(expectReady)
    const totalClients = cfg.docs * cfg.clientsPerDoc
    const before: ServerStatsSample = await handle.stats()
    for (const [p, proc] of procs.entries()) {
      const share = plan[p]!.length / totalClients
      proc.send({ type: 'go', ...(cfg.ratePerSec !== undefined ? { ratePerSec: cfg.ratePerSec * share } : {}), timeoutMs: cfg.timeoutMs })
    }
    const done = (await Promise.all(procs.map((p) => p.next(cfg.timeoutMs + 30_000)))).map(expectDone)
    const after = await handle.stats()
    const startUs = Math.min(...done.map((d) => d.startUs))
    const endUs = Math.max(...done.map((d) => d.endUs))
    const wallUs = Math.max(1, endUs - startUs)
    const deliveries = done.reduce((a, d) => a + d.deliveries, 0)
    const hist = new LatencyHistogram()
    for (const d of done) hist.merge(d.hist)
    const serverCpuUs = after.cpuUs - before.cpuUs
    const problems = done.flatMap((d) => d.problems)
    const duplicates = done.reduce((a, d) => a + d.duplicates, 0)
    if (duplicates > 0) problems.push(`${duplicates} duplicate deliveries`)
    const expectedDeliveries = cfg.docs * cfg.clientsPerDoc * cfg.clientsPerDoc * cfg.updatesPerClient
    if (deliveries !== expectedDeliveries) problems.push(`delivered ${deliveries} of ${expectedDeliveries} expected updates`)
    // The late-joiner check reads the document over the y-websocket protocol; native clients already proved delivery.
    if (server.stateful && protocol !== 'concord-native' && (cfg.workload ?? 'text') === 'text' && problems.length === 0) {
      // A late joiner must get the whole text: every client's characters, in each client's order.
      for (const d of [0, cfg.docs - 1]) {
        const name = docName(run, d)
        const ydoc = await fetchDocument(protocol, server.roomUrl(handle, name), name)
        const len = ydoc.getText('t').length
        const want = cfg.clientsPerDoc * cfg.updatesPerClient
        if (len !== want) problems.push(`${name}: a late joiner got ${len} characters, expected ${want}`)
        ydoc.destroy()
      }
    }
    return {
      deliveries,
      expectedDeliveries,
      frames: done.reduce((a, d) => a + d.frames, 0),
      wallUs,
      deliveredPerSec: deliveries / (wallUs / 1e6),
      serverCpuUs,
      serverCpuUsPerDelivery: serverCpuUs / Math.max(1, deliveries),
      events: done.reduce((a, d) => a + d.sent, 0),
      ...(after.writeCheckUs !== undefined && before.writeCheckUs !== undefined ? { writeCheckUs: after.writeCheckUs - before.writeCheckUs } : {}),
      serverCpuShare: serverCpuUs / wallUs,
      loadCpuShares: done.map((d) => d.cpuUs / wallUs),
      hist,
      problems,
      connectMs: Math.max(...ready.map((r) => r.connectMs)),
    }
  } finally {
    // A process that cannot reset is killed; the pool replaces it.
    await Promise.all(procs.map((p) => p.reset().catch(() => p.close())))
  }
}

export interface ConnectResult {
  readonly connections: number
  readonly connectMs: number
  readonly perSec: number
  readonly rssPerConnection: number
  readonly heapPerConnection?: number
  readonly rssPerDocument: number
  readonly heapPerDocument?: number
  readonly rssCurve: Array<[number, number]>
  readonly problems: string[]
}

async function settledStats(handle: ServerHandle): Promise<ServerStatsSample> {
  await handle.gc()
  return handle.stats()
}

/**
 * [R3]: opens `connections` clients on one document (connection rate, memory
 * per connection), then `documents` clients on as many documents (memory per
 * document, net of one connection each), on a fresh server each time.
 */
export async function runConnect(server: RelayServer, ctx: ServerContext, connections: number, documents: number, loadProcesses: number, steps: number, pool: LoadPool): Promise<ConnectResult> {
  const protocol = server.protocol
  const problems: string[] = []
  const rssCurve: Array<[number, number]> = []
  const procs = await pool.take(loadProcesses)
  const open = async (handle: ServerHandle, docs: number, perDoc: number, steps: number): Promise<{ ms: number; procs: LoadProcess[] }> => {
    let ms = 0
    const perStep = Math.ceil((docs * perDoc) / steps)
    // Several batches, so the memory curve has points; each batch is its own load process pair.
    let opened = 0
    const plan = planClients(server, handle, ++runCounter, docs, perDoc, 1)[0]!
    while (opened < plan.length) {
      const batch = plan.slice(opened, opened + perStep)
      const split: ClientSpec[][] = Array.from({ length: loadProcesses }, (_, p) => batch.filter((_, i) => i % loadProcesses === p)).filter((s) => s.length > 0)
      const batchProcs = procs.slice(0, split.length)
      batchProcs.forEach((proc, p) =>
        proc.send({ type: 'setup', protocol, clients: split[p]!, expectedPerDoc: {}, updatesPerClient: 0, window: 1, seed: RELAY_SEED, connectConcurrency: 32 }),
      )
      const ready = (await Promise.all(batchProcs.map((p) => p.next(120_000)))).map(expectReady)
      ms += Math.max(...ready.map((r) => r.connectMs))
      opened += batch.length
      if (docs === 1) {
        const s = await settledStats(handle)
        rssCurve.push([opened, s.rss])
      }
    }
    return { ms, procs }
  }
  // Connections on one document.
  let connectMs: number
  let rssPerConnection: number
  let heapPerConnection: number | undefined
  {
    const handle = await server.start(ctx)
    try {
      const base = await settledStats(handle)
      rssCurve.push([0, base.rss])
      const { ms } = await open(handle, 1, connections, steps)
      connectMs = ms
      const s = await settledStats(handle)
      rssPerConnection = (s.rss - base.rss) / connections
      if (s.heapUsed !== undefined && base.heapUsed !== undefined) heapPerConnection = (s.heapUsed - base.heapUsed) / connections
    } finally {
      await Promise.all(procs.map((p) => p.reset().catch(() => p.close())))
      await handle.stop()
    }
  }
  // One connection on each of many documents.
  let rssPerDocument: number
  let heapPerDocument: number | undefined
  {
    const handle = await server.start(ctx)
    try {
      const base = await settledStats(handle)
      await open(handle, documents, 1, 1)
      const s = await settledStats(handle)
      rssPerDocument = (s.rss - base.rss) / documents - rssPerConnection
      if (s.heapUsed !== undefined && base.heapUsed !== undefined && heapPerConnection !== undefined) {
        heapPerDocument = (s.heapUsed - base.heapUsed) / documents - heapPerConnection
      }
    } finally {
      await Promise.all(procs.map((p) => p.reset().catch(() => p.close())))
      await handle.stop()
    }
  }
  return {
    connections,
    connectMs,
    perSec: connections / (connectMs / 1000),
    rssPerConnection,
    ...(heapPerConnection !== undefined ? { heapPerConnection } : {}),
    rssPerDocument,
    ...(heapPerDocument !== undefined ? { heapPerDocument } : {}),
    rssCurve,
    problems,
  }
}
