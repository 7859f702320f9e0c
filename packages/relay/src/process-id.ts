/**
 * This relay process's replica id: the store's relay id plus a random 8-hex
 * suffix made at start (short enough that `${id}-y`, the y-websocket import
 * actor, is still a valid replica id). A restarted process is a new actor
 * whose own events start at seq 1. That matters even with one relay: its own
 * events (order numbers) reach the document before they are stored, so a
 * crash in between must not let the next process reuse the same actor, event
 * numbers and Yjs client clock for different content. In cluster mode it also
 * keeps relays sharing one store apart.
 */
import { randomBytes } from 'node:crypto'
import { type ReplicaId, parseReplicaId } from '@concord/core'

export function processReplicaId(storeRelayId: ReplicaId): ReplicaId {
  return parseReplicaId(`${storeRelayId.slice(0, 53)}-${randomBytes(4).toString('hex')}`)
}
