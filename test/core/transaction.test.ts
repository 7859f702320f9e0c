/**
 * Multi-command transactions: several commands, one event, one update, all
 * or nothing, the invariant registry run once on the combined result. On
 * both backends, and converging like any other event.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type EventEnvelope, type LineId, type PurchaseReplica, isConcordError } from '@concord/core'
import { canonicalOf } from '../support/canonical.js'
import { BACKENDS } from '../support/backends.js'
import { SEED } from '../support/seed.js'
import { makeReplica, newWorld } from '../support/replicas.js'
import { errorCode } from '../support/errors.js'

function world(backend: (typeof BACKENDS)[number], n = 2) {
  const w = newWorld(SEED, backend, n, { currency: 'EUR', supplier: 'ACME', receiptTolerance: '0' })
  const local: EventEnvelope[][] = w.replicas.map(() => [])
  w.replicas.forEach((r, i) => r.onChange(({ origin, events }) => { if (origin === 'local') local[i]!.push(...events) }))
  return { ...w, local }
}


const stateOf = (r: PurchaseReplica) => canonicalOf(r.state())

function confirmedWithLine(r: PurchaseReplica, qty: string): LineId {
  const { lineId } = r.addLine({ product: 'Bolts', qty, price: '2' })
  for (const a of ['send', 'confirm'] as const) if (r.allowedActions().includes(a)) r.transition(a)
  return lineId
}

for (const backend of BACKENDS) {
  const name = backend.name

  test(`[${name}] several commands make one event with one update, and a peer converges on it`, () => {
    const { replicas: [a, b], local } = world(backend)
    if (a === undefined || b === undefined) throw new Error('two replicas')
    const before = a.log.events().length
    const e = a.transaction(() => {
      a.editNotes(0, 0, 'Deliver ')
      a.editNotes(8, 0, 'to dock 4')
      a.setHeader('supplierRef', 'Q-77')
      a.editNotes(0, 1, 'd')
    })
    assert.ok(e !== undefined)
    assert.is(a.log.events().length, before + 1, 'one event in the log')
    assert.is(local[0]!.length, 1, 'listeners hear one local event')
    assert.is(local[0]![0], e)
    assert.is(e!.kind, 'transaction', 'mixed commands get the transaction kind')
    assert.is(a.state().notes, 'deliver to dock 4')
    assert.is(a.state().header.supplierRef, 'Q-77')
    const r = b.receive([e!])
    assert.is(r.applied.length, 1)
    assert.is(stateOf(b), stateOf(a))
  })

  test(`[${name}] commands inside a transaction see what the earlier ones wrote`, () => {
    const { replicas: [a] } = world(backend, 1)
    const line = confirmedWithLine(a!, '10')
    // Alone, receiving 15 of 10 ordered would raise OVER_RECEIPT and be refused;
    // after raising the quantity in the same transaction it is fine.
    assert.is(errorCode(() => a!.recordReceipt({ line, qty: '15', deliveryNote: 'DN-0' })), 'COMMAND_REFUSED')
    const e = a!.transaction(() => {
      a!.updateLine(line, { qty: '20' })
      a!.recordReceipt({ line, qty: '15', deliveryNote: 'DN-1' })
      assert.is(a!.derived().lines.get(line)!.received, '15', 'the staged receipt is visible before the commit')
    })
    assert.ok(e !== undefined)
    assert.is(a!.conflicts().length, 0)
    assert.is(a!.derived().lines.get(line)!.received, '15')
    assert.is(a!.state().lines.find((l) => l.id === line)!.qty, '20')
  })

  test(`[${name}] the invariants are checked once on the combined result: a breaking transaction writes nothing`, () => {
    const { replicas: [a, b], local } = world(backend)
    const line = confirmedWithLine(a!, '10')
    b!.receive(a!.log.events())
    const state = stateOf(a!)
    const version = a!.log.doc.version()
    const events = a!.log.events().length
    local[0]!.length = 0
    // Each command is valid where it runs; together the receipt exceeds the new quantity.
    const code = errorCode(() => a!.transaction(() => {
      a!.editNotes(0, 0, 'partial delivery')
      a!.recordReceipt({ line, qty: '8', deliveryNote: 'DN-2' })
      a!.updateLine(line, { qty: '5' })
    }))
    assert.is(code, 'COMMAND_REFUSED')
    assert.is(stateOf(a!), state, 'the state is unchanged')
    assert.is(a!.log.doc.version(), version, 'the document never saw the writes')
    assert.is(a!.log.events().length, events)
    assert.is(local[0]!.length, 0, 'nothing was announced')
    // The next event takes the next sequence number and applies on a peer: no gap, no orphan ops.
    const next = a!.editNotes(0, 0, 'ok')
    assert.is(next.seq, a!.log.seqOf(a!.replica))
    assert.is(next.id, `${a!.replica}.${events + 1}`)
    const r = b!.receive([next])
    assert.is(r.applied.length, 1)
    assert.is(r.pending.length, 0)
    assert.is(stateOf(b!), stateOf(a!))
  })

  test(`[${name}] a command refused inside the transaction aborts it all; one the caller catches leaves no trace`, () => {
    const { replicas: [a] } = world(backend, 1)
    const state = stateOf(a!)
    const events = a!.log.events().length
    assert.is(errorCode(() => a!.transaction(() => {
      a!.editNotes(0, 0, 'lost')
      a!.setHeader('supplierRef', 'R-1')
      a!.editNotes(999, 0, 'out of range')
    })), 'INVALID_ARGUMENT')
    assert.is(stateOf(a!), state)
    assert.is(a!.log.events().length, events)
    const e = a!.transaction(() => {
      a!.editNotes(0, 0, 'kept')
      try {
        a!.setHeader('orderDate', 'not a date')
      } catch (err) {
        assert.ok(isConcordError(err))
      }
      a!.setHeader('supplierRef', 'R-2')
    })
    assert.ok(e !== undefined)
    assert.is(a!.state().notes.startsWith('kept'), true)
    assert.is(a!.state().header.supplierRef, 'R-2')
    assert.is(a!.log.events().length, events + 1)
  })

  test(`[${name}] an empty transaction writes nothing; nested ones join; remote events and resolutions stay outside`, () => {
    const { replicas: [a, b] } = world(backend)
    const events = a!.log.events().length
    assert.is(a!.transaction(() => {}), undefined)
    assert.is(a!.log.events().length, events)
    const e = a!.transaction(() => {
      a!.editNotes(0, 0, 'x')
      assert.is(a!.transaction(() => a!.editNotes(1, 0, 'y')), undefined, 'a nested transaction joins the outer one')
    })
    assert.is(e!.kind, 'notes.edit', 'one kind of command keeps its kind')
    assert.is(a!.state().notes.slice(0, 2), 'xy')
    assert.is(a!.log.events().length, events + 1)
    const other = b!.editNotes(0, 0, 'b')
    assert.is(errorCode(() => a!.transaction(() => { a!.receive([other]) })), 'INVALID_ARGUMENT')
    assert.is(a!.log.events().length, events + 1)
  })

  test(`[${name}] concurrent transactions of two users converge, like crdt-benchmarks' B2`, () => {
    const { sim, replicas: [a, b], local } = world(backend)
    const base = a!.log.events()
    const c = makeReplica(sim, backend, 2, base)
    a!.transaction(() => { for (let i = 0; i < 50; i++) a!.editNotes(i, 0, 'a') })
    b!.transaction(() => {
      for (let i = 0; i < 50; i++) b!.editNotes(0, 0, 'b')
      b!.editNotes(10, 5)
    })
    assert.is(local[0]!.length, 1)
    assert.is(local[1]!.length, 1)
    b!.receive(local[0]!)
    a!.receive(local[1]!)
    c.receive([...local[1]!, ...local[0]!])
    assert.is(a!.state().notes.length, 95)
    assert.is(stateOf(a!), stateOf(b!))
    assert.is(stateOf(c), stateOf(a!))
  })
}

test.run()
