/**
 * The network monitor: whether the platform says it is online
 * (navigator.onLine and its online/offline events, where they exist), whether
 * the relay socket is up, the round-trip time from ping/pong (smoothed), and a
 * quality estimate from both. The application's policy hook sees the same
 * NetworkInfo on every change.
 */
import type { NetworkInfo, NetworkQuality } from './types.js'

interface NavigatorLike {
  onLine?: boolean
  connection?: { type?: string; effectiveType?: string; saveData?: boolean; addEventListener?: (t: string, f: () => void) => void; removeEventListener?: (t: string, f: () => void) => void }
}

export class NetworkMonitor {
  private rtt: number | null = null
  private connected = false
  private manualOffline = false
  private failures = 0
  private readonly listeners = new Set<() => void>()
  private readonly detach: (() => void)[] = []

  constructor() {
    const g = globalThis as unknown as { addEventListener?: (t: string, f: () => void) => void; removeEventListener?: (t: string, f: () => void) => void }
    const fire = () => this.changed()
    if (typeof g.addEventListener === 'function' && typeof g.removeEventListener === 'function') {
      g.addEventListener('online', fire)
      g.addEventListener('offline', fire)
      this.detach.push(() => {
        g.removeEventListener!('online', fire)
        g.removeEventListener!('offline', fire)
      })
    }
    const c = this.nav()?.connection
    if (c?.addEventListener !== undefined) {
      c.addEventListener('change', fire)
      this.detach.push(() => c.removeEventListener?.('change', fire))
    }
  }

  private nav(): NavigatorLike | undefined {
    return (globalThis as unknown as { navigator?: NavigatorLike }).navigator
  }

  /** The platform's own signal: true where there is none (Node). */
  get platformOnline(): boolean {
    return this.nav()?.onLine !== false
  }

  onChange(cb: () => void): () => void {
    this.listeners.add(cb)
    return () => this.listeners.delete(cb)
  }

  private changed(): void {
    for (const l of [...this.listeners]) l()
  }

  setManualOffline(off: boolean): void {
    if (this.manualOffline === off) return
    this.manualOffline = off
    this.changed()
  }

  get isManualOffline(): boolean {
    return this.manualOffline
  }

  setConnected(up: boolean): void {
    if (this.connected === up) return
    this.connected = up
    if (up) this.failures = 0
    this.changed()
  }

  recordFailure(): void {
    this.failures += 1
  }

  /** Exponentially weighted: one slow pong moves the estimate a quarter of the way. */
  recordRtt(ms: number): void {
    this.rtt = this.rtt === null ? ms : Math.round(this.rtt * 0.75 + ms * 0.25)
    this.changed()
  }

  info(): NetworkInfo {
    const online = this.platformOnline && !this.manualOffline
    const c = this.nav()?.connection
    let quality: NetworkQuality
    if (!online) quality = 'offline'
    else if (this.failures >= 3) quality = 'poor'
    else if (this.rtt === null) quality = this.connected ? 'fair' : 'unknown'
    else if (this.rtt < 150) quality = 'good'
    else if (this.rtt < 600) quality = 'fair'
    else quality = 'poor'
    return {
      online,
      connected: this.connected,
      rttMs: this.rtt,
      quality,
      type: c?.type ?? c?.effectiveType ?? null,
      saveData: c?.saveData === true,
    }
  }

  dispose(): void {
    for (const d of this.detach) d()
    this.listeners.clear()
  }
}
