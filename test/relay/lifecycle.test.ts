/**
 * The relay over a document's life and under pressure, on real processes:
 * periodic snapshots, idle unload and reload from snapshot plus tail,
 * graceful shutdown (SHUTTING_DOWN to every socket, exit 0), and the limits:
 * pre-auth bytes, rate limit, slow consumer (each limit on its own relay where they would interfere).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import pg from 'pg'
import WebSocket from 'ws'
import { type PurchaseId, type PurchaseReplica, parsePurchaseId } from '@concord/core'
import { canonicalJson, flattenPurchase } from '@concord/core/internal'
import { CLOSE, PROTOCOL_VERSION } from '@concord/core/protocol'
import { signToken } from '@concord/relay'
import { NativeTestClient, waitFor } from '../support/native-test-client.js'
import { type RelayProcess, TEST_SECRET, startRelayProcess } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'
import { TEST_PG_URL } from '../support/servers.js'

const DOC: PurchaseId = parsePurchaseId('01J8LIFECYCLE0000000000PO1')
let token: string
let admin: string

function view(r: PurchaseReplica): string {
  return canonicalJson(Object.fromEntries(flattenPurchase(r.state())))
}

async function metric(relay: RelayProcess, name: string): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
}

test.before(async () => {
  token = await signToken(TEST_SECRET, { sub: 'life', docs: ['*'], rights: ['read', 'write'] }, 3600)
  admin = await signToken(TEST_SECRET, { sub: 'ops', admin: true }, 3600)
})

test('snapshots every N events, idle unload, reload from snapshot plus tail, graceful shutdown', async () => {
  let relay = await startRelayProcess({ args: ['--idle-unload-ms', '300', '--snapshot-every', '5'] })
  try {
    const w = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'lifeW', seed: SEED })
    const r = w.createPurchase(DOC)
    await w.subscribe(DOC)
    for (let i = 0; i < 11; i++) {
      r.addLine({ product: `Item ${i}`, qty: String(i + 1), price: '2.50' })
      await w.push(DOC)
    }
    await w.waitFor('the order number', () => r.state().number !== null)
    r.editNotes(0, 0, 'after the snapshots')
    await w.push(DOC)
    const snapshots = await waitFor('a snapshot to be written', async () => {
      const res = await fetch(`${relay.url}/admin/docs/${DOC}`, { headers: { authorization: `Bearer ${admin}` } })
      const body = (await res.json()) as { snapshots: { upToSeq: number }[]; lastSeq: number }
      return body.snapshots.length > 0 ? body : undefined
    })
    const s = snapshots
    assert.ok(s.snapshots.length === 1, 'older snapshots are deleted')
    assert.ok(s.snapshots[0]!.upToSeq >= 5, `snapshot at ${s.snapshots[0]!.upToSeq}`)

    await w.close()
    await waitFor('the idle document to be unloaded', async () => (await metric(relay, 'concord_loaded_documents')) === 0 || undefined)
    const reader = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'lifeR', seed: SEED + 1 })
    await reader.subscribe(DOC)
    assert.is(view(reader.replica(DOC)), view(r), 'reloaded (snapshot plus tail) the same purchase')
    // A late subscriber from a cursor past the snapshot gets just the tail.
    const tailReader = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'lifeT', seed: SEED + 2 })
    await tailReader.subscribe(DOC, { cursor: s.lastSeq - 1 })
    const sent = tailReader.messages.flatMap((m) => (m.t === 'events' ? m.events.map((e) => e.seq) : []))
    assert.ok(sent.every((q) => q >= s.lastSeq), `only the tail: ${sent.join(',')}`)

    // Graceful shutdown: sockets get SHUTTING_DOWN (retryable), the process exits 0.
    const y = new WebSocket(`${relay.wsUrl}/y/${DOC}?token=${token}`)
    let yClose: number | undefined
    y.on('close', (code) => (yClose = code))
    y.on('error', () => {})
    await waitFor('y socket open', () => y.readyState === WebSocket.OPEN)
    const exit = await relay.stop()
    assert.is(exit.code, 0, relay.output())
    assert.is((await reader.waitClosed()).code, CLOSE.SHUTTING_DOWN)
    assert.is(await waitFor('y close', () => yClose), CLOSE.SHUTTING_DOWN)

    // Restart: the shutdown flushed a final snapshot; the purchase loads the same.
    const before = relay.relayId
    relay = await startRelayProcess({ dataDir: relay.dataDir })
    // A new process is a new actor, so its own events never reuse a crashed process's numbers.
    assert.is.not(relay.relayId, before)
    assert.is(relay.relayId.slice(0, -9), before.slice(0, -9), 'same store, new process suffix')
    const again = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'lifeA', seed: SEED + 3 })
    await again.subscribe(DOC)
    assert.is(view(again.replica(DOC)), view(r))
    await again.close()
  } finally {
    await relay.stop()
  }
})

test('limits: pre-auth bytes and rate limit', async () => {
  const relay = await startRelayProcess({
    args: ['--preauth-max-bytes', '1024', '--rate-limit', '20', '--rate-burst', '40'],
  })
  try {
    // More than the pre-auth allowance before the relay answered hello.
    const big = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'pre', seed: SEED, hello: false })
    big.send({ t: 'hello', version: PROTOCOL_VERSION, token, client: 'x'.repeat(2000), device: 'test' })
    assert.is((await big.waitClosed()).code, CLOSE.POLICY_VIOLATION)

    // A burst far above the rate: closed with the retryable RATE_LIMITED.
    const chatty = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'chatty', seed: SEED })
    for (let i = 0; i < 200; i++) chatty.send({ t: 'ping', nonce: i })
    assert.is((await chatty.waitClosed()).code, CLOSE.RATE_LIMITED)
    assert.ok(chatty.errors.some((e) => e.code === 'RATE_LIMITED'))

  } finally {
    await relay.stop()
  }
})

test('limits: a slow consumer is closed with a retryable code, not silently skipped', async () => {
  // Its own relay, with the default rate limit: the bulk writer must not be the one cut off.
  const relay = await startRelayProcess({ args: ['--slow-consumer-bytes', '65536'] })
  try {
    // A subscriber that stops reading while another client writes a lot is closed, not silently skipped.
    const docId = parsePurchaseId('01J8LIFECYCLE0000000000PO2')
    const writer = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'bulk', seed: SEED })
    const r = writer.createPurchase(docId)
    await writer.subscribe(docId)
    await writer.push(docId)
    const slow = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'slow', seed: SEED + 1 })
    await slow.subscribe(docId)
    const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    socket.pause()
    const chunk = 'x'.repeat(60_000)
    let pushes = 0
    await waitFor('the relay to close the slow consumer', async () => {
      if ((await metric(relay, 'concord_closes_total{code="SLOW_CONSUMER"}')) >= 1) return true
      if (pushes >= 400) throw new Error('400 pushes and the slow consumer is still open')
      // Paced by acks: the writer itself reads everything.
      // The notes are replaced, not grown: they stay within their bound (the write check refuses longer ones).
      r.editNotes(0, pushes === 0 ? 0 : chunk.length, chunk)
      pushes++
      await writer.push(docId)
      return undefined
    }, 60_000)
    socket.resume()
    const info = await slow.waitClosed(20_000)
    assert.ok(info.code === CLOSE.SLOW_CONSUMER || info.code === 1006, `closed (${info.code})`)
    assert.is(writer.closeInfo, undefined, 'the writer is unaffected')
    assert.equal(writer.rejects, [], 'every push was stored')
    await writer.close()
  } finally {
    await relay.stop()
  }
})

test('a relay on the Postgres store: acked events survive a SIGKILL and a restart', async () => {
  const schema = `relay_it_${process.pid}`
  const url = TEST_PG_URL
  const args = ['--store', 'postgres', '--postgres-url', url, '--postgres-schema', schema]
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  let relay = await startRelayProcess({ args })
  try {
    const docId = parsePurchaseId('01J8LIFECYCLE0000000000PG1')
    const w = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'pgW', seed: SEED })
    const r = w.createPurchase(docId)
    await w.subscribe(docId)
    r.addLine({ product: 'Stored in Postgres', qty: '3', price: '7.00' })
    await w.push(docId)
    await w.waitFor('the order number', () => r.state().number !== null)
    await relay.kill()
    relay = await startRelayProcess({ args })
    const reader = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'pgR', seed: SEED + 1 })
    await reader.subscribe(docId)
    assert.is(view(reader.replica(docId)), view(r))
    await reader.close()
  } finally {
    await relay.stop()
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await pool.end()
  }
})

test.run()
