/**
 * A resolution writes only what a command could write: a custom value for a
 * guarded field (CONCURRENT_GUARDED_WRITE) goes through the same checks as
 * setFxRate / setCurrency / setSupplier, and is refused with a typed error
 * otherwise, leaving the conflict open.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type PurchaseReplica, PurchaseReplica as Replica, isConcordError } from '@concord/core'
import { seededRandom } from '@concord/core/internal'
import { BACKENDS } from '../support/backends.js'
import { type Sim, makeReplica, replicaOptions } from '../support/replicas.js'

function guardedConflict(backend: (typeof BACKENDS)[number], write: (r: PurchaseReplica, i: number) => void) {
  const sim: Sim = { rng: seededRandom(11), time: 1_760_000_000_000 }
  const a = Replica.create(replicaOptions(sim, backend, 0), { currency: 'EUR' })
  const b = makeReplica(sim, backend, 1, a.log.events())
  write(a, 0)
  write(b, 1)
  a.receive(b.log.events())
  const c = a.conflicts().find((x) => x.kind === 'CONCURRENT_GUARDED_WRITE')
  assert.ok(c, 'a CONCURRENT_GUARDED_WRITE is raised')
  return { a, c: c! }
}

function refused(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    assert.ok(isConcordError(e), `a typed error, got ${String(e)}`)
    return (e as { code: string }).code
  }
  assert.unreachable('the resolution was accepted')
  return ''
}

for (const backend of BACKENDS) {
  test(`${backend.name}: a custom FX rate must be a rate`, () => {
    const { a, c } = guardedConflict(backend, (r, i) => r.setFxRate(i === 0 ? '1.1' : '1.2'))
    for (const bad of ['banana', '0', '-1', '1e3']) {
      refused(() => a.resolve(c.id, 'custom', { value: bad }))
      assert.ok(a.conflicts().some((x) => x.id === c.id), `still open after refusing ${bad}`)
    }
    a.resolve(c.id, 'custom', { value: '1.50' })
    assert.equal(a.state().fxRate.values, ['1.5'])
    assert.equal(a.conflicts(), [])
  })

  test(`${backend.name}: a custom currency must be a currency of the order's exponent`, () => {
    const { a, c } = guardedConflict(backend, (r, i) => r.setCurrency(i === 0 ? 'USD' : 'GBP'))
    for (const bad of ['banana', 'JPY', '']) refused(() => a.resolve(c.id, 'custom', { value: bad }))
    assert.ok(a.conflicts().some((x) => x.id === c.id))
    a.resolve(c.id, 'custom', { value: 'CHF' })
    assert.equal(a.state().currency.values, ['CHF'])
    assert.equal(a.conflicts(), [])
  })

  test(`${backend.name}: a custom supplier must be a supplier name`, () => {
    const { a, c } = guardedConflict(backend, (r, i) => r.setSupplier(i === 0 ? 'ACME' : 'Globex'))
    refused(() => a.resolve(c.id, 'custom', { value: '   ' }))
    refused(() => a.resolve(c.id, 'custom', { value: 'x'.repeat(201) }))
    a.resolve(c.id, 'custom', { value: ' Initech ' })
    assert.equal(a.state().supplier.values, ['Initech'])
  })
}

test.run()
