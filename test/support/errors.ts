/** What a call's typed error says: its code, or 'no error'. Anything thrown that is not a ConcordError fails the test. */
import * as assert from 'uvu/assert'
import { isConcordError } from '@concord/core'

export function errorCode(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    assert.ok(isConcordError(e), `expected a typed error, got ${String(e)}`)
    return e.code
  }
  return 'no error'
}
