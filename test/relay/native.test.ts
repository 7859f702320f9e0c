/**
 * Two native clients edit one purchase through a real relay process and
 * converge, including a catch-up from a cursor after one disconnects (and
 * edits offline meanwhile). The relay gives the purchase its human number.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type PurchaseId, type PurchaseReplica, parsePurchaseId } from '@concord/core'
import { canonicalJson, eventHash, flattenPurchase } from '@concord/core/internal'
import { signToken } from '@concord/relay'
import { NativeTestClient } from '../support/native-test-client.js'
import { type RelayProcess, TEST_SECRET, startRelayProcess } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'

const DOC: PurchaseId = parsePurchaseId('01J8NATIVE0000000000000PO1')
let relay: RelayProcess
let token: string

function view(r: PurchaseReplica): string {
  return canonicalJson(Object.fromEntries(flattenPurchase(r.state())))
}

test.before(async () => {
  relay = await startRelayProcess()
  token = await signToken(TEST_SECRET, { sub: 'anna', docs: ['*'], rights: ['read', 'write', 'resolve'] }, 3600)
})
test.after(async () => {
  const exit = await relay.stop()
  assert.is(exit.code, 0, `graceful stop exits 0; output:\n${relay.output()}`)
})

test('two native clients edit one purchase and converge; catch-up from a cursor after a disconnect', async () => {
  const a = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'devA', seed: SEED })
  const b = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'devB', seed: SEED + 1 })
  assert.is(a.welcome?.user, 'anna')
  assert.is(a.welcome?.relayId, relay.relayId)

  const ra = a.createPurchase(DOC)
  await a.subscribe(DOC)
  await b.subscribe(DOC)
  const line = ra.addLine({ product: 'Bolts M8', qty: '100', price: '0.25' }).lineId
  await a.push(DOC)
  assert.equal(a.rejects, [])

  const rb = b.replica(DOC)
  await b.waitFor('b to receive the purchase', () => rb.exists && rb.state().lines.length === 1)
  // The relay numbers a purchase on first sync: both devices get the same number.
  await a.waitFor('the order number at a', () => ra.state().number !== null)
  await b.waitFor('the order number at b', () => rb.state().number !== null)
  assert.match(ra.state().number ?? '', /^PO-\d{4}-\d{5}$/)
  assert.is(rb.state().number, ra.state().number)

  // Concurrent edits from both devices.
  rb.updateLine(line, { qty: '120' })
  ra.addLine({ product: 'Nuts M8', qty: '100', price: '0.10' })
  ra.editNotes(0, 0, 'deliver to gate 3')
  await Promise.all([a.push(DOC), b.push(DOC)])
  assert.equal([...a.rejects, ...b.rejects], [])
  await a.waitFor('a and b to converge', () => view(ra) === view(rb) && ra.log.heads().join() === rb.log.heads().join())
  assert.is(ra.state().lines.length, 2)
  // Every subscriber is told the relay's validation of the merged state.
  await a.waitFor('validated at a', () => a.validated.get(DOC))

  // b disconnects at a cursor; a edits on; b edits offline; b comes back and catches up from its cursor.
  const cursor = b.cursors.get(DOC) ?? 0
  assert.ok(cursor > 0, 'b has a cursor')
  await b.close()
  ra.addLine({ product: 'Washers M8', qty: '200', price: '0.02' })
  ra.updateLine(line, { price: '0.24' })
  await a.push(DOC)
  rb.editNotes(0, 0, 'URGENT: ')
  const b2 = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'devB', resume: b })
  await b2.subscribe(DOC)
  const frames = b2.messages.filter((m) => m.t === 'events')
  assert.ok(frames.length > 0, 'the catch-up sent events')
  for (const f of frames) if (f.t === 'events') assert.ok(f.events.every((e) => e.seq > cursor), 'a catch-up sends only what follows the cursor')
  assert.is(rb.state().lines.length, 3)
  await b2.push(DOC)
  await a.waitFor('a to see the offline edit', () => ra.state().notes.startsWith('URGENT: '))
  await a.waitFor('convergence after the catch-up', () => view(ra) === view(rb))
  assert.is(ra.state().notes, 'URGENT: deliver to gate 3')

  // A late joiner with nothing gets the whole document.
  const c = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'devC', seed: SEED + 2 })
  await c.subscribe(DOC)
  assert.is(view(c.replica(DOC)), view(ra))
  assert.equal(c.undecodable, [])

  // A re-sent event is recognised: acked again, not stored twice.
  const first = ra.log.events().find((e) => e.actor === 'devA')!
  a.acked.delete(first.id)
  await a.push(DOC, [first])
  assert.ok(a.acked.has(first.id), 'a duplicate push is acked')
  const d = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'devD', seed: SEED + 3 })
  await d.subscribe(DOC)
  const seen = d.messages.flatMap((m) => (m.t === 'events' ? m.events.map((e) => e.event.id) : []))
  assert.is(new Set(seen).size, seen.length, 'no event is stored twice')

  await Promise.all([a.close(), b2.close(), c.close(), d.close()])
})

test('pushes from many clients in one turn are stored and broadcast to every other subscriber', async () => {
  const doc = parsePurchaseId('01J8NATIVE0000000000000PO2')
  const clients = await Promise.all(
    Array.from({ length: 4 }, (_, i) => NativeTestClient.connect(relay.wsUrl, token, { replica: `burst${i}`, seed: SEED + 10 + i })),
  )
  const owner = clients[0]!
  owner.createPurchase(doc)
  for (const c of clients) await c.subscribe(doc)
  await owner.push(doc)
  for (const c of clients) await c.waitFor('the purchase everywhere', () => c.replica(doc).exists)
  for (const [i, c] of clients.entries()) for (let k = 0; k < 5; k++) c.replica(doc).addLine({ product: `P${i}-${k}`, qty: '1', price: '1' })
  await Promise.all(clients.map((c) => c.push(doc)))
  for (const c of clients) await c.waitFor(`all 20 lines at ${c.replicaId}`, () => c.replica(doc).state().lines.length === 20)
  const views = clients.map((c) => view(c.replica(doc)))
  assert.ok(views.every((v) => v === views[0]), 'every client converged')
  await Promise.all(clients.map((c) => c.close()))
})

test('a copy of an actor that offers other content under a stored id is refused for it and for every later event of that actor, in one push or in several', async () => {
  for (const [i, split] of [false, true].entries()) {
    const doc = parsePurchaseId(`01J8NATIVE0000000000RESTR${i}`)
    // The device's first life: its actor's first event is stored.
    const first = await NativeTestClient.connect(relay.wsUrl, token, { replica: `restored${i}`, seed: SEED + 20 })
    first.createPurchase(doc).addLine({ product: 'Bolts M8', qty: '100', price: '0.25' })
    await first.subscribe(doc)
    await first.push(doc)
    assert.equal(first.rejects, [])
    const stored = first.replica(doc).log.events().filter((e) => e.actor === first.replicaId)
    // Restored from a copy older than that, it writes the same ids again with other content, and one more.
    const copy = await NativeTestClient.connect(relay.wsUrl, token, { replica: `restored${i}`, seed: SEED + 21 })
    copy.createPurchase(doc).addLine({ product: 'Nuts M8', qty: '7', price: '0.10' })
    copy.replica(doc).editNotes(0, 0, 'built on the copy')
    const mine = copy.unpushed(doc)
    assert.ok(mine.length > stored.length, 'the copy wrote past what is stored')
    if (split) {
      // Several in flight: the later push arrives before the device read the first refusal.
      await Promise.all(mine.map((e) => copy.push(doc, [e])))
    } else await copy.push(doc, mine)
    assert.equal(copy.rejects.map((r) => [r.id, r.code]), mine.map((e) => [e.id, 'ID_CONFLICT']), 'every event of the copy is refused')
    assert.equal([...copy.acked], [])
    const reader = await NativeTestClient.connect(relay.wsUrl, token, { replica: `reader${i}`, seed: SEED + 22 })
    await reader.subscribe(doc)
    const held = reader.replica(doc).log.events().filter((e) => e.actor === first.replicaId)
    assert.equal(held.map((e) => [e.id, eventHash(e)]), stored.map((e) => [e.id, eventHash(e)]), 'the relay holds the first life only')
    assert.is(reader.replica(doc).state().lines[0]?.product, 'Bolts M8')
    await Promise.all([first.close(), copy.close(), reader.close()])
  }
})

test.run()
