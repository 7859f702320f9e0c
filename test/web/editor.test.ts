/**
 * The web app end to end: Debian's Chromium driven by
 * playwright-core, a real relay process in demo mode (its own SQLite data in
 * a temporary directory, port 0), one browser profile per device.
 *
 * 1. An edit on one device appears on another.
 * 2. Concurrent offline edits of one line (quantity here; price and a
 *    receipt over the new quantity there) converge to the same totals and the
 *    same conflict; resolving it on one device clears it on both.
 * 3. A reload while offline keeps the pending edits, which sync once back.
 * 4. Goods and money go back: a return and a refund recorded on one device
 *    show on the other, with the amounts due; a refund beyond what was paid
 *    is refused with the reason, and a void undoes a return.
 * 5. A change larger than the relay accepts is refused: the purchase shows
 *    why its sync stopped (a dead letter) and offers to send again; the other
 *    device never sees the change.
 * 6. Screenshots of the editor and the resolution dialog are saved under
 *    test/artifacts/ for a person to look at.
 */
import { readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  ARTIFACTS, MAX_FRAME_BYTES, type Device, submitForm, type Env, conflictIds, createPurchase, editLine, openDevice, pngSize, setOfflineSwitch, startEnv,
  WAIT_MS, assertPlainText, textOf, until, untilConflicts, untilDocState, untilInputValue, untilText,
} from './driver.js'

const web = suite<{ env: Env; devices: Device[] }>('web app')

const SHOTS = ['editor.png', 'resolution-dialog.png', 'editor-phone.png', 'resolution-dialog-phone.png'] as const

web.before(async (ctx) => {
  // Test 4 must see this run's screenshots, never an earlier run's.
  for (const f of SHOTS) rmSync(join(ARTIFACTS, f), { force: true })
  ctx.env = await startEnv()
  ctx.devices = []
})

web.after.each(async (ctx) => {
  const errors = ctx.devices.flatMap((d) => d.errors)
  for (const d of ctx.devices) await d.context.close()
  ctx.devices = []
  assert.equal(errors, [], 'no uncaught errors in the pages')
})

web.after(async (ctx) => {
  await ctx.env?.close()
})

async function device(ctx: { env: Env; devices: Device[] }, name: string, path = '/', viewport?: { width: number; height: number }) {
  const d = await openDevice(ctx.env, name, path, viewport)
  ctx.devices.push(d)
  return d
}

web('1. two devices open one purchase; an edit in one appears in the other', async (ctx) => {
  const alice = await device(ctx, 'Alice')
  const path = await createPurchase(alice, 'ACME Supplies', [{ product: 'Widget', qty: '10', price: '12.50' }])
  await untilDocState(alice.page, 'synced')
  await untilText(alice.page, 'total', '€125.00')
  // The relay numbers the order on first sync; every device shows the number.
  await until(alice.page, 'an order number', () => /^PO-\d{4}-\d{5}$/.test(document.querySelector('[data-testid="po-number"]')?.textContent ?? ''), null)
  const number = await textOf(alice.page.getByTestId('po-number'))

  const bob = await device(ctx, 'Bob', `/${path}`)
  await untilInputValue(bob.page, 'Quantity, line 1 (Widget)', '10')
  await untilText(bob.page, 'po-number', number)

  await editLine(alice, 'Quantity', 'line 1 (Widget)', '12')
  await untilInputValue(bob.page, 'Quantity, line 1 (Widget)', '12')
  await untilText(bob.page, 'total', '€150.00', "Bob's total to follow Alice's quantity")

  // The audit trail says who changed what from where, and shows the order as it was.
  await bob.page.getByRole('button', { name: 'Show who changed what' }).click()
  const edit = bob.page.getByTestId('audit-entry').filter({ hasText: 'Edited a line' }).first()
  await edit.waitFor()
  const editText = await textOf(edit)
  assert.ok(editText.includes('Alice') && editText.includes('Quantity of line 1 (Widget)') && editText.includes('10') && editText.includes('12'), editText)
  await assertPlainText(bob.page, 'the editor with the history open', [12500n, 15000n])
  await bob.page.getByTestId('audit-entry').filter({ hasText: 'Added a line' }).getByRole('link').click()
  await untilText(bob.page, 'asof-total', '€125.00', 'the order as it was after the line was added')
  await assertPlainText(bob.page, 'the order as it was', [12500n])
  await bob.page.getByRole('link', { name: '← Back to the current order' }).click()
  await untilText(bob.page, 'total', '€150.00')

  // And back the other way, through the notes (collaborative text).
  await bob.page.getByLabel('Notes').fill('Deliver to dock 3')
  await until(alice.page, "Bob's note on Alice's screen", () => (document.getElementById('notes') as HTMLTextAreaElement | null)?.value === 'Deliver to dock 3', null)

  // The list shows the purchase with its number, supplier, status, total and sync state.
  await bob.page.goto(`${ctx.env.relay.url}/#/`)
  const row = bob.page.getByTestId('purchase-row').filter({ hasText: number })
  await row.waitFor()
  const cells = await row.locator('td').allTextContents()
  assert.ok(cells[1]?.includes('ACME Supplies'), `supplier in ${cells.join(' | ')}`)
  assert.ok(cells[2]?.includes('Draft'), `status in ${cells.join(' | ')}`)
  assert.ok(cells[3]?.includes('€150.00'), `total in ${cells.join(' | ')}`)
  await assertPlainText(bob.page, 'the purchase list', [15000n])
  // Offline search through the client's local index.
  await bob.page.getByLabel('Search purchases').fill('widg')
  await row.waitFor()
  await bob.page.getByLabel('Search purchases').fill('nothing-like-this')
  await until(bob.page, 'the search to find nothing', () => document.querySelectorAll('[data-testid="purchase-row"]').length === 0, null)
})

web('2. concurrent offline edits converge to the same totals and conflict; a resolution clears it everywhere', async (ctx) => {
  const alice = await device(ctx, 'Alice')
  const path = await createPurchase(alice, 'Globex', [{ product: 'Bolt', qty: '10', price: '12.50' }])
  await alice.page.getByRole('button', { name: 'Confirm', exact: true }).click()
  await untilText(alice.page, 'po-state', 'Confirmed')
  await untilDocState(alice.page, 'synced')
  const bob = await device(ctx, 'Bob', `/${path}`)
  await untilText(bob.page, 'po-state', 'Confirmed')

  // Alice disconnects her tab and lowers the quantity.
  await setOfflineSwitch(alice, true)
  await editLine(alice, 'Quantity', 'line 1 (Bolt)', '6')
  await untilText(alice.page, 'total', '€75.00')
  await untilText(alice.page, 'doc-pending', '1')
  await alice.page.getByTestId('banner').waitFor()

  // Meanwhile Bob changes the price and receives 8 (fine against the 10 he sees).
  await editLine(bob, 'Unit price', 'line 1 (Bolt)', '11.75')
  await submitForm(bob.page.getByTestId('receipt-form'), [['Quantity received', '8'], ['Delivery note', 'DN-1001']], 'Record receipt')
  await bob.page.getByTestId('receipts').getByText('DN-1001').waitFor()
  await untilText(bob.page, 'total', '€117.50')
  await untilDocState(bob.page, 'synced')
  await untilConflicts(bob.page, 0, 'no conflict on Bob before the merge')

  // Alice reconnects: both merge to qty 6 at 11.75 with 8 received.
  await setOfflineSwitch(alice, false)
  await untilDocState(alice.page, 'synced')
  for (const d of [alice, bob]) {
    await untilText(d.page, 'total', '€70.50', `${d.name}'s merged total`)
    await untilConflicts(d.page, 1, `one conflict on ${d.name}`)
  }
  const a = await conflictIds(alice.page)
  const b = await conflictIds(bob.page)
  assert.equal(a, b, 'the same conflict on both devices')
  assert.ok(a[0]?.startsWith('OVER_RECEIPT:'), `an over-receipt, got ${a.join(', ')}`)
  await untilInputValue(alice.page, 'Unit price, line 1 (Bolt)', '11.75')
  await untilInputValue(bob.page, 'Quantity, line 1 (Bolt)', '6')

  // Screenshots for a person (test 4 checks them): the editor with its conflict, and the dialog.
  await assertPlainText(alice.page, 'the editor with a conflict', [7050n])
  await alice.page.screenshot({ path: join(ARTIFACTS, 'editor.png'), fullPage: true })
  await alice.page.getByRole('button', { name: 'Resolve…' }).click()
  const dialog = alice.page.getByTestId('resolve-dialog')
  await dialog.waitFor()
  const sides = await dialog.getByTestId('branch').allTextContents()
  assert.ok(sides.some((s) => s.includes('Alice') && s.includes('ordered 6')), `Alice's side: ${sides.join(' | ')}`)
  assert.ok(sides.some((s) => s.includes('Bob') && s.includes('received 8')), `Bob's side: ${sides.join(' | ')}`)
  const facts = await textOf(dialog.getByTestId('facts'))
  assert.ok(facts.includes('Ordered6') && facts.includes('Received8'), `facts: ${facts}`)
  await assertPlainText(alice.page, 'the resolution dialog', [7050n])
  await dialog.screenshot({ path: join(ARTIFACTS, 'resolution-dialog.png') })
  await alice.page.setViewportSize({ width: 375, height: 812 })
  await alice.page.screenshot({ path: join(ARTIFACTS, 'resolution-dialog-phone.png') })
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await dialog.waitFor({ state: 'detached' })
  await alice.page.screenshot({ path: join(ARTIFACTS, 'editor-phone.png'), fullPage: true })

  // Bob resolves: raise the ordered quantity to what was received.
  await bob.page.getByRole('button', { name: 'Resolve…' }).click()
  const bobDialog = bob.page.getByTestId('resolve-dialog')
  await bobDialog.getByLabel('Raise the ordered quantity to 8').check()
  await bobDialog.getByRole('button', { name: 'Resolve', exact: true }).click()
  await bobDialog.waitFor({ state: 'detached' })
  for (const d of [bob, alice]) {
    await untilConflicts(d.page, 0, `the conflict to disappear on ${d.name}`)
    await untilText(d.page, 'total', '€94.00', `${d.name}'s total after the resolution`)
  }
  await until(alice.page, 'the header badge to show no conflicts', () => document.querySelector('[data-testid="conflict-badge"] .count')?.textContent === '0', null)
  await bob.page.getByRole('button', { name: 'Show who changed what' }).click()
  await bob.page.getByTestId('audit-entry').filter({ hasText: 'Resolved a conflict' }).first().waitFor()
  await assertPlainText(bob.page, 'the history with a resolution, a receipt and a merge', [9400n])
  await bob.page.goto(`${ctx.env.relay.url}/#/conflicts`)
  await bob.page.getByRole('heading', { name: 'Conflict queue' }).waitFor()
  await assertPlainText(bob.page, 'the conflict queue')
})

web('3. a reload while offline keeps the pending edits; they sync when back online', async (ctx) => {
  const alice = await device(ctx, 'Alice')
  const path = await createPurchase(alice, 'Initech', [{ product: 'Stapler', qty: '2', price: '9.99' }])
  await untilDocState(alice.page, 'synced')
  // The app shell must be cached by the service worker before the network goes.
  await alice.page.evaluate(async (ms) => {
    await Promise.race([
      navigator.serviceWorker.ready,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no active service worker within ${ms} ms`)), ms)),
    ])
  }, WAIT_MS)

  await setOfflineSwitch(alice, true)
  await alice.context.setOffline(true)
  await editLine(alice, 'Quantity', 'line 1 (Stapler)', '5')
  await alice.page.getByLabel('Notes').fill('Red ones')
  await untilText(alice.page, 'total', '€49.95')
  await assertPlainText(alice.page, 'the offline banner and the pending edits', [4995n])
  await until(alice.page, 'pending edits', () => Number(document.querySelector('[data-testid="doc-pending"]')?.textContent ?? 0) >= 2, null)

  await alice.page.reload()
  await alice.page.getByTestId('editor').waitFor()
  await untilInputValue(alice.page, 'Quantity, line 1 (Stapler)', '5')
  await until(alice.page, 'the note after the reload', () => (document.getElementById('notes') as HTMLTextAreaElement | null)?.value === 'Red ones', null)
  await until(alice.page, 'pending edits after the reload', () => Number(document.querySelector('[data-testid="doc-pending"]')?.textContent ?? 0) >= 2, null)
  assert.is(await alice.page.getByTestId('offline-switch').getAttribute('aria-checked'), 'true', 'the tab stays offline across its reload')

  await alice.context.setOffline(false)
  await setOfflineSwitch(alice, false)
  await untilDocState(alice.page, 'synced')
  const bob = await device(ctx, 'Bob', `/${path}`)
  await untilInputValue(bob.page, 'Quantity, line 1 (Stapler)', '5')
  await untilText(bob.page, 'total', '€49.95')
  await until(bob.page, "Alice's offline note", () => (document.getElementById('notes') as HTMLTextAreaElement | null)?.value === 'Red ones', null)
})

web('4. a return and a refund on one device show on the other; too large a refund is refused; a void undoes a return', async (ctx) => {
  const alice = await device(ctx, 'Alice')
  const path = await createPurchase(alice, 'Umbrella', [{ product: 'Cable', qty: '10', price: '2.00' }])
  await alice.page.getByRole('button', { name: 'Confirm', exact: true }).click()
  await untilText(alice.page, 'po-state', 'Confirmed')
  await submitForm(alice.page.getByTestId('receipt-form'), [['Quantity received', '10'], ['Delivery note', 'DN-2001']], 'Record receipt')
  await alice.page.getByTestId('receipts').getByText('DN-2001').waitFor()
  await submitForm(alice.page.getByTestId('payments'), [[/^Amount/, '20.00'], ['Payment ref.', 'T-1']], 'Record payment')
  await untilText(alice.page, 'total-due', '€0.00')

  const bob = await device(ctx, 'Bob', `/${path}`)
  await untilText(bob.page, 'total-paid', '€20.00')
  await submitForm(bob.page.getByTestId('return-form'), [['Quantity returned', '3'], ['Reason', 'Damaged in transit']], 'Record return')
  await alice.page.getByTestId('returns').getByText('Damaged in transit').waitFor()

  const refund = alice.page.getByTestId('refund-form')
  await submitForm(refund, [[/^Refund amount/, '25.00'], ['Refund ref.', 'CN-7']], 'Record refund')
  await refund.getByRole('alert').getByText('cannot refund more than was paid').waitFor()
  await untilText(alice.page, 'total-paid', '€20.00', 'nothing refunded by the refused refund')
  await assertPlainText(alice.page, 'a refused refund', [2000n, 2500n])
  await refund.getByLabel(/^Refund amount/).fill('6.00')
  await refund.getByRole('button', { name: 'Record refund' }).click()
  for (const d of [alice, bob]) {
    await untilText(d.page, 'total-paid', '€14.00', `${d.name}: paid net of the refund`)
    await untilText(d.page, 'total-due', '€6.00', `${d.name}: due after the refund`)
    await d.page.getByTestId('refunds').getByText('CN-7').waitFor()
  }

  // The return was a mistake: Alice voids it; Bob sees it void.
  await alice.page.getByRole('button', { name: 'Void return of 3 Cable' }).click()
  const voidForm = alice.page.getByTestId('returns').locator('form.void')
  await voidForm.getByLabel('Reason to void return of 3 Cable').fill('Counted twice')
  await voidForm.getByRole('button', { name: 'Void' }).click()
  await bob.page.getByTestId('returns').locator('li.voided').getByText('Damaged in transit').waitFor()
  await bob.page.getByRole('button', { name: 'Show who changed what' }).click()
  await bob.page.getByTestId('audit-entry').filter({ hasText: 'Voided a return' }).first().waitFor()
  const voidText = await textOf(bob.page.getByTestId('audit-entry').filter({ hasText: 'Voided a return' }).first())
  assert.ok(voidText.includes('voided 3 of Cable returned: Damaged in transit: Counted twice'), voidText)
  await assertPlainText(bob.page, 'the history of payments, refunds and a void', [2000n, 600n, 1400n])
})

web('5. a note too large for the relay is refused at the field; a change refused after it was made is undone on that device with the reason, sync resumes, and later edits reach the others', async (ctx) => {
  const alice = await device(ctx, 'Alice')
  const path = await createPurchase(alice, 'Hooli', [{ product: 'Server', qty: '1', price: '900.00' }])
  await untilDocState(alice.page, 'synced')
  const bob = await device(ctx, 'Bob', `/${path}`)
  await untilText(bob.page, 'total', '€900.00')

  // A note that cannot fit the relay's frame is refused as it is typed, next to the field; nothing is applied.
  await alice.page.getByLabel('Notes').fill('x'.repeat(MAX_FRAME_BYTES + 1000))
  const fieldError = alice.page.locator('.field.notes [role="alert"]')
  await fieldError.waitFor()
  assert.ok((await textOf(fieldError)).includes(`accepts at most ${MAX_FRAME_BYTES - 160}`), await textOf(fieldError))
  assert.is(await alice.page.getByTestId('dead-letter').count(), 0, 'refused before anything was applied: no dead letter')

  // One whose input fits but whose event does not gets through the command and is refused by the client's sender.
  await alice.page.getByLabel('Notes').fill('x'.repeat(MAX_FRAME_BYTES - 170))
  const dead = alice.page.getByTestId('dead-letter')
  await dead.waitFor()
  const text = await textOf(dead)
  assert.ok(text.includes('FRAME_TOO_LARGE') && text.includes(String(MAX_FRAME_BYTES)), text)
  // The code and the limit are there for support, in the details; the sentence a person reads has neither.
  await assertPlainText(alice.page, 'the dead-letter panel', [90000n])
  // Nobody can ever receive the change, so it is undone here, and the panel says what was undone.
  assert.ok((await textOf(dead.getByTestId('undone'))).includes('Edited the notes'), await textOf(dead))
  await until(alice.page, 'the refused note undone on Alice\'s device', () => (document.getElementById('notes') as HTMLTextAreaElement | null)?.value === '', null)

  await dead.getByRole('button', { name: 'Send again' }).click()
  await dead.waitFor({ state: 'detached' })
  // The relay never had the change, so Bob's note is still empty, while his edits still reach Alice.
  assert.is(await bob.page.locator('#notes').inputValue(), '')
  await editLine(bob, 'Quantity', 'line 1 (Server)', '2')
  await untilText(alice.page, 'total', '€1,800.00', "Bob's edit reaching Alice after her refused change")
  // And hers reach him: the refused change no longer holds back what she writes after it.
  await editLine(alice, 'Quantity', 'line 1 (Server)', '3')
  await untilText(bob.page, 'total', '€2,700.00', "Alice's edit after her refused change reaching Bob")
  await alice.page.getByLabel('Notes').fill('Rack 4')
  await until(bob.page, "Alice's note after the refusal", () => (document.getElementById('notes') as HTMLTextAreaElement | null)?.value === 'Rack 4', null)
  for (const d of [alice, bob]) await untilDocState(d.page, 'synced')
  assert.is(await textOf(alice.page.getByTestId('total')), await textOf(bob.page.getByTestId('total')))
})

web('6. the screenshots of the editor and of the resolution dialog are saved', () => {
  for (const [file, minWidth] of [['editor.png', 1000], ['resolution-dialog.png', 300], ['editor-phone.png', 375], ['resolution-dialog-phone.png', 375]] as const) {
    const path = join(ARTIFACTS, file)
    const size = pngSize(readFileSync(path))
    assert.ok(size.width >= minWidth && size.height >= 200, `${file} is ${size.width}x${size.height}`)
    assert.ok(statSync(path).size > 10_000, `${file} has content (${statSync(path).size} bytes)`)
  }
})

web.run()
