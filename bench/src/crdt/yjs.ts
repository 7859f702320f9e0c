/**
 * Raw Yjs, as crdt-benchmarks drives it: update v2 events and v2 state
 * encoding (the sanity sizes 6,031 B for B1.1 etc. are v2 figures). Client ids
 * come from a counter seeded at a large value, so sizes never depend on a
 * random client id that happens to be short.
 */
import * as Y from 'yjs'
import type { CrdtFactory, CrdtReplica, UpdateHandler } from './adapter.js'

let nextClientId = 0x4000_0000

class YjsReplica implements CrdtReplica {
  readonly doc: Y.Doc
  private readonly text: Y.Text
  private readonly array: Y.Array<unknown>
  private readonly map: Y.Map<unknown>

  constructor(onUpdate?: UpdateHandler) {
    this.doc = new Y.Doc()
    this.doc.clientID = nextClientId++
    if (onUpdate !== undefined) this.doc.on('updateV2', (update: Uint8Array) => onUpdate(update))
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
  applyUpdate(update: Uint8Array): void { Y.applyUpdateV2(this.doc, update) }
  applyUpdates(updates: readonly Uint8Array[]): void {
    this.doc.transact(() => {
      for (const u of updates) Y.applyUpdateV2(this.doc, u)
    })
  }
  encodeState(): Uint8Array { return Y.encodeStateAsUpdateV2(this.doc) }
  destroy(): void { this.doc.destroy() }
}

export function yjsFactory(version: string): CrdtFactory {
  return {
    id: 'yjs',
    title: 'Yjs (raw)',
    library: `yjs ${version}`,
    supports: { text: true, array: true, map: true },
    create: (onUpdate) => new YjsReplica(onUpdate),
    load: (state, onUpdate) => {
      const r = new YjsReplica(onUpdate)
      r.applyUpdate(state)
      return r
    },
  }
}
