// Runs a test command against a Postgres and a Redis that answer:
//   node scripts/test-servers.mjs [--] <command> [args...]
// It checks the servers the suites would use (scripts/test-server-urls.mjs: CONCORD_TEST_PG,
// CONCORD_TEST_REDIS, else the standard local ones) with a real query and a PING. For each
// that does not answer it starts a private one on a free port in a temporary directory,
// installing the binaries first when they are missing (Debian's apt-get, as root), and hands
// the command the URLs in CONCORD_TEST_PG / CONCORD_TEST_REDIS. The private servers are
// stopped and their directory removed when the command ends, fails or is interrupted; the
// command's exit code is this script's.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { accessSync, chownSync, chmodSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createConnection, createServer } from 'node:net'
import { constants, tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { PG_ENV, REDIS_ENV, testServerUrls } from './test-server-urls.mjs'

const root = resolve(dirname(new URL(import.meta.url).pathname), '..')
const args = process.argv.slice(2)
if (args[0] === '--') args.shift()
if (args.length === 0) {
  console.error('usage: node scripts/test-servers.mjs [--] <command> [args...]')
  process.exit(2)
}
// `pg` is the test package's dependency (this runs after `pnpm install`).
const pg = createRequire(join(root, 'test/package.json'))('pg')

function log(msg) {
  console.error(`test-servers: ${msg}`)
}

function executable(file) {
  try {
    accessSync(file, fsConstants.X_OK)
    return true
  } catch {
    return false
  }
}

function onPath(cmd) {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && executable(join(d, cmd)))
}

/** True when `url` accepts a connection and runs a query. */
async function pgAnswers(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

/** True when `url` answers PING with PONG (after AUTH when the URL holds a password). */
function redisAnswers(url) {
  const u = new URL(url)
  const command = (...parts) => `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`
  const auth = u.password ? command('AUTH', ...(u.username ? [decodeURIComponent(u.username)] : []), decodeURIComponent(u.password)) : ''
  return new Promise((done) => {
    const socket = createConnection({ host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) })
    let reply = ''
    const finish = (ok) => {
      socket.destroy()
      done(ok)
    }
    socket.setTimeout(3000, () => finish(false))
    socket.on('error', () => finish(false))
    socket.on('connect', () => socket.write(auth + command('PING')))
    socket.on('data', (d) => {
      reply += d
      if (reply.includes('+PONG')) finish(true)
      else if (reply.includes('-')) finish(false)
    })
  })
}

function freePort() {
  return new Promise((done, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => done(port))
    })
  })
}

/** initdb and postgres: on PATH, else in Debian's versioned directory (newest version). */
function postgresBinDir() {
  if (onPath('initdb') && onPath('postgres')) return ''
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base)
    .filter((v) => executable(join(base, v, 'bin/initdb')) && executable(join(base, v, 'bin/postgres')))
    .sort((a, b) => Number(b) - Number(a))
  return versions.length > 0 ? join(base, versions[0], 'bin') : undefined
}

// The cluster suite starts its own redis-server (on PATH) and reads streams with redis-cli,
// so the Redis binaries are needed even when a Redis answers.
function missingPackages(pgUp) {
  const missing = []
  if (!pgUp && postgresBinDir() === undefined) missing.push('postgresql')
  if (!onPath('redis-server') || !onPath('redis-cli')) missing.push('redis-server')
  return missing
}

function install(packages) {
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    const alternative = packages.includes('postgresql') ? `, or name a running Postgres in ${PG_ENV}=postgres://...` : ''
    log(`the tests need ${packages.join(' and ')} (Debian: \`sudo apt-get install -y ${packages.join(' ')}\`)${alternative};` +
      ' the cluster suite starts its own redis-server and reads streams with redis-cli, so Redis\'s binaries are needed even with a running Redis')
    process.exit(1)
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const cmdArgs of [['update', '-qq'], ['install', '-y', '-qq', ...packages]]) {
    log(`apt-get ${cmdArgs.join(' ')}`)
    const r = spawnSync('apt-get', cmdArgs, { stdio: 'inherit', env })
    if (r.status !== 0) {
      log(`apt-get ${cmdArgs[0]} failed (exit ${r.status})`)
      process.exit(1)
    }
  }
}

/** Resolves once `check()` holds; rejects when `child` exits first or after `ms`. */
async function waitUntil(what, child, check, logFile, ms = 30_000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break
    if (await check()) return
    await new Promise((r) => setTimeout(r, 200))
  }
  const output = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
  throw new Error(`${what} did not start (${child.exitCode !== null ? `exit ${child.exitCode}` : 'timed out'}):\n${output}`)
}

const started = [] // { name, child }: the private servers, stopped in reverse order
let workDir

/** Runs as `user` ({uid, gid}) when given (setpriv replaces itself with the command, so
 *  signals sent to the child reach the server itself). */
function spawnAs(user, cmd, cmdArgs, options) {
  if (user === undefined) return spawn(cmd, cmdArgs, options)
  return spawn('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', cmd, ...cmdArgs], options)
}

/** Runs `cmd` to its end, its output appended to `logFile`. Asynchronous, so that a signal
 *  meanwhile is handled: the child is listed with the servers, to be stopped with them. */
async function runAs(user, cmd, cmdArgs, logFile) {
  const out = openSync(logFile, 'a')
  const child = spawnAs(user, cmd, cmdArgs, { stdio: ['ignore', out, out], detached: true })
  started.push({ name: cmd, child })
  const code = await new Promise((done) => {
    child.on('error', (e) => done(e.message))
    child.on('exit', (c, signal) => done(c ?? signal))
  })
  if (code !== 0) throw new Error(`${cmd} failed (${code}):\n${readFileSync(logFile, 'utf8')}`)
}

// initdb and postgres refuse to run as root. As root, they run as the `postgres` user
// (Debian's package creates it), else as `nobody`, on a directory handed to that user;
// setpriv (util-linux, always on Debian) switches user without a login session or PAM.
function postgresUser() {
  if (process.getuid?.() !== 0) return undefined
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }))
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }))
      return { name, uid, gid }
    } catch {}
  }
  throw new Error('running as root, but there is neither a `postgres` nor a `nobody` user to run Postgres as')
}

async function startPostgres() {
  const bin = postgresBinDir()
  const exe = (name) => (bin ? join(bin, name) : name)
  const user = postgresUser()
  const dir = join(workDir, 'pg')
  mkdirSync(dir)
  if (user !== undefined) chownSync(dir, user.uid, user.gid)
  const logFile = join(workDir, 'postgres.log')
  await runAs(user, exe('initdb'), ['-D', join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], logFile)
  const port = await freePort()
  const out = openSync(logFile, 'a')
  // Durability settings off: a throwaway server for tests only.
  const child = spawnAs(user, exe('postgres'), ['-D', join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'], { stdio: ['ignore', out, out], detached: true })
  started.push({ name: 'postgres', child })
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`
  await waitUntil('postgres', child, () => pgAnswers(admin), logFile)
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  await client.query('CREATE DATABASE test')
  await client.end()
  const url = `postgres://postgres@127.0.0.1:${port}/test`
  log(`started a private Postgres (pid ${child.pid}, run as ${user?.name ?? 'this user'}) at ${url}`)
  return url
}

async function startRedis() {
  const dir = join(workDir, 'redis')
  mkdirSync(dir)
  const logFile = join(workDir, 'redis.log')
  const port = await freePort()
  const out = openSync(logFile, 'a')
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', out, out], detached: true })
  started.push({ name: 'redis-server', child })
  const url = `redis://127.0.0.1:${port}`
  await waitUntil('redis-server', child, () => redisAnswers(url), logFile)
  log(`started a private Redis (pid ${child.pid}) at ${url}`)
  return url
}

/** Stops the private servers (fast shutdown, then SIGKILL after 10 s) and removes their directory. */
async function stopServers() {
  for (const { name, child } of started.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((r) => child.once('exit', r))
    // SIGINT is Postgres's fast shutdown (it does not wait for clients); Redis exits on it too.
    child.kill('SIGINT')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
    log(`stopped the private ${name} (pid ${child.pid})`)
  }
  started.length = 0
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true })
}

let testChild
let stopping = false
async function shutDown(code) {
  if (stopping) return
  stopping = true
  await stopServers().catch((e) => log(`stopping the servers failed: ${e.stack ?? e}`))
  process.exit(code)
}
// The servers run in their own process group (a terminal's Ctrl-C does not reach them):
// a signal goes to the test command, and the servers stop once it has ended.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    log(`${signal}: stopping the tests and the private servers`)
    if (testChild !== undefined && testChild.exitCode === null) testChild.kill(signal)
    else void shutDown(128 + constants.signals[signal])
  })
}

try {
  let urls = testServerUrls()
  let [pgUp, redisUp] = await Promise.all([pgAnswers(urls.pg), redisAnswers(urls.redis)])
  const missing = missingPackages(pgUp)
  if (missing.length > 0) {
    install(missing)
    const still = missingPackages(pgUp)
    if (still.length > 0) throw new Error(`after apt-get install, the binaries of ${still.join(' and ')} are still not found (PATH, /usr/lib/postgresql/*/bin)`)
    // A package may start its own server on install: use it when it answers.
    ;[pgUp, redisUp] = await Promise.all([pgAnswers(urls.pg), redisAnswers(urls.redis)])
  }
  log(`Postgres at ${urls.pg}: ${pgUp ? 'answers' : 'no answer'}; Redis at ${urls.redis}: ${redisUp ? 'answers' : 'no answer'}`)
  if (!pgUp || !redisUp) {
    workDir = mkdtempSync(join(tmpdir(), 'concord-test-servers-'))
    chmodSync(workDir, 0o755) // the Postgres user must reach its directory inside
    urls = { pg: pgUp ? urls.pg : await startPostgres(), redis: redisUp ? urls.redis : await startRedis() }
  }
  const env = { ...process.env, [PG_ENV]: urls.pg, [REDIS_ENV]: urls.redis }
  testChild = spawn(args[0], args.slice(1), { cwd: process.cwd(), env, stdio: 'inherit' })
  const code = await new Promise((done) => {
    testChild.on('error', (e) => {
      log(`cannot run ${args[0]}: ${e.message}`)
      done(127)
    })
    testChild.on('exit', (c, signal) => done(c ?? 128 + (constants.signals[signal] ?? 0)))
  })
  await shutDown(code)
} catch (e) {
  // Once a signal is stopping everything, a server's start failing is its consequence.
  if (!stopping) log(e.stack ?? String(e))
  await shutDown(1)
}
