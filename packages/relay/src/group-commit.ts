/**
 * Group commit: everything submitted during one turn of the event loop,
 * across connections and documents, goes to the store as ONE append (one
 * transaction, one fsync with --durability power). Only once it resolves are
 * the callbacks run, synchronously and in submission order, and then
 * `afterGroup`: so acks, replica updates and broadcasts of one group happen
 * together and never before the events are durable.
 *
 * Appends are strictly sequential: while one is in flight, new submissions
 * gather into the next group. That keeps per-document order equal to
 * submission order, and under load makes groups larger exactly when
 * batching pays.
 */
import { relayRuntime } from './runtime.js'
import type { AppendRequest, AppendResult, EventStore } from './store/types.js'

export interface CommitCallbacks {
  /** The store's answer for this request (per-event outcomes inside). */
  readonly done: (result: AppendResult) => void
  /** The append as a whole failed (disk, connection): nothing of the group is stored. */
  readonly failed: (error: unknown) => void
}

interface Item extends CommitCallbacks {
  readonly request: AppendRequest
}

export interface GroupCommitterOptions {
  /** Runs after every callback of a group (success or failure): the fan-out flushes here. */
  readonly afterGroup?: () => void
  readonly onGroup?: (events: number) => void
  /** A callback threw (a relay bug): logged, and the group's other callbacks still run. */
  readonly onError?: (error: unknown) => void
  /**
   * Runs f once this turn's socket messages are handled; by default
   * setImmediate, which runs after the poll phase, when every message read
   * in this turn has been handled (and submitted).
   */
  readonly schedule?: (f: () => void) => void
}

export class GroupCommitter {
  private queue: Item[] = []
  private scheduled = false
  private inFlight: Promise<void> | undefined
  private readonly idleWaiters: (() => void)[] = []

  constructor(
    private readonly store: EventStore,
    private readonly options: GroupCommitterOptions = {},
  ) {}

  /** Queues a request for the current turn's group. */
  submit(request: AppendRequest, callbacks: CommitCallbacks): void {
    this.queue.push({ request, ...callbacks })
    this.schedule()
  }

  /**
   * Makes sure an afterGroup runs soon even if nothing is submitted (a push
   * whose every event was refused still has its rejects to flush).
   */
  kick(): void {
    this.schedule()
  }

  /** Resolves once nothing is queued or in flight (graceful shutdown). */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === undefined && !this.scheduled) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  get pending(): number {
    return this.queue.length
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight !== undefined) return
    this.scheduled = true
    const schedule = this.options.schedule ?? relayRuntime.setImmediate
    schedule(() => {
      this.scheduled = false
      this.flush()
    })
  }

  private flush(): void {
    const group = this.queue
    this.queue = []
    if (group.length === 0) {
      this.guard(() => this.options.afterGroup?.())
      this.notifyIdle()
      return
    }
    const count = group.reduce((n, i) => n + i.request.events.length, 0)
    this.options.onGroup?.(count)
    this.inFlight = this.store.append(group.map((i) => i.request)).then(
      (results) => {
        this.inFlight = undefined
        group.forEach((item, i) => this.guard(() => item.done(results[i] as AppendResult)))
        this.guard(() => this.options.afterGroup?.())
        this.next()
      },
      (error: unknown) => {
        this.inFlight = undefined
        for (const item of group) this.guard(() => item.failed(error))
        this.guard(() => this.options.afterGroup?.())
        this.next()
      },
    )
  }

  private next(): void {
    if (this.queue.length > 0) this.schedule()
    else this.notifyIdle()
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.inFlight !== undefined || this.scheduled) return
    for (const w of this.idleWaiters.splice(0)) w()
  }

  // A throwing callback must not stop the others of its group (their events are stored).
  private guard(f: () => void): void {
    try {
      f()
    } catch (e) {
      this.options.onError?.(e)
    }
  }
}
