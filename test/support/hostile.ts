/**
 * Hostile writes for trust-boundary tests: Yjs updates made by hand on a
 * copy of a purchase (what a raw Yjs client or a modified device can send),
 * wrapped in envelopes the relay cannot tell from a real device's by their
 * shape alone.
 */
import WebSocket from 'ws'
import * as Y from 'yjs'
import { type EventEnvelope, type EventId, type Hlc, type PurchaseReplica, type ReplicaId, encodeHlc, instantFromEpochMs } from '@concord/core'
import { type YjsDoc, yjsClientIdOf } from '@concord/core/internal'
import { type YMessage, decodeYMessage, encodeYMessage } from '@concord/core/protocol'
import { waitFor } from './native-test-client.js'

/** The Yjs update `edit` makes on a copy of the replica's document, written as Yjs client `actor`. */
export function rawYjsUpdate(r: PurchaseReplica, actor: string, edit: (doc: Y.Doc) => void): Uint8Array {
  const copy = new Y.Doc({ gc: true })
  Y.applyUpdate(copy, Y.encodeStateAsUpdate((r.log.doc as YjsDoc).ydoc))
  copy.clientID = yjsClientIdOf(actor as ReplicaId)
  let update: Uint8Array | undefined
  copy.on('update', (u: Uint8Array) => (update = u))
  copy.transact(() => edit(copy))
  copy.destroy()
  if (update === undefined) throw new Error('the edit changed nothing')
  return update
}

/** The next event of `actor` on this replica's log, carrying `payload` under `kind`: ids, deps and clock as a real device sets them. */
export function envelopeFor(r: PurchaseReplica, actor: string, payload: Uint8Array, kind: string): EventEnvelope {
  const seq = r.log.seqOf(actor as ReplicaId) + 1
  const hlc: Hlc = encodeHlc({ wall: Date.now(), counter: 0, replica: actor as ReplicaId })
  return {
    id: `${actor}.${seq}` as EventId, docId: r.docId, actor: actor as ReplicaId, seq, hlc, deps: r.log.heads(), kind, backend: 'yjs', payload,
    meta: { at: instantFromEpochMs(Date.now()), priority: 'normal' },
  }
}

/** A bare y-websocket connection: every message it gets, decoded. */
export async function yConnect(wsUrl: string, docId: string, token: string) {
  const ws = new WebSocket(`${wsUrl}/y/${docId}?token=${encodeURIComponent(token)}`)
  const messages: YMessage[] = []
  let closed: { code: number; reason: string } | undefined
  ws.on('message', (d: Buffer) => messages.push(decodeYMessage(new Uint8Array(d))))
  ws.on('close', (code, reason) => (closed = { code, reason: reason.toString() }))
  ws.on('error', () => {})
  await waitFor('the relay greets the y client', () => messages.length > 0)
  return {
    messages,
    closed: () => closed,
    send: (update: Uint8Array) => ws.send(encodeYMessage({ t: 'update', update })),
    /** The reason of the next permission-denied after `from` messages. */
    denied: (from: number) => waitFor('permission denied', () => messages.slice(from).find((m): m is Extract<YMessage, { t: 'authPermissionDenied' }> => m.t === 'authPermissionDenied')?.reason),
    close: () => ws.close(),
  }
}
