/**
 * Two tabs of one browser profile share one IndexedDB store (seats): each
 * tab takes its own seat of the store, so its own actor, and never writes an
 * event id the other tab writes. Both offline, each adds a line: each tab
 * shows the other's line while still offline (read from the shared store),
 * and once back online every device ends with both lines.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { type Device, type Env, addLine, createPurchase, openDevice, setOfflineSwitch, startEnv, until, untilDocState } from './driver.js'

const tabs = suite<{ env: Env; devices: Device[] }>('two tabs of one profile')

tabs.before(async (ctx) => {
  ctx.env = await startEnv()
  ctx.devices = []
})

tabs.after(async (ctx) => {
  const errors = ctx.devices.flatMap((d) => d.errors)
  for (const d of ctx.devices) await d.context.close()
  await ctx.env?.close()
  assert.equal(errors, [], 'no uncaught errors in the pages')
})

/** Waits until the editor lists exactly these products (each line row names its product in its field labels). */
async function untilProducts(d: Device, products: readonly string[], what: string): Promise<void> {
  await until(d.page, what, (want) => {
    const rows = [...document.querySelectorAll('[data-testid="line-row"]')]
    return rows.length === want.length && want.every((p) => rows.some((r) => r.innerHTML.includes(`(${p})`)))
  }, products)
}

tabs('both tabs offline add a line each: each tab shows both, and another device ends with both', async (ctx) => {
  const alice = await openDevice(ctx.env, 'Alice')
  ctx.devices.push(alice)
  const path = await createPurchase(alice, 'ACME Supplies', [{ product: 'Widget', qty: '10', price: '12.50' }])
  await untilDocState(alice.page, 'synced')

  // A second tab of the same profile: same IndexedDB, same signed-in name.
  const page2 = await alice.context.newPage()
  page2.on('pageerror', (e) => alice.errors.push(`tab 2: ${e.stack ?? e.message}`))
  await page2.goto(`${ctx.env.relay.url}/${path}`)
  const tab2: Device = { name: 'Alice, tab 2', context: alice.context, page: page2, errors: alice.errors }
  await untilProducts(tab2, ['Widget'], 'the second tab to show the purchase')

  await setOfflineSwitch(alice, true)
  await setOfflineSwitch(tab2, true)
  await addLine(alice, { product: 'From tab one', qty: '1', price: '2.00' })
  await untilProducts(tab2, ['Widget', 'From tab one'], 'the second tab to show the first tab\'s offline line')
  await addLine(tab2, { product: 'From tab two', qty: '1', price: '3.00' })
  const all = ['Widget', 'From tab one', 'From tab two']
  await untilProducts(alice, all, 'the first tab to show the second tab\'s offline line')

  await setOfflineSwitch(alice, false)
  await setOfflineSwitch(tab2, false)
  await untilDocState(alice.page, 'synced')
  await untilDocState(tab2.page, 'synced')

  const bob = await openDevice(ctx.env, 'Bob', `/${path}`)
  ctx.devices.push(bob)
  await untilProducts(bob, all, 'another device to get both tabs\' lines')
  await untilDocState(bob.page, 'synced')
})

tabs.run()
