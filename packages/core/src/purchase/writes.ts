/**
 * A command's writes, recorded once as DocWriteOps and replayed wherever they
 * are needed (the size check, the write check, the invariant overlay, the
 * document): the command's write function, which may derive totals, runs
 * once.
 */
import type { DocWriteOp, DocWriter } from '../backends/backend.js'

/** A writer that appends every write to `ops` and validates nothing the document writer would not. */
export function recordingWriter(ops: DocWriteOp[]): DocWriter {
  return {
    init: (key, value) => { ops.push({ k: 'init', key, value }) },
    setRegister: (key, entry) => { ops.push({ k: 'reg', key, entry }) },
    addRecord: (set, id, record) => { ops.push({ k: 'rec', set, id, record }) },
    insertText: (key, index, text) => { ops.push({ k: 'ins', key, index, text }) },
    deleteText: (key, index, length) => { ops.push({ k: 'del', key, index, length }) },
    tickClock: (replica, seq) => { ops.push({ k: 'tick', replica, seq }) },
  }
}

/** Runs `write` against a writer that only records; `write` must not depend on what it reads back (writers read nothing). */
export function recordWrites(write: (w: DocWriter) => void): DocWriteOp[] {
  const ops: DocWriteOp[] = []
  write(recordingWriter(ops))
  return ops
}

/** Replays recorded writes (from index `from`) onto a writer: the document's, or an overlay's. */
export function replayWrites(w: DocWriter, ops: readonly DocWriteOp[], from = 0): void {
  for (let i = from; i < ops.length; i++) {
    const o = ops[i]!
    switch (o.k) {
      case 'init': w.init(o.key, o.value); break
      case 'reg': w.setRegister(o.key, o.entry); break
      case 'rec': w.addRecord(o.set, o.id, o.record); break
      case 'ins': w.insertText(o.key, o.index, o.text); break
      case 'del': w.deleteText(o.key, o.index, o.length); break
      case 'tick': w.tickClock(o.replica, o.seq); break
    }
  }
}
