/**
 * Saved documents start with a small header naming their backend, so that
 * opening a Yjs document with Automerge (or the reverse) fails with a clear
 * BACKEND_MISMATCH instead of a decoder's stack trace, and garbage fails with
 * CORRUPT_SNAPSHOT before any backend parses it.
 *
 * Byte 3 is the body's format: 1 is the backend's own save format (Yjs
 * update v1, Automerge's save); 2, Yjs only, is Yjs update v2, written since
 * it is several times smaller and faster to load for text typed out of
 * order. Both stay readable.
 */
import { fail } from '../errors.js'
import type { BackendName } from '../log/envelope.js'

const MAGIC = [0x43, 0x43, 0x44] // "CCD"
/** Body formats each backend reads (the first is what `wrapSnapshot` writes by default). */
const FORMATS: Record<BackendName, readonly number[]> = { yjs: [1, 2], automerge: [1] }
export const YJS_V2_FORMAT = 2
const CODES: Record<BackendName, number> = { yjs: 1, automerge: 2 }

export function wrapSnapshot(backend: BackendName, body: Uint8Array, format = 1): Uint8Array {
  if (!FORMATS[backend].includes(format)) fail('INVALID_ARGUMENT', `${backend} has no snapshot format ${format}`)
  const out = new Uint8Array(body.length + 5)
  out.set(MAGIC, 0)
  out[3] = format
  out[4] = CODES[backend]
  out.set(body, 5)
  return out
}

/** The body of a saved document, checked to be of the expected backend, and its format. */
export function unwrapSnapshotFormat(expected: BackendName, bytes: Uint8Array): { readonly body: Uint8Array; readonly format: number } {
  if (bytes.length < 5 || bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1] || bytes[2] !== MAGIC[2]) {
    fail('CORRUPT_SNAPSHOT', 'not a Concord document snapshot (bad magic bytes)')
  }
  const actual = (Object.keys(CODES) as BackendName[]).find((k) => CODES[k] === bytes[4])
  if (actual === undefined) fail('CORRUPT_SNAPSHOT', `unknown backend code ${String(bytes[4])}`)
  if (actual !== expected) {
    fail('BACKEND_MISMATCH', `this document is stored with ${actual}; it cannot be opened with ${expected}`, { actual, expected })
  }
  const format = bytes[3]!
  if (!FORMATS[actual].includes(format)) fail('CORRUPT_SNAPSHOT', `unsupported snapshot format ${String(format)}`)
  return { body: bytes.subarray(5), format }
}

/** The body of a saved document in its backend's own format (1); other formats are refused. */
export function unwrapSnapshot(expected: BackendName, bytes: Uint8Array): Uint8Array {
  const { body, format } = unwrapSnapshotFormat(expected, bytes)
  if (format !== 1) fail('CORRUPT_SNAPSHOT', `unsupported snapshot format ${String(format)}`)
  return body
}
