/**
 * Durability: the relay acknowledges only what is stored. In each cycle a
 * client pushes events (some frames still in flight), the relay is killed
 * with SIGKILL the moment the first ack arrives, and after a restart on the
 * same data directory every event ever acknowledged is there. 20+ cycles,
 * with the default durability ('process': survives kill -9).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type EventId, type PurchaseId, parsePurchaseId } from '@concord/core'
import { signToken } from '@concord/relay'
import { NativeTestClient } from '../support/native-test-client.js'
import { type RelayProcess, TEST_SECRET, startRelayProcess, tempDir } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'

const CYCLES = Number(process.env.DURABILITY_CYCLES ?? 20)
const DOC: PurchaseId = parsePurchaseId('01J8DURABLE000000000000PO1')

test(`every acknowledged event survives SIGKILL right after the ack (${CYCLES} cycles)`, async () => {
  const token = await signToken(TEST_SECRET, { sub: 'writer', docs: ['*'], rights: ['read', 'write'] }, 3600)
  const dataDir = tempDir()
  const everAcked = new Set<EventId>()
  let writer: NativeTestClient | undefined
  let relay: RelayProcess | undefined
  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      relay = await startRelayProcess({ dataDir })
      // A fresh reader checks that everything acked before is stored.
      const reader = await NativeTestClient.connect(relay.wsUrl, token, { replica: `reader${cycle}`, seed: SEED + cycle })
      await reader.subscribe(DOC)
      const stored = reader.replica(DOC)
      const missing = [...everAcked].filter((id) => !stored.log.has(id))
      assert.equal(missing, [], `cycle ${cycle}: acknowledged events lost after SIGKILL`)
      await reader.close()

      writer = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'writer', seed: SEED, ...(writer ? { resume: writer } : {}) })
      if (cycle === 0) writer.createPurchase(DOC)
      await writer.subscribe(DOC)
      const r = writer.replica(DOC)
      // Events from an earlier cycle that were never acked are pushed again (the relay dedupes by id).
      const retry = r.log.events().filter((e) => e.actor === 'writer' && !writer!.acked.has(e.id))
      for (const e of retry) writer.pushed.delete(e.id)
      // Several frames: the kill lands while later ones are still in flight.
      for (let k = 0; k < 4; k++) {
        r.addLine({ product: `c${cycle}-l${k}`, qty: String(k + 1), price: '1.00' })
        await writer.push(DOC, undefined, { wait: false })
      }
      const w = writer
      await w.waitFor(`cycle ${cycle}: a first ack`, () => w.acked.size > everAcked.size)
      await relay.kill()
      for (const id of w.acked) everAcked.add(id)
      await w.closed
    }
    relay = await startRelayProcess({ dataDir })
    const reader = await NativeTestClient.connect(relay.wsUrl, token, { replica: 'finalReader', seed: SEED })
    await reader.subscribe(DOC)
    const missing = [...everAcked].filter((id) => !reader.replica(DOC).log.has(id))
    assert.equal(missing, [], 'acknowledged events lost')
    assert.ok(everAcked.size >= CYCLES, `at least one ack per cycle (${everAcked.size})`)
    // Each acknowledged line.add is a line of the stored purchase.
    const ackedLines = writer!.replica(DOC).log.events().filter((e) => e.kind === 'line.add' && everAcked.has(e.id)).length
    assert.ok(reader.replica(DOC).state().lines.length >= ackedLines, 'every acknowledged line is in the stored purchase')
    await reader.close()
    const exit = await relay.stop()
    assert.is(exit.code, 0)
  } finally {
    await relay?.kill()
  }
})

test.run()
