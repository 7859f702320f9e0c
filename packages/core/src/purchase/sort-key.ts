/**
 * Fractional indexing for line order: a key strictly between two others, so
 * moving a line writes one register instead of renumbering the rest. Keys are
 * base-36 digit strings that never end in "0", which keeps every gap
 * splittable. Two devices may pick the same key concurrently; readers then
 * order those lines by id.
 */
const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'

export function keyBetween(lower: string | null, upper: string | null): string {
  if (lower !== null && upper !== null && lower >= upper) throw new RangeError(`keyBetween: ${lower} >= ${upper}`)
  let prefix = ''
  let hi = upper
  for (let i = 0; ; i++) {
    const da = lower !== null && i < lower.length ? DIGITS.indexOf(lower[i]!) : 0
    const db = hi !== null && i < hi.length ? DIGITS.indexOf(hi[i]!) : DIGITS.length
    if (da === db) {
      prefix += DIGITS[da]
      continue
    }
    const mid = Math.floor((da + db) / 2)
    if (mid > da) return prefix + DIGITS[mid]
    // Adjacent digits: keep lower's digit and find room above the rest of lower.
    prefix += DIGITS[da]
    hi = null
  }
}
