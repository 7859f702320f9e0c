import { fail } from './errors.js'

/** JSON values: what registers and records hold, identical in every backend. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json }
export type JsonObject = { readonly [key: string]: Json }

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * JSON with object keys sorted, so equal values have equal text on every replica.
 *
 * Only plain data renders: a Map, a Set, bytes, a class instance, a function,
 * a bigint or a non-finite number is refused with INVALID_ARGUMENT, because
 * JSON.stringify would render it as `{}`, `null` or nothing, and two different
 * values would compare equal. Undefined renders as JSON.stringify renders it
 * (an object key holding it is left out; elsewhere it is `null`).
 */
export function canonicalJson(v: unknown): string {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return JSON.stringify(v)
    case 'undefined':
      return 'null'
    case 'number':
      if (!Number.isFinite(v)) return fail('INVALID_ARGUMENT', `canonicalJson cannot render the number ${v}`)
      return JSON.stringify(v)
    case 'object': {
      if (v === null) return 'null'
      if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
      const proto: unknown = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) {
        const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object'
        return fail('INVALID_ARGUMENT', `canonicalJson renders plain data only, not a ${name}`)
      }
      const o = v as Record<string, unknown>
      const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort()
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`
    }
    default:
      return fail('INVALID_ARGUMENT', `canonicalJson cannot render a ${typeof v}`)
  }
}
