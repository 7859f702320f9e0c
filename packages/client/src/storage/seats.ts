/**
 * Seats: one local store, several running instances (two tabs of one
 * browser profile, two processes on one SQLite file), never two writers of
 * one actor.
 *
 * Each running client takes a seat of its store: its own replica id (so its
 * own actor and event ids), its own documents, events and outbox, kept
 * under the key prefix `~<n>/` (seat 0 has none: a store from before seats
 * is seat 0, unchanged). What another seat holds is carried over into the
 * instance's own (absorb.ts), pending changes included, so a tab sees what
 * the other tab did offline and any instance can send it; one id names one
 * content, so a change sent by two instances is a duplicate the relay
 * acknowledges to both.
 *
 * Why seats and not one elected writer per store (automerge-repo's
 * BroadcastChannel approach): every tab keeps its own replica and keeps
 * working when another tab freezes, crashes or is closed mid-write; nothing
 * depends on a message between tabs arriving. The cost is a copy of the
 * documents per seat.
 *
 * A seat is held by a lease in the meta table, `seat/<n>`: the holder's
 * random id, until when, and which process. Every write of the instance
 * commits only while the lease still names it (a WriteGuard read in the same
 * transaction), so an instance that lost its seat cannot write into it. A
 * seat is free when released, expired, or when its holder is known to be
 * gone: in browsers the seat's Web Lock (held for the page's life, released
 * by the browser when the page goes) is free; in Node the holder's process
 * has exited (same host); in one process, the holder was closed or abandoned.
 */
import { ConcordError } from '@concord/core'
import type { KvBackend, KvOp, WriteGuard } from './kv.js'

/** The most seats one store hands out (a store with this many live instances refuses the next). */
export const MAX_SEATS = 64
/** How long a lease lasts without renewal; held leases are renewed every third of it. */
export const SEAT_TTL_MS = 5 * 60_000

export interface Lease {
  /** The holding instance's random id; null when released. */
  readonly holder: string | null
  /** Epoch ms after which the lease may be taken. */
  readonly until: number
  /** The JavaScript realm (page, process) of the holder. */
  readonly realm?: string
  readonly pid?: number
  readonly host?: string
}

/**
 * Tells a live holder from a gone one, per platform. `hold` (browsers, Web
 * Locks) takes an exclusive hold of the seat for the instance's life, or
 * null when a live instance has it. `gone` (Node) says a lease's process has
 * exited.
 */
export interface SeatLiveness {
  readonly pid?: number
  readonly host?: string
  hold?(name: string): Promise<(() => void) | null>
  gone?(lease: Lease): boolean
}

/** This realm: leases written here by instances that have since closed are free at once. */
const REALM = Math.random().toString(36).slice(2) + Date.now().toString(36)
const liveHolders = new Set<string>()

const te = new TextEncoder()
const td = new TextDecoder()

export const seatPrefix = (seat: number): string => (seat === 0 ? '' : `~${seat}/`)
/** Seat 0's keys have no prefix; those of other seats start with `~` (no purchase id does). */
export const isSeatKey = (key: string): boolean => key.startsWith('~')
const leaseKey = (seat: number) => `seat/${seat}`
export const replicaKey = (seat: number): string => `${seatPrefix(seat)}replica`

function parseLease(v: Uint8Array | undefined): Lease | undefined {
  if (v === undefined) return undefined
  try {
    const l = JSON.parse(td.decode(v)) as Lease
    return typeof l.until === 'number' && (l.holder === null || typeof l.holder === 'string') ? l : { holder: null, until: 0 }
  } catch {
    return { holder: null, until: 0 } // an unreadable lease protects nothing
  }
}

const same = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]))

/** The Web Locks hold, where the runtime has them (every current browser). */
export function webLocksLiveness(): SeatLiveness | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
  if (locks === undefined) return undefined
  return {
    hold: (name) =>
      new Promise((resolve) => {
        locks
          .request(name, { ifAvailable: true }, (lock) => {
            if (lock === null) {
              resolve(null)
              return undefined
            }
            return new Promise<void>((release) => resolve(() => release()))
          })
          .catch(() => resolve(null))
      }),
  }
}

/** A held seat: renewed by the client, released on close. */
export class Seat {
  private released = false

  private constructor(
    private readonly kv: KvBackend,
    readonly number: number,
    readonly holder: string,
    private readonly liveness: SeatLiveness,
    private readonly now: () => number,
    private readonly ttlMs: number,
    private readonly unhold: (() => void) | undefined,
  ) {}

  /** Every write of the holder commits under this: the lease still names it. */
  get guard(): WriteGuard {
    return { table: 'meta', key: leaseKey(this.number), test: (v) => parseLease(v)?.holder === this.holder }
  }

  private lease(): KvOp {
    const l: Lease = {
      holder: this.holder, until: this.now() + this.ttlMs, realm: REALM,
      ...(this.liveness.pid !== undefined ? { pid: this.liveness.pid } : {}),
      ...(this.liveness.host !== undefined ? { host: this.liveness.host } : {}),
    }
    return { table: 'meta', key: leaseKey(this.number), value: te.encode(JSON.stringify(l)) }
  }

  /**
   * Takes the lowest free seat (or, with `only`, that seat or none). A seat
   * that has never been used comes back with `fresh` true.
   */
  static async claim(
    kv: KvBackend,
    o: { holder: string; liveness: SeatLiveness; now: () => number; ttlMs?: number; only?: number; name: string },
  ): Promise<{ seat: Seat; fresh: boolean }> {
    const ttlMs = o.ttlMs ?? SEAT_TTL_MS
    const candidates = o.only !== undefined ? [o.only] : Array.from({ length: MAX_SEATS }, (_, i) => i)
    for (const n of candidates) {
      const unhold = o.liveness.hold === undefined ? undefined : await o.liveness.hold(`concord:${o.name}:seat:${n}`)
      if (unhold === null) continue // a live instance holds it
      const raw = await kv.get('meta', leaseKey(n))
      const cur = parseLease(raw)
      const free =
        cur === undefined || cur.holder === null || cur.until <= o.now() || unhold !== undefined ||
        (cur.realm === REALM && !liveHolders.has(cur.holder)) || o.liveness.gone?.(cur) === true
      if (!free) continue
      const seat = new Seat(kv, n, o.holder, o.liveness, o.now, ttlMs, unhold)
      // Compare-and-set on what was read: of two instances claiming at once, one wins.
      const won = await kv.write([seat.lease()], { table: 'meta', key: leaseKey(n), test: (v) => same(v, raw) })
      if (!won) {
        unhold?.()
        continue
      }
      liveHolders.add(o.holder)
      const fresh = n > 0 && (await kv.get('meta', replicaKey(n))) === undefined
      return { seat, fresh }
    }
    throw new ConcordError(
      'STORE_IN_USE',
      o.only !== undefined
        ? `${kv.describe}: seat ${o.only} (the one of the requested replicaId) is held by another running instance`
        : `${kv.describe}: all ${MAX_SEATS} seats are held by running instances`,
      { seat: o.only ?? null },
    )
  }

  /** Extends the lease; false when another instance holds the seat now. */
  async renew(): Promise<boolean> {
    if (this.released) return false
    return this.kv.write([this.lease()], this.guard)
  }

  /** Gives the seat up (on close). A lost seat is left to its new holder. */
  async release(write: boolean): Promise<void> {
    if (this.released) return
    this.released = true
    liveHolders.delete(this.holder)
    try {
      if (write) await this.kv.write([{ table: 'meta', key: leaseKey(this.number), value: te.encode(JSON.stringify({ holder: null, until: 0 })) }], this.guard)
    } finally {
      this.unhold?.()
    }
  }

  /** The seats of the store other than this one that hold a replica (seat 0 always exists). */
  async others(): Promise<number[]> {
    const out: number[] = []
    if (this.number !== 0) out.push(0)
    for (const [k] of await this.kv.scan('meta', { prefix: '~' })) {
      const m = /^~(\d+)\/replica$/.exec(k)
      if (m !== null && Number(m[1]) !== this.number) out.push(Number(m[1]))
    }
    return out.sort((a, b) => a - b)
  }

}
