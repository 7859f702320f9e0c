/**
 * A client restarted with a pending outbox loses nothing
 * and sends nothing twice; a relay killed mid-push loses nothing it
 * acknowledged. Real relay processes, real SQLite files on both sides.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { EventId, PurchaseId } from '@concord/core'
import { type PurchaseHandle, type SyncClient, memoryStorage } from '@concord/client'
import { createNodeClient, sqliteStorage } from '@concord/client/node'
import { type RelayProc, mintToken, removeDir, startRelay, waitFor } from '../support/client-relay.js'

const cleanup: (() => Promise<void> | void)[] = []
test.after(async () => {
  for (const f of cleanup.reverse()) await f()
})

async function node(url: string, storagePath: string | null, name: string): Promise<SyncClient> {
  const c = await createNodeClient({
    url, token: await mintToken({ sub: name }), storage: storagePath === null ? memoryStorage(name) : sqliteStorage(storagePath),
    user: name, retry: { initialDelayMs: 20, maxDelayMs: 200, breakerThreshold: 1000 },
  })
  cleanup.push(() => c.close())
  return c
}

function ownEvents(c: SyncClient, h: PurchaseHandle): EventId[] {
  return h.replica.log.events().filter((e) => e.actor === c.replicaId).map((e) => e.id)
}

/** A fresh client that catches up on the document: what the relay holds. */
async function relayView(url: string, id: PurchaseId, name: string) {
  const c = await node(url, null, name)
  const h = await c.open(id)
  await waitFor(`${name} caught up`, () => c.status.docs.get(id)?.state === 'synced' && h.exists, () => c.status)
  return { c, h }
}

test('restart with a pending outbox: nothing lost, nothing sent twice', async () => {
  const relay = await startRelay()
  cleanup.push(async () => {
    await relay.stop()
    removeDir(relay.dataDir)
  })
  const dir = mkdtempSync(join(tmpdir(), 'concord-client-restart-'))
  cleanup.push(() => removeDir(dir))
  const path = join(dir, 'a.db')

  // Online: create and sync; then crash while pushes are in flight.
  const a1 = await node(relay.url, path, 'anna')
  const h1 = await a1.createPurchase({ currency: 'EUR', supplier: 'Acme' })
  const id = h1.id
  await waitFor('created and synced', () => a1.status.overall === 'synced', () => a1.status)
  const runs: Promise<unknown>[] = []
  for (let i = 0; i < 40; i++) runs.push(h1.run((r) => r.addLine({ product: `P${i}`, qty: '1', price: `${i + 1}.00` })))
  await Promise.all(runs)
  // Offline edits, then a crash with everything still pending.
  a1.goOffline()
  for (let i = 0; i < 10; i++) await h1.run((r) => r.editNotes(0, 0, `n${i} `))
  const saved = ownEvents(a1, h1)
  const pendingAtCrash = a1.status.docs.get(id)!.pending
  assert.ok(pendingAtCrash >= 10, `pending at crash: ${pendingAtCrash}`)
  await a1.close({ abandon: true })

  const a2 = await node(relay.url, path, 'anna')
  assert.is(a2.status.docs.get(id)!.pending, pendingAtCrash, 'the outbox was restored')
  const h2 = await a2.open(id)
  assert.equal(ownEvents(a2, h2), saved, 'every saved event is back, none twice')
  await waitFor('drained after restart', () => a2.status.overall === 'synced', () => a2.status)
  assert.is(a2.status.docs.get(id)!.pending, 0)
  for (const e of saved) assert.ok(['stored', 'validated'].includes(h2.eventStatus(e)), `${e} acknowledged`)

  const { h: seen, c: b } = await relayView(relay.url, id, 'observer')
  // The relay numbers each stored event once: a re-sent event that it deduplicated takes no number.
  // (The relay adds events of its own, such as the order number, so compare with everything it holds.)
  const all = seen.replica.log.events()
  assert.is(b.status.docs.get(id)!.cursor, all.length, 'the relay stored every event exactly once')
  assert.equal(seen.state().notes, h2.state().notes)
  assert.is(seen.state().lines.length, 40)
  assert.equal(all.filter((e) => e.actor === a2.replicaId).map((e) => e.id).sort(), [...saved].sort())
})

test('a relay killed mid-push loses nothing it acknowledged; the client re-sends the rest', async () => {
  let relay: RelayProc = await startRelay()
  const dataDir = relay.dataDir
  cleanup.push(async () => {
    await relay.stop()
    removeDir(dataDir)
  })
  const a = await node(relay.url, null, 'anna')
  const h = await a.createPurchase({ currency: 'EUR', supplier: 'Acme' })
  await waitFor('created', () => a.status.overall === 'synced', () => a.status)
  const runs: Promise<unknown>[] = []
  for (let i = 0; i < 300; i++) runs.push(h.run((r) => r.editNotes(0, 0, `${i},`)))
  await waitFor('some acknowledged, some not', () => ownEvents(a, h).filter((e) => h.eventStatus(e) !== 'saved').length >= 20)
  await relay.kill()
  const ackedBeforeKill = ownEvents(a, h).filter((e) => h.eventStatus(e) !== 'saved')
  await Promise.all(runs)
  await waitFor('the client sees the relay is gone', () => a.status.overall !== 'synced' && !a.status.network.connected, () => a.status)
  relay = await startRelay({ dataDir, port: relay.port })
  await waitFor('drained into the restarted relay', () => a.status.overall === 'synced', () => a.status, 30_000)

  const { h: seen, c: b } = await relayView(relay.url, h.id, 'observer2')
  const all = seen.replica.log.events()
  const onRelay = new Set(all.filter((e) => e.actor === a.replicaId).map((e) => e.id))
  for (const e of ackedBeforeKill) assert.ok(onRelay.has(e), `acknowledged event ${e} survived the kill`)
  assert.is(onRelay.size, ownEvents(a, h).length)
  assert.is(b.status.docs.get(h.id)!.cursor, all.length, 'nothing stored twice')
  assert.is(seen.state().notes, h.state().notes)
})

test.run()
