/**
 * Saved documents start with a small header naming their backend, so that
 * opening a Yjs document with Automerge (or the reverse) fails with a clear
 * BACKEND_MISMATCH instead of a decoder's stack trace, and garbage fails with
 * CORRUPT_SNAPSHOT before any backend parses it.
 */
import { fail } from '../errors.js'
import type { BackendName } from '../log/envelope.js'

const MAGIC = [0x43, 0x43, 0x44] // "CCD"
const FORMAT = 1
const CODES: Record<BackendName, number> = { yjs: 1, automerge: 2 }

export function wrapSnapshot(backend: BackendName, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 5)
  out.set(MAGIC, 0)
  out[3] = FORMAT
  out[4] = CODES[backend]
  out.set(body, 5)
  return out
}

export function unwrapSnapshot(expected: BackendName, bytes: Uint8Array): Uint8Array {
  if (bytes.length < 5 || bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== MAGIC[2]) {
    fail('CORRUPT_SNAPSHOT', 'not a Concord document snapshot (bad magic bytes)')
  }
  if (bytes[3] !== FORMAT) fail('CORRUPT_SNAPSHOT', `unsupported snapshot format ${String(bytes[3])}`)
  const actual = (Object.keys(CODES) as BackendName[]).find((k) => CODES[k] === bytes[4])
  if (actual === undefined) fail('CORRUPT_SNAPSHOT', `unknown backend code ${String(bytes[4])}`)
  if (actual !== expected) {
    fail('BACKEND_MISMATCH', `this document is stored with ${actual}; it cannot be opened with ${expected}`, { actual, expected })
  }
  return bytes.subarray(5)
}
