/**
 * A stored purchase that already holds values its schema refuses (written
 * before the relay checked writes: here appended straight into the SQLite
 * store) opens everywhere and keeps syncing. On the relay it loads, is
 * served, and the admin API lists the values; the client opens it, is told
 * (an `invalid-received` notification, `handle.invalid()`), reads the values
 * as absent, and a later edit supersedes them and syncs to other devices.
 */
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type InvalidValue, type PurchaseId, parsePurchaseId } from '@concord/core'
import { memoryStorage } from '@concord/client'
import { createNodeClient } from '@concord/client/node'
import { signToken } from '@concord/relay'
import { SqliteEventStore } from '@concord/relay/store'
import { envelopeFor, rawYjsUpdate } from '../support/hostile.js'
import { waitFor } from '../support/client-relay.js'
import { NativeTestClient } from '../support/native-test-client.js'
import { TEST_SECRET, startRelayProcess, tempDir } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'

test('a stored purchase holding a null quantity and a banana price opens on the relay and the client, is reported, and syncs', async () => {
  const dataDir = tempDir()
  const docId: PurchaseId = parsePurchaseId('01J8PSNSTORE00000000000001')
  const token = await signToken(TEST_SECRET, { sub: 'pat', docs: ['*'], rights: ['read', 'write'] }, 3600)
  const admin = await signToken(TEST_SECRET, { sub: 'ops', admin: true }, 3600)

  // A purchase with one line, stored the ordinary way.
  let relay = await startRelayProcess({ dataDir })
  const writer = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'writer', seed: SEED })
  const r = writer.createPurchase(docId, { currency: 'EUR', supplier: 'Acme' })
  const { lineId } = r.addLine({ product: 'Desk', qty: '2', price: '100' })
  await writer.subscribe(docId)
  await writer.push(docId)
  assert.equal(writer.rejects, [])
  await writer.close()
  assert.is((await relay.stop()).code, 0)

  // What an older relay let a raw Yjs client store: null and "banana" in real registers.
  const store = await SqliteEventStore.open({ path: join(dataDir, 'concord.sqlite') })
  const actor = `${relay.relayId.slice(0, 62)}-y`
  const hlc = r.log.events()[0]!.hlc
  const payload = rawYjsUpdate(r, actor, (d) => {
    const regs = d.getMap('regs')
    regs.set(`l.${lineId}.qty\u0000${actor}.1`, null)
    regs.set(`l.${lineId}.price\u0000${actor}.1`, { value: { amount: 'banana', currency: 'EUR' }, ev: `${actor}.1`, hlc })
  })
  const poisoned = envelopeFor(r, actor, payload, 'yjs.update')
  const [appended] = await store.append([{ docId, backend: 'yjs', events: [poisoned] }])
  assert.ok(appended?.events[0]?.ok, 'the store took it (the old relay did)')
  await store.close()

  relay = await startRelayProcess({ dataDir })
  try {
    assert.is((await fetch(`${relay.url}/healthz`)).status, 200)
    const res = await fetch(`${relay.url}/admin/docs/${docId}`, { headers: { authorization: `Bearer ${admin}` } })
    assert.is(res.status, 200)
    const { invalid } = (await res.json()) as { invalid: InvalidValue[] }
    const keys = invalid.map((v) => v.key)
    assert.ok(keys.includes(`l.${lineId}.qty`) && keys.includes(`l.${lineId}.price`), `the admin API lists both: ${JSON.stringify(invalid)}`)

    const client = await createNodeClient({ url: `${relay.wsUrl}/sync`, token, storage: memoryStorage('poisoned-client'), device: 'laptop' })
    const told: string[] = []
    client.onNotification((n) => {
      if (n.type === 'invalid-received') told.push(n.reason)
    })
    const h = await client.open(docId)
    await waitFor('the client has the purchase, synced', () => h.exists && client.docStatus(docId).state === 'synced', () => client.explain(docId))
    const line = h.state().lines.find((l) => l.id === lineId)!
    assert.is(line.product, 'Desk', 'the valid parts read as stored')
    assert.ok(line.qty === '2' && line.price.amount === '100', `the invalid values read as absent: the valid entries stand (${line.qty} x ${line.price.amount})`)
    assert.ok(h.invalid().some((v) => v.key === `l.${lineId}.qty`), 'the handle reports the null quantity')
    assert.ok(told.some((t) => t.includes('SCHEMA_VIOLATION') || t.includes('schema')), `the client was told: ${told.join(' | ')}`)

    // A later edit supersedes both registers' entries, and reaches another device.
    await h.run((p) => p.updateLine(lineId, { qty: '3', price: '90' }))
    await waitFor('the edit is stored', () => client.docStatus(docId).state === 'synced' && client.docStatus(docId).pending === 0, () => client.explain(docId))
    assert.equal(h.invalid().filter((v) => v.key.startsWith(`l.${lineId}.`)), [], 'nothing invalid is left on the line')
    const reader = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'reader', seed: SEED + 1 })
    await reader.subscribe(docId)
    await reader.waitFor('the reader has the edit', () => reader.replica(docId).state().lines[0]?.qty === '3')
    assert.is(reader.replica(docId).state().lines[0]!.price.amount, '90')
    await Promise.all([reader.close(), client.close()])
  } finally {
    await relay.stop()
  }
})

test.run()
