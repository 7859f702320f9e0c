/**
 * Loading a document from a store: its latest snapshot, then the events after
 * it, a page at a time. The relay builds the in-memory document from this.
 */
import type { PurchaseId } from '@concord/core'
import type { DocInfo, EventStore, StoredEvent, StoredSnapshot } from './types.js'
import { DEFAULT_PAGE } from './types.js'

export interface LoadedDocument {
  readonly doc: DocInfo
  /** Apply first, if any. */
  readonly snapshot: StoredSnapshot | undefined
  /** Then these, in sequence order, starting after the snapshot's upToSeq (events appended meanwhile included). */
  readonly tail: AsyncIterable<StoredEvent[]>
}

/**
 * The document's load plan, or undefined if it has no events. Reading the
 * snapshot before the events is safe: a snapshot only ever covers events that
 * are stored, and the tail starts right after it.
 */
export async function loadDocument(store: EventStore, docId: PurchaseId, pageSize = DEFAULT_PAGE): Promise<LoadedDocument | undefined> {
  const doc = await store.getDoc(docId)
  if (doc === undefined) return undefined
  const snapshot = await store.latestSnapshot(docId)
  return { doc, snapshot, tail: store.readPages(docId, snapshot?.upToSeq ?? 0, pageSize) }
}
