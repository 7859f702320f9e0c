/** Content hashes for deterministic ids: synchronous, the same in Node and browsers. */
import { digest } from 'lib0/hash/sha256'

const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz'

/** SHA-256 of the UTF-8 text, as lowercase Crockford base32 of the first 130 bits (26 characters). */
export function hashText(text: string): string {
  const bytes = digest(new TextEncoder().encode(text))
  let out = ''
  let acc = 0
  let bits = 0
  for (const b of bytes) {
    acc = (acc << 8) | b
    bits += 8
    while (bits >= 5 && out.length < 26) {
      bits -= 5
      out += BASE32[(acc >>> bits) & 31]
    }
    acc &= (1 << bits) - 1
    if (out.length >= 26) break
  }
  return out
}

export function sha256Hex(bytes: Uint8Array): string {
  return Array.from(digest(bytes), (b) => b.toString(16).padStart(2, '0')).join('')
}
