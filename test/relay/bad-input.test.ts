/**
 * Bad input against a real relay process: each gets its typed error or close
 * code, the relay stays up, and the stored document still loads unchanged.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { type EventEnvelope, type PurchaseId, parsePurchaseId } from '@concord/core'
import { canonicalJson, flattenPurchase } from '@concord/core/internal'
import { CLOSE, PROTOCOL_VERSION, encodeClientMessage, encodeYMessage } from '@concord/core/protocol'
import { signToken } from '@concord/relay'
import { NativeTestClient, waitFor } from '../support/native-test-client.js'
import { type RelayProcess, TEST_SECRET, startRelayProcess } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'

const DOC: PurchaseId = parsePurchaseId('01J8BADINPUT00000000000PO1')
const MAX_FRAME = 64 * 1024
let relay: RelayProcess
let rw: string
let ro: string
let baseline: { view: string; cursor: number; events: number }
let seed = SEED

async function client(token = rw, hello = true) {
  return NativeTestClient.connect(relay.wsUrl, token, { replica: `bad${++seed}`, seed, hello })
}

async function snapshotOfStore() {
  const c = await client()
  await c.subscribe(DOC)
  const r = c.replica(DOC)
  const events = c.messages.reduce((n, m) => n + (m.t === 'events' ? m.events.length : 0), 0)
  const out = { view: canonicalJson(Object.fromEntries(flattenPurchase(r.state()))), cursor: c.cursors.get(DOC) ?? 0, events }
  await c.close()
  return out
}

/** The error the relay sent before closing, and the close. */
async function expectClose(c: NativeTestClient, code: number, errorCode?: string) {
  const info = await c.waitClosed()
  assert.is(info.code, code, `close code (reason: ${info.reason}; errors ${JSON.stringify(c.errors)})`)
  if (errorCode !== undefined) {
    assert.ok(c.errors.some((e) => e.code === errorCode && e.fatal), `error ${errorCode} before the close; got ${JSON.stringify(c.errors)}`)
  }
}

test.before(async () => {
  relay = await startRelayProcess({ args: ['--max-frame-bytes', String(MAX_FRAME), '--handshake-timeout-ms', '500'] })
  rw = await signToken(TEST_SECRET, { sub: 'writer', docs: ['*'], rights: ['read', 'write'] }, 3600)
  ro = await signToken(TEST_SECRET, { sub: 'reader', docs: ['*'], rights: ['read'] }, 3600)
  const c = await client()
  const r = c.createPurchase(DOC)
  await c.subscribe(DOC)
  r.addLine({ product: 'Stable', qty: '1', price: '9.99' })
  await c.push(DOC)
  await c.waitFor('the order number', () => r.state().number !== null)
  await c.close()
  baseline = await snapshotOfStore()
})

test.after(async () => {
  const health = await fetch(`${relay.url}/healthz`)
  assert.is(health.status, 200, 'the relay is still up')
  const after = await snapshotOfStore()
  assert.equal(after, baseline, 'the stored document loads unchanged')
  assert.is((await relay.stop()).code, 0)
})

test('malformed frame (truncated message) closes with MALFORMED after a typed error', async () => {
  const c = await client()
  c.sendRaw(new Uint8Array([0x03]))
  await expectClose(c, CLOSE.MALFORMED, 'MALFORMED_FRAME')
})

test('unknown message types, before and after hello', async () => {
  const c = await client()
  c.sendRaw(new Uint8Array([0x7f, 0, 0]))
  await expectClose(c, CLOSE.MALFORMED, 'UNKNOWN_MESSAGE_TYPE')
  const d = await client(rw, false)
  d.sendRaw(new Uint8Array([0x41, 1]))
  await expectClose(d, CLOSE.MALFORMED, 'UNKNOWN_MESSAGE_TYPE')
})

test('anything but hello first is refused', async () => {
  const c = await client(rw, false)
  c.send({ t: 'ping', nonce: 1 })
  await expectClose(c, CLOSE.MALFORMED, 'MALFORMED_FRAME')
})

test('a text frame violates the policy', async () => {
  const c = await client()
  c.sendRaw('{"hello":1}')
  await expectClose(c, CLOSE.POLICY_VIOLATION)
})

test('an oversized frame is closed with 1009', async () => {
  const c = await client()
  c.sendRaw(new Uint8Array(MAX_FRAME + 100))
  await expectClose(c, CLOSE.FRAME_TOO_LARGE)
})

test('a truncated varint closes with MALFORMED', async () => {
  const c = await client()
  c.sendRaw(new Uint8Array([0x06, 0x80]))
  await expectClose(c, CLOSE.MALFORMED, 'MALFORMED_FRAME')
})

test('an unsupported protocol version', async () => {
  const c = await client(rw, false)
  c.sendRaw(encodeClientMessage({ t: 'hello', version: PROTOCOL_VERSION + 41, token: rw, client: 'future/9', device: 'test' }))
  await expectClose(c, CLOSE.UNSUPPORTED_VERSION, 'UNSUPPORTED_VERSION')
})

test('a protocol 2 client (event bodies with the backend as a flag bit) is refused with UNSUPPORTED_VERSION, not misread', async () => {
  const c = await client(rw, false)
  c.sendRaw(encodeClientMessage({ t: 'hello', version: 2, token: rw, client: 'concord-client/old', device: 'test' }))
  await expectClose(c, CLOSE.UNSUPPORTED_VERSION, 'UNSUPPORTED_VERSION')
  const refusal = c.errors.find((e) => e.code === 'UNSUPPORTED_VERSION')!
  assert.match(refusal.message, new RegExp(`protocol version 2 is not supported \\(this side speaks ${PROTOCOL_VERSION}\\)`))
})

test('no hello within the handshake time', async () => {
  const c = await client(rw, false)
  await expectClose(c, CLOSE.HANDSHAKE_TIMEOUT, 'HANDSHAKE_TIMEOUT')
})

test('forged and malformed tokens are UNAUTHORIZED; an expired one TOKEN_EXPIRED', async () => {
  const forged = await signToken('another-secret-that-is-long-enough-0123456789', { sub: 'mallory', docs: ['*'], rights: ['read', 'write'] }, 3600)
  for (const token of [forged, 'not.a.jwt', '']) {
    const c = await client(token, false)
    c.send({ t: 'hello', version: PROTOCOL_VERSION, token, client: 't', device: 'test' })
    await expectClose(c, CLOSE.UNAUTHORIZED, 'UNAUTHORIZED')
  }
  const expired = await signToken(TEST_SECRET, { sub: 'late', docs: ['*'], rights: ['read'] }, -60)
  const c = await client(expired, false)
  c.send({ t: 'hello', version: PROTOCOL_VERSION, token: expired, client: 't', device: 'test' })
  await expectClose(c, CLOSE.TOKEN_EXPIRED, 'TOKEN_EXPIRED')
})

test('a token that expires while connected closes the socket with TOKEN_EXPIRED; a refresh extends it', async () => {
  // exp has whole seconds: a 3 s token lives 2 to 3 s.
  const c = await client(await signToken(TEST_SECRET, { sub: 'brief', docs: ['*'], rights: ['read'] }, 3))
  await expectClose(c, CLOSE.TOKEN_EXPIRED, 'TOKEN_EXPIRED')
  const d = await client(await signToken(TEST_SECRET, { sub: 'brief', docs: ['*'], rights: ['read'] }, 3))
  d.send({ t: 'auth', token: rw })
  await d.waitFor('authorized', () => d.messages.some((m) => m.t === 'authorized'))
  // Past the first token's expiry the connection is still open and answers.
  await waitFor('the first token to expire', () => Date.now() > (d.welcome?.expiresAt ? Date.parse(d.welcome.expiresAt) + 200 : 0), 5000)
  await d.ping()
  await d.close()
})

test('garbage as a Yjs update, an unknown dependency and a read-only write are rejected per event; the socket stays up', async () => {
  const writer = await client()
  await writer.subscribe(DOC)
  const r = writer.replica(DOC)
  const good = r.addLine({ product: 'Never stored', qty: '1', price: '1' }).event
  const garbage: EventEnvelope = { ...good, payload: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }
  await writer.push(DOC, [garbage])
  assert.equal(writer.rejects.map((x) => [x.id, x.code]), [[good.id, 'INVALID_UPDATE']])
  const orphan: EventEnvelope = { ...good, id: `${writer.replicaId}.5` as EventEnvelope['id'], seq: 5 }
  await writer.push(DOC, [orphan])
  assert.is(writer.rejects[1]?.code, 'UNKNOWN_EVENT')
  await writer.ping()

  const reader = await client(ro)
  await reader.subscribe(DOC)
  const rr = reader.replica(DOC)
  const attempt = rr.addLine({ product: 'Read-only write', qty: '1', price: '1' }).event
  await reader.push(DOC, [attempt])
  assert.equal(reader.rejects.map((x) => [x.id, x.code]), [[attempt.id, 'FORBIDDEN']])
  await reader.ping()
  assert.is(reader.closeInfo, undefined)
  await Promise.all([writer.close(), reader.close()])
})

/** A raw y-websocket connection (not the provider) to look at exact bytes. */
async function yRaw(docId: string, token: string) {
  const ws = new WebSocket(`${relay.wsUrl}/y/${docId}?token=${encodeURIComponent(token)}`)
  const frames: Uint8Array[] = []
  let close: { code: number; reason: string } | undefined
  ws.on('message', (d: Buffer) => frames.push(new Uint8Array(d)))
  ws.on('close', (code, reason) => (close = { code, reason: reason.toString() }))
  ws.on('error', () => {})
  return { ws, frames, closed: () => close }
}

test('y-websocket: read-only writes get permission denied; garbage and unknown types close; bad tokens close', async () => {
  const doc = new Y.Doc()
  doc.getText('t:notes').insert(0, 'should not land')
  const update = Y.encodeStateAsUpdate(doc)

  const reader = await yRaw(DOC, ro)
  await waitFor('sync step 1 from the relay', () => reader.frames.length > 0)
  reader.ws.send(encodeYMessage({ t: 'update', update }))
  const denied = await waitFor('permission denied', () => reader.frames.find((f) => f[0] === 2 && f[1] === 0))
  assert.ok(new TextDecoder().decode(denied.slice(3)).includes('read-only'))
  assert.is(reader.closed(), undefined, 'a read-only client stays connected')
  reader.ws.close()

  const garbage = await yRaw(DOC, rw)
  await waitFor('open', () => garbage.frames.length > 0)
  garbage.ws.send(new Uint8Array([0, 2, 4, 9, 9, 9, 9]))
  assert.is((await waitFor('garbage update close', () => garbage.closed())).code, CLOSE.MALFORMED)

  const unknown = await yRaw(DOC, rw)
  await waitFor('open', () => unknown.frames.length > 0)
  unknown.ws.send(new Uint8Array([9, 1, 2]))
  assert.is((await waitFor('unknown type close', () => unknown.closed())).code, CLOSE.MALFORMED)

  const truncated = await yRaw(DOC, rw)
  await waitFor('open', () => truncated.frames.length > 0)
  truncated.ws.send(new Uint8Array([0, 0x80]))
  assert.is((await waitFor('truncated varint close', () => truncated.closed())).code, CLOSE.MALFORMED)

  const forged = await yRaw(DOC, 'forged.token.value')
  assert.is((await waitFor('forged token close', () => forged.closed())).code, CLOSE.UNAUTHORIZED)
  const expired = await yRaw(DOC, await signToken(TEST_SECRET, { sub: 'late', docs: ['*'], rights: ['read'] }, -60))
  assert.is((await waitFor('expired token close', () => expired.closed())).code, CLOSE.TOKEN_EXPIRED)
  const other = await yRaw(DOC, await signToken(TEST_SECRET, { sub: 'elsewhere', docs: ['OTHER-*'], rights: ['read', 'write'] }, 3600))
  assert.is((await waitFor('forbidden document close', () => other.closed())).code, CLOSE.FORBIDDEN)
})

test.run()
