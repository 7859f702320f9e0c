/**
 * A module of the web app's source, in Node: bundled with the web package's own
 * esbuild, with core left as an import (the compiled package, as the browser
 * gets it), written next to the compiled tests where '@concord/core' resolves,
 * and imported.
 */
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { REPO_ROOT } from '../support/relay-process.js'

export async function loadWebModule<T>(source: string): Promise<T> {
  const web = join(REPO_ROOT, 'packages/web')
  const { build } = createRequire(join(web, 'package.json'))('esbuild') as {
    build(o: Record<string, unknown>): Promise<{ outputFiles: { text: string }[] }>
  }
  const out = await build({
    entryPoints: [join(web, source)], bundle: true, format: 'esm', platform: 'node', write: false, logLevel: 'error',
    absWorkingDir: web, external: ['@concord/core'],
  })
  const file = join(REPO_ROOT, `test/dist/web/${basename(source, '.ts')}.bundle.mjs`)
  writeFileSync(file, out.outputFiles[0]!.text)
  return (await import(pathToFileURL(file).href)) as T
}
