/**
 * Tokens of the simulated world. jose signs and verifies with WebCrypto,
 * whose work completes on a thread pool at a time no seed decides, so the
 * world's relays take this verifier port instead: HMAC-SHA256 over the
 * claims (synchronous node:crypto), expiry read from the relay's virtual
 * clock, the same Session and AuthError codes as the real verifier.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Grant } from '@concord/core/protocol'
import { AuthError, type Session, type TokenVerifier } from '@concord/relay'

const SECRET = 'concord-simulation-secret'

interface Claims {
  readonly sub: string
  readonly grants: readonly Grant[]
  /** Epoch ms. */
  readonly exp: number
}

const sign = (body: string) => createHmac('sha256', SECRET).update(body).digest('base64url')

export function issueToken(claims: Claims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url')
  return `sim.${body}.${sign(body)}`
}

/** A token signed with another secret: what a forger would send. */
export function forgedToken(claims: Claims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url')
  return `sim.${body}.${createHmac('sha256', 'not-the-secret').update(body).digest('base64url')}`
}

export function simVerifier(now: () => number): TokenVerifier {
  return {
    mode: 'secret',
    async verify(token: string): Promise<Session> {
      const [scheme, body, mac] = typeof token === 'string' ? token.split('.') : []
      if (scheme !== 'sim' || body === undefined || mac === undefined) throw new AuthError('UNAUTHORIZED', 'invalid token: not a simulation token')
      const want = Buffer.from(sign(body))
      const got = Buffer.from(mac)
      if (want.length !== got.length || !timingSafeEqual(want, got)) throw new AuthError('UNAUTHORIZED', 'invalid token: signature verification failed')
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Claims
      if (claims.exp <= now()) throw new AuthError('TOKEN_EXPIRED', 'token expired')
      return { user: claims.sub, grants: claims.grants, expiresAt: claims.exp, admin: false }
    },
  }
}
