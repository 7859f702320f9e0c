/**
 * What a seed makes of a world: how many relays and whether they form a
 * cluster, the devices and their tabs, the backend, the network's faults and
 * which of the other fault classes are switched on. Every choice comes from
 * the seed, so a world is replayed from its seed alone.
 */
import { BACKEND_NAMES, type BackendName } from '@concord/core'
import type { Right } from '@concord/core/protocol'
import { seededRandom } from '@concord/core/internal'
import type { FaultProfile } from './network.js'

export interface DevicePlan {
  readonly name: string
  readonly user: string
  readonly tabs: number
  readonly rights: readonly Right[]
  /** This device's clock runs ahead (or behind) by this much. */
  readonly skewMs: number
}

export interface WorldPlan {
  readonly seed: number
  readonly backend: BackendName
  readonly relays: number
  readonly cluster: boolean
  readonly devices: readonly DevicePlan[]
  readonly network: FaultProfile
  /** Virtual length of the working part of the world, before the heal. */
  readonly durationMs: number
  /** Mean time between one tab's actions. */
  readonly actionGapMs: number
  readonly faults: {
    readonly partitions: boolean
    readonly relayCrashes: boolean
    readonly deviceCrashes: boolean
    readonly restores: boolean
    readonly noticeLoss: boolean
    readonly hostile: boolean
    /** Tokens last this long; devices refresh them. */
    readonly tokenTtlMs: number
  }
}

/**
 * `scale` 1 is the suite's size (a few devices, minutes of work: a thousand
 * worlds fit its time budget); the soak and the metrics use larger worlds.
 */
export function planWorld(seed: number, backend?: BackendName, scale = 1): WorldPlan {
  const rng = seededRandom(seed)
  const int = (a: number, b: number) => a + Math.floor(rng() * (b - a + 1))
  const relays = rng() < 0.55 ? 1 : int(2, 3)
  const deviceCount = int(2, scale > 1 ? 8 : 4)
  const people = ['alice', 'bob', 'chen', 'dana', 'emil', 'fatou']
  const devices: DevicePlan[] = Array.from({ length: deviceCount }, (_, i) => {
    const user = people[i % Math.max(2, int(2, 4))]!
    return {
      name: `d${i}`,
      user,
      tabs: rng() < 0.2 ? 2 : 1,
      // Everyone may write and resolve; approving is for some.
      rights: rng() < 0.6 ? ['read', 'write', 'resolve', 'approve'] : ['read', 'write', 'resolve'],
      skewMs: int(-90_000, 90_000),
    }
  })
  const hostileNet = rng() < 0.5
  return {
    seed,
    // One draw; with two backends it picks as `rng() < 0.5` did, so recorded seeds keep their worlds.
    backend: backend ?? BACKEND_NAMES[Math.floor(rng() * BACKEND_NAMES.length)]!,
    relays,
    cluster: relays > 1,
    devices,
    network: {
      latencyMs: int(2, 60),
      jitterMs: int(0, 200),
      duplicate: hostileNet ? 0.02 : 0,
      reorder: hostileNet ? 0.02 : 0,
      reset: hostileNet ? 0.005 : 0,
    },
    durationMs: int(1, Math.round(4 * scale)) * 60_000,
    actionGapMs: int(4, 20) * 1000,
    faults: {
      partitions: rng() < 0.6,
      relayCrashes: rng() < 0.5,
      deviceCrashes: rng() < 0.5,
      restores: rng() < 0.25,
      noticeLoss: relays > 1 && rng() < 0.6,
      hostile: rng() < 0.4,
      tokenTtlMs: int(2, 30) * 60_000,
    },
  }
}

/**
 * A team's working day, for the success metrics: a world of the soak's size
 * (2 to 8 devices) over 8 virtual hours, each tab acting every one to five
 * minutes on average (people in meetings, on the road, offline for long
 * stretches), with the same fault classes spread over the day.
 */
export function planDay(seed: number, backend?: BackendName): WorldPlan {
  const base = planWorld(seed, backend, 2)
  const rng = seededRandom(seed ^ 0x5eed)
  return { ...base, durationMs: 8 * 3_600_000, actionGapMs: (60 + Math.floor(rng() * 241)) * 1000 }
}

export function describePlan(p: WorldPlan): string {
  const f = Object.entries(p.faults).filter(([, v]) => v === true).map(([k]) => k)
  const tabs = p.devices.map((d) => `${d.name}:${d.user}${d.tabs > 1 ? 'x2' : ''}`).join(' ')
  return `${p.backend}, ${p.relays} relay${p.relays > 1 ? 's (cluster)' : ''}, devices ${tabs}, ${Math.round(p.durationMs / 60_000)} min, ` +
    `latency ${p.network.latencyMs}+${p.network.jitterMs} ms${p.network.duplicate > 0 ? ', dup/reorder/reset' : ''}, faults: ${f.join(', ') || 'none'}`
}
