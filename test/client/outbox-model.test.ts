/**
 * A model-based test of the outbox with fast-check
 * commands (edit, go offline, come online, crash, acknowledge, reject)
 * against a simple model, on a real relay. Rejections are real: one purchase
 * lies outside what the token lets the client write, so the relay refuses
 * its events: each refusal undoes the refused event and every own event built
 * on it, and after three refusals in a row the purchase must be
 * dead-lettered (its later edits held back) while the others keep draining.
 * Seeded through test/support/seed.ts.
 */
import fc from 'fast-check'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type EventId, type PurchaseId, isConcordError } from '@concord/core'
import { type PurchaseHandle, type SyncClient, memoryStorage } from '@concord/client'
import { createNodeClient } from '@concord/client/node'
import { SEED, checkAsync } from '../support/seed.js'
import { type RelayProc, mintToken, removeDir, startRelay, waitFor } from '../support/client-relay.js'

const DEAD_AFTER = 3

interface Model {
  online: boolean
  saved: Map<string, EventId[]>
  /** `doc/eventId`: event ids are numbered per document, so the same id recurs across purchases. */
  acked: Set<string>
  rejected: Set<string>
}

class Real {
  c!: SyncClient
  handles = new Map<string, PurchaseHandle>()
  constructor(readonly relay: RelayProc, readonly storage: ReturnType<typeof memoryStorage>, readonly token: string, readonly docs: readonly string[]) {}

  async start(online: boolean): Promise<void> {
    this.c = await createNodeClient({
      url: this.relay.url, token: this.token, storage: this.storage, autoConnect: false, maxInFlightEvents: 1, deadLetterAfter: DEAD_AFTER,
      retry: { initialDelayMs: 10, maxDelayMs: 50, breakerThreshold: 1000 },
    })
    for (const id of this.docs) this.handles.set(id, await this.c.open(id))
    if (online) this.c.goOnline()
    else this.c.goOffline()
  }

  /** Own events in the log, whichever of the device's actors made them (a refusal switches to a fresh one). */
  own(id: string): EventId[] {
    const h = this.handles.get(id)!
    return h.replica.log.events().filter((e) => e.actor === this.c.replicaId || e.actor.startsWith(`${this.c.replicaId}-u`)).map((e) => e.id)
  }
}

const isRejectedDoc = (id: string) => id.startsWith('R-')

function checkInvariants(m: Model, r: Real): void {
  for (const [id, saved] of m.saved) {
    const h = r.handles.get(id)!
    // An undone event leaves the log and is reported rejected; the others are there once, in order.
    const kept = isRejectedDoc(id) ? saved.filter((e) => h.eventStatus(e) !== 'rejected') : saved
    assert.equal(r.own(id), kept, `${id}: every saved event not undone is there once, in order`)
    let waiting = 0
    for (const e of saved) {
      const st = h.eventStatus(e)
      if (st === 'saved') waiting++
      if (m.acked.has(`${id}/${e}`)) assert.ok(st === 'stored' || st === 'validated', `${e} was acknowledged, now ${st}`)
      if (m.rejected.has(`${id}/${e}`)) assert.is(st, 'rejected', `${e} was rejected`)
      if (!isRejectedDoc(id)) assert.is.not(st, 'rejected', `${e} of a writable purchase is never refused`)
    }
    assert.is(h.status().pending, waiting, `${id}: pending is exactly the events not yet acknowledged`)
  }
}

type Cmd = fc.AsyncCommand<Model, Real>

class Edit implements Cmd {
  constructor(readonly doc: number, readonly text: string) {}
  check = () => true
  async run(m: Model, r: Real) {
    const id = [...m.saved.keys()][this.doc % m.saved.size]!
    let e
    try {
      e = await r.handles.get(id)!.run((rep) => rep.editNotes(0, 0, this.text))
    } catch (err) {
      // The refused purchase's creation may have been undone on this device: it has nothing to edit.
      if (isRejectedDoc(id) && isConcordError(err) && !r.handles.get(id)!.exists) return
      throw err
    }
    m.saved.get(id)!.push(e.id)
    const st = r.handles.get(id)!.eventStatus(e.id)
    // (A refusal arriving meanwhile may already have undone an edit of the read-only purchase.)
    assert.ok(st === 'saved' || (isRejectedDoc(id) && st === 'rejected'), `saved before run resolves, not ${st}`)
    checkInvariants(m, r)
  }
  toString = () => `edit(${this.doc}, ${JSON.stringify(this.text)})`
}

class GoOffline implements Cmd {
  check = (m: Readonly<Model>) => m.online
  async run(m: Model, r: Real) {
    r.c.goOffline()
    m.online = false
    await waitFor('offline', () => r.c.status.overall === 'offline' || r.c.status.overall === 'error', () => r.c.status)
    checkInvariants(m, r)
  }
  toString = () => 'goOffline'
}

class GoOnline implements Cmd {
  check = (m: Readonly<Model>) => !m.online
  async run(m: Model, r: Real) {
    r.c.goOnline()
    m.online = true
    checkInvariants(m, r)
  }
  toString = () => 'goOnline'
}

class Crash implements Cmd {
  check = () => true
  async run(m: Model, r: Real) {
    await r.c.close({ abandon: true })
    r.handles.clear()
    await r.start(m.online)
    checkInvariants(m, r)
  }
  toString = () => 'crash'
}

/**
 * Online, waits for the relay to answer everything it will answer: the
 * writable purchases drain; every event of the read-only one is refused and
 * undone, unless it was dead-lettered, which holds the rest back.
 */
class AckAndReject implements Cmd {
  check = (m: Readonly<Model>) => m.online
  async run(m: Model, r: Real) {
    const isDead = (id: string) => r.c.deadLetters().some((d) => d.docId === id)
    await waitFor('the relay answered', () => {
      for (const [id, saved] of m.saved) {
        const h = r.handles.get(id)!
        if (isRejectedDoc(id)) {
          if (!saved.every((e) => h.eventStatus(e) === 'rejected' || (isDead(id) && h.eventStatus(e) === 'saved'))) return false
        } else if (saved.some((e) => h.eventStatus(e) === 'saved')) return false
      }
      return true
    }, () => ({ status: r.c.status, dead: r.c.deadLetters() }))
    for (const [id, saved] of m.saved) {
      const h = r.handles.get(id)!
      if (isRejectedDoc(id)) {
        for (const e of saved) if (h.eventStatus(e) === 'rejected') m.rejected.add(`${id}/${e}`)
      } else {
        for (const e of saved) m.acked.add(`${id}/${e}`)
      }
    }
    checkInvariants(m, r)
    const dead = r.c.deadLetters()
    assert.ok(dead.every((d) => isRejectedDoc(d.docId)), 'dead letters: only the refused purchase')
    for (const d of dead) {
      const h = r.handles.get(d.docId)!
      const saved = m.saved.get(d.docId)!
      assert.equal(d.events.map((e) => e.id), saved.filter((e) => h.eventStatus(e) === 'saved'), 'held back, not dropped')
      const listed = new Set(d.rejected.map((x) => x.id))
      assert.ok(saved.filter((e) => h.eventStatus(e) === 'rejected').every((e) => listed.has(e)), 'every undone event is listed')
      assert.is(r.c.status.docs.get(d.docId as PurchaseId)!.state, 'error')
    }
    for (const id of m.saved.keys()) if (!isRejectedDoc(id)) assert.is(r.c.status.docs.get(id as PurchaseId)!.pending, 0, `${id} drained despite the dead letter`)
  }
  toString = () => 'ackAndReject'
}

let relay: RelayProc
test.before(async () => {
  relay = await startRelay()
})
test.after(async () => {
  await relay.stop()
  removeDir(relay.dataDir)
})

test(`the outbox against a model: edit, offline, online, crash, ack, reject (SEED=${SEED})`, async () => {
  let run = 0
  const token = await mintToken({ grants: [{ doc: 'W-*', rights: ['read', 'write', 'resolve'] }, { doc: 'R-*', rights: ['read'] }] })
  const commands = [
    fc.tuple(fc.nat(5), fc.string({ minLength: 1, maxLength: 6 })).map(([d, t]) => new Edit(d, t)),
    fc.constant(new GoOffline()),
    fc.constant(new GoOnline()),
    fc.constant(new Crash()),
    fc.constant(new AckAndReject()),
  ]
  await checkAsync(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 14 }), async (cmds) => {
      run += 1
      const docs = [`W-${SEED}-${run}-a`, `W-${SEED}-${run}-b`, `R-${SEED}-${run}-a`]
      const storage = memoryStorage(`model-${run}`)
      const real = new Real(relay, storage, token, docs)
      // Create the purchases offline (the read-only one is refused once the client goes online).
      const setup = await createNodeClient({ url: relay.url, token, storage, autoConnect: false })
      const saved = new Map<string, EventId[]>()
      for (const id of docs) {
        const h = await setup.createPurchase({ id, currency: 'EUR' })
        saved.set(id, h.replica.log.events().map((e) => e.id))
      }
      await setup.close()
      await real.start(true)
      const model: Model = { online: true, saved, acked: new Set(), rejected: new Set() }
      try {
        await fc.asyncModelRun(() => ({ model, real }), cmds)
        if (!model.online) await new GoOnline().run(model, real)
        await new AckAndReject().run(model, real)
      } finally {
        await real.c.close()
      }
    }),
    { numRuns: 12 },
  )
})

test.run()
