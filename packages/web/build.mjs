// Builds the web app into dist/ (served by the relay at /): index.html,
// app.js (Preact + the client + core, one ES module), app.css, and sw.js
// (the offline app shell). `--dev` builds the in-memory stand-in app into
// build/dev instead. Run after `tsc -b` (it bundles core and the client
// from their dist/ folders). Prints each file's size and gzip size.
import { build } from 'esbuild'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const here = dirname(fileURLToPath(import.meta.url))
const dev = process.argv.includes('--dev')
const out = join(here, dev ? 'build/dev' : 'dist')

// Core's Automerge backend imports '@automerge/automerge'. In the browser
// that import goes to src/automerge-lazy.js, which loads the real module
// (its base64 build: the wasm inline, no loader needed) as a separate chunk
// on first use, so the app's own bundle stays small.
const lazyAutomerge = {
  name: 'lazy-automerge',
  setup(b) {
    b.onResolve({ filter: /^@automerge\/automerge$/ }, () => ({ path: join(here, 'src/automerge-lazy.js') }))
    b.onResolve({ filter: /^automerge-real$/ }, async (args) => {
      const r = await b.resolve('@automerge/automerge/slim', { kind: args.kind, resolveDir: join(here, '../core') })
      if (r.errors.length > 0) return { errors: r.errors }
      return { path: r.path.replace(/slim\.js$/, 'fullfat_base64.js') }
    })
  },
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

const result = await build({
  absWorkingDir: here,
  entryPoints: [
    { in: dev ? 'src/dev.tsx' : 'src/main.tsx', out: 'app' },
    { in: 'src/styles.css', out: 'app' },
  ],
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome105', 'firefox110', 'safari16'],
  minify: !process.argv.includes('--no-minify'),
  legalComments: 'none',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': '"production"' },
  metafile: true,
  plugins: [lazyAutomerge],
  splitting: true,
  chunkNames: 'assets/[name]-[hash]',
  logLevel: 'warning',
})

const files = ['app.js', 'app.css']
const hash = createHash('sha256')
for (const f of files) hash.update(readFileSync(join(out, f)))
const version = hash.digest('hex').slice(0, 12)
// Precached by the service worker: everything but the lazily loaded Automerge chunk.
const chunks = Object.keys(result.metafile.outputs)
  .map((p) => relative(out, join(here, p)))
  .filter((p) => p.startsWith('assets/') && p.endsWith('.js') && !p.includes('fullfat'))
const shell = ['./', './index.html', `./app.js?v=${version}`, `./app.css?v=${version}`, ...chunks.map((c) => `./${c}`)]
for (const f of ['index.html', 'sw.js']) {
  writeFileSync(join(out, f), readFileSync(join(here, 'static', f), 'utf8').replaceAll('__VERSION__', version).replace('__SHELL__', JSON.stringify(shell)))
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`
let total = 0
let totalGz = 0
for (const f of [...files, 'index.html', 'sw.js']) {
  const body = readFileSync(join(out, f))
  const gz = gzipSync(body, { level: 9 }).length
  total += body.length
  totalGz += gz
  console.log(`${f.padEnd(11)} ${kb(body.length).padStart(10)}  gzip ${kb(gz).padStart(9)}`)
}
console.log(`${'total'.padEnd(11)} ${kb(total).padStart(10)}  gzip ${kb(totalGz).padStart(9)}  -> ${out}`)
if (process.argv.includes('--analyze')) {
  const inputs = Object.entries(result.metafile.outputs[Object.keys(result.metafile.outputs).find((k) => k.endsWith('app.js'))].inputs)
  const byPkg = new Map()
  for (const [path, { bytesInOutput }] of inputs) {
    const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(path)
    const key = m ? m[1] : path.startsWith('src/') ? '@concord/web' : path.split('/').slice(0, 3).join('/')
    byPkg.set(key, (byPkg.get(key) ?? 0) + bytesInOutput)
  }
  for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1])) console.log(`  ${kb(v).padStart(10)}  ${k}`)
}
