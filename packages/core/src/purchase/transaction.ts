/**
 * A multi-command transaction of one replica: several commands become one
 * event, one backend update, all or nothing. While it is open the commands
 * do not touch the CRDT document; their writes are recorded here, and the
 * commands that follow read the state those writes would produce (an
 * overlay of the document's snapshot, built only when something asks for
 * it). On success the recorded writes replay onto the document in one
 * change; on failure they are dropped and the document never saw them.
 *
 * Recording the writes, rather than re-running the commands' write
 * functions, keeps what a later command saw and what the document gets
 * identical even when a write function makes fresh ids.
 */
import type { DocSnapshot, DocWriteOp, DocWriter } from '../backends/backend.js'
import { overlaySnapshot } from '../backends/overlay.js'
import type { Priority } from '../log/envelope.js'
import type { Stamp } from './model.js'
import type { EventKind } from './event-kinds.js'
import { recordingWriter, replayWrites } from './writes.js'

const PRIORITY_RANK: Record<Priority, number> = { low: 0, normal: 1, high: 2 }

export class StagedTransaction {
  private readonly ops: DocWriteOp[] = []
  /** Text lengths after the recorded writes (only for texts they touched). */
  private readonly textLengths = new Map<string, number>()
  /** The overlay built so far, and how many ops it includes. */
  private staged: DocSnapshot
  private stagedOps = 0
  /** Kinds of the commands, in order; the event's kind derives from them. */
  readonly kinds: EventKind[] = []
  /** Whether any command asked for the invariant check / the document clock. */
  check = false
  causal = false
  priority: Priority = 'low'

  constructor(
    /** The document as it was when the transaction opened. */
    readonly base: DocSnapshot,
    /** Length of a text in the document (the backend's fast path when it has one). */
    private readonly baseTextLength: (key: string) => number,
    /** The one stamp every command of the transaction writes with. */
    readonly stamp: Stamp,
    readonly seq: number,
  ) {
    this.staged = base
  }

  /** A writer that records (see recordingWriter), keeping the texts' lengths for commands that read them. */
  readonly writer: DocWriter = ((rec: DocWriter): DocWriter => ({
    ...rec,
    insertText: (key, index, text) => {
      this.textLengths.set(key, this.textLength(key) + text.length)
      rec.insertText(key, index, text)
    },
    deleteText: (key, index, length) => {
      this.textLengths.set(key, this.textLength(key) - length)
      rec.deleteText(key, index, length)
    },
  }))(recordingWriter(this.ops))

  /** Records one command: its writes, and what its event needs. */
  add(kind: EventKind, priority: Priority, write: (w: DocWriter) => void, opts: { readonly check: boolean; readonly causal: boolean }): void {
    const mark = this.ops.length
    const lengths = new Map(this.textLengths)
    try {
      write(this.writer)
    } catch (e) {
      // A command that fails half-way leaves no trace: the transaction may go on.
      this.ops.length = mark
      this.textLengths.clear()
      for (const [k, v] of lengths) this.textLengths.set(k, v)
      // An overlay built from some of the dropped writes is rebuilt on the next read.
      if (this.stagedOps > mark) {
        this.staged = this.base
        this.stagedOps = 0
      }
      throw e
    }
    this.kinds.push(kind)
    if (PRIORITY_RANK[priority] > PRIORITY_RANK[this.priority]) this.priority = priority
    this.check ||= opts.check
    this.causal ||= opts.causal
  }

  get empty(): boolean {
    return this.kinds.length === 0
  }

  textLength(key: string): number {
    return this.textLengths.get(key) ?? this.baseTextLength(key)
  }

  /** The state the recorded writes produce (built incrementally, on demand). */
  snapshot(): DocSnapshot {
    if (this.stagedOps < this.ops.length) {
      const from = this.stagedOps
      this.staged = overlaySnapshot(this.staged, (w) => replayWrites(w, this.ops, from))
      this.stagedOps = this.ops.length
    }
    return this.staged
  }

  /** Replays every recorded write onto a writer (the document's, or an overlay's). */
  replay(w: DocWriter): void {
    replayWrites(w, this.ops)
  }
}
