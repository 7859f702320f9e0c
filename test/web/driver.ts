/**
 * Drives the web app in Debian's Chromium (playwright-core, no downloaded
 * browser) against a real relay process in demo mode. Every wait is for a
 * state with a timeout that fails loudly, naming what it waited for; nothing
 * sleeps.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { REPO_ROOT, type RelayProcess, startRelayProcess } from '../support/relay-process.js'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const ARTIFACTS = join(REPO_ROOT, 'test/artifacts')
/** Long enough for a loaded CI machine; a wait that times out fails the test with its description. */
export const MAX_FRAME_BYTES = 64 * 1024
export const WAIT_MS = Number(process.env.WEB_WAIT_MS ?? 20_000)

export interface Env {
  readonly relay: RelayProcess
  readonly browser: Browser
  close(): Promise<void>
}

export interface EnvOptions {
  /** The relay's data directory (default: a fresh temporary one): a test that prepared a store starts the app on it. */
  readonly dataDir?: string
}

export async function startEnv(options: EnvOptions = {}): Promise<Env> {
  const dist = join(REPO_ROOT, 'packages/web/dist/index.html')
  if (!existsSync(dist)) throw new Error(`${dist} is missing: build the web app first (node packages/web/build.mjs, part of pnpm build)`)
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`)
  mkdirSync(ARTIFACTS, { recursive: true })
  // Frames up to 64 KiB (the default is 4 MiB), so that a test can write a change the relay refuses.
  const relay = await startRelayProcess({ secret: null, args: ['--max-frame-bytes', String(MAX_FRAME_BYTES)], dataDir: options.dataDir })
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  })
  return {
    relay,
    browser,
    async close() {
      await browser.close()
      await relay.stop()
    },
  }
}

export interface Device {
  readonly name: string
  readonly context: BrowserContext
  readonly page: Page
  /** Page errors (uncaught exceptions) seen so far: a test fails if any appear. */
  readonly errors: string[]
}

/**
 * A new browser profile (its own IndexedDB, its own device): signs in with
 * `name`. The browser's language is `locale` (en-US unless a test asks for
 * another): the app writes and reads numbers in it.
 */
export async function openDevice(env: Env, name: string, path = '/', viewport = { width: 1280, height: 900 }, locale = 'en-US'): Promise<Device> {
  const context = await env.browser.newContext({ viewport, locale })
  context.setDefaultTimeout(WAIT_MS)
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(`${name}: ${e.stack ?? e.message}`))
  await page.goto(env.relay.url + path)
  await page.getByLabel('Your name').fill(name)
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByTestId('sync').waitFor()
  return { name, context, page, errors }
}

/** Waits until `check` (run in the page) returns true; fails with `what` and the last value seen. */
export async function until<A>(page: Page, what: string, check: (arg: A) => boolean, arg: A, timeout = WAIT_MS): Promise<void> {
  try {
    // The check runs in the page with a serialisable argument (playwright unboxes it to the same shape).
    await page.waitForFunction(check as (a: unknown) => boolean, arg as unknown, { timeout, polling: 100 })
  } catch (e) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`)
  }
}

export async function textOf(l: Locator): Promise<string> {
  return ((await l.textContent()) ?? '').trim()
}

export async function untilText(page: Page, testId: string, expected: string, what = `${testId} to read ${expected}`): Promise<void> {
  await until(page, what, ([id, v]) => document.querySelector(`[data-testid="${id}"]`)?.textContent?.trim() === v, [testId, expected] as const)
}

/** The doc's sync state as the editor shows it (data-state of the doc-sync box). */
export async function untilDocState(page: Page, state: string): Promise<void> {
  await until(page, `the purchase to be ${state}`, (s) => document.querySelector('[data-testid="doc-sync"]')?.getAttribute('data-state') === s, state)
}

export async function untilInputValue(page: Page, label: string, value: string): Promise<void> {
  await until(page, `input "${label}" to hold ${value}`, ([l, v]) => {
    const input = [...document.querySelectorAll('label')].find((x) => x.textContent === l)?.control as HTMLInputElement | null | undefined
    return input?.value === v
  }, [label, value] as const)
}

/** Creates a purchase with lines through the UI; returns its path (#/p/<id>). */
export async function createPurchase(d: Device, supplier: string, lines: readonly { product: string; qty: string; price: string }[]): Promise<string> {
  const p = d.page
  await p.getByRole('button', { name: 'New purchase' }).click()
  await p.getByLabel('Supplier').fill(supplier)
  await p.getByRole('button', { name: 'Create purchase' }).click()
  await p.getByTestId('editor').waitFor()
  for (const l of lines) await addLine(d, l)
  return new URL(p.url()).hash
}

export async function addLine(d: Device, l: { product: string; qty: string; price: string }): Promise<void> {
  const form = d.page.getByTestId('add-line')
  const before = await d.page.getByTestId('line-row').count()
  await form.getByLabel('Product').fill(l.product)
  await form.getByLabel('Quantity').fill(l.qty)
  await form.getByLabel('Unit price').fill(l.price)
  await form.getByRole('button', { name: 'Add line' }).click()
  await until(d.page, `line ${l.product} to be added`, (n) => document.querySelectorAll('[data-testid="line-row"]').length === n, before + 1)
}

/**
 * Types into a line field and leaves it with Enter: one command, as a person
 * would. The field then shows the saved value as the app writes it (`shown`:
 * "1.000,50" typed reads back "1000,50", without grouping).
 */
export async function editLine(d: Device, field: 'Quantity' | 'Unit price' | 'Discount percent', line: string, value: string, shown = value): Promise<void> {
  const input = d.page.getByLabel(`${field}, ${line}`, { exact: true })
  await input.fill(value)
  await input.press('Enter')
  await untilInputValue(d.page, `${field}, ${line}`, shown)
}

export async function setOfflineSwitch(d: Device, offline: boolean): Promise<void> {
  const sw = d.page.getByTestId('offline-switch')
  if ((await sw.getAttribute('aria-checked')) !== String(offline)) await sw.click()
  await until(d.page, `the offline switch to be ${offline ? 'on' : 'off'}`, (v) => document.querySelector('[data-testid="offline-switch"]')?.getAttribute('aria-checked') === v, String(offline))
  if (offline) await until(d.page, 'the sync indicator to say offline', () => document.querySelector('[data-testid="sync"]')?.getAttribute('data-state') === 'offline', null)
}

/** Ids of the open conflicts the editor lists, sorted. */
export async function conflictIds(page: Page): Promise<string[]> {
  return (await page.locator('[data-testid="conflict"]').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-kind')}:${e.getAttribute('data-id')}`))).sort()
}

export async function untilConflicts(page: Page, n: number, what: string): Promise<void> {
  await until(page, what, (k) => document.querySelectorAll('[data-testid="conflict"]').length === k, n)
}

/** Reads width and height from a PNG's IHDR chunk, after checking its signature. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
  if (bytes.length < 24 || sig.some((b, i) => bytes[i] !== b)) throw new Error('not a PNG file')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

/** Fills a form's fields (by label) and presses its button. */
export async function submitForm(form: Locator, fields: ReadonlyArray<readonly [label: string | RegExp, value: string]>, button: string): Promise<void> {
  for (const [label, value] of fields) await form.getByLabel(label).fill(value)
  await form.getByRole('button', { name: button }).click()
}

/** What no sentence on screen may hold: conflict and error codes, ULIDs and conflict ids, field keys, minor units. */
export const INTERNAL_PATTERNS: readonly RegExp[] = [
  /\b[A-Z]{2,}_[A-Z_]+\b/,
  /\b[0-9A-HJKMNP-TV-Z]{26}\b/,
  /\bc_[0-9a-zA-Z]+/,
  /\bh\.[a-zA-Z]+/,
  /\blines?\.[^\s.]+\.[a-zA-Z]+/,
  /minor units/i,
]

/**
 * Fails when the page's text outside <details> (the disclosures that keep
 * codes for support) holds an internal code, id, field key, or one of
 * `minorAmounts` written as bare minor units (12500n for €125.00).
 */
export async function assertPlainText(page: Page, where: string, minorAmounts: readonly bigint[] = []): Promise<void> {
  const text = await page.evaluate(() => {
    const clone = document.body.cloneNode(true) as HTMLElement
    for (const d of clone.querySelectorAll('details')) d.remove()
    // textContent, not innerText: it also holds what only a screen reader reads (sr-only labels, options of a select).
    return clone.textContent ?? ''
  })
  for (const p of INTERNAL_PATTERNS) {
    const m = p.exec(text)
    if (m !== null) throw new Error(`${where}: the page shows internal text ${JSON.stringify(m[0])} in …${text.slice(Math.max(0, m.index - 80), m.index + 80)}…`)
  }
  for (const a of minorAmounts) {
    const m = new RegExp(`(?<![\\d.,\\u00a0\\u202f ])${a}(?![\\d.,])`).exec(text)
    if (m !== null) throw new Error(`${where}: the page shows the minor-unit amount ${a} in …${text.slice(Math.max(0, m.index - 80), m.index + 80)}…`)
  }
}

/**
 * A browser suite on one relay: the devices a test opens go in `ctx.devices`,
 * are closed after it, and any uncaught error in their pages fails it.
 */
export function browserSuite(name: string) {
  const t = suite<{ env: Env; devices: Device[] }>(name)
  t.before(async (ctx) => {
    ctx.env = await startEnv()
    ctx.devices = []
  })
  t.after.each(async (ctx) => {
    const errors = ctx.devices.flatMap((d) => d.errors)
    for (const d of ctx.devices) await d.context.close()
    ctx.devices = []
    assert.equal(errors, [], 'no uncaught errors in the pages')
  })
  t.after(async (ctx) => {
    await ctx.env?.close()
  })
  return t
}
