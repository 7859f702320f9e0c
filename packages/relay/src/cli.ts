#!/usr/bin/env node
/**
 * concord-relay: parses flags and CONCORD_* variables, starts the relay, and
 * shuts it down gracefully on SIGTERM / SIGINT (exit 0). A bad setting stops
 * it before anything opens, with a message that names the setting (exit 2).
 */
import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { ConfigError, parseConfig, usage } from './config.js'

async function main(): Promise<void> {
  let parsed
  try {
    parsed = parseConfig(process.argv.slice(2))
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e
    process.stderr.write(`concord-relay: invalid setting ${e.message}\n`)
    process.exit(2)
  }
  if (parsed.kind === 'help') {
    process.stdout.write(`${usage()}\n`)
    return
  }
  if (parsed.kind === 'version') {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
    process.stdout.write(`${pkg.version}\n`)
    return
  }
  const { config, warnings } = parsed
  const log = pino({ level: config.logLevel, base: { service: 'concord-relay', pid: process.pid } })
  for (const w of warnings) log.warn(w)
  // Loaded after the settings are checked, so a bad setting is reported at once.
  const { startRelay } = await import('./server.js')
  let relay: Awaited<ReturnType<typeof startRelay>>
  try {
    relay = await startRelay(config, log)
  } catch (e) {
    log.fatal({ err: e }, 'the relay could not start')
    process.exit(1)
  }
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = true
    log.info({ signal }, 'signal received')
    relay.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((e: unknown) => {
  process.stderr.write(`concord-relay: ${(e as Error).stack ?? String(e)}\n`)
  process.exit(1)
})
