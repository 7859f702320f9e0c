/**
 * The properties a quiet world must have (after the heal; acknowledgements
 * are checked live, as each reaches a device, in world.ts):
 *  - every running tab and every relay hold the same purchase, derived
 *    totals, statuses and conflict queue as a replica rebuilt from the store;
 *  - every event any device holds is in the store with the same content;
 *  - every event a device pushed is stored, or its user was told (refused,
 *    reissued under a fresh actor), or the device forgot it by restoring an
 *    older copy of its store before the relay stored it;
 *  - no honest device was refused anything its token allows; no dead letter is left;
 *  - nothing the hostile writer sent is in the store, or was acknowledged to it.
 */
import { type EventEnvelope, type PurchaseId, type ReplicaId, backendNamed, createUlidFactory, PurchaseReplica } from '@concord/core'
import { eventHash } from '@concord/core/internal'
import type { Notification } from '@concord/client'
import { fingerprint } from '../replicas.js'
import type { World } from './world.js'

function firstDifference(a: string, b: string): string {
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return `...${a.slice(Math.max(0, i - 150), i + 150)}\n    vs\n...${b.slice(Math.max(0, i - 150), i + 150)}`
}

export async function storedEvents(w: World, docId: PurchaseId): Promise<EventEnvelope[]> {
  const out: EventEnvelope[] = []
  for await (const page of w.durable.inner.readPages(docId, 0)) for (const e of page) out.push(e.event)
  return out
}

export function rebuild(w: World, docId: PurchaseId, events: readonly EventEnvelope[]): PurchaseReplica {
  const now = () => w.sched.time
  return PurchaseReplica.fromEvents({
    docId, replica: 'checker' as ReplicaId, backend: backendNamed(w.plan.backend),
    now, newId: createUlidFactory(now, () => 0.5), user: 'checker', device: 'checker',
  }, events)
}

/** True when the user was told that event `id` was refused, or moved to another id (reissued). */
function refusedOrMoved(told: readonly Notification[], id: string): boolean {
  return told.some((n) => (n.type === 'rejected' && n.eventId === id) || (n.type === 'reissued' && n.eventIds.includes(id)))
}

export async function check(w: World): Promise<void> {
  for (const docId of w.docIds) {
    const events = await storedEvents(w, docId)
    const truth = rebuild(w, docId, events)
    if (truth.log.pending().events.length > 0) w.fail(`the store holds events of ${docId} whose dependencies it lacks: ${truth.log.pending().missing.join(', ')}`)
    const want = fingerprint(truth)
    for (const d of w.devices) {
      for (const t of d.tabs) {
        const r = t.client!.currentReplica(docId)
        const got = fingerprint(r)
        if (got !== want) w.fail(`${t.name} differs from the store on ${docId}:\n  ${firstDifference(got, want)}`)
        for (const e of r.log.events()) {
          const stored = w.durable.hashOf(docId, e.id)
          if (stored === undefined) w.fail(`${t.name} holds ${e.id}, which the store never got`)
          else if (stored !== eventHash(e)) w.fail(`${t.name} holds ${e.id} with other content than the store`)
        }
        for (const dl of t.client!.deadLetters()) w.fail(`${t.name} has a dead letter on ${dl.docId}: ${dl.reason}`)
      }
    }
    for (const r of w.relays) {
      const loaded = r.core?.host.docs.get(docId)?.replica
      if (loaded === undefined) continue
      const got = fingerprint(loaded)
      if (got !== want) w.fail(`${r.name}'s loaded replica differs from its store on ${docId}:\n  ${firstDifference(got, want)}`)
    }
  }
  // Nothing a device sent disappears without its user being told. (Two tabs of one store may both push one event: counted once.)
  const saved = new Map<string, boolean>()
  for (const [key, p] of w.pushed) {
    const stored = w.durable.hashOf(p.docId, p.id)
    const tab = p.tab
    const forgotten = p.at < (tab.device.restoredAt ?? -Infinity)
    const content = `${p.docId} ${p.id} ${p.hash}`
    if (!forgotten) saved.set(content, (saved.get(content) ?? true) && stored === p.hash && !refusedOrMoved(tab.told, p.id))
    if (stored === p.hash) continue
    const told = refusedOrMoved(tab.told, p.id)
    if (!told && !forgotten) w.fail(`${tab.name} pushed ${key} and it is ${stored === undefined ? 'not stored' : 'stored with other content'}, and nobody told its user`)
  }
  w.stats.saved += saved.size
  w.stats.storedAsSaved += [...saved.values()].filter((ok) => ok).length
  // An honest device is refused only what its token does not allow: approving without the approve right (the
  // client offers it to everyone and the relay decides), and what was built on that. Anything else is a bug.
  for (const d of w.devices) {
    for (const t of d.tabs) {
      for (const n of t.told) {
        if (n.type !== 'rejected') continue
        w.stats.refused++
        const expected = (n.code === 'FORBIDDEN' && /needs the approve right/.test(n.reason) && !d.plan.rights.includes('approve')) || n.code === 'DEPENDS_ON_REFUSED'
        if (!expected) w.fail(`${t.name} (an honest device) was refused ${n.eventId}: ${n.code} ${n.reason}`)
      }
    }
  }
  if (w.hostile !== undefined) {
    for (const h of w.hostile.sent) {
      const stored = w.durable.hashOf(h.docId, h.id)
      if (stored === h.hash) w.fail(`the hostile writer's ${h.what} (${h.id}) got into the store`)
      // Refused, never acknowledged: an ack for other content under a stored id would tell the writer it is stored.
      if (w.hostile.acked.has(`${h.docId} ${h.id}`)) w.fail(`the relay acknowledged the hostile writer's ${h.what} (${h.id})`)
    }
    if (w.hostile.attacks === 0) w.fail('the hostile writer never attacked')
  }
  for (const docId of w.docIds) {
    const h = w.durable.held.get(docId)
    w.stats.stored += h?.hashes.size ?? 0
  }
}
