/**
 * The web app in German and Swedish (Chromium's locale, and the ?locale=
 * override): amounts typed with the locale's separators are taken as meant
 * and shown back in its format, in the order's currency; a separator that
 * could mean either is refused with the format to use; refusals and the
 * history speak in amounts, not minor units. On every screen visited, the
 * page's text outside <details> holds no code, id, field key or minor units.
 */
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import {
  ARTIFACTS, type Device, type Env, addLine, browserSuite, assertPlainText, editLine, openDevice, setOfflineSwitch, untilConflicts, untilDocState, submitForm, textOf, until, untilInputValue, untilText,
} from './driver.js'

const NBSP = '\u00a0'
const t = browserSuite('web app locales')

async function device(ctx: { env: Env; devices: Device[] }, name: string, locale: string, path = '/') {
  const d = await openDevice(ctx.env, name, path, undefined, locale)
  ctx.devices.push(d)
  return d
}

async function createIn(d: Device, supplier: string, currency: string): Promise<string> {
  const p = d.page
  await p.getByRole('button', { name: 'New purchase' }).click()
  await p.getByLabel('Supplier').fill(supplier)
  await p.getByLabel('Currency').selectOption(currency)
  await p.getByRole('button', { name: 'Create purchase' }).click()
  await p.getByTestId('editor').waitFor()
  return new URL(p.url()).hash
}

t('de-DE: "1.000" and "12,50" are a thousand at twelve fifty; amounts read 12.500,00 €; "12.5" is refused with the format', async (ctx) => {
  const anna = await device(ctx, 'Anna', 'de-DE')
  // A threshold with more decimals than euros have: core refuses it, and the app says so without core's field key.
  await anna.page.getByRole('button', { name: 'New purchase' }).click()
  await anna.page.getByLabel('Supplier').fill('Zu genau AG')
  await anna.page.getByLabel('Approval above (optional)').fill('1,2345')
  await anna.page.getByRole('button', { name: 'Create purchase' }).click()
  const refused = anna.page.locator('form.create [role="alert"]')
  await refused.waitFor()
  assert.ok((await textOf(refused.locator('span').first())).startsWith('Approval threshold:'), await textOf(refused))
  await assertPlainText(anna.page, 'a refused approval threshold')
  await anna.page.getByRole('button', { name: 'Close' }).click()
  await createIn(anna, 'Müller GmbH', 'EUR')
  const form = anna.page.getByTestId('add-line')
  assert.is(await form.getByLabel('Unit price').getAttribute('placeholder'), '1.234,56', 'the price field shows the format it expects')
  await addLine(anna, { product: 'Schrauben', qty: '1.000', price: '12,50' })
  await untilText(anna.page, 'total', `12.500,00${NBSP}€`)
  await untilInputValue(anna.page, 'Unit price, line 1 (Schrauben)', '12,50')
  await untilInputValue(anna.page, 'Quantity, line 1 (Schrauben)', '1000')

  await editLine(anna, 'Quantity', 'line 1 (Schrauben)', '2,5')
  await untilText(anna.page, 'total', `31,25${NBSP}€`)
  await editLine(anna, 'Unit price', 'line 1 (Schrauben)', '1.000,50', '1000,50')
  await untilText(anna.page, 'total', `2.501,25${NBSP}€`)

  // A dot where German writes a comma could be a typo for 125 or for 12,5: refused, with what to write.
  const price = anna.page.getByLabel('Unit price, line 1 (Schrauben)', { exact: true })
  await price.fill('12.5')
  await price.press('Enter')
  const err = anna.page.locator('[data-testid="line-row"] .field-error')
  await err.waitFor()
  const said = await textOf(err)
  assert.ok(said.includes('1.234,56'), `the refusal names the format: ${said}`)
  await untilText(anna.page, 'total', `2.501,25${NBSP}€`, 'nothing saved by the refused price')
  await price.press('Escape')
  await assertPlainText(anna.page, 'German editor with a refused price', [250125n])

  // Payments: the amount typed in German, the refusal in euros rather than minor units.
  await anna.page.getByRole('button', { name: 'Confirm', exact: true }).click()
  await untilText(anna.page, 'po-state', 'Confirmed')
  const pay = anna.page.getByTestId('payments')
  await submitForm(pay, [[/^Amount/, '99.999,00'], ['Payment ref.', 'Ü-1']], 'Record payment')
  const refusal = pay.getByRole('alert')
  await refusal.waitFor()
  const refusalText = await textOf(refusal.locator('span').first())
  assert.ok(refusalText.includes(`Cannot pay 99.999,00${NBSP}€: only 2.501,25${NBSP}€ is due.`), refusalText)
  await assertPlainText(anna.page, 'German payment refusal', [9999900n, 250125n])
  await pay.getByLabel(/^Amount/).fill('1.000,25')
  await pay.getByRole('button', { name: 'Record payment' }).click()
  await untilText(anna.page, 'total-paid', `1.000,25${NBSP}€`)
  await untilText(anna.page, 'total-due', `1.501,00${NBSP}€`)
  await submitForm(anna.page.getByTestId('receipt-form'), [['Quantity received', '1,5'], ['Delivery note', 'LS-77']], 'Record receipt')
  await anna.page.getByTestId('receipts').getByText('LS-77').waitFor()
  assert.ok((await textOf(anna.page.getByTestId('receipts'))).includes('1,5'), 'the receipt quantity in German')

  // The history: field labels and amounts, not keys and minor units.
  await anna.page.getByRole('button', { name: 'Show who changed what' }).click()
  const trail = anna.page.locator('#history-list')
  await trail.getByText('Unit price of line 1 (Schrauben)').first().waitFor()
  const trailText = await textOf(trail)
  assert.ok(trailText.includes(`1.000,25${NBSP}€ paid`), trailText)
  assert.ok(trailText.includes('Quantity of line 1 (Schrauben)'), trailText)
  await assertPlainText(anna.page, 'German editor with the history open', [100025n, 250125n])
  await anna.page.screenshot({ path: join(ARTIFACTS, 'editor-de-DE.png'), fullPage: true })

  await anna.page.goto(`${ctx.env.relay.url}/#/`)
  const row = anna.page.getByTestId('purchase-row').filter({ hasText: 'Müller GmbH' })
  await row.waitFor()
  assert.ok((await row.locator('td').nth(3).textContent())?.includes(`2.501,25${NBSP}€`), 'the list total in German')
  await assertPlainText(anna.page, 'German purchase list', [250125n])
})

t('sv-SE: "1 000,50" with a plain, no-break or narrow space; SEK amounts read 1 000 500,00 kr; the ?locale= override', async (ctx) => {
  const sven = await device(ctx, 'Sven', 'sv-SE')
  const path = await createIn(sven, 'Björk AB', 'SEK')
  await addLine(sven, { product: 'Skruvar', qty: `1${NBSP}000`, price: '1\u202f000,50' })
  await untilText(sven.page, 'total', `1${NBSP}000${NBSP}500,00${NBSP}kr`)
  await editLine(sven, 'Quantity', 'line 1 (Skruvar)', '2 000,5', '2000,5')
  await untilText(sven.page, 'total', `2${NBSP}001${NBSP}500,25${NBSP}kr`)
  // A Swedish "1.000" (a dot) is not a number there.
  await submitForm(sven.page.getByTestId('add-line'), [['Product', 'Muttrar'], ['Quantity', '1.000'], ['Unit price', '2']], 'Add line')
  const err = sven.page.getByTestId('add-line').getByRole('alert')
  await err.waitFor()
  assert.ok((await textOf(err)).includes(`1${NBSP}234,56`), await textOf(err))
  await assertPlainText(sven.page, 'Swedish editor', [200150025n])
  await sven.page.screenshot({ path: join(ARTIFACTS, 'editor-sv-SE.png'), fullPage: true })

  // An English browser asking for German numbers in the URL gets them.
  const ed = await device(ctx, 'Ed', 'en-US', `/?locale=de-DE${path}`)
  await untilText(ed.page, 'total', `2.001.500,25${NBSP}SEK`)
  await untilInputValue(ed.page, 'Unit price, line 1 (Skruvar)', '1000,50')
  await assertPlainText(ed.page, 'the ?locale=de-DE override', [200150025n])

  // Taxes in the totals by rate, named with the rate as a Swedish number, never by their codes.
  await sven.page.getByLabel('Add a tax to line 1 (Skruvar)').selectOption('VAT10')
  await sven.page.getByLabel('Add a tax to line 1 (Skruvar)').selectOption('VAT5_5')
  await sven.page.getByLabel('Add a tax to line 1 (Skruvar)').selectOption('VAT20')
  await until(sven.page, 'three taxes in the totals', () => document.querySelectorAll('[data-testid="totals"] dt.sub').length === 3, null)
  const taxes = await sven.page.locator('[data-testid="totals"] dt.sub').allTextContents()
  assert.equal(taxes, ['VAT 5,5 %', 'VAT 10 %', 'VAT 20 %'])
  const chips = await textOf(sven.page.getByTestId('line-row').first().locator('.chips'))
  assert.ok(chips.includes('VAT 5,5 %') && !/VAT\d/.test(chips), chips)
  await assertPlainText(sven.page, 'Swedish totals with taxes')
})

t('de-DE: a stated total that two devices disagree on reads in euros in the panel and the dialog; a total typed in German resolves it', async (ctx) => {
  const anna = await device(ctx, 'Anna', 'de-DE')
  const path = await createIn(anna, 'Schmidt KG', 'EUR')
  await addLine(anna, { product: 'Rohre', qty: '10', price: '100,00' })
  await anna.page.getByRole('button', { name: 'Send to supplier' }).click()
  await untilText(anna.page, 'po-state', 'Sent')
  await untilDocState(anna.page, 'synced')
  const bert = await device(ctx, 'Bert', 'de-DE', `/${path}`)
  await untilText(bert.page, 'total', `1.000,00${NBSP}€`)

  // Anna raises the price offline while Bert commits to the total he sees.
  await setOfflineSwitch(anna, true)
  await editLine(anna, 'Unit price', 'line 1 (Rohre)', '105,00')
  await untilText(anna.page, 'total', `1.050,00${NBSP}€`)
  await bert.page.getByRole('button', { name: 'Commit to this total' }).click()
  await bert.page.getByRole('button', { name: 'Commit to this total' }).waitFor({ state: 'detached' })
  await untilDocState(bert.page, 'synced')
  await setOfflineSwitch(anna, false)
  for (const d of [anna, bert]) await untilConflicts(d.page, 1, `the total mismatch on ${d.name}`)

  const panel = await textOf(bert.page.getByTestId('conflict'))
  assert.ok(panel.includes(`1.050,00${NBSP}€`) && panel.includes(`1.000,00${NBSP}€`), panel)
  await assertPlainText(bert.page, 'German conflict panel', [105000n, 100000n])
  await bert.page.getByRole('button', { name: 'Resolve…' }).click()
  const dialog = bert.page.getByTestId('resolve-dialog')
  await dialog.waitFor()
  const facts = await textOf(dialog.getByTestId('facts'))
  assert.ok(facts.includes(`Computed total1.050,00${NBSP}€`) && facts.includes(`Stated total1.000,00${NBSP}€`), facts)
  await dialog.getByLabel(/^Keep one stated total/).check()
  const kept = await dialog.locator('select').first().locator('option').allTextContents()
  assert.equal(kept, [`1.000,00${NBSP}€`], 'the stated total to keep, in euros')
  await assertPlainText(bert.page, 'German resolution dialog', [105000n, 100000n])
  await bert.page.screenshot({ path: join(ARTIFACTS, 'resolution-dialog-de-DE.png') })

  // Another total, typed the German way.
  await dialog.getByLabel('State another total').check()
  await dialog.getByLabel(/^Total \(EUR/).fill('1.050,00')
  await dialog.getByRole('button', { name: 'Resolve', exact: true }).click()
  await dialog.waitFor({ state: 'detached' })
  for (const d of [bert, anna]) await untilConflicts(d.page, 0, `the mismatch resolved on ${d.name}`)
  await bert.page.getByRole('button', { name: 'Show who changed what' }).click()
  await bert.page.getByTestId('audit-entry').filter({ hasText: 'Resolved a conflict' }).first().waitFor()
  await assertPlainText(bert.page, 'German history after the resolution', [105000n, 100000n])
})

t.run()
