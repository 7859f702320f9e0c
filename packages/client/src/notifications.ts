/**
 * A rate-limited notification stream: each type is delivered at most once per
 * interval; the ones in between are counted and reported as `suppressed` on
 * the next one delivered, so a flapping link makes one banner, not fifty.
 * Conflict notifications are limited per document, not globally.
 */
import type { Notification } from './types.js'

type Draft = Notification extends infer N ? (N extends Notification ? Omit<N, 'suppressed' | 'at'> : never) : never

export class Notifier {
  private readonly listeners = new Set<(n: Notification) => void>()
  private readonly lastAt = new Map<string, number>()
  private readonly suppressed = new Map<string, number>()

  constructor(
    private readonly now: () => number,
    private readonly iso: (ms: number) => string,
    private readonly intervalMs: number,
  ) {}

  on(cb: (n: Notification) => void): () => void {
    this.listeners.add(cb)
    return () => this.listeners.delete(cb)
  }

  emit(draft: Draft): void {
    const key = 'docId' in draft ? `${draft.type}:${draft.docId}` : draft.type
    const t = this.now()
    const last = this.lastAt.get(key)
    if (last !== undefined && t - last < this.intervalMs) {
      this.suppressed.set(key, (this.suppressed.get(key) ?? 0) + 1)
      return
    }
    this.lastAt.set(key, t)
    const n = { ...draft, at: this.iso(t), suppressed: this.suppressed.get(key) ?? 0 } as Notification
    this.suppressed.delete(key)
    for (const l of [...this.listeners]) {
      try {
        l(n)
      } catch {
        // a listener's failure is its own
      }
    }
  }
}
