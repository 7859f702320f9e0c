/**
 * The relay's configuration is validated at start: a typo'd flag, a bad port,
 * a bad durability value (as a flag or a CONCORD_* variable) each stop it
 * with a non-zero exit and a message that names the setting.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runRelayCli, tempDir } from '../support/relay-process.js'

const cases: { name: string; args: string[]; env?: Record<string, string>; names: string }[] = [
  { name: "a typo'd flag", args: ['--prot', '8080'], names: '--prot' },
  { name: 'a port out of range', args: ['--port', '99999'], names: '--port' },
  { name: 'a port that is not a number', args: ['--port', 'eighty'], names: '--port' },
  { name: 'a bad durability', args: ['--durability', 'sometimes'], names: '--durability' },
  { name: 'a bad port in the environment', args: [], env: { CONCORD_PORT: '-1' }, names: 'CONCORD_PORT' },
  { name: 'a bad durability in the environment', args: [], env: { CONCORD_DURABILITY: 'disk' }, names: 'CONCORD_DURABILITY' },
  { name: 'a flag without its value', args: ['--data'], names: '--data' },
  { name: 'a short token secret', args: ['--token-secret', 'short'], names: '--token-secret' },
  { name: 'a missing public key file', args: ['--token-public-key', '/nonexistent/key.pem'], names: '--token-public-key' },
  { name: 'TLS with a certificate but no key', args: ['--tls-cert', '/nonexistent/cert.pem'], names: '--tls-cert' },
  { name: 'a stray argument', args: ['8080'], names: '8080' },
  { name: 'postgres without a URL', args: ['--store', 'postgres'], names: '--postgres-url' },
  { name: '--redis-url without --store postgres', args: ['--redis-url', 'redis://127.0.0.1:6379'], names: '--redis-url' },
]

for (const c of cases) {
  test(`${c.name} exits non-zero naming the setting`, async () => {
    const r = await runRelayCli(c.args.includes('--data') ? c.args : [...c.args, '--data', tempDir()], c.env)
    assert.ok(r.code !== 0 && r.code !== null, `exit code ${r.code}`)
    assert.ok(r.stderr.includes(c.names), `stderr names ${c.names}: ${r.stderr}`)
    assert.not.ok(r.stdout.includes('"listening"'), 'it never listened')
  })
}

test('--help lists every setting with its environment variable and exits 0', async () => {
  const r = await runRelayCli(['--help'])
  assert.is(r.code, 0)
  for (const s of ['--port', 'CONCORD_PORT', '--data', '--durability', '--token-secret', '--token-public-key', '--max-frame-bytes', '--tls-cert']) {
    assert.ok(r.stdout.includes(s), `help mentions ${s}`)
  }
})

test.run()
