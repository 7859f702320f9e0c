/**
 * Takes SQLite's WAL checkpoints off the relay's event loop.
 *
 * By default the connection that commits runs a checkpoint whenever the WAL
 * passes 1000 pages: it copies the WAL into the database file and fsyncs
 * both, inside that commit, for 5 to 20 ms on this kind of machine. Every
 * event waiting behind that commit waits too; in the relay benchmark these
 * stalls were most of the p99 latency. Here a worker thread with a second
 * connection checkpoints each time about `everyBytes` were committed (as
 * often as SQLite would), and the store's own connection only checkpoints as
 * a backstop (a WAL of `backstopPages`, reached only when writes never pause
 * long enough for a passive checkpoint to finish).
 *
 * Not on a timer: every checkpoint fsyncs, and this checkpoints no more
 * often than SQLite itself would.
 *
 * Should the worker fail, the store's connection goes back to SQLite's
 * default checkpointing: slower commits, never an unbounded WAL.
 */
import { Worker } from 'node:worker_threads'
import type Database from 'better-sqlite3'
import type { CheckpointReport, CheckpointWorkerData } from './sqlite-checkpoint-worker.js'

export interface CheckpointerOptions {
  /** Bytes committed (estimated from the events) between checkpoints. Default 4 MiB, SQLite's 1000 pages. */
  readonly everyBytes?: number
  /** WAL pages at which the committing connection checkpoints itself. Default 16384 (64 MiB of 4 KiB pages). */
  readonly backstopPages?: number
  /** Told of every checkpoint the worker ran (tests, diagnostics). */
  readonly onCheckpoint?: (r: Extract<CheckpointReport, { t: 'checkpoint' }>) => void
  /** The worker could not checkpoint; the store fell back to SQLite's own checkpoints. */
  readonly onError?: (message: string) => void
}

/** SQLite's default wal_autocheckpoint. */
const SQLITE_DEFAULT_AUTOCHECKPOINT = 1000

export class WalCheckpointer {
  private stopping: Promise<void> | undefined
  private failed = false
  private written = 0
  /** A checkpoint was asked for and has not reported yet. */
  private running = false
  /** Checkpoints asked of the worker so far (diagnostics, tests). */
  requested = 0

  private constructor(
    private readonly db: Database.Database,
    private readonly worker: Worker,
    private readonly everyBytes: number,
  ) {}

  /** Starts the worker for the store `db` (a file in WAL mode). */
  static start(db: Database.Database, path: string, synchronous: CheckpointWorkerData['synchronous'], options: CheckpointerOptions = {}): WalCheckpointer {
    db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.floor(options.backstopPages ?? 16_384))}`)
    const data: CheckpointWorkerData = { path, synchronous }
    const worker = new Worker(new URL('./sqlite-checkpoint-worker.js', import.meta.url), { workerData: data })
    // The worker must not keep a relay (or a test) alive on its own.
    worker.unref()
    const c = new WalCheckpointer(db, worker, Math.max(1, options.everyBytes ?? 4 * 1024 * 1024))
    worker.on('message', (r: CheckpointReport) => {
      if (r.t === 'checkpoint') {
        c.running = false
        options.onCheckpoint?.(r)
      } else if (r.t === 'error') c.fallBack(r.message, options)
    })
    worker.on('error', (e) => c.fallBack(e.message, options))
    worker.on('exit', (code) => {
      if (c.stopping === undefined) c.fallBack(`checkpoint worker exited (${code})`, options)
    })
    return c
  }

  /** The store committed about `bytes`: a checkpoint once enough were. */
  committed(bytes: number): void {
    this.written += bytes
    if (this.written >= this.everyBytes && !this.running) this.nudge()
  }

  /** Asks the worker for a checkpoint now. */
  nudge(): void {
    if (this.failed || this.stopping !== undefined) return
    this.written = 0
    this.running = true
    this.requested++
    this.worker.postMessage('now')
  }

  private fallBack(message: string, options: CheckpointerOptions): void {
    if (this.failed || this.stopping !== undefined) return
    this.failed = true
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${SQLITE_DEFAULT_AUTOCHECKPOINT}`)
    options.onError?.(message)
    void this.worker.terminate()
  }

  /** Stops the worker and waits for its connection to close (before the store closes its own). */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      if (this.failed) return resolve()
      this.worker.once('exit', () => resolve())
      // Unref'd while it runs; waiting for it must keep the process alive.
      this.worker.ref()
      this.worker.postMessage('stop')
    })
    return this.stopping
  }
}
