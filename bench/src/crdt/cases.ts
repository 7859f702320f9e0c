/**
 * The case definitions of dmonad/crdt-benchmarks (ids B1.1 .. B3.4), with the
 * same N = 6000, the same seed 42 and the same order of draws from one lib0
 * PRNG, so the inputs are byte for byte the ones behind its published table.
 * The order matters: that suite draws B2's 100-character start text when its
 * modules load, before B1.1 runs, and every later case continues the same
 * stream. All inputs are generated here at once, in that order, whatever
 * subset of cases a run selects.
 */
import * as prng from 'lib0/prng'

export const N = 6000
export const SEED = 42
/** B3's client count: 20 * floor(sqrt(N)) = 1540. */
export const SQRT_N_CLIENTS = Math.floor(Math.sqrt(N)) * 20

export type TextOp = { index: number; insert: string } | { index: number; deleteCount: number }

export type CaseInput =
  | { kind: 'text-ops'; ops: TextOp[]; expected: string }
  /** One op that inserts a string and deletes it again in the same step (B1.6). */
  | { kind: 'insert-delete'; text: string }
  | { kind: 'array-ops'; ops: Array<{ index: number; values: number[] }>; expected: number[] }
  | {
      kind: 'concurrent-text'
      initText: string
      ops1: TextOp[]
      ops2: TextOp[]
      /** Expected length of the merged text, when the case states one. */
      expectedLength?: number
    }
  | { kind: 'map-clients'; value: (client: number) => unknown }
  | { kind: 'array-clients'; value: (client: number) => unknown }

export interface CaseDef {
  readonly id: string
  readonly group: 'B1' | 'B2' | 'B3'
  readonly title: string
  /** What the case needs from a CRDT: some variants only do text. */
  readonly needs: 'text' | 'array' | 'map'
  readonly input: CaseInput
}

let cached: CaseDef[] | undefined

/** Every B1..B3 case with its input, generated once in the canonical order. */
export function crdtCases(): CaseDef[] {
  if (cached !== undefined) return cached
  const gen = prng.create(SEED)
  const initText = prng.word(gen, 100, 100)
  const cases: CaseDef[] = []
  const add = (id: string, title: string, needs: CaseDef['needs'], input: CaseInput): void => {
    const group = id.slice(0, 2) as CaseDef['group']
    cases.push({ id, group, title, needs, input })
  }
  const appendOps = (s: string): TextOp[] => Array.from(s, (ch, i) => ({ index: i, insert: ch }))

  {
    const s = prng.word(gen, N, N)
    add('B1.1', 'Append N characters', 'text', { kind: 'text-ops', ops: appendOps(s), expected: s })
  }
  {
    const s = prng.word(gen, N, N)
    add('B1.2', 'Insert string of length N', 'text', { kind: 'text-ops', ops: [{ index: 0, insert: s }], expected: s })
  }
  {
    const s = prng.word(gen, N, N)
    const reversed = [...s].reverse()
    add('B1.3', 'Prepend N characters', 'text', {
      kind: 'text-ops',
      ops: reversed.map((ch) => ({ index: 0, insert: ch })),
      expected: s,
    })
  }
  {
    let s = ''
    const ops: TextOp[] = []
    for (let i = 0; i < N; i++) {
      const index = prng.int32(gen, 0, s.length)
      const insert = prng.word(gen, 1, 1)
      s = s.slice(0, index) + insert + s.slice(index)
      ops.push({ index, insert })
    }
    add('B1.4', 'Insert N characters at random positions', 'text', { kind: 'text-ops', ops, expected: s })
  }
  {
    let s = ''
    const ops: TextOp[] = []
    for (let i = 0; i < N; i++) {
      const index = prng.int32(gen, 0, s.length)
      const insert = prng.word(gen, 2, 10)
      s = s.slice(0, index) + insert + s.slice(index)
      ops.push({ index, insert })
    }
    add('B1.5', 'Insert N words at random positions', 'text', { kind: 'text-ops', ops, expected: s })
  }
  {
    const s = prng.word(gen, N, N)
    add('B1.6', 'Insert string, then delete it', 'text', { kind: 'insert-delete', text: s })
  }
  {
    let s = ''
    const ops: TextOp[] = []
    for (let i = 0; i < N; i++) {
      const index = prng.uint32(gen, 0, s.length)
      if (s.length === index || prng.bool(gen)) {
        const insert = prng.word(gen, 2, 10)
        s = s.slice(0, index) + insert + s.slice(index)
        ops.push({ index, insert })
      } else {
        const deleteCount = prng.uint32(gen, 1, Math.min(9, s.length - index))
        s = s.slice(0, index) + s.slice(index + deleteCount)
        ops.push({ index, deleteCount })
      }
    }
    add('B1.7', 'Insert/Delete strings at random positions', 'text', { kind: 'text-ops', ops, expected: s })
  }
  {
    const numbers = Array.from({ length: N }, () => prng.uint32(gen, 0, 0x7fffffff))
    add('B1.8', 'Append N numbers', 'array', {
      kind: 'array-ops',
      ops: numbers.map((n, i) => ({ index: i, values: [n] })),
      expected: numbers,
    })
  }
  {
    const numbers = Array.from({ length: N }, () => prng.uint32(gen, 0, 0x7fffffff))
    add('B1.9', 'Insert Array of N numbers', 'array', {
      kind: 'array-ops',
      ops: [{ index: 0, values: numbers }],
      expected: numbers,
    })
  }
  {
    const numbers = Array.from({ length: N }, () => prng.uint32(gen, 0, 0x7fffffff))
    add('B1.10', 'Prepend N numbers', 'array', {
      kind: 'array-ops',
      ops: numbers.map((n) => ({ index: 0, values: [n] })),
      expected: numbers.slice().reverse(),
    })
  }
  {
    const numbers: number[] = []
    const ops: Array<{ index: number; values: number[] }> = []
    for (let i = 0; i < N; i++) {
      const index = prng.uint32(gen, 0, numbers.length)
      const value = prng.uint32(gen, 0, 0x7fffffff)
      numbers.splice(index, 0, value)
      ops.push({ index, values: [value] })
    }
    add('B1.11', 'Insert N numbers at random positions', 'array', { kind: 'array-ops', ops, expected: numbers })
  }

  // B2: two users, each makes all its edits in one transaction, then they sync.
  {
    const s1 = prng.word(gen, N, N)
    const s2 = prng.word(gen, N, N)
    add('B2.1', 'Concurrently insert string of length N at index 0', 'text', {
      kind: 'concurrent-text',
      initText,
      ops1: [{ index: 0, insert: s1 }],
      ops2: [{ index: 0, insert: s2 }],
      expectedLength: N * 2 + 100,
    })
  }
  {
    const genInput = (): TextOp[] => {
      let s = initText
      const ops: TextOp[] = []
      for (let i = 0; i < N; i++) {
        const index = prng.uint32(gen, 0, s.length)
        const insert = prng.word(gen, 1, 1)
        s = s.slice(0, index) + insert + s.slice(index)
        ops.push({ index, insert })
      }
      return ops
    }
    const ops1 = genInput()
    const ops2 = genInput()
    add('B2.2', 'Concurrently insert N characters at random positions', 'text', {
      kind: 'concurrent-text', initText, ops1, ops2, expectedLength: N * 2 + 100,
    })
  }
  {
    const genInput = (): TextOp[] => {
      let s = initText
      const ops: TextOp[] = []
      for (let i = 0; i < N; i++) {
        const index = prng.uint32(gen, 0, s.length)
        const insert = prng.word(gen, 3, 9)
        s = s.slice(0, index) + insert + s.slice(index)
        ops.push({ index, insert })
      }
      return ops
    }
    const ops1 = genInput()
    const ops2 = genInput()
    const inserted = (ops: TextOp[]): number => ops.reduce((a, op) => a + ('insert' in op ? op.insert.length : 0), 0)
    add('B2.3', 'Concurrently insert N words at random positions', 'text', {
      kind: 'concurrent-text', initText, ops1, ops2, expectedLength: initText.length + inserted(ops1) + inserted(ops2),
    })
  }
  {
    const genInput = (): TextOp[] => {
      let s = initText
      const ops: TextOp[] = []
      for (let i = 0; i < N; i++) {
        const index = prng.uint32(gen, 0, s.length)
        const insert = prng.word(gen, 3, 9)
        s = s.slice(0, index) + insert + s.slice(index)
        ops.push({ index, insert })
        if (s.length === index || prng.bool(gen)) {
          const insert2 = prng.word(gen, 2, 10)
          s = s.slice(0, index) + insert2 + s.slice(index)
          ops.push({ index, insert: insert2 })
        } else {
          const deleteCount = prng.uint32(gen, 1, Math.min(9, s.length - index))
          s = s.slice(0, index) + s.slice(index + deleteCount)
          ops.push({ index, deleteCount })
        }
      }
      return ops
    }
    const ops1 = genInput()
    const ops2 = genInput()
    add('B2.4', 'Concurrently insert & delete', 'text', { kind: 'concurrent-text', initText, ops1, ops2 })
  }

  // B3: 20*sqrt(N) clients each make one concurrent change; one client applies them all.
  add('B3.1', '20√N clients concurrently set number in Map', 'map', { kind: 'map-clients', value: (i) => i })
  add('B3.2', '20√N clients concurrently set Object in Map', 'map', {
    kind: 'map-clients',
    value: (i) => ({ name: i.toString(), address: 'here' }),
  })
  add('B3.3', '20√N clients concurrently set String in Map', 'map', {
    kind: 'map-clients',
    value: (i) => i.toString().repeat(SQRT_N_CLIENTS),
  })
  add('B3.4', '20√N clients concurrently insert text in Array', 'array', {
    kind: 'array-clients',
    value: (i) => i.toString(),
  })
  cached = cases
  return cases
}

/** Applies text ops to a plain string: the reference every CRDT must match. */
export function applyTextOps(start: string, ops: readonly TextOp[]): string {
  let s = start
  for (const op of ops) {
    s = 'insert' in op ? s.slice(0, op.index) + op.insert + s.slice(op.index) : s.slice(0, op.index) + s.slice(op.index + op.deleteCount)
  }
  return s
}

/**
 * The case cut to its first `steps` inputs, with the reference recomputed:
 * quick mode runs the slow variants (Automerge's change() costs ~0.3-0.5 ms
 * here) on a prefix. Cases with a single input are returned unchanged.
 */
export function limitSteps(def: CaseDef, steps: number): CaseDef {
  const input = def.input
  switch (input.kind) {
    case 'text-ops': {
      if (input.ops.length <= steps) return def
      const ops = input.ops.slice(0, steps)
      return { ...def, input: { ...input, ops, expected: applyTextOps('', ops) } }
    }
    case 'array-ops': {
      if (input.ops.length <= steps) return def
      const ops = input.ops.slice(0, steps)
      const arr: number[] = []
      for (const op of ops) arr.splice(op.index, 0, ...op.values)
      return { ...def, input: { ...input, ops, expected: arr } }
    }
    case 'concurrent-text': {
      if (input.ops1.length <= steps && input.ops2.length <= steps) return def
      const ops1 = input.ops1.slice(0, steps)
      const ops2 = input.ops2.slice(0, steps)
      const all = [...ops1, ...ops2]
      const onlyInserts = all.every((op) => 'insert' in op)
      const inserted = all.reduce((a, op) => a + ('insert' in op ? op.insert.length : 0), 0)
      const { expectedLength: _drop, ...rest } = input
      return { ...def, input: { ...rest, ops1, ops2, ...(onlyInserts ? { expectedLength: input.initText.length + inserted } : {}) } }
    }
    default:
      return def
  }
}

/** How many input steps a case has (what limitSteps cuts). */
export function stepCount(def: CaseDef): number {
  const input = def.input
  switch (input.kind) {
    case 'text-ops': return input.ops.length
    case 'array-ops': return input.ops.length
    case 'concurrent-text': return Math.max(input.ops1.length, input.ops2.length)
    case 'insert-delete': return 1
    default: return SQRT_N_CLIENTS
  }
}
