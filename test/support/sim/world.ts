/**
 * One simulated world: the real relay (createRelayCore: document host, group
 * commit, fan-out, snapshots, cluster sequencing) and the real client
 * (connector, outbox, undo, retry, status, seats) in one process, on virtual
 * time, over the simulated network and stores. A seed plans the world
 * (plan.ts); the world runs its workload and its faults, heals, waits until
 * it goes quiet, and checks the properties (checks.ts).
 */
import { type BackendName, type PurchaseId, type PurchaseReplica, parsePurchaseId } from '@concord/core'
import { eventHash, priorityOf } from '@concord/core/internal'
import { type Grant, type ServerMessage, decodeClientMessage, decodeServerMessage } from '@concord/core/protocol'
import { type MemoryStorage, type Notification, type SyncClient, createClient, memoryStorage } from '@concord/client'
import { type RelayConfig, parseConfig } from '@concord/relay'
import { type ClusterSink, type RelayCore, createRelayCore } from '@concord/relay/internal'
import { pino, type Logger } from 'pino'
import { randomCommand } from '../replicas.js'
import { CALM, SimNetwork } from './network.js'
import type { DevicePlan, WorldPlan } from './plan.js'
import { type Domain, STEP_WINDOW, VirtualScheduler } from './scheduler.js'
import { DurableStore, SimEventStore } from './store.js'
import { issueToken, simVerifier } from './tokens.js'
import { Hostile } from './hostile.js'
import { check } from './checks.js'
import { countConflictEvents } from './metrics.js'

/** 2026-06-01T08:00:00Z: a working morning. */
const EPOCH = 1_780_300_800_000
const HEAL_LIMIT_MS = 45 * 60_000
/** The livelock guard: timers a world may run, and more per virtual minute (the suites' worlds run at most about 5,000 in all, 2,500 a minute). */
const LIVELOCK_BASE = 50_000
const LIVELOCK_PER_MINUTE = 5_000

/** One line for a frame, for SIM_FRAMES=<tab> traces. */
function frameSummary(message: { readonly t: string }): string {
  const m = message as unknown as Record<string, unknown>
  const parts: string[] = [String(m.t)]
  for (const k of ['docId', 'cursor', 'code', 'reason', 'id']) if (m[k] !== undefined) parts.push(`${k}=${String(m[k]).slice(-40)}`)
  if (Array.isArray(m.events)) parts.push(`events=[${(m.events as { seq?: number; id?: string; event?: { id: string } }[]).map((e) => e.seq !== undefined ? `${e.seq}:${e.event?.id.slice(-14)}` : e.id?.slice(-14)).join(' ')}]`)
  if (Array.isArray(m.ids)) parts.push(`ids=[${(m.ids as string[]).map((i) => i.slice(-14)).join(' ')}]`)
  if (Array.isArray(m.actors)) parts.push(`actors=${(m.actors as string[]).length}`)
  if (Array.isArray(m.actorHeads)) parts.push(`heads=${JSON.stringify(m.actorHeads).slice(0, 120)}`)
  return parts.join(' ')
}

export class WorldFailure extends Error {
  constructor(message: string, readonly trace: readonly string[]) {
    super(message)
    this.name = 'WorldFailure'
  }
}

function decodedServer(data: Uint8Array): ServerMessage | undefined {
  try {
    return decodeServerMessage(data)
  } catch {
    return undefined
  }
}

export interface WorldResult {
  readonly steps: number
  readonly virtualMs: number
  readonly commands: number
  readonly events: number
  readonly ops: ReadonlyMap<string, number>
  readonly stats: WorldStats
}

/** What the success metrics are computed from (metrics.ts); the checks fill most of it, a measured run the rest. */
export interface WorldStats {
  /** Distinct events honest devices saved and pushed (what a restore from an older copy forgot is not counted). */
  saved: number
  /** Of those, the ones the store holds as they were saved: never refused, reissued or replaced. */
  storedAsSaved: number
  /** Events in the store. */
  stored: number
  /** Refusals honest devices were told of. */
  refused: number
  /** Stored events after which the purchase had a conflict needing a person (blocking or review) it did not have before. Measured runs only. */
  conflictEvents: number
  /** Per reconnect with high-priority changes waiting: virtual ms from going online until every one of them was acknowledged. */
  readonly highPriorityAckMs: number[]
  /** Reconnects that went offline (or crashed) again before all their high-priority changes were acknowledged. */
  highPriorityInterrupted: number
}

/** A bounded trace of what happened, printed with a failure. */
class Trace {
  private readonly lines: string[] = []
  constructor(private readonly clock: () => number, private readonly keep = 80) {}
  add(line: string): void {
    if (process.env.SIM_TRACE === 'all') console.error(`${((this.clock() - EPOCH) / 1000).toFixed(1).padStart(7)}s ${line}`)
    this.lines.push(`${((this.clock() - EPOCH) / 1000).toFixed(1).padStart(7)}s ${line}`)
    if (this.lines.length > this.keep * 2) this.lines.splice(0, this.lines.length - this.keep)
  }
  tail(): string[] {
    return this.lines.slice(-this.keep)
  }
}

class RelayProcess {
  gen = 0
  domain: Domain | undefined
  core: RelayCore | undefined
  /** Cluster: notices this relay did not get while cut off from the notice stream. */
  backlog: { docId: PurchaseId; seq: number }[] = []
  streamUp = true

  constructor(readonly world: World, readonly name: string) {}

  get up(): boolean {
    return this.core !== undefined
  }

  start(): void {
    const w = this.world
    this.gen++
    const d = w.sched.domain(`${this.name}#${this.gen}`)
    const store = new SimEventStore(w.durable, d, () => 1 + Math.floor(d.random() * 6))
    const relayId = `${w.storeRelayId.slice(0, 40)}-${this.name}g${this.gen}`
    const core = createRelayCore({
      config: w.relayConfig, log: w.logFor(this.name), store, verifier: simVerifier(d.now), relayId: relayId as never, runtime: d,
    })
    if (w.plan.cluster) core.host.attachCluster(w.bus.sinkFor(this))
    this.domain = d
    this.core = core
    this.backlog = []
    this.streamUp = true
    w.net.addRelay(this.name, { domain: d, accept: (s) => core.acceptNative(s) })
    w.trace.add(`${this.name} started (generation ${this.gen})`)
  }

  crash(): void {
    if (this.core === undefined) return
    this.domain!.kill()
    this.world.net.removeRelay(this.name)
    this.core = undefined
    this.world.trace.add(`${this.name} CRASHED`)
  }
}

/** The cluster's notice stream (what Redis Streams carry in production), with outages and trimming. */
class NoticeBus {
  constructor(private readonly world: World) {}

  sinkFor(from: RelayProcess): ClusterSink {
    return {
      written: (docId, lastSeq) => {
        for (const r of this.world.relays) {
          if (r === from || !r.up) continue
          if (!r.streamUp) {
            r.backlog.push({ docId, seq: lastSeq })
            continue
          }
          const core = r.core!
          r.domain!.setTimeout(() => core.host.noticeFromCluster(docId, lastSeq), this.world.net.latency())
        }
      },
      caughtUp: () => undefined,
      awareness: () => undefined,
    }
  }

  /** A relay loses the stream: its notices pile up (or are trimmed away). */
  cut(r: RelayProcess): void {
    r.streamUp = false
    this.world.trace.add(`${r.name} lost the notice stream`)
  }

  /** Back: it resumes where it stopped, or, if the stream was trimmed past that, catches up every loaded document. */
  restore(r: RelayProcess, trimmed: boolean): void {
    if (r.streamUp) return
    r.streamUp = true
    const core = r.core
    if (core === undefined) return
    const missed = r.backlog.splice(0)
    this.world.trace.add(`${r.name} back on the notice stream (${trimmed ? 'trimmed: full catch-up' : `${missed.length} notices replayed`})`)
    if (trimmed) void core.host.catchUpAll()
    else for (const n of missed) core.host.noticeFromCluster(n.docId, n.seq)
  }
}

export class Tab {
  gen = 0
  domain: Domain | undefined
  client: SyncClient | undefined
  online = true
  /** Notifications this tab's client gave its user. */
  readonly told: Notification[] = []
  /** Since going online: when, and the high-priority changes then waiting (the reconnect metric). */
  private waitingHigh: { readonly since: number; readonly ids: Set<string> } | undefined

  /** The seat-lease holder ids this tab's client wrote (to mark them gone when it crashes). */
  private holders: string[] = []

  constructor(readonly device: Device, readonly index: number) {}

  get name(): string {
    return `${this.device.plan.name}/${this.index}`
  }

  get alive(): boolean {
    return this.client !== undefined
  }

  private starting: Promise<void> | undefined

  /**
   * Starts the tab's client (once at a time: a restart and the heal may both ask). The tabs of one device
   * start one after another, so the seat leases a boot wrote are told apart from another tab's.
   */
  start(): Promise<void> {
    this.starting ??= this.device.oneAtATime(() => this.boot()).finally(() => { this.starting = undefined })
    return this.starting
  }

  private async boot(): Promise<void> {
    const w = this.device.world
    this.gen++
    const d = w.sched.domain(`${this.name}#${this.gen}`, this.device.plan.skewMs)
    this.domain = d
    const plan = this.device.plan
    const before = new Set(w.holdersOf(this.device.storage))
    const client = await w.drive(createClient({
      url: 'ws://lb.sim/sync',
      token: async () => w.tokenFor(plan.user, plan.rights),
      storage: this.device.storage,
      user: plan.user,
      device: plan.name,
      backend: w.plan.backend,
      WebSocket: w.net.socketsFor(this.name, d),
      now: d.now,
      random: d.random,
      timers: d,
      // cockatiel's breaker reads the real clock (retry.ts); in virtual time it would never half-open.
      retry: { initialDelayMs: 500, maxDelayMs: 30_000, breakerThreshold: Number.MAX_SAFE_INTEGER },
      notificationIntervalMs: 0,
      seatLiveness: { gone: (lease) => lease.holder !== null && w.goneHolders.has(lease.holder) },
      seatChannel: (name) => w.channel(name, d),
      seatTtlMs: 60_000,
    }), `${this.name} start`)
    this.client = client
    this.holders = w.holdersOf(this.device.storage).filter((h) => !before.has(h))
    client.onNotification((n) => {
      this.told.push(n)
      if (n.type === 'rejected' || n.type === 'reissued' || n.type === 'dead-letter') w.trace.add(`${this.name} told: ${n.type} ${'code' in n ? n.code : ''} ${'reason' in n ? n.reason.slice(0, 100) : ''}`)
      // The person reads the banner and resumes the purchase a while later, as the app lets them. Every refusal that
      // led there is still held to checks.ts's rule (only what the token does not allow), so resuming hides nothing.
      if (n.type === 'dead-letter') {
        const d = this.domain!
        d.setTimeout(() => {
          if (this.client !== client) return
          w.trace.add(`${this.name} resumes ${n.docId} after the dead letter`)
          client.retryDeadLetter(n.docId).catch((e: unknown) => w.fail(`${this.name} retryDeadLetter failed: ${(e as Error).stack ?? String(e)}`))
        }, 20_000 + d.random() * 100_000)
      }
    })
    for (const id of w.docIds) await w.drive(client.open(id, { backend: w.plan.backend }), `${this.name} open`)
    if (!this.online) client.goOffline()
    w.trace.add(`${this.name} started (generation ${this.gen}) as ${client.replicaId}`)
    client.onStatus(() => this.noteHighAcks())
    if (this.online) this.wentOnline()
    this.scheduleAction()
  }

  /** The tab just went online (or started online): the clock starts for the high-priority changes it holds. */
  wentOnline(): void {
    const c = this.client
    if (c === undefined) return
    this.interruptHigh()
    if (c.queueStats().byPriority.high === 0) return
    const ids = new Set<string>()
    for (const docId of this.device.world.docIds) {
      for (const e of c.currentReplica(docId).log.events()) {
        if ((e.meta.priority ?? priorityOf(e.kind)) === 'high' && c.eventStatus(docId, e.id) === 'saved') ids.add(`${docId} ${e.id}`)
      }
    }
    if (ids.size > 0) this.waitingHigh = { since: this.device.world.sched.time, ids }
  }

  /** Offline or crashed before the waiting high-priority changes were all acknowledged. */
  private interruptHigh(): void {
    if (this.waitingHigh !== undefined) this.device.world.stats.highPriorityInterrupted++
    this.waitingHigh = undefined
  }

  private noteHighAcks(): void {
    const c = this.client
    const waiting = this.waitingHigh
    if (c === undefined || waiting === undefined) return
    for (const key of waiting.ids) {
      const [docId, id] = key.split(' ') as [PurchaseId, string]
      let status
      try {
        status = c.eventStatus(docId, id as never)
      } catch {
        status = 'gone' // reissued under another id: its content waits under the new one, which is not high priority by name
      }
      if (status !== 'saved') waiting.ids.delete(key)
    }
    if (waiting.ids.size > 0) return
    const w = this.device.world
    w.stats.highPriorityAckMs.push(w.sched.time - waiting.since)
    this.waitingHigh = undefined
  }

  crash(): void {
    const client = this.client
    if (client === undefined) return
    this.interruptHigh()
    this.domain!.kill()
    this.client = undefined
    const w = this.device.world
    w.net.dropDevice(this.name)
    for (const holder of this.holders) w.goneHolders.add(holder)
    void client.close({ abandon: true }).catch(() => undefined)
    w.trace.add(`${this.name} CRASHED`)
  }

  private scheduleAction(): void {
    const d = this.domain!
    const gap = -Math.log(1 - d.random()) * this.device.world.plan.actionGapMs
    d.setTimeout(() => this.act(), gap)
  }

  private act(): void {
    const w = this.device.world
    const client = this.client
    if (client === undefined || w.healing) return
    const d = this.domain!
    const x = d.random()
    if (x < 0.03 && this.online) {
      this.online = false
      client.goOffline()
      this.interruptHigh()
      w.trace.add(`${this.name} goes offline`)
    } else if (x < 0.12 && !this.online) {
      this.online = true
      client.goOnline()
      this.wentOnline()
      w.trace.add(`${this.name} back online`)
    } else if (x < 0.2) {
      // A typing burst: one person writing a sentence into the notes.
      const id = w.docIds[0]!
      const words = ['Deliver ', 'to ', 'gate ', '2 ', 'before ', 'noon. ']
      let at = 0
      for (let i = 0; i < 3 + Math.floor(d.random() * 8); i++) {
        const word = words[i % words.length]!
        d.setTimeout(() => this.command(id, (r) => r.editNotes(Math.min(r.state().notes.length, at), 0, word), 'typing'), (at += 150 + Math.floor(d.random() * 250)))
      }
    } else {
      const id = w.docIds[Math.floor(d.random() * w.docIds.length)]!
      this.command(id, (r) => randomCommand({ rng: d.random, time: d.now() }, r, w.ops), 'command')
    }
    this.scheduleAction()
  }

  command(id: PurchaseId, cmd: (r: PurchaseReplica) => unknown, what: string): void {
    const w = this.device.world
    const client = this.client
    if (client === undefined || w.healing) return
    try {
      if (!client.currentReplica(id).exists) return
    } catch {
      return
    }
    w.commands++
    client.run(id, cmd).catch((e: unknown) => w.fail(`${this.name} ${what} failed: ${(e as Error).stack ?? String(e)}`))
  }
}

export class Device {
  readonly storage: MemoryStorage
  readonly tabs: Tab[]
  /** A copy of the store taken earlier, to restore later (a device restored from an older backup). */
  backup: Map<string, Map<string, Uint8Array>> | undefined
  /** When the store was last restored from the backup (what it pushed before and the relay did not store is forgotten). */
  restoredAt: number | undefined

  private booting: Promise<unknown> = Promise.resolve()

  /** Runs `f` after every earlier one of this device has settled. */
  oneAtATime<T>(f: () => Promise<T>): Promise<T> {
    const p = this.booting.then(f)
    this.booting = p.catch(() => undefined)
    return p
  }

  constructor(readonly world: World, readonly plan: DevicePlan) {
    this.storage = memoryStorage(plan.name)
    this.tabs = Array.from({ length: plan.tabs }, (_, i) => new Tab(this, i))
  }

  copyStore(): Map<string, Map<string, Uint8Array>> {
    return new Map([...this.storage.tables].map(([t, m]) => [t, new Map([...m].map(([k, v]) => [k, v.slice()]))]))
  }

  restoreStore(copy: Map<string, Map<string, Uint8Array>>): void {
    for (const [t, m] of this.storage.tables) {
      m.clear()
      for (const [k, v] of copy.get(t) ?? []) m.set(k, v.slice())
    }
  }
}

export class World {
  readonly sched: VirtualScheduler
  readonly net: SimNetwork
  readonly durable: DurableStore
  readonly trace: Trace
  readonly bus = new NoticeBus(this)
  readonly relays: RelayProcess[]
  readonly devices: Device[]
  readonly relayConfig: RelayConfig
  readonly chaos: Domain
  readonly ops = new Map<string, number>()
  /** Seat-lease holders of crashed tabs: their seats are free at once. */
  readonly goneHolders = new Set<string>()
  readonly docIds: PurchaseId[] = []
  storeRelayId = ''
  /** Every event a device pushed: `<tab> <event id>` -> what and when. */
  readonly pushed = new Map<string, { tab: Tab; docId: PurchaseId; id: string; hash: string; at: number }>()
  private readonly tabsByName = new Map<string, Tab>()
  hostile: Hostile | undefined
  healing = false
  commands = 0
  private failures: string[] = []
  private readonly channels = new Map<string, Set<{ domain: Domain; ch: { onmessage: ((m: { data: unknown }) => void) | null } }>>()
  /** What the success metrics are computed from. */
  readonly stats: WorldStats = { saved: 0, storedAsSaved: 0, stored: 0, refused: 0, conflictEvents: 0, highPriorityAckMs: [], highPriorityInterrupted: 0 }

  constructor(readonly plan: WorldPlan, private readonly measure = false) {
    this.sched = new VirtualScheduler(EPOCH, plan.seed)
    // A world runs a few hundred timers per virtual minute; a process re-sending or retrying without a pause runs
    // thousands per virtual second and would keep the suite busy for minutes: it fails at once, naming the busiest.
    this.sched.onWindow = (byDomain) => {
      const minutes = (this.sched.time - EPOCH) / 60_000
      if (this.sched.steps <= LIVELOCK_BASE + LIVELOCK_PER_MINUTE * minutes) return
      const busiest = [...byDomain].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([d, n]) => `${d} ${n}`).join(', ')
      throw new WorldFailure(`a livelock: ${this.sched.steps} timers in ${minutes.toFixed(1)} virtual minutes (busiest of the last ${STEP_WINDOW}: ${busiest})`, this.trace.tail())
    }
    this.chaos = this.sched.domain('chaos')
    this.net = new SimNetwork(this.sched.domain('network'))
    this.net.faults = plan.network
    this.durable = new DurableStore(() => this.sched.time)
    this.trace = new Trace(() => this.sched.time)
    const parsed = parseConfig(['--store', 'memory', '--snapshot-every', '40', '--idle-unload-ms', '120000', '--log-level', 'error'], {})
    if (parsed.kind !== 'run') throw new Error('relay config')
    this.relayConfig = parsed.config
    this.relays = Array.from({ length: plan.relays }, (_, i) => new RelayProcess(this, `relay${i}`))
    this.devices = plan.devices.map((p) => new Device(this, p))
    this.net.routeLb = () => {
      const up = this.relays.filter((r) => r.up)
      return up.length === 0 ? this.relays[0]!.name : up[Math.floor(this.chaos.random() * up.length)]!.name
    }
    this.net.onDelivered = (link, data) => {
      if (process.env.SIM_FRAMES === link.device) this.trace.add(`${link.device} <- ${frameSummary(decodedServer(new Uint8Array(data)) ?? { t: 'garbage' })}`)
    }
    this.net.onRelaySent = (link, data) => this.checkAck(link.device, data)
    this.net.onSent = (link, data) => this.notePush(link.device, data)
    for (const d of this.devices) for (const t of d.tabs) this.tabsByName.set(t.name, t)
  }

  /** Keeps what a device pushes; says what kind of frame it is. */
  private notePush(device: string, data: Uint8Array): string | undefined {
    let m
    try {
      m = decodeClientMessage(data)
    } catch {
      return undefined
    }
    const tab = this.tabsByName.get(device)
    if (process.env.SIM_FRAMES === device) this.trace.add(`${device} -> ${frameSummary(m)}`)
    if (m.t !== 'push' || tab === undefined) return m.t
    for (const e of m.events) {
      const key = `${device} ${e.id}`
      const hash = eventHash(e)
      const seen = this.pushed.get(key)
      if (seen === undefined || seen.hash !== hash) this.pushed.set(key, { tab, docId: m.docId, id: e.id, hash, at: this.sched.time })
    }
    return m.t
  }

  private readonly logs = new Map<string, Logger>()
  logFor(name: string): Logger {
    let log = this.logs.get(name)
    if (log === undefined) {
      log = pino({ level: 'error', base: null, timestamp: false }, {
        write: (line: string) => {
          const entry = JSON.parse(line) as { msg?: string; err?: { message?: string; stack?: string } }
          this.fail(`${name} logged an error: ${entry.msg} ${entry.err?.stack ?? entry.err?.message ?? ''}`)
        },
      })
      this.logs.set(name, log)
    }
    return log
  }

  tokenFor(user: string, rights: readonly string[]): string {
    const grants: Grant[] = [{ doc: '*', rights: rights as Grant['rights'] }]
    return issueToken({ sub: user, grants, exp: this.sched.time + this.plan.faults.tokenTtlMs })
  }

  /** The seat holders written in a store's leases (for marking a crashed tab's seats free). */
  holdersOf(storage: MemoryStorage): string[] {
    const out: string[] = []
    for (const [k, v] of storage.tables.get('meta') ?? []) {
      if (!k.includes('seat/')) continue
      try {
        const lease = JSON.parse(new TextDecoder().decode(v)) as { holder?: string | null }
        if (typeof lease.holder === 'string') out.push(lease.holder)
      } catch {
        // not a lease
      }
    }
    return out
  }

  /** The seat keepers' BroadcastChannel, delivered by timers of each listening tab. */
  channel(name: string, domain: Domain) {
    const members = this.channels.get(name) ?? new Set()
    this.channels.set(name, members)
    const me = {
      domain,
      ch: {
        onmessage: null as ((m: { data: unknown }) => void) | null,
        postMessage: (message: unknown) => {
          for (const m of members) if (m !== me && m.domain.alive) m.domain.setTimeout(() => m.ch.onmessage?.({ data: message }), 1)
        },
        close: () => members.delete(me),
      },
    }
    members.add(me)
    return me.ch
  }

  fail(message: string): void {
    this.failures.push(message)
    this.trace.add(`FAILURE ${message.split('\n')[0]}`)
  }

  /** Runs the scheduler until `p` settles (a call made from outside any timer). */
  async drive<T>(p: Promise<T>, what: string): Promise<T> {
    let done = false
    let value: T | undefined
    let error: unknown
    p.then((v) => { done = true; value = v }, (e: unknown) => { done = true; error = e })
    await this.sched.settle()
    const limit = this.sched.time + 10 * 60_000
    while (!done) {
      const next = this.sched.nextAt()
      if (next === undefined || next > limit) throw new WorldFailure(`${what} never completed`, this.trace.tail())
      await this.sched.runUntil(next)
    }
    if (error !== undefined) throw error
    return value as T
  }

  /** An acknowledgement may name only events the store already holds durably: checked as the relay sends it. */
  private checkAck(device: string, data: Uint8Array): void {
    const m = decodedServer(data)
    if (m?.t !== 'ack') return
    for (const id of m.ids) {
      if (this.durable.hashOf(m.docId, id) === undefined) this.fail(`${device} was sent an ack for ${id}, which the store does not hold durably`)
    }
  }

  async run(): Promise<WorldResult> {
    const p = this.plan
    this.storeRelayId = await this.durable.inner.relayId()
    for (const r of this.relays) r.start()
    // The first device creates the purchases; the others open them by id (a link someone shared).
    const first = this.devices[0]!
    const creator = first.tabs[0]!
    await creator.start()
    const purchases = 1 + Math.floor(this.chaos.random() * 2)
    for (let i = 0; i < purchases; i++) {
      const id = parsePurchaseId(`01J00000000000000000SIM${String(i).padStart(3, '0')}`)
      const h = await this.drive(creator.client!.createPurchase({ id, currency: 'EUR', supplier: 'ACME', approvalThreshold: '3000', receiptTolerance: '10', backend: p.backend as BackendName }), 'create purchase')
      await this.drive(creator.client!.run(h.id, (r) => {
        r.addLine({ product: 'Widget', qty: '4', price: '12.50' })
        r.addLine({ product: 'Bolt M6', qty: '100', price: '0.20' })
      }), 'first lines')
      this.docIds.push(h.id)
    }
    for (const d of this.devices) for (const t of d.tabs) if (!t.alive) await t.start()
    this.scheduleFaults()
    await this.sched.runUntil(EPOCH + p.durationMs)
    await this.heal()
    this.checkFailures()
    await check(this)
    this.checkFailures()
    if (this.measure) this.stats.conflictEvents = await countConflictEvents(this)
    return {
      steps: this.sched.steps, virtualMs: this.sched.time - EPOCH, commands: this.commands,
      events: [...this.durable.held.values()].reduce((n, h) => n + h.lastSeq, 0), ops: this.ops, stats: this.stats,
    }
  }

  checkFailures(): void {
    const crashes = this.sched.crashes.map((c) => c.message)
    const all = [...this.failures, ...crashes]
    if (all.length > 0) throw new WorldFailure(all.slice(0, 5).join('\n'), this.trace.tail())
  }

  private scheduleFaults(): void {
    const p = this.plan
    const c = this.chaos
    // A fault due after the heal began does not happen: the heal is when the world is left alone.
    const later = (f: () => void, ms: number) => c.setTimeout(() => { if (!this.healing) f() }, ms)
    const at = () => Math.floor(c.random() * p.durationMs * 0.9)
    const len = (a: number, b: number) => a + Math.floor(c.random() * (b - a))
    const tabs = this.devices.flatMap((d) => d.tabs)
    if (p.faults.partitions) {
      for (let i = 0; i < 1 + Math.floor(c.random() * 4); i++) {
        const device = this.devices[Math.floor(c.random() * this.devices.length)]!
        const relay = this.relays[Math.floor(c.random() * this.relays.length)]!
        const start = at()
        later(() => {
          for (const t of device.tabs) this.net.partition(t.name, relay.name)
          this.trace.add(`partition ${device.plan.name} | ${relay.name}`)
          later(() => {
            for (const t of device.tabs) this.net.heal(t.name)
            this.trace.add(`partition ${device.plan.name} | ${relay.name} healed`)
          }, len(5_000, 180_000))
        }, start)
      }
    }
    if (p.faults.relayCrashes) {
      for (let i = 0; i < 1 + Math.floor(c.random() * 2); i++) {
        const relay = this.relays[Math.floor(c.random() * this.relays.length)]!
        later(() => {
          relay.crash()
          later(() => { if (!relay.up) relay.start() }, len(1_000, 120_000))
        }, at())
      }
    }
    if (p.faults.deviceCrashes) {
      for (let i = 0; i < 1 + Math.floor(c.random() * 3); i++) {
        const tab = tabs[Math.floor(c.random() * tabs.length)]!
        later(() => {
          tab.crash()
          later(() => { if (!tab.alive && !this.healing) void tab.start().catch((e: unknown) => this.fail(`${tab.name} restart: ${(e as Error).stack}`)) }, len(2_000, 300_000))
        }, at())
      }
    }
    if (p.faults.restores) {
      const device = this.devices[Math.floor(c.random() * this.devices.length)]!
      const t1 = at()
      later(() => {
        device.backup = device.copyStore()
        this.trace.add(`${device.plan.name} backed up its store`)
      }, t1)
      later(() => {
        if (device.backup === undefined) return
        for (const t of device.tabs) t.crash()
        device.restoreStore(device.backup)
        device.restoredAt = this.sched.time
        this.trace.add(`${device.plan.name} RESTORED its store from the older copy`)
        later(() => {
          for (const t of device.tabs) if (!t.alive && !this.healing) void t.start().catch((e: unknown) => this.fail(`${t.name} restart: ${(e as Error).stack}`))
        }, 1_000)
      }, t1 + len(20_000, Math.max(30_000, p.durationMs - t1)))
    }
    if (p.faults.noticeLoss) {
      for (let i = 0; i < 1 + Math.floor(c.random() * 3); i++) {
        const relay = this.relays[Math.floor(c.random() * this.relays.length)]!
        later(() => {
          if (!relay.up) return
          this.bus.cut(relay)
          later(() => this.bus.restore(relay, c.random() < 0.4), len(2_000, 120_000))
        }, at())
      }
    }
    if (p.faults.hostile) {
      this.hostile = new Hostile(this)
      later(() => this.hostile!.attack(), at())
    }
  }

  /** The end of the working day: every partition heals, every process is back, every device online; then wait for quiet. */
  private async heal(): Promise<void> {
    this.healing = true
    this.trace.add('HEAL: network healed, every process restarted, every device online')
    this.net.heal()
    this.net.faults = { ...CALM, latencyMs: this.plan.network.latencyMs }
    for (const r of this.relays) {
      if (!r.up) r.start()
      this.bus.restore(r, false)
    }
    // Notices lost at the end of the day too: what the devices flush now reaches one relay only through the
    // full catch-up after its trimmed stream comes back, with no later notice to cover for a missed one.
    if (this.plan.faults.noticeLoss) {
      const relay = this.relays[Math.floor(this.chaos.random() * this.relays.length)]!
      this.bus.cut(relay)
      this.chaos.setTimeout(() => this.bus.restore(relay, true), 15_000 + Math.floor(this.chaos.random() * 30_000))
    }
    // A hostile writer whose attack found no relay up (or a reset network) attacks now, on a calm network.
    if (this.hostile !== undefined && this.hostile.attacks === 0) this.hostile.attack()
    for (const d of this.devices) {
      for (const t of d.tabs) {
        if (!t.alive) await t.start()
        const was = t.online
        t.online = true
        t.client!.goOnline()
        if (!was) t.wentOnline()
      }
    }
    const deadline = this.sched.time + HEAL_LIMIT_MS
    let quietChecks = 0
    while (this.sched.time < deadline) {
      await this.sched.runUntil(this.sched.time + 5_000)
      if (this.quiet()) {
        if (++quietChecks >= 2) return
      } else quietChecks = 0
    }
    throw new WorldFailure(`the world did not go quiet within ${HEAL_LIMIT_MS / 60_000} min of the heal:\n${this.noise().join('\n')}`, this.trace.tail())
  }

  /** Every tab has sent everything and holds everything the store has. */
  quiet(): boolean {
    return this.noise().length === 0
  }

  noise(): string[] {
    const out: string[] = []
    for (const r of this.relays) if (r.up && !r.streamUp) out.push(`${r.name} is off the notice stream`)
    for (const d of this.devices) {
      for (const t of d.tabs) {
        const c = t.client
        if (c === undefined) {
          out.push(`${t.name} is not running`)
          continue
        }
        for (const id of this.docIds) {
          const s = c.docStatus(id)
          const held = this.durable.held.get(id)
          const lastSeq = held?.lastSeq ?? 0
          // The cursor may stay behind the device's own last events (the relay sends no frame of them back), so
          // what counts is whether the device holds every stored event.
          const log = c.currentReplica(id).log
          const lacking = [...(held?.hashes.keys() ?? [])].filter((e) => !log.has(e as never)).length
          if (s.pending > 0 || !s.caughtUp || lacking > 0 || s.deadLetter) {
            out.push(`${t.name} ${id}: ${s.state}, pending ${s.pending}, cursor ${s.cursor}/${lastSeq}, lacks ${lacking} stored events, caughtUp ${s.caughtUp}${s.deadLetter ? ', dead letter' : ''}: ${c.explain(id)}`)
          }
        }
      }
    }
    if (out.length > 0) {
      for (const r of this.relays) {
        for (const id of this.docIds) {
          const doc = r.core?.host.docs.get(id)
          out.push(`  (${r.name}: ${id} ${doc === undefined ? 'not loaded' : `loaded at seq ${doc.lastSeq}, ${doc.natives.size} subscribers`})`)
        }
      }
    }
    return out
  }
}
