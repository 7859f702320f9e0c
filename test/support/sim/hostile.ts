/**
 * A hostile writer in the world: a raw native-protocol connection with an
 * ordinary token (read and write, no resolve, no approve). It sends a forged
 * token, a garbage frame, an event under a device's actor (its next id), a
 * device's existing id with other content, and a resolution or approval it
 * has no right to. None of it may get in, and no relay may fall over.
 */
import { type EventEnvelope, type PurchaseId, type ReplicaId, backendNamed, createUlidFactory, PurchaseReplica } from '@concord/core'
import { eventHash } from '@concord/core/internal'
import { type ClientMessage, PROTOCOL_VERSION, decodeServerMessage, encodeClientMessage } from '@concord/core/protocol'
import type { SocketLike } from '@concord/client'
import type { Domain } from './scheduler.js'
import { forgedToken, issueToken } from './tokens.js'
import type { World } from './world.js'

export interface HostileEvent {
  readonly docId: PurchaseId
  readonly id: string
  readonly hash: string
  readonly what: string
}

const USER = 'mallory'

export class Hostile {
  readonly sent: HostileEvent[] = []
  /** Ids the relay acknowledged to the hostile writer: none of its forgeries may be among them. */
  readonly acked = new Set<string>()
  attacks = 0
  private readonly domain: Domain

  constructor(private readonly w: World) {
    this.domain = w.sched.domain('hostile')
  }

  private connect(token: string, onMessage: (s: SocketLike, m: ReturnType<typeof decodeServerMessage>) => void): SocketLike {
    const Ws = this.w.net.socketsFor('hostile', this.domain)
    const s = new Ws('ws://lb.sim/sync')
    const send = (m: ClientMessage) => {
      if (s.readyState === 1) s.send(encodeClientMessage(m))
    }
    s.onopen = () => send({ t: 'hello', version: PROTOCOL_VERSION, token, client: 'mallory/1.0', device: 'mallory-laptop' })
    s.onmessage = (ev) => {
      try {
        onMessage(s, decodeServerMessage(new Uint8Array(ev.data as ArrayBuffer)))
      } catch {
        // a frame the attacker cannot read is its own problem
      }
    }
    return s
  }

  attack(): void {
    const w = this.w
    w.trace.add('hostile writer attacks')
    const exp = w.sched.time + 10 * 60_000
    // A token signed with another secret: refused at hello.
    this.connect(forgedToken({ sub: 'alice', grants: [{ doc: '*', rights: ['read', 'write', 'resolve', 'approve'] }], exp }), () => undefined)
    const token = issueToken({ sub: USER, grants: [{ doc: '*', rights: ['read', 'write'] }], exp })
    const events = new Map<PurchaseId, EventEnvelope[]>()
    this.connect(token, (s, m) => {
      const send = (msg: ClientMessage) => {
        if (s.readyState === 1) s.send(encodeClientMessage(msg))
      }
      if (m.t === 'ack') {
        for (const id of m.ids) this.acked.add(`${m.docId} ${id}`)
      } else if (m.t === 'welcome') {
        for (const docId of w.docIds) send({ t: 'subscribe', docId, backend: w.plan.backend, cursor: 0, actors: [] })
      } else if (m.t === 'events') {
        const list = events.get(m.docId) ?? []
        for (const e of m.events) list.push(e.event)
        events.set(m.docId, list)
      } else if (m.t === 'caughtUp') {
        const list = events.get(m.docId) ?? []
        for (const [what, e] of this.forge(m.docId, list)) {
          this.sent.push({ docId: m.docId, id: e.id, hash: eventHash(e), what })
          send({ t: 'push', docId: m.docId, events: [e] })
          this.attacks++
        }
        // A frame that is no message at all.
        if (s.readyState === 1) s.send(new Uint8Array([0xff, 0x00, 0x13, 0x37, 0xde, 0xad]))
        this.attacks++
      }
    })
  }

  /** The forged events for one purchase, from what the relay sent. */
  private forge(docId: PurchaseId, events: readonly EventEnvelope[]): [string, EventEnvelope][] {
    const out: [string, EventEnvelope][] = []
    const victims = [...new Set(events.map((e) => e.actor))].filter((a) => !a.startsWith(this.w.storeRelayId.slice(0, 20)))
    const victim = victims[Math.floor(this.domain.random() * victims.length)]
    const replica = (actor: string, base: readonly EventEnvelope[]) => PurchaseReplica.fromEvents({
      docId, replica: actor as ReplicaId, backend: backendNamed(this.w.plan.backend),
      now: this.domain.now, newId: createUlidFactory(this.domain.now, this.domain.random), user: USER, device: 'mallory-laptop',
    }, base)
    const attempt = (what: string, f: () => EventEnvelope) => {
      try {
        out.push([what, f()])
      } catch {
        // the command refused itself: nothing to send
      }
    }
    if (victim !== undefined) {
      attempt(`next id of ${victim}`, () => replica(victim, events).setSupplier('Mallory Ltd'))
      const own = events.filter((e) => e.actor === victim)
      const last = own[own.length - 1]!
      const before = events.filter((e) => e !== last && !e.deps.includes(last.id))
      attempt(`reused id ${last.id}`, () => replica(victim, before).setHeader('incoterm', 'DDP'))
    }
    const self = replica(`mallory-${Math.floor(this.domain.random() * 1e6)}`, events)
    const conflict = self.conflicts()[0]
    if (conflict !== undefined) {
      const option = conflict.options.find((o) => o.params.length === 0)
      if (option !== undefined) attempt(`resolution of ${conflict.kind} without the right`, () => self.resolve(conflict.id, option.id, {}, 'mine'))
    } else if (self.allowedActions().includes('approve')) {
      attempt('approval without the right', () => self.transition('approve'))
    }
    return out
  }
}
