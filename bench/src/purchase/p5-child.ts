/**
 * [P5] in its own process (so its RSS is its own): a real @concord/client
 * with SQLite storage makes `docs x perDoc` edits while offline, then meets
 * a real relay process (demo mode, SQLite data directory, port 0). Prints
 * one JSON line with the timings, peak RSS and checks.
 * Usage: node p5-child.js <relay cli.js> <docs> <perDoc>
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { PurchaseId } from '@concord/core'
import { createNodeClient, sqliteStorage } from '@concord/client/node'

const [cli, docsArg, perDocArg] = process.argv.slice(2)
const DOCS = Number(docsArg)
const PER_DOC = Number(perDocArg)

let peakRss = 0
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 20)

async function waitFor(what: string, cond: () => boolean, timeoutMs: number, state: () => unknown): Promise<void> {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last state ${JSON.stringify(state())}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function main() {
  const relayDir = mkdtempSync(path.join(tmpdir(), 'concord-bench-p5-relay-'))
  const clientDir = mkdtempSync(path.join(tmpdir(), 'concord-bench-p5-client-'))
  const relay = spawn(process.execPath, [cli!, '--port', '0', '--host', '127.0.0.1', '--data', relayDir], { stdio: ['ignore', 'pipe', 'pipe'] })
  let relayErr = ''
  relay.stderr!.on('data', (d: Buffer) => { relayErr += String(d) })
  try {
    const base = await new Promise<string>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`relay did not listen within 15 s: ${relayErr.slice(-400)}`)), 15_000)
      relay.once('exit', (c) => rej(new Error(`relay exited (${c}) before listening: ${relayErr.slice(-400)}`)))
      createInterface({ input: relay.stdout! }).on('line', (line) => {
        try {
          const j = JSON.parse(line) as { msg?: string; url?: string }
          if (j.msg === 'listening' && typeof j.url === 'string') { clearTimeout(timer); res(j.url) }
        } catch { /* not a log line */ }
      })
    })
    const tokenRes = await fetch(new URL('/demo/token', base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'bench', device: 'p5' }) })
    if (!tokenRes.ok) throw new Error(`POST /demo/token: ${tokenRes.status} ${await tokenRes.text()}`)
    const { token } = (await tokenRes.json()) as { token: string }
    const u = new URL(base)
    const c = await createNodeClient({ url: `ws://${u.host}/sync`, token, storage: sqliteStorage(path.join(clientDir, 'c.db')), autoConnect: false, cacheSize: 8 })
    try {
      c.goOffline()
      const rssStart = process.memoryUsage().rss
      const t0 = performance.now()
      const urgent = new Set<PurchaseId>()
      let made = 0
      for (let d = 0; d < DOCS; d++) {
        const h = await c.createPurchase({ currency: 'EUR', supplier: `Supplier ${d}` })
        made++
        const lines: string[] = []
        for (let i = 0; i < 3; i++) {
          lines.push((await h.run((r) => r.addLine({ product: `Item ${i}`, qty: String(1 + i), price: `${10 + d % 7}.50` }))).lineId)
          made++
        }
        // The rest: notes edits and line edits, seeded by position (no randomness needed).
        for (let i = made % PER_DOC; i < PER_DOC - 1; i++) {
          if (i % 3 === 0) await h.run((r) => r.updateLine(lines[i % lines.length]! as never, { qty: String(1 + (i % 9)) }))
          else await h.run((r) => r.editNotes(0, 0, `${i} `))
          made++
        }
        // One purchase in ten ends with a submission for approval: a high priority event.
        if (d % 10 === 7) { await h.run((r) => r.transition('submit')); urgent.add(h.id) } else await h.run((r) => r.editNotes(0, 0, 'last '))
        made++
        h.close()
      }
      const offlineMs = performance.now() - t0
      const queued = Object.values(c.queueStats().byPriority).reduce((a, b) => a + b, 0)
      const highQueued = c.queueStats().byPriority.high
      const rssOffline = peakRss
      peakRss = 0
      const t1 = performance.now()
      let highMs = Number.NaN
      c.goOnline()
      await waitFor('high-priority events acknowledged', () => c.status.pending.high === 0, 120_000, () => c.queueStats())
      highMs = performance.now() - t1
      await waitFor('every event acknowledged', () => c.status.overall === 'synced' && c.status.pending.normal + c.status.pending.low === 0, 300_000, () => ({ overall: c.status.overall, pending: c.status.pending }))
      const allMs = performance.now() - t1
      const docs = [...c.status.docs.values()]
      const acked = docs.reduce((a, s) => a + s.acked, 0)
      const heads = docs.reduce((a, s) => a + s.localHead, 0)
      console.log(JSON.stringify({
        docs: DOCS, made, queued, highQueued, urgentDocs: urgent.size, offlineMs, highMs, allMs,
        peakRssOffline: rssOffline, peakRssSync: peakRss, rssStart,
        acked, heads, docsSeen: docs.length, rejected: docs.reduce((a, s) => a + s.rejected, 0), pendingAfter: c.status.pending,
      }))
    } finally {
      await c.close()
    }
  } finally {
    clearInterval(sampler)
    relay.kill('SIGTERM')
    await new Promise((r) => (relay.exitCode !== null ? r(null) : relay.once('exit', r)))
    rmSync(relayDir, { recursive: true, force: true })
    rmSync(clientDir, { recursive: true, force: true })
  }
}

main().then(() => process.exit(0), (e: unknown) => { process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`); process.exit(1) })
