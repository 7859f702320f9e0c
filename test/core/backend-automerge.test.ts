/**
 * What is particular to the Automerge backend, beyond the shared contract:
 * the constant genesis, deterministic actors and changes, native conflicts,
 * deterministic container creation, held-back changes, and the history view.
 */
import * as A from '@automerge/automerge'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type ReplicaId, automergeBackend, isConcordError } from '@concord/core'
import {
  AUTOMERGE_GENESIS_HEX, AutomergeDoc, REGISTER_BUCKETS, registerBucketOf, SET_NAMES, automergeActorOf, wrapSnapshot,
} from '@concord/core/internal'
import { canonicalSnapshot, entry } from './backend-contract.js'

const rid = (s: string) => s as ReplicaId
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const create = (r: string) => automergeBackend.create(rid(r)) as AutomergeDoc

function throwsCode(fn: () => unknown, code: string): void {
  try {
    fn()
  } catch (e) {
    assert.ok(isConcordError(e, code as never), `expected ${code}, got ${String(e)}`)
    return
  }
  assert.unreachable(`expected ${code}`)
}

test('the genesis constant is what Automerge makes from its description', () => {
  let g = A.init<Record<string, unknown>>({ actor: '00'.repeat(16) })
  g = A.change(g, { time: 0 }, (d) => {
    d.init = {}
    const regs: Record<string, unknown> = {}
    for (let b = 0; b < REGISTER_BUCKETS; b++) regs[b.toString(16).padStart(2, '0')] = {}
    d.regs = regs
    const sets: Record<string, unknown> = {}
    d.sets = sets
    for (const s of SET_NAMES) (d.sets as Record<string, unknown>)[s] = {}
    d.texts = {}
    d.clock = {}
  })
  assert.is(hex(A.getLastLocalChange(g)!), AUTOMERGE_GENESIS_HEX)
  // Every new document starts from it, whoever creates it.
  assert.is(create('a').version(), create('b').version())
  assert.is(create('a').version(), A.decodeChange(Buffer.from(AUTOMERGE_GENESIS_HEX, 'hex')).hash)
})

test('registers spread over every bucket, deterministically', () => {
  const seen = new Set<string>()
  for (let i = 0; i < 2000; i++) seen.add(registerBucketOf(`l.${i}.qty`))
  assert.is(seen.size, REGISTER_BUCKETS)
  assert.is(registerBucketOf('h.supplier'), registerBucketOf('h.supplier'))
  assert.match(registerBucketOf('x'), /^[0-3][0-9a-f]$/)
})

test('actors derive from replica ids; the same change on the same replica makes the same bytes', () => {
  assert.match(automergeActorOf(rid('device-1')), /^[0-9a-f]{32}$/)
  assert.is(automergeActorOf(rid('device-1')), automergeActorOf(rid('device-1')))
  assert.is.not(automergeActorOf(rid('device-1')), automergeActorOf(rid('device-2')))
  const write = (d: AutomergeDoc) => d.change((w) => {
    w.setRegister('k', entry('v', 'x.1', 1))
    w.addRecord('lines', 'l1', { id: 'l1' })
  })
  const p1 = write(create('x'))
  const p2 = write(create('x'))
  assert.is(hex(p1), hex(p2))
  const c = A.decodeChange(p1)
  assert.is(c.actor, automergeActorOf(rid('x')))
  assert.is(c.time, 0)
})

test('registers are Automerge conflicts: two concurrent writes are two values of one key', () => {
  const a = create('a')
  const b = create('b')
  const pa = a.change((w) => w.setRegister('h.supplier', entry('ACME', 'a.1', 1)))
  const pb = b.change((w) => w.setRegister('h.supplier', entry('Globex', 'b.1', 2)))
  a.applyBatch([pb])
  b.applyBatch([pa])
  const regs = (a.toAutomerge() as { regs: Record<string, Record<string, unknown>> }).regs
  const bucket = regs[registerBucketOf('h.supplier')]!
  assert.ok('h.supplier' in bucket)
  const conflicts = A.getConflicts(bucket, 'h.supplier')
  assert.is(Object.keys(conflicts ?? {}).length, 2)
  assert.equal(a.read().registers.get('h.supplier')!.map((e) => e.value), ['ACME', 'Globex'])
})

test('a third concurrent value that does not win the key still shows (no patch reports it)', () => {
  const docs = ['a', 'b', 'c'].map(create)
  const ps = docs.map((d, i) => d.change((w) => w.setRegister('k', entry(i, `${'abc'[i]}.1`, i))))
  // Every order of arrival, singly and batched, ends with all three values.
  const orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
  for (const order of orders) {
    const single = create('s')
    for (const i of order) {
      single.read()
      single.applyBatch([ps[i]!])
    }
    assert.equal(single.read().registers.get('k')!.map((e) => e.value), [0, 1, 2], `order ${order.join('')}`)
  }
  docs[0]!.applyBatch([ps[1]!])
  docs[0]!.read()
  docs[0]!.applyBatch([ps[2]!])
  assert.equal(docs[0]!.read().registers.get('k')!.map((e) => e.value), [0, 1, 2])
})

test('a change whose dependency is missing is held back, then shows when the dependency arrives', () => {
  const a = create('a')
  const p1 = a.change((w) => w.setRegister('k', entry(1, 'a.1', 1)))
  const p2 = a.change((w) => {
    w.setRegister('k', entry(2, 'a.2', 2))
    w.addRecord('payments', 'p', { amount: '1' })
  })
  const b = create('b')
  const pb = b.change((w) => w.setRegister('k', entry('b', 'b.1', 1)))
  b.applyBatch([p2])
  assert.equal(b.read().registers.get('k')!.map((e) => e.value), ['b'])
  assert.is(b.read().sets.payments.size, 0)
  b.applyBatch([p1])
  assert.equal(b.read().registers.get('k')!.map((e) => e.value), ['b', 2])
  assert.is(b.read().sets.payments.size, 1)
  a.applyBatch([pb])
  assert.is(canonicalSnapshot(a.read()), canonicalSnapshot(b.read()))
})

test('a text is created by one deterministic change, shared by every replica that creates it', () => {
  const a = create('a')
  const b = create('b')
  const pa = a.change((w) => w.insertText('memo', 0, 'a'))
  const pb = b.change((w) => w.insertText('memo', 0, 'b'))
  const changesOf = (p: Uint8Array) => {
    // Chunks back to back: split on the length in each header.
    const out: Uint8Array[] = []
    let pos = 0
    while (pos < p.length) {
      let len = 0
      let shift = 0
      let q = pos + 9
      for (;;) {
        const x = p[q++]!
        len += (x & 0x7f) * 2 ** shift
        shift += 7
        if ((x & 0x80) === 0) break
      }
      out.push(p.subarray(pos, q + len))
      pos = q + len
    }
    return out
  }
  const [ca, ka] = changesOf(pa)
  const [cb, kb] = changesOf(pb)
  assert.ok(ka !== undefined && kb !== undefined, 'creation change, then the edit')
  assert.is(hex(ca!), hex(cb!))
  assert.is(A.decodeChange(ca!).deps.join(), A.decodeChange(Buffer.from(AUTOMERGE_GENESIS_HEX, 'hex')).hash)
  a.applyBatch([pb])
  b.applyBatch([pa])
  assert.ok(['ab', 'ba'].includes(a.read().texts.get('memo')!))
  assert.is(a.read().texts.get('memo'), b.read().texts.get('memo'))
  // Later edits carry no creation change.
  assert.is(changesOf(a.change((w) => w.insertText('memo', 0, '!'))).length, 1)
})

test('an Automerge document that is not a Concord document fails with CORRUPT_SNAPSHOT', () => {
  const foreign = A.change(A.init<Record<string, unknown>>(), (d) => {
    d.regs = { k: 'v' }
  })
  throwsCode(() => automergeBackend.load(wrapSnapshot('automerge', A.save(foreign)), rid('x')), 'CORRUPT_SNAPSHOT')
  throwsCode(() => automergeBackend.load(wrapSnapshot('automerge', new Uint8Array(0)), rid('x')), 'CORRUPT_SNAPSHOT')
})

test('writer errors leave the document unchanged; a view of the past is read-only', () => {
  const a = create('a')
  a.change((w) => w.insertText('notes', 0, 'abc'))
  const before = canonicalSnapshot(a.read())
  const version = a.version()
  throwsCode(() => a.change((w) => {
    w.setRegister('k', entry(1, 'a.2', 2))
    w.insertText('notes', 10, 'x')
  }), 'INVALID_ARGUMENT')
  throwsCode(() => a.change((w) => w.deleteText('notes', 1, 5)), 'INVALID_ARGUMENT')
  assert.is(canonicalSnapshot(a.read()), before)
  assert.is(a.version(), version)
  const view = a.viewAt([])
  throwsCode(() => view.change((w) => w.setRegister('k', entry(1, 'a.3', 3))), 'INVALID_ARGUMENT')
  throwsCode(() => a.viewAt([create('z').change((w) => w.setRegister('q', entry(1, 'z.1', 1)))]), 'UNKNOWN_EVENT')
})

test('every event carries a change even when nothing changed', () => {
  const a = create('a')
  a.change((w) => w.addRecord('lines', 'l1', { id: 'l1' }))
  const v = a.version()
  const p = a.change((w) => w.addRecord('lines', 'l1', { id: 'l1' }))
  assert.is.not(a.version(), v)
  const b = create('b')
  throwsCode(() => automergeBackend.validateUpdate(new Uint8Array([0x85, 0x6f, 0x4a, 0x83])), 'INVALID_UPDATE')
  automergeBackend.validateUpdate(p)
  b.applyBatch([p])
})

test.run()

