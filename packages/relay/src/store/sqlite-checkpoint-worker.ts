/**
 * Worker thread of the SQLite store's WAL checkpointer (sqlite-checkpointer.ts):
 * its own connection to the store's file, running a PASSIVE checkpoint when
 * the store asks. A checkpoint copies the WAL into the database file and
 * fsyncs both; here it blocks this thread, never the relay's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'

export interface CheckpointWorkerData {
  readonly path: string
  /** 'FULL' when the store runs with durability power, else 'NORMAL' (a checkpoint fsyncs either way). */
  readonly synchronous: 'NORMAL' | 'FULL'
}

/** What the worker reports to the store. */
export type CheckpointReport =
  | { readonly t: 'checkpoint'; readonly walFrames: number; readonly checkpointed: number; readonly busy: boolean; readonly ms: number }
  | { readonly t: 'error'; readonly message: string }
  | { readonly t: 'stopped' }

const port = parentPort
if (port === null) throw new Error('sqlite-checkpoint-worker runs as a worker thread')
const { path, synchronous } = workerData as CheckpointWorkerData
const report = (r: CheckpointReport) => port.postMessage(r)

let db: Database.Database | undefined
try {
  db = new Database(path, { fileMustExist: true })
  // A writer holds its lock for well under a millisecond; wait rather than skip a round.
  db.pragma('busy_timeout = 1000')
  db.pragma(`synchronous = ${synchronous}`)
} catch (e) {
  report({ t: 'error', message: `cannot open ${path}: ${(e as Error).message}` })
}

function checkpoint(): void {
  if (db === undefined) return
  const start = performance.now()
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[]
    if (row !== undefined) {
      report({ t: 'checkpoint', walFrames: row.log, checkpointed: row.checkpointed, busy: row.busy !== 0, ms: performance.now() - start })
    }
  } catch (e) {
    report({ t: 'error', message: (e as Error).message })
  }
}

port.on('message', (m: unknown) => {
  if (m === 'now') checkpoint()
  if (m !== 'stop') return
  db?.close()
  report({ t: 'stopped' })
  port.close()
})
