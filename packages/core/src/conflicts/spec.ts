/**
 * What a conflict kind is: one ConflictSpec holds its label, severity, where
 * its detector looks, the detector, and each resolution option with its
 * label, parameters, resolver and whether it removes the violation or accepts
 * it. The registry (registry.ts) lists the kinds once; every table of kinds
 * is derived from it.
 */
import type { DocWriter } from '../backends/backend.js'
import type { ConflictId, EventId, RecordId } from '../ids.js'
import type { Json } from '../json.js'
import type { PurchaseDerived } from '../purchase/derive.js'
import type { PurchaseLine, PurchaseState, Stamp, StoredClock } from '../purchase/model.js'

/** BLOCKING holds further receive / pay / confirm on its subject; REVIEW asks a person; INFO suggests. */
export type Severity = 'BLOCKING' | 'REVIEW' | 'INFO'

/** One side of a conflict: an event that caused it, and who made it where. */
export interface ConflictBranch {
  readonly ev: EventId
  readonly by: string
  readonly device: string
  readonly at: string
  /** What this side did, in a few words ("received 6", "set supplier to ACME"). */
  readonly summary: string
}

export interface ResolutionOption {
  /** Stable option name passed to `resolve` (`accept`, `void-receipt`, `keep`...). */
  readonly id: string
  readonly label: string
  /** Parameters the option needs, with the choices when they are known. */
  readonly params: readonly {
    readonly name: string
    readonly label: string
    readonly choices?: readonly string[]
    /** May be left out (the option says what it does without it). */
    readonly optional?: boolean
  }[]
}

export type Facts = { readonly [name: string]: string }

export interface DetectInput {
  readonly state: PurchaseState
  readonly derived: PurchaseDerived
}

/** The conflict a resolver works on: what its detector found, with its id. */
export interface ConflictUnderResolution {
  readonly id: ConflictId
  readonly kind: string
  readonly subject: string
  readonly causes: readonly EventId[]
  readonly facts: Facts
}

export interface ResolveContext {
  readonly state: PurchaseState
  readonly derived: PurchaseDerived
  readonly conflict: ConflictUnderResolution
  readonly params: { readonly [k: string]: string }
  readonly w: DocWriter
  readonly stamp: Stamp
  /** The replica's version vector now: a resolution has seen both branches. */
  readonly vv: StoredClock
  newRecordId(): RecordId
  /** A register's value as it was when an author had seen `vv` (replays history). */
  valueAsOf(key: string, vv: StoredClock): Json | undefined
  /**
   * Repeats a recorded resolution (its writes and its record) in this event,
   * after the resolutions it competed with: how a pick settles them.
   */
  repeatResolution(resolution: RecordId): void
}

/** The changes one option appends (register writes, records) to the resolution's event. */
export type Resolver = (ctx: ResolveContext) => void

/** A text shown to a person, fixed or made from the conflict's facts. */
export type Label = string | ((facts: Facts) => string)

export interface OptionSpec {
  readonly label: Label
  readonly params?: readonly { readonly name: string; readonly label: Label; readonly optional?: boolean }[]
  /**
   * `removes`: the resolver's writes make the invariant hold again, so the
   * detector stops reporting the violation. `accepts`: the violation stands
   * and the resolution record says a person accepted it. `defers`: it stays
   * open.
   */
  readonly effect: 'removes' | 'accepts' | 'defers'
  readonly resolve: Resolver
}

/** One violation as a detector finds it; the registry adds kind, id, severity and options. */
export interface Found<O extends string> {
  /** What it is about: `order`, `line:<id>`, `field:<register key>`, `receipt-note:<line>:<note>`, `conflict:<id>`. */
  readonly subject: string
  /** The events that caused it, sorted. Part of the id. */
  readonly causes: readonly EventId[]
  readonly branches: readonly ConflictBranch[]
  /** The facts a person needs to decide; option labels are made from them. */
  readonly facts: Facts
  /** Facts that define the violation beyond its causes (a computed total), hashed into the id. */
  readonly idFacts?: readonly string[]
  /** The values a parameter may take, by option and parameter, when the detector knows them. */
  readonly choices?: { readonly [option in O]?: { readonly [param: string]: readonly string[] } }
}

interface SpecCommon<O extends string> {
  /** What a person reads for this kind ("More received than ordered"). */
  readonly label: string
  readonly severity: Severity
  /** The options in the order offered, the default first. */
  readonly options: { readonly [option in O]: OptionSpec }
}

/**
 * Where a detector looks. `order`: the whole order (records, header,
 * aggregates), run on every detection. `line`: one line, its totals and its
 * activity, run per line (only on changed lines after a line edit).
 * `lookalike-lines`: groups of lines sharing a key, run per group (only on
 * groups a line edit touched).
 */
export type ConflictSpec<O extends string = string> =
  | (SpecCommon<O> & { readonly scope: 'order'; detect(input: DetectInput): Found<NoInfer<O>>[] })
  | (SpecCommon<O> & { readonly scope: 'line'; detect(input: DetectInput, line: PurchaseLine): Found<NoInfer<O>> | undefined })
  | (SpecCommon<O> & {
    readonly scope: 'lookalike-lines'
    /** Lines that look alike share a key; a line without one is in no group. */
    groupKey(line: PurchaseLine): string | undefined
    detect(group: readonly PurchaseLine[]): Found<NoInfer<O>>[]
  })

const recordOnly: Resolver = () => {}

/** Every kind offers it, last: the conflict stays open, marked deferred. */
export const DEFER: OptionSpec = { label: 'Defer: keep it open for later', effect: 'defers', resolve: recordOnly }

/** An option that writes nothing but the resolution record: a person accepts the violation as it is. */
export function accepting(label: Label, params?: OptionSpec['params']): OptionSpec {
  return { label, effect: 'accepts', resolve: recordOnly, ...(params !== undefined ? { params } : {}) }
}

/** The "accept with a note" option several kinds offer. */
export const acceptWithNote = (label: string): OptionSpec => accepting(label, [{ name: 'note', label: 'Note' }])

/**
 * A kind's spec with `defer` added as its last option. Each option must
 * carry a resolver and an effect, so a kind cannot list an option nothing
 * carries out.
 */
export function defineKind<const O extends string>(spec: ConflictSpec<O>): ConflictSpec<O | 'defer'> {
  return { ...spec, options: { ...spec.options, defer: DEFER } } as ConflictSpec<O | 'defer'>
}
