/**
 * Awareness (who is here, their cursor) of a document's y-websocket clients.
 *
 * Awareness is ephemeral: never stored, only forwarded. A relay keeps the
 * latest entry per Yjs client id so that a client joining the room gets
 * everyone at once. In cluster mode the clients of one document may sit on
 * different relays, so each relay also forwards its clients' awareness
 * updates over Redis (cluster.ts) and holds the other relays' entries here
 * too, without a connection of its own behind them: those expire when not
 * renewed (y-protocols clients renew every 15 s and drop a state after 30 s),
 * which is also what removes the clients of a relay that died.
 */
import { type AwarenessEntry, encodeAwarenessUpdate, encodeYMessage, isAwarenessRemoval } from '@concord/core/protocol'
import type { YSubscriber } from './fanout.js'

/** y-protocols' outdatedTimeout: a state not renewed for this long is gone. */
export const AWARENESS_TIMEOUT_MS = 30_000

export interface AwarenessState {
  clock: number
  state: string
  /** The connection that announced it here; undefined for a client of another relay. */
  readonly peer: YSubscriber | undefined
  /** When it was last announced (ms since the epoch). */
  seenAt: number
}

export type AwarenessMap = Map<number, AwarenessState>

/**
 * Applies announced entries (newer clocks win, as in y-protocols). Returns
 * the client ids that were set and those that were removed, so a connection
 * can track which ids are its own.
 */
export function applyAwareness(map: AwarenessMap, entries: readonly AwarenessEntry[], peer: YSubscriber | undefined, now: number): { set: number[]; removed: number[] } {
  const set: number[] = []
  const removed: number[] = []
  for (const e of entries) {
    const known = map.get(e.clientId)
    if (known !== undefined && known.clock > e.clock) continue
    if (isAwarenessRemoval(e)) {
      map.delete(e.clientId)
      removed.push(e.clientId)
    } else {
      map.set(e.clientId, { clock: e.clock, state: e.state, peer, seenAt: now })
      set.push(e.clientId)
    }
  }
  return { set, removed }
}

/** Every entry, as one awareness update (what a joining client is sent). */
export function awarenessEntries(map: AwarenessMap): AwarenessEntry[] {
  return [...map].map(([clientId, a]) => ({ clientId, clock: a.clock, state: a.state }))
}

/** Removal entries for the given ids (the clock one past the last seen, as y-protocols does). */
export function removeAwareness(map: AwarenessMap, ids: Iterable<number>, belongs: (a: AwarenessState) => boolean): AwarenessEntry[] {
  const gone: AwarenessEntry[] = []
  for (const id of ids) {
    const a = map.get(id)
    if (a === undefined || !belongs(a)) continue
    map.delete(id)
    gone.push({ clientId: id, clock: a.clock + 1, state: 'null' })
  }
  return gone
}

/** Removes other relays' entries that were not renewed in time; returns the removal update to send to the room, if any. */
export function expireRemoteAwareness(map: AwarenessMap, now: number): Uint8Array | undefined {
  const stale = [...map].filter(([, a]) => a.peer === undefined && now - a.seenAt > AWARENESS_TIMEOUT_MS).map(([id]) => id)
  const gone = removeAwareness(map, stale, () => true)
  return gone.length === 0 ? undefined : encodeYMessage({ t: 'awareness', update: encodeAwarenessUpdate(gone) })
}
