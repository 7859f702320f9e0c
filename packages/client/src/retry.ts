/**
 * Backoff and circuit breaker, from cockatiel rather than hand-written:
 * its ExponentialBackoff with a full-jitter generator (delay drawn uniformly
 * from [0, min(max, initial * 2^attempt)), the AWS "full jitter" scheme) fed
 * by the injected random source, so a seeded test replays the same delays;
 * and its CircuitBreakerPolicy with a ConsecutiveBreaker, which opens after N
 * failed attempts in a row, lets one trial through after halfOpenAfter
 * (half-open), and closes again when that trial succeeds.
 *
 * cockatiel's breaker reads Date.now() for the open period; everything else
 * (delays, their timers, timestamps) goes through injected clocks.
 */
import {
  CircuitBreakerPolicy, CircuitState, ConsecutiveBreaker, ExponentialBackoff, type GeneratorFn, type IBackoff,
  circuitBreaker, handleWhen,
} from 'cockatiel'
import type { BreakerState, RetryOptions } from './types.js'

/** Full jitter: uniform in [0, ceiling), the ceiling growing exponentially up to maxDelay. */
export function fullJitter(random: () => number): GeneratorFn<number> {
  return (attempt = 0, o) => {
    const ceiling = Math.min(o.maxDelay, o.initialDelay * Math.pow(o.exponent, attempt))
    return [Math.floor(random() * ceiling), attempt + 1]
  }
}

/** The ceiling the n-th delay (0-based) is drawn under, for explanations and tests. */
export function backoffCeiling(o: Required<RetryOptions>, attempt: number): number {
  return Math.min(o.maxDelayMs, o.initialDelayMs * Math.pow(2, attempt))
}

export const DEFAULT_RETRY: Required<RetryOptions> = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  breakerThreshold: 5,
  halfOpenAfterMs: 30_000,
}

export class RetryState {
  private readonly factory: ExponentialBackoff<number>
  private current: IBackoff<unknown> | undefined
  readonly breaker: CircuitBreakerPolicy
  /** Date.now() when the breaker last opened (cockatiel measures from it). */
  private openedAt = 0
  readonly options: Required<RetryOptions>

  constructor(options: RetryOptions | undefined, random: () => number, isFatal: (e: unknown) => boolean) {
    this.options = { ...DEFAULT_RETRY, ...options }
    this.factory = new ExponentialBackoff({
      generator: fullJitter(random),
      initialDelay: this.options.initialDelayMs,
      maxDelay: this.options.maxDelayMs,
      exponent: 2,
    })
    // Fatal errors are not failures of the link: they must not trip the breaker.
    this.breaker = circuitBreaker(handleWhen((e) => !isFatal(e)), {
      halfOpenAfter: this.options.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(this.options.breakerThreshold),
    })
    this.breaker.onBreak(() => {
      this.openedAt = Date.now()
    })
  }

  /** The next delay after a failure. */
  nextDelay(): number {
    this.current = this.current === undefined ? this.factory.next() : this.current.next(undefined)
    return this.current.duration
  }

  /** After a successful handshake the backoff starts over. */
  reset(): void {
    this.current = undefined
  }

  get breakerState(): BreakerState {
    switch (this.breaker.state) {
      case CircuitState.Open:
      case CircuitState.Isolated:
        return 'open'
      case CircuitState.HalfOpen:
        return 'half-open'
      default:
        return 'closed'
    }
  }

  /** Milliseconds until an open breaker lets a trial through (0 when not open). */
  untilHalfOpen(): number {
    if (this.breakerState !== 'open') return 0
    return Math.max(0, this.options.halfOpenAfterMs - (Date.now() - this.openedAt))
  }
}
