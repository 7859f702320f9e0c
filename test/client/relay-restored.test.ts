/**
 * A relay restored from an older backup (docs/CLIENT.md, the client's rules for
 * refusals that say nothing against a change):
 *
 * - Anna's line was acknowledged after the backup, so the restored relay
 *   lacks it. Ben built a line on it offline: his push is refused
 *   UNKNOWN_EVENT. It is not undone: Ben's device subscribes again and
 *   re-sends a few times, then shows the purchase waiting, with his line kept.
 * - Anna reconnects: the relay's head of her actor is below what it had
 *   acknowledged, so her device sends those events again (RELAY_BEHIND).
 * - Ben's next connection sends his line, and every device ends with all
 *   three lines.
 */
import { cpSync, rmSync } from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type PurchaseId, isConcordError } from '@concord/core'
import { type Notification, type PurchaseHandle, type SyncClient, memoryStorage } from '@concord/client'
import { createNodeClient } from '@concord/client/node'
import { SEED } from '../support/seed.js'
import { type RelayProc, mintToken, removeDir, startRelay, waitFor } from '../support/client-relay.js'
import { tempDir } from '../support/relay-process.js'

let relay: RelayProc
const clients: SyncClient[] = []
const dirs: string[] = []

test.after(async () => {
  for (const c of clients) await c.close().catch(() => undefined)
  await relay?.stop()
  for (const d of dirs) removeDir(d)
})

// Short waits, and a breaker that half-opens quickly: the relay restarts twice.
const retry = { initialDelayMs: 20, maxDelayMs: 200, halfOpenAfterMs: 200 }

async function client(name: string): Promise<{ c: SyncClient; notes: Notification[] }> {
  const c = await createNodeClient({ url: relay.url, token: await mintToken({ sub: name }), storage: memoryStorage(name), user: name, retry, notificationIntervalMs: 0 })
  clients.push(c)
  const notes: Notification[] = []
  c.onNotification((n) => notes.push(n))
  return { c, notes }
}

function products(p: PurchaseHandle): string[] {
  try {
    return p.state().lines.map((l) => l.product).sort()
  } catch (e) {
    if (isConcordError(e) && e.code === 'DOC_NOT_CREATED') return []
    throw e
  }
}

const synced = (c: SyncClient) => c.status.overall === 'synced'

test(`a relay restored from an older backup: a change built on what it lost waits (not undone), the lost events are sent again, everyone ends with all (SEED=${SEED})`, async () => {
  const dataDir = tempDir('concord-restored-')
  const backup = tempDir('concord-restored-backup-')
  dirs.push(dataDir, backup)
  relay = await startRelay({ dataDir })
  const port = relay.port
  const id = `RESTORED-${SEED}` as PurchaseId

  const { c: anna, notes: annaNotes } = await client('anna')
  const pa = await anna.createPurchase({ id, currency: 'EUR', supplier: 'Acme' })
  await pa.run((r) => r.addLine({ product: 'Bolts', qty: '1', price: '1.00' }))
  await waitFor('anna synced', () => synced(anna), () => anna.status)
  const { c: ben } = await client('ben')
  const pb = await ben.open(id)
  await waitFor('ben has the purchase', () => synced(ben) && products(pb).length === 1, () => ben.status)

  // The backup, taken with the relay stopped.
  await relay.stop()
  cpSync(dataDir, backup, { recursive: true })
  relay = await startRelay({ dataDir, port })

  await pa.run((r) => r.addLine({ product: 'Nuts', qty: '2', price: '3.00' }))
  await waitFor('anna\'s second line acknowledged and at ben\'s', () => synced(anna) && pa.status().pending === 0 && products(pb).join() === 'Bolts,Nuts', () => ({ a: anna.explain(id), b: products(pb) }))
  anna.goOffline()
  ben.goOffline()
  // Ben's line is built on Anna's second line (its dependencies name her event).
  const nuts = pb.state().lines.find((l) => l.product === 'Nuts')!
  const mine = await pb.run((r) => r.updateLine(nuts.id, { qty: '5' }))
  const annaSecond = pa.replica.log.events().filter((e) => e.actor === pa.replica.replica).at(-1)!
  assert.ok(mine.deps.includes(annaSecond.id), 'ben\'s change depends on what the relay will lose')

  // The relay goes back to the backup: Anna's second line is gone from it.
  await relay.stop()
  rmSync(dataDir, { recursive: true, force: true })
  cpSync(backup, dataDir, { recursive: true })
  relay = await startRelay({ dataDir, port })

  ben.goOnline()
  await waitFor('ben\'s change waits: the relay lacks what it builds on', () => /UNKNOWN_EVENT/.test(ben.explain(id)), () => ben.explain(id), 20_000)
  assert.is(pb.status().pending, 1, 'the change is kept, waiting')
  assert.is(pb.status().rejected, 0, 'and not undone')
  assert.is(ben.deadLetters().length, 0)
  assert.is(pb.state().lines.find((l) => l.product === 'Nuts')?.qty, '5', 'ben still sees his quantity')

  anna.goOnline()
  await waitFor('anna sent her lost line again', () => synced(anna) && pa.status().pending === 0 && annaNotes.some((n) => n.type === 'sync-failed' && n.code === 'RELAY_BEHIND'), () => ({ ex: anna.explain(id), notes: annaNotes }))

  // Ben's next connection sends his change.
  ben.goOffline()
  ben.goOnline()
  await waitFor('ben synced', () => synced(ben) && pb.status().pending === 0, () => ben.explain(id))
  const { c: cleo } = await client('cleo')
  const pc = await cleo.open(id)
  await waitFor('another device has all of it', () => synced(cleo) && pc.state().lines.find((l) => l.product === 'Nuts')?.qty === '5', () => products(pc))
  assert.equal(products(pc), ['Bolts', 'Nuts'])
})

test.run()
