/**
 * The measurement templates of B1..B4, run inside a child process started
 * with --expose-gc (so memory figures mean something). Each template checks
 * the content it produced against the reference, on the editing replica, on
 * every replica that applied the updates remotely and on the reloaded one.
 */
import { isDeepStrictEqual } from 'node:util'
import type { CrdtFactory, CrdtReplica } from './adapter.js'
import { SQRT_N_CLIENTS, type CaseDef, type TextOp } from './cases.js'
import { replayTrace, type EditingTrace } from './trace.js'
import type { Check } from '../types.js'

export interface MeasureOptions {
  readonly reps: number
  /** B3: how many clients (20 x floor(sqrt(N)) = 1540 unless cut for quick mode). */
  readonly clients?: number
  /** Time budget for one-at-a-time remote apply; past it the rest is applied batched, unmeasured. */
  readonly applyOneBudgetMs: number
}

export interface CaseResult {
  /** One record per repetition. */
  readonly reps: Array<Record<string, number>>
  readonly checks: Check[]
  readonly notes: string[]
  /** B4 only: cumulative edit time as the trace grows, [ops, ms]. */
  readonly growth?: Array<[number, number]>
}

const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => {})

function heapUsed(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

function timed<T>(fn: () => T): [T, number] {
  const t0 = performance.now()
  const out = fn()
  return [out, performance.now() - t0]
}

/** Wall and CPU milliseconds: on a shared machine the CPU figure is the one that holds. */
function timedCpu<T>(fn: () => T): [T, number, number] {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const out = fn()
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(c0)
  return [out, wall, (cpu.user + cpu.system) / 1000]
}

class Checker {
  readonly checks: Check[] = []
  private failedNames = new Set<string>()
  /** Records only the first failure of a name and one success per name, to keep the record short. */
  expect(name: string, ok: boolean, detail: () => string): void {
    if (!ok) {
      if (!this.failedNames.has(name)) this.checks.push({ name, ok, detail: detail() })
      this.failedNames.add(name)
      return
    }
    if (!this.checks.some((c) => c.name === name)) this.checks.push({ name, ok, detail: 'ok' })
  }
}

function describeText(actual: string, expected: string): string {
  if (actual === expected) return 'equal'
  let i = 0
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++
  return `differs at ${i}: length ${actual.length} vs expected ${expected.length}`
}

/**
 * Applies updates one at a time within a time budget, then the rest batched.
 * Returns microseconds per update over the measured part and how many that was.
 */
function applyOneAtATime(r: CrdtReplica, updates: readonly Uint8Array[], budgetMs: number): { usPerUpdate: number; count: number } {
  const t0 = performance.now()
  let i = 0
  let elapsed = 0
  while (i < updates.length) {
    r.applyUpdate(updates[i]!)
    i++
    // Reading the clock every update costs ~50 ns: noise next to any CRDT apply.
    elapsed = performance.now() - t0
    if (elapsed > budgetMs) break
  }
  if (i < updates.length) r.applyUpdates(updates.slice(i))
  return { usPerUpdate: (elapsed * 1000) / Math.max(1, i), count: i }
}

function applyEdit(r: CrdtReplica, op: TextOp): void {
  if ('insert' in op) r.insertText(op.index, op.insert)
  else r.deleteText(op.index, op.deleteCount)
}

/** Content check shared by all replicas of a case. */
function contentOf(def: CaseDef, r: CrdtReplica): unknown {
  return def.needs === 'text' ? r.getText() : def.needs === 'array' ? r.getArray() : r.getMap()
}

function expectSame(check: Checker, name: string, actual: unknown, expected: unknown): void {
  if (typeof actual === 'string' && typeof expected === 'string') {
    check.expect(name, actual === expected, () => describeText(actual, expected))
  } else {
    check.expect(name, isDeepStrictEqual(actual, expected), () => `not equal (${JSON.stringify(actual).slice(0, 80)}...)`)
  }
}

/** Loads the encoded state in a clean heap: parse time and memory held by the loaded document. */
function measureLoad(f: CrdtFactory, state: Uint8Array): { replica: CrdtReplica; parseMs: number; memBytes: number } {
  const before = heapUsed()
  const [replica, parseMs] = timed(() => f.load(state))
  const memBytes = heapUsed() - before
  return { replica, parseMs, memBytes }
}

export function runB1(f: CrdtFactory, def: CaseDef, opts: MeasureOptions): CaseResult {
  const check = new Checker()
  const reps: Array<Record<string, number>> = []
  const input = def.input
  // Every input is one step of the original benchmark (avgUpdateSize divides by their count).
  let steps: Array<(r: CrdtReplica) => void>
  let expected: unknown
  if (input.kind === 'text-ops') {
    steps = input.ops.map((op) => (r: CrdtReplica) => applyEdit(r, op))
    expected = input.expected
  } else if (input.kind === 'insert-delete') {
    steps = [(r) => { r.insertText(0, input.text); r.deleteText(0, input.text.length) }]
    expected = ''
  } else if (input.kind === 'array-ops') {
    steps = input.ops.map((op) => (r: CrdtReplica) => r.insertArray(op.index, op.values))
    expected = input.expected
  } else {
    throw new Error(`${def.id}: not a B1 input`)
  }
  for (let rep = 0; rep < opts.reps; rep++) {
    let state: Uint8Array
    const m: Record<string, number> = {}
    {
      const updates: Uint8Array[] = []
      const doc1 = f.create((u) => updates.push(u))
      const [, timeMs, cpuMs] = timedCpu(() => {
        for (const step of steps) step(doc1)
      })
      m.timeMs = timeMs
      m.timeCpuMs = cpuMs
      expectSame(check, 'local content equals the reference', contentOf(def, doc1), expected)
      m.updates = updates.length
      m.avgUpdateBytes = Math.round(updates.reduce((a, u) => a + u.length, 0) / steps.length)

      const doc2 = f.create()
      const one = applyOneAtATime(doc2, updates, opts.applyOneBudgetMs)
      m.applyOneUs = one.usPerUpdate
      m.applyOneCount = one.count
      expectSame(check, 'remote replica (one at a time) equals the reference', contentOf(def, doc2), expected)
      doc2.destroy()

      const doc3 = f.create()
      const [, batchMs] = timed(() => doc3.applyUpdates(updates))
      m.applyBatchUs = (batchMs * 1000) / Math.max(1, updates.length)
      expectSame(check, 'remote replica (batched) equals the reference', contentOf(def, doc3), expected)
      doc3.destroy()

      const [encoded, encodeMs] = timed(() => doc1.encodeState())
      state = encoded
      m.encodeMs = encodeMs
      m.docBytes = encoded.length
      doc1.destroy()
    }
    const loaded = measureLoad(f, state)
    m.parseMs = loaded.parseMs
    m.memBytes = loaded.memBytes
    expectSame(check, 'reloaded document equals the reference', contentOf(def, loaded.replica), expected)
    loaded.replica.destroy()
    reps.push(m)
  }
  return { reps, checks: check.checks, notes: [] }
}

export function runB2(f: CrdtFactory, def: CaseDef, opts: MeasureOptions): CaseResult {
  const input = def.input
  if (input.kind !== 'concurrent-text') throw new Error(`${def.id}: not a B2 input`)
  const check = new Checker()
  const reps: Array<Record<string, number>> = []
  for (let rep = 0; rep < opts.reps; rep++) {
    const m: Record<string, number> = {}
    let state: Uint8Array
    let merged: string
    {
      let updatesSize = 0
      const all: Uint8Array[] = []
      let busy = false
      const mux = (fn: () => void): void => {
        if (busy) return
        busy = true
        try { fn() } finally { busy = false }
      }
      const doc2Ref: { r?: CrdtReplica } = {}
      const doc1 = f.create((u) => mux(() => { updatesSize += u.length; all.push(u); doc2Ref.r?.applyUpdate(u) }))
      const doc2 = f.create((u) => mux(() => { updatesSize += u.length; all.push(u); doc1.applyUpdate(u) }))
      doc2Ref.r = doc2
      doc1.insertText(0, input.initText)
      const [, timeMs, cpuMs] = timedCpu(() => {
        doc1.transact(() => { for (const op of input.ops1) applyEdit(doc1, op) })
        doc2.transact(() => { for (const op of input.ops2) applyEdit(doc2, op) })
      })
      m.timeMs = timeMs
      m.timeCpuMs = cpuMs
      merged = doc1.getText()
      check.expect('both users converge', merged === doc2.getText(), () => describeText(doc2.getText(), merged))
      if (input.expectedLength !== undefined) {
        check.expect('merged length is as stated', merged.length === input.expectedLength, () => `${merged.length} vs ${input.expectedLength}`)
      }
      m.updates = all.length
      m.updateBytes = Math.round(updatesSize / 2)

      const doc3 = f.create()
      const one = applyOneAtATime(doc3, all, opts.applyOneBudgetMs)
      m.applyOneUs = one.usPerUpdate
      m.applyOneCount = one.count
      expectSame(check, 'third replica (one at a time) converges', doc3.getText(), merged)
      doc3.destroy()
      const doc4 = f.create()
      const [, batchMs] = timed(() => doc4.applyUpdates(all))
      m.applyBatchUs = (batchMs * 1000) / Math.max(1, all.length)
      expectSame(check, 'third replica (batched) converges', doc4.getText(), merged)
      doc4.destroy()

      const [encoded, encodeMs] = timed(() => doc1.encodeState())
      state = encoded
      m.encodeMs = encodeMs
      m.docBytes = encoded.length
      doc1.destroy()
      doc2.destroy()
    }
    const loaded = measureLoad(f, state)
    m.parseMs = loaded.parseMs
    m.memBytes = loaded.memBytes
    expectSame(check, 'reloaded document equals the merge', loaded.replica.getText(), merged)
    loaded.replica.destroy()
    reps.push(m)
  }
  return { reps, checks: check.checks, notes: [] }
}

export function runB3(f: CrdtFactory, def: CaseDef, opts: MeasureOptions): CaseResult {
  const input = def.input
  if (input.kind !== 'map-clients' && input.kind !== 'array-clients') throw new Error(`${def.id}: not a B3 input`)
  const check = new Checker()
  const reps: Array<Record<string, number>> = []
  const clients = opts.clients ?? SQRT_N_CLIENTS
  for (let rep = 0; rep < opts.reps; rep++) {
    const m: Record<string, number> = { clients }
    let state: Uint8Array
    let reference: unknown
    {
      const updates: Uint8Array[] = []
      let busy = false
      const mux = (fn: () => void): void => {
        if (busy) return
        busy = true
        try { fn() } finally { busy = false }
      }
      const docs: CrdtReplica[] = []
      for (let i = 0; i < clients; i++) docs.push(f.create((u) => mux(() => updates.push(u))))
      for (let i = 0; i < docs.length; i++) {
        if (input.kind === 'map-clients') docs[i]!.setMap('v', input.value(i))
        else docs[i]!.insertArray(0, [input.value(i)])
      }
      check.expect('every client produced an update', updates.length >= clients, () => `${updates.length} updates`)
      const doc0 = docs[0]!
      const doc1 = docs[1]!
      mux(() => doc0.applyUpdates(updates))
      const [, timeMs, cpuMs] = timedCpu(() => mux(() => doc1.applyUpdates(updates)))
      m.timeMs = timeMs
      m.timeCpuMs = cpuMs
      reference = contentOf(def, doc0)
      expectSame(check, 'two clients that applied every update agree', contentOf(def, doc1), reference)
      if (input.kind === 'array-clients') {
        const arr = reference as unknown[]
        check.expect('the array holds every client\'s item', arr.length === clients, () => `${arr.length} items`)
      } else {
        const v = (reference as Record<string, unknown>).v
        let found = false
        for (let i = 0; i < clients && !found; i++) found = isDeepStrictEqual(v, input.value(i))
        check.expect('the map holds one of the written values', found, () => `v = ${JSON.stringify(v)?.slice(0, 60)}`)
      }
      m.updates = updates.length
      m.updateBytes = updates.reduce((a, u) => a + u.length, 0)

      const fresh = f.create()
      const one = applyOneAtATime(fresh, updates, opts.applyOneBudgetMs)
      m.applyOneUs = one.usPerUpdate
      m.applyOneCount = one.count
      expectSame(check, 'a fresh replica (one at a time) agrees', contentOf(def, fresh), reference)
      fresh.destroy()
      m.applyBatchUs = (timeMs * 1000) / Math.max(1, updates.length)

      const [encoded, encodeMs] = timed(() => doc0.encodeState())
      state = encoded
      m.encodeMs = encodeMs
      m.docBytes = encoded.length
      for (const d of docs) d.destroy()
    }
    const loaded = measureLoad(f, state)
    m.parseMs = loaded.parseMs
    m.memBytes = loaded.memBytes
    expectSame(check, 'reloaded document agrees', contentOf(def, loaded.replica), reference)
    loaded.replica.destroy()
    reps.push(m)
  }
  return { reps, checks: check.checks, notes: [] }
}

export interface B4Options extends MeasureOptions {
  /** How many transactions of the trace the edit pass replays (all of them unless capped). */
  readonly txnLimit: number
  /** How many transactions the update-stream pass replays. */
  readonly streamTxnLimit: number
}

function replayInto(r: CrdtReplica, trace: EditingTrace, txnCount: number, onTxn?: (txn: number) => void): void {
  let p = 0
  for (let t = 0; t < txnCount; t++) {
    const end = trace.txnEnds[t]!
    if (end - p === 1) {
      const [pos, del, ins] = trace.patches[p]!
      if (del > 0) r.deleteText(pos, del)
      if (ins !== '') r.insertText(pos, ins)
    } else {
      r.transact(() => {
        for (let i = p; i < end; i++) {
          const [pos, del, ins] = trace.patches[i]!
          if (del > 0) r.deleteText(pos, del)
          if (ins !== '') r.insertText(pos, ins)
        }
      })
    }
    p = end
    onTxn?.(t + 1)
  }
}

export function runB4(f: CrdtFactory, trace: EditingTrace, opts: B4Options): CaseResult {
  const check = new Checker()
  const reps: Array<Record<string, number>> = []
  const notes: string[] = []
  const total = trace.txnEnds.length
  const txns = Math.min(opts.txnLimit, total)
  const expected = txns === total ? trace.endContent : replayTrace(trace, txns)
  if (txns < total) notes.push(`${f.id}: B4 edit pass replays the first ${txns.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} transactions`)
  let growth: Array<[number, number]> = []
  const streamTxns = Math.min(opts.streamTxnLimit, txns)
  const streamExpected = streamTxns === total ? trace.endContent : replayTrace(trace, streamTxns)
  for (let rep = 0; rep < opts.reps; rep++) {
    const m: Record<string, number> = { txns, txnsTotal: total }
    let state: Uint8Array
    {
      // Every transaction's update is captured (counted, then dropped, as
      // crdt-benchmarks drops them): a replication engine has to produce it,
      // and Concord cannot edit without producing its event.
      let captured = 0
      const doc = f.create((u) => {
        captured += u.length
      })
      if (trace.startContent !== '') doc.insertText(0, trace.startContent)
      const curve: Array<[number, number]> = [[0, 0]]
      const every = Math.max(1, Math.floor(txns / 50))
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      replayInto(doc, trace, txns, (n) => {
        if (n % every === 0 || n === txns) curve.push([n, performance.now() - t0])
      })
      m.timeMs = performance.now() - t0
      const cpu = process.cpuUsage(c0)
      m.timeCpuMs = (cpu.user + cpu.system) / 1000
      check.expect('the edit pass captured updates', captured > 0, () => 'no update bytes')
      if (rep === 0) growth = curve
      const text = doc.getText()
      check.expect('end content equals the trace (endContent)', text === expected, () => describeText(text, expected))
      const [encoded, encodeMs] = timed(() => doc.encodeState())
      state = encoded
      m.encodeMs = encodeMs
      m.docBytes = encoded.length
      doc.destroy()
    }
    const loaded = measureLoad(f, state)
    m.parseMs = loaded.parseMs
    m.memBytes = loaded.memBytes
    expectSame(check, 'reloaded document equals the trace', loaded.replica.getText(), expected)
    loaded.replica.destroy()

    // The update stream (bytes per update, remote apply) once: it is the slow part.
    if (rep === 0 && streamTxns > 0) {
      const updates: Uint8Array[] = []
      const doc = f.create((u) => updates.push(u))
      if (trace.startContent !== '') doc.insertText(0, trace.startContent)
      replayInto(doc, trace, streamTxns)
      check.expect('update-stream replica equals the trace prefix', doc.getText() === streamExpected, () => describeText(doc.getText(), streamExpected))
      doc.destroy()
      m.streamTxns = streamTxns
      m.updates = updates.length
      m.avgUpdateBytes = updates.reduce((a, u) => a + u.length, 0) / Math.max(1, updates.length)
      const one = f.create()
      const r1 = applyOneAtATime(one, updates, opts.applyOneBudgetMs)
      m.applyOneUs = r1.usPerUpdate
      m.applyOneCount = r1.count
      expectSame(check, 'remote replica (one at a time) equals the trace prefix', one.getText(), streamExpected)
      one.destroy()
      const batch = f.create()
      const [, batchMs] = timed(() => batch.applyUpdates(updates))
      m.applyBatchUs = (batchMs * 1000) / Math.max(1, updates.length)
      expectSame(check, 'remote replica (batched) equals the trace prefix', batch.getText(), streamExpected)
      batch.destroy()
      if (streamTxns < total) notes.push(`${f.id}: B4 update stream covers the first ${streamTxns.toLocaleString('en-US')} transactions`)
    }
    reps.push(m)
  }
  return { reps, checks: check.checks, notes, growth }
}

/**
 * The v2 document size raw Yjs reaches on a whole case, without measuring
 * anything else: quick mode runs the tables on cut-down inputs, and still
 * checks the crdt-benchmarks sanity sizes on the full ones with this.
 */
export function yjsDocSize(f: CrdtFactory, def: CaseDef): number {
  const r = f.create()
  const input = def.input
  if (input.kind === 'text-ops') for (const op of input.ops) applyEdit(r, op)
  else if (input.kind === 'insert-delete') { r.insertText(0, input.text); r.deleteText(0, input.text.length) }
  else if (input.kind === 'array-ops') for (const op of input.ops) r.insertArray(op.index, op.values)
  else throw new Error(`${def.id}: no single-replica size`)
  const size = r.encodeState().length
  r.destroy()
  return size
}

export function yjsTraceSize(f: CrdtFactory, trace: EditingTrace): { size: number; ok: boolean } {
  const r = f.create()
  if (trace.startContent !== '') r.insertText(0, trace.startContent)
  replayInto(r, trace, trace.txnEnds.length)
  const ok = r.getText() === trace.endContent
  const size = r.encodeState().length
  r.destroy()
  return { size, ok }
}
