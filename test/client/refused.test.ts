/**
 * A refused own event must not block every later edit of that purchase. The
 * refused event and the own events built on it are undone on the device, the
 * device writes the purchase as a fresh actor, and its later edits reach the
 * other devices, which converge. Against a real relay process: once with a
 * token that lacks the write right on the purchase (then a refreshed one that
 * has it), once with a change over the relay's frame limit (refused by the
 * client before sending, on the Automerge backend). Input that alone cannot
 * fit the frame is refused by the command itself (EVENT_TOO_LARGE).
 * And a refusal code this client does not know (a newer relay's), made by a
 * proxy that renames the relay's code on the way: the change is kept, not
 * undone, and the purchase is set aside until someone looks.
 */
import type { AddressInfo } from 'node:net'
import { test } from 'uvu'
import { WebSocket, WebSocketServer } from 'ws'
import * as assert from 'uvu/assert'
import { type EventId, isConcordError } from '@concord/core'
import { canonicalJson, flattenPurchase } from '@concord/core/internal'
import { decodeClientMessage, decodeServerMessage, encodeServerMessage } from '@concord/core/protocol'
import { type PurchaseHandle, type SyncClient, memoryStorage } from '@concord/client'
import { createNodeClient } from '@concord/client/node'
import { SEED } from '../support/seed.js'
import { type RelayProc, mintToken, removeDir, startRelay, waitFor } from '../support/client-relay.js'

const MAX_FRAME = 16 * 1024
let relay: RelayProc
const clients: SyncClient[] = []

test.before(async () => {
  relay = await startRelay({ extraArgs: ['--max-frame-bytes', String(MAX_FRAME)] })
})
test.after(async () => {
  for (const c of clients) await c.close()
  await relay.stop()
  removeDir(relay.dataDir)
})

const retry = { initialDelayMs: 20, maxDelayMs: 200 }

async function client(name: string, token: string | (() => Promise<string>), storage = memoryStorage(name), url = relay.url) {
  const c = await createNodeClient({ url, token, storage, user: name, deadLetterAfter: 1, retry })
  clients.push(c)
  return c
}

const synced = (c: SyncClient) => c.status.overall === 'synced'

/** Both devices synced and holding the same purchase. */
async function converged(a: SyncClient, pa: PurchaseHandle, b: SyncClient, pb: PurchaseHandle, what: string): Promise<void> {
  // Flattened: the state's register map is a view over the document, whose shape in memory differs between replicas.
  const view = (p: PurchaseHandle) => canonicalJson({ s: Object.fromEntries(flattenPurchase(p.state())), c: p.conflicts().map((c) => c.id) })
  await waitFor(what, () => synced(a) && synced(b) && view(pa) === view(pb), () => ({ a: a.status.overall, b: b.status.overall, ea: a.explain(pa.id), eb: b.explain(pb.id), va: view(pa), vb: view(pb) }))
}

test(`a change refused for want of the write right is undone with what was built on it; later edits reach the other device (SEED=${SEED})`, async () => {
  const id = `REF-${SEED}-write`
  const anna = await client('anna', await mintToken({ sub: 'anna' }))
  const pa = await anna.createPurchase({ id, currency: 'EUR', supplier: 'Initial Supplies' })
  const { lineId } = await pa.run((r) => r.addLine({ product: 'Bolts', qty: '10', price: '2.50' }))
  await waitFor('anna synced', () => synced(anna), () => anna.status)

  const readOnly = await mintToken({ sub: 'ben', grants: [{ doc: id, rights: ['read'] }] })
  const writer = await mintToken({ sub: 'ben', grants: [{ doc: id, rights: ['read', 'write'] }] })
  let token = readOnly
  const benStorage = memoryStorage('ben-write')
  let ben = await client('ben', () => Promise.resolve(token), benStorage)
  let pb = await ben.open(id)
  await converged(anna, pa, ben, pb, 'ben has the purchase')

  // Two changes, the second built on the first: the relay refuses the first (and the second with it).
  const refused = await pb.run((r) => r.setSupplier('Refused Co'))
  const dependent = await pb.run((r) => r.updateLine(lineId, { qty: '99' }))
  const refusedIds: EventId[] = [refused.id, dependent.id]
  await waitFor('both undone', () => refusedIds.every((e) => pb.eventStatus(e) === 'rejected'), () => ({ st: refusedIds.map((e) => pb.eventStatus(e)), ex: ben.explain(id) }))
  assert.is(pb.state().supplier.values.join('|'), 'Initial Supplies', 'the refused change is undone on the device')
  assert.is(pb.state().lines[0]!.qty, '10', 'so is the change built on it')
  for (const e of refusedIds) assert.not.ok(pb.replica.log.has(e), `${e} left the log`)

  const dead = ben.deadLetters()
  assert.is(dead.length, 1)
  assert.is(dead[0]!.docId, id)
  assert.equal(dead[0]!.rejected.map((r) => r.id), refusedIds, 'the dead letter lists every undone change')
  assert.is(dead[0]!.rejected[0]!.code, 'FORBIDDEN')
  assert.ok(dead[0]!.rejected.slice(1).every((r) => r.code === 'DEPENDS_ON_REFUSED'))
  assert.ok(dead[0]!.rejected.every((r) => typeof r.kind === 'string' && r.kind.length > 0), 'with what kind of change each was')

  // An edit while dead-lettered is kept, under a fresh actor, and held back.
  const held = await pb.run((r) => r.setSupplier('Held Supplies'))
  const heldId = held.id
  assert.is.not(held.actor, ben.replicaId, 'a fresh actor writes after the undo')
  assert.is(held.seq, 1)
  assert.is(pb.eventStatus(heldId), 'saved')

  // The token is refreshed with the write right; sending again resumes the purchase.
  token = writer
  ben.goOffline()
  await waitFor('ben offline', () => ben.status.overall !== 'synced')
  ben.goOnline()
  await ben.retryDeadLetter(id)
  assert.is(ben.deadLetters().length, 0)
  await waitFor('the held edit reaches anna', () => pa.state().supplier.values.join('|') === 'Held Supplies', () => ({ ex: ben.explain(id), a: pa.state().supplier.values.join('|') }))
  await pb.run((r) => r.updateLine(lineId, { qty: '12' }))
  await waitFor('a later edit reaches anna', () => pa.state().lines[0]!.qty === '12', () => ben.explain(id))
  await converged(anna, pa, ben, pb, 'converged after the refusal')
  assert.is(pb.eventStatus(refusedIds[0]!), 'rejected', 'the refused change stays refused')

  // The undo and the actor survive a restart; edits after it still reach anna.
  await ben.close()
  ben = await client('ben', () => Promise.resolve(token), benStorage)
  pb = await ben.open(id)
  assert.is(pb.state().supplier.values.join('|'), 'Held Supplies')
  for (const e of refusedIds) assert.not.ok(pb.replica.log.has(e))
  const after = await pb.run((r) => r.setSupplier('After Restart'))
  assert.is(after.seq, 3, 'the fresh actor counts on after the restart')
  await waitFor('the edit after the restart reaches anna', () => pa.state().supplier.values.join('|') === 'After Restart', () => ben.explain(id))
  await converged(anna, pa, ben, pb, 'converged after the restart')

  // Anna's own edits keep reaching ben too.
  await pa.run((r) => r.updateLine(lineId, { qty: '7' }))
  await waitFor('anna reaches ben', () => pb.state().lines[0]!.qty === '7')
  await converged(anna, pa, ben, pb, 'converged at the end')
})

test(`input over the frame limit is refused by the command; an event over it is refused before sending and undone; what came before reaches the relay, what came after it goes (Automerge, SEED=${SEED})`, async () => {
  const id = `REF-${SEED}-frame`
  const anna = await client('anna2', await mintToken({ sub: 'anna2' }))
  const pa = await anna.createPurchase({ id, currency: 'EUR', supplier: 'Initial Supplies', backend: 'automerge' })
  await waitFor('anna synced', () => synced(anna), () => anna.status)
  const ben = await client('ben2', await mintToken({ sub: 'ben2' }))
  // The backend must be named: subscribe carries it, and the relay refuses a mismatch (BACKEND_MISMATCH).
  const pb = await ben.open(id, { backend: 'automerge' })
  await converged(anna, pa, ben, pb, 'ben has the purchase')

  // Input that alone cannot fit the relay's frame is refused before anything is applied.
  const tooBig = await pb.run((r) => r.editNotes(0, 0, 'x'.repeat(MAX_FRAME))).then(() => null, (e: unknown) => e)
  assert.ok(isConcordError(tooBig, 'EVENT_TOO_LARGE'), String(tooBig))
  assert.is(tooBig.details.field, 'notes')
  assert.is(pb.state().notes, '')
  assert.is(ben.status.docs.get(pb.id)!.pending, 0, 'nothing was saved')
  assert.is(ben.deadLetters().length, 0)

  ben.goOffline()
  await waitFor('ben offline', () => ben.status.overall === 'offline')
  const before = await pb.run((r) => r.setSupplier('Before'))
  // Input that fits, in an event that does not (the envelope and the CRDT encoding add to it): refused when sent.
  const big = await pb.run((r) => r.editNotes(0, 0, 'x'.repeat(MAX_FRAME - 170)))
  const afterBig = await pb.run((r) => r.setSupplier('Built on the note'))
  ben.goOnline()
  const undone: EventId[] = [big.id, afterBig.id]
  await waitFor('the big one and its dependent undone', () => undone.every((e) => pb.eventStatus(e) === 'rejected'), () => ben.explain(id))
  await waitFor('what came before reaches anna', () => pa.state().supplier.values.join('|') === 'Before', () => ben.explain(id))
  assert.is(pb.state().supplier.values.join('|'), 'Before')
  assert.is(pb.state().notes, '')
  const dead = ben.deadLetters()
  assert.is(dead.length, 1)
  assert.is(dead[0]!.rejected[0]!.code, 'FRAME_TOO_LARGE')
  assert.ok(['stored', 'validated'].includes(pb.eventStatus(before.id)), 'the change before the big one was acknowledged')

  await ben.retryDeadLetter(id)
  await pb.run((r) => r.editNotes(0, 0, 'small note'))
  await waitFor('a later edit reaches anna', () => pa.state().notes === 'small note', () => ben.explain(id))
  await converged(anna, pa, ben, pb, 'converged after the frame refusal')
})

/** A proxy in front of the relay that renames every refusal's code to `code`, passing everything else through unchanged. */
interface Proxy {
  readonly url: string
  /** Pushes the client sent through the proxy. */
  pushes: number
  /** Documents the client subscribed to through the proxy, in order. */
  readonly subscribed: readonly string[]
  close(): Promise<void>
}

/**
 * A proxy in front of the relay. `rename`: every refusal reaches the client
 * under this code. `lacking`: the proxy answers every push itself, refusing
 * each event UNKNOWN_EVENT, as a relay that lacks a dependency would.
 */
async function proxy(o: { rename?: string; lacking?: boolean }): Promise<Proxy> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  const state = { pushes: 0, subscribed: [] as string[] }
  server.on('connection', (down, req) => {
    const up = new WebSocket(relay.url.replace(/\/sync$/, req.url ?? '/sync'))
    const early: Buffer[] = []
    down.on('message', (b: Buffer) => {
      const m = decodeClientMessage(new Uint8Array(b))
      if (m.t === 'subscribe') state.subscribed.push(m.docId)
      if (m.t === 'push') {
        state.pushes++
        if (o.lacking === true) {
          for (const e of m.events) down.send(encodeServerMessage({ t: 'reject', docId: m.docId, id: e.id, code: 'UNKNOWN_EVENT', reason: 'depends on events the relay has not stored' }))
          return
        }
      }
      if (up.readyState === WebSocket.OPEN) up.send(b)
      else early.push(b)
    })
    up.on('open', () => {
      for (const b of early.splice(0)) up.send(b)
    })
    up.on('message', (b: Buffer) => {
      const m = decodeServerMessage(new Uint8Array(b))
      down.send(m.t === 'reject' && o.rename !== undefined ? encodeServerMessage({ ...m, code: o.rename }) : b)
    })
    up.on('close', () => down.close())
    down.on('close', () => up.close())
    up.on('error', () => down.terminate())
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `ws://127.0.0.1:${port}/sync`,
    get pushes() {
      return state.pushes
    },
    subscribed: state.subscribed,
    close: () => new Promise<void>((resolve) => {
      for (const c of server.clients) c.terminate()
      server.close(() => resolve())
    }),
  }
}

test('a refusal code this client does not know: the change is kept (not undone) and the purchase set aside until someone looks', async () => {
  const id = `REF-${SEED}-unknown`
  const anna = await client('anna-u', await mintToken({ sub: 'anna-u' }))
  const pa = await anna.createPurchase({ id, currency: 'EUR', supplier: 'Initial Supplies' })
  await waitFor('anna synced', () => synced(anna), () => anna.status)
  const renaming = await proxy({ rename: 'SOME_FUTURE_CODE' })
  try {
    // A read-only token: the relay refuses the write (FORBIDDEN), the proxy renames the code.
    const ben = await client('ben-u', await mintToken({ sub: 'ben-u', grants: [{ doc: id, rights: ['read'] }] }), memoryStorage('ben-unknown'), renaming.url)
    const pb = await ben.open(id)
    await waitFor('ben has the purchase', () => synced(ben), () => ben.explain(id))
    const change = await pb.run((r) => r.setSupplier('Kept Co'))
    await waitFor('the purchase is set aside', () => ben.deadLetters().length === 1, () => ben.explain(id))
    assert.is(pb.state().supplier.values.join('|'), 'Kept Co', 'the change is kept on the device')
    assert.ok(pb.replica.log.has(change.id), 'and in its log')
    assert.is(pb.status().pending, 1, 'still waiting to be sent')
    assert.is(pb.eventStatus(change.id), 'saved', 'not marked refused-and-undone')
    assert.ok(ben.deadLetters()[0]!.reason.includes('SOME_FUTURE_CODE'), ben.deadLetters()[0]!.reason)
    assert.ok(/SOME_FUTURE_CODE/.test(ben.explain(id)), ben.explain(id))
    assert.is(pa.state().supplier.values.join('|'), 'Initial Supplies', 'nothing reached the other device')
  } finally {
    await renaming.close()
  }
})

test('a push whose events the relay cannot place (UNKNOWN_EVENT each): one catch-up per push, with a growing pause, never a re-send per refusal', async () => {
  const id = `REF-${SEED}-lacking`
  const anna = await client('anna-l', await mintToken({ sub: 'anna-l' }))
  await anna.createPurchase({ id, currency: 'EUR', supplier: 'Initial Supplies' })
  await waitFor('anna synced', () => synced(anna), () => anna.status)
  const lacking = await proxy({ lacking: true })
  try {
    const ben = await client('ben-l', await mintToken({ sub: 'ben-l' }), memoryStorage('ben-lacking'), lacking.url)
    const pb = await ben.open(id)
    await waitFor('ben has the purchase', () => synced(ben), () => ben.explain(id))
    // Several changes waiting, sent as one push: each is refused.
    ben.goOffline()
    for (let i = 0; i < 6; i++) await pb.run((r) => r.setSupplier(`Lacking ${i}`))
    ben.goOnline()
    // Pauses of 20, 40, 80, 160 and 320 ms (retry.initialDelayMs doubled), then the purchase waits in error.
    await waitFor('the catch-ups to give up', () => /still lacks/.test(ben.explain(id)), () => `${lacking.pushes} pushes; ${ben.explain(id)}`)
    const pushes = lacking.pushes
    assert.ok(pushes >= 2 && pushes <= 6, `the first push and one per catch-up, not one per refusal: ${pushes} pushes`)
    // A marker: opening another purchase runs after every refusal already received (the client's queue) and its
    // subscribe leaves on the same socket after anything those refusals made the client send.
    const marker = `REF-${SEED}-marker`
    await ben.open(marker)
    await waitFor('the marker subscribe at the proxy', () => lacking.subscribed.includes(marker), () => lacking.subscribed.join(', '))
    assert.is(lacking.pushes, pushes, 'nothing is re-sent while the purchase waits for the next connection')
    assert.is(pb.status().pending, 6, 'the changes are kept')
  } finally {
    await lacking.close()
  }
})

test.run()
