// Fails on import cycles between source modules (yjs v14 does the same in its
// lint). Reads every package's TypeScript sources, resolves relative imports
// and workspace package imports, and reports each cycle found.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs'
import { join, dirname, resolve, relative } from 'node:path'
import ts from 'typescript'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const srcDirs = ['packages/core/src', 'packages/relay/src', 'packages/client/src', 'packages/web/src', 'bench/src']
  .map((d) => join(root, d))
  .filter(existsSync)

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

const packageEntry = {
  '@concord/core': join(root, 'packages/core/src/index.ts'),
  '@concord/relay': join(root, 'packages/relay/src/index.ts'),
  '@concord/client': join(root, 'packages/client/src/index.ts'),
  '@concord/core/internal': join(root, 'packages/core/src/internal.ts'),
  '@concord/relay/internal': join(root, 'packages/relay/src/internal.ts'),
  '@concord/client/internal': join(root, 'packages/client/src/internal.ts'),
}

const files = srcDirs.flatMap((d) => walk(d))
const graph = new Map()
for (const file of files) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
  const deps = []
  for (const { fileName } of importedFiles) {
    let target
    if (fileName.startsWith('.')) {
      const base = resolve(dirname(file), fileName).replace(/\.js$/, '')
      target = [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')].find(existsSync)
    } else {
      target = packageEntry[fileName]
    }
    if (target) deps.push(target)
  }
  graph.set(file, deps)
}

// Tarjan's strongly connected components: any component larger than one file is a cycle.
let index = 0
const stack = []
const onStack = new Set()
const idx = new Map()
const low = new Map()
const cycles = []
function strong(v) {
  idx.set(v, index)
  low.set(v, index++)
  stack.push(v)
  onStack.add(v)
  for (const w of graph.get(v) ?? []) {
    if (!idx.has(w)) {
      strong(w)
      low.set(v, Math.min(low.get(v), low.get(w)))
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)))
  }
  if (low.get(v) === idx.get(v)) {
    const comp = []
    let w
    do {
      w = stack.pop()
      onStack.delete(w)
      comp.push(w)
    } while (w !== v)
    if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(comp)
  }
}
for (const v of graph.keys()) if (!idx.has(v)) strong(v)

// Dependencies point one way: web -> client -> core, relay -> core. The relay
// and the client share only core/protocol and never import each other.
const ALLOWED = {
  'packages/core': ['packages/core'],
  'packages/relay': ['packages/relay', 'packages/core'],
  'packages/client': ['packages/client', 'packages/core'],
  'packages/web': ['packages/web', 'packages/client', 'packages/core'],
  bench: ['bench', 'packages/core', 'packages/relay', 'packages/client'],
}
const packageOf = (f) => Object.keys(ALLOWED).find((p) => relative(root, f).startsWith(p + '/'))
const wrongWay = []
for (const [file, deps] of graph) {
  const from = packageOf(file)
  for (const d of deps) {
    const to = packageOf(d)
    if (from && to && !ALLOWED[from].includes(to)) wrongWay.push(`${relative(root, file)} imports ${relative(root, d)} (${from} may not depend on ${to})`)
  }
}
for (const w of wrongWay) console.error(`wrong-way dependency: ${w}`)

if (cycles.length > 0 || wrongWay.length > 0) {
  for (const c of cycles) console.error(`import cycle: ${c.map((f) => relative(root, f)).join(' <-> ')}`)
  process.exit(1)
}
console.log(`no import cycles in ${files.length} modules`)
