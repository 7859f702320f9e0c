/**
 * The web app's number formatting and parsing (packages/web/src/format.ts),
 * in Node: the module is bundled with the web app's own esbuild (with core,
 * exactly as the browser gets it) and imported. Node's full ICU gives the
 * same Intl data as Chromium for these locales.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadWebModule } from './web-module.js'

import { type Conflict, type PurchaseReplica, type PurchaseState, PurchaseReplica as Replica, yjsBackend } from '@concord/core'
import { seededRandom } from '@concord/core/internal'
import { type Sim, makeReplica, replicaOptions } from '../support/replicas.js'

interface OrderMoney { readonly currency: string | undefined; readonly exponent: 0 | 1 | 2 | 3 | 4 }
interface Format {
  parseNumber(input: string, loc?: string): string
  formatAmount(major: string, currency: string | undefined, digits: number, loc?: string): string
  formatNumber(plain: string, minDigits?: number, loc?: string): string
  money(minor: bigint, m: OrderMoney, loc?: string): string
  price(amount: string, m: OrderMoney, loc?: string): string
  numberExample(digits?: number, loc?: string): string
  summaryTotal(total: string, loc?: string): string
  plainWords(raw: string, code: string | undefined, m?: OrderMoney): { text: string; detail: string | null }
  looksInternal(text: string): boolean
  setLocale(tag: string | null): string
  conflictFacts(c: Conflict, state: PurchaseState): [string, string][]
  branchText(c: Conflict, summary: string, state: PurchaseState): string
  subjectText(c: Conflict, state: PurchaseState): string
  optionLabel(c: Conflict, label: string, state: PurchaseState): string
  fieldLabel(field: string, state: PurchaseState): string
  fieldValue(field: string, value: string | null, state: PurchaseState): string
}

const loadFormat = () => loadWebModule<Format>('src/format.ts')

const t = suite<{ f: Format }>('web number format')
t.before(async (ctx) => {
  try {
    ctx.f = await loadFormat()
  } catch (e) {
    // uvu does not print a failing hook's error.
    console.error('cannot load packages/web/src/format.ts:', e)
    throw e
  }
})

const NBSP = '\u00a0'
const NNBSP = '\u202f'

t('parses each locale with its own separators into core decimal strings', ({ f }) => {
  const cases: [string, string, string][] = [
    ['de-DE', '12,50', '12.50'],
    ['de-DE', '1.000,50', '1000.50'],
    ['de-DE', '1.000', '1000'],
    ['de-DE', '1.234.567,891', '1234567.891'],
    ['de-DE', ',5', '0.5'],
    ['de-DE', '-3,25', '-3.25'],
    ['de-DE', '  7  ', '7'],
    ['sv-SE', `1${NBSP}000,50`, '1000.50'],
    ['sv-SE', `1${NNBSP}000,50`, '1000.50'],
    ['sv-SE', '1 000,50', '1000.50'],
    ['sv-SE', '12,5', '12.5'],
    ['sv-SE', '\u22122,5', '-2.5'],
    ['fr-FR', `1${NNBSP}234,5`, '1234.5'],
    ['en-US', '1,000.50', '1000.50'],
    ['en-US', '1,000', '1000'],
    ['en-US', '12.50', '12.50'],
    ['en-US', '0.0001', '0.0001'],
    ['en-US', '1234567.5', '1234567.5'],
    ['de-CH', '1’234.50', '1234.50'],
    ['de-CH', "1'234.50", '1234.50'],
    ['en-IN', '12,34,567.5', '1234567.5'],
    ['ar-EG', '١٢٫٥', '12.5'],
  ]
  for (const [loc, input, want] of cases) assert.is(f.parseNumber(input, loc), want, `${loc} ${JSON.stringify(input)}`)
})

t('refuses ambiguous and malformed input with a message that says the format to use', ({ f }) => {
  const bad: [string, string, RegExp][] = [
    ['de-DE', '12.5', /Write it as 1\.234,56/],
    ['de-DE', '12.50', /“\.” separates groups of 3 digits/],
    ['de-DE', '1,000.50', /not a separator|more than once|cannot come after/],
    ['de-DE', '1,2,3', /“,” appears more than once/],
    ['de-DE', '12,', /nothing follows “,”/],
    ['de-DE', '1.000,5.0', /cannot come after the decimals start/],
    ['en-US', '12,50', /“,” separates groups of 3 digits/],
    ['en-US', '1,00,000', /groups of 3/],
    ['en-US', '1.2.3', /appears more than once/],
    ['en-US', '12 kg', /other than digits/],
    ['en-US', '€12', /other than digits/],
    ['en-US', '', /Enter a number/],
    ['en-US', '   ', /Enter a number/],
    ['en-US', '-', /no digits/],
    ['en-US', '1e5', /other than digits/],
    ['en-US', '0x10', /other than digits/],
    ['sv-SE', '1.000,50', /“\.” is not a separator/],
    ['sv-SE', '1 00,5', /groups of 3/],
    ['en-US', '--5', /other than digits/],
  ]
  for (const [loc, input, message] of bad) {
    try {
      const got = f.parseNumber(input, loc)
      assert.unreachable(`${loc} ${JSON.stringify(input)} was accepted as ${got}`)
    } catch (e) {
      if (e instanceof assert.Assertion) throw e
      const err = e as { code?: string; message: string }
      assert.is(err.code, 'INVALID_DECIMAL', `${loc} ${JSON.stringify(input)}: ${err.message}`)
      assert.match(err.message, message, `${loc} ${JSON.stringify(input)}`)
    }
  }
})

t('formats an amount in the currency and locale with the currency exponent as its digits, exactly', ({ f }) => {
  const eur = { currency: 'EUR', exponent: 2 } as const
  assert.is(f.money(123456n, eur, 'de-DE'), `1.234,56${NBSP}€`)
  assert.is(f.money(123456n, eur, 'en-US'), '€1,234.56')
  assert.is(f.money(-5n, eur, 'en-US'), '-€0.05')
  assert.is(f.money(100000n, { currency: 'SEK', exponent: 2 }, 'sv-SE'), `1${NBSP}000,00${NBSP}kr`)
  assert.is(f.money(1234n, { currency: 'JPY', exponent: 0 }, 'en-US'), '¥1,234')
  assert.is(f.money(1234567n, { currency: 'KWD', exponent: 3 }, 'en-US'), 'KWD\u00a01,234.567')
  // Far past a double's 15-16 digits: never through a float.
  assert.is(f.money(1234567890123456789n, eur, 'en-US'), '€12,345,678,901,234,567.89')
  // No currency yet (or two after a conflict): the number with the order's digits.
  assert.is(f.money(150n, { currency: undefined, exponent: 2 }, 'de-DE'), '1,50')
  assert.is(f.summaryTotal('8965.30 EUR', 'de-DE'), `8.965,30${NBSP}€`)
})

t('prices show at least the currency digits, quantities every decimal they have', ({ f }) => {
  const eur = { currency: 'EUR', exponent: 2 } as const
  assert.is(f.price('249.9', eur, 'en-US'), '249.90')
  assert.is(f.price('249.9', eur, 'de-DE'), '249,90')
  assert.is(f.price('0.123456', eur, 'de-DE'), '0,123456')
  assert.is(f.formatNumber('1000.5', 0, 'sv-SE'), `1${NBSP}000,5`)
  assert.is(f.formatNumber('12', 0, 'de-DE'), '12')
  assert.is(f.numberExample(2, 'de-DE'), '1.234,56')
  assert.is(f.numberExample(2, 'en-US'), '1,234.56')
})

t('what a person reads has no codes or minor units; the raw message goes to the details', ({ f }) => {
  const eur = { currency: 'EUR', exponent: 2 } as const
  const pay = f.plainWords('cannot pay 9999900: 405600 is due (minor units)', 'COMMAND_REFUSED', eur)
  assert.is(pay.text, 'Cannot pay €99,999.00: only €4,056.00 is due.')
  assert.ok(pay.detail?.includes('9999900'))
  const inv = f.plainWords('this change would break an invariant (OVER_RECEIPT on line:01M8X903ABCDEFGHJKMNPQRSTV: ordered 6, received 8)', 'COMMAND_REFUSED')
  assert.not.ok(f.looksInternal(inv.text), inv.text)
  const qty = f.plainWords('qty: 1.23456 has more than 4 decimal places', 'INVALID_DECIMAL')
  assert.not.ok(f.looksInternal(qty.text), qty.text)
  assert.ok(qty.text.startsWith('Quantity:'), qty.text)
  const token = f.plainWords('the relay cannot be reached (TOKEN_UNAVAILABLE: token refresh failed); attempt 3 failed, next one at 2026-12-03T06:34:15.091Z; the circuit breaker is open', undefined)
  assert.not.ok(f.looksInternal(token.text), token.text)
  assert.is(f.plainWords('cannot refund more than was paid', 'COMMAND_REFUSED').text, 'Cannot refund more than was paid.')
})

/** A and B edit one order apart, then exchange their events: the conflicts both see. */
function apart(setup: (a: PurchaseReplica) => void, sideA: (a: PurchaseReplica) => void, sideB: (b: PurchaseReplica) => void): PurchaseReplica {
  const sim: Sim = { rng: seededRandom(11), time: 1_760_000_000_000 }
  const a = Replica.create(replicaOptions(sim, yjsBackend, 0), { currency: 'EUR', supplier: 'ACME' })
  setup(a)
  const b = makeReplica(sim, yjsBackend, 1, a.log.events())
  sideA(a)
  sideB(b)
  a.receive(b.log.events())
  return a
}

const lineOf = (r: PurchaseReplica) => r.state().lines[0]!.id

/** Everything the conflict panel and dialog show for one conflict, as one text. */
function conflictScreen(f: Format, r: PurchaseReplica, c: Conflict): string {
  const s = r.state()
  return [
    f.subjectText(c, s),
    ...f.conflictFacts(c, s).map(([k, v]) => `${k}: ${v}`),
    ...c.branches.map((b) => f.branchText(c, b.summary, s)),
    ...c.options.map((o) => f.optionLabel(c, o.label, s)),
  ].join('\n')
}

t('conflict facts, sides and options in German: amounts in euros, fields as labels, no codes or keys', ({ f }) => {
  f.setLocale('de-DE')
  try {
    const mismatch = apart(
      (a) => { a.addLine({ product: 'Widget', qty: '10', price: '100' }); a.transition('send'); a.setStatedTotal('1000') },
      (a) => { a.addLine({ product: 'Gadget', qty: '1', price: '200' }) },
      (b) => { b.updateLine(lineOf(b), { price: '105' }) },
    )
    const tm = mismatch.conflicts().find((c) => c.kind === 'TOTAL_MISMATCH')!
    const tmText = conflictScreen(f, mismatch, tm)
    assert.ok(tmText.includes(`Computed total: 1.250,00${NBSP}€`), tmText)
    // Each side restated the total it computed: both are shown, in euros.
    assert.ok(tmText.includes(`Stated total: 1.200,00${NBSP}€, 1.050,00${NBSP}€`) && tmText.includes(`stated total 1.050,00${NBSP}€`), tmText)
    assert.not.ok(f.looksInternal(tmText), tmText)

    const paid = apart(
      (a) => { a.addLine({ product: 'Widget', qty: '10', price: '100' }); a.transition('send'); a.transition('confirm') },
      (a) => { a.recordPayment({ amount: '600', ref: 'PAY-A' }) },
      (b) => { b.recordPayment({ amount: '500', ref: 'PAY-B' }) },
    )
    const op = paid.conflicts().find((c) => c.kind === 'OVERPAYMENT')!
    const opText = conflictScreen(f, paid, op)
    assert.ok(opText.includes(`Excess: 100,00${NBSP}€`) && opText.includes(`paid 600,00${NBSP}€`), opText)
    assert.ok(opText.includes(`Request a refund of 100,00${NBSP}€`), opText)
    assert.not.ok(f.looksInternal(opText), opText)

    const locked = apart(
      (a) => { a.addLine({ product: 'Bolts', qty: '10', price: '5' }); a.transition('send'); a.transition('confirm') },
      (a) => { a.transition('lock') },
      (b) => { b.updateLine(lineOf(b), { price: '6' }) },
    )
    const el = locked.conflicts().find((c) => c.kind === 'EDIT_AFTER_LOCK')!
    const elText = conflictScreen(f, locked, el)
    assert.ok(elText.includes('Unit price of line 1 (Bolts)'), elText)
    assert.not.ok(f.looksInternal(elText), elText)

    // The history's keys and values of the same orders.
    const s = paid.state()
    const id = s.lines[0]!.id
    assert.is(f.fieldLabel(`lines.${id}.qty`, s), 'Quantity of line 1 (Widget)')
    assert.is(f.fieldLabel('h.statedTotal', s), 'Stated total')
    assert.is(f.fieldValue(`lines.${id}.price`, '249.9 EUR', s), `249,90${NBSP}€`)
    assert.is(f.fieldValue('statedTotal', '156840', s), `1.568,40${NBSP}€`)
    assert.is(f.fieldValue(`lines.${id}.removed`, 'false', s), 'on the order')
    assert.is(f.fieldValue(`payments.${s.payments[0]!.id}`, 'whatever core wrote', s), `600,00${NBSP}€ paid, ref PAY-A`)
  } finally {
    f.setLocale(null)
  }
})

t.run()
