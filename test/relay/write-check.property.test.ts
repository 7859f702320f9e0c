/**
 * The write check as a property through a real relay process, on every
 * backend: seeded worlds of 2-4 replicas run random commands (and
 * transactions) and sync among themselves; every event they make is pushed
 * to the relay, in the order it was made, by a native client of its author
 * (token subject user<i>, all four rights, hello device device<i>), and
 * every one must be acknowledged. Then hostile events are pushed, each
 * wrong in one way (a value of the wrong type or range, a forged stamp or
 * author, a resolution or approval without the right or under another
 * kind, a register outside the schema, a missing line or void target, a
 * clock tick not the event's own, notes past their bound, raw deletes and
 * overwrites): each must be rejected with the code, and the message, that
 * core's checkWrite gives for it. On Yjs, raw updates on /y/<doc> (checked
 * with raw: true: `by` the token subject, `dev` y-websocket, no version
 * vector) must each get a permission-denied naming the code and the rule.
 * Afterwards the relay is alive, and a fresh reader's purchase equals that
 * of a replica that applied only the valid events (and the relay's own
 * numbering event). A failure names the suite SEED, the world seed and the
 * event.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as Y from 'yjs'
import {
  type CreatePurchaseInput, type CrdtBackend, type EventEnvelope, type Hlc, type Json, type PurchaseId, type ReplicaId, BOUNDS,
  PurchaseReplica, createUlidFactory, encodeHlc, instantFromEpochMs, isConcordError, parsePurchaseId,
} from '@concord/core'
import {
  type DocWriter, type RegisterEntry, type SetName, type WriteAuthor, type WriteRefusal, checkWrite, seededRandom,
} from '@concord/core/internal'
import { signToken } from '@concord/relay'
import { BACKENDS } from '../support/backends.js'
import { rawYjsUpdate, yConnect } from '../support/hostile.js'
import { NativeTestClient, waitFor } from '../support/native-test-client.js'
import { type RelayProcess, TEST_SECRET, startRelayProcess } from '../support/relay-process.js'
import { type Sim, fingerprint, int, pick, randomCommand, replicaOptions, extraCommand, ALLOWED_REFUSALS } from '../support/replicas.js'
import { RUNS_SCALE, SEED } from '../support/seed.js'

type Right = WriteAuthor['rights'] extends ReadonlySet<infer R> ? R : never
const ALL_RIGHTS: readonly Right[] = ['read', 'write', 'resolve', 'approve']
/** What the limited tokens give: no resolve, no approve. */
const PLAIN_RIGHTS: readonly Right[] = ['read', 'write']
const WORLDS = Math.max(1, Math.round(8 * RUNS_SCALE))
const STEPS = 65
const NATIVE_MUTATIONS = Math.max(1, Math.round(40 * RUNS_SCALE))
const RAW_MUTATIONS = Math.max(1, Math.round(26 * RUNS_SCALE))
const MAX_REPLICAS = 4

let relay: RelayProcess
const tokens: { full: string[]; plain: string[]; reader: string } = { full: [], plain: [], reader: '' }

test.before(async () => {
  relay = await startRelayProcess()
  for (let i = 0; i < MAX_REPLICAS; i++) {
    tokens.full.push(await signToken(TEST_SECRET, { sub: `user${i}`, docs: ['*'], rights: [...ALL_RIGHTS] }, 3600))
    tokens.plain.push(await signToken(TEST_SECRET, { sub: `user${i}`, docs: ['*'], rights: [...PLAIN_RIGHTS] }, 3600))
  }
  tokens.reader = await signToken(TEST_SECRET, { sub: 'auditor', docs: ['*'], rights: ['read'] }, 3600)
})
test.after(async () => {
  assert.is((await relay.stop()).code, 0, 'the relay exits cleanly after every refusal')
})

async function relayAlive(): Promise<void> {
  assert.is(relay.child.exitCode, null, 'the relay process is still running')
  assert.is((await fetch(`${relay.url}/healthz`)).status, 200, '/healthz answers')
}

// ------------------------------------------------------------------ worlds

const INIT: CreatePurchaseInput = { currency: 'EUR', supplier: 'ACME', approvalThreshold: '3000', receiptTolerance: '10' }
const PRODUCTS = ['Widget', 'Gadget', 'Bolt M6', 'Cable 2m']

/** newWorld (support/replicas.ts) for a purchase of its own: each world is a document of the one relay. */
function world(seed: number, backend: CrdtBackend, n: number, docId: PurchaseId) {
  const sim: Sim = { rng: seededRandom(seed), time: 1_750_000_000_000 }
  const opts = (i: number) => ({ ...replicaOptions(sim, backend, i), docId })
  const first = PurchaseReplica.create(opts(0), INIT)
  for (let i = 0; i < int(sim.rng, 1, 3); i++) first.addLine({ product: pick(sim.rng, PRODUCTS), qty: String(int(sim.rng, 2, 10)), price: `${int(sim.rng, 1, 30)}` })
  if (sim.rng() < 0.6) {
    first.transition('send')
    first.transition('confirm')
  }
  const replicas = [first, ...Array.from({ length: n - 1 }, (_, i) => PurchaseReplica.fromEvents(opts(i + 1), first.log.events()))]
  /** Every event the world makes, in the order it was made: a causal order. */
  const made: EventEnvelope[] = [...first.log.events()]
  for (const r of replicas) r.onChange(({ origin, events }) => origin === 'local' && made.push(...events))
  return { sim, replicas, made, opts }
}

function deliver(from: PurchaseReplica, to: PurchaseReplica, limit: number): void {
  let n = 0
  for (const e of from.log.events()) {
    if (n >= limit) break
    if (to.log.has(e.id)) continue
    const result = to.receive([e])
    if (result.applied.length !== 1) throw new Error(`${to.replica} did not apply ${e.id}`)
    n++
  }
}


function runScript(sim: Sim, replicas: PurchaseReplica[], steps: number, ops: Map<string, number>): void {
  for (let step = 0; step < steps; step++) {
    sim.time += int(sim.rng, 1, 5000)
    const roll = sim.rng()
    if (roll < 0.52) randomCommand(sim, pick(sim.rng, replicas), ops)
    else if (roll < 0.6) extraCommand(sim, pick(sim.rng, replicas), ops)
    else if (roll < 0.68) {
      const r = pick(sim.rng, replicas)
      try {
        r.transaction(() => {
          for (let k = int(sim.rng, 2, 3); k > 0; k--) randomCommand(sim, r, ops)
        })
      } catch (err) {
        if (!isConcordError(err) || !ALLOWED_REFUSALS.has(err.code)) throw err
      }
    } else {
      const a = pick(sim.rng, replicas)
      deliver(a, pick(sim.rng, replicas.filter((x) => x !== a)), sim.rng() < 0.3 ? int(sim.rng, 1, 4) : Infinity)
    }
  }
}

/** Pushes events on one client and waits for each answer; returns the rejects among them. */
async function push(c: NativeTestClient, docId: PurchaseId, events: readonly EventEnvelope[]) {
  const before = c.rejects.length
  const ackedBefore = new Set(events.filter((e) => c.acked.has(e.id)).map((e) => e.id))
  c.send({ t: 'push', docId, events })
  const mine = () => c.rejects.slice(before).filter((r) => r.docId === docId)
  await c.waitFor(`answers to ${events.map((e) => e.id).join(', ')}`, () =>
    events.every((e) => (c.acked.has(e.id) && !ackedBefore.has(e.id)) || mine().some((r) => r.id === e.id)))
  return mine()
}

// ------------------------------------------------------------- mutations

interface Hostile {
  readonly backend: CrdtBackend
  readonly sim: Sim
  readonly rng: () => number
  readonly ref: PurchaseReplica
  readonly docId: PurchaseId
  readonly n: number
  readonly i: number
  readonly actor: ReplicaId
  readonly seq: number
  readonly ev: string
  readonly hlc: Hlc
  readonly user: string
  /** The device the stamps name: device<i> natively, y-websocket for raw updates. */
  readonly device: string
  readonly other: number
  readonly lines: readonly string[]
  readonly vv: Record<string, number>
  readonly newId: () => string
  readonly stamp: { ev: string; hlc: string; by: string; dev: string; at: string }
}

type Expect = { readonly code: WriteRefusal['code']; readonly rules: readonly string[] } | 'accepted'

interface Mutation {
  readonly what: string
  readonly kind: string
  readonly expect: Expect
  readonly write?: (w: DocWriter) => void
  readonly as?: ReplicaId
  readonly tick?: boolean
  readonly raw?: (d: Y.Doc) => void
  readonly envelope?: EventEnvelope
  /** Sent on the writer's token without resolve and approve. */
  readonly plain?: boolean
}

interface MutationClass {
  readonly cls: string
  readonly yjsOnly?: boolean
  readonly make: (h: Hostile) => Mutation
}

const refused = (code: WriteRefusal['code'], ...rules: string[]): Expect => ({ code, rules })
const VALUE = refused('SCHEMA_VIOLATION', 'value')
const variant = <T>(h: Hostile, options: readonly (() => T)[]): T => pick(h.rng, options)()
const entryOf = (h: Hostile, value: unknown, extra: Record<string, unknown> = {}) =>
  ({ value, ev: h.ev, hlc: h.hlc, by: h.user, dev: h.device, ...extra }) as unknown as RegisterEntry
const line = (h: Hostile) => pick(h.rng, h.lines)
const regKindOf = (key: string) => (key.startsWith('l.') ? 'line.update' : key === 'h.hold' ? 'lifecycle.hold' : `header.${key.slice(2)}`)
const reg = (h: Hostile, key: string, value: unknown, expect: Expect, extra: Record<string, unknown> = {}, kind = regKindOf(key)): Mutation => ({
  what: `${key} = ${JSON.stringify(value)?.slice(0, 60)}${Object.keys(extra).length > 0 ? ` with ${JSON.stringify(extra).slice(0, 80)}` : ''}`,
  kind, expect, write: (w) => w.setRegister(key, entryOf(h, value, extra)),
})
const KIND_OF_SET: Readonly<Record<string, string>> = {
  receipts: 'receipt.record', bills: 'bill.record', payments: 'payment.record', resolutions: 'conflict.resolve',
}
const rec = (h: Hostile, set: SetName, record: Record<string, unknown>, expect: Expect, kind?: string): Mutation => {
  const id = record.id as string
  const k = kind ?? (set === 'transitions' ? `lifecycle.${String(record.action)}` : set === 'voids' ? `${String(record.set).replace(/s$/, '')}.void` : KIND_OF_SET[set]!)
  return { what: `${set}/${id} = ${JSON.stringify(record).slice(0, 100)}`, kind: k, expect, write: (w) => w.addRecord(set, id, record as Json) }
}
const today = '2026-01-15'
const payment = (h: Hostile) => ({ id: h.newId(), amount: '1000', ref: 'PAY-9', date: today, ...h.stamp })
const receipt = (h: Hostile, lineId = line(h)) => ({ id: h.newId(), line: lineId, qty: '1', product: 'Widget', deliveryNote: 'DN-9', date: today, ...h.stamp })
const transition = (h: Hostile, action: string) => ({ id: h.newId(), action, vv: h.vv, ...h.stamp })
const conflictId = (h: Hostile) => `c_${Array.from({ length: 26 }, () => '0123456789abcdefghijklmnopqrstuvwxyz'[Math.floor(h.rng() * 36)]).join('')}`
const resolution = (h: Hostile) => ({
  id: h.newId(), conflict: h.ref.conflicts()[0]?.id ?? conflictId(h), kind: 'CONCURRENT_GUARDED_WRITE', option: 'keep', params: { value: 'ACME' }, note: '', vv: h.vv, ...h.stamp,
})
const voidOf = (h: Hostile, set: string, target: string) => ({ id: h.newId(), set, target, reason: 'mistake', ...h.stamp })

function recordsOf(h: Hostile) {
  const snapshot = h.ref.log.doc.read()
  return (['lines', 'receipts', 'payments', 'transitions', 'resolutions'] as const).flatMap((s) =>
    [...snapshot.sets[s]].filter(([, r]) => typeof r === 'object' && r !== null && !Array.isArray(r)).map(([id, r]) => [s, id, r] as const))
}

/** A real event of the actor, made by a replica of it holding what the reference holds; undefined when refused in this state. */
function realEvent(h: Hostile, make: (r: PurchaseReplica) => EventEnvelope): EventEnvelope | undefined {
  const clone = PurchaseReplica.fromSnapshot({ ...replicaOptions(h.sim, h.backend, h.i), docId: h.docId }, h.ref.log.snapshot())
  try {
    return make(clone)
  } catch (err) {
    // Refused in this state, or nothing to choose from (an option whose choices are empty): no real event here.
    if (isConcordError(err) || (err instanceof Error && err.message === 'pick from an empty list')) return undefined
    throw err
  } finally {
    clone.log.doc.destroy()
  }
}

function realResolution(h: Hostile): EventEnvelope | undefined {
  if (h.ref.conflicts().length === 0) return undefined
  return realEvent(h, (r) => {
    const c = pick(h.rng, r.conflicts())
    const o = pick(h.rng, c.options)
    const params: Record<string, string> = {}
    for (const p of o.params) if (p.choices !== undefined) params[p.name] = pick(h.rng, p.choices)
    if (o.id === 'custom') params.value = c.kind === 'TOTAL_MISMATCH' ? String(r.derived().totals.total) : 'Custom Ltd'
    return r.resolve(c.id, o.id, params, 'hostile')
  })
}

/** Events pushed by a world actor's native client. */
const NATIVE: readonly MutationClass[] = [
  {
    cls: 'control', make: (h) => variant(h, [
      () => reg(h, 'h.incoterm', 'DAP', 'accepted'),
      () => reg(h, `l.${line(h)}.qty`, String(int(h.rng, 1, 9)), 'accepted'),
      () => rec(h, 'receipts', receipt(h), 'accepted'),
    ]),
  },
  {
    cls: 'value', make: (h) => variant(h, [
      () => reg(h, `l.${line(h)}.qty`, null, VALUE),
      () => reg(h, 'h.supplier', 42, VALUE),
      () => reg(h, `l.${line(h)}.price`, { amount: 'banana', currency: 'EUR' }, VALUE),
      () => reg(h, `l.${line(h)}.qty`, '1e999', VALUE),
      () => rec(h, 'payments', { ...payment(h), amount: '1'.repeat(40) }, VALUE),
      () => rec(h, 'payments', { ...payment(h), amount: '-100' }, VALUE),
      () => reg(h, 'h.supplier', ['ACME'], VALUE),
      () => {
        const { deliveryNote: _, ...noNote } = receipt(h)
        return rec(h, 'receipts', noNote, VALUE)
      },
      () => rec(h, 'payments', { ...payment(h), approvedBy: 'ceo' }, VALUE),
      () => reg(h, 'h.supplier', 'S'.repeat(300), VALUE),
      () => reg(h, `l.${line(h)}.discount`, '101', VALUE),
    ]),
  },
  {
    cls: 'author:by', make: (h) => variant(h, [
      () => rec(h, 'payments', { ...payment(h), by: `user${h.other}` }, refused('FORBIDDEN', 'author')),
      () => reg(h, 'h.supplier', 'Umbrella', refused('FORBIDDEN', 'author'), { by: 'mallory' }),
    ]),
  },
  {
    cls: 'author:dev', make: (h) => variant(h, [
      () => rec(h, 'receipts', { ...receipt(h), dev: `device${h.other}` }, refused('FORBIDDEN', 'author')),
      () => reg(h, 'h.incoterm', 'FOB', refused('FORBIDDEN', 'author'), { dev: 'stolen-laptop' }),
    ]),
  },
  {
    cls: 'author:change', make: (h) => ({ ...reg(h, 'h.supplier', 'Umbrella', 'accepted'), as: `r${h.other}` as ReplicaId, expect: refused('FORBIDDEN', 'author') }),
  },
  {
    cls: 'stamp', make: (h) => variant(h, [
      () => rec(h, 'payments', { ...payment(h), ev: `${h.actor}.${h.seq + 1}` }, refused('SCHEMA_VIOLATION', 'stamp')),
      () => reg(h, `l.${line(h)}.qty`, '3', refused('SCHEMA_VIOLATION', 'stamp'), { hlc: encodeHlc({ wall: h.sim.time + 10 ** 9, counter: 0, replica: h.actor }) }),
    ]),
  },
  {
    cls: 'resolve:other-kind', make: (h) => {
      const kind = pick(h.rng, ['header.supplier', 'line.update', 'transaction', 'notes.edit'])
      const real = realResolution(h)
      if (real !== undefined) return { what: `a real resolution relabelled ${kind}`, kind, expect: refused('SCHEMA_VIOLATION', 'kind'), envelope: { ...real, kind } }
      return rec(h, 'resolutions', resolution(h), refused('SCHEMA_VIOLATION', 'kind'), kind)
    },
  },
  {
    cls: 'resolve:no-right', make: (h) => {
      const real = realResolution(h)
      if (real !== undefined) return { what: 'a real resolution on a token without resolve', kind: real.kind, expect: refused('FORBIDDEN', 'resolve'), envelope: real, plain: true }
      return { ...rec(h, 'resolutions', resolution(h), refused('FORBIDDEN', 'resolve')), plain: true }
    },
  },
  {
    cls: 'approve:no-right', make: (h) => {
      const action = pick(h.rng, ['approve', 'reject'] as const)
      const real = h.ref.allowedActions().includes(action) ? realEvent(h, (r) => r.transition(action)) : undefined
      if (real !== undefined) return { what: `a real ${action} on a token without approve`, kind: real.kind, expect: refused('FORBIDDEN', 'approve'), envelope: real, plain: true }
      return { ...rec(h, 'transitions', transition(h, action), refused('FORBIDDEN', 'approve')), plain: true }
    },
  },
  {
    cls: 'kind:mismatch', make: (h) => rec(h, 'payments', payment(h), refused('SCHEMA_VIOLATION', 'kind'), 'line.update'),
  },
  {
    cls: 'schema:outside', make: (h) => variant(h, [
      () => reg(h, 'h.bogus', 'x', refused('SCHEMA_VIOLATION', 'outside-schema'), {}, 'header.incoterm'),
      () => reg(h, 'zz.x', 'x', refused('SCHEMA_VIOLATION', 'outside-schema'), {}, 'line.update'),
      () => reg(h, 'l.not-a-line-id.qty', '1', refused('SCHEMA_VIOLATION', 'outside-schema'), {}, 'line.update'),
    ]),
  },
  {
    cls: 'line:missing', make: (h) => rec(h, 'receipts', receipt(h, h.newId()), refused('SCHEMA_VIOLATION', 'line')),
  },
  {
    cls: 'void:missing', make: (h) => rec(h, 'voids', voidOf(h, 'payments', h.newId()), refused('SCHEMA_VIOLATION', 'void')),
  },
  {
    cls: 'clock', make: (h) => {
      const base = reg(h, 'h.incoterm', 'CIF', 'accepted')
      const [replica, value] = variant<[ReplicaId, number]>(h, [
        () => [`r${h.other}` as ReplicaId, (h.ref.log.doc.read().clock.get(`r${h.other}` as ReplicaId) ?? 0) + 1],
        () => [h.actor, h.seq + int(h.rng, 1, 4)],
      ])
      return { ...base, what: `${base.what}, ticking ${replica} to ${value}`, expect: refused('FORBIDDEN', 'clock'), tick: false, write: (w) => {
        base.write!(w)
        if (replica !== h.actor) w.tickClock(h.actor, h.seq)
        w.tickClock(replica, value)
      } }
    },
  },
  {
    cls: 'notes:too-long', make: (h) => {
      const len = h.ref.log.doc.textLength?.('notes') ?? h.ref.log.doc.read().texts.get('notes')?.length ?? 0
      return { what: 'notes past their bound', kind: 'notes.edit', expect: refused('SCHEMA_VIOLATION', 'value'), tick: false, write: (w) => w.insertText('notes', len, 'n'.repeat(BOUNDS.notes - len + 1)) }
    },
  },
  {
    cls: 'raw:delete-record', yjsOnly: true, make: (h) => {
      const [set, id] = pick(h.rng, recordsOf(h))
      return { what: `delete ${set}/${id}`, kind: KIND_OF_SET[set] ?? 'transaction', expect: refused('SCHEMA_VIOLATION', 'insert-only'), raw: (d) => d.getMap(`set:${set}`).delete(id) }
    },
  },
  {
    cls: 'raw:overwrite-record', yjsOnly: true, make: (h) => {
      const [set, id, r] = pick(h.rng, recordsOf(h))
      const changed = { ...(r as Record<string, unknown>), at: '2020-02-02T02:02:02.000Z' }
      return { what: `overwrite ${set}/${id}`, kind: KIND_OF_SET[set] ?? 'transaction', expect: refused('SCHEMA_VIOLATION', 'insert-only'), raw: (d) => d.getMap(`set:${set}`).set(id, changed) }
    },
  },
  {
    cls: 'raw:delete-register', yjsOnly: true, make: (h) => ({
      what: 'delete a register entry', kind: 'line.update', expect: refused('SCHEMA_VIOLATION', 'supersede-only'), raw: (d) => d.getMap('regs').delete(pick(h.rng, [...d.getMap('regs').keys()])),
    }),
  },
  {
    cls: 'raw:foreign-root', yjsOnly: true, make: () => ({
      what: 'a foreign root', kind: 'transaction', expect: refused('SCHEMA_VIOLATION', 'outside-schema'), raw: (d) => d.getMap('elsewhere').set('x', 1),
    }),
  },
]

/** Raw Yjs updates sent on /y/<doc>: by = the token subject, dev = y-websocket, ev and hlc any well-formed stamp. */
const RAW: readonly MutationClass[] = [
  ...NATIVE.filter((c) => c.cls.startsWith('raw:')).map((c) => ({ ...c, cls: `y:${c.cls.slice(4)}` })),
  { cls: 'y:nested-type', make: (h) => ({ what: 'a nested Y.Map', kind: 'yjs.update', expect: refused('SCHEMA_VIOLATION', 'malformed'), raw: (d) => d.getMap('set:receipts').set(h.newId(), new Y.Map()) }) },
  { cls: 'y:clock', make: (h) => ({ ...reg(h, 'h.incoterm', 'CIF', refused('SCHEMA_VIOLATION', 'clock')), write: (w) => {
    w.setRegister('h.incoterm', entryOf(h, 'CIF'))
    w.tickClock(h.actor, h.seq)
  } }) },
  {
    cls: 'y:value', make: (h) => variant(h, [
      () => rec(h, 'payments', { ...payment(h), amount: 'banana' }, VALUE),
      () => reg(h, `l.${line(h)}.qty`, null, VALUE),
      () => reg(h, 'h.supplier', 'S'.repeat(300), VALUE),
    ]),
  },
  { cls: 'y:by', make: (h) => rec(h, 'payments', { ...payment(h), by: `user${h.other}` }, refused('FORBIDDEN', 'author')) },
  // The connection's device is y-websocket: a stamp naming the writer's own device is a claim it cannot make there.
  { cls: 'y:dev', make: (h) => reg(h, 'h.incoterm', 'FOB', refused('FORBIDDEN', 'author'), { dev: `device${h.i}` }) },
  { cls: 'y:resolve-no-right', make: (h) => ({ ...rec(h, 'resolutions', resolution(h), refused('FORBIDDEN', 'resolve')), plain: true }) },
  { cls: 'y:approve-no-right', make: (h) => ({ ...rec(h, 'transitions', transition(h, 'approve'), refused('FORBIDDEN', 'approve')), plain: true }) },
  { cls: 'y:stamp-future', make: (h) => reg(h, 'h.incoterm', 'FOB', refused('SCHEMA_VIOLATION', 'stamp'), { hlc: encodeHlc({ wall: Date.now() + 10 * 24 * 3600_000, counter: 0, replica: 'raw-writer' as ReplicaId }) }) },
  { cls: 'y:outside-schema', make: (h) => reg(h, 'h.bogus', 'x', refused('SCHEMA_VIOLATION', 'outside-schema')) },
]

function hostile(backend: CrdtBackend, sim: Sim, ref: PurchaseReplica, n: number, raw: boolean): Hostile {
  const i = int(sim.rng, 0, n - 1)
  const actor = (raw ? 'raw-writer' : `r${i}`) as ReplicaId
  const seq = ref.log.seqOf(actor) + 1
  const ev = `${actor}.${seq}`
  const hlc = encodeHlc({ wall: sim.time + i * 7919 + 1, counter: 0, replica: actor })
  const snapshot = ref.log.doc.read()
  const user = `user${i}`
  const device = raw ? 'y-websocket' : `device${i}`
  return {
    backend, sim, rng: sim.rng, ref, docId: ref.docId, n, i, actor, seq, ev, hlc, user, device,
    other: (i + 1 + int(sim.rng, 0, n - 2)) % n,
    lines: [...snapshot.sets.lines.keys()],
    vv: Object.fromEntries(snapshot.clock),
    newId: createUlidFactory(() => sim.time, sim.rng),
    stamp: { ev, hlc, by: user, dev: device, at: instantFromEpochMs(sim.time) },
  }
}

/** The hostile event's payload and envelope (for raw updates, the envelope is only what the local check needs). */
function make(h: Hostile, m: Mutation): EventEnvelope {
  if (m.envelope !== undefined) return { ...m.envelope, kind: m.kind }
  let payload: Uint8Array
  if (m.raw !== undefined) payload = rawYjsUpdate(h.ref, h.actor, m.raw)
  else {
    const copy = h.backend.load(h.ref.log.doc.save(), m.as ?? h.actor)
    try {
      payload = copy.change((w) => {
        m.write!(w)
        if (m.tick !== false && h.actor !== 'raw-writer') w.tickClock(h.actor, h.seq)
      })
    } finally {
      copy.destroy()
    }
  }
  return {
    id: h.ev as EventEnvelope['id'], docId: h.docId, actor: h.actor, seq: h.seq, hlc: h.hlc, deps: h.ref.log.heads(), kind: m.kind, backend: h.backend.name, payload,
    meta: { at: instantFromEpochMs(h.sim.time), user: h.user, device: h.device, priority: 'normal' },
  }
}

/** core's verdict on the event against the reference replica, as the relay's refusalOf computes it. */
function localVerdict(h: Hostile, e: EventEnvelope, m: Mutation, raw: boolean): WriteRefusal | undefined {
  const doc = h.ref.log.doc
  const snapshot = doc.read()
  return checkWrite(h.backend.inspectUpdate!(doc, e.payload), {
    docId: h.docId, backend: h.backend.name, snapshot,
    textLength: (key) => doc.textLength?.(key) ?? snapshot.texts.get(key)?.length ?? 0,
    event: raw ? { id: 'relay-import.1', actor: 'relay-import', seq: 1, hlc: encodeHlc({ wall: Date.now(), counter: 0, replica: 'relay-import' as ReplicaId }), kind: 'yjs.update' } : e,
    raw,
    author: { subject: h.user, device: h.device, rights: new Set(m.plain === true ? PLAIN_RIGHTS : ALL_RIGHTS) },
    ...(raw ? {} : { authorId: h.backend.authorOf!(e.actor) }),
    now: Date.now(),
  })
}

const describe = (r: WriteRefusal | undefined) => (r === undefined ? 'accepted' : `${r.code} (${r.rule}): ${r.message}`)
const expected = (x: Expect) => (x === 'accepted' ? 'accepted' : `${x.code} (${x.rules.join('|')})`)
const matches = (x: Expect, r: WriteRefusal | undefined) => (x === 'accepted' ? r === undefined : r !== undefined && r.code === x.code && x.rules.includes(r.rule))
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1)

// ------------------------------------------------------------------ the property

for (const backend of BACKENDS) {
  test(`[${backend.name}] through a relay: valid events acknowledged, hostile ones refused, the purchase unharmed (${WORLDS} worlds)`, async () => {
    const started = Date.now()
    const ops = new Map<string, number>()
    const native = NATIVE.filter((c) => !c.yjsOnly || backend.name === 'yjs')
    const raw = backend.name === 'yjs' ? RAW : []
    const refusedBy = new Map<string, number>()
    const seeds = seededRandom(SEED ^ (backend.name === 'yjs' ? 0x1f2e3d : 0x4c5b6a))
    let nativeDone = 0
    let rawDone = 0
    let validPushed = 0
    for (let w = 0; w < WORLDS; w++) {
      const seed = 1 + Math.floor(seeds() * (2 ** 31 - 2))
      const n = 2 + Math.floor(seeds() * (MAX_REPLICAS - 1))
      const docId = parsePurchaseId(`wcheck-${backend.name}-${SEED}-${w}`)
      const clients: NativeTestClient[] = []
      let at = `world ${w}`
      try {
        const { sim, replicas, made, opts } = world(seed, backend, n, docId)
        runScript(sim, replicas, STEPS, ops)
        const connect = (i: number, plain: boolean) =>
          NativeTestClient.connect(relay.wsUrl, plain ? tokens.plain[i]! : tokens.full[i]!, { replica: `r${i}`, device: `device${i}`, backend, seed: SEED + w * 10 + i })
        const full = await Promise.all(replicas.map((_, i) => connect(i, false)))
        const plain = await Promise.all(replicas.map((_, i) => connect(i, true)))
        clients.push(...full, ...plain)

        // Every valid event, in the order it was made, by its author's client: all acknowledged.
        for (let k = 0; k < made.length;) {
          const actor = made[k]!.actor
          let end = k
          while (end < made.length && made[end]!.actor === actor) end++
          const run = made.slice(k, end)
          at = `valid events ${run.map((e) => `${e.id} (${e.kind})`).join(', ')}`
          const rejects = await push(full[Number(actor.slice(1))]!, docId, run)
          if (rejects.length > 0) {
            throw new Error(`FALSE REFUSAL by the relay: ${rejects.map((r) => `${r.id} (${run.find((e) => e.id === r.id)?.kind}): ${r.code} ${r.reason}`).join('; ')}`)
          }
          validPushed += run.length
          k = end
        }

        // Hostile events, against a replica that holds exactly the valid events.
        const ref = PurchaseReplica.fromEvents(opts(50), made)
        const valid = [...made]
        const nativeQuota = Math.ceil(((w + 1) * NATIVE_MUTATIONS) / WORLDS) - nativeDone
        for (let k = 0; k < nativeQuota; k++, nativeDone++) {
          sim.time += int(sim.rng, 1, 5000)
          const c = native[nativeDone % native.length]!
          const h = hostile(backend, sim, ref, n, false)
          at = `making a ${c.cls} mutation as ${h.ev}`
          const m = c.make(h)
          const e = make(h, m)
          at = `mutation ${c.cls} (${m.what}) as event ${e.id} kind ${e.kind}`
          const local = localVerdict(h, e, m, false)
          const client = (m.plain === true ? plain : full)[h.i]!
          const rejects = await push(client, docId, [e])
          if (m.expect === 'accepted') {
            if (rejects.length > 0) throw new Error(`a valid control event was rejected: ${rejects[0]!.code} ${rejects[0]!.reason}`)
            assert.is(ref.receive([e]).applied.length, 1)
            valid.push(e)
            bump(refusedBy, 'control (accepted)')
            continue
          }
          const r = rejects.find((x) => x.id === e.id)
          if (r === undefined) throw new Error(`the relay ACKNOWLEDGED it; expected ${expected(m.expect)} (core's check here: ${describe(local)})`)
          if (r.code !== m.expect.code) throw new Error(`the relay rejected it with ${r.code} ${r.reason}; expected ${expected(m.expect)}`)
          // The relay's refusal is core's: same code, same sentence, for the rule the class is about.
          if (!matches(m.expect, local)) throw new Error(`core's check: expected ${expected(m.expect)}, got ${describe(local)}`)
          assert.is(r.reason, local!.message, `${at}: the relay's reason is core's`)
          bump(refusedBy, c.cls)
        }

        if (raw.length > 0) {
          const ys = new Map<string, Awaited<ReturnType<typeof yConnect>>>()
          const y = async (i: number, isPlain: boolean) => {
            const key = `${i}:${isPlain}`
            let conn = ys.get(key)
            if (conn === undefined) ys.set(key, (conn = await yConnect(relay.wsUrl, docId, isPlain ? tokens.plain[i]! : tokens.full[i]!)))
            return conn
          }
          const rawQuota = Math.ceil(((w + 1) * RAW_MUTATIONS) / WORLDS) - rawDone
          for (let k = 0; k < rawQuota; k++, rawDone++) {
            sim.time += int(sim.rng, 1, 5000)
            const c = raw[rawDone % raw.length]!
            const h = hostile(backend, sim, ref, n, true)
            at = `making a raw ${c.cls} mutation`
            const m = c.make(h)
            const e = make(h, m)
            at = `raw /y/ mutation ${c.cls} (${m.what}) by user${h.i}`
            const local = localVerdict(h, e, m, true)
            const conn = await y(h.i, m.plain === true)
            const from = conn.messages.length
            conn.send(e.payload)
            // A refused update gets a permission-denied; an accepted one is echoed to the room, the sender included.
            const answer = await waitFor(`the relay's answer to ${at}`, () => conn.messages.slice(from).find((x) => x.t === 'authPermissionDenied' || x.t === 'update'))
            if (answer.t !== 'authPermissionDenied') throw new Error(`the relay ACCEPTED the raw update and echoed it; expected ${expected(m.expect)} (core's raw check here: ${describe(local)})`)
            const x = m.expect
            if (x === 'accepted' || !x.rules.some((rule) => answer.reason.startsWith(`${x.code} (${rule}): `))) {
              throw new Error(`permission denied with ${answer.reason}; expected ${expected(x)}`)
            }
            if (!matches(m.expect, local)) throw new Error(`core's raw check: expected ${expected(m.expect)}, got ${describe(local)}`)
            assert.is(conn.closed(), undefined, `${at}: the y client stays connected`)
            bump(refusedBy, c.cls)
          }
          for (const conn of ys.values()) conn.close()
        }

        // The relay is up, and a device that opens the purchase now reads exactly the valid events' purchase.
        at = 'the read back'
        await relayAlive()
        const reader = await NativeTestClient.connect(relay.wsUrl, tokens.reader, { replica: `reader${w}`, backend, seed: SEED + w })
        clients.push(reader)
        await reader.subscribe(docId)
        const back = reader.replica(docId)
        const validIds = new Set(valid.map((e) => e.id))
        const extra = back.log.events().filter((e) => !validIds.has(e.id))
        for (const e of extra) assert.ok(e.actor === relay.relayId && e.kind === 'purchase.number', `the relay stored ${e.id} (${e.kind}), which is no valid event`)
        const missing = valid.filter((e) => !back.log.has(e.id))
        assert.equal(missing.map((e) => e.id), [], 'every valid event is stored')
        const reference = PurchaseReplica.fromEvents(opts(60), [...valid, ...extra])
        assert.is(fingerprint(back), fingerprint(reference), 'the purchase reads as the valid events make it')
      } catch (err) {
        ;(err as Error).message = `SEED=${SEED} [${backend.name}] world ${w} seed=${seed} n=${n} docId=${docId}: ${at}: ${(err as Error).message}`
        throw err
      } finally {
        await Promise.all(clients.map((c) => c.close()))
      }
    }
    console.log(`[${backend.name}] ${WORLDS} worlds in ${Date.now() - started} ms: ${[...ops.values()].reduce((a, b) => a + b, 0)} commands, ${validPushed} valid events acknowledged, ${nativeDone} native and ${rawDone} raw mutations; refused per class ${JSON.stringify(Object.fromEntries([...refusedBy].sort()))}`)
    for (const c of [...native, ...raw]) assert.ok((refusedBy.get(c.cls === 'control' ? 'control (accepted)' : c.cls) ?? 0) > 0, `mutation class ${c.cls} was never tried`)
    await relayAlive()
  })
}

test.run()
