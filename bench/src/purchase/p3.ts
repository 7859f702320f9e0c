/**
 * [P3] Cold load of a purchase with many events: a full replay of every
 * event against a snapshot plus the events after it. Beside Concord's load,
 * the CRDT library's own load of the same snapshot bytes and tail updates
 * (Y.applyUpdate, A.load + A.loadIncremental): the floor under Concord, since
 * a snapshot is the library's document and its load is most of the work.
 *
 * Two edit histories, because the library's load time depends on the shape
 * of the history far more than on the number of events:
 * - typing: notes typed one character per event at a cursor that mostly
 *   stays where it is, with backspaces and occasional jumps (what editing
 *   traces look like), plus line edits;
 * - churn: notes rewritten in 40-character cuts and short inserts at random
 *   positions while the text stays near 2,000 characters, plus line edits:
 *   every edit fragments the text, the worst case for a sequence CRDT.
 */
import * as A from '@automerge/automerge'
import * as Y from 'yjs'
import { type BackendName, type CrdtBackend, type EventEnvelope, type LineId, PurchaseReplica } from '@concord/core'
import { type LogSnapshot, unwrapSnapshotFormat, YJS_V2_FORMAT } from '@concord/core/internal'
import { fmtBytes, fmtInt, fmtMs, fmtRatio } from '../report/markdown.js'
import type { Check, RunOptions, ScenarioResult } from '../types.js'
import { BACKENDS, CREATE, type World, fingerprint, int, lineInput, medianOf, ms, newWorld, options, pick, randomLine } from './common.js'

const SEED = 300
const TAIL = 100
/** Timed cold loads per measure (after one untimed warm-up): loads are cheap next to writing the history. */
const LOAD_REPS = 7
const TARGET_MS = 50

type Workload = 'typing' | 'churn'
const WORKLOADS: readonly Workload[] = ['typing', 'churn']
const SNIPPETS = ['a', 'bc ', 'Call first. ', 'Deliver to dock 3. ']
const TYPED = 'Deliver to the north dock before noon; call the site manager first. '

interface History {
  readonly writer: PurchaseReplica
  readonly snapshot: LogSnapshot
  readonly tail: readonly EventEnvelope[]
  readonly events: readonly EventEnvelope[]
  readonly writeMs: number
}

/** One device writes `total` events: 90% notes edits in the workload's pattern, 10% quantity and price edits on 20 lines. */
export function writeHistory(world: World, backend: CrdtBackend, total: number, workload: Workload): History {
  const w = PurchaseReplica.create(options(world, backend, 0), CREATE)
  const lineIds: LineId[] = []
  for (let i = 0; i < 20; i++) lineIds.push(w.addLine(lineInput(randomLine(world.rng), i + 1)).lineId)
  let snapshot: LogSnapshot | undefined
  // Tracked here: reading the state per event would cost more than the edit.
  let notesLen = w.state().notes.length
  let cursor = 0
  let typed = 0
  const t0 = performance.now()
  while (w.log.events().length < total) {
    if (w.log.events().length === total - TAIL) snapshot = w.log.snapshot()
    world.time += 500
    const rng = world.rng
    if (rng() >= 0.9) {
      w.updateLine(pick(rng, lineIds), rng() < 0.5 ? { qty: String(int(rng, 1, 12)) } : { price: `${int(rng, 1, 40)}.${int(rng, 10, 99)}` })
    } else if (workload === 'typing') {
      if (rng() < 0.03) cursor = int(rng, 0, notesLen)
      if (cursor > 0 && rng() < 0.12) {
        w.editNotes(cursor - 1, 1)
        cursor--
        notesLen--
      } else {
        w.editNotes(cursor, 0, TYPED[typed++ % TYPED.length]!)
        cursor++
        notesLen++
      }
    } else if (notesLen > 2000) {
      w.editNotes(int(rng, 0, notesLen - 50), 40)
      notesLen -= 40
    } else {
      const text = pick(rng, SNIPPETS)
      w.editNotes(int(rng, 0, notesLen), 0, text)
      notesLen += text.length
    }
  }
  const writeMs = ms(t0)
  if (snapshot === undefined) throw new Error('P3: no snapshot taken')
  const events = [...w.log.events()]
  return { writer: w, snapshot, tail: events.slice(events.length - TAIL), events, writeMs }
}

/** The library alone: load the snapshot's document, apply the tail's updates, read the notes. */
export function rawLoad(backendId: BackendName, h: History): string {
  const { body, format } = unwrapSnapshotFormat(backendId, h.snapshot.doc)
  if (backendId === 'yjs') {
    const d = new Y.Doc({ gc: true })
    // Concord saves Yjs snapshots in update format v2 (format byte 2); older ones are v1.
    if (format === YJS_V2_FORMAT) Y.applyUpdateV2(d, body)
    else Y.applyUpdate(d, body)
    Y.transact(d, () => {
      for (const e of h.tail) Y.applyUpdate(d, e.payload)
    })
    // 't:notes' is the Yjs backend's name for the notes text (packages/core/src/backends/yjs.ts).
    const notes = d.getText('t:notes').toString()
    d.destroy()
    return notes
  }
  const tail = new Uint8Array(h.tail.reduce((n, e) => n + e.payload.length, 0))
  h.tail.reduce((at, e) => (tail.set(e.payload, at), at + e.payload.length), 0)
  const d = A.loadIncremental(A.load<{ texts: { notes: string } }>(body), tail)
  return d.texts.notes
}

export async function runP3(o: RunOptions): Promise<ScenarioResult> {
  const res: ScenarioResult = { measurements: [], checks: [], tables: [], plots: [], notes: [] }
  const check = (checks: Check[], name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail: ok ? 'ok' : detail })
  const total = o.quick ? 10_000 : 100_000
  const rows: string[][] = []
  for (const workload of WORKLOADS) {
    for (const { id, backend } of BACKENDS) {
      o.progress.log(`P3 ${id}, ${workload}: writing ${total.toLocaleString('en-US')} events`)
      const world = newWorld(SEED + (workload === 'typing' ? 0 : 1))
      const h = writeHistory(world, backend, total, workload)
      const expect = fingerprint(h.writer)
      const notes = h.writer.state().notes
      const samples: Record<string, number[]> = { replay: [], snapshotTail: [], raw: [] }
      // Full replays are slow at full size: o.reps of them.
      for (let rep = 0; rep < o.reps; rep++) {
        o.progress.log(`P3 ${id}, ${workload}: full replay ${rep + 1}/${o.reps}`)
        const t0 = performance.now()
        const full = PurchaseReplica.fromEvents(options(world, backend, 1), h.events)
        full.derived()
        samples.replay!.push(ms(t0))
        check(res.checks, `P3 ${id} ${workload} rep ${rep + 1}: full replay gives the writer's state`, fingerprint(full) === expect, 'fingerprints differ')
        full.log.doc.destroy?.()
      }
      o.progress.log(`P3 ${id}, ${workload}: ${LOAD_REPS} cold loads from the snapshot, Concord and the library alone, interleaved`)
      for (let rep = -1; rep < LOAD_REPS; rep++) {
        const t1 = performance.now()
        const fast = PurchaseReplica.fromSnapshot(options(world, backend, 2), h.snapshot, h.tail)
        fast.derived()
        const snapMs = ms(t1)
        const t2 = performance.now()
        const rawNotes = rawLoad(id, h)
        const rawMs = ms(t2)
        if (rep < 0) {
          // The warm-up: compiles the load paths once, and is where each answer is checked.
          check(res.checks, `P3 ${id} ${workload}: snapshot plus tail gives the writer's state`, fingerprint(fast) === expect, 'fingerprints differ')
          check(res.checks, `P3 ${id} ${workload}: the library's own load gives the writer's notes`, rawNotes === notes, `${rawNotes.length} characters, expected ${notes.length}`)
        } else {
          samples.snapshotTail!.push(snapMs)
          samples.raw!.push(rawMs)
        }
        fast.log.doc.destroy?.()
      }
      const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, medianOf(v)])) as Record<string, number>
      const snapshotBytes = h.snapshot.doc.byteLength
      res.measurements.push({
        case: 'P3', caseTitle: 'cold load of a purchase with many events', subject: `${id} ${workload}`,
        params: { events: total, tail: TAIL, workload },
        metrics: { ...m, snapshotBytes, notesChars: notes.length, writeMs: h.writeMs },
        samples,
      })
      rows.push([
        id, workload, fmtInt(total), fmtMs(h.writeMs), fmtMs(m.replay), fmtMs(m.snapshotTail), fmtMs(m.raw), fmtRatio(m.snapshotTail! / m.raw!),
        fmtBytes(snapshotBytes), m.snapshotTail! < TARGET_MS ? 'met' : `missed (${fmtMs(m.snapshotTail)})`,
      ])
      h.writer.log.doc.destroy?.()
    }
  }
  res.tables.push({
    title: `[P3] Cold load of a purchase with ${total.toLocaleString('en-US')} events`,
    header: ['backend', 'history', 'events', 'writing them', 'full replay', `snapshot + ${TAIL}-event tail`, 'library alone, same bytes', 'Concord / library', 'snapshot size', `target < ${TARGET_MS} ms`],
    rows,
    notes: [
      'One device. 90% notes edits, 10% quantity and price edits on 20 lines. typing: one character per event at a cursor that jumps 3% of the time, 12% backspaces. churn: 40-character cuts and short inserts at random positions, the text kept near 2,000 characters (every edit fragments it: the worst case for a sequence CRDT).',
      `Full replay: PurchaseReplica.fromEvents of every event (median of --reps). Snapshot + tail: fromSnapshot(snapshot taken ${TAIL} events before the end, those ${TAIL} events); library alone: Y.applyUpdateV2 of the same snapshot body and the tail updates / A.load + A.loadIncremental. Medians of ${LOAD_REPS} interleaved loads after a warm-up. Every load includes reading the state (and for Concord the derived totals) once.`,
      'Check: every Concord load gives the writer\'s fingerprint (state, totals, conflict queue, heads); the library\'s load gives the writer\'s notes.',
    ],
  })
  return res
}
