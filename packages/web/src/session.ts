/**
 * Who is using this browser, and the connection to the relay. The user name
 * is asked once and kept in localStorage (per browser profile); the device
 * name comes from the user agent plus a short tag made once per profile, so
 * two windows of the same browser on two profiles read as two devices. The
 * "offline" switch is per tab (sessionStorage): it survives a reload of that
 * tab and nothing else.
 */
export interface Identity {
  readonly user: string
  readonly device: string
}

import { setLocale, validLocale } from './format.js'

const USER_KEY = 'concord.user'
const LOCALE_KEY = 'concord.locale'
const TAG_KEY = 'concord.deviceTag'
const OFFLINE_KEY = 'concord.offline'

function storageGet(store: Storage | undefined, key: string): string | null {
  try {
    return store?.getItem(key) ?? null
  } catch {
    return null
  }
}

function storageSet(store: Storage | undefined, key: string, value: string | null): void {
  try {
    if (value === null) store?.removeItem(key)
    else store?.setItem(key, value)
  } catch {
    // Private modes may refuse storage: the app still works for this page's life.
  }
}

/** "Chrome on Linux", "Safari on iPhone": what a colleague recognises in the audit trail. */
export function deviceNameFromUserAgent(ua: string): string {
  const browser = /Edg\//.test(ua) ? 'Edge'
    : /OPR\//.test(ua) ? 'Opera'
    : /Firefox\//.test(ua) ? 'Firefox'
    : /Chromium\//.test(ua) ? 'Chromium'
    : /(Chrome|CriOS)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari'
    : 'Browser'
  const os = /iPhone/.test(ua) ? 'iPhone'
    : /iPad/.test(ua) ? 'iPad'
    : /Android/.test(ua) ? 'Android'
    : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X|Macintosh/.test(ua) ? 'macOS'
    : /CrOS/.test(ua) ? 'ChromeOS'
    : /Linux/.test(ua) ? 'Linux'
    : 'unknown system'
  return `${browser} on ${os}`
}

function deviceTag(): string {
  let tag = storageGet(globalThis.localStorage, TAG_KEY)
  if (tag === null || !/^[0-9a-f]{4}$/.test(tag)) {
    const bytes = crypto.getRandomValues(new Uint8Array(2))
    tag = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
    storageSet(globalThis.localStorage, TAG_KEY, tag)
  }
  return tag
}

export function loadIdentity(): Identity | null {
  const user = storageGet(globalThis.localStorage, USER_KEY)
  if (user === null || user.trim() === '') return null
  return { user, device: `${deviceNameFromUserAgent(navigator.userAgent)} #${deviceTag()}` }
}

export function saveUser(name: string): Identity {
  const user = name.trim().slice(0, 80)
  storageSet(globalThis.localStorage, USER_KEY, user)
  return loadIdentity() ?? { user, device: deviceNameFromUserAgent(navigator.userAgent) }
}

export function forgetUser(): void {
  storageSet(globalThis.localStorage, USER_KEY, null)
}

export function tabOffline(): boolean {
  return storageGet(globalThis.sessionStorage, OFFLINE_KEY) === '1'
}

export function setTabOffline(on: boolean): void {
  storageSet(globalThis.sessionStorage, OFFLINE_KEY, on ? '1' : null)
}

/** The relay's native sync endpoint on the origin that served this page. */
export function syncUrl(loc: Location = location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/sync`
}

/**
 * A demo token from the relay. Only a relay in its embedded default mode
 * mints these; a production relay answers 404 and needs real tokens.
 */
export async function demoToken(identity: Identity): Promise<string> {
  let res: Response
  try {
    res = await fetch('/demo/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: identity.user, device: identity.device }),
      cache: 'no-store',
    })
  } catch (e) {
    throw new Error(`cannot reach the relay for a token: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (res.status === 404) throw new Error('this relay does not mint demo tokens: it needs a real token')
  if (!res.ok) throw new Error(`the relay refused a demo token (HTTP ${res.status})`)
  const body: unknown = await res.json()
  if (typeof body !== 'object' || body === null || typeof (body as { token?: unknown }).token !== 'string') {
    throw new Error('the relay answered /demo/token without a token')
  }
  return (body as { token: string }).token
}

/**
 * The locale numbers and amounts are written in: the browser's language,
 * unless this profile chose another (the menu, or `?locale=de-DE` in the URL,
 * kept in localStorage; `?locale=` with nothing goes back to the browser's).
 */
export function initLocale(loc: Location = location): string {
  const asked = new URLSearchParams(loc.search).get('locale')
  if (asked !== null) storageSet(globalThis.localStorage, LOCALE_KEY, validLocale(asked))
  return setLocale(storageGet(globalThis.localStorage, LOCALE_KEY))
}

export function chooseLocale(tag: string | null): void {
  storageSet(globalThis.localStorage, LOCALE_KEY, validLocale(tag))
  setLocale(tag)
}
