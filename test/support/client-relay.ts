/**
 * Test support for the client suites: a real relay process (the CLI on port
 * 0, with its own SQLite data directory), HS256 tokens minted with jose, and
 * `waitFor`, which polls a condition and fails loudly with a description of
 * what it was waiting for and the last state seen, instead of sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { SignJWT } from 'jose'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
export const RELAY_CLI = join(root, 'packages/relay/dist/cli.js')
export const TOKEN_SECRET = 'client-tests-secret-0123456789abcdefghij'

export interface RelayProc {
  /** ws://127.0.0.1:port/sync */
  readonly url: string
  readonly httpUrl: string
  readonly port: number
  readonly dataDir: string
  readonly child: ChildProcess
  /** SIGKILL, no flush: what a crash looks like. */
  kill(): Promise<void>
  /** SIGTERM: graceful shutdown. */
  stop(): Promise<void>
}

export interface RelayStartOptions {
  readonly dataDir?: string
  /** Reuse a port (restart the relay where clients expect it). */
  readonly port?: number
  readonly extraArgs?: readonly string[]
  readonly scheme?: 'ws' | 'wss'
}

/** Starts the relay CLI and resolves once it logs "listening". */
export async function startRelay(o: RelayStartOptions = {}): Promise<RelayProc> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'concord-client-relay-'))
  const args = [RELAY_CLI, '--port', String(o.port ?? 0), '--data', dataDir, '--token-secret', TOKEN_SECRET, '--log-level', 'info', ...(o.extraArgs ?? [])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += String(d)))
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const listening = await new Promise<{ url: string }>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`relay did not log "listening" within 15 s; stderr: ${stderr}`)), 15_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      rej(new Error(`relay exited with ${code} before listening; stderr: ${stderr}`))
    })
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => {
      try {
        const j = JSON.parse(line) as { msg?: string; url?: string }
        if (j.msg === 'listening' && typeof j.url === 'string') {
          clearTimeout(timer)
          res({ url: j.url })
        }
      } catch {
        // not a log line
      }
    })
  })
  const http = new URL(listening.url)
  const scheme = o.scheme ?? (http.protocol === 'https:' ? 'wss' : 'ws')
  const port = Number(http.port)
  const stopWith = async (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill(sig)
    await exited
  }
  return {
    url: `${scheme}://${http.host}/sync`,
    httpUrl: listening.url,
    port,
    dataDir,
    child,
    kill: () => stopWith('SIGKILL'),
    stop: () => stopWith('SIGTERM'),
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}

/** An HS256 token for the relay: `docs` are ids or prefixes ending in `*`. */
export async function mintToken(claims: {
  sub?: string; docs?: readonly string[]; rights?: readonly string[]; ttlSeconds?: number
  /** Per-pattern rights instead of docs + rights. */
  grants?: readonly { doc: string; rights: readonly string[] }[]
} = {}): Promise<string> {
  const body = claims.grants !== undefined ? { grants: claims.grants } : { docs: claims.docs ?? ['*'], rights: claims.rights ?? ['read', 'write', 'resolve'] }
  return new SignJWT(body)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub ?? 'tester')
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (claims.ttlSeconds ?? 3600))
    .sign(new TextEncoder().encode(TOKEN_SECRET))
}

/**
 * Polls `cond` (on timers and on every microtask turn of the test) until it is
 * true; fails after `timeoutMs` naming what it waited for and `describe()`.
 */
export async function waitFor(what: string, cond: () => boolean, describe: () => unknown = () => '', timeoutMs = 15_000): Promise<void> {
  const started = Date.now()
  while (!cond()) {
    if (Date.now() - started > timeoutMs) {
      let state: string
      try {
        state = JSON.stringify(describe(), (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v), 2)
      } catch {
        state = String(describe())
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last state: ${state}`)
    }
    await new Promise((r) => setTimeout(r, 5))
  }
}
