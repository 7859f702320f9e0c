// Makes a fresh machine that has only Node.js and npm ready, then runs one command:
//   node scripts/bootstrap.mjs start   (npm run quickstart)  relay + web app on embedded SQLite
//   node scripts/bootstrap.mjs test    (npm run check)       everything `pnpm test` runs
// It installs pnpm (from the npm registry) when missing, the workspace dependencies, and for
// `test` Debian's Chromium for the browser tests (apt-get, when running as root); `test` runs
// through scripts/test-servers.mjs, which starts private Postgres and Redis servers when none answer.
import { execSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

const PNPM = '12.21.0'
const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const what = process.argv[2]
if (what !== 'start' && what !== 'test') {
  console.error('usage: node scripts/bootstrap.mjs start|test [args for the command]')
  process.exit(2)
}
const env = { ...process.env }
// pnpm does not read npm's nodedir setting: point node-gyp at the local headers so
// better-sqlite3 builds without downloading them.
if (existsSync('/usr/include/node') && !env.npm_config_nodedir) env.npm_config_nodedir = '/usr'

function run(cmd, args) {
  console.error(`> ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

function has(cmd) {
  try {
    execSync(`command -v ${cmd}`, { stdio: 'ignore', shell: '/bin/sh' })
    return true
  } catch {
    return false
  }
}

let pnpmVersion = ''
try {
  pnpmVersion = execSync('pnpm --version', { env, encoding: 'utf8' }).trim()
} catch {}
if (!pnpmVersion.startsWith('12.')) run('npm', ['install', '-g', `pnpm@${PNPM}`])
run('pnpm', ['install', '--frozen-lockfile'])
if (what === 'test' && !existsSync('/usr/bin/chromium')) {
  if (process.getuid?.() === 0 && has('apt-get')) {
    run('apt-get', ['update', '-qq'])
    run('apt-get', ['install', '-y', '-qq', 'chromium'])
  } else {
    console.error('The browser tests need Debian\'s Chromium at /usr/bin/chromium: run `sudo apt-get install chromium`.')
    process.exit(1)
  }
}
if (what === 'test') run(process.execPath, ['scripts/test-servers.mjs', '--', 'pnpm', 'test', ...process.argv.slice(3)])
else run('pnpm', [what, ...process.argv.slice(3)])
