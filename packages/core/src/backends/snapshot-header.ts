/**
 * Saved documents start with a small header naming their backend, so that
 * opening a Yjs document with Automerge (or the reverse) fails with a clear
 * BACKEND_MISMATCH instead of a decoder's stack trace, and garbage fails with
 * CORRUPT_SNAPSHOT before any backend parses it.
 *
 * Bytes 0-2 are the magic "CCD", byte 4 the backend's snapshot code and
 * byte 3 the body's format, both as the registry (registry.ts) lists them:
 * format 1 is the backend's own save format (Yjs update v1, Automerge's
 * save); 2, Yjs only, is Yjs update v2, written since it is several times
 * smaller and faster to load for text typed out of order. Both stay readable.
 */
import { fail } from '../errors.js'
import { BACKENDS, type BackendName, backendOfSnapshotCode, parseBackendName } from './registry.js'

const MAGIC = [0x43, 0x43, 0x44] // "CCD"
export const YJS_V2_FORMAT = 2

/** A saved document: the header, then `body` in `format` (by default the backend's first format in the registry). */
export function wrapSnapshot(backend: BackendName, body: Uint8Array, format?: number): Uint8Array {
  const info = BACKENDS[parseBackendName(backend)]
  const formats: readonly number[] = info.snapshotFormats
  const f = format ?? formats[0]!
  if (!formats.includes(f)) fail('INVALID_ARGUMENT', `${backend} has no snapshot format ${f}`)
  const out = new Uint8Array(body.length + 5)
  out.set(MAGIC, 0)
  out[3] = f
  out[4] = info.snapshotCode
  out.set(body, 5)
  return out
}

/** The body of a saved document, checked to be of the expected backend, and its format. */
export function unwrapSnapshotFormat(expected: BackendName, bytes: Uint8Array): { readonly body: Uint8Array; readonly format: number } {
  if (bytes.length < 5 || bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== MAGIC[2]) {
    fail('CORRUPT_SNAPSHOT', 'not a Concord document snapshot (bad magic bytes)')
  }
  const actual = backendOfSnapshotCode(bytes[4]!)
  if (actual === undefined) fail('CORRUPT_SNAPSHOT', `unknown backend code ${String(bytes[4])}`)
  if (actual !== expected) {
    fail('BACKEND_MISMATCH', `this document is stored with ${actual}; it cannot be opened with ${expected}`, { actual, expected })
  }
  const format = bytes[3]!
  if (!(BACKENDS[actual].snapshotFormats as readonly number[]).includes(format)) fail('CORRUPT_SNAPSHOT', `unsupported snapshot format ${String(format)}`)
  return { body: bytes.subarray(5), format }
}

/** The body of a saved document in its backend's own format (1); other formats are refused. */
export function unwrapSnapshot(expected: BackendName, bytes: Uint8Array): Uint8Array {
  const { body, format } = unwrapSnapshotFormat(expected, bytes)
  if (format !== 1) fail('CORRUPT_SNAPSHOT', `unsupported snapshot format ${String(format)}`)
  return body
}
