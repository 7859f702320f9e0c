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
import { linePositions } from './read.js'

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

/** One line's share of a receipt or billing status, and of its percent. */
interface FlowShare {
  /** Nothing done on the line. */
  readonly none: boolean
  readonly any: boolean
  readonly over: boolean
  readonly notFull: boolean
  /** Ordered and done (capped at ordered) quantities, as integers of 10^-10 units. */
  readonly ordered: bigint
  readonly got: bigint
}

/**
 * What one line adds to the order's sums. Every document-level figure is a
 * sum (or a count) of these, so a change to one line updates the sums by
 * taking its old share out and putting its new one in: bigint minor units
 * and counts add and subtract exactly, so the result is the one a
 * from-scratch pass gives.
 */
interface LineShare {
  readonly live: boolean
  readonly untaxed: bigint
  readonly tax: bigint
  /** Per-line tax by code (codes unique per line). */
  readonly perTax: readonly (readonly [string, bigint])[]
  /** GLOBAL rounding: the line's amount goes to the group of lines with the same taxes. */
  readonly sig: string
  readonly taxes: readonly TaxSnapshot[]
  readonly amount: bigint
  /** Receipt share (live goods lines only) and billing share (live lines). */
  readonly rec: FlowShare | undefined
  readonly bil: FlowShare | undefined
}

/** Keyed by the line's totals object, which is rebuilt whenever the line, its money or its quantities change. */
const SHARES = new WeakMap<LineTotals, LineShare>()

function flowShare(done: Decimal, qty: Decimal): FlowShare {
  const ordered = scaled(qty)
  if (done === ZERO) return { none: true, any: false, over: false, notFull: qty !== ZERO, ordered, got: 0n }
  const c = compareDecimal(done, qty)
  const x = scaled(done)
  return { none: false, any: !isZeroDecimal(done), over: c > 0, notFull: c < 0, ordered, got: x < ordered ? x : ordered }
}

function shareOf(line: PurchaseLine, totals: LineTotals, money: LineMoney): LineShare {
  let share = SHARES.get(totals)
  if (share === undefined) {
    const live = !line.removed
    share = {
      live,
      untaxed: money.split.untaxed,
      tax: money.tax,
      perTax: line.taxes.map((t, i) => [t.code, money.split.perTax[i] ?? 0n] as const),
      sig: taxSignature(line.taxes),
      taxes: line.taxes,
      amount: money.amount,
      rec: live && line.kind === 'goods' ? flowShare(totals.received, line.qty) : undefined,
      bil: live ? flowShare(totals.billed, line.qty) : undefined,
    }
    SHARES.set(totals, share)
  }
  return share
}

interface FlowSums { among: number; any: number; over: number; notFull: number; ordered: bigint; got: bigint }
interface Counted<T> { value: T; lines: number }

/** The order's running sums over its lines' shares. */
interface LineSums {
  untaxed: bigint
  lineTax: bigint
  readonly taxByCode: Map<string, Counted<bigint>>
  readonly groups: Map<string, Counted<{ readonly taxes: readonly TaxSnapshot[]; readonly amount: bigint }>>
  readonly rec: FlowSums
  readonly bil: FlowSums
}

const emptyFlow = (): FlowSums => ({ among: 0, any: 0, over: 0, notFull: 0, ordered: 0n, got: 0n })

function copySums(s: LineSums): LineSums {
  return {
    untaxed: s.untaxed,
    lineTax: s.lineTax,
    taxByCode: new Map([...s.taxByCode].map(([k, v]) => [k, { ...v }])),
    groups: new Map([...s.groups].map(([k, v]) => [k, { ...v }])),
    rec: { ...s.rec },
    bil: { ...s.bil },
  }
}

function addFlow(f: FlowSums, x: FlowShare | undefined, sign: 1 | -1): void {
  if (x === undefined) return
  const n = sign
  f.among += n
  f.ordered += BigInt(n) * x.ordered
  if (x.none) {
    if (x.notFull) f.notFull += n
    return
  }
  if (x.any) f.any += n
  if (x.over) f.over += n
  if (x.notFull) f.notFull += n
  f.got += BigInt(n) * x.got
}

/** Adds (sign 1) or takes out (sign -1) one line's share. */
function addShare(sums: LineSums, x: LineShare, globalTax: boolean, sign: 1 | -1): void {
  addFlow(sums.rec, x.rec, sign)
  addFlow(sums.bil, x.bil, sign)
  if (!x.live) return
  const b = BigInt(sign)
  sums.lineTax += b * x.tax
  for (const [code, v] of x.perTax) {
    const c = sums.taxByCode.get(code) ?? { value: 0n, lines: 0 }
    c.value += b * v
    c.lines += sign
    if (c.lines === 0) sums.taxByCode.delete(code)
    else sums.taxByCode.set(code, c)
  }
  if (!globalTax) {
    sums.untaxed += b * x.untaxed
    return
  }
  const g = sums.groups.get(x.sig) ?? { value: { taxes: x.taxes, amount: 0n }, lines: 0 }
  g.value = { taxes: g.value.taxes, amount: g.value.amount + b * x.amount }
  g.lines += sign
  if (g.lines === 0) sums.groups.delete(x.sig)
  else sums.groups.set(x.sig, g)
}

/** What a derivation keeps beyond what it returns, so the next one can start from it. */
interface DeriveMemo {
  readonly sums: LineSums
  readonly q: ReturnType<typeof lineQuantities>
  readonly latest: string
}
const MEMO = new WeakMap<PurchaseDerived, DeriveMemo>()

/** Records other than lines: when all are the same arrays, quantities, payments and the lifecycle are too. */
function sameRecords(a: PurchaseState, b: PurchaseState): boolean {
  return a.receipts === b.receipts && a.returns === b.returns && a.bills === b.bills && a.payments === b.payments &&
    a.refunds === b.refunds && a.voids === b.voids && a.transitions === b.transitions && a.resolutions === b.resolutions
}

function lineTotals(line: PurchaseLine, money: LineMoney, q: ReturnType<typeof lineQuantities>): LineTotals {
  const rec = q.received.get(line.id)
  const ret = q.returned.get(line.id)
  const bil = q.billed.get(line.id)
  // Reuse the line's totals object while its money and quantities are unchanged.
  let totals = money.totals
  if (totals === undefined || money.rec !== rec || money.ret !== ret || money.bil !== bil) {
    const { split, tax } = money
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
  return totals
}

/** The latest HLC anywhere in the state. HLC strings sort like the clock: the latest is the largest string. */
function latestHlc(state: PurchaseState): string {
  let latest = ''
  for (const entries of state.registers.values()) for (const e of entries) if (e.hlc > latest) latest = e.hlc
  for (const list of [state.receipts, state.returns, state.bills, state.payments, state.refunds, state.voids, state.transitions, state.resolutions]) {
    for (const r of list) if (r.hlc > latest) latest = r.hlc
  }
  for (const l of state.lines) if (l.created.hlc > latest) latest = l.created.hlc
  return latest
}

export function derivePurchase(state: PurchaseState): PurchaseDerived {
  return deriveFrom(undefined, state)
}

/**
 * Derives `state`, starting from the derivation of an earlier state of the
 * same order when `lines` says which lines changed since and no other record
 * did: only those lines' amounts are recomputed, and the sums take their old
 * shares out and put the new ones in. Anything else derives from scratch.
 * Both ways give the same result, bit for bit (test/core/incremental).
 */
export function deriveFrom(
  prev: { readonly state: PurchaseState; readonly derived: PurchaseDerived } | undefined,
  state: PurchaseState,
  changes?: { readonly lines: ReadonlySet<LineId>; readonly reordered: boolean; readonly registers: ReadonlySet<string> },
): PurchaseDerived {
  const memo = prev === undefined ? undefined : MEMO.get(prev.derived)
  const globalTax = state.settings.rounding.tax === 'GLOBAL'
  let lifecycle: Lifecycle
  let voided: Set<RecordId>
  let q: ReturnType<typeof lineQuantities>
  let sums: LineSums
  let lines: Map<LineId, LineTotals>
  let latest: string
  let paid: bigint
  let refunded: bigint
  if (prev !== undefined && memo !== undefined && changes !== undefined && prev.state.settings === state.settings && sameRecords(prev.state, state)) {
    const d = prev.derived
    lifecycle = d.lifecycle
    voided = d.voided as Set<RecordId>
    q = memo.q
    paid = d.totals.paid + d.totals.refunded
    refunded = d.totals.refunded
    sums = copySums(memo.sums)
    const positions = linePositions(state.lines)
    const fresh = new Map<LineId, LineTotals>()
    for (const id of changes.lines) {
      const old = d.lines.get(id)
      if (old !== undefined) addShare(sums, SHARES.get(old)!, globalTax, -1)
      const at = positions.get(id)
      if (at === undefined) continue
      const line = state.lines[at]!
      const money = lineMoney(line, state)
      const totals = lineTotals(line, money, q)
      addShare(sums, shareOf(line, totals, money), globalTax, 1)
      fresh.set(id, totals)
    }
    if (changes.reordered) {
      // Keep the map in display order, as a from-scratch derivation builds it.
      lines = new Map()
      for (const l of state.lines) lines.set(l.id, fresh.get(l.id) ?? d.lines.get(l.id)!)
    } else {
      lines = new Map(d.lines as Map<LineId, LineTotals>)
      for (const [id, t] of fresh) lines.set(id, t)
    }
    latest = latestAfter(memo.latest, prev.state, state, changes)
  } else {
    lifecycle = foldLifecycle(state.transitions)
    voided = voidedIds(state)
    q = lineQuantities(state, voided)
    sums = { untaxed: 0n, lineTax: 0n, taxByCode: new Map(), groups: new Map(), rec: emptyFlow(), bil: emptyFlow() }
    lines = new Map()
    for (const line of state.lines) {
      const money = lineMoney(line, state)
      const totals = lineTotals(line, money, q)
      lines.set(line.id, totals)
      addShare(sums, shareOf(line, totals, money), globalTax, 1)
    }
    const sumMinor = (records: readonly { id: RecordId; amount: MinorString }[]) =>
      records.reduce((acc, r) => (voided.has(r.id) ? acc : acc + parseMinor(r.amount)), 0n)
    paid = sumMinor(state.payments)
    // A requested refund is not money back yet.
    refunded = sumMinor(state.refunds.filter((r) => r.status !== 'requested'))
    latest = latestHlc(state)
  }

  let untaxed = sums.untaxed
  let tax = sums.lineTax
  let taxByCode = new Map<string, bigint>()
  if (globalTax) {
    tax = 0n
    // GLOBAL rounding rounds each group's tax once; sorted so the sum never depends on the order lines were met in.
    for (const sig of [...sums.groups.keys()].sort()) {
      const g = sums.groups.get(sig)!.value
      const split = splitTaxes(g.amount, g.taxes, state)
      untaxed += split.untaxed
      g.taxes.forEach((t, i) => {
        const v = split.perTax[i] ?? 0n
        taxByCode.set(t.code, (taxByCode.get(t.code) ?? 0n) + v)
        tax += v
      })
    }
  } else for (const [code, c] of sums.taxByCode) taxByCode.set(code, c.value)
  // By code, whichever order lines (or groups) were met in.
  taxByCode = new Map([...taxByCode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  const total = untaxed + tax
  const netPaid = paid - refunded

  const status = (f: FlowSums): FlowStatus => (f.over > 0 ? 'OVER' : f.any === 0 ? 'NONE' : f.among > 0 && f.notFull === 0 ? 'FULL' : 'PARTIAL')
  const percent = (f: FlowSums): Decimal =>
    f.ordered === 0n ? ZERO : decimalFromParts({ units: roundDiv(f.got * 1000n, f.ordered, 'HALF_UP'), scale: 1 })

  const derived: PurchaseDerived = {
    lifecycle,
    lines,
    totals: {
      untaxed,
      tax,
      total,
      roundingAdjustment: tax - sums.lineTax,
      taxByCode,
      paid: netPaid,
      refunded,
      due: total - netPaid,
    },
    receiptStatus: status(sums.rec),
    billingStatus: status(sums.bil),
    paymentStatus: netPaid === 0n ? 'NONE' : netPaid < total ? 'PARTIAL' : netPaid === total ? 'FULL' : 'OVER',
    percentReceived: percent(sums.rec),
    percentBilled: percent(sums.bil),
    voided,
    updatedAt: latest === '' ? null : instantFromEpochMs(decodeHlc(latest as Hlc).wall),
  }
  MEMO.set(derived, { sums, q, latest })
  return derived
}

/**
 * The latest HLC after a change to some registers and lines. It only grows,
 * except when a changed register lost the entry that held it (a write
 * supersedes only what its author had seen, which is older, so only a
 * malformed update does that): then everything is scanned again.
 */
function latestAfter(prevLatest: string, before: PurchaseState, after: PurchaseState, changes: { readonly lines: ReadonlySet<LineId>; readonly registers: ReadonlySet<string> }): string {
  let latest = prevLatest
  let lost = false
  let kept = false
  const meet = (h: string) => {
    if (h > latest) latest = h
    if (h === prevLatest) kept = true
  }
  for (const k of changes.registers) {
    for (const e of before.registers.get(k) ?? []) if (e.hlc === prevLatest) lost = true
    for (const e of after.registers.get(k) ?? []) meet(e.hlc)
  }
  const positions = linePositions(after.lines)
  for (const id of changes.lines) {
    const at = positions.get(id)
    if (at === undefined) lost = true // a line record gone: it may have held the latest
    else meet(after.lines[at]!.created.hlc)
  }
  return lost && !kept && latest === prevLatest ? latestHlc(after) : latest
}
