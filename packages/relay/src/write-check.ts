/**
 * The trust boundary: every write is checked for what it does before it is
 * stored, echoed or broadcast. The document's backend lists the update's
 * effect without applying it (core backends' inspectUpdate) and core's
 * checkWrite holds that effect against the purchase schema, the token's
 * rights and the writer's identity. Both endpoints go through here; nothing
 * a document holds can make it throw (a refusal is a value).
 */
import { type CrdtBackend, isConcordError } from '@concord/core'
import { type CrdtDoc, type WriteAuthor, type WriteRefusal, checkWrite } from '@concord/core/internal'

/** What the check reads of a loaded document (the document host's LoadedDoc has it). */
export interface DocToCheck {
  readonly docId: string
  readonly backend: CrdtBackend
  readonly replica: { readonly log: { readonly doc: CrdtDoc } }
}

export interface WriteToCheck {
  readonly payload: Uint8Array
  readonly event: { readonly id: string; readonly actor: string; readonly seq: number; readonly hlc: string; readonly kind: string }
  readonly author: WriteAuthor
  /** A raw Yjs update from /y/<doc>. */
  readonly raw: boolean
  readonly genericRooms: boolean
  /** Epoch milliseconds now, by the relay's clock: how far ahead a stamp may be is measured from it. */
  readonly now: number
}

/** A write refusal, or INVALID_UPDATE for bytes that are no update of the document's backend. */
export type Refusal = WriteRefusal | { readonly code: 'INVALID_UPDATE'; readonly rule: 'decode'; readonly key: ''; readonly message: string }

/** The refusal of a write, or undefined when it may be stored. */
export function refusalOf(doc: DocToCheck, w: WriteToCheck): Refusal | undefined {
  const crdt: CrdtDoc = doc.replica.log.doc
  const backend = doc.backend
  let effect
  try {
    effect = backend.inspectUpdate!(crdt, w.payload)
  } catch (e) {
    if (!isConcordError(e)) throw e
    return { code: 'INVALID_UPDATE', rule: 'decode', key: '', message: e.message }
  }
  const snapshot = crdt.read()
  return checkWrite(effect, {
    docId: doc.docId,
    backend: backend.name,
    snapshot,
    textLength: (key) => crdt.textLength?.(key) ?? snapshot.texts.get(key)?.length ?? 0,
    event: w.event,
    raw: w.raw,
    author: w.author,
    ...(w.raw ? {} : { authorId: backend.authorOf!(w.event.actor as never) }),
    now: w.now,
    genericRooms: w.genericRooms,
  })
}
