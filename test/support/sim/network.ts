/**
 * The simulated network between devices and relays: WebSocket-shaped sockets
 * on both ends (the client's SocketLike, the relay's RelaySocket), one link
 * per connection, every frame delivered by a timer of the receiving
 * process's domain after a latency drawn from the network's own random
 * stream. Frames of one link keep their order (TCP) unless the fault profile
 * says otherwise: a middlebox that duplicates or reorders pushes, resets
 * that lose what was in flight, partitions that swallow frames without a
 * close (a half-open connection, found only by the client's ping), relays
 * that refuse connections while they are down.
 */
import type { SocketLike, WebSocketConstructor } from '@concord/client'
import type { RelaySocket } from '@concord/relay/internal'
import type { Domain } from './scheduler.js'

export interface FaultProfile {
  /** Base one-way latency and its jitter, ms. */
  readonly latencyMs: number
  readonly jitterMs: number
  /** Per frame from a device: delivered twice. */
  readonly duplicate: number
  /** Per frame from a device: may overtake the frame before it. */
  readonly reorder: number
  /** Per frame: the connection is reset, the frame and whatever follows in flight are lost. */
  readonly reset: number
}

export const CALM: FaultProfile = { latencyMs: 20, jitterMs: 30, duplicate: 0, reorder: 0, reset: 0 }

export interface RelayEndpoint {
  readonly domain: Domain
  accept(socket: RelaySocket): void
}

type Listener = (...args: never[]) => void

/** One connection between a device and a relay. */
class Link {
  open = false
  closed = false
  /** Black-holed by a partition: frames vanish, nobody is told. */
  blackHoled = false
  private lastToServer = 0
  private lastToClient = 0
  client!: SimClientSocket
  server!: SimServerSocket

  constructor(
    readonly net: SimNetwork,
    readonly device: string,
    readonly deviceDomain: Domain,
    readonly relay: string,
    readonly relayDomain: Domain,
  ) {}

  toServer(data: Uint8Array): void {
    if (this.closed || this.blackHoled) return
    const net = this.net
    const push = net.onSent?.(this, data) === 'push'
    if (net.chance(net.faults.reset)) return this.reset()
    const copy = Buffer.from(data)
    // A middlebox that re-sends or reorders only pushes: what a client re-sending after a reconnect does anyway.
    const reorder = push && net.chance(net.faults.reorder)
    const at = reorder ? net.time() + net.latency() : Math.max(this.lastToServer, net.time() + net.latency())
    if (!reorder) this.lastToServer = at
    const deliver = () => {
      if (!this.closed && !this.blackHoled) this.server.emit('message', copy, true)
    }
    this.relayDomain.setTimeout(deliver, at - net.time())
    if (push && net.chance(net.faults.duplicate)) this.relayDomain.setTimeout(deliver, at - net.time() + net.latency())
    net.frames++
  }

  toClient(data: Uint8Array): void {
    const net = this.net
    net.onRelaySent?.(this, data)
    if (this.closed || this.blackHoled) return
    if (net.chance(net.faults.reset)) return this.reset()
    const copy = new Uint8Array(data).slice().buffer
    const at = Math.max(this.lastToClient, net.time() + net.latency())
    this.lastToClient = at
    this.deviceDomain.setTimeout(() => {
      if (!this.closed && !this.blackHoled) {
        net.onDelivered?.(this, copy)
        this.client.onmessage?.({ data: copy })
      }
    }, at - net.time())
    net.frames++
  }

  /** Either side closed gracefully: the other hears the code after a latency, then both are closed. */
  closeFrom(side: 'client' | 'server', code: number, reason: string): void {
    if (this.closed) return
    this.closed = true
    const net = this.net
    const l = net.latency()
    if (this.blackHoled) {
      // Nobody hears it; the side that closed is done at once.
      if (side === 'client') this.deviceDomain.setTimeout(() => this.client.closed(1006, ''), 0)
      else this.relayDomain.setTimeout(() => this.server.closed(), 0)
      return
    }
    this.deviceDomain.setTimeout(() => this.client.closed(code, reason), side === 'server' ? l : 2 * l)
    this.relayDomain.setTimeout(() => this.server.closed(), side === 'client' ? l : 2 * l)
  }

  /** Torn down without a handshake (a reset, a crashed process): both ends see 1006. */
  reset(): void {
    if (this.closed) return
    this.closed = true
    const l = this.net.latency()
    this.deviceDomain.setTimeout(() => this.client.closed(1006, ''), l)
    this.relayDomain.setTimeout(() => this.server.closed(), l)
    this.net.resets++
  }
}

export class SimClientSocket implements SocketLike {
  binaryType = 'arraybuffer'
  readyState = 0
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { readonly data: unknown }) => void) | null = null
  onclose: ((ev: { readonly code: number; readonly reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null

  constructor(private readonly link: Link) {}

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error('WebSocket is not open')
    this.link.toServer(data)
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return
    if (this.readyState === 0) {
      this.link.reset()
      return
    }
    this.readyState = 2
    this.link.closeFrom('client', code, reason)
  }

  terminate(): void {
    this.link.reset()
  }

  /** @internal */
  opened(): void {
    if (this.readyState !== 0) return
    this.readyState = 1
    this.onopen?.({})
  }

  /** @internal */
  closed(code: number, reason: string): void {
    if (this.readyState === 3) return
    this.readyState = 3
    this.onclose?.({ code, reason })
  }

  /** @internal */
  failed(message: string): void {
    if (this.readyState === 3) return
    this.readyState = 3
    this.onerror?.({ message })
    this.onclose?.({ code: 1006, reason: '' })
  }
}

export class SimServerSocket implements RelaySocket {
  readonly bufferedAmount = 0
  private readonly listeners = new Map<string, Listener[]>()
  private done = false

  constructor(private readonly link: Link) {}

  on(event: string, listener: Listener): this {
    const list = this.listeners.get(event) ?? []
    list.push(listener)
    this.listeners.set(event, list)
    return this
  }

  send(data: Uint8Array, _options: { binary: boolean }, cb?: (err?: Error) => void): void {
    this.link.toClient(data)
    if (cb !== undefined) this.link.relayDomain.setTimeout(() => cb(), 0)
  }

  close(code = 1000, reason = ''): void {
    this.link.closeFrom('server', code, reason)
  }

  terminate(): void {
    this.link.reset()
  }

  /** @internal */
  emit(event: string, ...args: unknown[]): void {
    for (const l of this.listeners.get(event) ?? []) (l as (...a: unknown[]) => void)(...args)
  }

  /** @internal */
  closed(): void {
    if (this.done) return
    this.done = true
    this.emit('close')
  }
}

export class SimNetwork {
  faults: FaultProfile = CALM
  private readonly relays = new Map<string, RelayEndpoint>()
  private readonly links = new Set<Link>()
  /** Device -> relays it cannot reach (both directions). */
  private readonly cut = new Map<string, Set<string>>()
  frames = 0
  resets = 0
  /** Every frame a device receives, before it does (for the trace). */
  onDelivered: ((link: Link, data: ArrayBuffer) => void) | undefined
  /** Every frame a relay sends a device, as it leaves, even onto a dead link (the world checks acknowledgements against the store). */
  onRelaySent: ((link: Link, data: Uint8Array) => void) | undefined
  /** Every frame a device sends, as it leaves (the world keeps what was pushed). */
  onSent: ((link: Link, data: Uint8Array) => string | undefined) | undefined
  /** Where `ws://lb.sim/` leads for a new connection: a load balancer in front of the relays. */
  routeLb: (() => string) | undefined

  constructor(readonly clock: Domain) {}

  time(): number {
    return this.clock.now()
  }

  chance(p: number): boolean {
    return p > 0 && this.clock.random() < p
  }

  latency(): number {
    return this.faults.latencyMs + Math.floor(this.clock.random() * (this.faults.jitterMs + 1))
  }

  addRelay(name: string, endpoint: RelayEndpoint): void {
    this.relays.set(name, endpoint)
  }

  /** The relay process died: its endpoint is gone and its connections are reset. */
  removeRelay(name: string): void {
    this.relays.delete(name)
    for (const l of [...this.links]) if (l.relay === name) l.reset()
  }

  /** The device's process died: its connections are reset (the OS closes them). */
  dropDevice(device: string): void {
    for (const l of [...this.links]) if (l.device === device) l.reset()
  }

  /** Cuts device <-> relay: open links go half-open (frames vanish), new ones hang. */
  partition(device: string, relay: string): void {
    const set = this.cut.get(device) ?? new Set()
    set.add(relay)
    this.cut.set(device, set)
    for (const l of this.links) if (l.device === device && l.relay === relay && !l.closed) l.blackHoled = true
  }

  heal(device?: string): void {
    if (device === undefined) this.cut.clear()
    else this.cut.delete(device)
  }

  reachable(device: string, relay: string): boolean {
    return !(this.cut.get(device)?.has(relay) ?? false)
  }

  /** The WebSocket constructor a device's client is given: `ws://<relay>.sim/sync` (`lb` picks a running relay). */
  socketsFor(device: string, domain: Domain): WebSocketConstructor {
    const net = this
    return class {
      constructor(url: string) {
        const host = /^ws:\/\/([^/]+)\.sim\//.exec(url)?.[1] ?? ''
        const relay = host === 'lb' ? (net.routeLb?.() ?? host) : host
        const relayEndpoint = net.relays.get(relay)
        const link = new Link(net, device, domain, relay, relayEndpoint?.domain ?? domain)
        const client = new SimClientSocket(link)
        link.client = client
        link.server = new SimServerSocket(link)
        net.links.add(link)
        const l = net.latency()
        if (!net.reachable(device, relay)) {
          // A partition: the SYN goes nowhere; the client's handshake timeout ends the attempt.
          link.blackHoled = true
          return client
        }
        if (relayEndpoint === undefined) {
          domain.setTimeout(() => {
            link.closed = true
            client.failed(`connect ECONNREFUSED ${relay}`)
          }, 2 * l)
          return client
        }
        relayEndpoint.domain.setTimeout(() => {
          if (link.closed || link.blackHoled) return
          link.open = true
          relayEndpoint.accept(link.server)
          domain.setTimeout(() => {
            if (!link.closed && !link.blackHoled) client.opened()
          }, l)
        }, l)
        return client
      }
    } as unknown as WebSocketConstructor
  }

  /** Forgets closed links (keeps the set small over a long world). */
  sweep(): void {
    for (const l of this.links) if (l.closed) this.links.delete(l)
  }
}

export type { Link }
