/**
 * Two clients edit the same purchase offline, reconnect and
 * converge, with the same conflict queue; a resolution made on one reaches
 * the other. Against a real relay process.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type Notification, type SyncClient, memoryStorage } from '@concord/client'
import { createNodeClient } from '@concord/client/node'
import { type RelayProc, mintToken, removeDir, startRelay, waitFor } from '../support/client-relay.js'

let relay: RelayProc
const clients: SyncClient[] = []

test.before(async () => {
  relay = await startRelay()
})
test.after(async () => {
  for (const c of clients) await c.close()
  await relay.stop()
  removeDir(relay.dataDir)
})

async function client(name: string) {
  const token = await mintToken({ sub: name })
  const c = await createNodeClient({ url: relay.url, token, storage: memoryStorage(name), user: name, device: `${name}'s laptop`, retry: { initialDelayMs: 20, maxDelayMs: 200 } })
  clients.push(c)
  return c
}

const synced = (c: SyncClient) => () => c.status.overall === 'synced'

test('offline edits on two clients converge to one purchase and one conflict queue; a resolution reaches the other', async () => {
  const a = await client('anna')
  const b = await client('ben')
  const pa = await a.createPurchase({ currency: 'EUR', supplier: 'Initial Supplies' })
  const { lineId } = await pa.run((r) => r.addLine({ product: 'Bolts', qty: '10', price: '2.50' }))
  await waitFor('anna synced', synced(a), () => a.status)
  const pb = await b.open(pa.id)
  await waitFor('ben has the purchase', () => pb.exists && b.status.overall === 'synced', () => b.status)
  assert.is(pb.state().lines.length, 1)

  const bNotes: Notification[] = []
  b.onNotification((n) => bNotes.push(n))
  a.goOffline()
  b.goOffline()
  await waitFor('both offline', () => a.status.overall === 'offline' && b.status.overall === 'offline')
  await pa.run((r) => r.setSupplier('Acme'))
  await pa.run((r) => r.updateLine(lineId, { qty: '12' }))
  await pb.run((r) => r.setSupplier('Globex'))
  await pb.run((r) => r.addLine({ product: 'Nuts', qty: '5', price: '0.40' }))
  assert.is(a.status.docs.get(pa.id)!.pending, 2)
  assert.match(a.explain(pa.id), /offline/)

  a.goOnline()
  b.goOnline()
  await waitFor('both synced and converged', () => {
    return a.status.overall === 'synced' && b.status.overall === 'synced' &&
      pa.state().lines.length === 2 && pb.state().lines.length === 2 && pa.conflicts().length > 0 && pb.conflicts().length > 0
  }, () => ({ a: a.status, b: b.status, qa: pa.conflicts().map((c) => c.id), qb: pb.conflicts().map((c) => c.id) }))

  assert.equal(pa.state().supplier.values.slice().sort(), ['Acme', 'Globex'])
  assert.equal(pa.derived().totals, pb.derived().totals)
  assert.equal(pa.conflicts().map((c) => c.id), pb.conflicts().map((c) => c.id), 'same conflict queue')
  const conflict = pa.conflicts().find((c) => c.kind === 'CONCURRENT_GUARDED_WRITE')
  assert.ok(conflict, 'the concurrent supplier writes are a conflict')
  assert.ok(bNotes.some((n) => n.type === 'conflict-raised'), 'ben was told a conflict was raised')

  const resolution = await pa.resolve(conflict!.id, 'keep', { value: 'Acme' })
  assert.is(pa.eventStatus(resolution.id), 'saved')
  await waitFor('the resolution reaches ben', () => pb.conflicts().every((c) => c.id !== conflict!.id) && b.status.overall === 'synced',
    () => ({ qb: pb.conflicts().map((c) => c.id), b: b.status }))
  await waitFor('anna acknowledged', () => a.status.overall === 'synced')
  assert.ok(['stored', 'validated'].includes(pa.eventStatus(resolution.id)))
  assert.equal(pb.state().supplier.values, ['Acme'])
  assert.equal(pa.conflicts().map((c) => c.id), pb.conflicts().map((c) => c.id))
  await waitFor('ben notified of the resolution elsewhere', () => bNotes.some((n) => n.type === 'conflict-resolved-elsewhere'), () => bNotes)

  // Search and list are local and current.
  assert.equal(b.search('acme').map((s) => s.id), [pa.id])
  assert.equal(b.search('nuts').map((s) => s.id), [pa.id])
  const row = b.list().find((s) => s.id === pa.id)!
  assert.is(row.supplier, 'Acme')
  assert.is(row.sync, 'synced')
  assert.match(row.total, /EUR$/)
})

test.run()
