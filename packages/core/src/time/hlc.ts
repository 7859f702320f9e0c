/**
 * A hybrid logical clock (Kulkarni et al.): physical time when the wall clock
 * moves forward, a counter when it does not, and always past anything already
 * seen. It orders events across devices whose clocks disagree, without ever
 * trusting a device's wall clock for ordering. The wall clock is injected.
 */
import { fail } from '../errors.js'
import type { ReplicaId } from '../ids.js'

/**
 * A timestamp as a string that sorts like the clock: 15 digits of
 * milliseconds, 6 of counter, then the replica id to break ties.
 */
export type Hlc = string & { readonly __hlc: true }

export interface HlcParts {
  readonly wall: number
  readonly counter: number
  readonly replica: ReplicaId
}

const HLC_RE = /^(\d{15})-(\d{6})-([A-Za-z0-9_-]{1,64})$/
const MAX_COUNTER = 999_999

export function encodeHlc({ wall, counter, replica }: HlcParts): Hlc {
  return `${String(wall).padStart(15, '0')}-${String(counter).padStart(6, '0')}-${replica}` as Hlc
}

export function decodeHlc(input: unknown): HlcParts {
  const m = typeof input === 'string' ? HLC_RE.exec(input) : null
  if (m === null) fail('INVALID_ARGUMENT', `not a hybrid logical clock stamp: ${JSON.stringify(input)}`)
  return { wall: Number(m[1]), counter: Number(m[2]), replica: m[3] as ReplicaId }
}

export function parseHlc(input: unknown): Hlc {
  // A test, not decodeHlc: every received event is checked, and the parts are not needed here.
  if (typeof input !== 'string' || !HLC_RE.test(input)) decodeHlc(input)
  return input as Hlc
}

export function compareHlc(a: Hlc, b: Hlc): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export class HybridLogicalClock {
  private wall = 0
  private counter = 0
  /** The encoded wall clock of the last stamp: a burst in one millisecond pads it once. */
  private wallText = ''
  private wallOf = -1

  constructor(
    readonly replica: ReplicaId,
    /** Milliseconds since the epoch; injected so simulations replay. */
    private readonly now: () => number,
    /** Remote stamps further ahead than this are refused (a device with a wild clock). */
    private readonly maxDriftMs = 24 * 3600_000,
  ) {}

  /** A stamp for a local event, later than every stamp issued or received before. */
  tick(): Hlc {
    const physical = Math.floor(this.now())
    if (physical > this.wall) {
      this.wall = physical
      this.counter = 0
    } else {
      this.bump()
    }
    if (this.wallOf !== this.wall) {
      this.wallText = String(this.wall).padStart(15, '0')
      this.wallOf = this.wall
    }
    // The same text encodeHlc makes.
    return `${this.wallText}-${String(this.counter).padStart(6, '0')}-${this.replica}` as Hlc
  }

  /** Takes a remote stamp into account so the next local stamp follows it. */
  receive(stamp: Hlc): void {
    const remote = decodeHlc(stamp)
    const physical = Math.floor(this.now())
    if (remote.wall > physical + this.maxDriftMs) {
      // Do not let one device's clock drag every replica into the future;
      // the event still applies, it just does not move our clock.
      return
    }
    if (remote.wall > this.wall) {
      this.wall = remote.wall
      this.counter = remote.counter
    } else if (remote.wall === this.wall && remote.counter > this.counter) {
      this.counter = remote.counter
    }
  }

  private bump(): void {
    if (this.counter >= MAX_COUNTER) {
      this.wall += 1
      this.counter = 0
    } else {
      this.counter += 1
    }
  }
}
