/**
 * A day offline: 5,000 events over 100 purchases, then the relay
 * is reachable again. The outbox drains completely, high priority purchases
 * first, with never more than the window in flight, and the client does not
 * keep every purchase loaded to do it. Real relay, SQLite store on the client.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { PurchaseId } from '@concord/core'
import { createNodeClient, sqliteStorage } from '@concord/client/node'
import { mintToken, removeDir, startRelay, waitFor } from '../support/client-relay.js'

const DOCS = Number(process.env.LONG_OFFLINE_DOCS ?? 100)
const PER_DOC = Number(process.env.LONG_OFFLINE_EVENTS ?? 50)
const WINDOW = 256

test(`${DOCS * PER_DOC} events over ${DOCS} purchases drain after a long offline period, high priority first, bounded in flight`, async () => {
  const relay = await startRelay()
  const dir = mkdtempSync(join(tmpdir(), 'concord-client-long-'))
  const c = await createNodeClient({
    url: relay.url, token: await mintToken(), storage: sqliteStorage(join(dir, 'c.db')), autoConnect: false,
    maxInFlightEvents: WINDOW, cacheSize: 8,
  })
  try {
    c.goOffline()
    const t0 = Date.now()
    const urgent = new Set<PurchaseId>()
    for (let d = 0; d < DOCS; d++) {
      const h = await c.createPurchase({ currency: 'EUR', supplier: `Supplier ${d}` })
      for (let i = 1; i < PER_DOC - 1; i++) await h.run((r) => r.editNotes(0, 0, `${i} `))
      // One purchase in ten ends with a submission for approval: a high priority event.
      if (d % 10 === 7) {
        await h.run((r) => r.transition('submit'))
        urgent.add(h.id)
      } else await h.run((r) => r.editNotes(0, 0, 'last '))
      h.close()
    }
    const made = Date.now() - t0
    const total = DOCS * PER_DOC
    assert.is(Object.values(c.queueStats().byPriority).reduce((a, b) => a + b, 0), total)

    let maxInFlight = 0
    const done: PurchaseId[] = []
    const off = c.onStatus((s) => {
      maxInFlight = Math.max(maxInFlight, c.queueStats().inFlight)
      for (const [id, st] of s.docs) if (st.pending === 0 && !done.includes(id)) done.push(id)
    })
    const heapBefore = process.memoryUsage().heapUsed
    const t1 = Date.now()
    c.goOnline()
    await waitFor('the outbox drained', () => c.status.overall === 'synced', () => ({ stats: c.queueStats(), overall: c.status.overall }), 120_000)
    const drainMs = Date.now() - t1
    off()
    console.log(`[long-offline] ${total} events over ${DOCS} purchases: saved offline in ${made} ms, drained in ${drainMs} ms (${Math.round(total / (drainMs / 1000))} events/s), max in flight ${maxInFlight}, heap +${Math.round((process.memoryUsage().heapUsed - heapBefore) / 1e6)} MB`)
    assert.ok(maxInFlight <= WINDOW, `in flight ${maxInFlight} stays within the window ${WINDOW}`)
    const firstUrgent = done.filter((id) => urgent.has(id))
    const firstNormal = done.findIndex((id) => !urgent.has(id))
    assert.is(firstUrgent.length, urgent.size)
    assert.ok(done.slice(0, urgent.size).every((id) => urgent.has(id)), `the ${urgent.size} purchases with a high priority event drain first (first other one at ${firstNormal})`)
    assert.is(c.status.pending.high + c.status.pending.normal + c.status.pending.low, 0)
  } finally {
    await c.close()
    await relay.stop()
    removeDir(relay.dataDir)
    removeDir(dir)
  }
})

test.run()
