/**
 * Real relay processes for integration tests: `node packages/relay/dist/cli.js`
 * on port 0 with a real SQLite data directory. The listening line (one JSON
 * log line with msg "listening") gives the URL. Every process started here is
 * killed when the test process exits, and temporary data directories are
 * removed; a relay that does not come up in time fails loudly with its output.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (test/dist/support/ is three levels down). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const RELAY_CLI = join(REPO_ROOT, 'packages/relay/dist/cli.js')

/** A test secret: long enough for HS256 (the relay refuses shorter ones). */
export const TEST_SECRET = 'concord-test-secret-0123456789-abcdefghijklmnop'

const live = new Set<ChildProcess>()
const tempDirs = new Set<string>()
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL')
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(prefix = 'concord-relay-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.add(d)
  return d
}

export interface RelayProcessOptions {
  /** Data directory (default: a fresh temporary one). Reuse it to restart on the same data. */
  readonly dataDir?: string
  /** TCP port (default 0: any free port). Pass a previous relay's port to restart it where clients expect it. */
  readonly port?: number
  /** HS256 secret; null starts the relay in demo mode (no secret, no key). Default TEST_SECRET. */
  readonly secret?: string | null
  /** More flags. */
  readonly args?: readonly string[]
  readonly env?: Readonly<Record<string, string>>
  /** How long to wait for the listening line. Default 15 s. */
  readonly timeoutMs?: number
}

export interface ExitInfo {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface RelayProcess {
  /** http://127.0.0.1:<port> */
  readonly url: string
  /** ws://127.0.0.1:<port> */
  readonly wsUrl: string
  readonly port: number
  readonly dataDir: string
  readonly secret: string | null
  readonly relayId: string
  readonly child: ChildProcess
  /** Everything the process printed so far (stdout and stderr). */
  output(): string
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>
  /** SIGTERM (graceful shutdown) and wait for the exit. */
  stop(): Promise<ExitInfo>
  /** SIGKILL: a crash, nothing flushed by the relay itself. */
  kill(): Promise<ExitInfo>
}

export async function startRelayProcess(options: RelayProcessOptions = {}): Promise<RelayProcess> {
  const dataDir = options.dataDir ?? tempDir()
  const secret = options.secret === undefined ? TEST_SECRET : options.secret
  const args = [RELAY_CLI, '--port', String(options.port ?? 0), '--host', '127.0.0.1', '--data', dataDir, ...(secret === null ? [] : ['--token-secret', secret]), ...(options.args ?? [])]
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...options.env }
  // A CONCORD_* variable of the caller's environment must not change the relay under test.
  for (const k of Object.keys(env)) if (k.startsWith('CONCORD_') && options.env?.[k] === undefined) delete env[k]
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let out = ''
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child)
      resolve({ code, signal })
    })
  })
  const timeoutMs = options.timeoutMs ?? 15_000
  const listening = await new Promise<{ url: string; relayId: string }>((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`relay did not print its listening line within ${timeoutMs} ms; output:\n${out}`))
    }, timeoutMs)
    const onLine = (line: string) => {
      if (!line.startsWith('{')) return
      try {
        const j = JSON.parse(line) as { msg?: string; url?: string; relayId?: string }
        if (j.msg === 'listening' && typeof j.url === 'string') {
          clearTimeout(timer)
          resolve({ url: j.url, relayId: String(j.relayId) })
        }
      } catch {
        // not a log line
      }
    }
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      buffered += d.toString()
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        onLine(buffered.slice(0, nl))
        buffered = buffered.slice(nl + 1)
      }
    })
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
    void exited.then((e) => {
      clearTimeout(timer)
      reject(new Error(`relay exited (code ${e.code}, signal ${e.signal}) before listening; output:\n${out}`))
    })
  })
  const port = Number(new URL(listening.url).port)
  const signal = (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig)
    return exited
  }
  return {
    url: listening.url,
    wsUrl: listening.url.replace(/^http/, 'ws'),
    port,
    dataDir,
    secret,
    relayId: listening.relayId,
    child,
    output: () => out,
    exited,
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
  }
}

/** Runs the CLI to completion (config errors, --help); the relay must exit by itself within timeoutMs. */
export async function runRelayCli(args: readonly string[], env: Readonly<Record<string, string>> = {}, timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const fullEnv: Record<string, string> = { ...(process.env as Record<string, string>) }
  for (const k of Object.keys(fullEnv)) if (k.startsWith('CONCORD_')) delete fullEnv[k]
  Object.assign(fullEnv, env)
  const child = spawn(process.execPath, [RELAY_CLI, ...args], { cwd: REPO_ROOT, env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`concord-relay ${args.join(' ')} did not exit within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`))
    }, timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      live.delete(child)
      resolve({ code, stdout, stderr })
    })
  })
}
