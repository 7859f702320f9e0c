import { type Runtime, systemRuntime } from '@concord/core'

/**
 * The relay's default runtime: the system's clock, randomness and
 * setImmediate, with every timer unref()ed so that a process embedding a
 * relay (tests, benchmarks) can exit while it is open.
 */
export const relayRuntime: Runtime = {
  ...systemRuntime,
  setTimeout: (f, ms) => setTimeout(f, ms).unref(),
}
