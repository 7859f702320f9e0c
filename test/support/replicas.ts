/**
 * The N-replica harness (after yjs tests/testHelper.js): replicas of one
 * purchase, a test network with a queue per receiver, and a table of named
 * random operations. The network delivers in random order, duplicates,
 * drops (a dropped event comes back through anti-entropy), and partitions.
 * Everything is driven by one seed.
 */
import {
  type Conflict, type CreatePurchaseInput, type CrdtBackend, type ReplicaOptions, type EventEnvelope, type LineId, type PurchaseId,
  type RandomSource, type ReplicaId, ConcordError, PurchaseReplica, createUlidFactory, isConcordError, parsePurchaseId,
} from '@concord/core'
import { canonicalJson, flattenPurchase, seededRandom } from '@concord/core/internal'

export interface Sim {
  readonly rng: RandomSource
  /** Simulated wall clock shared by every replica (each adds its own skew). */
  time: number
}

export function int(rng: RandomSource, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1))
}

export function pick<T>(rng: RandomSource, list: readonly T[]): T {
  if (list.length === 0) throw new Error('pick from an empty list')
  return list[Math.floor(rng() * list.length)] as T
}

export const DOC: PurchaseId = parsePurchaseId('01J0000000000000000000PO01')

export function replicaOptions(sim: Sim, backend: CrdtBackend, index: number): ReplicaOptions {
  const skew = index * 7919 // devices disagree about the time; the HLC must not care
  const now = () => sim.time + skew
  return {
    docId: DOC,
    replica: `r${index}` as ReplicaId,
    backend,
    now,
    newId: createUlidFactory(now, sim.rng),
    user: `user${index}`,
    device: `device${index}`,
    // Every command of every scenario is held to the relay's write check: a false refusal fails the suite.
    checkWrites: true,
  }
}

export function makeReplica(sim: Sim, backend: CrdtBackend, index: number, base: readonly EventEnvelope[] = []): PurchaseReplica {
  return PurchaseReplica.fromEvents(replicaOptions(sim, backend, index), base)
}

export class TestNetwork {
  /** Per receiver: events in flight to it. */
  private readonly inbox: EventEnvelope[][]
  private readonly partitioned = new Set<number>()
  messages = 0

  constructor(
    readonly sim: Sim,
    readonly replicas: PurchaseReplica[],
  ) {
    this.inbox = replicas.map(() => [])
    replicas.forEach((r, i) =>
      r.onChange(({ origin, events }) => {
        if (origin === 'local') this.broadcast(i, events)
      }),
    )
  }

  private broadcast(from: number, events: readonly EventEnvelope[]): void {
    this.inbox.forEach((q, to) => {
      if (to !== from) q.push(...events)
    })
  }

  /** Delivers one random in-flight event to a random connected receiver. */
  deliverOne(): boolean {
    const candidates = this.inbox.map((q, i) => i).filter((i) => this.inbox[i]!.length > 0 && !this.partitioned.has(i))
    if (candidates.length === 0) return false
    const to = pick(this.sim.rng, candidates)
    const q = this.inbox[to]!
    const [e] = q.splice(Math.floor(this.sim.rng() * q.length), 1)
    this.deliver(to, [e!])
    return true
  }

  /** Delivers a random batch to one receiver at once (what a reconnect delivers). */
  deliverBatch(): void {
    const candidates = this.inbox.map((q, i) => i).filter((i) => this.inbox[i]!.length > 0 && !this.partitioned.has(i))
    if (candidates.length === 0) return
    const to = pick(this.sim.rng, candidates)
    const q = this.inbox[to]!
    const n = int(this.sim.rng, 1, q.length)
    const batch = q.splice(0, n)
    // Reordered within the batch: the log must sort out causality.
    for (let i = batch.length - 1; i > 0; i--) {
      const j = Math.floor(this.sim.rng() * (i + 1))
      ;[batch[i], batch[j]] = [batch[j]!, batch[i]!]
    }
    this.deliver(to, batch)
  }

  duplicateOne(): void {
    const q = pick(this.sim.rng, this.inbox)
    if (q.length > 0) q.push(pick(this.sim.rng, q))
  }

  dropOne(): void {
    const q = pick(this.sim.rng, this.inbox)
    if (q.length > 0) q.splice(Math.floor(this.sim.rng() * q.length), 1)
  }

  partition(i: number): void {
    this.partitioned.add(i)
  }

  heal(): void {
    this.partitioned.clear()
  }

  private deliver(to: number, events: EventEnvelope[]): void {
    this.messages++
    const result = this.replicas[to]!.receive(events)
    if (result.rejected.length > 0) {
      throw new Error(`replica ${to} rejected ${result.rejected.map((r) => `${r.id}: ${r.error.message}`).join('; ')}`)
    }
  }

  /** Heals, re-sends every event to everyone (anti-entropy covers drops), and delivers everything. */
  settle(): void {
    this.heal()
    const all = this.replicas.flatMap((r) => [...r.log.events()])
    this.inbox.forEach((q, i) => q.push(...all.filter((e) => e.actor !== this.replicas[i]!.replica)))
    while (this.deliverOne()) {
      /* deliver until quiet */
    }
  }
}

/** What must be equal on converged replicas: the purchase, derived values, conflict queue, heads. */
export function fingerprint(r: PurchaseReplica): string {
  const d = r.derived()
  return canonicalJson({
    state: Object.fromEntries(flattenPurchase(r.state())),
    totals: Object.fromEntries(Object.entries(d.totals).map(([k, v]) => [k, v instanceof Map ? Object.fromEntries([...v].map(([a, b]) => [a, String(b)])) : String(v)])),
    statuses: [d.receiptStatus, d.billingStatus, d.paymentStatus, d.lifecycle.state, d.percentReceived, d.percentBilled],
    conflicts: r.conflicts().map(conflictFingerprint),
    heads: r.log.heads(),
  })
}

export function conflictFingerprint(c: Conflict): string {
  return canonicalJson({ id: c.id, kind: c.kind, subject: c.subject, causes: c.causes, facts: c.facts, deferred: c.deferred })
}

function firstDifference(a: string, b: string): string {
  let i = 0
  while (i < a.length && a[i] === b[i]) i++
  return `...${a.slice(Math.max(0, i - 120), i + 120)}\n  vs\n...${b.slice(Math.max(0, i - 120), i + 120)}`
}

/**
 * Every pair of replicas agrees, nothing is pending, and rebuilding each
 * from its log (shuffled) and from a snapshot plus tail gives the same state.
 */
export function assertConverged(sim: Sim, backend: CrdtBackend, replicas: readonly PurchaseReplica[]): void {
  const prints = replicas.map(fingerprint)
  prints.forEach((p, i) => {
    if (p !== prints[0]) throw new Error(`replica ${i} differs from replica 0:\n${firstDifference(p, prints[0]!)}`)
    const pending = replicas[i]!.log.pending()
    if (pending.events.length > 0) throw new Error(`replica ${i} has ${pending.events.length} pending events, missing ${pending.missing.join(', ')}`)
  })
  for (const [i, r] of replicas.entries()) {
    const events = [...r.log.events()]
    for (let k = events.length - 1; k > 0; k--) {
      const j = Math.floor(sim.rng() * (k + 1))
      ;[events[k], events[j]] = [events[j]!, events[k]!]
    }
    const rebuilt = makeReplica(sim, backend, 100 + i, events)
    const p = fingerprint(rebuilt)
    if (p !== prints[0]) throw new Error(`replica ${i} rebuilt from its log differs:\n${firstDifference(p, prints[0]!)}`)
    // Snapshot of a causal prefix, then the tail.
    const ordered = r.log.events()
    const cut = Math.floor(sim.rng() * (ordered.length + 1))
    const prefix = makeReplica(sim, backend, 200 + i, ordered.slice(0, cut))
    const restored = PurchaseReplica.fromSnapshot(
      { docId: DOC, replica: `s${i}` as ReplicaId, backend, now: () => sim.time, newId: createUlidFactory(() => sim.time, sim.rng) },
      prefix.log.snapshot(),
      ordered.slice(cut),
    )
    const ps = fingerprint(restored)
    if (ps !== prints[0]) throw new Error(`replica ${i} from snapshot (${cut} events) plus tail differs:\n${firstDifference(ps, prints[0]!)}`)
  }
}

const NOTES = ['DN-1', 'DN-2', 'DN-3']
const PRODUCTS = ['Widget', 'Gadget', 'Bolt M6', 'Cable 2m']

/** One named random operation on one replica; refusals (typed errors) are part of the game. */
export function randomCommand(sim: Sim, r: PurchaseReplica, ops: Map<string, number>): void {
  const rng = sim.rng
  const s = r.state()
  const d = r.derived()
  const live = s.lines.filter((l) => !l.removed)
  const anyLine = (): LineId => pick(rng, live).id
  const qty = () => String(int(rng, 1, 12))
  const table: [string, number, () => unknown][] = [
    ['addLine', 6, () => r.addLine({ product: pick(rng, PRODUCTS), qty: qty(), price: `${int(rng, 1, 40)}.${int(rng, 0, 99)}`, discount: pick(rng, ['0', '0', '5', '12.5']), taxes: rng() < 0.5 ? [{ code: 'VAT', rate: pick(rng, ['7.5', '20']) }] : [] })],
    ['updateQty', 4, () => r.updateLine(anyLine(), { qty: qty() })],
    ['updatePrice', 3, () => r.updateLine(anyLine(), { price: `${int(rng, 1, 40)}` })],
    ['updateProduct', 1, () => r.updateLine(anyLine(), { product: pick(rng, PRODUCTS) })],
    ['removeLine', 1, () => r.removeLine(anyLine())],
    ['restoreLine', 1, () => r.restoreLine(pick(rng, s.lines.filter((l) => l.removed)).id)],
    ['moveLine', 1, () => r.moveLine(anyLine(), rng() < 0.3 ? null : anyLine())],
    ['tax', 1, () => r.setLineTax(anyLine(), { code: pick(rng, ['VAT', 'ECO']), rate: pick(rng, ['7.5', '20', '1']) }, rng() < 0.6)],
    ['supplier', 1, () => r.setSupplier(pick(rng, ['ACME', 'Globex', 'Initech']))],
    ['fxRate', 1, () => r.setFxRate(pick(rng, ['1.1', '0.9']))],
    ['currency', 0.3, () => r.setCurrency(pick(rng, ['EUR', 'USD']))],
    ['statedTotal', 1, () => r.setStatedTotal(rng() < 0.2 ? null : (Number(d.totals.total) / 100).toFixed(2))],
    ['header', 1, () => r.setHeader('incoterm', pick(rng, ['FOB', 'CIF', 'EXW']))],
    ['hold', 0.5, () => r.setHold(rng() < 0.3, 'waiting for budget')],
    ['notes', 2, () => r.editNotes(int(rng, 0, s.notes.length), 0, pick(rng, ['a', 'bc ', 'Call first. ']))],
    ['transition', 5, () => r.transition(pick(rng, r.allowedActions().filter((a) => a !== 'force' && (a !== 'reset' || rng() < 0.3))) as Parameters<PurchaseReplica['transition']>[0])],
    ['receipt', 4, () => r.recordReceipt({ line: anyLine(), qty: String(int(rng, 1, 6)), deliveryNote: pick(rng, NOTES) })],
    ['return', 1, () => r.recordReturn({ line: anyLine(), qty: '1' })],
    ['bill', 2, () => r.recordBill({ line: anyLine(), qty: String(int(rng, 1, 4)), ref: 'INV-1' })],
    ['payment', 2, () => r.recordPayment({ amount: (Number(d.totals.due < 0n ? 0n : d.totals.due) / 100 / int(rng, 1, 3)).toFixed(2), ref: 'PAY' })],
    ['refund', 0.5, () => r.recordRefund({ amount: '1.00', ref: 'REF' })],
    ['void', 1, () => {
      const set = pick(rng, ['receipts', 'bills', 'payments'] as const)
      const list = s[set].filter((x) => !d.voided.has(x.id))
      return r.voidRecord(set, pick(rng, list).id, 'mistake')
    }],
    ['resolve', 4, () => {
      const c = pick(rng, r.conflicts())
      const o = pick(rng, c.options)
      const params: Record<string, string> = {}
      for (const p of o.params) if (p.choices !== undefined) params[p.name] = pick(rng, p.choices)
      if (o.id === 'custom') params.value = c.kind === 'TOTAL_MISMATCH' ? String(d.totals.total) : 'Custom Ltd'
      return r.resolve(c.id, o.id, params, 'decided in test')
    }],
  ]
  const total = table.reduce((a, [, w]) => a + w, 0)
  let x = rng() * total
  const [name, , run] = table.find(([, w]) => (x -= w) < 0) ?? table[0]!
  try {
    run()
    ops.set(name, (ops.get(name) ?? 0) + 1)
  } catch (e) {
    if (e instanceof Error && e.message === 'pick from an empty list') return
    if (!isConcordError(e)) throw e
    if (!['COMMAND_REFUSED', 'BLOCKED_BY_CONFLICT', 'INVALID_DECIMAL', 'INVALID_MONEY', 'INVALID_RESOLUTION', 'INVALID_CURRENCY', 'INVALID_ARGUMENT'].includes(e.code)) {
      throw new ConcordError(e.code, `${name} failed unexpectedly: ${e.message}`)
    }
  }
}

/**
 * A fresh world: replica 0 creates the purchase, every other replica starts
 * from its creation event, all connected by one test network.
 */
export function newWorld(seed: number, backend: CrdtBackend, n: number, init: CreatePurchaseInput = { currency: 'EUR', supplier: 'ACME', approvalThreshold: '3000', receiptTolerance: '10' }) {
  const sim: Sim = { rng: seededRandom(seed), time: 1_750_000_000_000 }
  const first = PurchaseReplica.create(replicaOptions(sim, backend, 0), init)
  // A realistic starting point: a few lines, and often an order already confirmed,
  // so that receipts, bills and payments are reachable within a short script.
  for (let i = 0; i < int(sim.rng, 1, 3); i++) first.addLine({ product: pick(sim.rng, PRODUCTS), qty: String(int(sim.rng, 2, 10)), price: `${int(sim.rng, 1, 30)}` })
  if (sim.rng() < 0.6) {
    first.transition('send')
    first.transition('confirm')
  }
  const replicas = [first, ...Array.from({ length: n - 1 }, (_, i) => makeReplica(sim, backend, i + 1, first.log.events()))]
  return { sim, replicas, net: new TestNetwork(sim, replicas) }
}

/** What a random command may be refused with: a refusal the command itself gives, never a crash. */
export const ALLOWED_REFUSALS = new Set(['COMMAND_REFUSED', 'BLOCKED_BY_CONFLICT', 'INVALID_DECIMAL', 'INVALID_MONEY', 'INVALID_RESOLUTION', 'INVALID_CURRENCY', 'INVALID_ARGUMENT'])

/**
 * Commands the harness's randomCommand does not make, so that their events are checked too: notes deletions
 * (a Yjs delete set, Automerge text deletes), the other header fields, line details, voids of refunds and
 * returns, a currency switch.
 */
export function extraCommand(sim: Sim, r: PurchaseReplica, ops: Map<string, number>): void {
  const rng = sim.rng
  const s = r.state()
  const live = s.lines.filter((l) => !l.removed)
  const table: [string, () => unknown][] = [
    ['notesDelete', () => {
      const len = s.notes.length
      if (len === 0) return r.editNotes(0, 0, 'Deliver to gate 2. ')
      const at = int(rng, 0, len - 1)
      return r.editNotes(at, int(rng, 1, Math.min(6, len - at)), rng() < 0.5 ? '' : 'x')
    }],
    ['headerField', () => {
      const field = pick(rng, ['orderDate', 'requiredBy', 'paymentTerm', 'buyer', 'supplierRef'] as const)
      const value = field === 'orderDate' || field === 'requiredBy' ? (rng() < 0.2 ? null : `2026-0${int(rng, 1, 9)}-1${int(rng, 0, 9)}`) : pick(rng, ['NET30', 'Anna', 'SO-77', ''])
      return r.setHeader(field, value)
    }],
    ['lineDetails', () => r.updateLine(pick(rng, live).id, pick(rng, [{ description: 'Zinc plated, box of 100' }, { uom: pick(rng, ['pcs', 'box', 'kg']) }, { discount: pick(rng, ['0', '2.5', '10']) }]))],
    ['voidOther', () => {
      const set = pick(rng, ['refunds', 'returns'] as const)
      return r.voidRecord(set, pick(rng, s[set].filter((x) => !r.derived().voided.has(x.id))).id, 'entered twice')
    }],
    ['currency', () => r.setCurrency(pick(rng, ['USD', 'GBP', 'EUR']))],
  ]
  const [name, run] = pick(rng, table)
  try {
    run()
    ops.set(`extra:${name}`, (ops.get(`extra:${name}`) ?? 0) + 1)
  } catch (e) {
    if (e instanceof Error && e.message === 'pick from an empty list') return
    if (!isConcordError(e) || !ALLOWED_REFUSALS.has(e.code)) throw e
  }
}
