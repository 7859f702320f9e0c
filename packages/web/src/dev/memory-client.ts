/**
 * A stand-in client for working on the app's looks without a relay: purchases
 * live in memory on real PurchaseReplicas, nothing syncs. Built only into the
 * dev bundle (build.mjs --dev), never into dist. `seedDemo` makes a purchase
 * edited on two simulated devices, with a conflict, to look at the dialog.
 */
import {
  type EventEnvelope, type EventId, type PurchaseId, type ReplicaId, PurchaseReplica, auditTrail, createUlidFactory, formatMinor,
  invalidValues, parsePurchaseId, yjsBackend,
} from '@concord/core'
import { eventsUpTo, hasPurchase, readPurchase, replay } from '@concord/core/internal'
import type { AppClient, ClientStatus, DocStatus, PurchaseHandle, PurchaseSummary } from '../client-api.js'

const newId = createUlidFactory(() => Date.now(), Math.random)

export function memoryClient(user: string, device: string): AppClient & { seedDemo(): Promise<void> } {
  const replicas = new Map<PurchaseId, PurchaseReplica>()
  const statusListeners = new Set<(s: ClientStatus) => void>()
  let offline = false
  const none = { high: 0, normal: 0, low: 0 }
  const docStatus = (): DocStatus => ({
    state: offline ? 'offline' : 'synced', cursor: 0, pending: 0, pendingByPriority: none, localHead: 0, acked: 0, validatedCursor: 0, validated: true,
    rejected: 0, caughtUp: true, deadLetter: false, lastSyncedAt: new Date().toISOString(), reason: offline ? 'offline switch' : null,
  })
  const status = (): ClientStatus => ({
    overall: offline ? 'offline' : 'synced', docs: new Map(), pending: none, lastSyncedAt: new Date().toISOString(),
    connection: { state: offline ? 'offline' : 'connected', attempt: 0, nextRetryAt: null, lastDelayMs: null, breaker: 'closed', lastError: null },
    network: { online: !offline, connected: !offline, rttMs: null, quality: 'unknown', type: null, saveData: false },
  })
  const emit = () => {
    for (const l of statusListeners) l(status())
  }
  const handle = (r: PurchaseReplica): PurchaseHandle => ({
    id: r.docId,
    replica: r,
    exists: r.exists,
    close: () => {},
    state: () => r.state(),
    derived: () => r.derived(),
    conflicts: () => r.conflicts(),
    invalid: () => invalidValues(r.log.doc.read()),
    run: async (cmd) => {
      const out = cmd(r)
      emit()
      return out
    },
    onChange: (cb) => r.onChange(() => cb()),
    history: () => auditTrail(yjsBackend, r.log.events() as EventEnvelope[]),
    stateAt: (at) => {
      const doc = replay(yjsBackend, 'asof' as ReplicaId, eventsUpTo(r.log.events(), at as { event: EventId }))
      const snap = doc.read()
      if (!hasPurchase(snap)) throw new Error('the order did not exist yet')
      return readPurchase(snap)
    },
    status: docStatus,
  })
  const summary = (r: PurchaseReplica): PurchaseSummary => {
    const s = r.state()
    const d = r.derived()
    return {
      id: r.docId, number: s.number, supplier: s.supplier.values.join(' / '), status: d.lifecycle.state,
      total: `${formatMinor(d.totals.total, s.settings.currencyExponent)} ${s.currency.values[0] ?? ''}`,
      currency: s.currency.values[0] ?? '', conflicts: r.conflicts().length, sync: offline ? 'offline' : 'synced', pending: 0, exists: true,
    }
  }
  const make = (u: string, dev: string, replica: string, id: PurchaseId) => ({ docId: id, replica: replica as ReplicaId, now: Date.now, newId, user: u, device: dev })
  const client: AppClient & { seedDemo(): Promise<void> } = {
    async createPurchase(input) {
      const id = parsePurchaseId(newId())
      const r = PurchaseReplica.create(make(user, device, 'me', id), input)
      replicas.set(id, r)
      emit()
      return handle(r)
    },
    async open(id) {
      const r = replicas.get(id as PurchaseId)
      if (r === undefined) throw new Error(`no purchase ${id}`)
      return handle(r)
    },
    list: () => [...replicas.values()].map(summary),
    search: (text) => [...replicas.values()].map(summary).filter((s) => JSON.stringify(s).toLowerCase().includes(text.toLowerCase())),
    get status() {
      return status()
    },
    explain: () => (offline ? 'This tab is offline.' : 'Synced.'),
    onStatus(cb) {
      statusListeners.add(cb)
      return () => statusListeners.delete(cb)
    },
    onNotification: () => () => {},
    forceSync: () => {},
    // Nothing is ever refused here: there is no relay, so no dead letters.
    deadLetters: () => [],
    retryDeadLetter: async () => {},
    goOffline() {
      offline = true
      emit()
    },
    goOnline() {
      offline = false
      emit()
    },
    close: () => {},
    async seedDemo() {
      const id = parsePurchaseId(newId())
      const mine = PurchaseReplica.create(make(user, device, 'me', id), { currency: 'EUR', supplier: 'ACME Industrial Supplies' })
      mine.assignNumber('PO-2026-00042')
      const widget = mine.addLine({ product: 'Steel widget M8', qty: '10', price: '12.50', taxes: [{ code: 'VAT20', name: 'VAT 20%', rate: '20' }] }).lineId
      mine.addLine({ product: 'Hex bolt M8×40 (box of 100)', qty: '4', price: '18.90', discount: '5', taxes: [{ code: 'VAT20', name: 'VAT 20%', rate: '20' }] })
      mine.addLine({ product: 'Installation', kind: 'service', qty: '2', price: '85', uom: 'hour' })
      mine.editNotes(0, 0, 'Deliver to dock 3, mornings only.')
      mine.transition('confirm')
      const other = PurchaseReplica.fromEvents(make('Bob', 'Firefox on Android #9c1e', 'other', id), mine.log.events())
      mine.updateLine(widget, { qty: '6' })
      other.updateLine(widget, { price: '11.75' })
      other.recordReceipt({ line: widget, qty: '8', deliveryNote: 'DN-7731' })
      mine.receive(other.log.events())
      replicas.set(id, mine)
      const second = PurchaseReplica.create(make(user, device, 'me', parsePurchaseId(newId())), { currency: 'JPY', supplier: 'Kobe Tools' })
      second.addLine({ product: 'Chisel set', qty: '3', price: '4800' })
      replicas.set(second.docId, second)
      emit()
    },
  }
  return client
}
