/**
 * Byte-level helpers shared by the two protocol codecs (internal: not exported
 * from the package). Writing goes through lib0's encoder, which always emits
 * minimal varints. Reading uses lib0's decoder for the cursor and slicing, but
 * reads varints itself: lib0's `readVarUint` accepts overlong encodings
 * (`80 00` for 0), lets a final byte carry a value past 2^53 and turns a long
 * run of `80` bytes into NaN, and a decoder for untrusted frames must refuse
 * all three. Every failure is a ConcordError naming the field and the offset.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { type ErrorCode, fail } from '../errors.js'

/** 16 MiB: above any single Concord event; a relay configures its own limit. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

export interface CodecOptions {
  /**
   * Frames longer than this are refused with FRAME_TOO_LARGE: by decoders
   * before reading a byte (default 16 MiB), and by encoders after encoding
   * when given (so a client can split a push that the relay's welcome says it
   * would refuse). Encoders have no default limit: the limit protects a
   * receiver, and a relay's sync step 2 of a large document must still go out.
   */
  readonly maxFrameBytes?: number
}

// Fatal so that invalid UTF-8 is an error rather than U+FFFD, and ignoreBOM so
// that a leading U+FEFF is kept as text and a string round-trips exactly.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

// With the u flag a surrogate pair is one code point, so this matches only an
// unpaired surrogate: text that UTF-8 cannot carry and would silently change.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/** A varint of 8 bytes carries 56 bits, enough for every safe integer. */
const MAX_VARINT_BYTES = 8

export function checkedMaxFrameBytes(options: CodecOptions | undefined): number {
  const max = options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  if (!Number.isSafeInteger(max) || max < 1) fail('INVALID_ARGUMENT', `maxFrameBytes must be a positive integer, got ${String(max)}`)
  return max
}

export function frameTooLarge(size: number, max: number): never {
  return fail('FRAME_TOO_LARGE', `frame of ${size} bytes exceeds the limit of ${max} bytes`, { size, max })
}

/** A cursor over one frame whose every read is bounds-checked and names its field. */
export class FrameReader {
  private readonly decoder: decoding.Decoder

  constructor(input: unknown, options: CodecOptions | undefined) {
    if (!(input instanceof Uint8Array)) fail('MALFORMED_FRAME', 'malformed frame: not binary data', { field: 'frame', offset: 0 })
    const max = checkedMaxFrameBytes(options)
    if (input.length > max) frameTooLarge(input.length, max)
    this.decoder = decoding.createDecoder(input)
  }

  get offset(): number {
    return this.decoder.pos
  }

  get remaining(): number {
    return this.decoder.arr.length - this.decoder.pos
  }

  malformed(field: string, why: string, at = this.decoder.pos): never {
    return fail('MALFORMED_FRAME', `malformed frame: ${field} ${why} (offset ${at})`, { field, offset: at })
  }

  u8(field: string): number {
    if (this.remaining < 1) this.malformed(field, 'is missing: frame truncated')
    return decoding.readUint8(this.decoder)
  }

  /** An unsigned LEB128 varint, minimal, at most 2^53 - 1. */
  uint(field: string): number {
    const arr = this.decoder.arr
    const start = this.decoder.pos
    let pos = start
    let value = 0
    let mult = 1
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (pos >= arr.length) this.malformed(field, 'is missing: frame truncated inside a varint', start)
      const b = arr[pos++] as number
      value += (b & 0x7f) * mult
      if (b < 0x80) {
        // A last byte of 0 after a continuation adds nothing: some shorter
        // encoding says the same, and a canonical frame has only one.
        if (b === 0 && i > 0) this.malformed(field, 'is an overlong varint', start)
        if (value > Number.MAX_SAFE_INTEGER) this.malformed(field, 'is a varint above 2^53 - 1', start)
        this.decoder.pos = pos
        return value
      }
      mult *= 128
    }
    return this.malformed(field, `is a varint longer than ${MAX_VARINT_BYTES} bytes`, start)
  }

  /**
   * A count of items that follow, each taking at least `minItemBytes`: a count
   * the rest of the frame cannot hold is refused before anything is allocated.
   */
  count(field: string, minItemBytes: number, min = 0): number {
    const start = this.decoder.pos
    const n = this.uint(`${field} count`)
    if (n < min) this.malformed(field, `must have at least ${min} item(s)`, start)
    if (n * minItemBytes > this.remaining) this.malformed(field, `count ${n} exceeds what the frame holds`, start)
    return n
  }

  /** Length-prefixed bytes, copied so that the result does not pin the frame's buffer. */
  bytes(field: string): Uint8Array {
    return this.view(field).slice()
  }

  string(field: string): string {
    const view = this.view(field)
    try {
      return utf8.decode(view)
    } catch {
      return this.malformed(field, 'is not valid UTF-8', this.decoder.pos - view.length)
    }
  }

  /** Fails unless the whole frame has been read. */
  end(): void {
    if (this.remaining > 0) this.malformed('frame', `has ${this.remaining} trailing byte(s)`)
  }

  private view(field: string): Uint8Array {
    const start = this.decoder.pos
    const len = this.uint(`${field} length`)
    if (len > this.remaining) this.malformed(field, `is missing: length ${len} runs past the end of the frame`, start)
    return decoding.readUint8Array(this.decoder, len)
  }
}

/** An encoder for one frame, refusing values that would not decode to themselves. */
export class FrameWriter {
  readonly encoder = encoding.createEncoder()

  constructor(private readonly code: ErrorCode = 'INVALID_ARGUMENT') {}

  get length(): number {
    return encoding.length(this.encoder)
  }

  invalid(field: string, why: string, code: ErrorCode = this.code): never {
    return fail(code, `cannot encode ${field}: ${why}`, { field })
  }

  u8(n: number): void {
    encoding.writeUint8(this.encoder, n)
  }

  uint(field: string, n: unknown, code?: ErrorCode): void {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) this.invalid(field, `must be a non-negative safe integer, got ${String(n)}`, code)
    encoding.writeVarUint(this.encoder, n)
  }

  string(field: string, s: unknown, code?: ErrorCode): void {
    if (typeof s !== 'string') this.invalid(field, 'must be a string', code)
    if (LONE_SURROGATE.test(s)) this.invalid(field, 'contains an unpaired surrogate, which UTF-8 cannot carry', code)
    encoding.writeVarString(this.encoder, s)
  }

  bytes(field: string, b: unknown, code?: ErrorCode): void {
    if (!(b instanceof Uint8Array)) this.invalid(field, 'must be a Uint8Array', code)
    encoding.writeVarUint8Array(this.encoder, b)
  }

  finish(options: CodecOptions | undefined): Uint8Array {
    if (options?.maxFrameBytes !== undefined) {
      const max = checkedMaxFrameBytes(options)
      const size = encoding.length(this.encoder)
      if (size > max) frameTooLarge(size, max)
    }
    return encoding.toUint8Array(this.encoder)
  }
}

/** Runs a parse function from ids.ts and turns its INVALID_ID into MALFORMED_FRAME naming the field. */
export function parseField<T>(r: FrameReader, field: string, at: number, parse: (s: unknown) => T, value: unknown): T {
  try {
    return parse(value)
  } catch (e) {
    return r.malformed(field, `is invalid: ${(e as Error).message}`, at)
  }
}
