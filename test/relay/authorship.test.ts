/**
 * Who an event is attributed to, on a real relay process: meta.user is the
 * pushing token's subject, stamped by the relay, never the device's claim.
 * A device that names someone else (a forged or stale `user` option) is not
 * disconnected and its change is not lost: the change is stored under the
 * token's subject, which is what other devices, the admin history and the
 * audit trail show. A token without a subject leaves no name at all (the
 * trail names the replica). Demo tokens (/demo/token) keep working.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type EventEnvelope, type PurchaseId, auditTrail, parsePurchaseId, yjsBackend } from '@concord/core'
import { memoryStorage } from '@concord/client'
import { createNodeClient } from '@concord/client/node'
import { signToken } from '@concord/relay'
import { waitFor } from '../support/client-relay.js'
import { NativeTestClient } from '../support/native-test-client.js'
import { type RelayProcess, TEST_SECRET, startRelayProcess } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'

let relay: RelayProcess
let admin: string
test.before(async () => {
  relay = await startRelayProcess()
  admin = await signToken(TEST_SECRET, { sub: 'ops', admin: true }, 3600)
})
test.after(async () => {
  assert.is((await relay.stop()).code, 0)
})

const rights = ['read', 'write', 'resolve'] as const

/** Every event of `actor` that `reader` received for the document. */
function eventsOf(reader: NativeTestClient, docId: PurchaseId, actor: string): EventEnvelope[] {
  return [...reader.replica(docId).log.events()].filter((e) => e.actor === actor)
}

async function history(url: string, docId: PurchaseId): Promise<{ id: string; actor: string; meta: { user?: string } }[]> {
  const res = await fetch(`${url}/admin/docs/${docId}/history?limit=1000`, { headers: { authorization: `Bearer ${admin}` } })
  assert.is(res.status, 200)
  return ((await res.json()) as { events: { id: string; actor: string; meta: { user?: string } }[] }).events
}

test('an event naming another user is stored under the token subject; stamps naming someone else are refused; the connection stays open', async () => {
  const doc = parsePurchaseId('01J8AUTH000000000000000001')
  const alice = await signToken(TEST_SECRET, { sub: 'alice', docs: ['*'], rights: [...rights] }, 3600)
  // A device whose stamps name "mallory" on alice's token: refused, naming the stamp.
  const forger = await NativeTestClient.connect(relay.wsUrl, alice, { replica: 'forger', seed: SEED, user: 'mallory' })
  forger.createPurchase(parsePurchaseId('01J8AUTH000000000000000009'), { currency: 'EUR', supplier: 'Acme' })
  await forger.subscribe(parsePurchaseId('01J8AUTH000000000000000009'))
  await forger.push(parsePurchaseId('01J8AUTH000000000000000009'))
  assert.ok(forger.rejects.length > 0 && forger.rejects.every((x) => x.code === 'FORBIDDEN' && x.reason.includes('"mallory"')), JSON.stringify(forger.rejects))
  await forger.close()
  // A device whose stamps name alice but whose meta.user claims "mallory": stored, under alice.
  const w = await NativeTestClient.connect(relay.wsUrl, alice, { replica: 'mallory', seed: SEED })
  const r = w.createPurchase(doc, { currency: 'EUR', supplier: 'Acme' })
  await w.subscribe(doc)
  r.addLine({ product: 'Desk', qty: '1', price: '100' })
  const claimed = w.unpushed(doc).map((e) => ({ ...e, meta: { ...e.meta, user: 'mallory' } }))
  assert.ok(claimed.length >= 2, 'the device claims another name')
  await w.push(doc, claimed)
  assert.equal(w.rejects, [], 'nothing refused')
  assert.ok(claimed.every((e) => w.acked.has(e.id)), 'every change stored and acknowledged')

  const reader = await NativeTestClient.connect(relay.wsUrl, await signToken(TEST_SECRET, { sub: 'auditor', docs: ['*'], rights: ['read'] }, 3600), { replica: 'auditor', seed: SEED + 1 })
  await reader.subscribe(doc)
  await reader.waitFor('the reader has the writer events', () => eventsOf(reader, doc, 'mallory').length === claimed.length)
  assert.equal(eventsOf(reader, doc, 'mallory').map((e) => e.meta.user), claimed.map(() => 'alice'), 'other devices see the token subject')
  const trail = auditTrail(yjsBackend, [...reader.replica(doc).log.events()])
  assert.ok(trail.filter((t) => t.actor === 'mallory').every((t) => t.user === 'alice'), 'the audit trail names alice')
  assert.ok(!trail.some((t) => t.user === 'mallory'), 'the claimed name appears nowhere')
  assert.equal((await history(relay.url, doc)).filter((e) => e.actor === 'mallory').map((e) => e.meta.user), claimed.map(() => 'alice'), 'so does the admin history')

  // Still connected: a later change goes through the same socket.
  r.setSupplier('Acme Two')
  const later = w.unpushed(doc).filter((e) => !w.pushed.has(e.id))
  await w.push(doc, later)
  assert.ok(later.every((e) => w.acked.has(e.id)))
  await reader.waitFor('the later change arrives', () => eventsOf(reader, doc, 'mallory').length === claimed.length + later.length)
  assert.is(eventsOf(reader, doc, 'mallory').at(-1)!.meta.user, 'alice')

  // A retry of a stored event under another token does not re-attribute it: the stored copy wins.
  const bob = await NativeTestClient.connect(relay.wsUrl, await signToken(TEST_SECRET, { sub: 'bob', docs: ['*'], rights: [...rights] }, 3600), { replica: 'mallory2', seed: SEED + 2 })
  await bob.subscribe(doc)
  await bob.push(doc, [claimed[0]!])
  assert.ok(bob.acked.has(claimed[0]!.id), 'a retry is acknowledged')
  assert.is((await history(relay.url, doc)).find((e) => e.id === claimed[0]!.id)?.meta.user, 'alice')
  await Promise.all([w.close(), reader.close(), bob.close()])
})

test('the sync client: its own events come back stamped without upsetting it; other devices see the subject', async () => {
  const url = `${relay.wsUrl}/sync`
  const token = await signToken(TEST_SECRET, { sub: 'alice', docs: ['*'], rights: [...rights] }, 3600)
  const a = await createNodeClient({ url, token, storage: memoryStorage('authorship-a'), user: 'alice', device: 'laptop' })
  const h = await a.createPurchase({ currency: 'EUR', supplier: 'Acme' })
  await waitFor('a is synced and numbered', () => a.status.overall === 'synced' && h.state().number !== null, () => a.status)
  // An acknowledged change does not move a's cursor (only events received do)...
  await h.run((r) => r.setSupplier('Acme Two'))
  await waitFor('a is synced', () => a.status.overall === 'synced' && a.docStatus(h.id).pending === 0, () => a.status)
  const cursor = a.docStatus(h.id).cursor
  // ...so reconnecting catches up from before it: the relay sends a's own event back, now naming alice.
  a.goOffline()
  a.goOnline()
  await waitFor('a is synced again', () => a.status.overall === 'synced' && a.docStatus(h.id).caughtUp && a.docStatus(h.id).cursor > cursor, () => a.status)
  assert.is(a.docStatus(h.id).state, 'synced', a.explain(h.id))
  assert.is(a.status.error, undefined)
  const b = await createNodeClient({ url, token: await signToken(TEST_SECRET, { sub: 'auditor', docs: ['*'], rights: ['read'] }, 3600), storage: memoryStorage('authorship-b') })
  const hb = await b.open(h.id)
  await waitFor('b has both changes', () => hb.exists && hb.state().supplier.values.join() === 'Acme Two', () => b.status)
  const users = hb.history().filter((e) => e.actor === a.replicaId).map((e) => e.user)
  assert.ok(users.length >= 2 && users.every((u) => u === 'alice'), `b's audit trail: ${users.join(', ')}`)
  await Promise.all([a.close(), b.close()])
})

test('a token without a subject leaves no user name; the trail names the replica', async () => {
  const doc = parsePurchaseId('01J8AUTH000000000000000002')
  const anonymous = await signToken(TEST_SECRET, { docs: ['*'], rights: [...rights] }, 3600)
  const w = await NativeTestClient.connect(relay.wsUrl, anonymous, { replica: 'nameless', seed: SEED + 3 })
  assert.is(w.welcome?.user, null)
  w.createPurchase(doc, { currency: 'EUR', supplier: 'Acme' })
  await w.subscribe(doc)
  // The stamps name nobody (no subject to name); the envelope claims a name the token does not vouch for.
  const sent = w.unpushed(doc).map((e) => ({ ...e, meta: { ...e.meta, user: 'nameless' } }))
  await w.push(doc, sent)
  assert.equal(w.rejects, [])
  const events = (await history(relay.url, doc)).filter((e) => e.actor === 'nameless')
  assert.is(events.length, sent.length)
  assert.ok(events.every((e) => e.meta.user === undefined), 'no unvouched name is stored')
  await w.close()
})

test('demo mode: events carry the name the demo token was issued for', async () => {
  const demo = await startRelayProcess({ secret: null })
  try {
    const res = await fetch(`${demo.url}/demo/token`, { method: 'POST', body: JSON.stringify({ user: 'Dana' }) })
    const { token } = (await res.json()) as { token: string }
    const doc = parsePurchaseId('01J8AUTH000000000000000003')
    const w = await NativeTestClient.connect(demo.wsUrl, token, { replica: 'demoDevice', seed: SEED + 4 })
    w.createPurchase(doc, { currency: 'EUR', supplier: 'Acme' })
    await w.subscribe(doc)
    const sent = w.unpushed(doc)
    await w.push(doc)
    assert.equal(w.rejects, [])
    const reader = await NativeTestClient.connect(demo.wsUrl, token, { replica: 'demoReader', seed: SEED + 5 })
    await reader.subscribe(doc)
    await reader.waitFor('the reader has the events', () => eventsOf(reader, doc, 'demoDevice').length === sent.length)
    assert.ok(eventsOf(reader, doc, 'demoDevice').every((e) => e.meta.user === 'Dana'))
    await Promise.all([w.close(), reader.close()])
  } finally {
    await demo.stop()
  }
})

test.run()
