/**
 * How the relay stores a document snapshot: the event log's snapshot (the
 * backend's saved document plus the version vector and heads it covers) in
 * one byte string, opaque to the store. A version byte leads so that a later
 * format can be told apart; an unreadable snapshot is CORRUPT_SNAPSHOT and the
 * relay rebuilds the document from its events instead (snapshots are a cache).
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { ConcordError, type EventId, type PurchaseId } from '@concord/core'
import { type LogSnapshot } from '@concord/core/internal'

const FORMAT = 1

export function encodeSnapshot(s: LogSnapshot): Uint8Array {
  const e = encoding.createEncoder()
  encoding.writeUint8(e, FORMAT)
  encoding.writeVarString(e, JSON.stringify({ clock: s.clock, heads: s.heads }))
  encoding.writeVarUint8Array(e, s.doc)
  return encoding.toUint8Array(e)
}

export function decodeSnapshot(docId: PurchaseId, bytes: Uint8Array): LogSnapshot {
  try {
    const d = decoding.createDecoder(bytes)
    const format = decoding.readUint8(d)
    if (format !== FORMAT) throw new Error(`unknown snapshot format ${format}`)
    const meta = JSON.parse(decoding.readVarString(d)) as { clock: Record<string, number>; heads: EventId[] }
    const doc = decoding.readVarUint8Array(d)
    if (d.pos !== bytes.length) throw new Error('trailing bytes')
    if (typeof meta.clock !== 'object' || meta.clock === null || !Array.isArray(meta.heads)) throw new Error('bad header')
    return { docId, doc, clock: meta.clock, heads: meta.heads }
  } catch (e) {
    throw new ConcordError('CORRUPT_SNAPSHOT', `stored snapshot of ${docId} does not decode: ${(e as Error).message}`, { docId })
  }
}
