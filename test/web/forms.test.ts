/**
 * The editor's forms in a German browser: only what the order allows now is
 * offered (a draft, a confirmed order above the approval threshold, a locked
 * and a closed one, and a draft on hold); what it does not allow is a disabled
 * button with the sentence why, and every enabled action clicked is accepted
 * (no refusal appears). Lines take any tax rate by name and percent, typed
 * the German way. Amounts of almost a trillion euros stay inside their cards
 * and the page never scrolls sideways, on a phone and on a desktop.
 */
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import * as assert from 'uvu/assert'
import {
  ARTIFACTS, type Device, type Env, addLine, browserSuite, assertPlainText, editLine, openDevice, submitForm, textOf, until, untilText,
} from './driver.js'

const NBSP = '\u00a0'
const t = browserSuite('web app forms')

async function device(ctx: { env: Env; devices: Device[] }, name: string, viewport?: { width: number; height: number }) {
  const d = await openDevice(ctx.env, name, '/', viewport, 'de-DE')
  ctx.devices.push(d)
  return d
}

async function create(d: Device, supplier: string, threshold = ''): Promise<void> {
  const p = d.page
  await p.getByRole('button', { name: 'New purchase' }).click()
  await p.getByLabel('Supplier').fill(supplier)
  await p.getByLabel('Currency').selectOption('EUR')
  if (threshold !== '') await p.getByLabel('Approval above (optional)').fill(threshold)
  await p.getByRole('button', { name: 'Create purchase' }).click()
  await p.getByTestId('editor').waitFor()
}

interface Offered {
  /** Lifecycle buttons one can press (not the hold). */
  readonly enabled: string[]
  /** Every disabled action on the page (lifecycle, forms), with its reason. */
  readonly disabled: Record<string, string>
}

/** What the editor offers now: enabled lifecycle buttons, and each disabled action with the sentence it shows. */
async function offered(page: Page): Promise<Offered> {
  return page.evaluate(() => {
    const group = document.querySelector('.lifecycle [role="group"]')!
    const enabled = [...group.querySelectorAll<HTMLButtonElement>(':scope > button[data-action]')].filter((b) => !b.disabled).map((b) => b.textContent!.trim())
    const disabled: Record<string, string> = {}
    for (const n of document.querySelectorAll('[data-testid="not-now"]')) {
      const b = n.querySelector('button')!
      // The reason is the button's description: what a screen reader says with it.
      const why = document.getElementById(b.getAttribute('aria-describedby') ?? '')?.textContent?.trim() ?? ''
      if (!b.disabled) throw new Error(`${b.textContent} is shown as not allowed but can be pressed`)
      disabled[b.textContent!.trim()] = why
    }
    return { enabled, disabled }
  })
}

/**
 * What the editor offers once its enabled lifecycle buttons are `enabled`: an
 * action's buttons are disabled while it runs, and the state line can show
 * the new state a moment before they are back. Fails naming what it saw.
 */
async function offeredOnce(page: Page, enabled: readonly string[], what = ''): Promise<Offered> {
  try {
    await until(page, `the lifecycle buttons ${enabled.join(', ')}`, (want: readonly string[]) => {
      const group = document.querySelector('.lifecycle [role="group"]')
      if (group === null) return false
      const now = [...group.querySelectorAll<HTMLButtonElement>(':scope > button[data-action]')].filter((b) => !b.disabled).map((b) => b.textContent!.trim())
      return now.length === want.length && now.every((x, i) => x === want[i])
    }, enabled)
  } catch (e) {
    assert.equal((await offered(page)).enabled, enabled, `${what} (${e instanceof Error ? e.message : String(e)})`)
  }
  return offered(page)
}

/** No refusal anywhere on the page: whatever was clicked was accepted. */
async function noRefusal(page: Page, after: string): Promise<void> {
  const alerts = await page.locator('[role="alert"]').allTextContents()
  assert.equal(alerts, [], `nothing refused after ${after}`)
}

async function lifecycle(d: Device, action: string, state: string): Promise<void> {
  await d.page.locator('.lifecycle').getByRole('button', { name: action, exact: true }).click()
  await untilText(d.page, 'po-state', state)
  await noRefusal(d.page, action)
}

t('only allowed actions are offered: a draft, on hold, above the threshold, confirmed, locked and closed; the others say why', async (ctx) => {
  const anna = await device(ctx, 'Anna')
  await create(anna, 'Groß AG', '5.000,00')
  await addLine(anna, { product: 'Rohre', qty: '10', price: '100,00' })
  await untilText(anna.page, 'total', `1.000,00${NBSP}€`)

  // A draft under the threshold: every transition from a draft can be pressed; goods and money wait for the confirmation.
  let o = await offeredOnce(anna.page, ['Send to supplier', 'Submit for approval', 'Confirm', 'Cancel order'])
  assert.equal(o.disabled, {
    'Record receipt': 'Goods are received once the order is confirmed.',
    'Record bill': 'Bills are recorded once the order is confirmed.',
    'Record payment': 'Payments are recorded once the order is confirmed.',
  })
  await assertPlainText(anna.page, 'a draft with disabled money forms')

  // On hold: sending and confirming wait for the hold to be released; cancelling does not.
  await anna.page.getByText('Put on hold…').click()
  await anna.page.getByLabel('Reason').fill('Budget')
  await anna.page.getByRole('button', { name: 'Hold', exact: true }).click()
  await anna.page.getByRole('button', { name: 'Release hold' }).waitFor()
  o = await offeredOnce(anna.page, ['Cancel order'])
  assert.is(o.disabled['Send to supplier'], 'The order is on hold (Budget): release the hold to send to supplier.')
  assert.is(o.disabled.Confirm, 'The order is on hold (Budget): release the hold to confirm.')
  await anna.page.getByRole('button', { name: 'Release hold' }).click()
  await anna.page.getByText('Put on hold…').waitFor()
  await noRefusal(anna.page, 'holding and releasing')

  // Above the threshold: Confirm is not offered, submitting for approval is.
  await editLine(anna, 'Unit price', 'line 1 (Rohre)', '1.000,00', '1000,00')
  await untilText(anna.page, 'total', `10.000,00${NBSP}€`)
  o = await offeredOnce(anna.page, ['Send to supplier', 'Submit for approval', 'Cancel order'])
  assert.is(o.disabled.Confirm, `Above the approval threshold of 5.000,00${NBSP}€: submit it for approval.`)
  await anna.page.screenshot({ path: join(ARTIFACTS, 'forms-above-threshold-de-DE.png'), fullPage: true })
  await lifecycle(anna, 'Submit for approval', 'To approve')
  await offeredOnce(anna.page, ['Approve', 'Reject', 'Cancel order'])
  await lifecycle(anna, 'Approve', 'Confirmed')

  // Confirmed above the threshold (approved): receipts and payments open; nothing is received, so nothing can be billed.
  o = await offeredOnce(anna.page, ['Lock', 'Close', 'Cancel order'])
  assert.equal(o.disabled, { 'Record bill': 'Nothing left to bill: goods are billed once they are received.' })
  await submitForm(anna.page.getByTestId('receipt-form'), [['Quantity received', '4'], ['Delivery note', 'LS-1']], 'Record receipt')
  await anna.page.getByTestId('receipts').getByText('LS-1').waitFor()
  await noRefusal(anna.page, 'a receipt')
  o = await offeredOnce(anna.page, ['Lock', 'Close'], 'an order with a receipt cannot be cancelled: the button says so')
  assert.is(o.disabled['Cancel order'], 'Goods were received, billed or paid: return and refund them first, or close the order.')
  assert.not.ok('Record bill' in o.disabled, 'received goods can be billed')

  // Locked: nothing of the order changes, not even the stated total; goods and money still come in.
  await lifecycle(anna, 'Lock', 'Locked')
  o = await offeredOnce(anna.page, ['Unlock'])
  assert.equal(o.disabled, { 'Commit to this total': 'The order is locked: unlock it to change the stated total.' })
  assert.is(await textOf(anna.page.getByTestId('why-header')), 'The order is locked: unlock it to change the order.')
  assert.is(await textOf(anna.page.getByTestId('why-lines')), 'The order is locked: unlock it to change its lines.')
  assert.is(await anna.page.getByTestId('add-line').count(), 0, 'no line form on a locked order')
  assert.ok(await anna.page.getByLabel('Supplier', { exact: true }).isDisabled(), 'the supplier cannot be edited')
  await submitForm(anna.page.getByTestId('payment-form'), [[/^Amount/, '2.500,00'], ['Payment ref.', 'Ü-1']], 'Record payment')
  await untilText(anna.page, 'total-paid', `2.500,00${NBSP}€`)
  await noRefusal(anna.page, 'a payment on a locked order')
  await assertPlainText(anna.page, 'a locked order', [250000n, 500000n, 1000000n])
  await anna.page.screenshot({ path: join(ARTIFACTS, 'forms-locked-de-DE.png'), fullPage: true })

  // Closed: no receipts; a bill and the rest of the payment are still taken, then nothing is due.
  await lifecycle(anna, 'Unlock', 'Confirmed')
  await lifecycle(anna, 'Close', 'Closed')
  o = await offeredOnce(anna.page, ['Reopen'])
  assert.is(o.disabled['Record receipt'], 'The order is closed: reopen it to receive goods.')
  assert.is(await textOf(anna.page.getByTestId('why-lines')), 'The order is closed: reopen it to change its lines.')
  await submitForm(anna.page.getByTestId('bill-form'), [['Quantity billed', '4'], ['Supplier bill ref.', 'RE-9']], 'Record bill')
  await anna.page.getByTestId('bills').getByText('RE-9').waitFor()
  await submitForm(anna.page.getByTestId('payment-form'), [[/^Amount/, '7.500,00'], ['Payment ref.', 'Ü-2']], 'Record payment')
  await untilText(anna.page, 'total-due', `0,00${NBSP}€`)
  await noRefusal(anna.page, 'a bill and a payment on a closed order')
  o = await offeredOnce(anna.page, ['Reopen'])
  assert.is(o.disabled['Record payment'], 'The order is closed and nothing is due: no more payments.')
  assert.is(o.disabled['Record bill'], 'Nothing left to bill: goods are billed once they are received.')
  await assertPlainText(anna.page, 'a closed, paid order')
  await anna.page.screenshot({ path: join(ARTIFACTS, 'forms-closed-de-DE.png'), fullPage: true })
})

t('de-DE: a line at 19 % and one at a custom 7,7 % rate with a name; the totals by rate', async (ctx) => {
  const anna = await device(ctx, 'Anna')
  await create(anna, 'Steuer GmbH')
  const form = anna.page.getByTestId('add-line')
  await form.getByLabel('Tax', { exact: true }).selectOption({ label: 'VAT 19 %' })
  await addLine(anna, { product: 'Schrauben', qty: '10', price: '100,00' })
  // Another rate, named, typed the German way.
  await form.getByLabel('Tax', { exact: true }).selectOption({ label: 'Other rate…' })
  await form.getByLabel('Tax name').fill('MWST Schweiz')
  await form.getByLabel('Tax rate %').fill('7,7')
  await addLine(anna, { product: 'Muttern', qty: '5', price: '200,00' })
  await untilText(anna.page, 'total-untaxed', `2.000,00${NBSP}€`)
  await untilText(anna.page, 'total-tax', `267,00${NBSP}€`)
  await untilText(anna.page, 'total', `2.267,00${NBSP}€`)
  const taxes = await anna.page.locator('[data-testid="totals"] dt.sub').allTextContents()
  assert.equal(taxes, ['MWST Schweiz 7,7 %', 'VAT 19 %'], 'the taxes by name and rate, lowest rate first')
  const subs = await anna.page.locator('[data-testid="totals"] dd.sub').allTextContents()
  assert.equal(subs, [`77,00${NBSP}€`, `190,00${NBSP}€`])

  // The custom rate is now offered on the other line too, and one more rate can be typed on a line itself.
  const add = anna.page.getByLabel('Add a tax to line 1 (Schrauben)')
  assert.ok((await add.locator('option').allTextContents()).includes('MWST Schweiz 7,7 %'), 'the order\'s own rate is offered')
  await add.selectOption({ label: 'Other rate…' })
  const other = anna.page.getByRole('form', { name: 'Add a tax to line 1 (Schrauben)' })
  await other.getByLabel('Tax name').fill('Umweltabgabe')
  await other.getByLabel('Tax rate %').fill('2,5')
  await other.getByRole('button', { name: 'Add tax' }).click()
  await untilText(anna.page, 'total-tax', `292,00${NBSP}€`)
  const chips = await textOf(anna.page.getByTestId('line-row').first().locator('.chips'))
  assert.ok(chips.includes('VAT 19 %') && chips.includes('Umweltabgabe 2,5 %'), chips)
  // A rate that is not a German number is refused before anything is written.
  await anna.page.getByLabel('Add a tax to line 2 (Muttern)').selectOption({ label: 'Other rate…' })
  const bad = anna.page.getByRole('form', { name: 'Add a tax to line 2 (Muttern)' })
  await bad.getByLabel('Tax name').fill('Falsch')
  await bad.getByLabel('Tax rate %').fill('7.7')
  await bad.getByRole('button', { name: 'Add tax' }).click()
  await bad.getByRole('alert').waitFor()
  await untilText(anna.page, 'total-tax', `292,00${NBSP}€`, 'nothing saved by the refused rate')
  await assertPlainText(anna.page, 'German editor with custom taxes', [29200n, 226700n])
})

async function noSidewaysScroll(page: Page, where: string): Promise<void> {
  const m = await page.evaluate(() => {
    const root = document.documentElement
    // Every card stays inside the page: none is wider than the viewport or sticks out to the right.
    const cards = [...document.querySelectorAll<HTMLElement>('.card, .lifecycle, .doc-sync, [data-testid="line-row"]')]
      .map((c) => ({ name: c.querySelector('h2')?.textContent ?? c.className, right: c.getBoundingClientRect().right, scroll: c.scrollWidth, client: c.clientWidth }))
    return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, cards }
  })
  assert.ok(m.scrollWidth <= m.clientWidth, `${where}: the page scrolls sideways (${m.scrollWidth} > ${m.clientWidth})`)
  for (const c of m.cards) {
    assert.ok(c.right <= m.clientWidth + 0.5, `${where}: ${c.name} ends at ${c.right}, beyond ${m.clientWidth}`)
    assert.ok(c.scroll <= c.client + 1, `${where}: the content of ${c.name} overflows it (${c.scroll} > ${c.client})`)
  }
}

t('an amount of 999.999.999.999,99 € and more stays inside its card at 360 and 1280 px; the page never scrolls sideways', async (ctx) => {
  const anna = await device(ctx, 'Anna', { width: 1280, height: 900 })
  await create(anna, 'Sehr große Beträge Aktiengesellschaft')
  await anna.page.getByTestId('add-line').getByLabel('Tax', { exact: true }).selectOption({ label: 'VAT 19 %' })
  await addLine(anna, { product: 'Kraftwerk', qty: '1', price: '999.999.999.999,99' })
  await untilText(anna.page, 'total-untaxed', `999.999.999.999,99${NBSP}€`)
  await addLine(anna, { product: 'Netz', qty: '1.000', price: '999.999.999.999,99' })
  await untilText(anna.page, 'total-untaxed', `1.000.999.999.999.989,99${NBSP}€`)
  await lifecycle(anna, 'Confirm', 'Confirmed')
  await submitForm(anna.page.getByTestId('payment-form'), [[/^Amount/, '999.999.999.999,99'], ['Payment ref.', 'Anzahlung']], 'Record payment')
  await untilText(anna.page, 'total-paid', `999.999.999.999,99${NBSP}€`)
  await noSidewaysScroll(anna.page, '1280 px')
  await anna.page.screenshot({ path: join(ARTIFACTS, 'large-amounts-1280.png'), fullPage: true })

  await anna.page.setViewportSize({ width: 360, height: 780 })
  await until(anna.page, 'the phone layout', () => document.documentElement.clientWidth === 360, null)
  await noSidewaysScroll(anna.page, '360 px')
  await anna.page.screenshot({ path: join(ARTIFACTS, 'large-amounts-360.png'), fullPage: true })
  await assertPlainText(anna.page, 'large amounts on a phone')
})

t.run()
