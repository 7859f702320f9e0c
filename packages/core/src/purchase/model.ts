/**
 * The purchase order as Concord stores it: which CRDT primitive holds each
 * part (docs/DOMAIN.md, "What a purchase holds"), and the plain types the
 * rest of core reads. Amounts are minor-unit strings, rates canonical
 * decimal strings, dates ISO 8601 strings: JSON that every backend stores
 * identically.
 */
import type { EventId, LineId, PurchaseId, RecordId, ReplicaId } from '../ids.js'
import type { Decimal } from '../money/decimal.js'
import type { CurrencyCode, CurrencyExponent } from '../money/currency.js'
import type { MinorString } from '../money/amount.js'
import type { RoundingPolicy } from '../money/rounding.js'
import type { Hlc } from '../time/hlc.js'
import type { IsoDate, IsoInstant, TimeZoneId } from '../time/dates.js'
import type { BackendName, RegisterEntry } from '../backends/backend.js'

/** Who made a record, when, from where: what the audit trail shows. */
export interface Stamp {
  readonly ev: EventId
  readonly hlc: Hlc
  readonly by: string
  readonly dev: string
  readonly at: IsoInstant
}

/** A version vector as stored in records: replica -> number of its events seen. */
export type StoredClock = { readonly [replica: string]: number }

export type TaxMode = 'EXCLUSIVE' | 'INCLUSIVE'
export type LineKind = 'goods' | 'service'

/** Set once at creation: changing any of these would reinterpret the order. */
export interface PurchaseSettings {
  readonly id: PurchaseId
  readonly backend: BackendName
  readonly currencyExponent: CurrencyExponent
  readonly rounding: RoundingPolicy
  readonly taxMode: TaxMode
  readonly timeZone: TimeZoneId
  /** Orders above this total (minor units) need approval before confirmation. */
  readonly approvalThreshold: MinorString | null
  /** Receipts may exceed the ordered quantity by this percentage without a conflict. */
  readonly receiptTolerance: Decimal
  readonly createdAt: IsoInstant
  readonly createdBy: string
}

export type LifecycleState = 'draft' | 'sent' | 'toApprove' | 'confirmed' | 'locked' | 'closed' | 'cancelled'
export type TransitionAction =
  | 'send' | 'submit' | 'approve' | 'reject' | 'confirm' | 'lock' | 'unlock' | 'close' | 'reopen' | 'cancel' | 'reset'
  /** Only written by resolutions: sets the state outright. */
  | 'force'

export interface LineRecord extends Stamp {
  readonly id: LineId
  readonly kind: LineKind
  readonly vv: StoredClock
}

export interface ReceiptRecord extends Stamp {
  readonly id: RecordId
  readonly line: LineId
  readonly qty: Decimal
  /** The product received, as the line named it then. */
  readonly product: string
  readonly deliveryNote: string
  readonly date: IsoDate
}

export interface ReturnRecord extends Stamp {
  readonly id: RecordId
  readonly line: LineId
  readonly qty: Decimal
  readonly reason: string
  readonly date: IsoDate
}

export interface BillRecord extends Stamp {
  readonly id: RecordId
  readonly line: LineId
  readonly qty: Decimal
  readonly ref: string
  readonly date: IsoDate
}

export interface PaymentRecord extends Stamp {
  readonly id: RecordId
  readonly amount: MinorString
  readonly ref: string
  readonly date: IsoDate
}

/**
 * A refund: money the supplier paid back, or, with status `requested`, a
 * refund asked for and not yet received. A requested refund is not money
 * back: the derived totals leave it out until the refund itself is recorded.
 */
export interface RefundRecord extends PaymentRecord {
  readonly status?: 'requested'
}

export type VoidableSet = 'receipts' | 'returns' | 'bills' | 'payments' | 'refunds'

export interface VoidRecord extends Stamp {
  readonly id: RecordId
  readonly set: VoidableSet
  readonly target: RecordId
  readonly reason: string
}

export interface TransitionRecord extends Stamp {
  readonly id: RecordId
  readonly action: TransitionAction
  /** For `force`: the state a resolution sets. */
  readonly to?: LifecycleState
  readonly vv: StoredClock
}

export interface ResolutionRecord extends Stamp {
  readonly id: RecordId
  readonly conflict: string
  readonly kind: string
  readonly option: string
  readonly params: { readonly [k: string]: string }
  readonly note: string
  readonly vv: StoredClock
}

export interface TaxSnapshot {
  readonly code: string
  readonly name: string
  /** Percent, as a canonical decimal ("7.5"). Snapshotted so a tax-master change never re-prices open orders. */
  readonly rate: Decimal
}

export interface UnitPrice {
  readonly amount: Decimal
  /** The order currency the price was entered in. */
  readonly currency: CurrencyCode
}

export interface PurchaseLine {
  readonly id: LineId
  readonly kind: LineKind
  readonly created: LineRecord
  readonly product: string
  readonly description: string
  readonly qty: Decimal
  readonly price: UnitPrice
  readonly discount: Decimal
  readonly uom: string
  readonly sortKey: string
  readonly removed: boolean
  readonly taxes: readonly TaxSnapshot[]
}

/** A guarded field: every concurrent value, oldest first. One value means no conflict. */
export interface Guarded<T> {
  readonly values: readonly T[]
  readonly entries: readonly RegisterEntry[]
}

export interface PurchaseHeader {
  readonly orderDate: IsoDate | null
  readonly requiredBy: IsoDate | null
  readonly paymentTerm: string
  readonly incoterm: string
  readonly buyer: string
  readonly supplierRef: string
}
export type HeaderField = keyof PurchaseHeader
export const HEADER_FIELDS: readonly HeaderField[] = ['orderDate', 'requiredBy', 'paymentTerm', 'incoterm', 'buyer', 'supplierRef']

export type GuardedField = 'supplier' | 'currency' | 'fxRate' | 'statedTotal'
export const GUARDED_FIELDS: readonly GuardedField[] = ['supplier', 'currency', 'fxRate', 'statedTotal']

export type LineField = 'product' | 'description' | 'qty' | 'price' | 'discount' | 'uom' | 'sortKey' | 'removed'
export const LINE_FIELDS: readonly LineField[] = ['product', 'description', 'qty', 'price', 'discount', 'uom', 'sortKey', 'removed']

/** The document as the purchase layer sees it: typed, merged, nothing derived yet. */
export interface PurchaseState {
  readonly settings: PurchaseSettings
  readonly number: string | null
  readonly supplier: Guarded<string>
  readonly currency: Guarded<CurrencyCode>
  readonly fxRate: Guarded<Decimal>
  readonly statedTotal: Guarded<MinorString>
  readonly header: PurchaseHeader
  readonly hold: { readonly on: boolean; readonly reason: string }
  readonly notes: string
  /** Every line ever added (removed ones flagged), in display order. */
  readonly lines: readonly PurchaseLine[]
  readonly receipts: readonly ReceiptRecord[]
  readonly returns: readonly ReturnRecord[]
  readonly bills: readonly BillRecord[]
  readonly payments: readonly PaymentRecord[]
  readonly refunds: readonly RefundRecord[]
  readonly voids: readonly VoidRecord[]
  readonly transitions: readonly TransitionRecord[]
  readonly resolutions: readonly ResolutionRecord[]
  /** Version vector of the merged document. */
  readonly clock: ReadonlyMap<ReplicaId, number>
  /** Raw register entries, for conflict detection (who wrote what, concurrently with what). */
  readonly registers: ReadonlyMap<string, readonly RegisterEntry[]>
}

/** Register keys: one flat namespace, so no backend ever nests a map it could create twice. */
export const keys = {
  guarded: (f: GuardedField) => `h.${f}`,
  header: (f: HeaderField) => `h.${f}`,
  hold: 'h.hold',
  number: 'h.number',
  line: (line: LineId, f: LineField) => `l.${line}.${f}`,
  tax: (line: LineId, code: string) => `x.${line}.${code}`,
  notes: 'notes',
} as const
