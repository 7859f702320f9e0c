/**
 * One event id, one event (docs/PROTOCOL.md), against a real relay process and real
 * SQLite stores: no device's edit is lost without it being told when its
 * next event id is taken (by another writer of its actor, or by its own past
 * in a restored backup).
 *
 * - Another device of the same user takes the device's next id while it is
 *   offline: the relay keeps that content, the device moves its edit to a
 *   fresh actor (reissued), and every device ends with both edits.
 * - Another user's token writes under the device's actor: refused FORBIDDEN,
 *   naming the actor; the device syncs as if nothing happened.
 * - A store restored from an earlier copy, edited offline: its new edit and
 *   the edits made after the copy all survive, on every device.
 * - A store restored from an earlier copy that connects before it edits: the
 *   relay's actor heads move it to a fresh actor first; nothing conflicts.
 */
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type EventId, type PurchaseId, type ReplicaId } from '@concord/core'
import { canonicalJson, eventHash, flattenPurchase } from '@concord/core/internal'
import { type Notification, type PurchaseHandle, type SyncClient } from '@concord/client'
import { createNodeClient, sqliteStorage } from '@concord/client/node'
import { SEED } from '../support/seed.js'
import { type RelayProc, mintToken, removeDir, startRelay, waitFor } from '../support/client-relay.js'
import { NativeTestClient } from '../support/native-test-client.js'
import { tempDir } from '../support/relay-process.js'

let relay: RelayProc
const clients: SyncClient[] = []
const natives: NativeTestClient[] = []
const dirs: string[] = []

test.before(async () => {
  relay = await startRelay()
})
test.after(async () => {
  for (const c of clients) await c.close().catch(() => undefined)
  for (const n of natives) await n.close()
  await relay.stop()
  removeDir(relay.dataDir)
  for (const d of dirs) removeDir(d)
})

const retry = { initialDelayMs: 20, maxDelayMs: 200 }

function storeDir(): string {
  const d = tempDir('concord-identity-')
  dirs.push(d)
  return d
}

async function client(name: string, path: string, sub = name): Promise<{ c: SyncClient; notes: Notification[] }> {
  const c = await createNodeClient({ url: relay.url, token: await mintToken({ sub }), storage: sqliteStorage(path), user: sub, device: name, retry })
  clients.push(c)
  const notes: Notification[] = []
  c.onNotification((n) => notes.push(n))
  return { c, notes }
}

async function closeClient(c: SyncClient): Promise<void> {
  clients.splice(clients.indexOf(c), 1)
  await c.close()
}

const synced = (c: SyncClient) => c.status.overall === 'synced'
const view = (p: PurchaseHandle) => canonicalJson(Object.fromEntries(flattenPurchase(p.state())))
const products = (p: PurchaseHandle) => p.state().lines.map((l) => l.product).sort()

/** A third device that only reads: what the relay holds, as another device sees it. */
async function observer(id: PurchaseId, name: string): Promise<PurchaseHandle> {
  const { c } = await client(name, join(storeDir(), 'obs.db'))
  const h = await c.open(id)
  await waitFor(`${name} caught up`, () => synced(c) && h.state().lines.length > 0, () => c.status)
  return h
}

test(`another device of the same user takes the next event id while this one is offline: both edits survive, the device is told (SEED=${SEED})`, async () => {
  const id = `ID-${SEED}-same` as PurchaseId
  const { c: anna, notes } = await client('anna-laptop', join(storeDir(), 'a.db'), 'anna')
  const pa = await anna.createPurchase({ id, currency: 'EUR', supplier: 'Acme' })
  await pa.run((r) => r.addLine({ product: 'Bolts', qty: '1', price: '1.00' }))
  await waitFor('anna synced', () => synced(anna), () => anna.status)
  const actor = pa.replica.replica
  const next = `${actor}.${pa.replica.log.seqOf(actor) + 1}` as EventId

  anna.goOffline()
  const mine = await pa.run((r) => r.addLine({ product: 'Nuts', qty: '2', price: '3.00' }))
  assert.is(mine.event.id, next)

  // The same user's token, writing under anna's actor: the relay takes it (the actor is anna's).
  const other = await NativeTestClient.connect(relay.httpUrl.replace('http', 'ws'), await mintToken({ sub: 'anna' }), { replica: actor, device: 'anna-phone', user: 'anna' })
  natives.push(other)
  await other.subscribe(id, { backend: 'yjs' })
  other.replica(id).addLine({ product: 'Washers', qty: '5', price: '0.10' })
  // Its replica writes as anna's actor, so the events it received count as its own: the last one is the new one.
  const taken = other.unpushed(id).at(-1)!
  assert.is(taken.id, next, 'the other writer made the same event id')
  assert.is.not(eventHash(taken), eventHash(mine.event), 'with other content')
  await other.push(id, [taken])
  assert.ok(other.acked.has(next), `the relay stored it: ${JSON.stringify(other.rejects)}`)

  anna.goOnline()
  await waitFor('anna synced with both lines', () => synced(anna) && products(pa).join() === 'Bolts,Nuts,Washers', () => ({ st: anna.status.overall, ex: anna.explain(id), lines: products(pa) }))
  const reissued = notes.find((n) => n.type === 'reissued')
  assert.ok(reissued !== undefined && reissued.type === 'reissued' && reissued.eventIds.includes(next), `anna is told: ${JSON.stringify(notes)}`)
  assert.ok(/moved to a new actor/.test(anna.explain(id)), anna.explain(id))
  assert.is.not(pa.replica.replica, actor, 'anna writes as a fresh actor now')
  assert.ok(/-u1-[0-9a-z]{10}$/.test(pa.replica.replica), `a fresh actor nobody can claim first (a random part): ${pa.replica.replica}`)
  assert.is(anna.deadLetters().length, 0)

  const seen = await observer(id, 'ben-same')
  await waitFor('the observer has both', () => products(seen).join() === 'Bolts,Nuts,Washers', () => products(seen))
  assert.is(view(seen), view(pa), 'anna and another device hold the same purchase')
})

test('another user\'s token may not write as a device\'s actor: FORBIDDEN, naming the actor; the device syncs its own edit', async () => {
  const id = `ID-${SEED}-other` as PurchaseId
  const { c: anna } = await client('anna-desk', join(storeDir(), 'a.db'), 'anna')
  const pa = await anna.createPurchase({ id, currency: 'EUR', supplier: 'Acme' })
  await pa.run((r) => r.addLine({ product: 'Bolts', qty: '1', price: '1.00' }))
  await waitFor('anna synced', () => synced(anna), () => anna.status)
  const actor = pa.replica.replica
  anna.goOffline()
  await pa.run((r) => r.addLine({ product: 'Nuts', qty: '2', price: '3.00' }))

  const mallory = await NativeTestClient.connect(relay.httpUrl.replace('http', 'ws'), await mintToken({ sub: 'mallory' }), { replica: actor, device: 'mallory', user: 'mallory' })
  natives.push(mallory)
  await mallory.subscribe(id, { backend: 'yjs' })
  mallory.replica(id).addLine({ product: 'Forged', qty: '1', price: '1.00' })
  const forged = mallory.unpushed(id).at(-1)!
  await mallory.push(id, [forged])
  const refusal = mallory.rejects.find((r) => r.id === forged.id)
  assert.ok(refusal !== undefined, 'refused')
  assert.is(refusal!.code, 'FORBIDDEN')
  assert.ok(refusal!.reason.includes(actor), `names the actor: ${refusal!.reason}`)

  anna.goOnline()
  await waitFor('anna synced', () => synced(anna) && pa.status().pending === 0, () => anna.explain(id))
  assert.is(pa.replica.replica, actor, 'anna keeps her actor')
  const seen = await observer(id, 'ben-other')
  await waitFor('the observer has anna\'s lines and not the forged one', () => products(seen).join() === 'Bolts,Nuts', () => products(seen))
})

test('a store restored from an earlier copy and edited offline: the new edit and those made after the copy survive everywhere', async () => {
  const id = `ID-${SEED}-backup` as PurchaseId
  const dir = storeDir()
  const path = join(dir, 'a.db')
  let { c: anna, notes } = await client('anna-tablet', path, 'anna')
  const pa = await anna.createPurchase({ id, currency: 'EUR', supplier: 'Acme' })
  await pa.run((r) => r.addLine({ product: 'Bolts', qty: '1', price: '1.00' }))
  await waitFor('anna synced', () => synced(anna), () => anna.status)
  await closeClient(anna)
  // The backup: the store as it was then (WAL checkpointed by close).
  copyFileSync(path, join(dir, 'backup.db'))

  ;({ c: anna } = await client('anna-tablet', path, 'anna'))
  let h = await anna.open(id)
  await waitFor('reopened', () => synced(anna), () => anna.status)
  await h.run((r) => r.addLine({ product: 'After backup', qty: '1', price: '1.00' }))
  await waitFor('the edit after the backup is stored', () => synced(anna) && h.status().pending === 0, () => anna.explain(id))
  await closeClient(anna)

  copyFileSync(join(dir, 'backup.db'), path)
  ;({ c: anna, notes } = await client('anna-tablet', path, 'anna'))
  anna.goOffline()
  h = await anna.open(id)
  assert.equal(products(h), ['Bolts'], 'the restored store is behind')
  await h.run((r) => r.addLine({ product: 'After restore', qty: '1', price: '1.00' }))
  anna.goOnline()
  await waitFor('anna holds all three', () => synced(anna) && products(h).join() === 'After backup,After restore,Bolts', () => ({ ex: anna.explain(id), lines: products(h) }))
  assert.ok(notes.some((n) => n.type === 'reissued'), `told: ${JSON.stringify(notes)}`)
  const seen = await observer(id, 'ben-backup')
  await waitFor('the observer holds all three', () => products(seen).join() === 'After backup,After restore,Bolts', () => products(seen))
  assert.is(view(seen), view(h))
})

test('a restored store that connects before editing moves to a fresh actor first: its next edit conflicts with nothing', async () => {
  const id = `ID-${SEED}-heads` as PurchaseId
  const dir = storeDir()
  const path = join(dir, 'a.db')
  let { c: anna } = await client('anna-phone', path, 'anna')
  const pa = await anna.createPurchase({ id, currency: 'EUR', supplier: 'Acme' })
  await waitFor('anna synced', () => synced(anna), () => anna.status)
  const actor: ReplicaId = pa.replica.replica
  await closeClient(anna)
  copyFileSync(path, join(dir, 'backup.db'))
  ;({ c: anna } = await client('anna-phone', path, 'anna'))
  let h = await anna.open(id)
  await h.run((r) => r.addLine({ product: 'Bolts', qty: '1', price: '1.00' }))
  await waitFor('stored', () => synced(anna) && h.status().pending === 0, () => anna.explain(id))
  await closeClient(anna)
  copyFileSync(join(dir, 'backup.db'), path)

  let notes: Notification[]
  ;({ c: anna, notes } = await client('anna-phone', path, 'anna'))
  h = await anna.open(id)
  await waitFor('caught up, on a fresh actor', () => synced(anna) && h.replica.replica !== actor && products(h).join() === 'Bolts', () => ({ ex: anna.explain(id), actor: h.replica.replica }))
  await h.run((r) => r.addLine({ product: 'Nuts', qty: '1', price: '1.00' }))
  await waitFor('synced', () => synced(anna) && h.status().pending === 0, () => anna.explain(id))
  assert.not.ok(notes.some((n) => n.type === 'reissued' || n.type === 'rejected'), `no conflict, nothing undone: ${JSON.stringify(notes)}`)
  const seen = await observer(id, 'ben-heads')
  await waitFor('the observer holds both', () => products(seen).join() === 'Bolts,Nuts', () => products(seen))
})

test.run()
