/** Clock, timers and randomness: injected so that a simulation runs the real code in virtual time. */
export interface Timers {
  setTimeout(f: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface Runtime extends Timers {
  /** Epoch milliseconds. */
  now(): number
  /** Runs f on a later turn of the event loop, after this turn's I/O (setImmediate in Node). */
  setImmediate(f: () => void): void
  /** Uniform in [0, 1). */
  random(): number
}

type TimerHandle = Parameters<typeof clearTimeout>[0]

/** The process's own clock, timers (kept referenced) and Math.random. */
export const systemRuntime: Runtime = {
  now: () => Date.now(),
  setTimeout: (f, ms) => setTimeout(f, ms),
  clearTimeout: (handle) => clearTimeout(handle as TimerHandle),
  // Browsers have no setImmediate (core also runs in the web app): a zero timeout is their next turn.
  setImmediate: typeof setImmediate === 'function'
    ? (f) => {
        setImmediate(f)
      }
    : (f) => {
        setTimeout(f, 0)
      },
  random: () => Math.random(),
}
