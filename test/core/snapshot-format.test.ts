/**
 * Saved-document formats: Yjs documents are saved as update v2 (format 2)
 * since the per-event overhead work; those saved before as update v1
 * (format 1) must still load, and unknown formats fail with a typed error.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as Y from 'yjs'
import { type ReplicaId, automergeBackend, yjsBackend } from '@concord/core'
import { type YjsDoc, wrapSnapshot } from '@concord/core/internal'
import { canonicalOf } from '../support/canonical.js'
import { errorCode } from '../support/errors.js'

const rid = (s: string) => s as ReplicaId


function sample() {
  const a = yjsBackend.create(rid('a'))
  // Prepending one character at a time: the case where v1 is largest.
  for (let i = 0; i < 200; i++) a.change((w) => w.insertText('notes', 0, String.fromCharCode(97 + (i % 26))))
  a.change((w) => w.setRegister('h.buyer', { value: 'Ann', ev: 'a.201' as never, hlc: '000000000000001-000000-a' as never }))
  return a
}

test('a Yjs document saves as update v2 and loads back the same', () => {
  const a = sample()
  const saved = a.save()
  assert.is(saved[3], 2, 'format byte')
  const b = yjsBackend.load(saved, rid('b'))
  assert.is(canonicalOf(b.read()), canonicalOf(a.read()))
  const v1 = wrapSnapshot('yjs', Y.encodeStateAsUpdate((a as YjsDoc).ydoc))
  assert.ok(saved.length < v1.length, `v2 ${saved.length} B < v1 ${v1.length} B`)
})

test('a Yjs document saved as update v1 (format 1, stored before) still loads', () => {
  const a = sample()
  const v1 = wrapSnapshot('yjs', Y.encodeStateAsUpdate((a as YjsDoc).ydoc))
  assert.is(v1[3], 1)
  const b = yjsBackend.load(v1, rid('b'))
  assert.is(canonicalOf(b.read()), canonicalOf(a.read()))
})

test('unknown formats, and v2 bodies under the v1 format byte, fail with CORRUPT_SNAPSHOT', () => {
  const saved = sample().save()
  const format3 = saved.slice()
  format3[3] = 3
  assert.is(errorCode(() => yjsBackend.load(format3, rid('x'))), 'CORRUPT_SNAPSHOT')
  const mislabelled = saved.slice()
  mislabelled[3] = 1
  assert.is(errorCode(() => yjsBackend.load(mislabelled, rid('x'))), 'CORRUPT_SNAPSHOT')
  const am = automergeBackend.create(rid('m')).save()
  const am2 = am.slice()
  am2[3] = 2
  assert.is(errorCode(() => automergeBackend.load(am2, rid('x'))), 'CORRUPT_SNAPSHOT')
  assert.is(errorCode(() => wrapSnapshot('automerge', new Uint8Array(4), 2)), 'INVALID_ARGUMENT')
})

test.run()
