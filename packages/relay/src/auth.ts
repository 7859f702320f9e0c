/**
 * Signed tokens (jose). A token names its subject, the documents it covers
 * (exact ids, prefixes ending in `*`, or `*`), the rights it gives there
 * (read, write, resolve, approve), an expiry, and optionally `admin: true` for the
 * admin API. Two claim shapes are accepted:
 *
 *   { sub, docs: ["PO-2026-*", "abc"], rights: ["read", "write"], exp }
 *   { sub, grants: [{ doc: "*", rights: ["read"] }, ...], exp }
 *
 * Verification is HS256 with a shared secret, or ES256 / RS256 / EdDSA with
 * an SPKI public key (the algorithm follows from the key's type, so a token
 * cannot pick a weaker one).
 */
import { createPublicKey, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { type JWTPayload, SignJWT, errors as joseErrors, importSPKI, jwtVerify } from 'jose'
import { type Grant, type Right, RIGHTS } from '@concord/core/protocol'

export interface Session {
  /** The token's subject, for meta.user and logs; null if it has none. */
  readonly user: string | null
  readonly grants: readonly Grant[]
  /** Epoch milliseconds of expiry, or null for a token without `exp`. */
  readonly expiresAt: number | null
  /** True when the token opens the admin API. */
  readonly admin: boolean
}

/** Why a token was refused; `code` is the close / error code to send. */
export class AuthError extends Error {
  readonly code: 'UNAUTHORIZED' | 'TOKEN_EXPIRED'
  constructor(code: 'UNAUTHORIZED' | 'TOKEN_EXPIRED', message: string) {
    super(message)
    this.name = 'AuthError'
    this.code = code
  }
}

const DOC_PATTERN = /^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,127}\*?)$/

export interface TokenVerifier {
  /** Throws AuthError for a missing, forged, malformed or expired token. */
  verify(token: string): Promise<Session>
  /** Only in demo mode (a generated secret): signs tokens for /demo/token. */
  readonly sign?: (claims: TokenClaims, ttlSeconds: number) => Promise<string>
  readonly mode: 'secret' | 'public-key' | 'demo'
}

export interface TokenClaims {
  readonly sub?: string
  readonly docs?: readonly string[]
  readonly rights?: readonly Right[]
  readonly grants?: readonly Grant[]
  readonly admin?: boolean
}

function grantsOf(p: JWTPayload): Grant[] {
  const bad = (why: string): never => {
    throw new AuthError('UNAUTHORIZED', `token claims: ${why}`)
  }
  const rightsList = (v: unknown, where: string): Right[] => {
    if (!Array.isArray(v) || v.length === 0) bad(`${where} must be a non-empty array of read, write, resolve, approve`)
    const out = new Set<Right>()
    for (const r of v as unknown[]) {
      if (!RIGHTS.includes(r as Right)) bad(`${where} has unknown right ${JSON.stringify(r)}`)
      out.add(r as Right)
    }
    return RIGHTS.filter((r) => out.has(r))
  }
  const pattern = (v: unknown, where: string): string => {
    if (typeof v !== 'string' || !DOC_PATTERN.test(v)) bad(`${where} must be *, a document id, or an id prefix followed by *`)
    return v as string
  }
  if (p.grants !== undefined) {
    if (!Array.isArray(p.grants)) bad('grants must be an array')
    return (p.grants as unknown[]).map((g, i) => {
      const o = (typeof g === 'object' && g !== null ? g : bad(`grants[${i}] must be an object`)) as Record<string, unknown>
      return { doc: pattern(o.doc, `grants[${i}].doc`), rights: rightsList(o.rights, `grants[${i}].rights`) }
    })
  }
  if (p.docs === undefined) return []
  if (!Array.isArray(p.docs)) bad('docs must be an array')
  const rights = rightsList(p.rights, 'rights')
  return (p.docs as unknown[]).map((d, i) => ({ doc: pattern(d, `docs[${i}]`), rights }))
}

function sessionOf(p: JWTPayload): Session {
  if (p.sub !== undefined && (typeof p.sub !== 'string' || p.sub.length > 200)) throw new AuthError('UNAUTHORIZED', 'token claims: sub must be a short string')
  if (p.admin !== undefined && typeof p.admin !== 'boolean') throw new AuthError('UNAUTHORIZED', 'token claims: admin must be a boolean')
  return { user: p.sub ?? null, grants: grantsOf(p), expiresAt: typeof p.exp === 'number' ? p.exp * 1000 : null, admin: p.admin === true }
}

function algorithmOf(pem: string): 'ES256' | 'RS256' | 'EdDSA' {
  const key = createPublicKey(pem)
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('EC keys must be P-256 (ES256)')
      return 'ES256'
    case 'rsa':
      return 'RS256'
    case 'ed25519':
      return 'EdDSA'
    default:
      throw new Error(`unsupported public key type ${String(key.asymmetricKeyType)}`)
  }
}

export interface VerifierOptions {
  readonly secret?: string
  /** Path of a PEM SPKI public key. */
  readonly publicKeyFile?: string
  readonly issuer?: string
  readonly audience?: string
  /** The clock expiry is checked against, in epoch ms (default Date.now); the demo signer stamps by it too. */
  readonly now?: () => number
}

/** Builds the verifier; with neither secret nor key, a demo verifier with a random secret that can also sign. */
export async function createTokenVerifier(options: VerifierOptions): Promise<TokenVerifier> {
  const now = options.now ?? Date.now
  const checks = { ...(options.issuer ? { issuer: options.issuer } : {}), ...(options.audience ? { audience: options.audience } : {}) }
  const verifyWith = (key: Parameters<typeof jwtVerify>[1], algorithms: string[]) => async (token: string): Promise<Session> => {
    if (typeof token !== 'string' || token.length === 0) throw new AuthError('UNAUTHORIZED', 'no token')
    if (token.length > 16 * 1024) throw new AuthError('UNAUTHORIZED', 'token too long')
    try {
      const { payload } = await jwtVerify(token, key as never, { algorithms, ...checks, currentDate: new Date(now()) })
      return sessionOf(payload)
    } catch (e) {
      if (e instanceof AuthError) throw e
      if (e instanceof joseErrors.JWTExpired) throw new AuthError('TOKEN_EXPIRED', 'token expired')
      throw new AuthError('UNAUTHORIZED', `invalid token: ${(e as Error).message}`)
    }
  }
  if (options.publicKeyFile !== undefined) {
    const pem = readFileSync(options.publicKeyFile, 'utf8')
    const alg = algorithmOf(pem)
    const key = await importSPKI(pem, alg)
    return { mode: 'public-key', verify: verifyWith(key, [alg]) }
  }
  const demo = options.secret === undefined
  const secret = new TextEncoder().encode(options.secret ?? randomBytes(32).toString('base64url'))
  const verifier: TokenVerifier = {
    mode: demo ? 'demo' : 'secret',
    verify: verifyWith(secret, ['HS256']),
    ...(demo ? { sign: (claims: TokenClaims, ttl: number) => signToken(secret, claims, ttl, { ...checks, now }) } : {}),
  }
  return verifier
}

/**
 * Signs an HS256 token; `ttlSeconds` <= 0 makes one that is already expired
 * (tests). `extra.now` is the clock iat and exp count from, in epoch ms
 * (default Date.now).
 */
export async function signToken(
  secret: string | Uint8Array,
  claims: TokenClaims,
  ttlSeconds: number,
  extra: { issuer?: string; audience?: string; now?: () => number } = {},
): Promise<string> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret
  const now = Math.floor((extra.now ?? Date.now)() / 1000)
  let jwt = new SignJWT({ ...claims } as JWTPayload).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(now - 60).setExpirationTime(now + ttlSeconds)
  if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub)
  if (extra.issuer) jwt = jwt.setIssuer(extra.issuer)
  if (extra.audience) jwt = jwt.setAudience(extra.audience)
  return jwt.sign(key)
}
