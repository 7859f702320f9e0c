/**
 * A replica with maxEventBytes refuses a command whose input alone exceeds
 * it (EVENT_TOO_LARGE, naming the field), before anything is applied, and
 * takes one at the limit. Measured in UTF-8 bytes, on every backend; the
 * encoded event of an accepted command is never smaller than its input.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type ReplicaId, PurchaseReplica, createUlidFactory, isConcordError, parsePurchaseId } from '@concord/core'
import { seededRandom } from '@concord/core/internal'
import { encodeEvent } from '@concord/core/protocol'
import { BACKENDS } from '../support/backends.js'
import { SEED } from '../support/seed.js'

for (const backend of BACKENDS) {
  test(`${backend.name}: input over maxEventBytes is refused before it is applied; at the limit it is taken (SEED=${SEED})`, () => {
    let time = Date.UTC(2026, 0, 5, 9)
    const now = () => (time += 1000)
    let limit: number | undefined
    const r = PurchaseReplica.create({
      docId: parsePurchaseId('P-size'), replica: 'dev1' as ReplicaId, backend, now, newId: createUlidFactory(now, seededRandom(SEED)),
      maxEventBytes: () => limit,
    }, { currency: 'EUR' })
    limit = 300
    const events = r.log.events().length
    // 'é' is two bytes: 151 of them are 302 bytes, over the limit, though only 151 characters.
    const err = (() => {
      try {
        r.editNotes(0, 0, 'é'.repeat(151))
        return null
      } catch (e) {
        return e
      }
    })()
    assert.ok(isConcordError(err, 'EVENT_TOO_LARGE'), String(err))
    assert.equal([err.details.field, err.details.bytes, err.details.limit], ['notes', 302, 300])
    assert.is(r.state().notes, '', 'nothing applied')
    assert.is(r.log.events().length, events, 'no event made')
    assert.throws(() => r.addLine({ product: 'Bolt', description: 'd'.repeat(400), qty: '1', price: '1.00' }), (e: unknown) => isConcordError(e, 'EVENT_TOO_LARGE'))
    assert.is(r.state().lines.length, 0)

    const ok = r.editNotes(0, 0, 'é'.repeat(150))
    assert.is(ok.seq, 2, 'the next event takes the next number: nothing was reserved by the refusals')
    assert.ok(encodeEvent(ok).length >= 300, 'an event is never smaller than its input')
    // A transaction is one event: its commands fit one by one, not together.
    const before = r.log.events().length
    assert.throws(() => r.transaction(() => {
      r.editNotes(0, 0, 'a'.repeat(200))
      r.editNotes(0, 0, 'b'.repeat(200))
    }), (e: unknown) => isConcordError(e, 'EVENT_TOO_LARGE'))
    assert.is(r.log.events().length, before, 'no event made by the refused transaction')
    assert.is(r.state().notes, 'é'.repeat(150), 'nothing of it applied')
    limit = undefined
    r.editNotes(0, 0, 'x'.repeat(1000))
    assert.is(r.state().notes.length, 1150, 'no limit, no refusal')
  })
}

test.run()
