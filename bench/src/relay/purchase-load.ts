/**
 * A purchase-shaped load for the y-websocket endpoint: what a plain Yjs app
 * writes into a Concord purchase. Each document is a real purchase with one
 * line per client, created over the native protocol (a raw Yjs update cannot
 * create one); each y-websocket client then sets its own line's quantity
 * again and again, as a register write the relay's trust boundary accepts
 * (the stamps a raw writer may give: its own event id and clock, the token's
 * subject, the y-websocket device) and supersedes its previous value. So the
 * relay inspects, checks, stores and derives a purchase on every update,
 * invariants and conflict detection included, where the text load writes a
 * generic room. Loaded only by load processes that run this workload.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import { type EventEnvelope, type ReplicaId, PurchaseReplica, createUlidFactory, encodeHlc, parsePurchaseId } from '@concord/core'
import { seededRandom } from '@concord/core/internal'
import { helloFrame, parseNative, pushFrame, subscribeFrame } from './native.js'

/** A fixed clock and seed: every load process makes the same creation events for a document. */
const T0 = 1_767_225_600_000
const CREATOR = 'bench-genesis'
/** The subject of the bench relay's demo token (servers.ts): the `by` a raw write must carry. */
export const BENCH_SUBJECT = 'bench'
/** The device the relay stamps on /y/ connections. */
const Y_DEVICE = 'y-websocket'

interface Genesis {
  readonly events: readonly EventEnvelope[]
  readonly lineIds: readonly string[]
}
const genesisCache = new Map<string, Genesis>()

/** The purchase and its `lines` lines, identical in every process. */
export function purchaseGenesis(doc: string, lines: number): Genesis {
  const id = `${doc}\u0000${lines}`
  let g = genesisCache.get(id)
  if (g === undefined) {
    const r = PurchaseReplica.create(
      { docId: parsePurchaseId(doc), replica: CREATOR as ReplicaId, now: () => T0, newId: createUlidFactory(() => T0, seededRandom(7)), user: BENCH_SUBJECT, device: 'bench' },
      { currency: 'EUR', supplier: 'Bench' },
    )
    const lineIds: string[] = []
    for (let i = 0; i < lines; i++) lineIds.push(r.addLine({ product: `Item ${i + 1}`, qty: '1', price: '10' }).lineId)
    g = { events: r.log.events().slice(), lineIds }
    genesisCache.set(id, g)
  }
  return g
}

/** Stores a document's creation events over the native protocol at `syncUrl` (a duplicate from another process is fine). */
export function storeGenesis(syncUrl: string, token: string, doc: string, lines: number): Promise<void> {
  const { events } = purchaseGenesis(doc, lines)
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(syncUrl, { perMessageDeflate: false })
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error(`${doc}: the creation events were not stored within 30 s`))
    }, 30_000)
    const done = (err?: Error) => {
      clearTimeout(timer)
      ws.close()
      if (err === undefined) resolve()
      else reject(err)
    }
    const stored = new Set<string>()
    ws.on('open', () => ws.send(helloFrame(token)))
    ws.on('message', (data: Buffer) => {
      const m = parseNative(data)
      if (m.kind === 'welcome') {
        ws.send(subscribeFrame(doc))
        ws.send(pushFrame(doc, events))
      } else if (m.kind === 'ack') {
        for (const it of m.items) stored.add(`${it.actor}.${it.seq}`)
        if (events.every((e) => stored.has(e.id))) done()
      } else if (m.kind === 'reject' || m.kind === 'error') {
        done(new Error(`${doc}: creation events refused: ${m.reason}`))
      }
    })
    ws.on('error', (err) => done(err))
  })
}

/**
 * `count` raw Yjs updates by Yjs client `yClient`: each sets the quantity of
 * line `slot` of the purchase and deletes the client's previous entry of it.
 * One struct per update, so update i has clock i (what the load generator
 * counts deliveries by).
 */
export function prepareLineWrites(doc: string, lines: number, slot: number, yClient: number, count: number, wallMs: number): Uint8Array[] {
  const lineId = purchaseGenesis(doc, lines).lineIds[slot % lines]!
  const actor = `y${yClient}`
  const key = `l.${lineId}.qty`
  const ydoc = new Y.Doc()
  ydoc.clientID = yClient
  const regs = ydoc.getMap('regs')
  const out: Uint8Array[] = []
  ydoc.on('update', (u: Uint8Array) => out.push(u))
  let previous: string | undefined
  for (let i = 1; i <= count; i++) {
    const ev = `${actor}.${i}`
    const full = `${key}\u0000${ev}`
    ydoc.transact(() => {
      if (previous !== undefined) regs.delete(previous)
      regs.set(full, { value: String(1 + (i % 50)), ev, hlc: encodeHlc({ wall: wallMs, counter: i, replica: actor as ReplicaId }), by: BENCH_SUBJECT, dev: Y_DEVICE })
    })
    previous = full
  }
  ydoc.destroy()
  return out
}
