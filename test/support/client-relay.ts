/**
 * Test support for the client suites, a thin layer over relay-process.ts: the
 * relay process as the client tests see it (a ws(s)://…/sync URL, restart on
 * the same port), HS256 tokens with the client tests' claims, and `waitFor`
 * with a description of the last state seen (the polling itself is the one in
 * native-test-client.ts).
 */
import { type ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'
import { SignJWT } from 'jose'
import { waitFor as waitForValue } from './native-test-client.js'
import { TEST_SECRET, startRelayProcess, tempDir } from './relay-process.js'

export { RELAY_CLI } from './relay-process.js'
/** The secret the relays started here verify tokens with. */
export const TOKEN_SECRET = TEST_SECRET

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

/** Starts the relay CLI (startRelayProcess) and resolves once it is listening. */
export async function startRelay(o: RelayStartOptions = {}): Promise<RelayProc> {
  const p = await startRelayProcess({
    dataDir: o.dataDir ?? tempDir('concord-client-relay-'),
    ...(o.port === undefined ? {} : { port: o.port }),
    secret: TOKEN_SECRET,
    args: o.extraArgs ?? [],
  })
  const http = new URL(p.url)
  const scheme = o.scheme ?? (http.protocol === 'https:' ? 'wss' : 'ws')
  return {
    url: `${scheme}://${http.host}/sync`,
    httpUrl: p.url,
    port: p.port,
    dataDir: p.dataDir,
    child: p.child,
    kill: async () => void (await p.kill()),
    stop: async () => void (await p.stop()),
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
 * Waits until `cond` is true (native-test-client's `waitFor` does the
 * polling); on a timeout the error also shows `describe()`, the last state.
 */
export async function waitFor(what: string, cond: () => boolean, describe: () => unknown = () => '', timeoutMs = 15_000): Promise<void> {
  let condThrew = false
  try {
    await waitForValue(what, () => {
      try {
        return cond()
      } catch (e) {
        condThrew = true
        throw e
      }
    }, timeoutMs)
  } catch (e) {
    if (condThrew) throw e
    let state: string
    try {
      state = JSON.stringify(describe(), (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v), 2)
    } catch {
      state = String(describe())
    }
    throw new Error(`${e instanceof Error ? e.message : String(e)}; last state: ${state}`)
  }
}
