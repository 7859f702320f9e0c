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
 *
 * The relay believes no connection about anyone else. Each entry belongs to
 * the connection that announced it (or to "another relay"), and only its
 * owner may change or remove it, with two exceptions for a client that
 * moved: a newer clock from a connection of the same user (a reconnect while
 * the old socket is not yet seen closed), or a newer clock for another
 * relay's entry (a client that switched relays). The unmodified y-websocket
 * client re-sends every entry it hears, its peers' included, at the clock it
 * heard; those echoes are dropped here rather than handing it the entry.
 * A connection owns at most MAX_CLIENT_IDS_PER_CONNECTION ids; entries for
 * more are dropped. Only the entries accepted are forwarded, to the room and to
 * the other relays.
 *
 * Why not y-protocols' Awareness: it is a participant, not a relay. Its
 * timeout runs on a global setInterval and Date.now, outside the relay's
 * injected Runtime (so outside a simulation's virtual time, and holding the
 * process open); it trusts every update to set or remove any client's state,
 * keeps a clock per client id forever, throws lib0's untyped errors on bad
 * input and re-serialises states instead of forwarding them as sent. What is
 * left of it once those are worked around is the map and the clock rule
 * below, so the relay does not depend on y-protocols at all.
 */
import { type AwarenessEntry, encodeAwarenessUpdate, encodeYMessage, isAwarenessRemoval } from '@concord/core/protocol'
import type { YSubscriber } from './fanout.js'

/** y-protocols' outdatedTimeout: a state not renewed for this long is gone. */
export const AWARENESS_TIMEOUT_MS = 30_000

/** A y-websocket connection announces one client id (its Y.Doc's); a few more leave room for odd clients, not for a flood. */
export const MAX_CLIENT_IDS_PER_CONNECTION = 8

export interface AwarenessState {
  clock: number
  state: string
  /** The connection that announced it here; undefined for a client of another relay. */
  readonly peer: YSubscriber | undefined
  /** The token subject of that connection (null without one); undefined for another relay's client. */
  readonly user: string | null | undefined
  /** When it was last announced (ms since the epoch). */
  seenAt: number
}

export type AwarenessMap = Map<number, AwarenessState>

/** Who announces: a connection of this relay (with its user and the ids it announced), or another relay (undefined). */
export interface AwarenessSource {
  readonly peer: YSubscriber
  readonly user: string | null
  /**
   * The ids this connection announced; some may since have been taken over
   * (the map's `peer` says who owns an entry now).
   */
  readonly announced: Set<number>
}

/** Whether `from` may set or remove the entry `known` at `clock`. */
function mayChange(known: AwarenessState, clock: number, from: AwarenessSource | undefined): boolean {
  const peer = from?.peer
  if (known.peer === peer) return clock >= known.clock
  // Anyone else needs a newer clock: an entry echoed at the clock it was heard is no news.
  if (clock <= known.clock) return false
  if (known.peer === undefined) return true
  // Held by a live connection here: only another connection of the same user.
  return from !== undefined && known.user === from.user
}

/** Whether `from` owns fewer ids than the cap (forgetting the ids others took over). */
function roomForAnother(map: AwarenessMap, from: AwarenessSource): boolean {
  if (from.announced.size < MAX_CLIENT_IDS_PER_CONNECTION) return true
  for (const id of from.announced) if (map.get(id)?.peer !== from.peer) from.announced.delete(id)
  return from.announced.size < MAX_CLIENT_IDS_PER_CONNECTION
}

/**
 * Applies the announced entries that `from` may make (newer clocks win, as in
 * y-protocols; ownership as above). `from` undefined: another relay's update.
 * Returns the entries accepted, which are all that may be forwarded.
 */
export function applyAwareness(map: AwarenessMap, entries: readonly AwarenessEntry[], from: AwarenessSource | undefined, now: number): AwarenessEntry[] {
  const accepted: AwarenessEntry[] = []
  for (const e of entries) {
    const known = map.get(e.clientId)
    if (known !== undefined && !mayChange(known, e.clock, from)) continue
    if (isAwarenessRemoval(e)) {
      if (known === undefined) continue
      map.delete(e.clientId)
    } else {
      if (from !== undefined && !from.announced.has(e.clientId)) {
        if (!roomForAnother(map, from)) continue
        from.announced.add(e.clientId)
      }
      map.set(e.clientId, { clock: e.clock, state: e.state, peer: from?.peer, user: from?.user, seenAt: now })
    }
    accepted.push(e)
  }
  return accepted
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
