/**
 * canonicalJson is how replicas compare values (set-once fields, concurrent
 * register values, resolution parameters): equal text must mean equal value.
 * It refuses what it cannot render instead of rendering it as `{}`.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type ReplicaId, isConcordError, yjsBackend } from '@concord/core'
import { canonicalJson } from '@concord/core/internal'
import { canonicalOf } from '../support/canonical.js'

class Money {
  constructor(readonly minor: number) {}
}

test('object keys are sorted at every depth; undefined keys are left out', () => {
  assert.is(canonicalJson({ b: 1, a: { d: [1, { z: 0, y: null }], c: 'x' }, u: undefined }), '{"a":{"c":"x","d":[1,{"y":null,"z":0}]},"b":1}')
  assert.is(canonicalJson(Object.assign(Object.create(null) as object, { k: true })), '{"k":true}')
})

test('Maps, Sets, bytes, dates, class instances, functions, bigints and non-finite numbers are refused', () => {
  const refused: [string, unknown][] = [
    ['Map', new Map([['a', 1]])],
    ['Set', new Set([1])],
    ['Uint8Array', new Uint8Array([1])],
    ['Date', new Date(0)],
    ['class instance', new Money(5)],
    ['nested Map', { lines: new Map() }],
    ['function', () => 1],
    ['bigint', 1n],
    ['NaN', Number.NaN],
    ['Infinity', [Number.POSITIVE_INFINITY]],
  ]
  for (const [what, v] of refused) {
    try {
      canonicalJson(v)
      assert.unreachable(`${what} was rendered`)
    } catch (e) {
      assert.ok(isConcordError(e, 'INVALID_ARGUMENT'), `${what}: ${String(e)}`)
    }
  }
})

test('canonicalOf tells a full document from an empty one (Maps are rendered, not dropped)', () => {
  const rid = (s: string) => s as ReplicaId
  const empty = yjsBackend.create(rid('a'))
  const full = yjsBackend.create(rid('b'))
  full.change((w) => w.setRegister('h.buyer', { value: 'Ann', ev: 'b.1' as never, hlc: '000000000000001-000000-b' as never }))
  assert.is.not(canonicalOf(empty.read()), canonicalOf(full.read()))
  assert.ok(canonicalOf(full.read()).includes('"Ann"'))
  assert.is(canonicalOf(new Map([['b', 1], ['a', 2]]), { sortMaps: true }), '[["a",2],["b",1]]')
  assert.is(canonicalOf(new Map([['b', 1], ['a', 2]])), '[["b",1],["a",2]]')
})

test.run()
