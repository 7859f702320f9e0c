/**
 * The unmodified y-websocket v3 client against a real relay process: two
 * WebsocketProviders (Node: `ws` as the WebSocket, no BroadcastChannel) edit
 * one document through /y/<docId> and converge, with awareness; a native
 * client of the same document sees their edits and they see its edits.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { type PurchaseId, parsePurchaseId, yjsBackend, type ReplicaId } from '@concord/core'
import { readPurchase } from '@concord/core/internal'
import { signToken } from '@concord/relay'
import { NativeTestClient, waitFor } from '../support/native-test-client.js'
import { type RelayProcess, TEST_SECRET, startRelayProcess } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'

let relay: RelayProcess
let token: string
const providers: WebsocketProvider[] = []

function provider(room: string, tok = token): WebsocketProvider {
  const doc = new Y.Doc()
  const p = new WebsocketProvider(`${relay.wsUrl}/y`, room, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    params: { token: tok },
  })
  providers.push(p)
  return p
}

/** The purchase as a y-websocket client's Y.Doc holds it, read with core (on a copy, not the client's doc). */
function purchaseOf(ydoc: Y.Doc) {
  const copy = yjsBackend.create('reader' as ReplicaId)
  copy.applyBatch([Y.encodeStateAsUpdate(ydoc)])
  return readPurchase(copy.read())
}

test.before(async () => {
  // Plain Yjs rooms (text, maps, arrays that are no purchase) need the relay to allow them.
  relay = await startRelayProcess({ args: ['--generic-rooms', 'true'] })
  token = await signToken(TEST_SECRET, { sub: 'yuser', docs: ['*'], rights: ['read', 'write'] }, 3600)
})
test.after(async () => {
  // The provider's Awareness keeps an interval until its doc is destroyed.
  for (const p of providers) {
    p.destroy()
    p.doc.destroy()
  }
  await relay.stop()
})

test('two y-websocket providers converge through /y/<docId>, with awareness', async () => {
  const p1 = provider('plain-yjs-room')
  const p2 = provider('plain-yjs-room')
  await waitFor('both providers synced', () => p1.synced && p2.synced)
  p1.doc.getText('text').insert(0, 'hello ')
  p2.doc.getText('text').insert(0, 'world ')
  p1.doc.getMap('m').set('k1', 1)
  p2.doc.getArray('a').push(['x'])
  await waitFor('text converged', () => p1.doc.getText('text').toString() === p2.doc.getText('text').toString() && p1.doc.getText('text').length === 12)
  assert.ok(p1.doc.getText('text').length === 12)
  await waitFor('map and array converged', () => p2.doc.getMap('m').get('k1') === 1 && p1.doc.getArray('a').length === 1)

  p1.awareness.setLocalStateField('user', { name: 'Anna' })
  p2.awareness.setLocalStateField('user', { name: 'Ben' })
  await waitFor('p2 sees p1 presence', () => (p2.awareness.getStates().get(p1.doc.clientID) as { user?: { name: string } } | undefined)?.user?.name === 'Anna')
  await waitFor('p1 sees p2 presence', () => (p1.awareness.getStates().get(p2.doc.clientID) as { user?: { name: string } } | undefined)?.user?.name === 'Ben')

  // A third provider joining later gets the stored document and the current presence.
  const p3 = provider('plain-yjs-room')
  await waitFor('p3 synced with the whole text', () => p3.synced && p3.doc.getText('text').toString() === p1.doc.getText('text').toString())
  await waitFor('p3 sees both presences', () => p3.awareness.getStates().has(p1.doc.clientID) && p3.awareness.getStates().has(p2.doc.clientID))

  // A reconnect answers the relay's step 1 with a step 2 that always carries the client's whole
  // delete set: nothing new, so nothing is stored.
  p1.doc.getText('text').delete(0, 1)
  await waitFor('the deletion everywhere', () => p2.doc.getText('text').length === 11)
  const watcher = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'watcher', seed: SEED + 5 })
  const room = parsePurchaseId('plain-yjs-room')
  await watcher.subscribe(room)
  const stored = () => watcher.messages.reduce((n, m) => n + (m.t === 'events' ? m.events.length : 0), 0)
  const before = stored()
  p1.disconnect()
  p1.connect()
  await waitFor('p1 synced again', () => p1.synced)
  p1.doc.getText('text').insert(0, '!')
  await watcher.waitFor('the edit after the reconnect', () => stored() > before)
  await watcher.ping()
  assert.is(stored(), before + 1, 'only the new edit was stored, not the re-sent state')
  await watcher.close()

  // A provider that leaves is removed from the others' presence.
  const gone = p2.doc.clientID
  p2.destroy()
  await waitFor('p1 forgets p2 presence', () => !p1.awareness.getStates().has(gone))
})

test('native clients and y-websocket providers see each other on one purchase', async () => {
  const docId: PurchaseId = parsePurchaseId('01J8YWEBSOCKET00000000PO01')
  const native = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'native1', seed: SEED })
  const r = native.createPurchase(docId, { currency: 'EUR', supplier: 'Y Supplies' })
  await native.subscribe(docId)
  const line = r.addLine({ product: 'Cable', qty: '10', price: '3.50' }).lineId
  await native.push(docId)

  const p1 = provider(docId)
  const p2 = provider(docId)
  await waitFor('providers synced', () => p1.synced && p2.synced)
  await waitFor('y clients see the purchase the native client made', () => {
    const s = purchaseOf(p1.doc)
    return s.supplier.values[0] === 'Y Supplies' && s.lines.length === 1 && s.lines[0]?.product === 'Cable'
  })
  // The relay numbered it; the y clients see that too.
  await waitFor('y clients see the order number', () => purchaseOf(p2.doc).number !== null)

  // A y-websocket edit (the notes text) reaches the native client as a stored event.
  p1.doc.getText('t:notes').insert(0, 'typed in a Yjs app')
  await native.waitFor('native sees the y edit', () => r.state().notes === 'typed in a Yjs app')
  const imported = native.messages.flatMap((m) => (m.t === 'events' ? m.events.map((e) => e.event) : [])).filter((e) => e.kind === 'yjs.update')
  assert.ok(imported.length > 0, 'the y edit arrived as an imported event')
  assert.is(imported[0]!.meta.user, 'yuser')
  await waitFor('p2 sees p1 notes', () => purchaseOf(p2.doc).notes === 'typed in a Yjs app')

  // And a native edit after that reaches both providers.
  r.updateLine(line, { qty: '12' })
  await native.push(docId)
  await waitFor('providers see the native edit', () => purchaseOf(p1.doc).lines[0]?.qty === '12' && purchaseOf(p2.doc).lines[0]?.qty === '12')
  await native.close()
})

test('an update is stored before it is echoed: a fresh provider after a restart gets it', async () => {
  const p = provider('durable-room')
  await waitFor('synced', () => p.synced)
  p.doc.getText('text').insert(0, 'survives a restart')
  // The relay echoes the update to its sender only once stored: wait for that echo via a second provider.
  const q = provider('durable-room')
  await waitFor('second provider has it', () => q.doc.getText('text').toString() === 'survives a restart')
  p.destroy()
  q.destroy()
  await relay.kill()
  relay = await startRelayProcess({ dataDir: relay.dataDir })
  const fresh = provider('durable-room')
  await waitFor('fresh provider after restart', () => fresh.synced && fresh.doc.getText('text').toString() === 'survives a restart')
})

test.run()
