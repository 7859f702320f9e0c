/**
 * Raw Yjs, as crdt-benchmarks drives it: update v2 events and v2 state
 * encoding (the sanity sizes 6,031 B for B1.1 etc. are v2 figures). Client ids
 * come from a counter seeded at a large value, so sizes never depend on a
 * random client id that happens to be short.
 *
 * A second variant, `yjs-v1`, captures v1 updates: the encoding y-websocket
 * and Concord's events carry. It is the like-for-like baseline for Concord's
 * Yjs backend (a v2 update costs about ten times as much to encode per
 * transaction, which would flatter anything that sends v1).
 */
import * as Y from 'yjs'
import type { CrdtFactory, CrdtReplica, UpdateHandler } from './adapter.js'

let nextClientId = 0x4000_0000

class YjsReplica implements CrdtReplica {
  readonly doc: Y.Doc
  private readonly text: Y.Text
  private readonly array: Y.Array<unknown>
  private readonly map: Y.Map<unknown>

  constructor(
    private readonly v1: boolean,
    onUpdate?: UpdateHandler,
  ) {
    this.doc = new Y.Doc()
    this.doc.clientID = nextClientId++
    if (onUpdate !== undefined) this.doc.on(v1 ? 'update' : 'updateV2', (update: Uint8Array) => onUpdate(update))
    this.text = this.doc.getText('text')
    this.array = this.doc.getArray('array')
    this.map = this.doc.getMap('map')
  }

  insertText(index: number, text: string): void { this.text.insert(index, text) }
  deleteText(index: number, length: number): void { this.text.delete(index, length) }
  getText(): string { return this.text.toString() }
  insertArray(index: number, values: unknown[]): void { this.array.insert(index, values) }
  getArray(): unknown[] { return this.array.toArray() }
  setMap(key: string, value: unknown): void { this.map.set(key, value) }
  getMap(): Record<string, unknown> { return this.map.toJSON() }
  transact(fn: () => void): void { this.doc.transact(fn) }
  applyUpdate(update: Uint8Array): void {
    if (this.v1) Y.applyUpdate(this.doc, update)
    else Y.applyUpdateV2(this.doc, update)
  }
  applyUpdates(updates: readonly Uint8Array[]): void {
    this.doc.transact(() => {
      for (const u of updates) this.applyUpdate(u)
    })
  }
  /** The state in v2 for both variants (Concord's snapshots hold v2 too). */
  encodeState(): Uint8Array { return Y.encodeStateAsUpdateV2(this.doc) }
  destroy(): void { this.doc.destroy() }
}

export function yjsFactory(version: string, updates: 'v1' | 'v2' = 'v2'): CrdtFactory {
  const v1 = updates === 'v1'
  return {
    id: v1 ? 'yjs-v1' : 'yjs',
    title: v1 ? 'Yjs (raw, v1 updates)' : 'Yjs (raw)',
    library: `yjs ${version}`,
    supports: { text: true, array: true, map: true },
    create: (onUpdate) => new YjsReplica(v1, onUpdate),
    load: (state, onUpdate) => {
      const r = new YjsReplica(v1, onUpdate)
      Y.applyUpdateV2(r.doc, state)
      return r
    },
  }
}
