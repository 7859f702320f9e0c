/**
 * Local full-text search over the purchases on the device, with MiniSearch:
 * order number, supplier, line products and descriptions, notes. Offline, and
 * kept current: every change to a purchase replaces its entry.
 */
import MiniSearch from 'minisearch'
import type { PurchaseId } from '@concord/core'
import type { DocSummary } from './storage/store.js'

interface Entry {
  id: string
  number: string
  supplier: string
  lines: string
  notes: string
}

export class PurchaseSearch {
  private readonly index = new MiniSearch<Entry>({
    fields: ['number', 'supplier', 'lines', 'notes'],
    idField: 'id',
    searchOptions: { prefix: true, fuzzy: 0.2, boost: { number: 3, supplier: 2 }, combineWith: 'AND' },
    // Order numbers (PO-2026-00042) and ids are searched whole and by their parts.
    tokenize: (text) => text.split(/[\s,;:!?()[\]{}"'/|]+/u).flatMap((t) => (t.includes('-') ? [t, ...t.split('-')] : [t])).filter((t) => t !== ''),
  })

  put(id: PurchaseId, s: DocSummary): void {
    const entry: Entry = { id, number: s.number ?? '', supplier: s.supplier, lines: s.lines, notes: s.notes }
    if (this.index.has(id)) this.index.replace(entry)
    else this.index.add(entry)
  }

  remove(id: PurchaseId): void {
    if (this.index.has(id)) this.index.discard(id)
  }

  search(text: string): PurchaseId[] {
    const q = text.trim()
    if (q === '') return []
    return this.index.search(q).map((r) => r.id as PurchaseId)
  }
}
