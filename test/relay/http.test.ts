/**
 * The relay's HTTP surface on a real process: /healthz, /readyz, /metrics
 * (the metrics an operator needs), the admin API with and without an admin
 * token (documents, history, the conflict queue built by the relay's own
 * invariant registry), and /demo/token only in demo mode.
 */
import { type KeyObject, generateKeyPairSync, sign } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type PurchaseId, parsePurchaseId } from '@concord/core'
import { CLOSE, PROTOCOL_VERSION } from '@concord/core/protocol'
import { signToken } from '@concord/relay'
import { NativeTestClient } from '../support/native-test-client.js'
import { type RelayProcess, TEST_SECRET, startRelayProcess, tempDir } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'

const DOC: PurchaseId = parsePurchaseId('01J8HTTP0000000000000000P1')
let relay: RelayProcess
let writer: string
let admin: string

test.before(async () => {
  relay = await startRelayProcess()
  writer = await signToken(TEST_SECRET, { sub: 'writer', docs: ['01J8*'], rights: ['read', 'write'] }, 3600)
  admin = await signToken(TEST_SECRET, { sub: 'ops', admin: true }, 3600)
})
test.after(async () => {
  assert.is((await relay.stop()).code, 0)
})

async function get(path: string, token?: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`${relay.url}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } })
  const text = await res.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: res.status, body, text }
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  if (line === undefined) throw new Error(`metric ${name} missing from:\n${text.slice(0, 2000)}`)
  return Number(line.slice(line.lastIndexOf(' ') + 1))
}

test('health and readiness', async () => {
  const h = await get('/healthz')
  assert.is(h.status, 200)
  assert.is(h.body.status, 'ok')
  const r = await get('/readyz')
  assert.is(r.status, 200)
  assert.is((await get('/no-such-file.js')).status, 404)
})

test('a conflict made by two devices shows in validated, the metrics and the admin conflict queue', async () => {
  const a = await NativeTestClient.connect(relay.wsUrl, writer, { replica: 'httpA', seed: SEED })
  // b's token names its own subject: the relay attributes b's events to it (meta.user), whatever the device wrote.
  const writerB = await signToken(TEST_SECRET, { sub: 'httpB', docs: ['01J8*'], rights: ['read', 'write'] }, 3600)
  const b = await NativeTestClient.connect(relay.wsUrl, writerB, { replica: 'httpB', seed: SEED + 1 })
  const ra = a.createPurchase(DOC, { currency: 'EUR', supplier: 'First' })
  await a.subscribe(DOC)
  ra.addLine({ product: 'Desk', qty: '2', price: '300' })
  await a.push(DOC)
  await b.subscribe(DOC)
  const rb = b.replica(DOC)
  await b.waitFor('b has the purchase', () => rb.exists && rb.state().number !== null)
  await a.waitFor('a has the number', () => ra.state().number !== null)
  // Concurrent writes of a guarded field: a conflict no merge can settle.
  ra.setSupplier('Acme')
  rb.setSupplier('Globex')
  await Promise.all([a.push(DOC), b.push(DOC)])
  const v = await a.waitFor('validated with a conflict', () => {
    const m = a.validated.get(DOC)
    return m !== undefined && m.conflicts.length > 0 ? m : undefined
  })
  await a.waitFor('a sees the same conflict', () => ra.conflicts().map((c) => c.id).join() === v.conflicts.join())

  // Resolving needs the resolve right, which this token lacks.
  const conflict = ra.conflicts()[0]!
  const option = conflict.options[0]!
  const params = Object.fromEntries(option.params.filter((p) => p.choices?.length).map((p) => [p.name, p.choices![0]!]))
  const resolution = ra.resolve(conflict.id, option.id, params)
  await a.push(DOC, [resolution])
  assert.equal(a.rejects.map((r) => [r.id, r.code]), [[resolution.id, 'FORBIDDEN']])

  const metrics = await get('/metrics')
  assert.is(metrics.status, 200)
  assert.ok(metric(metrics.text, 'concord_connections') >= 2, 'connections')
  assert.ok(metric(metrics.text, 'concord_loaded_documents') >= 1, 'loaded documents')
  assert.ok(metric(metrics.text, 'concord_events_appended_total') >= 5, 'events appended')
  assert.ok(metric(metrics.text, 'concord_bytes_in_total') > 0, 'bytes in')
  assert.ok(metric(metrics.text, 'concord_bytes_out_total') > 0, 'bytes out')
  assert.ok(metric(metrics.text, 'concord_ack_latency_seconds_count') >= 3, 'ack latency histogram')
  assert.ok(metrics.text.includes('concord_ack_latency_seconds_bucket{le="0.005"}'), 'histogram buckets')
  assert.is(metric(metrics.text, 'concord_open_conflicts'), v.conflicts.length, 'open conflicts gauge')
  // Registered from the start (a checkpoint runs only after about 4 MiB of writes).
  assert.ok(metrics.text.includes('concord_sqlite_checkpoint_seconds_count'), 'WAL checkpoint histogram')
  assert.ok(metric(metrics.text, 'concord_events_rejected_total') >= 1, 'rejects counted')

  // Admin API: no token, a non-admin token, then the admin token.
  assert.is((await get('/admin/docs')).status, 401)
  assert.is((await get('/admin/docs', 'forged')).status, 401)
  assert.is((await get('/admin/docs', writer)).status, 403)
  const docs = await get('/admin/docs', admin)
  assert.is(docs.status, 200)
  const listed = docs.body.docs.find((d: { docId: string }) => d.docId === DOC)
  assert.ok(listed, 'the document is listed')
  assert.match(listed.number, /^PO-\d{4}-\d{5}$/)
  assert.is(listed.backend, 'yjs')

  const history = await get(`/admin/docs/${DOC}/history?limit=3`, admin)
  assert.is(history.status, 200, history.text)
  assert.is(history.body.events.length, 3)
  assert.is(history.body.events[0].seq, 1)
  assert.is(history.body.events[0].kind, 'purchase.create')
  assert.ok(history.body.events[0].changes.some((c: { field: string; to: string }) => c.field === 'supplier' && c.to === 'First'), 'the audit trail names the change')
  assert.is(history.body.next, 3)
  const page2 = await get(`/admin/docs/${DOC}/history?after=${history.body.next}&limit=100`, admin)
  assert.ok(page2.body.events.every((e: { seq: number }) => e.seq > 3))
  assert.ok(page2.body.events.some((e: { meta: { user?: string } }) => e.meta.user === 'httpB'), 'history names who made each event')
  assert.is(page2.body.next, null)
  assert.is((await get(`/admin/docs/NOPE/history`, admin)).status, 404)

  const queue = await get('/admin/conflicts', admin)
  assert.is(queue.status, 200)
  assert.equal(queue.body.conflicts.map((c: { id: string }) => c.id), v.conflicts)
  assert.is(queue.body.conflicts[0].docId, DOC)
  assert.is(queue.body.conflicts[0].kind, conflict.kind)

  await Promise.all([a.close(), b.close()])
})

test('the conflict queue includes documents that are not loaded (after a restart)', async () => {
  await relay.stop()
  relay = await startRelayProcess({ dataDir: relay.dataDir })
  const queue = await get('/admin/conflicts', admin)
  assert.is(queue.status, 200)
  assert.ok(queue.body.conflicts.length >= 1, 'built from the store')
  const docs = await get('/admin/docs', admin)
  assert.is(docs.body.docs[0].loaded, false, 'the admin API did not keep it loaded')
})

test('/demo/token exists only in demo mode, and its token opens a session', async () => {
  const res = await fetch(`${relay.url}/demo/token`, { method: 'POST', body: JSON.stringify({ user: 'x' }) })
  assert.is(res.status, 404, 'not with a configured secret')
  const demo = await startRelayProcess({ secret: null })
  try {
    assert.ok(demo.output().includes('demo mode'), 'the relay warns that it runs in demo mode')
    const bad = await fetch(`${demo.url}/demo/token`, { method: 'POST', body: '{"user":""}' })
    assert.is(bad.status, 400)
    const ok = await fetch(`${demo.url}/demo/token`, { method: 'POST', body: JSON.stringify({ user: 'Dana', device: 'laptop' }) })
    assert.is(ok.status, 200)
    const { token, expiresAt } = (await ok.json()) as { token: string; expiresAt: string }
    const hours = (Date.parse(expiresAt) - Date.now()) / 3_600_000
    assert.ok(hours > 11.9 && hours <= 12, `valid 12 h (${hours})`)
    const c = await NativeTestClient.connect(demo.wsUrl, token, { replica: 'demo1', seed: SEED })
    assert.is(c.welcome?.user, 'Dana')
    assert.equal(c.welcome?.grants, [{ doc: '*', rights: ['read', 'write', 'resolve', 'approve'] }])
    assert.is(c.welcome?.version, PROTOCOL_VERSION)
    await c.close()
  } finally {
    await demo.stop()
  }
})

/** An ES256 JWT made with node:crypto alone (the operator's identity provider, in tests). */
function es256Token(privateKey: KeyObject, claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const body = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ ...claims, exp: Math.floor(Date.now() / 1000) + 600 })}`
  const sig = sign('sha256', Buffer.from(body), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
  return `${body}.${sig}`
}

test('tokens verified with a public key (ES256); an HS256 token is refused there', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const keyFile = join(tempDir(), 'tokens.pub.pem')
  writeFileSync(keyFile, publicKey.export({ type: 'spki', format: 'pem' }))
  const pk = await startRelayProcess({ secret: null, args: ['--token-public-key', keyFile] })
  try {
    const c = await NativeTestClient.connect(pk.wsUrl, es256Token(privateKey, { sub: 'idp-user', docs: ['*'], rights: ['read'] }), { replica: 'pk1', seed: SEED })
    assert.is(c.welcome?.user, 'idp-user')
    await c.close()
    const d = await NativeTestClient.connect(pk.wsUrl, writer, { replica: 'pk2', seed: SEED, hello: false })
    d.send({ t: 'hello', version: PROTOCOL_VERSION, token: writer, client: 't', device: 'test' })
    assert.is((await d.waitClosed()).code, CLOSE.UNAUTHORIZED)
    assert.is((await fetch(`${pk.url}/demo/token`, { method: 'POST', body: '{"user":"x"}' })).status, 404, 'no demo tokens with a key')
  } finally {
    await pk.stop()
  }
})

test.run()
