/**
 * Cluster mode: several relay processes on one Postgres schema, with notices
 * on a Redis stream for cross-relay fan-out (packages/relay/src/cluster.ts).
 *
 * 1. Two relays on the shared test Redis: a native client on each edits one
 *    purchase and they converge; a y-websocket provider on B sees A's edits.
 * 2. Fault: two relays on a private redis-server that is SIGKILLed mid-run.
 *    A keeps acknowledging; once Redis is back on the same port, B's client
 *    receives every event of the outage without any further edit.
 * 3. Awareness crosses relays: y-websocket clients on A see the presence of
 *    one on B, a client joining A later gets it at once, and B's client
 *    leaving removes it on A (well before the clients' own 30 s timeout).
 * 4. --redis-url without the Postgres store is refused, naming the setting.
 * 5. B alone cut off from Redis (a TCP proxy) while A writes: once back, B
 *    reads the notices written meanwhile from the stream, and its client gets
 *    every event without a full catch-up from Postgres.
 * 6. The same past the stream's trim point (a tiny --redis-stream-maxlen):
 *    B cannot resume where it stopped, catches up every loaded document from
 *    Postgres instead, counts and logs it, and its client still gets every event.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import pg from 'pg'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { type PurchaseReplica, type ReplicaId, parsePurchaseId, yjsBackend } from '@concord/core'
import { canonicalJson, flattenPurchase, readPurchase } from '@concord/core/internal'
import { signToken } from '@concord/relay'
import { NativeTestClient, waitFor } from '../support/native-test-client.js'
import { type RelayProcess, TEST_SECRET, runRelayCli, startRelayProcess, tempDir } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'
import { TEST_PG_URL, TEST_REDIS_ADDRESS, TEST_REDIS_URL } from '../support/servers.js'
import { TcpProxy } from '../support/tcp-proxy.js'

const SCHEMA = `relay_cluster_${process.pid}`
const pool = new pg.Pool({ connectionString: TEST_PG_URL, max: 1 })
const relays: RelayProcess[] = []
const redisServers = new Set<ChildProcess>()
const providers: WebsocketProvider[] = []
const proxies: TcpProxy[] = []
let token: string

process.on('exit', () => {
  for (const r of redisServers) r.kill('SIGKILL')
})

function view(r: PurchaseReplica): string {
  return canonicalJson(Object.fromEntries(flattenPurchase(r.state())))
}

function clusterArgs(redisUrl: string, prefix: string, schema = SCHEMA): string[] {
  return ['--store', 'postgres', '--postgres-url', TEST_PG_URL, '--postgres-schema', schema, '--redis-url', redisUrl, '--redis-prefix', prefix, '--idle-unload-ms', '600000']
}

async function startRelay(args: string[]): Promise<RelayProcess> {
  const r = await startRelayProcess({ args })
  relays.push(r)
  return r
}

async function metric(relay: RelayProcess, name: string): Promise<number> {
  const text = await (await fetch(`${relay.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1))
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** A private redis-server (found on PATH) on `port`, resolved once it accepts connections. */
async function startRedis(port: number, extraArgs: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] })
  redisServers.add(child)
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  child.on('exit', () => redisServers.delete(child))
  await waitFor(`redis-server on port ${port} to accept connections (output: ${out})`, () => out.includes('Ready to accept connections') || (child.exitCode !== null ? Promise.reject(new Error(`redis-server exited: ${out}`)) : undefined), 10_000)
  return child
}

async function killRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await exited
}

/** The URL of a private redis-server (or a proxy) on this machine. */
function redisUrl(port: number): string {
  return `redis://127.0.0.1:${port}`
}

/** One redis-cli command against the Redis at `url`; its output (raw: one value per line). */
async function redisCli(url: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-u', url, '--raw', ...args], (err, stdout) => (err === null ? resolve(stdout) : reject(err)))
  })
}

/** The documents the notices in a relay cluster's stream name. */
async function noticedDocs(url: string, prefix: string): Promise<string[]> {
  const lines = (await redisCli(url, 'XRANGE', `${prefix}notices`, '-', '+')).split('\n')
  return lines.flatMap((l, i) => (l === 'docId' ? [lines[i + 1]!] : []))
}

function provider(wsUrl: string, room: string): WebsocketProvider {
  const doc = new Y.Doc()
  const p = new WebsocketProvider(`${wsUrl}/y`, room, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    params: { token },
  })
  providers.push(p)
  return p
}

/** The purchase as a y-websocket client's Y.Doc holds it, read with core (on a copy). */
function purchaseOf(ydoc: Y.Doc) {
  const copy = yjsBackend.create('reader' as ReplicaId)
  copy.applyBatch([Y.encodeStateAsUpdate(ydoc)])
  return readPurchase(copy.read())
}

test.before(async () => {
  token = await signToken(TEST_SECRET, { sub: 'cluster', docs: ['*'], rights: ['read', 'write', 'resolve'] }, 3600)
})

test.after(async () => {
  for (const p of providers) {
    p.destroy()
    p.doc.destroy()
  }
  await Promise.all(relays.map((r) => r.stop()))
  await Promise.all(proxies.map((p) => p.close()))
  for (const r of [...redisServers]) await killRedis(r)
  // The streams these tests left on the shared Redis.
  const keys = (await redisCli(TEST_REDIS_URL, '--scan', '--pattern', `concord-test:${process.pid}:*`)).split('\n').filter((k) => k !== '')
  if (keys.length > 0) await redisCli(TEST_REDIS_URL, 'DEL', ...keys)
  for (const suffix of ['', '_fault', '_resume', '_trim']) await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA}${suffix} CASCADE`)
  await pool.end()
})

test('two relays on one Postgres schema and Redis: native clients on each converge; a y-websocket provider on B sees A\'s edits', async () => {
  const prefix = `concord-test:${process.pid}:${SEED}:a:`
  const args = clusterArgs(TEST_REDIS_URL, prefix)
  const a = await startRelay(args)
  const b = await startRelay(args)
  assert.is.not(a.relayId, b.relayId, 'each process writes as its own actor')
  for (const r of [a, b]) {
    const ready = (await (await fetch(`${r.url}/readyz`)).json()) as { status: string; redis?: string }
    assert.equal(ready, { status: 'ready', redis: 'connected' })
    assert.is(await metric(r, 'concord_cluster_redis_connected'), 1)
  }

  const docId = parsePurchaseId('01J8CLUSTER000000000000001')
  const ca = await NativeTestClient.connect(a.wsUrl, token, { replica: 'clA', seed: SEED })
  const cb = await NativeTestClient.connect(b.wsUrl, token, { replica: 'clB', seed: SEED + 1 })
  const ra = ca.createPurchase(docId)
  ra.addLine({ product: 'Created on A', qty: '1', price: '10.00' })
  await ca.subscribe(docId)
  await ca.push(docId)
  await cb.subscribe(docId)
  const rb = cb.replica(docId)
  await cb.waitFor('B holds the purchase A created', () => rb.exists && rb.state().lines.length === 1)

  // Both edit at once, several rounds.
  for (let i = 0; i < 5; i++) {
    ra.addLine({ product: `A${i}`, qty: String(i + 1), price: '1.00' })
    rb.addLine({ product: `B${i}`, qty: String(i + 1), price: '2.00' })
    rb.editNotes(0, 0, `b${i} `)
    await Promise.all([ca.push(docId), cb.push(docId)])
  }
  await waitFor('A and B converged (11 lines, both numbered)', () =>
    ra.state().lines.length === 11 && rb.state().lines.length === 11 && ra.state().number !== null && view(ra) === view(rb),
  )
  assert.is(view(ra), view(rb))
  assert.ok(/^PO-\d{4}-\d{5}$/.test(ra.state().number ?? ''), `numbered: ${ra.state().number}`)
  assert.equal(ra.conflicts(), [], 'no conflict (two relays numbering one purchase would show here)')
  assert.is(ca.rejects.length + cb.rejects.length, 0, `no rejects: ${JSON.stringify([...ca.rejects, ...cb.rejects])}`)

  // A y-websocket provider on B sees A's native edits, and a native client on A sees the provider's.
  const p = provider(b.wsUrl, docId)
  await waitFor('the provider on B synced with 11 lines', () => p.synced && purchaseOf(p.doc).lines.length === 11)
  ra.addLine({ product: 'Late line from A', qty: '3', price: '3.00' })
  await ca.push(docId)
  await waitFor('the provider on B received A\'s late line', () => purchaseOf(p.doc).lines.some((l) => l.product === 'Late line from A'))
  await cb.waitFor('B\'s native client received it too', () => rb.state().lines.length === 12)

  // Every event was stored exactly once and both relays' views are the store's.
  const fresh = await NativeTestClient.connect(b.wsUrl, token, { replica: 'clFresh', seed: SEED + 2 })
  await fresh.subscribe(docId)
  assert.is(view(fresh.replica(docId)), view(ra))
  const stored = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.events WHERE doc_id = $1 AND kind = 'purchase.number'`, [docId])
  assert.ok(Number(stored.rows[0]!.n) >= 1, 'the number event is stored')
  assert.ok((await metric(b, 'concord_cluster_caught_up_events_total')) > 0, 'B read A\'s events from the store')
  await Promise.all([ca.close(), cb.close(), fresh.close()])
})

test('Redis SIGKILLed mid-run: A keeps acking; once Redis is back, B\'s client receives every event of the outage without a further edit', async () => {
  const port = await freePort()
  let redis = await startRedis(port)
  const schema = `${SCHEMA}_fault`
  const args = clusterArgs(redisUrl(port), `concord-fault:${process.pid}:`, schema)
  const a = await startRelay(args)
  const b = await startRelay(args)
  const docId = parsePurchaseId('01J8CLUSTERFAULT0000000001')
  const ca = await NativeTestClient.connect(a.wsUrl, token, { replica: 'fA', seed: SEED + 10 })
  const cb = await NativeTestClient.connect(b.wsUrl, token, { replica: 'fB', seed: SEED + 11 })
  const ra = ca.createPurchase(docId)
  await ca.subscribe(docId)
  await ca.push(docId)
  await cb.subscribe(docId)
  const rb = cb.replica(docId)
  ra.addLine({ product: 'before the outage', qty: '1', price: '1.00' })
  await ca.push(docId)
  await cb.waitFor('B sees the edit before the outage', () => rb.exists && rb.state().lines.length === 1)

  await killRedis(redis)
  await waitFor('both relays notice Redis is gone', async () => (await metric(a, 'concord_cluster_redis_connected')) === 0 && (await metric(b, 'concord_cluster_redis_connected')) === 0)
  const degraded = (await (await fetch(`${b.url}/readyz`)).json()) as { status: string }
  assert.is(degraded.status, 'degraded')

  const during: string[] = []
  for (let i = 0; i < 10; i++) {
    const product = `during outage ${i}`
    during.push(product)
    ra.addLine({ product, qty: String(i + 1), price: '1.50' })
    await ca.push(docId) // waits for the ack: A stores and acknowledges without Redis
  }
  assert.is(ca.rejects.length, 0)
  assert.is(ra.state().lines.length, 11)
  // B has not been told; this is what the restart must repair.
  assert.ok(rb.state().lines.length < 11, 'B did not get the outage edits through any other path')

  redis = await startRedis(port)
  await cb.waitFor('B\'s client received every event of the outage', () => during.every((p) => rb.state().lines.some((l) => l.product === p)), 20_000)
  await waitFor('A and B converged', () => view(ra) === view(rb), 10_000)
  await waitFor('B reports Redis connected again', async () => (await metric(b, 'concord_cluster_redis_connected')) === 1)
  assert.ok((await metric(b, 'concord_cluster_redis_reconnects_total')) >= 1)
  assert.ok(b.output().includes('Redis is back'), 'B logged the recovery')
  assert.ok(a.output().includes('lost Redis'), 'A logged the outage')

  // Live delivery works again after the recovery, even if A's publisher is still in its
  // reconnect backoff (its notice is held and sent once it is back).
  ra.addLine({ product: 'after the outage', qty: '1', price: '1.00' })
  await ca.push(docId)
  await cb.waitFor('B sees an edit after the recovery', () => rb.state().lines.some((l) => l.product === 'after the outage'))
  await Promise.all([ca.close(), cb.close()])
  await Promise.all([a.stop(), b.stop()])
  await killRedis(redis)
})

test('a relay that missed every notice never refuses what the store holds: a device moving from A to B pushes on, and B\'s subscriber gets it all', async () => {
  // Two Redis prefixes: the relays share the store but never hear each other's notices (as if every one were lost).
  const a = await startRelay(clusterArgs(TEST_REDIS_URL, `concord-test:${process.pid}:${SEED}:deaf-a:`))
  const b = await startRelay(clusterArgs(TEST_REDIS_URL, `concord-test:${process.pid}:${SEED}:deaf-b:`))
  const docId = parsePurchaseId('01J8CLUSTER000000000000DEAF')
  const xa = await NativeTestClient.connect(a.wsUrl, token, { replica: 'devX', seed: SEED })
  const rx = xa.createPurchase(docId)
  await xa.subscribe(docId)
  await xa.push(docId)
  // B loads the purchase for its own subscriber, then misses everything A stores after.
  const y = await NativeTestClient.connect(b.wsUrl, token, { replica: 'devY', seed: SEED + 1 })
  await y.subscribe(docId)
  const ry = y.replica(docId)
  await y.waitFor('Y holds the purchase', () => ry.exists)
  rx.addLine({ product: 'Stored through A', qty: '1', price: '1.00' })
  await xa.push(docId)
  const [x2] = [...xa.acked].filter((id) => id === rx.log.events().at(-1)!.id)
  assert.ok(x2 !== undefined, 'A acknowledged x.2')
  await xa.close()

  // X moves to B and pushes an edit built on what A stored, before even subscribing.
  const xb = await NativeTestClient.connect(b.wsUrl, token, { replica: 'devX', seed: SEED, resume: xa })
  rx.addLine({ product: 'Pushed through B', qty: '2', price: '1.00' })
  const [x3] = xb.unpushed(docId)
  await xb.push(docId, [x3!])
  assert.equal(xb.rejects, [], 'B read the store instead of refusing a dependency it held there')
  assert.ok(xb.acked.has(x3!.id))
  // A subscribe whose cursor is ahead of B: B catches up before answering.
  await xb.subscribe(docId)
  assert.equal(xb.actorHeads.get(docId), [{ actor: 'devX', seq: x3!.seq }], 'caughtUp names the device actor\'s head')
  await y.waitFor('Y, on B, receives both edits in order', () => ry.state().lines.map((l) => l.product).join() === 'Stored through A,Pushed through B')
  assert.is(view(ry), view(rx))
})

test('awareness crosses relays: clients on A see a client on B arrive and leave; a late joiner on A gets it at once', async () => {
  const prefix = `concord-test:${process.pid}:${SEED}:aw:`
  const args = clusterArgs(TEST_REDIS_URL, prefix)
  const a = await startRelay(args)
  const b = await startRelay(args)
  const docId = parsePurchaseId('01J8CLUSTER000000000000AW1')
  const pa = provider(a.wsUrl, docId)
  const pb = provider(b.wsUrl, docId)
  await waitFor('both providers synced', () => pa.synced && pb.synced)
  const names = (p: WebsocketProvider) => [...p.awareness.getStates().values()].map((s) => (s as { user?: { name?: string } }).user?.name)

  pb.awareness.setLocalStateField('user', { name: 'Bob on B' })
  await waitFor("A's client sees Bob (on B)", () => names(pa).includes('Bob on B'))
  pa.awareness.setLocalStateField('user', { name: 'Alice on A' })
  await waitFor("B's client sees Alice (on A)", () => names(pb).includes('Alice on A'))

  // Bob's client renews its state every 15 s; a joiner that sees him within 5 s got him from A's own map.
  const pc = provider(a.wsUrl, docId)
  await waitFor('a client joining A later sees Bob and Alice', () => pc.synced && names(pc).includes('Bob on B') && names(pc).includes('Alice on A'), 5_000)

  const bob = pb.awareness.clientID
  providers.splice(providers.indexOf(pb), 1)
  pb.destroy()
  pb.doc.destroy() // stops the awareness timer, which only the document's end clears
  await waitFor("Bob's leaving B removes him on A's clients", () => !pa.awareness.getStates().has(bob) && !pc.awareness.getStates().has(bob), 10_000)
  assert.ok((await metric(a, 'concord_cluster_awareness_total')) > 0, 'A received awareness from B')
})

test('B alone cut off from Redis while A writes: once back, B reads the notices written meanwhile from the stream, and its client gets every event without a full catch-up', async () => {
  const proxy = await TcpProxy.start(TEST_REDIS_ADDRESS.port, TEST_REDIS_ADDRESS.host)
  proxies.push(proxy)
  const prefix = `concord-test:${process.pid}:${SEED}:resume:`
  const schema = `${SCHEMA}_resume`
  const a = await startRelay(clusterArgs(TEST_REDIS_URL, prefix, schema))
  const b = await startRelay(clusterArgs(redisUrl(proxy.port), prefix, schema))
  const docId = parsePurchaseId('01J8CLUSTERRESUME000000001')
  const ca = await NativeTestClient.connect(a.wsUrl, token, { replica: 'rA', seed: SEED + 20 })
  const cb = await NativeTestClient.connect(b.wsUrl, token, { replica: 'rB', seed: SEED + 21 })
  const ra = ca.createPurchase(docId)
  await ca.subscribe(docId)
  await ca.push(docId)
  await cb.subscribe(docId)
  const rb = cb.replica(docId)
  ra.addLine({ product: 'before the cut', qty: '1', price: '1.00' })
  await ca.push(docId)
  await cb.waitFor('B sees the edit before the cut (through a notice)', () => rb.exists && rb.state().lines.length === 1)
  const noticesIn = 'concord_cluster_notices_total{direction="in"}'
  const inBefore = await metric(b, noticesIn)
  const appendedBefore = (await noticedDocs(TEST_REDIS_URL, prefix)).filter((d) => d === docId).length

  proxy.cut()
  await waitFor('B notices it lost Redis', async () => (await metric(b, 'concord_cluster_redis_connected')) === 0)
  assert.is(await metric(a, 'concord_cluster_redis_connected'), 1, 'Redis is up for A')
  const during: string[] = []
  for (let i = 0; i < 5; i++) {
    during.push(`while B is cut off ${i}`)
    ra.addLine({ product: during[i]!, qty: '1', price: '2.00' })
    await ca.push(docId)
  }
  await waitFor('A appended notices to the stream while B was cut off', async () => (await noticedDocs(TEST_REDIS_URL, prefix)).filter((d) => d === docId).length > appendedBefore)
  assert.is(rb.state().lines.length, 1, 'B did not get the edits through any other path')

  proxy.restore()
  await cb.waitFor('B\'s client received every event written while B was cut off', () => during.every((p) => rb.state().lines.some((l) => l.product === p)), 20_000)
  await waitFor('A and B converged', () => view(ra) === view(rb))
  assert.ok((await metric(b, noticesIn)) > inBefore, 'B read the notices written meanwhile from the stream')
  assert.is(await metric(b, 'concord_cluster_stream_fallbacks_total'), 0, 'B resumed the stream: no full catch-up from Postgres')
  assert.ok((await metric(b, 'concord_cluster_redis_reconnects_total')) >= 1)
  assert.ok(b.output().includes('reading the notices written meanwhile from the stream'), 'B logged where it resumed')
  await waitFor('B reports Redis connected again', async () => (await metric(b, 'concord_cluster_redis_connected')) === 1)
  await Promise.all([ca.close(), cb.close()])
  await Promise.all([a.stop(), b.stop()])
})

test('B cut off past the stream\'s trim point: it catches up every loaded document from Postgres, counts and logs it, and its client still gets every event', async () => {
  const port = await freePort()
  // Small stream nodes, so that MAXLEN ~ 3 trims after a few notices (Redis trims whole nodes only).
  const redis = await startRedis(port, ['--stream-node-max-entries', '2'])
  const proxy = await TcpProxy.start(port)
  proxies.push(proxy)
  const prefix = `concord-trim:${process.pid}:`
  const schema = `${SCHEMA}_trim`
  const a = await startRelay([...clusterArgs(redisUrl(port), prefix, schema), '--redis-stream-maxlen', '3'])
  const b = await startRelay([...clusterArgs(redisUrl(proxy.port), prefix, schema), '--redis-stream-maxlen', '3'])
  const held = parsePurchaseId('01J8CLUSTERTRIM00000000001') // B's client follows it
  const other = parsePurchaseId('01J8CLUSTERTRIM00000000002') // only A's: its notices push the first one's out
  const ca = await NativeTestClient.connect(a.wsUrl, token, { replica: 'tA', seed: SEED + 30 })
  const cb = await NativeTestClient.connect(b.wsUrl, token, { replica: 'tB', seed: SEED + 31 })
  const ra = ca.createPurchase(held)
  await ca.subscribe(held)
  await ca.push(held)
  await cb.subscribe(held)
  const rb = cb.replica(held)
  ra.addLine({ product: 'before the cut', qty: '1', price: '1.00' })
  await ca.push(held)
  await cb.waitFor('B sees the edit before the cut', () => rb.exists && rb.state().lines.length === 1)

  proxy.cut()
  await waitFor('B notices it lost Redis', async () => (await metric(b, 'concord_cluster_redis_connected')) === 0)
  const during: string[] = []
  for (let i = 0; i < 5; i++) {
    during.push(`trimmed away ${i}`)
    ra.addLine({ product: during[i]!, qty: '1', price: '3.00' })
    await ca.push(held)
  }
  // Another device (the test client tracks pushed event ids per replica, not per document).
  const co = await NativeTestClient.connect(a.wsUrl, token, { replica: 'tO', seed: SEED + 32 })
  const ro = co.createPurchase(other)
  await co.subscribe(other)
  await co.push(other)
  for (let i = 0; i < 8; i++) {
    ro.addLine({ product: `other ${i}`, qty: '1', price: '1.00' })
    await co.push(other)
  }
  await waitFor('the stream holds notices of the other document only', async () => {
    const docs = await noticedDocs(redisUrl(port), prefix)
    return docs.length > 0 && docs.every((d) => d === other)
  })
  assert.is(rb.state().lines.length, 1, 'B did not get the edits through any other path')

  proxy.restore()
  await cb.waitFor('B\'s client received every event, though their notices were trimmed', () => during.every((p) => rb.state().lines.some((l) => l.product === p)), 20_000)
  await waitFor('A and B converged', () => view(ra) === view(rb))
  assert.is(await metric(b, 'concord_cluster_stream_fallbacks_total'), 1, 'B counted the fallback')
  assert.ok(b.output().includes('no longer holds where this relay stopped'), 'B logged the fallback')
  // B reads the stream live again after the fallback.
  ra.addLine({ product: 'after the fallback', qty: '1', price: '1.00' })
  await ca.push(held)
  await cb.waitFor('B sees an edit after the fallback', () => rb.state().lines.some((l) => l.product === 'after the fallback'))
  await Promise.all([ca.close(), cb.close(), co.close()])
  await Promise.all([a.stop(), b.stop()])
  await killRedis(redis)
})

test('--redis-url without the Postgres store is refused, naming the setting', async () => {
  const r = await runRelayCli(['--data', tempDir(), '--redis-url', TEST_REDIS_URL])
  assert.ok(r.code !== 0 && r.code !== null, `exit code ${r.code}`)
  assert.ok(r.stderr.includes('--redis-url') && r.stderr.includes('--store postgres'), r.stderr)
  const bad = await runRelayCli(['--store', 'postgres', '--postgres-url', TEST_PG_URL, '--redis-url', 'http://nope'])
  assert.ok(bad.code !== 0 && bad.stderr.includes('--redis-url'), bad.stderr)
})

test.run()
