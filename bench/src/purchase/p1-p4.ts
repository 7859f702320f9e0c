/**
 * [P1]..[P4]: one purchase under the core's own API (PurchaseReplica), for
 * the Yjs and Automerge backends. Every scenario checks its result: totals
 * against an independent computation, converged fingerprints, equal loads.
 */
import { type EventEnvelope, type PurchaseReplica as Replica, PurchaseReplica, isConcordError } from '@concord/core'
import { encodeEvent } from '@concord/core/protocol'
import { fmtBytes, fmtInt, fmtMs, fmtUs } from '../report/markdown.js'
import { lineChart } from '../report/svg.js'
import type { Check, RunOptions, ScenarioResult } from '../types.js'
import {
  BACKENDS, CREATE, type PlainLine, type World, bigPurchaseEvents, conflictQueue, fingerprint, independentTotal, int, lineInput, liveLineIds, medianOf, ms,
  newWorld, options, percentile, pick, randomLine,
} from './common.js'

const SEED = 7

function result(): ScenarioResult {
  return { measurements: [], checks: [], tables: [], plots: [], notes: [] }
}

function check(checks: Check[], name: string, ok: boolean, detail: string): void {
  checks.push({ name, ok, detail: ok ? 'ok' : detail })
}

// ------------------------------------------------------------------ [P1]

export async function runP1(o: RunOptions): Promise<ScenarioResult> {
  const res = result()
  const n = o.quick ? 250 : 500
  const marks = [100, 250, 500].filter((m) => m <= n)
  const rows: string[][] = []
  const curves: Array<{ name: string; points: Array<[number, number]> }> = []
  for (const { id, backend } of BACKENDS) {
    const samples: Record<string, number[]> = { total: [], size: [], load: [], events: [] }
    for (const m of marks) samples[`perLine${m}`] = []
    let curve: Array<[number, number]> = []
    for (let rep = 0; rep < o.reps; rep++) {
      o.progress.log(`P1 ${id}: ${n} lines, rep ${rep + 1}/${o.reps}`)
      const world = newWorld(SEED + rep)
      const r = PurchaseReplica.create(options(world, backend, 0), CREATE)
      const lines: PlainLine[] = []
      const each: number[] = []
      const t0 = performance.now()
      for (let i = 0; i < n; i++) {
        const l = randomLine(world.rng)
        lines.push(l)
        world.time += 1000
        const t = performance.now()
        r.addLine(lineInput(l, i + 1))
        each.push(ms(t))
      }
      const total = ms(t0)
      const derived = r.derived().totals.total
      const expected = independentTotal(lines)
      check(res.checks, `P1 ${id} rep ${rep + 1}: derived total equals the independent computation`, derived === expected, `derived ${derived}, expected ${expected} (cents)`)
      check(res.checks, `P1 ${id} rep ${rep + 1}: ${n} live lines`, liveLineIds(r).length === n, `${liveLineIds(r).length} lines`)
      const snap = r.log.snapshot()
      const t1 = performance.now()
      const loaded = PurchaseReplica.fromSnapshot(options(world, backend, 1), snap)
      loaded.derived()
      const load = ms(t1)
      check(res.checks, `P1 ${id} rep ${rep + 1}: the saved document loads to the same state`, fingerprint(loaded) === fingerprint(r), 'fingerprints differ')
      samples.total!.push(total)
      samples.size!.push(snap.doc.byteLength)
      samples.load!.push(load)
      samples.events!.push(r.log.events().length)
      // Per-line time at a mark: median of the 11 addLine calls around it.
      for (const m of marks) samples[`perLine${m}`]!.push(medianOf(each.slice(Math.max(0, m - 6), m + 5)))
      if (rep === 0) {
        const step = Math.max(1, Math.floor(n / 50))
        curve = []
        for (let i = step; i <= n; i += step) curve.push([i, medianOf(each.slice(Math.max(0, i - step), i))])
      }
      r.log.doc.destroy?.()
      loaded.log.doc.destroy?.()
    }
    const metrics = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, medianOf(v)]))
    res.measurements.push({ case: 'P1', caseTitle: `one device builds a ${n}-line purchase`, subject: id, params: { lines: n }, metrics, samples })
    rows.push([id, fmtInt(n), fmtMs(metrics.total), ...marks.map((m) => fmtMs(metrics[`perLine${m}`])), fmtBytes(metrics.size), fmtMs(metrics.load)])
    curves.push({ name: id, points: curve })
  }
  res.tables.push({
    title: `[P1] One device builds a ${n}-line purchase (PurchaseReplica.addLine)`,
    header: ['backend', 'lines', 'total time', ...marks.map((m) => `per line at ${m}`), 'encoded size', 'load (snapshot + read)'],
    rows,
    notes: [
      'per line at k: median time of the addLine calls around line k (each command reads the state, validates, and runs the invariant registry on the state it would produce).',
      'encoded size: the saved document (EventLog.snapshot().doc); load: PurchaseReplica.fromSnapshot of that snapshot plus reading the state and derived totals.',
      'Check: the derived total equals a total computed here from the inputs (exact cents, no rounding), and the loaded document has the same fingerprint.',
    ],
  })
  res.plots.push({ file: 'p1-addline.svg', title: 'P1 addLine time by line count', svg: lineChart({ title: 'P1: addLine time as the purchase grows', xLabel: 'lines in the purchase', yLabel: 'ms per addLine', series: curves, yFromZero: true }) })
  return res
}

// ------------------------------------------------------------------ [P2]

const NOTES_TEXT = ['a', 'bc ', 'Call first. ']
const PRODUCTS = ['Widget', 'Gadget', 'Bolt M6', 'Cable 2m']

/** One seeded command on one offline device; refusals (typed errors) count as refused, anything else fails. */
function randomEdit(world: World, r: Replica, stats: { ok: number; refused: number }): void {
  const rng = world.rng
  const s = r.state()
  const live = s.lines.filter((l) => !l.removed)
  const anyLine = () => pick(rng, live).id
  const table: Array<[number, () => unknown]> = [
    [4, () => r.addLine(lineInput(randomLine(rng), int(rng, 1, 999)))],
    [5, () => r.updateLine(anyLine(), { qty: String(int(rng, 1, 12)) })],
    [3, () => r.updateLine(anyLine(), { price: `${int(rng, 1, 40)}.${int(rng, 10, 99)}` })],
    [1, () => r.updateLine(anyLine(), { product: pick(rng, PRODUCTS) })],
    [1, () => r.removeLine(anyLine())],
    [0.5, () => r.restoreLine(pick(rng, s.lines.filter((l) => l.removed)).id)],
    [1, () => r.moveLine(anyLine(), rng() < 0.3 ? null : anyLine())],
    [1, () => r.setLineTax(anyLine(), { code: pick(rng, ['VAT', 'ECO']), rate: pick(rng, ['7.5', '20', '1']) }, rng() < 0.6)],
    [1, () => r.setSupplier(pick(rng, ['ACME', 'Globex', 'Initech']))],
    [1, () => r.setStatedTotal(rng() < 0.2 ? null : (Number(r.derived().totals.total) / 100).toFixed(2))],
    [1, () => r.setHeader('incoterm', pick(rng, ['FOB', 'CIF', 'EXW']))],
    [2, () => r.editNotes(int(rng, 0, s.notes.length), 0, pick(rng, NOTES_TEXT))],
  ]
  const sum = table.reduce((a, [w]) => a + w, 0)
  let x = rng() * sum
  const [, run] = table.find(([w]) => (x -= w) < 0) ?? table[0]!
  world.time += int(rng, 200, 5000)
  try {
    run()
    stats.ok++
  } catch (e) {
    if ((e instanceof Error && e.message === 'pick from an empty list') || isConcordError(e)) stats.refused++
    else throw e
  }
}

export async function runP2(o: RunOptions): Promise<ScenarioResult> {
  const res = result()
  const perDevice = o.quick ? 15 : 40
  const rows: string[][] = []
  const curves = new Map<string, Array<[number, number]>>()
  for (const { id, backend } of BACKENDS) {
    for (const n of [2, 8, 32]) {
      if (!o.selects(`P2.${n}`) && !o.selects('P2')) continue
      const samples: Record<string, number[]> = { converge: [], perDevice: [], messages: [], events: [], bytes: [], conflicts: [], edits: [], refused: [] }
      for (let rep = 0; rep < o.reps; rep++) {
        o.progress.log(`P2 ${id}: ${n} devices x ${perDevice} edits, rep ${rep + 1}/${o.reps}`)
        const world = newWorld(SEED * 100 + n + rep)
        const creator = PurchaseReplica.create(options(world, backend, 0), CREATE)
        for (let i = 0; i < 10; i++) creator.addLine(lineInput(randomLine(world.rng), i + 1))
        const base = [...creator.log.events()]
        const devices = Array.from({ length: n }, (_, i) => PurchaseReplica.fromEvents(options(world, backend, i + 1), base))
        const local: EventEnvelope[][] = devices.map(() => [])
        devices.forEach((d, i) => d.onChange(({ origin, events }) => { if (origin === 'local') local[i]!.push(...events) }))
        const stats = { ok: 0, refused: 0 }
        // Offline: the devices' edits interleave in time, none sees another's.
        for (let k = 0; k < perDevice; k++) for (const d of devices) randomEdit(world, d, stats)
        let bytes = 0
        let events = 0
        let messages = 0
        const batches = devices.map((_, to) => local.flatMap((evs, from) => (from === to ? [] : evs)))
        for (const evs of local) for (const e of evs) bytes += encodeEvent(e).byteLength * (n - 1)
        const perDeviceMs: number[] = []
        const t0 = performance.now()
        devices.forEach((d, to) => {
          const t = performance.now()
          const r = d.receive(batches[to]!)
          d.conflicts()
          perDeviceMs.push(ms(t))
          if (r.rejected.length > 0) check(res.checks, `P2 ${id} n=${n}: device ${to} accepts every event`, false, r.rejected.map((x) => `${x.id}: ${x.error.message}`).join('; ').slice(0, 300))
          events += batches[to]!.length
          messages += n - 1
        })
        const converge = ms(t0)
        const prints = devices.map(fingerprint)
        const queues = devices.map(conflictQueue)
        const same = prints.every((p) => p === prints[0])
        check(res.checks, `P2 ${id} n=${n} rep ${rep + 1}: every device ends with the same state`, same, `devices ${prints.map((p, i) => (p === prints[0] ? '' : i)).filter((x) => x !== '').join(', ')} differ from device 0`)
        check(res.checks, `P2 ${id} n=${n} rep ${rep + 1}: every device has the same conflict queue`, queues.every((q) => q === queues[0]), 'queues differ')
        check(res.checks, `P2 ${id} n=${n} rep ${rep + 1}: nothing pending`, devices.every((d) => d.log.pending().events.length === 0), 'some device holds pending events')
        samples.converge!.push(converge)
        samples.perDevice!.push(medianOf(perDeviceMs))
        samples.messages!.push(messages)
        samples.events!.push(events)
        samples.bytes!.push(bytes)
        samples.conflicts!.push(devices[0]!.conflicts().length)
        samples.edits!.push(stats.ok)
        samples.refused!.push(stats.refused)
        for (const d of devices) d.log.doc.destroy?.()
        creator.log.doc.destroy?.()
      }
      const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, medianOf(v)]))
      res.measurements.push({ case: `P2.${n}`, caseTitle: `${n} devices edit offline, then sync`, subject: id, params: { devices: n, editsPerDevice: perDevice }, metrics: m, samples })
      rows.push([id, String(n), fmtInt(m.edits), fmtMs(m.converge), fmtMs(m.perDevice), fmtInt(m.messages), fmtInt(m.events), fmtBytes(m.bytes), fmtInt(m.conflicts)])
      const c = curves.get(id) ?? []
      c.push([n, m.converge!])
      curves.set(id, c)
    }
  }
  res.tables.push({
    title: '[P2] Devices edit one purchase concurrently offline, then sync',
    header: ['backend', 'devices', 'edits made', 'time to converge', 'per device', 'messages', 'events delivered', 'bytes', 'conflicts raised'],
    rows,
    notes: [
      `Each device makes ${perDevice} seeded random commands (lines added, edited, moved, removed, taxes, supplier, stated total, notes) on a 10-line purchase without seeing the others; refused commands (typed errors) are not counted as edits.`,
      'Sync: every device receives every other device\'s events as one batch (one message per sender and receiver pair); time to converge is all devices applying their batch and computing their conflict queue, in one process, one after the other; per device is the median of one device\'s share.',
      'bytes: every delivered event encoded with encodeEvent (@concord/core/protocol), summed over receivers. Checks: every device ends with equal state fingerprints, equal conflict queues, nothing pending.',
    ],
  })
  res.plots.push({ file: 'p2-converge.svg', title: 'P2 time to converge by device count', svg: lineChart({ title: 'P2: time to converge by devices', xLabel: 'devices', yLabel: 'ms (all devices)', series: [...curves].map(([name, points]) => ({ name, points })), xLog: true, yLog: true, markers: true, xTicks: [2, 8, 32] }) })
  return res
}

// ------------------------------------------------------------------ [P4]

export async function runP4(o: RunOptions): Promise<ScenarioResult> {
  const res = result()
  const sizes = o.quick ? [10, 100, 1000] : [10, 30, 100, 300, 1000]
  const merges = o.quick ? 30 : 100
  const rows: string[][] = []
  const series: Array<{ name: string; points: Array<[number, number]> }> = []
  for (const { id, backend } of BACKENDS) {
    const points: Array<[number, number]> = []
    for (const n of sizes) {
      const samples: Record<string, number[]> = { receive: [], conflicts: [], perMerge: [], p90: [], build: [], open: [] }
      for (let rep = 0; rep < o.reps; rep++) {
        o.progress.log(`P4 ${id}: ${n} lines, ${merges} merges, rep ${rep + 1}/${o.reps}`)
        const world = newWorld(SEED + 400 + n + rep)
        const tb = performance.now()
        const { events } = bigPurchaseEvents(world, backend, n)
        const build = ms(tb)
        const local = PurchaseReplica.fromEvents(options(world, backend, 1), events)
        const remote = PurchaseReplica.fromEvents(options(world, backend, 2), events)
        local.conflicts()
        const ids = liveLineIds(remote)
        const receiveMs: number[] = []
        const conflictMs: number[] = []
        let open = 0
        for (let k = 0; k < merges; k++) {
          world.time += 1000
          const rng = world.rng
          const line = pick(rng, ids)
          const e = rng() < 0.7 ? remote.updateLine(line, { qty: String(int(rng, 1, 12)) }) : remote.updateLine(line, { price: `${int(rng, 1, 40)}.${int(rng, 10, 99)}` })
          const t0 = performance.now()
          local.receive([e])
          receiveMs.push(ms(t0))
          const t1 = performance.now()
          open = local.conflicts().length
          conflictMs.push(ms(t1))
        }
        check(res.checks, `P4 ${id} n=${n} rep ${rep + 1}: the merged replica equals the sender`, fingerprint(local) === fingerprint(remote), 'fingerprints differ')
        check(res.checks, `P4 ${id} n=${n} rep ${rep + 1}: ${n} lines`, liveLineIds(local).length === n, `${liveLineIds(local).length} lines`)
        const per = receiveMs.map((r, i) => r + conflictMs[i]!)
        samples.receive!.push(medianOf(receiveMs))
        samples.conflicts!.push(medianOf(conflictMs))
        samples.perMerge!.push(medianOf(per))
        samples.p90!.push(percentile(per, 0.9))
        samples.build!.push(build)
        samples.open!.push(open)
        local.log.doc.destroy?.()
        remote.log.doc.destroy?.()
      }
      const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, medianOf(v)]))
      res.measurements.push({ case: 'P4', caseTitle: 'conflict detection cost per merge', subject: id, params: { lines: n, merges }, metrics: m, samples })
      rows.push([id, fmtInt(n), fmtUs(m.receive! * 1000), fmtUs(m.conflicts! * 1000), fmtUs(m.perMerge! * 1000), fmtUs(m.p90! * 1000), fmtUs((m.conflicts! * 1000) / n), fmtInt(m.open), n === 1000 ? (m.perMerge! < 1 ? 'met' : 'missed') : ''])
      points.push([n, m.perMerge!])
    }
    series.push({ name: `${id}: receive + conflicts()`, points })
  }
  const lin = series[0]?.points[0]
  if (lin !== undefined) series.push({ name: 'linear from 10 lines', points: sizes.map((n) => [n, (lin[1] * n) / lin[0]]) })
  res.tables.push({
    title: '[P4] Conflict detection cost per merge as the purchase grows',
    header: ['backend', 'lines', 'receive (median)', 'conflicts() (median)', 'per merge', 'per merge p90', 'conflicts() per line', 'open conflicts', 'target < 1 ms at 1,000'],
    rows,
    notes: [
      `${merges} remote line edits (quantity or price) made by another device, delivered one at a time; after each, replica.conflicts() (reads the state, derives totals, runs the detectors). per merge = receive + conflicts(), median.`,
      'The purchases are built fast through the public API: many devices each add 50 lines to their own copy, then the copies merge (one device adding 1,000 lines costs O(n^2): see P1).',
      'Check: after the merges the receiving replica has the sender\'s fingerprint.',
    ],
  })
  res.plots.push({ file: 'p4-conflicts-growth.svg', title: 'P4 cost per merge by purchase size', svg: lineChart({ title: 'P4: receive + conflicts() per merge', xLabel: 'lines', yLabel: 'ms per merge', series, xLog: true, yLog: true, markers: true, xTicks: sizes, hLines: [{ y: 1, label: 'target 1 ms at 1,000 lines' }] }) })
  return res
}
