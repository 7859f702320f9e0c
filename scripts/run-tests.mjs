// Runs every compiled test file under test/dist (uvu suites), each in its own
// process so that one crash cannot hide the others, two at a time (this
// machine has two cores). Arguments filter test files by substring.
// SEED is passed through; every random test prints SEED=n when it fails.
import { spawn } from 'node:child_process'
import { readdirSync, statSync, existsSync } from 'node:fs'
import { join, relative, resolve, dirname } from 'node:path'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const testRoot = join(root, 'test/dist')
const filters = process.argv.slice(2)
const parallel = Number(process.env.TEST_PARALLEL ?? 2)

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (name.endsWith('.test.js')) out.push(p)
  }
  return out
}

if (!existsSync(testRoot)) {
  console.error('test/dist does not exist: run `pnpm build` first')
  process.exit(1)
}
const files = walk(testRoot)
  .filter((f) => filters.length === 0 || filters.some((s) => relative(testRoot, f).includes(s)))
  .sort()
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`)
  process.exit(1)
}

function runFile(file, nodeArgs = []) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...nodeArgs, file], { cwd: root, env: process.env })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('close', (code) => done({ code, output }))
  })
}

const started = Date.now()
const failures = []
// The full-stack simulation prints `full-stack scenarios: N passed (...)` per backend.
const fullStack = []
let next = 0
async function worker() {
  while (next < files.length) {
    const file = files[next++]
    const name = relative(testRoot, file)
    const t0 = Date.now()
    const { code, output } = await runFile(file)
    const secs = ((Date.now() - t0) / 1000).toFixed(1)
    const plain = output.replace(/\x1b\[[0-9;]*m/g, '')
    const count = (label) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? NaN)
    const [total, passed, skipped] = [count('Total'), count('Passed'), count('Skipped')]
    // uvu exits 0 when it cannot print a failure (an error whose `details` is
    // no string, as a ConcordError's): every test must have passed, none skipped.
    const unaccounted = code === 0 && Number.isFinite(total) && (passed !== total || skipped > 0)
    for (const m of plain.matchAll(/full-stack scenarios: (\d+) passed \(([^)]*)\)/g)) fullStack.push({ n: Number(m[1]), detail: m[2] })
    if (code === 0 && !unaccounted) {
      console.log(`ok   ${name} (${Number.isFinite(total) ? total + ' tests, ' : ''}${secs}s)`)
    } else if (unaccounted) {
      failures.push(name)
      // Once more, with a preload that lets uvu print the error it choked on.
      const again = await runFile(file, ['--import', join(root, 'scripts/uvu-show-errors.mjs')])
      console.log(`FAIL ${name} (${secs}s): ${passed} of ${total} tests passed, ${skipped} skipped, and uvu printed no failure; a re-run that can print it:\n${again.output}`)
    } else {
      failures.push(name)
      console.log(`FAIL ${name} (${secs}s, exit ${code})\n${output}`)
    }
  }
}
await Promise.all(Array.from({ length: Math.min(parallel, files.length) }, worker))
if (fullStack.length > 0) {
  const n = fullStack.reduce((a, r) => a + r.n, 0)
  console.log(`\nfull-stack scenarios: ${n} passed\n${fullStack.map((r) => `  ${r.n}: ${r.detail}`).join('\n')}`)
}
console.log(`\n${files.length - failures.length}/${files.length} test files passed in ${((Date.now() - started) / 1000).toFixed(1)}s`)
if (failures.length > 0) {
  console.log(`failed: ${failures.join(', ')}`)
  process.exit(1)
}
