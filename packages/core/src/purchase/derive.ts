/**
 * Derived values: totals, quantities, statuses. Computed from merged state on
 * every replica, never replicated, so they cannot go stale the way a stored
 * total does (A stores 144, B stores 110, the truth is 132). Every amount is
 * rounded from an exact product, in an order that does not depend on line
 * order or merge order.
 */
import { type Decimal, ZERO, addDecimal, compareDecimal, decimalFromParts, decimalParts, isZeroDecimal, subDecimal, sumDecimals } from '../money/decimal.js'
import { type MinorString, multiplyToMinor, parseMinor } from '../money/amount.js'
import { roundDiv } from '../money/rounding.js'
import { type IsoInstant, instantFromEpochMs } from '../time/dates.js'
import { type Hlc, decodeHlc } from '../time/hlc.js'
import type { LineId, RecordId } from '../ids.js'
import { type Lifecycle, foldLifecycle } from './lifecycle.js'
import type { PurchaseLine, PurchaseState, TaxSnapshot } from './model.js'

export type FlowStatus = 'NONE' | 'PARTIAL' | 'FULL' | 'OVER'

export interface LineTotals {
  readonly id: LineId
  /** Amount of the line after discount, before tax (exclusive) or including it (inclusive). */
  readonly amount: bigint
  readonly untaxed: bigint
  /** Tax of this line rounded on its own (what the line shows). */
  readonly tax: bigint
  readonly total: bigint
  readonly received: Decimal
  readonly returned: Decimal
  readonly billed: Decimal
}

export interface PurchaseTotals {
  readonly untaxed: bigint
  readonly tax: bigint
  readonly total: bigint
  /** Order tax minus the sum of line taxes: non-zero only with GLOBAL tax rounding. */
  readonly roundingAdjustment: bigint
  readonly taxByCode: ReadonlyMap<string, bigint>
  readonly paid: bigint
  readonly refunded: bigint
  readonly due: bigint
}

export interface PurchaseDerived {
  readonly lifecycle: Lifecycle
  readonly lines: ReadonlyMap<LineId, LineTotals>
  readonly totals: PurchaseTotals
  readonly receiptStatus: FlowStatus
  readonly billingStatus: FlowStatus
  readonly paymentStatus: FlowStatus
  /** Percent of ordered quantity received / billed, one decimal, capped at 100 per line. */
  readonly percentReceived: Decimal
  readonly percentBilled: Decimal
  readonly voided: ReadonlySet<RecordId>
  readonly updatedAt: IsoInstant | null
}

const HUNDRED = '100' as Decimal

export function voidedIds(state: PurchaseState): Set<RecordId> {
  return new Set(state.voids.map((v) => v.target))
}

/** Quantities per line from receipts, returns and bills that are not voided. */
export function lineQuantities(state: PurchaseState, voided: ReadonlySet<RecordId> = voidedIds(state)) {
  const received = new Map<LineId, Decimal>()
  const returned = new Map<LineId, Decimal>()
  const billed = new Map<LineId, Decimal>()
  const add = (m: Map<LineId, Decimal>, line: LineId, qty: Decimal) => m.set(line, addDecimal(m.get(line) ?? ZERO, qty))
  for (const r of state.receipts) if (!voided.has(r.id)) add(received, r.line, r.qty)
  for (const r of state.returns) if (!voided.has(r.id)) add(returned, r.line, r.qty)
  for (const b of state.bills) if (!voided.has(b.id)) add(billed, b.line, b.qty)
  return { received, returned, billed }
}

function taxRateSum(taxes: readonly TaxSnapshot[]): Decimal {
  return sumDecimals(taxes.map((t) => t.rate))
}

/** Line amount after discount, rounded once: qty x price x (100 - discount) / 100. */
export function lineAmount(line: PurchaseLine, state: PurchaseState): bigint {
  const { currencyExponent, rounding } = state.settings
  return multiplyToMinor([line.qty, line.price.amount, subDecimal(HUNDRED, line.discount)], currencyExponent, rounding.mode, 100n)
}

/** Splits an amount that includes taxes at `rateSum` percent: untaxed = amount x 100 / (100 + rateSum). */
function untaxedOfInclusive(amount: bigint, rateSum: Decimal, state: PurchaseState): bigint {
  const { units, scale } = decimalParts(addDecimal(HUNDRED, rateSum))
  return roundDiv(amount * 100n * 10n ** BigInt(scale), units, state.settings.rounding.mode)
}

function taxOf(base: bigint, rate: Decimal, state: PurchaseState): bigint {
  const { units, scale } = decimalParts(rate)
  return roundDiv(base * units, 100n * 10n ** BigInt(scale), state.settings.rounding.mode)
}

/**
 * Taxes of one base amount, one per tax; in inclusive mode the last tax takes
 * the remainder so that untaxed + taxes equals the amount exactly.
 */
function splitTaxes(amount: bigint, taxes: readonly TaxSnapshot[], state: PurchaseState): { untaxed: bigint; perTax: bigint[] } {
  if (taxes.length === 0) return { untaxed: amount, perTax: [] }
  if (state.settings.taxMode === 'EXCLUSIVE') return { untaxed: amount, perTax: taxes.map((t) => taxOf(amount, t.rate, state)) }
  const untaxed = untaxedOfInclusive(amount, taxRateSum(taxes), state)
  const perTax = taxes.map((t) => taxOf(untaxed, t.rate, state))
  const allocated = perTax.slice(0, -1).reduce((a, b) => a + b, 0n)
  perTax[perTax.length - 1] = amount - untaxed - allocated
  return { untaxed, perTax }
}

/**
 * A line's amount and taxes depend only on the line and the order's frozen
 * settings. Lines that did not change keep their identity between reads, so
 * their money is computed once.
 */
interface LineMoney {
  readonly settings: object
  readonly amount: bigint
  readonly split: { readonly untaxed: bigint; readonly perTax: readonly bigint[] }
  readonly tax: bigint
  /** The last totals built for this line, and the quantities they were built from. */
  totals?: LineTotals
  rec?: Decimal
  ret?: Decimal
  bil?: Decimal
}
const LINE_MONEY = new WeakMap<PurchaseLine, LineMoney>()

function lineMoney(line: PurchaseLine, state: PurchaseState) {
  const hit = LINE_MONEY.get(line)
  if (hit !== undefined && hit.settings === state.settings) return hit
  const amount = line.removed ? 0n : lineAmount(line, state)
  const split = splitTaxes(amount, line.taxes, state)
  const money: LineMoney = { settings: state.settings, amount, split, tax: split.perTax.reduce((a, b) => a + b, 0n) }
  LINE_MONEY.set(line, money)
  return money
}

const SCALE = 10
/** A quantity as an integer of 10^-10 units (quantities have at most 4 decimals; more are truncated). */
function scaled(d: Decimal): bigint {
  const p = decimalParts(d)
  return p.scale <= SCALE ? p.units * 10n ** BigInt(SCALE - p.scale) : p.units / 10n ** BigInt(p.scale - SCALE)
}

const taxSignature = (taxes: readonly TaxSnapshot[]) => taxes.map((t) => `${t.code}@${t.rate}`).join('|')

export function derivePurchase(state: PurchaseState): PurchaseDerived {
  const lifecycle = foldLifecycle(state.transitions)
  const voided = voidedIds(state)
  const q = lineQuantities(state, voided)
  const live = state.lines.filter((l) => !l.removed)

  const lines = new Map<LineId, LineTotals>()
  let untaxed = 0n
  let lineTaxSum = 0n
  const perLineTaxByCode = new Map<string, bigint>()
  // GLOBAL rounding groups lines with the same taxes and rounds each group's tax once.
  const groups = new Map<string, { taxes: readonly TaxSnapshot[]; amount: bigint }>()
  for (const line of state.lines) {
    const money = lineMoney(line, state)
    const { split, tax } = money
    const rec = q.received.get(line.id)
    const ret = q.returned.get(line.id)
    const bil = q.billed.get(line.id)
    // Reuse the line's totals object while its money and quantities are unchanged.
    let totals = money.totals
    if (totals === undefined || money.rec !== rec || money.ret !== ret || money.bil !== bil) {
      totals = {
        id: line.id,
        amount: money.amount,
        untaxed: split.untaxed,
        tax,
        total: split.untaxed + tax,
        received: rec === undefined && ret === undefined ? ZERO : subDecimal(rec ?? ZERO, ret ?? ZERO),
        returned: ret ?? ZERO,
        billed: bil ?? ZERO,
      }
      money.totals = totals
      money.rec = rec
      money.ret = ret
      money.bil = bil
    }
    lines.set(line.id, totals)
    if (line.removed) continue
    lineTaxSum += tax
    line.taxes.forEach((t, i) => perLineTaxByCode.set(t.code, (perLineTaxByCode.get(t.code) ?? 0n) + (split.perTax[i] ?? 0n)))
    if (state.settings.rounding.tax === 'PER_LINE') untaxed += split.untaxed
    else {
      const sig = taxSignature(line.taxes)
      const g = groups.get(sig) ?? { taxes: line.taxes, amount: 0n }
      g.amount += money.amount
      groups.set(sig, g)
    }
  }

  let tax = lineTaxSum
  let taxByCode: Map<string, bigint> = perLineTaxByCode
  if (state.settings.rounding.tax === 'GLOBAL') {
    tax = 0n
    taxByCode = new Map()
    // Sorted so the sum never depends on the order lines were met in.
    for (const sig of [...groups.keys()].sort()) {
      const g = groups.get(sig)!
      const split = splitTaxes(g.amount, g.taxes, state)
      untaxed += split.untaxed
      g.taxes.forEach((t, i) => {
        const v = split.perTax[i] ?? 0n
        taxByCode.set(t.code, (taxByCode.get(t.code) ?? 0n) + v)
        tax += v
      })
    }
  }
  const total = untaxed + tax

  const sumMinor = (records: readonly { id: RecordId; amount: MinorString }[]) =>
    records.reduce((acc, r) => (voided.has(r.id) ? acc : acc + parseMinor(r.amount)), 0n)
  const paid = sumMinor(state.payments)
  const refunded = sumMinor(state.refunds)
  const netPaid = paid - refunded

  const goods = live.filter((l) => l.kind === 'goods')
  const flow = (done: (l: PurchaseLine) => Decimal, among: readonly PurchaseLine[]): FlowStatus => {
    let any = false
    let over = false
    let full = among.length > 0
    for (const l of among) {
      const d = done(l)
      if (d === ZERO) {
        // Nothing done on this line: not over, and not full unless nothing was ordered.
        if (l.qty !== ZERO) full = false
        continue
      }
      if (!isZeroDecimal(d)) any = true
      const c = compareDecimal(d, l.qty)
      if (c > 0) over = true
      if (c < 0) full = false
    }
    return over ? 'OVER' : !any ? 'NONE' : full ? 'FULL' : 'PARTIAL'
  }
  const lt = (l: PurchaseLine) => lines.get(l.id)!
  const percent = (done: (l: PurchaseLine) => Decimal, among: readonly PurchaseLine[]): Decimal => {
    // Integer sums at a fixed scale: no decimal string is built per line.
    let ordered = 0n
    let got = 0n
    for (const l of among) {
      const q = scaled(l.qty)
      ordered += q
      const d = done(l)
      if (d === ZERO) continue
      const x = scaled(d)
      got += x < q ? x : q
    }
    if (ordered === 0n) return ZERO
    return decimalFromParts({ units: roundDiv(got * 1000n, ordered, 'HALF_UP'), scale: 1 })
  }

  // HLC strings sort like the clock: the latest is the largest string; decode only that one.
  let latest = ''
  for (const entries of state.registers.values()) for (const e of entries) if (e.hlc > latest) latest = e.hlc
  for (const list of [state.receipts, state.returns, state.bills, state.payments, state.refunds, state.voids, state.transitions, state.resolutions]) {
    for (const r of list) if (r.hlc > latest) latest = r.hlc
  }
  for (const l of state.lines) if (l.created.hlc > latest) latest = l.created.hlc

  return {
    lifecycle,
    lines,
    totals: {
      untaxed,
      tax,
      total,
      roundingAdjustment: tax - lineTaxSum,
      taxByCode,
      paid: netPaid,
      refunded,
      due: total - netPaid,
    },
    receiptStatus: flow((l) => lt(l).received, goods),
    billingStatus: flow((l) => lt(l).billed, live),
    paymentStatus: netPaid === 0n ? 'NONE' : netPaid < total ? 'PARTIAL' : netPaid === total ? 'FULL' : 'OVER',
    percentReceived: percent((l) => lt(l).received, goods),
    percentBilled: percent((l) => lt(l).billed, live),
    voided,
    updatedAt: latest === '' ? null : instantFromEpochMs(decodeHlc(latest as Hlc).wall),
  }
}

