/**
 * Event kinds: one table says what each kind may write and how urgent it is.
 * What a person waits on (an approval, a payment, a resolution) goes to the
 * relay first, typing last; a kind this version does not know is normal.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EVENT_KINDS, isEventKind } from '@concord/core'
import { priorityOf } from '@concord/core/internal'

test('the priority of every kind, from the one table', () => {
  const high = EVENT_KINDS.filter((k) => priorityOf(k) === 'high').sort()
  const low = EVENT_KINDS.filter((k) => priorityOf(k) === 'low')
  assert.equal(high, [
    'conflict.resolve', 'lifecycle.approve', 'lifecycle.cancel', 'lifecycle.confirm', 'lifecycle.reject', 'lifecycle.submit',
    'payment.record', 'payment.void', 'refund.record', 'refund.void',
  ])
  assert.ok(low.includes('notes.edit') && low.includes('header.supplier') && low.includes('header.statedTotal'), low.join(' '))
  assert.ok(low.every((k) => k === 'notes.edit' || k.startsWith('header.')), low.join(' '))
  for (const k of ['line.add', 'receipt.record', 'lifecycle.send', 'lifecycle.hold', 'purchase.number', 'transaction', 'yjs.update'] as const) {
    assert.is(priorityOf(k), 'normal', k)
  }
})

test('labels from the wire stay strings until they are known kinds', () => {
  for (const k of ['', 'payment.', 'lifecycle.force', 'conflict.resolved', 'LINE.ADD', 'header.__proto__', 'constructor']) {
    assert.not.ok(isEventKind(k), k)
    assert.is(priorityOf(k), 'normal', k)
  }
  assert.ok(isEventKind('line.restore') && isEventKind('bill.void'))
  assert.is(new Set(EVENT_KINDS).size, EVENT_KINDS.length, 'each kind once')
})

test.run()
