/**
 * With the relay down, the backoff grows with full jitter
 * (seeded), the circuit breaker opens and half-opens, and the status says
 * offline and why; when the relay returns, the outbox drains in priority
 * order. Fatal errors (a bad token) are not retried and show as errors.
 * Real relay processes; randomness injected from the suite seed.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type PurchaseId } from '@concord/core'
import { seededRandom } from '@concord/core/internal'
import { type BreakerState, type SyncClient, memoryStorage } from '@concord/client'
import { backoffCeiling } from '@concord/client/internal'
import { createNodeClient } from '@concord/client/node'
import { SEED } from '../support/seed.js'
import { type RelayProc, mintToken, removeDir, startRelay, waitFor } from '../support/client-relay.js'

const cleanup: (() => Promise<void> | void)[] = []
test.after(async () => {
  for (const f of cleanup.reverse()) await f()
})

const RETRY = { initialDelayMs: 40, maxDelayMs: 640, breakerThreshold: 4, halfOpenAfterMs: 400 }

test(`relay down: jittered growing backoff, breaker opens and half-opens, status explains; the relay returns and high priority drains first (SEED=${SEED})`, async () => {
  let relay: RelayProc = await startRelay()
  const dataDir = relay.dataDir
  cleanup.push(async () => {
    await relay.stop()
    removeDir(dataDir)
  })
  const c: SyncClient = await createNodeClient({
    url: relay.url, token: await mintToken({ sub: 'anna' }), storage: memoryStorage('retry'), random: seededRandom(SEED),
    retry: RETRY, maxInFlightEvents: 1, pingIntervalMs: 200, pongTimeoutMs: 400,
  })
  cleanup.push(() => c.close())
  const low = await c.createPurchase({ currency: 'EUR', supplier: 'Low Ltd' })
  const normal = await c.createPurchase({ currency: 'EUR', supplier: 'Normal GmbH' })
  const high = await c.createPurchase({ currency: 'EUR', supplier: 'High SA' })
  await waitFor('all three synced', () => c.status.overall === 'synced', () => c.status)

  const delays: { attempt: number; delay: number }[] = []
  const breaker: BreakerState[] = []
  c.onStatus((s) => {
    const last = delays[delays.length - 1]
    if (s.connection.state === 'waiting' && s.connection.lastDelayMs !== null && (last === undefined || last.attempt !== s.connection.attempt)) {
      delays.push({ attempt: s.connection.attempt, delay: s.connection.lastDelayMs })
    }
    if (breaker[breaker.length - 1] !== s.connection.breaker) breaker.push(s.connection.breaker)
  })
  await relay.kill()
  await waitFor('the client notices', () => !c.status.network.connected, () => c.status.connection)

  // Offline work, oldest first in the least urgent document.
  await low.run((r) => r.editNotes(0, 0, 'ring before delivery'))
  await normal.run((r) => r.addLine({ product: 'Bolts', qty: '3', price: '1.00' }))
  await high.run((r) => r.transition('submit'))
  assert.equal(c.queueStats().byPriority, { high: 1, normal: 1, low: 1 })

  await waitFor('the breaker opened and went half-open at least once', () => breaker.includes('open') && breaker.includes('half-open') && delays.length >= 4,
    () => ({ breaker, delays, connection: c.status.connection }), 20_000)
  // Between retries the client is offline; during a retry attempt it is connecting. Catch a moment between.
  let why = ''
  await waitFor('the status says offline between retries', () => {
    if (c.status.overall !== 'offline') return false
    why = c.explain(high.id)
    return true
  }, () => c.status.connection, 10_000)
  const s = c.status
  assert.ok(s.connection.lastError !== null && !s.connection.lastError.fatal, 'a retryable error is recorded')
  assert.match(why, /is offline: the relay cannot be reached/)
  assert.match(why, /1 high/)

  // Full jitter: every delay lies under its exponentially growing ceiling, and they differ.
  for (const [i, d] of delays.entries()) {
    const ceiling = backoffCeiling(RETRY, i)
    assert.ok(d.delay >= 0 && d.delay < ceiling, `delay ${i} = ${d.delay} must be under ${ceiling}`)
  }
  assert.ok(new Set(delays.map((d) => d.delay)).size > 1, 'jittered, not fixed')
  assert.ok(backoffCeiling(RETRY, delays.length - 1) > backoffCeiling(RETRY, 0), 'the ceiling grows')
  // The breaker re-opens after a failed trial, so it cycled open -> half-open -> open.
  const afterHalf = breaker.slice(breaker.indexOf('half-open'))
  assert.ok(afterHalf.includes('open') || c.status.connection.breaker === 'half-open', `breaker sequence ${breaker.join(' > ')}`)

  // Record the drain order: with one event in flight at a time, acknowledgements come in send order.
  const drained: PurchaseId[] = []
  c.onStatus((st) => {
    for (const [id, d] of st.docs) if (d.pending === 0 && !drained.includes(id) && [low.id, normal.id, high.id].includes(id)) drained.push(id)
  })
  relay = await startRelay({ dataDir, port: relay.port })
  c.forceSync()
  await waitFor('drained after the relay returned', () => c.status.overall === 'synced', () => c.status, 20_000)
  assert.equal(drained, [high.id, normal.id, low.id], 'high priority first, then normal, then low')
  assert.is(c.status.connection.breaker, 'closed')
  assert.is(c.status.connection.attempt, 0)
})

test('a bad token is fatal: not retried, shown as an error with the reason; forceSync tries again', async () => {
  const relay = await startRelay()
  cleanup.push(async () => {
    await relay.stop()
    removeDir(relay.dataDir)
  })
  let calls = 0
  const c = await createNodeClient({
    url: relay.url, token: async () => { calls += 1; return 'not-a-jwt' }, storage: memoryStorage('bad-token'), retry: RETRY,
  })
  cleanup.push(() => c.close())
  const p = await c.createPurchase({ currency: 'EUR' })
  await waitFor('fatal error', () => c.status.overall === 'error', () => c.status)
  const s = c.status
  assert.ok(s.error?.fatal, 'fatal')
  assert.is(s.error?.code, 'UNAUTHORIZED')
  assert.is(s.connection.state, 'stopped')
  assert.match(c.explain(p.id), /syncing stopped: UNAUTHORIZED/)
  const n = calls
  assert.is(s.connection.attempt, 0, 'not counted as a retry: it is not retried')
  c.forceSync()
  await waitFor('tried again once on request', () => calls === n + 1 && c.status.overall === 'error', () => c.status)
})

test.run()
