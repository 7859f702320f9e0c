/**
 * wss:// with certificate pinning (Node): the relay serves TLS with a
 * self-signed certificate made for the test; the right pin connects and
 * syncs, a wrong pin is a fatal, explained PIN_MISMATCH that is not retried.
 */
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { memoryStorage } from '@concord/client'
import { createNodeClient } from '@concord/client/node'
import { mintToken, removeDir, startRelay, waitFor } from '../support/client-relay.js'

test('the right pin syncs over wss; a wrong pin is fatal and explained', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'concord-client-tls-'))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
  const fingerprint = new X509Certificate(readFileSync(cert)).fingerprint256
  const relay = await startRelay({ extraArgs: ['--tls-cert', cert, '--tls-key', key] })
  try {
    assert.match(relay.url, /^wss:\/\//)
    const good = await createNodeClient({ url: relay.url, token: await mintToken(), storage: memoryStorage('pin-ok'), pinSha256: fingerprint, pinOnly: true })
    const h = await good.createPurchase({ currency: 'EUR' })
    await waitFor('synced over wss with the pinned certificate', () => good.status.overall === 'synced', () => good.status)
    await good.close()

    const wrong = fingerprint.replace(/^[0-9A-F]{2}/, (x) => (x === '00' ? '01' : '00'))
    const bad = await createNodeClient({ url: relay.url, token: await mintToken(), storage: memoryStorage('pin-bad'), pinSha256: wrong, pinOnly: true, retry: { initialDelayMs: 10 } })
    await bad.open(h.id)
    await waitFor('pin mismatch is fatal', () => bad.status.overall === 'error', () => bad.status)
    assert.is(bad.status.error?.code, 'PIN_MISMATCH')
    assert.ok(bad.status.error?.fatal)
    assert.is(bad.status.connection.attempt, 0, 'not retried')
    assert.match(bad.explain(h.id), /certificate pin mismatch/)
    await bad.close()
  } finally {
    await relay.stop()
    removeDir(relay.dataDir)
    removeDir(dir)
  }
})

test.run()
