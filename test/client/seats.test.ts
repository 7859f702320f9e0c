/**
 * One store, several running instances (storage/seats.ts): never two
 * writers of one actor.
 *
 * - Two clients open on one SQLite file each take a seat and write as their
 *   own actor; offline, each sees the other's edit through the store; online,
 *   another device ends with both edits.
 * - A second process on the file takes the next seat; killed with an edit
 *   unsent, its seat frees at once and the first process sends the edit.
 * - An instance that lost its seat (its lease expired and another took it)
 *   writes nothing more: its next change is refused with STORE_IN_USE and its
 *   status says so.
 * - A client abandoned (a crash) and reopened takes its old seat again, with
 *   the same replica id; the replicaId option takes only that replica's seat.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type PurchaseId, type ReplicaId, isConcordError } from '@concord/core'
import { type PurchaseHandle, type SyncClient, memoryStorage } from '@concord/client'
import { createNodeClient, sqliteStorage } from '@concord/client/node'
import { SEED } from '../support/seed.js'
import { type RelayProc, mintToken, removeDir, startRelay, waitFor } from '../support/client-relay.js'
import { REPO_ROOT, tempDir } from '../support/relay-process.js'

let relay: RelayProc
const clients: SyncClient[] = []
const dirs: string[] = []

test.before(async () => {
  relay = await startRelay()
})
test.after(async () => {
  for (const c of clients) await c.close().catch(() => undefined)
  await relay.stop()
  removeDir(relay.dataDir)
  for (const d of dirs) removeDir(d)
})

const retry = { initialDelayMs: 20, maxDelayMs: 200 }

function storePath(): string {
  const d = tempDir('concord-seats-')
  dirs.push(d)
  return join(d, 'device.db')
}

async function client(path: string, extra: Partial<Parameters<typeof createNodeClient>[0]> = {}): Promise<SyncClient> {
  const c = await createNodeClient({ url: relay.url, token: await mintToken({ sub: 'anna' }), storage: sqliteStorage(path), user: 'anna', retry, ...extra })
  clients.push(c)
  return c
}

const synced = (c: SyncClient) => c.status.overall === 'synced'
/** The purchase's line products, none while the purchase has not arrived yet. */
function products(p: PurchaseHandle): string[] {
  try {
    return p.state().lines.map((l) => l.product).sort()
  } catch (e) {
    if (isConcordError(e) && e.code === 'DOC_NOT_CREATED') return []
    throw e
  }
}

async function observer(id: PurchaseId, want: string): Promise<void> {
  const c = await client(storePath())
  const h = await c.open(id)
  await waitFor(`another device holds ${want}`, () => products(h).join() === want, () => ({ lines: products(h), ex: c.explain(id) }))
}

test(`two clients on one store take two seats: own actors, each sees the other's offline edit, another device gets both (SEED=${SEED})`, async () => {
  const path = storePath()
  const id = `SEAT-${SEED}-two` as PurchaseId
  const one = await client(path)
  const h1 = await one.createPurchase({ id, currency: 'EUR', supplier: 'Acme' })
  await h1.run((r) => r.addLine({ product: 'Bolts', qty: '1', price: '1.00' }))
  await waitFor('the first synced', () => synced(one), () => one.status)

  const two = await client(path)
  assert.is.not(two.replicaId, one.replicaId, 'the second instance writes as another replica')
  // It carried in what the first seat holds: the purchase is there before any sync.
  const h2 = await two.open(id)
  assert.equal(products(h2), ['Bolts'])

  one.goOffline()
  two.goOffline()
  const a = await h1.run((r) => r.addLine({ product: 'From one', qty: '1', price: '2.00' }))
  const b = await h2.run((r) => r.addLine({ product: 'From two', qty: '1', price: '3.00' }))
  assert.is.not(a.event.actor, b.event.actor, 'never one actor for two instances')
  await waitFor('each sees the other\'s offline edit through the store', () => products(h1).length === 3 && products(h2).length === 3, () => ({ one: products(h1), two: products(h2) }))

  // Only the second goes online: it sends the first one's edit too (one id, one content: a duplicate later).
  two.goOnline()
  await waitFor('the second synced', () => synced(two), () => two.explain(id))
  await observer(id, 'Bolts,From one,From two')
  one.goOnline()
  await waitFor('the first synced too', () => synced(one) && h1.status().pending === 0, () => one.explain(id))
  assert.is(one.deadLetters().length + two.deadLetters().length, 0)
})

/** Runs a client in another process on the store; it prints READY with its replica id once its edit is saved, then waits to be killed. */
function childClient(path: string, id: PurchaseId, token: string): Promise<{ replica: string; kill: () => Promise<void> }> {
  const script = `
    import { createNodeClient, sqliteStorage } from '@concord/client/node'
    const c = await createNodeClient({ url: ${JSON.stringify(relay.url)}, token: ${JSON.stringify(token)}, storage: sqliteStorage(${JSON.stringify(path)}), user: 'anna', autoConnect: false })
    const h = await c.open(${JSON.stringify(id)})
    await h.run((r) => r.addLine({ product: 'From the child', qty: '1', price: '4.00' }))
    console.log('READY ' + c.replicaId)
    setInterval(() => {}, 1000)
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: join(REPO_ROOT, 'test'), stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr.on('data', (b) => (err += String(b)))
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (b) => {
      out += String(b)
      const m = /READY (\S+)/.exec(out)
      if (m !== null) {
        resolve({
          replica: m[1]!,
          kill: () => new Promise((done) => {
            child.once('exit', () => done())
            child.kill('SIGKILL')
          }),
        })
      }
    })
    child.once('exit', (code) => reject(new Error(`the child exited (${code}) before its edit was saved: ${err}`)))
  })
}

test('a second process takes the next seat; killed with its edit unsent, its seat frees at once and the first process sends the edit', async () => {
  const path = storePath()
  const id = `SEAT-${SEED}-proc` as PurchaseId
  // A short lease, so renewals (when another process's changes are read) come often; liveness, not expiry, frees the seat.
  const one = await client(path, { seatTtlMs: 600 })
  const h1 = await one.createPurchase({ id, currency: 'EUR', supplier: 'Acme' })
  await h1.run((r) => r.addLine({ product: 'Bolts', qty: '1', price: '1.00' }))
  await waitFor('the first synced', () => synced(one), () => one.status)

  const child = await childClient(path, id, await mintToken({ sub: 'anna' }))
  assert.is.not(child.replica, one.replicaId, 'the other process writes as another replica')
  await child.kill()

  await waitFor('the first process carried in and sent the killed one\'s edit', () => products(h1).join() === 'Bolts,From the child' && synced(one) && h1.status().pending === 0, () => ({ lines: products(h1), ex: one.explain(id) }))
  await observer(id, 'Bolts,From the child')

  // The killed process's seat is free again (its process is gone): the next instance takes it, not a new one.
  const again = await client(path)
  assert.is(again.replicaId, child.replica as ReplicaId, 'the freed seat is taken again, with its replica')
})

test('an instance whose seat was taken over writes nothing more: STORE_IN_USE, and its status says so', async () => {
  const storage = memoryStorage('taken')
  const id = `SEAT-${SEED}-lost` as PurchaseId
  let clock = Date.now()
  // The first instance's renewals never run (its timers are held), so its 1 s lease runs out.
  const held = { setTimeout: () => 0, clearTimeout: () => undefined }
  const one = await createNodeClient({ url: relay.url, token: await mintToken({ sub: 'anna' }), storage, user: 'anna', autoConnect: false, seatTtlMs: 1000, now: () => clock, timers: held })
  clients.push(one)
  const h1 = await one.createPurchase({ id, currency: 'EUR', supplier: 'Acme' })
  clock += 5000
  const two = await createNodeClient({ url: relay.url, token: await mintToken({ sub: 'anna' }), storage, user: 'anna', autoConnect: false, now: () => clock })
  clients.push(two)
  assert.is(two.replicaId, one.replicaId, 'the expired seat was taken, with its replica')

  let refused: unknown
  try {
    await h1.run((r) => r.addLine({ product: 'Too late', qty: '1', price: '1.00' }))
  } catch (e) {
    refused = e
  }
  assert.ok(isConcordError(refused) && refused.code === 'STORE_IN_USE', `refused with STORE_IN_USE: ${String(refused)}`)
  assert.is(one.status.error?.code, 'STORE_IN_USE', JSON.stringify(one.status.error))
  const h2 = await two.open(id)
  assert.equal(products(h2), [], 'nothing of the old instance reached the seat after it lost it')
})

test('a client abandoned (a crash) and reopened takes its seat again with the same replica; the replicaId option takes only that seat', async () => {
  const path = storePath()
  const first = await client(path, { autoConnect: false })
  const replica = first.replicaId
  await first.close({ abandon: true })
  clients.splice(clients.indexOf(first), 1)
  const again = await client(path, { autoConnect: false })
  assert.is(again.replicaId, replica, 'the crashed instance\'s seat, not a new one')

  let refused: unknown
  try {
    await client(path, { autoConnect: false, replicaId: replica })
  } catch (e) {
    refused = e
  }
  assert.ok(isConcordError(refused) && refused.code === 'STORE_IN_USE', `that replica's seat is held: ${String(refused)}`)
  await again.close()
  clients.splice(clients.indexOf(again), 1)
  const named = await client(path, { autoConnect: false, replicaId: replica })
  assert.is(named.replicaId, replica)
})

test.run()
