/**
 * Awareness at the relay, which believes no connection about anyone else: a
 * connection may set and remove only its own entries (another user's
 * removal, overwrite or echo goes nowhere), a newer connection of the same
 * user takes its entry over, a connection owns a bounded number of ids, a
 * closing connection's entries are removed for the room, and other relays'
 * entries expire 30 s after they were last renewed while this relay's own
 * do not. The real relay core (createRelayCore) runs in virtual time; the
 * sockets are in-process stand-ins that record what the relay sends.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { pino } from 'pino'
import { type PurchaseId, parsePurchaseId } from '@concord/core'
import { type AwarenessEntry, decodeAwarenessUpdate, decodeYMessage, encodeAwarenessUpdate, encodeYMessage } from '@concord/core/protocol'
import { AuthError, type Session, parseConfig } from '@concord/relay'
import { AWARENESS_TIMEOUT_MS, MAX_CLIENT_IDS_PER_CONNECTION, type RelayCore, type RelaySocket, createRelayCore } from '@concord/relay/internal'
import { MemoryEventStore } from '@concord/relay/store'
import { type Domain, VirtualScheduler } from '../support/sim/scheduler.js'
import { SEED } from '../support/seed.js'

const DOC: PurchaseId = parsePurchaseId('01J8AWARENESS0000000000PO1')

/** A socket the relay writes to; the test reads what it wrote and delivers what a client sends. */
class RecordingSocket implements RelaySocket {
  readonly bufferedAmount = 0
  readonly sent: Uint8Array[] = []
  closedWith: number | undefined
  private readonly listeners = new Map<string, ((...a: unknown[]) => void)[]>()

  constructor(private readonly domain: Domain) {}

  on(event: string, listener: (...a: never[]) => void): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener as (...a: unknown[]) => void])
    return this
  }

  send(data: Uint8Array, _options: { binary: boolean }, cb?: (err?: Error) => void): void {
    this.sent.push(new Uint8Array(data))
    if (cb !== undefined) this.domain.setTimeout(() => cb(), 0)
  }

  close(code = 1000): void {
    if (this.closedWith !== undefined) return
    this.closedWith = code
    this.domain.setTimeout(() => this.emit('close'), 0)
  }

  terminate(): void {
    this.close(1006)
  }

  /** The client sends an awareness update. */
  announce(entries: readonly AwarenessEntry[]): void {
    const bytes = encodeYMessage({ t: 'awareness', update: encodeAwarenessUpdate(entries) })
    this.emit('message', Buffer.from(bytes), true)
  }

  /** Every awareness entry the relay sent this socket from frame `from` on. */
  heard(from = 0): AwarenessEntry[] {
    return this.sent.slice(from).flatMap((bytes) => {
      const m = decodeYMessage(bytes)
      return m.t === 'awareness' ? decodeAwarenessUpdate(m.update) : []
    })
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const l of this.listeners.get(event) ?? []) l(...args)
  }
}

const state = (name: string) => JSON.stringify({ user: { name } })
const left = (clientId: number, clock: number): AwarenessEntry => ({ clientId, clock, state: 'null' })

interface World {
  readonly sched: VirtualScheduler
  readonly domain: Domain
  readonly core: RelayCore
  connect(user: string | null): Promise<RecordingSocket>
  run(ms: number): Promise<void>
}

async function world(): Promise<World> {
  const sched = new VirtualScheduler(Date.UTC(2026, 0, 5, 9), SEED)
  const domain = sched.domain('relay')
  const parsed = parseConfig(['--store', 'memory', '--log-level', 'error'], {})
  if (parsed.kind !== 'run') throw new Error('relay config')
  const config = parsed.config
  const core = createRelayCore({
    config, log: pino({ level: 'silent' }), store: new MemoryEventStore(), relayId: 'relay-awareness' as never, runtime: domain,
    verifier: { mode: 'secret', verify: () => Promise.reject(new AuthError('UNAUTHORIZED', 'sessions are given, not verified, here')) },
  })
  // Promises started outside a timer (a load, a close) settle over a few real turns.
  const settle = async () => {
    for (let i = 0; i < 20; i++) await sched.settle()
  }
  const run = async (ms: number) => {
    await settle()
    await sched.runUntil(sched.time + ms)
    await settle()
  }
  return {
    sched, domain, core, run,
    async connect(user) {
      const socket = new RecordingSocket(domain)
      const session: Session = { user, grants: [{ doc: '*', rights: ['read', 'write'] }], expiresAt: null, admin: false }
      core.acceptY(socket, DOC, session)
      await run(10)
      assert.is(socket.closedWith, undefined, 'the connection is open')
      return socket
    },
  }
}

async function stop(w: World): Promise<void> {
  const closing = w.core.close()
  await w.run(60_000)
  await closing
}

test('a connection sets and removes only its own entries: forged removals, overwrites and echoes go nowhere', async () => {
  const w = await world()
  const alice = await w.connect('alice')
  const bob = await w.connect('bob')
  const carol = await w.connect('carol')

  alice.announce([{ clientId: 11, clock: 1, state: state('Alice') }])
  await w.run(10)
  assert.equal(carol.heard(), [{ clientId: 11, clock: 1, state: state('Alice') }], 'Alice is forwarded to the room')

  const mark = carol.sent.length
  bob.announce([left(11, 5)])
  bob.announce([{ clientId: 11, clock: 6, state: state('Mallory') }])
  // What the unmodified y-websocket client does with every entry it hears.
  bob.announce([{ clientId: 11, clock: 1, state: state('Alice') }])
  await w.run(10)
  assert.equal(carol.heard(mark), [], "none of Bob's claims about Alice reach the room")

  // Bob's own entry goes on, without the forgery that came with it.
  bob.announce([{ clientId: 22, clock: 1, state: state('Bob') }, left(11, 9)])
  await w.run(10)
  assert.equal(carol.heard(mark), [{ clientId: 22, clock: 1, state: state('Bob') }])

  const late = await w.connect('dave')
  assert.equal(late.heard().sort((a, b) => a.clientId - b.clientId), [
    { clientId: 11, clock: 1, state: state('Alice') }, { clientId: 22, clock: 1, state: state('Bob') },
  ], 'a joiner gets both, Alice unchanged')

  // Alice's own change and removal are hers to make.
  alice.announce([{ clientId: 11, clock: 2, state: state('Alice B.') }])
  await w.run(10)
  const beforeClose = carol.sent.length
  alice.close()
  await w.run(10)
  assert.equal(carol.heard(beforeClose), [left(11, 3)], "Alice's closing removes her entry for the room")
  bob.announce([left(22, 2)])
  await w.run(10)
  assert.equal(carol.heard(beforeClose), [left(11, 3), left(22, 2)], 'Bob removes his own')
  await stop(w)
})

test("another connection of the same user takes the entry over with a newer clock; the old one's close then removes nothing", async () => {
  const w = await world()
  const watcher = await w.connect('carol')
  const first = await w.connect('alice')
  first.announce([{ clientId: 11, clock: 4, state: state('Alice') }])
  await w.run(10)
  // The same client reconnected before the relay saw its old socket close.
  const second = await w.connect('alice')
  second.announce([{ clientId: 11, clock: 5, state: state('Alice') }])
  await w.run(10)
  const mark = watcher.sent.length
  first.close()
  await w.run(10)
  assert.equal(watcher.heard(mark), [], 'the old connection no longer owns the entry')
  second.close()
  await w.run(10)
  assert.equal(watcher.heard(mark), [left(11, 6)])

  // Another user with a newer clock is still refused.
  const alice = await w.connect('alice')
  alice.announce([{ clientId: 12, clock: 1, state: state('Alice') }])
  const eve = await w.connect('eve')
  eve.announce([{ clientId: 12, clock: 7, state: state('Eve') }])
  await w.run(10)
  assert.equal(watcher.heard(mark).filter((e) => e.clientId === 12), [{ clientId: 12, clock: 1, state: state('Alice') }])
  await stop(w)
})

test('a connection owns a bounded number of client ids', async () => {
  const w = await world()
  const watcher = await w.connect('carol')
  const flood = await w.connect('mallory')
  flood.announce(Array.from({ length: 40 }, (_, i) => ({ clientId: 1000 + i, clock: 1, state: state(`bot ${i}`) })))
  await w.run(10)
  const ids = watcher.heard().map((e) => e.clientId)
  assert.is(ids.length, MAX_CLIENT_IDS_PER_CONNECTION, `at most ${MAX_CLIENT_IDS_PER_CONNECTION} ids forwarded`)
  // Removing some makes room again.
  flood.announce([left(ids[0]!, 2)])
  flood.announce([{ clientId: 2000, clock: 1, state: state('another') }])
  await w.run(10)
  assert.ok(watcher.heard().some((e) => e.clientId === 2000), 'a freed slot can be used')
  await stop(w)
})

test("other relays' entries expire 30 s after their last renewal; this relay's own connections' do not", async () => {
  const w = await world()
  const watcher = await w.connect('carol')
  const alice = await w.connect('alice')
  alice.announce([{ clientId: 11, clock: 1, state: state('Alice') }])
  const remote = (entries: AwarenessEntry[]) => w.core.host.awarenessFromCluster(DOC, entries, encodeAwarenessUpdate(entries))
  remote([{ clientId: 33, clock: 1, state: state('Renewed on B') }, { clientId: 44, clock: 1, state: state('Gone with B') }])
  await w.run(10)
  assert.equal(watcher.heard().map((e) => e.clientId).sort(), [11, 33, 44])

  // Another relay cannot remove a client of this one.
  const mark = watcher.sent.length
  remote([left(11, 99)])
  await w.run(AWARENESS_TIMEOUT_MS * 2 / 3)
  remote([{ clientId: 33, clock: 2, state: state('Renewed on B') }])
  await w.run(AWARENESS_TIMEOUT_MS / 3 + 10_000)
  const removed = () => watcher.heard(mark).filter((e) => e.state === 'null').map((e) => e.clientId)
  assert.equal(removed(), [44], 'the entry not renewed is gone within a sweep of 30 s, the renewed one is not')

  await w.run(AWARENESS_TIMEOUT_MS)
  assert.equal(removed(), [44, 33], 'the renewed one goes 30 s after its renewal')
  await w.run(AWARENESS_TIMEOUT_MS * 3)
  assert.equal(removed(), [44, 33], "this relay's own client stays while its connection is open")
  const late = await w.connect('dave')
  assert.equal(late.heard(), [{ clientId: 11, clock: 1, state: state('Alice') }])
  await stop(w)
})

test.run()
