/**
 * The relay is the trust boundary, on a real relay process: every write is
 * checked for what it does, on both endpoints, with ordinary tokens (read and
 * write, no resolve, no approve). Each scenario a new user tried against the
 * relay before it checked writes: a null in a line register, a resolution
 * relabelled as another kind, a deleted payment, a forged `by`, a price of
 * "banana", an approval without the right, a raw update that makes a
 * purchase. Each is refused with a typed code naming the rule, nothing of it
 * is stored or broadcast, the relay stays up, and the purchase reads as
 * before on a device that opens it afterwards.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  type ConflictId, type EventEnvelope, type LineId, type PurchaseId, type PurchaseReplica, parsePurchaseId,
} from '@concord/core'
import { signToken } from '@concord/relay'
import { envelopeFor, rawYjsUpdate, yConnect } from '../support/hostile.js'
import { NativeTestClient, waitFor } from '../support/native-test-client.js'
import { type RelayProcess, TEST_SECRET, startRelayProcess } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'

let relay: RelayProcess
/** read + write on every purchase, subject `eve`. */
let writer: string
let resolver: string
let approver: string
test.before(async () => {
  relay = await startRelayProcess()
  writer = await signToken(TEST_SECRET, { sub: 'eve', docs: ['*'], rights: ['read', 'write'] }, 3600)
  resolver = await signToken(TEST_SECRET, { sub: 'rita', docs: ['*'], rights: ['read', 'write', 'resolve'] }, 3600)
  approver = await signToken(TEST_SECRET, { sub: 'anna', docs: ['*'], rights: ['read', 'write', 'approve'] }, 3600)
})
test.after(async () => {
  assert.is((await relay.stop()).code, 0, 'the relay exits cleanly after every refusal')
})

let n = 0
const nextDoc = () => parsePurchaseId(`01J8TRST${String(++n).padStart(18, '0')}`)

/** A purchase with one line, stored through the relay by a writer. */
async function purchase(token = writer, replica = `dev${n + 1}`) {
  const docId = nextDoc()
  const c = await NativeTestClient.connect(relay.wsUrl, token, { replica, seed: SEED + n })
  const r = c.createPurchase(docId, { currency: 'EUR', supplier: 'Acme' })
  const { lineId } = r.addLine({ product: 'Desk', qty: '2', price: '100' })
  await c.subscribe(docId)
  await c.push(docId)
  assert.equal(c.rejects, [])
  return { docId, c, r, lineId }
}

/** What a device that opens the purchase now reads: from a fresh subscription. */
async function readBack(docId: PurchaseId) {
  const reader = await NativeTestClient.connect(relay.wsUrl, writer, { replica: `reader${++n}`, seed: SEED + n })
  await reader.subscribe(docId)
  const r = reader.replica(docId)
  await reader.close()
  return r
}

async function relayAlive(): Promise<void> {
  assert.is(relay.child.exitCode, null, 'the relay process is still running')
  assert.is((await fetch(`${relay.url}/healthz`)).status, 200)
}

/** A hostile event of the writer's own actor, pushed; resolves to the reject it got. */
async function pushHostile(c: NativeTestClient, docId: PurchaseId, e: EventEnvelope) {
  await c.push(docId, [e])
  const reject = c.rejects.find((x) => x.id === e.id)
  assert.ok(reject !== undefined, `${e.kind} ${e.id} was acknowledged: ${JSON.stringify(c.acked.has(e.id))}`)
  return reject
}

function lineQty(r: PurchaseReplica, line: LineId): string | undefined {
  return r.state().lines.find((l) => l.id === line)?.qty
}

test('a null written into a line register is refused on both endpoints; the relay and the purchase are unharmed', async () => {
  const { docId, c, r, lineId } = await purchase()
  const nullQty = (doc: import('yjs').Doc, ev: string) => {
    const regs = doc.getMap('regs')
    for (const k of [...regs.keys()]) if (k.startsWith(`l.${lineId}.qty\u0000`)) regs.delete(k)
    regs.set(`l.${lineId}.qty\u0000${ev}`, null)
  }
  const e = envelopeFor(r, c.replicaId, new Uint8Array(), 'line.update')
  const hostile = { ...e, payload: rawYjsUpdate(r, c.replicaId, (d) => nullQty(d, e.id)) }
  const reject = await pushHostile(c, docId, hostile)
  assert.is(reject.code, 'SCHEMA_VIOLATION')
  assert.match(reject.reason, `l.${lineId}.qty`)

  const y = await yConnect(relay.wsUrl, docId, writer)
  const before = y.messages.length
  y.send(rawYjsUpdate(r, 'raw-client', (d) => nullQty(d, 'raw-client.1')))
  assert.match(await y.denied(before), 'SCHEMA_VIOLATION')
  assert.is(y.closed(), undefined, 'the y client stays connected')
  y.close()

  await relayAlive()
  const back = await readBack(docId)
  assert.is(lineQty(back, lineId), '2', 'the quantity reads as before')
  assert.equal(back.log.events().map((x) => x.id).sort(), r.log.events().map((x) => x.id).sort(), 'nothing hostile was stored')
  await c.close()
})

test('other wrong types in the right places are refused: banana price, absurd quantity, a number where a record goes', async () => {
  const { docId, c, r, lineId } = await purchase()
  const cases: [string, (d: import('yjs').Doc, ev: string) => void][] = [
    ['price', (d, ev) => d.getMap('regs').set(`l.${lineId}.price\u0000${ev}`, { value: { amount: 'banana', currency: 'EUR' }, ev, hlc: r.log.events()[0]!.hlc })],
    ['qty', (d, ev) => d.getMap('regs').set(`l.${lineId}.qty\u0000${ev}`, { value: '1e999999', ev, hlc: r.log.events()[0]!.hlc })],
    ['payment', (d) => d.getMap('set:payments').set('01J8TRST000000000000PAYMNT', 42)],
    ['foreign', (d) => d.getMap('elsewhere').set('x', 1)],
    ['nested', (d) => d.getMap('set:receipts').set('01J8TRST000000000000NESTED', new (d.getMap('x').constructor as typeof import('yjs').Map)())],
  ]
  const y = await yConnect(relay.wsUrl, docId, writer)
  for (const [name, edit] of cases) {
    const from = y.messages.length
    y.send(rawYjsUpdate(r, `raw-${name}`, (d) => edit(d, `raw-${name}.1`)))
    const reason = await y.denied(from)
    assert.ok(/SCHEMA_VIOLATION|FORBIDDEN/.test(reason), `${name}: ${reason}`)
  }
  y.close()
  await relayAlive()
  const back = await readBack(docId)
  assert.equal(back.state().lines.map((l) => [l.qty, l.price.amount]), [['2', '100']])
  assert.is(back.state().payments.length, 0)
  await c.close()
})

test('a resolution needs the resolve right whatever its kind says, on both endpoints', async () => {
  const docId = nextDoc()
  const a = await NativeTestClient.connect(relay.wsUrl, writer, { replica: 'resA', seed: SEED + 100 })
  const b = await NativeTestClient.connect(relay.wsUrl, writer, { replica: 'resB', seed: SEED + 101 })
  a.createPurchase(docId, { currency: 'EUR', supplier: 'Acme' })
  await a.subscribe(docId)
  await a.push(docId)
  await b.subscribe(docId)
  // Concurrent supplier changes: a CONCURRENT_GUARDED_WRITE conflict on both.
  a.replica(docId).setSupplier('Alpha')
  b.replica(docId).setSupplier('Beta')
  await a.push(docId)
  await b.push(docId)
  await b.waitFor('b sees the conflict', () => b.replica(docId).conflicts().length > 0)
  const conflict = b.replica(docId).conflicts()[0]!
  const keep = { value: 'Alpha' }
  const resolution = b.replica(docId).resolve(conflict.id as ConflictId, 'keep', keep)
  assert.is(resolution.kind, 'conflict.resolve')

  const relabelled = { ...resolution, kind: 'header.supplier' }
  const reject = await pushHostile(b, docId, relabelled)
  assert.is(reject.code, 'FORBIDDEN')
  assert.match(reject.reason, 'resolve right')

  const y = await yConnect(relay.wsUrl, docId, writer)
  const from = y.messages.length
  y.send(resolution.payload)
  assert.match(await y.denied(from), 'FORBIDDEN')
  y.close()

  const back = await readBack(docId)
  assert.is(back.conflicts().length, 1, 'the conflict is still open')

  // Eve's resolution sent on a token that has the right is still eve's: its stamps name her, not rita.
  const rita = await NativeTestClient.connect(relay.wsUrl, resolver, { replica: 'resC', seed: SEED + 102 })
  await rita.subscribe(docId)
  await rita.push(docId, [resolution])
  assert.ok(rita.rejects.some((x) => x.id === resolution.id && x.code === 'FORBIDDEN'), 'a resolution stamped by eve is refused on rita\'s token')
  // Rita resolving herself is stored, and closes the conflict for everyone.
  const own = rita.replica(docId).resolve(conflict.id as ConflictId, 'keep', keep)
  await rita.push(docId, [own])
  assert.ok(rita.acked.has(own.id), JSON.stringify(rita.rejects))
  assert.is((await readBack(docId)).conflicts().length, 0)
  await Promise.all([a.close(), b.close(), rita.close()])
})

test('a recorded payment cannot be deleted or overwritten through /y/', async () => {
  const { docId, c, r } = await purchase()
  r.transition('confirm')
  const { id: paymentId } = r.recordPayment({ amount: '50', ref: 'wire 1' })
  await c.push(docId)
  assert.equal(c.rejects, [])
  const y = await yConnect(relay.wsUrl, docId, writer)
  let from = y.messages.length
  y.send(rawYjsUpdate(r, 'raw-delete', (d) => d.getMap('set:payments').delete(paymentId)))
  assert.match(await y.denied(from), 'insert-only')
  from = y.messages.length
  const stored = r.state().payments[0]!
  y.send(rawYjsUpdate(r, 'raw-overwrite', (d) => d.getMap('set:payments').set(paymentId, { ...stored, amount: '1' })))
  assert.match(await y.denied(from), 'insert-only')
  y.close()
  const back = await readBack(docId)
  assert.is(back.derived().totals.paid, 5000n, 'paid 50.00 still')
  await c.close()
})

test("the by inside a record is the token's subject: eve cannot record a payment as alice", async () => {
  const docId = nextDoc()
  const c = await NativeTestClient.connect(relay.wsUrl, writer, { replica: 'forger', seed: SEED + 200, user: 'alice' })
  const r = c.createPurchase(docId, { currency: 'EUR', supplier: 'Acme' })
  await c.subscribe(docId)
  await c.push(docId)
  const create = c.rejects.find((x) => x.id === r.log.events()[0]!.id)
  assert.ok(create !== undefined, 'the purchase created as alice is refused')
  assert.is(create.code, 'FORBIDDEN')
  assert.match(create.reason, 'createdBy')
  // The same device writing as the subject it authenticated as goes through.
  const honest = await NativeTestClient.connect(relay.wsUrl, writer, { replica: 'honest', seed: SEED + 201 })
  const h = honest.createPurchase(docId, { currency: 'EUR', supplier: 'Acme' })
  h.addLine({ product: 'Desk', qty: '1', price: '100' })
  h.transition('confirm')
  await honest.subscribe(docId)
  await honest.push(docId)
  assert.equal(honest.rejects, [])
  // A device claiming alice records a payment on eve's token.
  const forger = await NativeTestClient.connect(relay.wsUrl, writer, { replica: 'forger2', seed: SEED + 202, user: 'alice' })
  await forger.subscribe(docId)
  const { event } = forger.replica(docId).recordPayment({ amount: '10', ref: 'x' })
  const reject = await pushHostile(forger, docId, event)
  assert.is(reject.code, 'FORBIDDEN', reject.reason)
  assert.match(reject.reason, 'made by "alice"; the token names "eve"')
  // And a device name other than the connection's.
  const otherDevice = await NativeTestClient.connect(relay.wsUrl, writer, { replica: 'forger3', seed: SEED + 203 })
  await otherDevice.subscribe(docId)
  const r3 = otherDevice.replica(docId)
  const e = envelopeFor(r3, 'forger3', new Uint8Array(), 'payment.record')
  const stamp = { ev: e.id, hlc: e.hlc, by: 'eve', dev: 'alices-phone', at: e.meta.at }
  const payment = { id: '01J8TRST00000000000000DEV1', amount: '10', ref: 'x', date: '2026-12-03', ...stamp }
  const hostile = { ...e, payload: rawYjsUpdate(r3, 'forger3', (d) => {
    d.getMap('set:payments').set(payment.id, payment)
    d.getMap('clock').set('forger3', e.seq)
  }) }
  const r4 = await pushHostile(otherDevice, docId, hostile)
  assert.is(r4.code, 'FORBIDDEN')
  assert.match(r4.reason, 'device "alices-phone"', r4.reason)
  const back = await readBack(docId)
  assert.is(back.state().payments.length, 0)
  await Promise.all([c.close(), honest.close(), forger.close(), otherDevice.close()])
})

test('the kind label must say what the update does: a line.update that adds a payment is refused', async () => {
  const { docId, c, r } = await purchase()
  r.transition('confirm')
  await c.push(docId)
  const before = r.log.events().length
  const { event } = r.recordPayment({ amount: '10', ref: 'x' })
  assert.is(r.log.events().length, before + 1)
  const reject = await pushHostile(c, docId, { ...event, kind: 'line.update' })
  assert.is(reject.code, 'SCHEMA_VIOLATION')
  assert.match(reject.reason, 'line.update')
  await c.close()
})

test('approving needs the approve right; a write token cannot approve', async () => {
  const docId = nextDoc()
  const c = await NativeTestClient.connect(relay.wsUrl, writer, { replica: 'buyer', seed: SEED + 300 })
  const r = c.createPurchase(docId, { currency: 'EUR', supplier: 'Acme', approvalThreshold: '100' })
  r.addLine({ product: 'Desk', qty: '2', price: '100' })
  r.transition('submit')
  await c.subscribe(docId)
  await c.push(docId)
  assert.equal(c.rejects, [])
  const approve = r.transition('approve')
  const reject = await pushHostile(c, docId, approve)
  assert.is(reject.code, 'FORBIDDEN')
  assert.match(reject.reason, 'approve right')
  const anna = await NativeTestClient.connect(relay.wsUrl, approver, { replica: 'approver', seed: SEED + 301 })
  await anna.subscribe(docId)
  const ok = anna.replica(docId).transition('approve')
  await anna.push(docId, [ok])
  assert.equal(anna.rejects, [])
  assert.is((await readBack(docId)).derived().lifecycle.state, 'confirmed')
  await Promise.all([c.close(), anna.close()])
})

test('a room without a purchase: no generic content by default, and a raw update never creates a purchase', async () => {
  const docId = nextDoc()
  const y = await yConnect(relay.wsUrl, docId, writer)
  const from = y.messages.length
  const Y = await import('yjs')
  const doc = new Y.Doc()
  doc.getText('text').insert(0, 'hello')
  y.send(Y.encodeStateAsUpdate(doc))
  assert.match(await y.denied(from), 'generic-room')
  y.close()

  const generic = await startRelayProcess({ args: ['--generic-rooms', 'true'] })
  try {
    const g = await yConnect(generic.wsUrl, docId, writer)
    const at = g.messages.length
    g.send(Y.encodeStateAsUpdate(doc))
    // Accepted: echoed back as an update, no permission denied.
    await waitFor('the echo', () => g.messages.slice(at).some((m) => m.t === 'update'))
    assert.ok(!g.messages.slice(at).some((m) => m.t === 'authPermissionDenied'))
    // A purchase made by a device, then copied as raw Yjs into another room: refused.
    const maker = await NativeTestClient.connect(generic.wsUrl, writer, { replica: 'maker', seed: SEED + 400 })
    const made = maker.createPurchase(nextDoc(), { currency: 'EUR', supplier: 'Acme' })
    const raw = await yConnect(generic.wsUrl, nextDoc(), writer)
    const at2 = raw.messages.length
    raw.send(made.log.events()[0]!.payload)
    assert.match(await raw.denied(at2), 'create')
    g.close()
    raw.close()
    await maker.close()
  } finally {
    await generic.stop()
  }
})

test.run()
