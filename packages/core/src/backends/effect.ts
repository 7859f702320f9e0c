/**
 * What an incoming update would do to a document, read from its bytes and
 * resolved against the document, without applying it. Each backend has an
 * inspector that produces this (yjs-inspect.ts, automerge-inspect.ts); the
 * purchase layer checks it against the schema, the token's rights and the
 * author (purchase/inspect.ts). Values are given as decoded, never trusted:
 * `unknown`, for the checker to validate.
 *
 * The inspectors describe, they do not judge: an op is listed with what the
 * document held before under the same key, and the checker decides whether
 * that was allowed. Only content that cannot be described in these terms at
 * all (a nested type, binary content, a change that does not decode) is
 * listed as `malformed`.
 */
import type { SetName } from './sets.js'

export type EffectOp =
  /** A set-once field written. `existing`: the value the document (or an earlier op of this update) held there. */
  | { readonly k: 'init'; readonly key: string; readonly value: unknown; readonly existing: unknown }
  /** A set-once field removed. */
  | { readonly k: 'initDelete'; readonly key: string }
  /**
   * A register entry written. `slot` names the entry inside the register: on
   * Yjs the writing event id in the map key (`<key>\0<slot>`), on Automerge
   * the entry's own `ev` (its slot is the key itself). `existing`: an entry
   * this op overwrites in place (the same Yjs map key; never on Automerge).
   */
  | { readonly k: 'reg'; readonly key: string; readonly slot: string; readonly entry: unknown; readonly existing: unknown }
  /** A register entry removed: on Yjs a deleted map key, on Automerge an explicit delete of the key. */
  | { readonly k: 'regDelete'; readonly key: string; readonly slot: string }
  /** A record added to a grow-only set. `existing`: the record already held under that id, if any. */
  | { readonly k: 'record'; readonly set: SetName; readonly id: string; readonly record: unknown; readonly existing: unknown }
  /** A record removed from a grow-only set. */
  | { readonly k: 'recordDelete'; readonly set: SetName; readonly id: string }
  /** Characters inserted into and deleted from a collaborative text. */
  | { readonly k: 'text'; readonly key: string; readonly inserted: number; readonly deleted: number }
  /** A version-vector counter written; `existing` is the counter before (undefined when new). */
  | { readonly k: 'clock'; readonly replica: string; readonly value: unknown; readonly existing: number | undefined }
  /** A version-vector counter removed. */
  | { readonly k: 'clockDelete'; readonly replica: string }
  /**
   * A write to a part of the document that is not Concord's (a Yjs root type
   * with another name): what generic Yjs apps write into rooms that hold no
   * purchase.
   */
  | { readonly k: 'foreign'; readonly root: string }
  /** Content Concord never writes, inside Concord's parts (a nested type, binary, a text format, an unknown container). */
  | { readonly k: 'malformed'; readonly where: string; readonly why: string }

export interface UpdateEffect {
  readonly ops: readonly EffectOp[]
  /**
   * Who made the changes, in the backend's own terms: Yjs client ids (as
   * decimal strings), Automerge actor ids (hex). The deterministic changes
   * that create a shared container on Automerge are not listed.
   */
  readonly authors: readonly string[]
  /**
   * True when the update refers to content the document does not hold (a
   * Yjs origin or delete of an unknown item, an Automerge dependency that is
   * missing): the backend would park it, so its effect cannot be known yet.
   */
  readonly incomplete: boolean
}
