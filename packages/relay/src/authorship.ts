/**
 * Who an event is attributed to. `meta.user` is defined as "the person or
 * service acting, as the token names them" (core/log/envelope.ts), and the
 * store treats `meta` as display data whose stored copy wins over a retry's.
 * So the relay does not take a device's word for it: it stamps the subject of
 * the token that pushed the event before the event is stored, echoed or
 * fanned out. A token without a subject vouches for no one, so the claim is
 * dropped and the audit trail names the actor (the replica id) instead.
 * The payload is untouched: the author is not part of the CRDT change.
 */
import type { EventEnvelope, EventMeta } from '@concord/core'

/** The event as the token's subject made it; the same object when it already says so. */
export function attributed(e: EventEnvelope, subject: string | null): EventEnvelope {
  if (e.meta.user === (subject ?? undefined)) return e
  const { user: _claimed, ...rest } = e.meta
  const meta: EventMeta = subject === null ? rest : { ...rest, user: subject }
  return { ...e, meta }
}
