/**
 * A device holds its own changes to the relay's rules before making them
 * (ReplicaOptions.checkWrites): the effect of a command's recorded writes is
 * checked like an incoming update's. Here the recorded writes of real
 * commands pass, and the same writes with one value broken are refused,
 * on both backends.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type EventId, type Hlc, type Json, type ReplicaId, PurchaseReplica, createUlidFactory } from '@concord/core'
import { type DocWriteOp, checkRecord, checkWrite, effectOfWrites, recordWrites, seededRandom } from '@concord/core/internal'
import { BACKENDS } from '../support/backends.js'
import { SEED } from '../support/seed.js'

const RIGHTS = new Set(['read', 'write', 'resolve', 'approve'] as const)

for (const backend of BACKENDS) {
  const make = () => PurchaseReplica.create({
    docId: '01J8OWNWRITES0000000000001' as never, replica: 'dev1' as ReplicaId, backend, now: () => 1_750_000_000_000,
    newId: createUlidFactory(() => 1_750_000_000_000, seededRandom(SEED)), user: 'pat', device: 'phone', checkWrites: true,
  }, { currency: 'EUR', supplier: 'Acme' })

  /** The check of `ops` as the next event of dev1 under `kind`. */
  const check = (r: PurchaseReplica, kind: string, ops: readonly DocWriteOp[], seq: number, hlc: string) => {
    const doc = r.log.doc
    const snapshot = doc.read()
    const authorId = backend.authorOf!('dev1' as ReplicaId)
    return checkWrite(effectOfWrites(ops, snapshot, authorId), {
      docId: r.docId, backend: backend.name, snapshot, textLength: (k) => snapshot.texts.get(k)?.length ?? 0,
      event: { id: `dev1.${seq}`, actor: 'dev1', seq, hlc, kind }, raw: false,
      author: { subject: 'pat', device: 'phone', rights: RIGHTS }, authorId, now: 1_750_000_000_000,
    })
  }

  test(`[${backend.name}] commands pass their own write check; a broken value in the same writes is refused`, () => {
    const r = make()
    const { lineId } = r.addLine({ product: 'Desk', qty: '2', price: '100' })
    r.updateLine(lineId, { qty: '3' })
    r.editNotes(0, 0, 'call first')
    assert.is(r.state().lines[0]!.qty, '3')
    const seq = r.log.seqOf('dev1' as ReplicaId) + 1
    const hlc = `001750000000001-000000-dev1` as Hlc
    const ev = `dev1.${seq}` as EventId
    const entry = { ev, hlc, by: 'pat', dev: 'phone' }
    const good = recordWrites((w) => {
      w.setRegister(`l.${lineId}.qty`, { value: '4', ...entry })
      w.tickClock('dev1' as ReplicaId, seq)
    })
    assert.is(check(r, 'line.update', good, seq, hlc), undefined)
    const cases: [string, DocWriteOp[], string][] = [
      ['a null quantity', good.map((o) => (o.k === 'reg' ? { ...o, entry: { ...o.entry, value: null } } : o)), 'value'],
      ['a forged by', good.map((o) => (o.k === 'reg' ? { ...o, entry: { ...o.entry, by: 'alice' } } : o)), 'author'],
      ['another event id', good.map((o) => (o.k === 'reg' ? { ...o, entry: { ...o.entry, ev: 'dev1.999' as EventId } } : o)), 'stamp'],
      ['a register outside the schema', [{ k: 'reg', key: 'h.bogus', entry: { value: 'x', ...entry } }], 'outside-schema'],
      ['a payment under line.update', [...good, { k: 'rec', set: 'payments', id: '01J8XPAYMENT00000000000001', record: { id: '01J8XPAYMENT00000000000001', amount: '100', ref: 'x', date: '2026-12-03', ...entry, at: '2026-12-03T10:00:00.000Z' } }], 'kind'],
      ['a clock tick for another replica', [{ k: 'tick', replica: 'dev2' as ReplicaId, seq: 5 }], 'clock'],
    ]
    for (const [what, ops, rule] of cases) {
      const refusal = check(r, 'line.update', ops, seq, hlc)
      assert.ok(refusal !== undefined, `${what} is refused`)
      assert.is(refusal.rule, rule, `${what}: ${refusal.message}`)
    }
  })

  test(`[${backend.name}] with checkWrites a command whose stamps break the schema changes nothing and throws SCHEMA_VIOLATION`, () => {
    // A device name longer than a stamp may hold: every command's stamps would be refused by the relay.
    const opts = (checkWrites: boolean) => ({
      docId: '01J8OWNWRITES0000000000002' as never, replica: 'dev1' as ReplicaId, backend, now: () => 1_750_000_000_000,
      newId: createUlidFactory(() => 1_750_000_000_000, seededRandom(SEED)), user: 'pat', device: 'd'.repeat(300), checkWrites,
    })
    assert.throws(() => PurchaseReplica.create(opts(true), { currency: 'EUR', supplier: 'Acme' }), (e: Error & { code?: string }) => e.code === 'SCHEMA_VIOLATION')
    const unchecked = PurchaseReplica.create(opts(false), { currency: 'EUR', supplier: 'Acme' })
    assert.is(unchecked.log.events().length, 1, 'without the check the same command goes through')
  })
}


test('a record field named after an Object.prototype member is checked like any other, never taken for a schema field', () => {
  const backend = BACKENDS[0]!
  const r = PurchaseReplica.create({
    docId: '01J8OWNWRITES0000000000002' as never, replica: 'dev1' as ReplicaId, backend, now: () => 1_750_000_000_000,
    newId: createUlidFactory(() => 1_750_000_000_000, seededRandom(SEED)), user: 'pat', device: 'phone',
  }, { currency: 'EUR', supplier: 'Acme' })
  r.addLine({ product: 'Desk', qty: '2', price: '100' })
  r.transition('send')
  r.transition('confirm')
  r.recordPayment({ amount: '50', ref: 'wire 1' })
  const [id, payment] = [...r.log.doc.read().sets.payments][0]!
  assert.is(checkRecord('payments', id, payment), undefined, 'the stored payment is valid')
  for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
    const forged = JSON.parse(JSON.stringify({ ...(payment as object), [name]: 'x' })) as Json
    if (name === '__proto__') assert.ok(Object.hasOwn(forged as object, '__proto__'), 'the forged record holds an own __proto__ field, as a parsed document would')
    assert.ok(checkRecord('payments', id, forged)?.includes('does not know'), `a payment with a field ${name} is refused: ${checkRecord('payments', id, forged)}`)
  }
})

test.run()
