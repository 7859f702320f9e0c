/**
 * Encryption at rest: AES-GCM through WebCrypto (the same API in browsers and
 * Node), with a key the application supplies. Each value gets a fresh random
 * 96-bit IV, and its table and key as additional data, so a value moved to
 * another key fails to decrypt instead of being read as the wrong record.
 * Keys (document ids, sequence numbers) stay readable: they are indexes.
 */
import { ConcordError } from '@concord/core'

const FORMAT = 1
const IV_BYTES = 12

export interface ValueCipher {
  encrypt(aad: string, plain: Uint8Array): Promise<Uint8Array>
  /** Throws ConcordError STORE_CORRUPT (reason CORRUPT) when the value does not authenticate. */
  decrypt(aad: string, sealed: Uint8Array): Promise<Uint8Array>
}

const enc = new TextEncoder()

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle
  if (s === undefined) {
    throw new ConcordError('INVALID_ARGUMENT', 'encryption at rest needs WebCrypto (crypto.subtle), which this runtime does not have')
  }
  return s
}

/** Imports raw key bytes (16 or 32) or takes an AES-GCM CryptoKey as it is. */
export async function importKey(key: CryptoKey | Uint8Array): Promise<CryptoKey> {
  if (key instanceof Uint8Array) {
    if (key.length !== 16 && key.length !== 32) {
      throw new ConcordError('INVALID_ARGUMENT', `encryptionKey must be 16 or 32 bytes (AES-128 or AES-256), got ${key.length}`, { field: 'encryptionKey' })
    }
    return subtle().importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt'])
  }
  const algo = (key as CryptoKey).algorithm as { name?: string } | undefined
  if (algo?.name !== 'AES-GCM') throw new ConcordError('INVALID_ARGUMENT', 'encryptionKey must be an AES-GCM CryptoKey or raw key bytes', { field: 'encryptionKey' })
  return key
}

export function aesGcmCipher(key: CryptoKey): ValueCipher {
  return {
    async encrypt(aad, plain) {
      const iv = globalThis.crypto.getRandomValues(new Uint8Array(IV_BYTES))
      const sealed = new Uint8Array(
        await subtle().encrypt({ name: 'AES-GCM', iv, additionalData: enc.encode(aad) }, key, plain as Uint8Array<ArrayBuffer>),
      )
      const out = new Uint8Array(1 + IV_BYTES + sealed.length)
      out[0] = FORMAT
      out.set(iv, 1)
      out.set(sealed, 1 + IV_BYTES)
      return out
    },
    async decrypt(aad, value) {
      if (value.length < 1 + IV_BYTES + 16 || value[0] !== FORMAT) {
        throw new ConcordError('STORE_CORRUPT', `encrypted value ${aad} is truncated or of an unknown format`, { reason: 'CORRUPT', record: aad })
      }
      try {
        return new Uint8Array(
          await subtle().decrypt(
            { name: 'AES-GCM', iv: value.subarray(1, 1 + IV_BYTES) as Uint8Array<ArrayBuffer>, additionalData: enc.encode(aad) },
            key,
            value.subarray(1 + IV_BYTES) as Uint8Array<ArrayBuffer>,
          ),
        )
      } catch (cause) {
        throw new ConcordError('STORE_CORRUPT', `value ${aad} does not decrypt: it was altered or written with another key`, { reason: 'CORRUPT', record: aad }, { cause })
      }
    },
  }
}
