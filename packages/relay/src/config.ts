/**
 * The relay's settings: every one a command-line flag and a CONCORD_*
 * environment variable (the flag wins), validated at start. A typo'd flag, a
 * value that does not parse, or two settings that contradict each other stop
 * the relay with a message naming the setting; nothing is guessed.
 */
import { readFileSync } from 'node:fs'

export type StoreKind = 'sqlite' | 'memory' | 'postgres'
export type Durability = 'process' | 'power'
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface RelayConfig {
  /** Interface to listen on. */
  readonly host: string
  /** TCP port; 0 picks a free one (tests). */
  readonly port: number
  /** Directory of the embedded SQLite store (created if missing). */
  readonly dataDir: string
  /** sqlite (default, embedded), postgres (cluster mode) or memory (throwaway). */
  readonly store: StoreKind
  readonly postgresUrl: string | undefined
  readonly postgresSchema: string
  /** Redis for cross-relay fan-out in cluster mode; undefined: single relay. */
  readonly redisUrl: string | undefined
  readonly redisPrefix: string
  /** About how many notices the cluster's Redis stream keeps (XADD MAXLEN ~). */
  readonly redisStreamMaxLen: number
  /** SQLite: 'process' survives kill -9 of the relay (synchronous=NORMAL), 'power' fsyncs each commit group. */
  readonly durability: Durability
  /** HS256 secret; with neither it nor a public key the relay runs in demo mode. */
  readonly tokenSecret: string | undefined
  /** PEM (SPKI) public key for ES256 / RS256 / EdDSA tokens. */
  readonly tokenPublicKey: string | undefined
  readonly tokenIssuer: string | undefined
  readonly tokenAudience: string | undefined
  /** Largest WebSocket frame accepted (ws maxPayload). */
  readonly maxFrameBytes: number
  /** A native connection must send hello (and be authorized) within this time. */
  readonly handshakeTimeoutMs: number
  /** What a connection may send before it is authorized. */
  readonly preAuthMaxBytes: number
  /** Token bucket per connection: messages per second, and the burst. */
  readonly rateLimitPerSecond: number
  readonly rateLimitBurst: number
  /** A socket whose unsent bytes exceed this is closed with SLOW_CONSUMER. */
  readonly slowConsumerBytes: number
  /** A document nobody uses for this long is unloaded after a snapshot. */
  readonly idleUnloadMs: number
  /** A snapshot is written after this many events since the last one. */
  readonly snapshotEvery: number
  /** Events per frame in a catch-up. */
  readonly catchUpPageSize: number
  readonly logLevel: LogLevel
  readonly tlsCert: string | undefined
  readonly tlsKey: string | undefined
  /** Static files of the web app; undefined: packages/web/dist next to the relay, when it exists. */
  readonly webDir: string | undefined
  /**
   * Whether a y-websocket room that holds no purchase takes other Yjs content
   * (a plain Yjs app, the benchmarks). Off by default: the relay then keeps
   * purchases only. Either way a raw update never creates a purchase.
   */
  readonly genericRooms: boolean
}

export class ConfigError extends Error {
  readonly setting: string
  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`)
    this.name = 'ConfigError'
    this.setting = setting
  }
}

type Parse = (raw: string, setting: string) => unknown
interface Spec {
  readonly flag: string
  readonly key: keyof RelayConfig
  readonly help: string
  readonly parse: Parse
  readonly fallback: unknown
}

const int = (min: number, max: number): Parse => (raw, setting) => {
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(setting, `must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(setting, `must be an integer from ${min} to ${max}, got ${raw}`)
  return n
}
const oneOf = (...values: string[]): Parse => (raw, setting) => {
  if (!values.includes(raw)) throw new ConfigError(setting, `must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`)
  return raw
}
const text: Parse = (raw, setting) => {
  if (raw.length === 0) throw new ConfigError(setting, 'must not be empty')
  return raw
}
const secret: Parse = (raw, setting) => {
  if (raw.length < 32) throw new ConfigError(setting, 'must be at least 32 characters (HS256 needs a 256-bit secret)')
  return raw
}
const pemFile: Parse = (raw, setting) => {
  let pem: string
  try {
    pem = readFileSync(raw, 'utf8')
  } catch (e) {
    throw new ConfigError(setting, `cannot read ${raw}: ${(e as Error).message}`)
  }
  if (!pem.includes('-----BEGIN')) throw new ConfigError(setting, `${raw} is not a PEM file`)
  return raw
}
const redisUrl: Parse = (raw, setting) => {
  if (!/^rediss?:\/\/[^\s]+$/.test(raw)) throw new ConfigError(setting, `must be a redis:// or rediss:// URL, got ${JSON.stringify(raw)}`)
  return raw
}
const bool: Parse = (raw, setting) => {
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(setting, `must be true or false, got ${JSON.stringify(raw)}`)
  return raw === 'true'
}
const schema: Parse = (raw, setting) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(raw)) throw new ConfigError(setting, 'must be a lower-case SQL identifier')
  return raw
}

const MB = 1024 * 1024
const SPECS: readonly Spec[] = [
  { flag: 'host', key: 'host', help: 'interface to listen on', parse: text, fallback: '127.0.0.1' },
  { flag: 'port', key: 'port', help: 'TCP port (0: any free port)', parse: int(0, 65535), fallback: 8787 },
  { flag: 'data', key: 'dataDir', help: 'data directory of the SQLite store', parse: text, fallback: './concord-data' },
  { flag: 'store', key: 'store', help: 'sqlite | postgres | memory', parse: oneOf('sqlite', 'postgres', 'memory'), fallback: 'sqlite' },
  { flag: 'postgres-url', key: 'postgresUrl', help: 'postgres://... (store=postgres)', parse: text, fallback: undefined },
  { flag: 'postgres-schema', key: 'postgresSchema', help: 'schema of the Postgres store', parse: schema, fallback: 'concord' },
  { flag: 'redis-url', key: 'redisUrl', help: 'redis://... for cross-relay fan-out (cluster mode, needs --store postgres)', parse: redisUrl, fallback: undefined },
  { flag: 'redis-prefix', key: 'redisPrefix', help: 'Redis key and channel prefix (one per cluster sharing a Redis)', parse: text, fallback: 'concord:' },
  { flag: 'redis-stream-maxlen', key: 'redisStreamMaxLen', help: 'about how many notices the cluster\'s Redis stream keeps (a relay cut off for longer catches up from Postgres)', parse: int(1, 1_000_000_000), fallback: 100_000 },
  { flag: 'durability', key: 'durability', help: 'process (survives kill -9) | power (fsync per commit group)', parse: oneOf('process', 'power'), fallback: 'process' },
  { flag: 'token-secret', key: 'tokenSecret', help: 'HS256 token secret (32+ characters)', parse: secret, fallback: undefined },
  { flag: 'token-public-key', key: 'tokenPublicKey', help: 'PEM file of an SPKI public key (ES256, RS256, EdDSA)', parse: pemFile, fallback: undefined },
  { flag: 'token-issuer', key: 'tokenIssuer', help: 'required iss claim', parse: text, fallback: undefined },
  { flag: 'token-audience', key: 'tokenAudience', help: 'required aud claim', parse: text, fallback: undefined },
  { flag: 'max-frame-bytes', key: 'maxFrameBytes', help: 'largest WebSocket frame', parse: int(1024, 256 * MB), fallback: 4 * MB },
  { flag: 'handshake-timeout-ms', key: 'handshakeTimeoutMs', help: 'time to send hello and be authorized', parse: int(100, 600_000), fallback: 10_000 },
  { flag: 'preauth-max-bytes', key: 'preAuthMaxBytes', help: 'bytes a connection may send before it is authorized', parse: int(64, 64 * MB), fallback: 64 * 1024 },
  { flag: 'rate-limit', key: 'rateLimitPerSecond', help: 'messages per second per connection', parse: int(1, 1_000_000), fallback: 500 },
  { flag: 'rate-burst', key: 'rateLimitBurst', help: 'burst of messages per connection', parse: int(1, 10_000_000), fallback: 2000 },
  { flag: 'slow-consumer-bytes', key: 'slowConsumerBytes', help: 'unsent bytes after which a socket is closed', parse: int(1024, 1024 * MB), fallback: 16 * MB },
  { flag: 'idle-unload-ms', key: 'idleUnloadMs', help: 'unload documents unused for this long', parse: int(100, 86_400_000), fallback: 60_000 },
  { flag: 'snapshot-every', key: 'snapshotEvery', help: 'events between snapshots', parse: int(1, 10_000_000), fallback: 500 },
  { flag: 'catchup-page', key: 'catchUpPageSize', help: 'events per catch-up frame', parse: int(1, 10_000), fallback: 500 },
  { flag: 'log-level', key: 'logLevel', help: 'fatal | error | warn | info | debug | trace | silent', parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), fallback: 'info' },
  { flag: 'tls-cert', key: 'tlsCert', help: 'PEM certificate file (serve https/wss)', parse: pemFile, fallback: undefined },
  { flag: 'tls-key', key: 'tlsKey', help: 'PEM private key file', parse: pemFile, fallback: undefined },
  { flag: 'generic-rooms', key: 'genericRooms', help: 'true: y-websocket rooms without a purchase take any Yjs content', parse: bool, fallback: false },
  { flag: 'web-dir', key: 'webDir', help: 'static files of the web app', parse: text, fallback: undefined },
]

function envName(flag: string): string {
  return `CONCORD_${flag.toUpperCase().replace(/-/g, '_')}`
}

export function usage(): string {
  const lines = SPECS.map((s) => `  --${s.flag.padEnd(22)} ${envName(s.flag).padEnd(30)} ${s.help}${s.fallback === undefined ? '' : ` (default ${String(s.fallback)})`}`)
  return ['usage: concord-relay [flags]   (each flag also reads its CONCORD_* environment variable)', ...lines, '  --help', '  --version'].join('\n')
}

export type ParsedArgs = { readonly kind: 'run'; readonly config: RelayConfig; readonly warnings: readonly string[] } | { readonly kind: 'help' } | { readonly kind: 'version' }

/** Reads flags and environment. Throws ConfigError naming the setting at fault. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): ParsedArgs {
  const byFlag = new Map(SPECS.map((s) => [s.flag, s]))
  const given = new Map<Spec, { raw: string; setting: string }>()
  // Environment first; flags then override.
  const known = new Set(SPECS.map((s) => envName(s.flag)))
  // A typo'd variable would otherwise be silently ignored; it is only warned
  // about because other tools share the CONCORD_ prefix in an environment.
  const warnings = Object.keys(env)
    .filter((name) => name.startsWith('CONCORD_') && !known.has(name))
    .map((name) => `${name} is not a relay setting and is ignored`)
  for (const s of SPECS) {
    const raw = env[envName(s.flag)]
    if (raw !== undefined) given.set(s, { raw, setting: envName(s.flag) })
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--help' || arg === '-h') return { kind: 'help' }
    if (arg === '--version') return { kind: 'version' }
    if (!arg.startsWith('--')) throw new ConfigError(arg, 'unexpected argument (settings are --name value)')
    const eq = arg.indexOf('=')
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    const spec = byFlag.get(name)
    if (spec === undefined) {
      const near = [...byFlag.keys()].find((f) => editDistance(f, name) <= 2)
      throw new ConfigError(`--${name}`, `unknown flag${near === undefined ? '' : ` (did you mean --${near}?)`}; see --help`)
    }
    let raw: string
    if (eq >= 0) raw = arg.slice(eq + 1)
    else {
      const next = argv[i + 1]
      if (next === undefined) throw new ConfigError(`--${name}`, 'needs a value')
      raw = next
      i++
    }
    given.set(spec, { raw, setting: `--${name}` })
  }
  const out: Record<string, unknown> = {}
  for (const s of SPECS) {
    const g = given.get(s)
    out[s.key] = g === undefined ? s.fallback : s.parse(g.raw, g.setting)
  }
  const config = out as unknown as RelayConfig
  const settingOf = (flag: string) => given.get(byFlag.get(flag)!)?.setting ?? `--${flag}`
  if (config.tokenSecret !== undefined && config.tokenPublicKey !== undefined) {
    throw new ConfigError(settingOf('token-public-key'), 'give either a token secret or a public key, not both')
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new ConfigError(settingOf(config.tlsCert === undefined ? 'tls-key' : 'tls-cert'), 'TLS needs both --tls-cert and --tls-key')
  }
  if (config.store === 'postgres' && config.postgresUrl === undefined) throw new ConfigError(settingOf('postgres-url'), 'store=postgres needs a Postgres URL')
  if (config.store !== 'postgres' && config.redisUrl !== undefined) {
    throw new ConfigError(settingOf('redis-url'), 'cross-relay fan-out needs the shared Postgres store (--store postgres)')
  }
  if (config.rateLimitBurst < config.rateLimitPerSecond) throw new ConfigError(settingOf('rate-burst'), 'must be at least --rate-limit')
  return { kind: 'run', config, warnings }
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
  }
  return d[a.length]![b.length]!
}
