/**
 * The web app on a stored purchase that holds values its schema refuses
 * (written before the relay checked writes: here appended straight into the
 * SQLite store, as test/relay/poisoned-store does): a null quantity and a
 * "banana" price on a real line. In Chromium the purchase opens without an
 * error, the line shows the valid stored values, the "invalid values" panel
 * names both registers, and an edit of the quantity syncs and takes it off
 * the panel.
 */
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { type PurchaseId, parsePurchaseId } from '@concord/core'
import { SqliteEventStore } from '@concord/relay/store'
import { envelopeFor, rawYjsUpdate } from '../support/hostile.js'
import { NativeTestClient } from '../support/native-test-client.js'
import { startRelayProcess, tempDir } from '../support/relay-process.js'
import { SEED } from '../support/seed.js'
import { type Device, type Env, editLine, openDevice, startEnv, textOf, until, untilDocState, untilInputValue } from './driver.js'

/** A token from a demo-mode relay (every right on every document), as the web app gets one. */
async function demoToken(url: string, user: string): Promise<string> {
  const res = await fetch(`${url}/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, device: 'test' }) })
  assert.is(res.status, 200, 'the relay mints demo tokens')
  return ((await res.json()) as { token: string }).token
}

/** The keys the invalid-values panel lists (its <code> elements), in order. */
async function listedKeys(d: Device): Promise<string[]> {
  return d.page.getByTestId('invalid-values').locator('li code').allTextContents()
}

test('a stored null quantity and banana price: the purchase opens, the panel names both, the line shows the valid values, and a quantity edit syncs and leaves the panel', async () => {
  const dataDir = tempDir()
  const docId: PurchaseId = parsePurchaseId('01J8PWEBINVALID00000000001')

  // A purchase with one line, stored the ordinary way (demo mode, as the web app's relay runs).
  let relay = await startRelayProcess({ dataDir, secret: null })
  const writer = await NativeTestClient.connect(relay.wsUrl, await demoToken(relay.url, 'Pat'), { replica: 'writer', seed: SEED })
  const r = writer.createPurchase(docId, { currency: 'EUR', supplier: 'Acme' })
  const { lineId } = r.addLine({ product: 'Desk', qty: '2', price: '100' })
  await writer.subscribe(docId)
  await writer.push(docId)
  assert.equal(writer.rejects, [])
  await writer.close()
  assert.is((await relay.stop()).code, 0)

  // What an older relay let a raw Yjs client store: null and "banana" in the line's real registers.
  const store = await SqliteEventStore.open({ path: join(dataDir, 'concord.sqlite') })
  const actor = `${relay.relayId.slice(0, 62)}-y`
  const hlc = r.log.events()[0]!.hlc
  const payload = rawYjsUpdate(r, actor, (d) => {
    const regs = d.getMap('regs')
    regs.set(`l.${lineId}.qty\u0000${actor}.1`, null)
    regs.set(`l.${lineId}.price\u0000${actor}.1`, { value: { amount: 'banana', currency: 'EUR' }, ev: `${actor}.1`, hlc })
  })
  const [appended] = await store.append([{ docId, backend: 'yjs', events: [envelopeFor(r, actor, payload, 'yjs.update')] }])
  assert.ok(appended?.events[0]?.ok, 'the store took it (the old relay did)')
  await store.close()

  const qtyKey = `l.${lineId}.qty`
  const priceKey = `l.${lineId}.price`
  let env: Env | undefined
  let d: Device | undefined
  try {
    // The relay with the web app, on that data.
    env = await startEnv({ dataDir })
    d = await openDevice(env, 'Alice', `/#/p/${docId}`)
    const page = d.page

    // 1. The purchase is shown, with its line, and nothing on the page is an error.
    await page.getByTestId('editor').waitFor()
    await page.locator('[data-testid="line-row"][data-product="Desk"]').waitFor()
    await untilDocState(page, 'synced')
    assert.is(await page.getByTestId('line-row').count(), 1, 'one line')
    assert.is(await page.locator('[role="alert"]').count(), 0, `no error on the page: ${(await page.locator('[role="alert"]').allTextContents()).join(' | ')}`)
    assert.is(await page.getByTestId('sync').getAttribute('data-state') !== 'error', true, 'the sync indicator is no error')

    // 2. The panel is shown and names the line's quantity and price.
    const panel = page.getByTestId('invalid-values')
    await panel.waitFor({ state: 'visible' })
    assert.ok((await textOf(panel)).includes('could not be read'), await textOf(panel))
    await panel.locator('summary').click()
    await panel.locator('li').first().waitFor({ state: 'visible' })
    const keys = await listedKeys(d)
    assert.ok(keys.includes(qtyKey) && keys.includes(priceKey), `the panel lists ${qtyKey} and ${priceKey}: ${keys.join(', ')}`)
    assert.ok((await textOf(panel.locator('summary'))).includes(`${keys.length} values`), await textOf(panel.locator('summary')))

    // 3. The line shows the valid stored values, not the refused ones.
    await untilInputValue(page, 'Quantity, line 1 (Desk)', '2')
    await untilInputValue(page, 'Unit price, line 1 (Desk)', '100.00')

    // 4. An edit of the quantity supersedes the null: it syncs, and the panel stops listing the quantity (the price is still refused).
    await editLine(d, 'Quantity', 'line 1 (Desk)', '3')
    await until(page, 'the edit stored on the relay (synced, nothing pending) and the quantity off the panel', (key) => {
      const sync = document.querySelector('[data-testid="doc-sync"]')
      const listed = [...document.querySelectorAll('[data-testid="invalid-values"] li code')].map((c) => c.textContent)
      return sync?.getAttribute('data-state') === 'synced' && sync.getAttribute('data-pending') === '0' && !listed.includes(key)
    }, qtyKey)
    assert.equal(await listedKeys(d), [priceKey], 'only the price is left on the panel')
    await untilInputValue(page, 'Quantity, line 1 (Desk)', '3')
    await untilInputValue(page, 'Unit price, line 1 (Desk)', '100.00')

    // The relay has it: another device reads the new quantity.
    const reader = await NativeTestClient.connect(env.relay.wsUrl, await demoToken(env.relay.url, 'Bob'), { replica: 'reader', seed: SEED + 1 })
    await reader.subscribe(docId)
    await reader.waitFor('the reader has the edit', () => reader.replica(docId).state().lines[0]?.qty === '3')
    await reader.close()
    assert.equal(d.errors, [], 'no uncaught errors in the page')
  } finally {
    await d?.context.close()
    await env?.close()
  }
})

test.run()
