/**
 * Raw Automerge 3 (the `next` API, text as strings), as crdt-benchmarks drives
 * it: every replica starts from one saved document holding the root objects,
 * each local edit is one `change`, and its update is that change's bytes
 * (`getLastLocalChange`). Remote updates go through `applyChanges`, one call
 * per update or one call for the batch.
 */
import * as A from '@automerge/automerge'
import type { CrdtFactory, CrdtReplica, UpdateHandler } from './adapter.js'

type Shape = {
  text: string
  array: unknown[]
  map: Record<string, unknown>
}

let initialState: Uint8Array | undefined
function initial(): Uint8Array {
  initialState ??= A.save(A.from<Shape>({ text: '', array: [], map: {} }))
  return initialState
}

class AutomergeReplica implements CrdtReplica {
  private doc: A.Doc<Shape>
  /** Set while inside `transact`, so nested edits join one change. */
  private draft: Shape | undefined

  constructor(state: Uint8Array, private readonly onUpdate?: UpdateHandler) {
    this.doc = A.load<Shape>(state)
  }

  private edit(fn: (d: Shape) => void): void {
    if (this.draft !== undefined) {
      fn(this.draft)
      return
    }
    this.doc = A.change(this.doc, (d) => {
      this.draft = d
      try {
        fn(d)
      } finally {
        this.draft = undefined
      }
    })
    if (this.onUpdate !== undefined) {
      const change = A.getLastLocalChange(this.doc)
      if (change !== undefined) this.onUpdate(change)
    }
  }

  insertText(index: number, text: string): void { this.edit((d) => A.splice(d, ['text'], index, 0, text)) }
  deleteText(index: number, length: number): void { this.edit((d) => A.splice(d, ['text'], index, length)) }
  getText(): string { return this.doc.text }
  insertArray(index: number, values: unknown[]): void { this.edit((d) => d.array.splice(index, 0, ...values)) }
  getArray(): unknown[] { return [...this.doc.array] }
  setMap(key: string, value: unknown): void {
    // Like crdt-benchmarks: a plain string would become a text CRDT per value
    // in Automerge; ImmutableString is the like-for-like of a Yjs string.
    this.edit((d) => { d.map[key] = typeof value === 'string' ? new A.ImmutableString(value) : value })
  }
  getMap(): Record<string, unknown> {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(this.doc.map)) out[k] = A.isImmutableString(v) ? v.toString() : v
    return out
  }
  transact(fn: () => void): void { this.edit(() => fn()) }
  applyUpdate(update: Uint8Array): void { [this.doc] = A.applyChanges(this.doc, [update]) }
  applyUpdates(updates: readonly Uint8Array[]): void { [this.doc] = A.applyChanges(this.doc, [...updates]) }
  encodeState(): Uint8Array { return A.save(this.doc) }
  destroy(): void { /* wasm memory is freed with the JS object */ }
}

export function automergeFactory(version: string): CrdtFactory {
  return {
    id: 'automerge',
    title: 'Automerge (raw)',
    library: `@automerge/automerge ${version}`,
    supports: { text: true, array: true, map: true },
    create: (onUpdate) => new AutomergeReplica(initial(), onUpdate),
    load: (state, onUpdate) => new AutomergeReplica(state, onUpdate),
  }
}
