/**
 * [P5] a day offline: runs p5-child.js (a real client and a real relay
 * process) and turns its JSON line into the table and checks.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fmtInt, fmtMem, fmtMs } from '../report/markdown.js'
import type { RunOptions, ScenarioResult } from '../types.js'
import { medianOf } from './common.js'

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'p5-child.js')

interface P5Run {
  docs: number; made: number; queued: number; highQueued: number; urgentDocs: number; offlineMs: number; highMs: number; allMs: number
  peakRssOffline: number; peakRssSync: number; rssStart: number; acked: number; heads: number; docsSeen: number; rejected: number
  pendingAfter: { high: number; normal: number; low: number }
}

export async function runP5(o: RunOptions): Promise<ScenarioResult> {
  const cli = path.join(o.repoRoot, 'packages', 'relay', 'dist', 'cli.js')
  if (!existsSync(cli)) {
    const why = 'P5 skipped: packages/relay/dist/cli.js is not built (pnpm build)'
    return { measurements: [], checks: [], tables: [], plots: [], notes: [why], skipped: why }
  }
  const docs = o.quick ? 20 : 100
  const perDoc = 50
  const runs: P5Run[] = []
  const res: ScenarioResult = { measurements: [], checks: [], tables: [], plots: [], notes: [] }
  for (let rep = 0; rep < o.reps; rep++) {
    o.progress.log(`P5: ${docs * perDoc} edits over ${docs} purchases offline, then a real relay, rep ${rep + 1}/${o.reps}`)
    const { code, out, err } = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const p = spawn(process.execPath, [child, cli, String(docs), String(perDoc)], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      p.stdout.on('data', (b: Buffer) => { out += String(b) })
      p.stderr.on('data', (b: Buffer) => { err += String(b) })
      p.on('exit', (c) => resolve({ code: c, out, err }))
    })
    const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop()
    if (code !== 0 || line === undefined) {
      res.checks.push({ name: `P5 rep ${rep + 1}: the run completed`, ok: false, detail: `exit ${code}: ${err.slice(-600)}` })
      continue
    }
    const r = JSON.parse(line) as P5Run
    runs.push(r)
    const total = docs * perDoc
    res.checks.push({ name: `P5 rep ${rep + 1}: ${total} edits queued offline`, ok: r.made === total && r.queued === total, detail: `made ${r.made}, queued ${r.queued}` })
    res.checks.push({ name: `P5 rep ${rep + 1}: every event acknowledged`, ok: r.acked === total && r.heads === total && r.docsSeen === docs && r.rejected === 0, detail: `acked ${r.acked} of ${total} (heads ${r.heads}, docs ${r.docsSeen}, rejected ${r.rejected})` })
    res.checks.push({ name: `P5 rep ${rep + 1}: nothing pending`, ok: r.pendingAfter.high + r.pendingAfter.normal + r.pendingAfter.low === 0, detail: JSON.stringify(r.pendingAfter) })
  }
  if (runs.length === 0) return res
  const m = (f: (r: P5Run) => number) => medianOf(runs.map(f))
  const metrics = {
    offlineMs: m((r) => r.offlineMs), highMs: m((r) => r.highMs), allMs: m((r) => r.allMs),
    peakRssOffline: m((r) => r.peakRssOffline), peakRssSync: m((r) => r.peakRssSync), highQueued: m((r) => r.highQueued),
  }
  res.measurements.push({ case: 'P5', caseTitle: 'a day offline, then reconnect', subject: 'concord-client-node', params: { docs, edits: docs * perDoc }, metrics, samples: Object.fromEntries(Object.keys(metrics).map((k) => [k, runs.map((r) => r[k as keyof P5Run] as number)])) })
  res.tables.push({
    title: `[P5] A day offline: ${fmtInt(docs * perDoc)} edits over ${docs} purchases, then reconnect`,
    header: ['edits', 'purchases', 'high-priority events', 'making them offline', 'until high acked', 'target', 'until all acked', 'events/s', 'peak RSS offline', 'peak RSS syncing'],
    rows: [[fmtInt(docs * perDoc), fmtInt(docs), fmtInt(metrics.highQueued), fmtMs(metrics.offlineMs), fmtMs(metrics.highMs), metrics.highMs < 30_000 ? '< 30 s: met' : '< 30 s: missed', fmtMs(metrics.allMs), fmtInt((docs * perDoc) / (metrics.allMs / 1000)), fmtMem(metrics.peakRssOffline), fmtMem(metrics.peakRssSync)]],
    notes: [
      'The real @concord/client (Node, SQLite storage in a temp dir, cache of 8 open purchases) switched offline makes every edit (per purchase: create, 3 lines, line and notes edits; one purchase in ten ends with a submit, a high-priority event), then goes online against a real relay process (packages/relay/dist/cli.js, demo mode, SQLite data dir, port 0) started before the run.',
      'until high acked: from goOnline until no high-priority event is pending; until all acked: until the client reports synced with nothing pending. RSS is the client process (the relay is another process), sampled every 20 ms.',
      'Checks: every edit was queued, the relay acknowledged every event (acked = local head on every purchase), none rejected, nothing pending.',
    ],
  })
  return res
}
