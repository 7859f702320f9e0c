/**
 * @concord/client/node: what only Node has. SQLite storage (better-sqlite3),
 * the `ws` transport, and certificate pinning for wss://: the relay's
 * certificate must have the given SHA-256 fingerprint, and a mismatch is a
 * fatal error (PIN_MISMATCH) that the client does not retry.
 */
import { hostname } from 'node:os'
import type { PeerCertificate } from 'node:tls'
import WebSocket from 'ws'
import { createClient, type SyncClient } from './client.js'
import type { Lease, SeatLiveness } from './storage/seats.js'
import type { ClientOptions, WebSocketConstructor } from './types.js'

export { sqliteStorage } from './storage/sqlite.js'

/** `AB:CD:...` or `abcd...` (64 hex digits), compared without separators or case. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[^0-9a-fA-F]/g, '').toLowerCase()
  if (hex.length !== 64) throw new Error(`a SHA-256 fingerprint has 64 hex digits, got ${JSON.stringify(fp)}`)
  return hex
}

export interface NodeSocketOptions {
  /** SHA-256 fingerprint of the relay's certificate. */
  readonly pinSha256?: string
  /**
   * With a pin, accept a certificate that does not chain to a trusted CA
   * (a self-signed relay): the pin is then the whole check. Default false.
   */
  readonly pinOnly?: boolean
}

/** A WebSocket constructor over `ws`, pinning the certificate when asked. */
export function nodeWebSocket(options: NodeSocketOptions = {}): WebSocketConstructor {
  const pin = options.pinSha256 === undefined ? undefined : normalizeFingerprint(options.pinSha256)
  return class PinnedWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, {
        maxPayload: 64 * 1024 * 1024,
        ...(pin !== undefined && url.startsWith('wss:')
          ? {
              rejectUnauthorized: options.pinOnly !== true,
              checkServerIdentity: (_host: string, cert: PeerCertificate) => {
                const got = normalizeFingerprint(cert.fingerprint256 ?? '')
                if (got !== pin) {
                  const e = new Error(`certificate pin mismatch: the relay presented SHA-256 ${cert.fingerprint256}, the client expects ${options.pinSha256}`) as Error & { code: string }
                  e.code = 'PIN_MISMATCH'
                  return e
                }
                return undefined
              },
            }
          : {}),
        // ws hands these to tls.connect, whose checkServerIdentity returns an Error or undefined.
      } as WebSocket.ClientOptions)
      // tls.connect skips checkServerIdentity for a certificate that failed CA
      // verification (pinOnly, self-signed), so the pin is checked again here,
      // on every TLS upgrade, before the socket opens.
      if (pin !== undefined && url.startsWith('wss:')) {
        this.once('upgrade', (res) => {
          const sock = res.socket as import('node:tls').TLSSocket
          const cert = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : undefined
          const got = cert?.fingerprint256 === undefined ? '' : normalizeFingerprint(cert.fingerprint256)
          if (got !== pin) {
            const e = new Error(`certificate pin mismatch: the relay presented SHA-256 ${cert?.fingerprint256 ?? '(none)'}, the client expects ${options.pinSha256}`) as Error & { code: string }
            e.code = 'PIN_MISMATCH'
            this.emit('error', e)
            this.terminate()
          }
        })
      }
    }
  } as unknown as WebSocketConstructor
}

/**
 * Seat liveness in Node: a lease written by a process of this host that has
 * exited is free at once (a crashed or killed process does not hold its seat
 * until the lease expires). A reused pid reads as alive: the lease then
 * frees at expiry.
 */
export function processLiveness(): SeatLiveness {
  const host = hostname()
  return {
    pid: process.pid,
    host,
    gone(lease: Lease): boolean {
      if (lease.host !== host || lease.pid === undefined || lease.pid === process.pid) return false
      try {
        process.kill(lease.pid, 0)
        return false
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'ESRCH'
      }
    },
  }
}

/** createClient with the `ws` transport (and the certificate pin, if given) filled in. */
export function createNodeClient(options: ClientOptions & { readonly pinOnly?: boolean }): Promise<SyncClient> {
  return createClient({
    ...options,
    seatLiveness: options.seatLiveness ?? processLiveness(),
    WebSocket: options.WebSocket ?? nodeWebSocket({
      ...(options.pinSha256 !== undefined ? { pinSha256: options.pinSha256 } : {}),
      ...(options.pinOnly !== undefined ? { pinOnly: options.pinOnly } : {}),
    }),
  })
}
