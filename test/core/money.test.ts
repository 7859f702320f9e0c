/** Money: exact decimals, rounding policies, and totals that do not depend on line or merge order. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  type RoundingPolicy, type TaxMode, PurchaseReplica, createUlidFactory, decimalFromParts, decimalParts, formatMinor, isConcordError,
  majorToMinor, parseDecimal, parseMinor, roundDiv,
} from '@concord/core'
import { seededRandom } from '@concord/core/internal'
import { BACKENDS } from '../support/backends.js'
import { check } from '../support/seed.js'
import { DOC, makeReplica, replicaOptions, type Sim } from '../support/replicas.js'

test('canonical decimals: one spelling per value', () => {
  const cases: [string, string][] = [['1.50', '1.5'], ['007', '7'], ['-0.0', '0'], ['0.000', '0'], ['12.340', '12.34'], [' 3 ', '3'], ['-1.20', '-1.2']]
  for (const [input, canonical] of cases) assert.is(parseDecimal(input), canonical, input)
  for (const bad of ['1e3', '1,5', '', '.5', '5.', '+1', 'NaN', '1.1234567']) {
    assert.throws(() => parseDecimal(bad), (e: unknown) => isConcordError(e, 'INVALID_DECIMAL'), bad)
  }
  assert.throws(() => parseDecimal(1.5 as unknown), (e: unknown) => isConcordError(e, 'INVALID_DECIMAL'), 'a float is refused')
})

test('decimal strings round-trip through parts', () => {
  check(
    fc.property(fc.bigInt({ min: -(10n ** 15n) + 1n, max: 10n ** 15n - 1n }), fc.integer({ min: 0, max: 6 }), (units, scale) => {
      const d = decimalFromParts({ units, scale })
      assert.is(parseDecimal(d), d, 'canonical')
      const p = decimalParts(d)
      assert.is(p.units * 10n ** BigInt(scale - p.scale), units, 'same value')
    }),
  )
})

test('minor units round-trip through display strings, exponents 0 to 4', () => {
  check(
    fc.property(fc.bigInt({ min: -(10n ** 18n), max: 10n ** 18n }), fc.constantFrom(0, 1, 2, 3, 4) as fc.Arbitrary<0 | 1 | 2 | 3 | 4>, (amount, exp) => {
      assert.is(majorToMinor(formatMinor(amount, exp), exp), amount)
      assert.is(parseMinor(amount.toString()), amount)
    }),
  )
  assert.is(formatMinor(5n, 2), '0.05')
  assert.is(formatMinor(1234n, 0), '1234')
  assert.is(formatMinor(-1234n, 3), '-1.234')
  assert.throws(() => majorToMinor('1.234', 2), (e: unknown) => isConcordError(e, 'INVALID_DECIMAL'), 'more decimals than the currency has')
  assert.throws(() => parseMinor('01'), (e: unknown) => isConcordError(e, 'INVALID_MONEY'))
})

test('HALF_UP and HALF_EVEN round ties differently, never anything else', () => {
  const table: [bigint, bigint, bigint, bigint][] = [
    // n, d, HALF_UP, HALF_EVEN
    [5n, 2n, 3n, 2n], [7n, 2n, 4n, 4n], [-5n, 2n, -3n, -2n], [225n, 10n, 23n, 22n], [224n, 10n, 22n, 22n], [226n, 10n, 23n, 23n],
  ]
  for (const [n, d, up, even] of table) {
    assert.is(roundDiv(n, d, 'HALF_UP'), up, `${n}/${d} HALF_UP`)
    assert.is(roundDiv(n, d, 'HALF_EVEN'), even, `${n}/${d} HALF_EVEN`)
  }
})

function order(backend: (typeof BACKENDS)[number], rounding: RoundingPolicy, taxMode: TaxMode = 'EXCLUSIVE', currency = 'EUR') {
  const sim: Sim = { rng: seededRandom(3), time: 1_760_000_000_000 }
  return { sim, r: PurchaseReplica.create(replicaOptions(sim, backend, 0), { currency, rounding, taxMode }) }
}

for (const backend of BACKENDS) {
  test(`[${backend.name}] worked example: three lines of 1.00 at 7.5 % give 0.24 per line, 0.23 global`, () => {
    for (const [policy, tax] of [[{ mode: 'HALF_UP', tax: 'PER_LINE' }, 24n], [{ mode: 'HALF_UP', tax: 'GLOBAL' }, 23n], [{ mode: 'HALF_EVEN', tax: 'GLOBAL' }, 22n]] as const) {
      const { r } = order(backend, policy)
      for (let i = 0; i < 3; i++) r.addLine({ product: `Item ${i}`, qty: '1', price: '1.00', taxes: [{ code: 'VAT', rate: '7.5' }] })
      const t = r.derived().totals
      assert.is(t.untaxed, 300n)
      assert.is(t.tax, tax, `${policy.mode} ${policy.tax}`)
      assert.is(t.total, 300n + tax)
      assert.is(t.roundingAdjustment, policy.tax === 'GLOBAL' ? tax - 24n : 0n)
    }
  })

  test(`[${backend.name}] a stored total goes stale: qty 10 -> 12 and price 12 -> 11 merge to 132`, () => {
    const { sim, r: a } = order(backend, { mode: 'HALF_UP', tax: 'PER_LINE' })
    const { lineId } = a.addLine({ product: 'Widget', qty: '10', price: '12' })
    const b = makeReplica(sim, backend, 1, a.log.events())
    a.updateLine(lineId, { qty: '12' })
    b.updateLine(lineId, { price: '11' })
    a.receive(b.log.events())
    b.receive(a.log.events())
    assert.is(a.derived().totals.total, 13200n)
    assert.is(b.derived().totals.total, 13200n)
  })

  test(`[${backend.name}] exponents 0 and 3: JPY and KWD amounts keep their minor units`, () => {
    const { r: jpy } = order(backend, { mode: 'HALF_UP', tax: 'PER_LINE' }, 'EXCLUSIVE', 'JPY')
    jpy.addLine({ product: 'Tea', qty: '3', price: '333.5', taxes: [{ code: 'CT', rate: '10' }] })
    assert.is(jpy.derived().totals.untaxed, 1001n) // 1000.5 rounds half up
    assert.is(jpy.derived().totals.tax, 100n)
    const { r: kwd } = order(backend, { mode: 'HALF_EVEN', tax: 'PER_LINE' }, 'EXCLUSIVE', 'KWD')
    kwd.addLine({ product: 'Oil', qty: '1', price: '1.2345' })
    assert.is(kwd.derived().totals.total, 1234n) // 1234.5 -> even
  })

  test(`[${backend.name}] inclusive tax splits a gross amount exactly`, () => {
    const { r } = order(backend, { mode: 'HALF_UP', tax: 'PER_LINE' }, 'INCLUSIVE')
    r.addLine({ product: 'Meal', qty: '1', price: '10.00', taxes: [{ code: 'VAT', rate: '20' }, { code: 'CITY', rate: '1' }] })
    const t = r.derived().totals
    assert.is(t.total, 1000n)
    assert.is(t.untaxed + t.tax, 1000n)
    assert.is(t.untaxed, 826n) // 10.00 / 1.21
  })

  test(`[${backend.name}] totals do not depend on line order or merge order`, () => {
    check(
      fc.property(
        fc.array(fc.record({ qty: fc.integer({ min: 1, max: 999 }), cents: fc.integer({ min: 0, max: 99_999 }), disc: fc.constantFrom('0', '5', '12.5', '33.3333'), rate: fc.constantFrom('0', '7.5', '19', '20') }), { minLength: 1, maxLength: 8 }),
        fc.constantFrom('PER_LINE', 'GLOBAL') as fc.Arbitrary<'PER_LINE' | 'GLOBAL'>,
        fc.constantFrom('HALF_UP', 'HALF_EVEN') as fc.Arbitrary<'HALF_UP' | 'HALF_EVEN'>,
        fc.constantFrom('EXCLUSIVE', 'INCLUSIVE') as fc.Arbitrary<TaxMode>,
        (lines, tax, mode, taxMode) => {
          const sim: Sim = { rng: seededRandom(lines.length), time: 1_760_000_000_000 }
          const mk = (i: number) => PurchaseReplica.create({ ...replicaOptions(sim, backend, i), docId: DOC, newId: createUlidFactory(() => sim.time++, sim.rng) }, { currency: 'EUR', rounding: { mode, tax }, taxMode })
          const forward = mk(0)
          const backward = mk(1)
          const add = (r: PurchaseReplica, l: (typeof lines)[number]) =>
            r.addLine({ product: 'P', qty: String(l.qty), price: (l.cents / 100).toFixed(2), discount: l.disc, taxes: l.rate === '0' ? [] : [{ code: `T${l.rate.replace(".", "_")}`, rate: l.rate }] })
          lines.forEach((l) => add(forward, l))
          ;[...lines].reverse().forEach((l) => add(backward, l))
          assert.equal(forward.derived().totals, backward.derived().totals)
          // Merge order: lines split over two devices, merged both ways round.
          const x = mk(2)
          const y = makeReplica(sim, backend, 3, x.log.events())
          lines.forEach((l, i) => add(i % 2 === 0 ? x : y, l))
          const xy = makeReplica(sim, backend, 4, [...x.log.events(), ...y.log.events()])
          const yx = makeReplica(sim, backend, 5, [...y.log.events(), ...x.log.events()])
          assert.equal(xy.derived().totals.total, forward.derived().totals.total)
          assert.equal(yx.derived().totals, xy.derived().totals)
        },
      ),
      { numRuns: 60 },
    )
  })
}

test.run()
