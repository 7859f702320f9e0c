/**
 * The KvBackend contract on indexedDbStorage, in Chromium: the contract's own
 * code (test/client/kv-contract.ts, through kv-page.ts) is bundled with the
 * web build's esbuild, served from 127.0.0.1 and run in a page, case by case.
 * Each case is a uvu test here, so a failure in the browser fails this test
 * with the case's name and its message. Every case uses its own database,
 * deleted afterwards.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { kvContractCases } from '../client/kv-contract.js'
import { REPO_ROOT } from '../support/relay-process.js'
import { CHROMIUM } from './driver.js'
import type { KvPageApi, KvPageResult } from './kv-page.js'

/** The part of esbuild's API used here (its types live with the web package). */
interface EsbuildPlugin {
  name: string
  setup(b: { onResolve(o: { filter: RegExp }, f: () => { path?: string; external?: boolean }): void }): void
}
type Build = (o: Record<string, unknown> & { plugins?: EsbuildPlugin[] }) => Promise<{ outputFiles: { contents: Uint8Array }[] }>

// esbuild is the web package's bundler; it is resolved from there rather than installed twice.
const esbuildPath = createRequire(join(REPO_ROOT, 'packages/web/package.json')).resolve('esbuild')
const { build } = (await import(pathToFileURL(esbuildPath).href)) as { build: Build }

// As in the web build (packages/web/build.mjs): core's Automerge import goes to the app's lazy stand-in.
// The contract never loads Automerge, so the real module is left out of the bundle.
const noAutomerge: EsbuildPlugin = {
  name: 'no-automerge',
  setup(b) {
    b.onResolve({ filter: /^@automerge\/automerge$/ }, () => ({ path: join(REPO_ROOT, 'packages/web/src/automerge-lazy.js') }))
    b.onResolve({ filter: /^automerge-real$/ }, () => ({ external: true }))
  },
}

const bundled = await build({
  entryPoints: [join(REPO_ROOT, 'test/dist/web/kv-page.js')],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome105'],
  // The page has no process: it gets this run's SEED and RUNS_SCALE (seed.ts reads them), so a failure replays.
  define: {
    'process.env.SEED': JSON.stringify(process.env.SEED ?? ''),
    'process.env.RUNS_SCALE': process.env.RUNS_SCALE === undefined ? 'undefined' : JSON.stringify(process.env.RUNS_SCALE),
  },
  plugins: [noAutomerge],
  logLevel: 'warning',
})
const script = bundled.outputFiles[0]!.contents

const server = createServer((req, res) => {
  if (req.url === '/kv.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
  } else if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>KvBackend contract</title><script type="module" src="/kv.js"></script>')
  } else {
    res.writeHead(404).end()
  }
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] })
const page = await browser.newPage()
const pageErrors: string[] = []
page.on('pageerror', (e) => pageErrors.push(e.stack ?? e.message))
await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
await page.waitForFunction(() => (globalThis as { kvContract?: unknown }).kvContract !== undefined, undefined, { timeout: 20_000 })

const s = suite('KvBackend contract: IndexedDB in Chromium')

s.after(async () => {
  await browser.close()
  await new Promise((resolve) => server.close(resolve))
})

s('the page runs the same cases as Node', async () => {
  const names = await page.evaluate(() => (globalThis as unknown as { kvContract: KvPageApi }).kvContract.names())
  assert.equal(names, kvContractCases().map((c) => c.name))
})

for (const { name } of kvContractCases()) {
  s(name, async () => {
    const before = pageErrors.length
    const r: KvPageResult = await page.evaluate((n) => (globalThis as unknown as { kvContract: KvPageApi }).kvContract.run(n), name)
    if (!r.ok) throw new Error(`in Chromium, IndexedDB: "${name}" failed: ${r.message}`)
    // An error thrown in an IndexedDB event handler surfaces only as an uncaught page error.
    assert.equal(pageErrors.slice(before), [], `"${name}" left uncaught errors in the page`)
  })
}

s.run()
