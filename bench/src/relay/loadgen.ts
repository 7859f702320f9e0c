/**
 * A load generator process: many protocol-level clients over raw ws. Each
 * client handshakes (sync step 1/2; Hocuspocus' auth first), then sends small
 * valid Yjs updates prepared in advance (one character appended to its own
 * run of text, so every update is new to the server) and only counts and
 * timestamps what comes back. Updates are recognised by (client id, clock),
 * read from the update's header without decoding it into a document.
 *
 * Flow control: closed loop by default (each client keeps at most `window`
 * of its own updates unacknowledged; its own update coming back is the
 * acknowledgement), or open loop at a fixed rate for latency at a given load.
 * Latency is measured for deliveries whose sender lives in this process,
 * with one clock, so no cross-process clock is needed.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import * as prng from 'lib0/prng'
import { LatencyHistogram, type HistogramJson } from '../stats.js'
import { hocuspocusAuth, parseIncoming, syncStep1, syncStep2, updateFrame, updateRanges, type WireProtocol } from './protocol.js'

/** What the load clients speak: the y-websocket protocol (or Hocuspocus' variant), or Concord's native one. */
export type LoadProtocol = WireProtocol | 'concord-native'
type NativeModule = typeof import('./native.js')
type PurchaseLoadModule = typeof import('./purchase-load.js')

/**
 * What the y-websocket clients write: one character appended to their own
 * run of a text in a generic room, or (purchase-lines) their own line's
 * quantity in a purchase (purchase-load.ts). Native clients always edit a
 * purchase's notes.
 */
export type LoadWorkload = 'text' | 'purchase-lines'

export interface ClientSpec {
  /** Global client index across all load processes. */
  readonly index: number
  readonly url: string
  readonly doc: string
  /** The Yjs client id its updates carry (native: its replica is `b<yClient>`). */
  readonly yClient: number
  /** Access token, for protocols that carry it in the handshake (native hello). */
  readonly token?: string
  /** The client's place among its document's clients (purchase-lines: the line it edits). */
  readonly slot?: number
  /** The relay's native endpoint (purchase-lines: where the purchases are created). */
  readonly syncUrl?: string
}

export type LoadRequest =
  | {
      readonly type: 'setup'
      readonly protocol: LoadProtocol
      readonly workload?: LoadWorkload
      /** purchase-lines: the clients per document, so lines per purchase. */
      readonly clientsPerDoc?: number
      readonly clients: readonly ClientSpec[]
      /** For every document: how many updates all its clients send in total (what each client must receive). */
      readonly expectedPerDoc: Readonly<Record<string, number>>
      readonly updatesPerClient: number
      readonly window: number
      readonly seed: number
      /** Connections opened at once while connecting. */
      readonly connectConcurrency: number
    }
  | { readonly type: 'go'; readonly ratePerSec?: number; readonly timeoutMs: number }
  /** Closes every client and forgets the run, ready for the next setup (the process is reused). */
  | { readonly type: 'reset' }
  | { readonly type: 'close' }

export interface LoadReady {
  readonly type: 'ready'
  readonly connectMs: number
  readonly prepareMs: number
}

export interface LoadDone {
  readonly type: 'done'
  readonly deliveries: number
  readonly frames: number
  readonly otherFrames: number
  /** Wall-clock microseconds (performance.timeOrigin + now(): one clock for every process on the machine). */
  readonly startUs: number
  readonly endUs: number
  readonly cpuUs: number
  readonly sent: number
  readonly hist: HistogramJson
  /** Clients that did not receive everything they should have. */
  readonly incomplete: number
  /** Deliveries of a (client, clock) a receiver had already seen. */
  readonly duplicates: number
  readonly problems: string[]
}

export type LoadReply = LoadReady | LoadDone | { readonly type: 'reset-done' } | { readonly type: 'error'; readonly message: string }

// Wall-clock microseconds from performance.now() (cheap, no BigInt): the same
// clock in every process of the machine, to within the time origins' rounding.
const origin = performance.timeOrigin
const nowUs = (): number => (origin + performance.now()) * 1000

interface Client {
  readonly spec: ClientSpec
  readonly ws: WebSocket
  readonly frames: Buffer[]
  readonly expected: number
  sent: number
  acked: number
  received: number
  sendTimes: Float64Array
  /** Highest clock+1 seen per sender, to detect duplicates and gaps cheaply. */
  readonly seen: Map<number, number>
}

let protocol: LoadProtocol = 'y-websocket'
let native: NativeModule | undefined
let purchaseLoad: PurchaseLoadModule | undefined
let workload: LoadWorkload = 'text'
let linesPerDoc = 1
let clients: Client[] = []
const byYClient = new Map<number, Client>()
let windowSize = 1
let updatesPerClient = 0
let running = false
let openLoop = false
let startUs = 0
let endUs = 0
let cpuStart: NodeJS.CpuUsage = { user: 0, system: 0 }
let deliveries = 0
let frames = 0
let otherFrames = 0
let duplicates = 0
let finished = 0
let totalSent = 0
const problems: string[] = []
const hist = new LatencyHistogram()
let doneTimer: NodeJS.Timeout | undefined
let rateTimer: NodeJS.Timeout | undefined

function reply(msg: LoadReply): void {
  process.send?.(msg)
}

function note(problem: string): void {
  if (problems.length < 20) problems.push(problem)
}

/** The y-websocket flavour in use (only called on y-websocket paths). */
function wire(): WireProtocol {
  if (protocol === 'concord-native') throw new Error('not a y-websocket protocol')
  return protocol
}

function prepareFrames(spec: ClientSpec, count: number, seed: number): Buffer[] {
  if (protocol === 'concord-native') return native!.prepareEdits(spec.doc, spec.yClient, count, seed)
  const w = protocol
  if (workload === 'purchase-lines') {
    // Stamped with the wall clock at preparation: a stamp may not run ahead of the relay's clock.
    return purchaseLoad!.prepareLineWrites(spec.doc, linesPerDoc, spec.slot ?? 0, spec.yClient, count, Date.now()).map((u) => updateFrame(w, spec.doc, u))
  }
  const doc = new Y.Doc()
  doc.clientID = spec.yClient
  const text = doc.getText('t')
  const gen = prng.create(seed + spec.index)
  const out: Buffer[] = []
  doc.on('update', (u: Uint8Array) => out.push(updateFrame(w, spec.doc, u)))
  for (let i = 0; i < count; i++) text.insert(text.length, String.fromCharCode(prng.int32(gen, 97, 122)))
  doc.destroy()
  return out
}

function sendNext(c: Client): void {
  if (c.sent >= c.frames.length) return
  c.sendTimes[c.sent] = nowUs()
  c.ws.send(c.frames[c.sent]!)
  c.sent++
  totalSent++
}

function pump(c: Client): void {
  if (!running || openLoop) return
  while (c.sent < c.frames.length && c.sent - c.acked < windowSize) sendNext(c)
}

function finish(): void {
  if (!running) return
  running = false
  if (doneTimer !== undefined) clearTimeout(doneTimer)
  if (rateTimer !== undefined) clearInterval(rateTimer)
  const cpu = process.cpuUsage(cpuStart)
  const incomplete = clients.filter((c) => c.received !== c.expected).length
  for (const c of clients) {
    if (c.received !== c.expected) note(`client ${c.spec.index} received ${c.received} of ${c.expected} updates`)
  }
  reply({
    type: 'done',
    deliveries,
    frames,
    otherFrames,
    startUs,
    endUs: endUs || nowUs(),
    cpuUs: cpu.user + cpu.system,
    sent: totalSent,
    hist: hist.toJSON(),
    incomplete,
    duplicates,
    problems,
  })
}

function onUpdate(c: Client, update: Uint8Array, t: number): void {
  for (const r of updateRanges(update)) account(c, r, t)
}

/** One received run of a sender's clocks (Yjs clocks, or native seq - 1): counts, latency, flow control. */
function account(c: Client, r: { readonly client: number; readonly clock: number; readonly length: number }, t: number): void {
  const last = c.seen.get(r.client) ?? 0
  if (r.clock < last) {
    duplicates += Math.min(r.length, last - r.clock)
  } else if (r.clock > last) {
    note(`client ${c.spec.index}: gap from ${r.client}: clock ${r.clock}, expected ${last}`)
  }
  const end = r.clock + r.length
  if (end > last) c.seen.set(r.client, end)
  const fresh = Math.max(0, end - Math.max(r.clock, last))
  c.received += fresh
  deliveries += fresh
  const sender = byYClient.get(r.client)
  if (sender !== undefined) {
    for (let k = Math.max(r.clock, last); k < end; k++) {
      const sentAt = sender.sendTimes[k]
      if (sentAt !== undefined && sentAt > 0) hist.add(t - sentAt)
    }
    if (sender === c) {
      c.acked = Math.max(c.acked, end)
      pump(c)
    }
  }
  if (fresh > 0 && c.received === c.expected) {
    finished++
    endUs = t
    if (finished === clients.length && running) finish()
  }
}

/** Native events name their author; load clients are `b<yClient>`, anything else (the creation events) is not an update. */
function clientOfActor(actor: string): number | undefined {
  if (actor.charCodeAt(0) !== 98 /* b */) return undefined
  const n = Number(actor.slice(1))
  return Number.isInteger(n) && n > 0 ? n : undefined
}

function onNativeMessage(c: Client, data: Buffer, t: number): void {
  let msg
  try {
    msg = native!.parseNative(data)
  } catch (err) {
    note(`client ${c.spec.index}: undecodable frame (${(err as Error).message})`)
    return
  }
  if (msg.kind === 'events' || msg.kind === 'ack') {
    frames++
    for (const it of msg.items) {
      // The creation events every client pushed during setup are nobody's update (actor bench-genesis).
      const client = clientOfActor(it.actor)
      if (client !== undefined) account(c, { client, clock: it.seq - 1, length: 1 }, t)
    }
  } else if (msg.kind === 'reject' || msg.kind === 'error') {
    note(`client ${c.spec.index}: ${msg.kind} ${msg.reason}`)
  } else {
    otherFrames++
  }
}

function onMessage(c: Client, data: Buffer): void {
  // Not gated on `running`: another load process may get 'go' first, and its
  // clients' first updates can arrive here before our own 'go' does.
  const t = nowUs()
  if (protocol === 'concord-native') {
    onNativeMessage(c, data, t)
    return
  }
  let msg
  try {
    msg = parseIncoming(protocol, data)
  } catch (err) {
    note(`client ${c.spec.index}: undecodable frame (${(err as Error).message})`)
    return
  }
  if (msg.kind === 'update') {
    frames++
    onUpdate(c, msg.update, t)
  } else if (msg.kind === 'step2' && msg.update.length > 2) {
    // Some servers send late content as sync step 2; count it like an update.
    frames++
    onUpdate(c, msg.update, t)
  } else {
    otherFrames++
  }
}

function connect(spec: ClientSpec, expected: number, seed: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const url = spec.url
    const ws = new WebSocket(url, { perMessageDeflate: false })
    ws.binaryType = 'nodebuffer'
    const client: Client = {
      spec,
      ws,
      frames: prepareFrames(spec, updatesPerClient, seed),
      expected,
      sent: 0,
      acked: 0,
      received: 0,
      sendTimes: new Float64Array(updatesPerClient),
      seen: new Map(),
    }
    let synced = false
    const timer = setTimeout(() => reject(new Error(`client ${spec.index}: no sync within 30 s (${url})`)), 30_000)
    const markSynced = (): void => {
      synced = true
      clearTimeout(timer)
      resolve(client)
    }
    // Native: synced once subscribed (caughtUp) and the creation events are stored (their ack or reject).
    let caughtUp = false
    let genesisStored = false
    ws.on('open', () => {
      if (protocol === 'concord-native') {
        ws.send(native!.helloFrame(spec.token ?? ''))
        return
      }
      if (protocol === 'hocuspocus') ws.send(hocuspocusAuth(spec.doc))
      ws.send(syncStep1(wire(), spec.doc))
    })
    ws.on('message', (data: Buffer) => {
      if (synced) {
        onMessage(client, data)
        return
      }
      if (protocol === 'concord-native') {
        let m
        try {
          m = native!.parseNative(data)
        } catch (err) {
          reject(new Error(`client ${spec.index}: undecodable frame before sync (${(err as Error).message})`))
          return
        }
        if (m.kind === 'welcome') {
          ws.send(native!.subscribeFrame(spec.doc))
          ws.send(native!.pushFrame(spec.doc, native!.genesis(spec.doc)))
        } else if (m.kind === 'caughtUp') {
          caughtUp = true
        } else if (m.kind === 'ack' || m.kind === 'reject') {
          if (m.kind === 'ack' ? m.items.some((i) => i.actor === native!.GENESIS_ACTOR) : true) genesisStored = true
        } else if (m.kind === 'error') {
          reject(new Error(`client ${spec.index}: ${m.reason}`))
          return
        }
        if (caughtUp && genesisStored) markSynced()
        return
      }
      let msg
      try {
        msg = parseIncoming(wire(), data)
      } catch {
        return
      }
      if (msg.kind === 'step1') {
        // The server asks what we have: nothing it lacks yet.
        ws.send(syncStep2(wire(), spec.doc))
      } else if (msg.kind === 'step2') {
        markSynced()
      }
    })
    ws.on('error', (err) => {
      clearTimeout(timer)
      if (!synced) reject(err)
      else note(`client ${spec.index}: ${err.message}`)
    })
    ws.on('close', (code) => {
      if (!synced) {
        clearTimeout(timer)
        reject(new Error(`client ${spec.index}: closed (${code}) before sync`))
      } else if (running) note(`client ${spec.index}: closed (${code}) during the run`)
    })
  })
}

async function setup(req: Extract<LoadRequest, { type: 'setup' }>): Promise<void> {
  protocol = req.protocol
  if (protocol === 'concord-native') native ??= await import('./native.js')
  workload = req.workload ?? 'text'
  linesPerDoc = req.clientsPerDoc ?? 1
  if (workload === 'purchase-lines') {
    if (protocol === 'concord-native') throw new Error('the purchase-lines workload is for y-websocket clients')
    purchaseLoad ??= await import('./purchase-load.js')
    // Every document this process serves is a purchase before its clients connect.
    const docs = new Map(req.clients.map((c) => [c.doc, c]))
    for (const c of docs.values()) {
      if (c.syncUrl === undefined || c.token === undefined) throw new Error('purchase-lines needs the relay\'s native endpoint and a token')
      await purchaseLoad.storeGenesis(c.syncUrl, c.token, c.doc, linesPerDoc)
    }
  }
  windowSize = req.window
  updatesPerClient = req.updatesPerClient
  const t0 = performance.now()
  const t1 = performance.now()
  const out: Client[] = []
  const queue = [...req.clients]
  const workers = Array.from({ length: Math.max(1, req.connectConcurrency) }, async () => {
    for (let spec = queue.shift(); spec !== undefined; spec = queue.shift()) {
      out.push(await connect(spec, req.expectedPerDoc[spec.doc] ?? 0, req.seed))
    }
  })
  await Promise.all(workers)
  // Appends: R3 opens connections in several batches and keeps them all open.
  clients = clients.concat(out.sort((a, b) => a.spec.index - b.spec.index))
  for (const c of out) byYClient.set(c.spec.yClient, c)
  reply({ type: 'ready', connectMs: performance.now() - t1, prepareMs: t1 - t0 })
}

function go(req: Extract<LoadRequest, { type: 'go' }>): void {
  running = true
  startUs = nowUs()
  cpuStart = process.cpuUsage()
  doneTimer = setTimeout(() => {
    note(`timed out after ${req.timeoutMs} ms`)
    finish()
  }, req.timeoutMs)
  if (clients.every((c) => c.expected === 0)) {
    finish()
    return
  }
  if (req.ratePerSec === undefined) {
    for (const c of clients) pump(c)
    return
  }
  // Open loop: a fixed offered rate, whatever comes back.
  openLoop = true
  const rate = req.ratePerSec
  let next = 0
  const total = clients.reduce((a, c) => a + c.frames.length, 0)
  rateTimer = setInterval(() => {
    const due = Math.min(total, Math.floor(((nowUs() - startUs) / 1e6) * rate))
    while (totalSent < due) {
      // Round robin over clients that still have updates to send.
      let tries = 0
      while (clients[next]!.sent >= clients[next]!.frames.length && tries < clients.length) {
        next = (next + 1) % clients.length
        tries++
      }
      if (tries >= clients.length) break
      sendNext(clients[next]!)
      next = (next + 1) % clients.length
    }
    if (totalSent >= total && rateTimer !== undefined) clearInterval(rateTimer)
  }, 1)
}

function reset(): void {
  if (doneTimer !== undefined) clearTimeout(doneTimer)
  if (rateTimer !== undefined) clearInterval(rateTimer)
  doneTimer = undefined
  rateTimer = undefined
  for (const c of clients) c.ws.terminate()
  clients = []
  byYClient.clear()
  running = false
  openLoop = false
  startUs = 0
  endUs = 0
  deliveries = 0
  frames = 0
  otherFrames = 0
  duplicates = 0
  finished = 0
  totalSent = 0
  problems.length = 0
  hist.clear()
}

process.on('message', (req: LoadRequest) => {
  if (req.type === 'setup') {
    setup(req).catch((err: unknown) => reply({ type: 'error', message: err instanceof Error ? err.message : String(err) }))
  } else if (req.type === 'go') {
    go(req)
  } else if (req.type === 'reset') {
    reset()
    reply({ type: 'reset-done' })
  } else if (req.type === 'close') {
    for (const c of clients) c.ws.terminate()
    process.exit(0)
  }
})
process.on('disconnect', () => process.exit(0))
