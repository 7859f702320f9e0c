// Close codes: unique, in range, sendable with their reasons, and classified
// so that a client retries exactly the transient closes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ErrorCode } from '@concord/core'
import { type CloseCodeName, CLOSE, CLOSE_CODES, closeCodeForError, closeCodeInfo } from '@concord/core/protocol'

const STANDARD_SENT = new Set([1000, 1001, 1008, 1009, 1011])

test('every named code is unique, ours are in 4000-4999, and CLOSE and CLOSE_CODES agree', () => {
  const names = Object.keys(CLOSE) as CloseCodeName[]
  assert.equal(names.sort(), (Object.keys(CLOSE_CODES) as CloseCodeName[]).sort())
  const codes = names.map((n) => CLOSE[n])
  assert.is(new Set(codes).size, codes.length, 'codes are unique')
  for (const n of names) {
    const info = CLOSE_CODES[n]
    assert.is(info.code, CLOSE[n])
    assert.is(info.name, n)
    assert.ok(STANDARD_SENT.has(info.code) || (info.code >= 4000 && info.code <= 4999), `${n} = ${info.code}`)
    assert.ok(info.sendable)
    // RFC 6455: a close frame's reason is at most 123 bytes of UTF-8.
    assert.ok(new TextEncoder().encode(info.reason).length <= 123, n)
    assert.is(info.retryable, info.action === 'reconnect')
    assert.equal(closeCodeInfo(info.code), info)
  }
})

test('the brief\'s retry policy: transient closes reconnect, the rest do not', () => {
  const reconnect: CloseCodeName[] = ['GOING_AWAY', 'SHUTTING_DOWN', 'RATE_LIMITED', 'SLOW_CONSUMER', 'HANDSHAKE_TIMEOUT', 'INTERNAL']
  const stop: CloseCodeName[] = ['NORMAL', 'UNAUTHORIZED', 'FORBIDDEN', 'UNSUPPORTED_VERSION', 'MALFORMED', 'FRAME_TOO_LARGE', 'BACKEND_MISMATCH', 'POLICY_VIOLATION']
  for (const n of reconnect) assert.is(CLOSE_CODES[n].action, 'reconnect', n)
  for (const n of stop) assert.is(CLOSE_CODES[n].action, 'stop', n)
  assert.is(CLOSE_CODES.TOKEN_EXPIRED.action, 'refresh-token')
  assert.not.ok(CLOSE_CODES.TOKEN_EXPIRED.retryable)
  assert.is(reconnect.length + stop.length + 1, Object.keys(CLOSE).length, 'every code is classified above')
})

test('codes a browser or proxy produces are known; unknown codes reconnect', () => {
  assert.is(closeCodeInfo(1006).name, 'ABNORMAL')
  assert.ok(closeCodeInfo(1006).retryable)
  assert.not.ok(closeCodeInfo(1006).sendable)
  assert.not.ok(closeCodeInfo(1005).sendable)
  assert.is(closeCodeInfo(1002).action, 'stop')
  assert.ok(closeCodeInfo(1012).retryable)
  const unknown = closeCodeInfo(4999)
  assert.equal({ name: unknown.name, action: unknown.action, code: unknown.code }, { name: 'UNKNOWN', action: 'reconnect', code: 4999 })
})

test('typed errors map to the close code that says why', () => {
  const cases: [ErrorCode, CloseCodeName][] = [
    ['MALFORMED_FRAME', 'MALFORMED'],
    ['UNKNOWN_MESSAGE_TYPE', 'MALFORMED'],
    ['INVALID_EVENT', 'MALFORMED'],
    ['UNSUPPORTED_VERSION', 'UNSUPPORTED_VERSION'],
    ['FRAME_TOO_LARGE', 'FRAME_TOO_LARGE'],
    ['BACKEND_MISMATCH', 'BACKEND_MISMATCH'],
    ['CORRUPT_SNAPSHOT', 'INTERNAL'],
  ]
  for (const [code, name] of cases) assert.is(closeCodeForError(code), CLOSE_CODES[name], code)
})

test.run()
