/**
 * Virtual time for the full-stack simulation (after FoundationDB's simulated
 * runtime): one queue of timers ordered by (virtual time, insertion), run one
 * at a time. Between two timers every promise the last one started settles:
 * the scheduler waits one real `setImmediate`, which Node runs only once the
 * microtask queue is empty. Nothing in a world does real I/O (sockets,
 * stores, tokens are simulated; the KV stores answer synchronously), so the
 * order of everything is a function of the seed.
 *
 * Each process of the world (a relay, a device's tab) runs on its own
 * Domain: a Runtime whose clock may be skewed and whose timers all die with
 * it. A crash is `domain.kill()`: the process's pending timers never fire, so
 * its code never runs again; what it had not written to its store is gone.
 */
import type { Runtime } from '@concord/core'
import { seededRandom } from '@concord/core/internal'

interface Timer {
  readonly at: number
  readonly order: number
  readonly run: () => void
  readonly domain: Domain
  cancelled: boolean
}

/** Raised inside a world when a process threw from a timer: no relay or client may crash. */
export class ProcessCrashed extends Error {
  constructor(readonly process: string, readonly error: unknown) {
    super(`${process} threw: ${(error as Error)?.stack ?? String(error)}`)
    this.name = 'ProcessCrashed'
  }
}

/** Timers per livelock-guard window. */
export const STEP_WINDOW = 10_000

const realTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

export class VirtualScheduler {
  /** Virtual epoch milliseconds. */
  time: number
  private readonly heap: Timer[] = []
  private order = 0
  /** Timers run so far (a world's size, and the trace's clock). */
  steps = 0
  /** Called every STEP_WINDOW timers with the timers each domain ran in that window (the world's livelock guard). */
  onWindow: ((byDomain: ReadonlyMap<string, number>) => void) | undefined
  private window = new Map<string, number>()
  readonly crashes: ProcessCrashed[] = []

  constructor(start: number, private readonly seed: number) {
    this.time = start
  }

  domain(name: string, skewMs = 0): Domain {
    return new Domain(this, name, skewMs, seededRandom(hashSeed(this.seed, name)))
  }

  /** @internal */
  add(domain: Domain, ms: number, run: () => void): Timer {
    const t: Timer = { at: this.time + Math.max(0, Number.isFinite(ms) ? ms : 0), order: this.order++, run, domain, cancelled: false }
    this.push(t)
    return t
  }

  /** The time of the next live timer, or undefined when nothing is scheduled. */
  nextAt(): number | undefined {
    while (this.heap.length > 0 && (this.heap[0]!.cancelled || !this.heap[0]!.domain.alive)) this.pop()
    return this.heap[0]?.at
  }

  /** Runs every timer due up to `until` (virtual ms), letting each one's promises settle. */
  async runUntil(until: number): Promise<void> {
    for (;;) {
      const at = this.nextAt()
      if (at === undefined || at > until) break
      const t = this.pop()!
      this.time = Math.max(this.time, t.at)
      this.steps++
      this.window.set(t.domain.name, (this.window.get(t.domain.name) ?? 0) + 1)
      if (this.steps % STEP_WINDOW === 0) {
        const w = this.window
        this.window = new Map()
        this.onWindow?.(w)
      }
      try {
        t.run()
      } catch (e) {
        this.crashes.push(new ProcessCrashed(t.domain.name, e))
      }
      await realTurn()
    }
    this.time = Math.max(this.time, until)
  }

  /** Lets the promises started outside a timer (a command from the workload) settle. */
  async settle(): Promise<void> {
    await realTurn()
  }

  private push(t: Timer): void {
    const h = this.heap
    h.push(t)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(h[i]!, h[p]!)) break
      ;[h[i], h[p]] = [h[p]!, h[i]!]
      i = p
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap
    const top = h[0]
    const last = h.pop()
    if (h.length > 0 && last !== undefined) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && before(h[l]!, h[m]!)) m = l
        if (r < h.length && before(h[r]!, h[m]!)) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m]!, h[i]!]
        i = m
      }
    }
    return top
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order)
}

export function hashSeed(seed: number, name: string): number {
  let h = (seed ^ 0x9e3779b9) >>> 0
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0
  return h || 1
}

/** One process's runtime: the world's virtual clock (plus a skew), its own timers and its own random stream. */
export class Domain implements Runtime {
  alive = true

  constructor(
    private readonly scheduler: VirtualScheduler,
    readonly name: string,
    readonly skewMs: number,
    readonly random: () => number,
  ) {}

  now = (): number => this.scheduler.time + this.skewMs

  setTimeout = (f: () => void, ms: number): unknown => {
    if (!this.alive) return null
    return this.scheduler.add(this, ms, () => {
      if (this.alive) f()
    })
  }

  clearTimeout = (handle: unknown): void => {
    if (handle !== null && typeof handle === 'object') (handle as Timer).cancelled = true
  }

  setImmediate = (f: () => void): void => {
    this.setTimeout(f, 0)
  }

  /** The process is gone: none of its timers fire again. */
  kill(): void {
    this.alive = false
  }
}
