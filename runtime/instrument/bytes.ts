/**
 * Byte-level reading and writing of the WebAssembly binary format: LEB128 integers
 * (core spec §5.2.2), bounded reads, and a growable output buffer. Every read is bounds-checked and
 * reports the absolute byte offset, so a malformed module is a coded error, never a crash.
 */
import { ValidationError } from '../errors.ts';

/** Thrown for any structurally malformed module; `where.offset` is the absolute byte offset. */
export function malformed(message: string, offset: number, section?: string): ValidationError {
  return new ValidationError(
    'DL_ERR_MODULE_MALFORMED',
    message,
    section === undefined ? { offset } : { section, offset },
  );
}

/** A cursor over a byte array. `pos` is absolute within `bytes`. */
export class Reader {
  readonly bytes: Uint8Array;
  pos: number;
  end: number;
  section: string | undefined;

  constructor(bytes: Uint8Array, pos = 0, end = bytes.length) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
    this.section = undefined;
  }

  get eof(): boolean {
    return this.pos >= this.end;
  }

  fail(message: string, offset = this.pos): never {
    throw malformed(message, offset, this.section);
  }

  u8(): number {
    if (this.pos < this.end) return this.bytes[this.pos++]!;
    return this.fail('unexpected end of data');
  }

  /** Unsigned LEB128 of at most 32 bits (spec §5.2.2: at most 5 bytes, unused bits zero). */
  u32(): number {
    const b = this.bytes;
    let p = this.pos;
    if (p < this.end) {
      const b0 = b[p]!;
      if (b0 < 0x80) {
        this.pos = p + 1;
        return b0;
      }
    }
    let result = 0;
    let shift = 0;
    const start = p;
    for (;;) {
      if (p >= this.end) this.fail('unexpected end of data in LEB128', start);
      const byte = b[p++]!;
      if (shift === 28) {
        if ((byte & 0x70) !== 0 || (byte & 0x80) !== 0)
          this.fail('integer representation too long or too large', start);
        result = (result | (byte << 28)) >>> 0;
        break;
      }
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7;
    }
    this.pos = p;
    return result >>> 0;
  }

  /** Signed LEB128 of at most 32 bits. */
  s32(): number {
    const start = this.pos;
    let result = 0;
    let shift = 0;
    let byte: number;
    for (;;) {
      byte = this.u8();
      if (shift === 28) {
        // The last byte carries 4 payload bits; the rest must sign-extend them.
        const top = byte & 0x70;
        const sign = byte & 0x08;
        if ((byte & 0x80) !== 0 || (sign ? top !== 0x70 : top !== 0))
          this.fail('integer representation too long or too large', start);
        result |= byte << 28;
        return result | 0;
      }
      result |= (byte & 0x7f) << shift;
      shift += 7;
      if ((byte & 0x80) === 0) break;
    }
    if (shift < 32 && (byte & 0x40) !== 0) result |= -1 << shift;
    return result | 0;
  }

  /** Signed LEB128 of at most 64 bits, skipped (used where only the position matters). */
  skipS64(): void {
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      const byte = this.u8();
      if (i === 9) {
        const sign = byte & 0x01;
        if ((byte & 0x80) !== 0 || (sign ? (byte & 0x7e) !== 0x7e : (byte & 0x7e) !== 0))
          this.fail('integer representation too long or too large', start);
        return;
      }
      if ((byte & 0x80) === 0) return;
    }
  }

  /** Signed LEB128 of at most 64 bits as a bigint. */
  s64(): bigint {
    const start = this.pos;
    this.skipS64();
    let result = 0n;
    let shift = 0n;
    let byte = 0;
    for (let p = start; p < this.pos; p++) {
      byte = this.bytes[p]!;
      result |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
    }
    if (shift < 64n && (byte & 0x40) !== 0) result |= -1n << shift;
    return BigInt.asIntN(64, result);
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) this.fail(`unexpected end of data: needed ${n} bytes`);
    this.pos += n;
  }

  take(n: number): Uint8Array {
    const start = this.pos;
    this.skip(n);
    return this.bytes.subarray(start, start + n);
  }

  /** A UTF-8 name (spec §5.2.4); invalid UTF-8 is malformed. */
  name(): string {
    const len = this.u32();
    const start = this.pos;
    const raw = this.take(len);
    try {
      return utf8Decoder.decode(raw);
    } catch {
      return this.fail('malformed UTF-8 encoding', start);
    }
  }
}

// ignoreBOM: a leading U+FEFF is part of the name (names are compared byte for byte), not a byte-order mark.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/** A growable byte buffer; `bytes()` returns a view of what was written. */
export class Writer {
  #buf: Uint8Array;
  length = 0;

  constructor(capacity = 1024) {
    this.#buf = new Uint8Array(capacity);
  }

  #ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
  }

  u8(v: number): this {
    this.#ensure(1);
    this.#buf[this.length++] = v;
    return this;
  }

  u32(v: number): this {
    this.#ensure(5);
    v >>>= 0;
    do {
      let byte = v & 0x7f;
      v >>>= 7;
      if (v !== 0) byte |= 0x80;
      this.#buf[this.length++] = byte;
    } while (v !== 0);
    return this;
  }

  s32(v: number): this {
    this.#ensure(5);
    v |= 0;
    for (;;) {
      const byte = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
        this.#buf[this.length++] = byte;
        return this;
      }
      this.#buf[this.length++] = byte | 0x80;
    }
  }

  /** Signed LEB128 of a safe integer (no bigint arithmetic: the rewriter's hot path). */
  s64n(v: number): this {
    this.#ensure(10);
    for (;;) {
      const byte = v & 0x7f;
      v = Math.floor(v / 128);
      if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
        this.#buf[this.length++] = byte;
        return this;
      }
      this.#buf[this.length++] = byte | 0x80;
    }
  }

  /** Forgets the contents, keeping the buffer for reuse. */
  reset(): this {
    this.length = 0;
    return this;
  }

  s64(v: bigint): this {
    this.#ensure(10);
    v = BigInt.asIntN(64, v);
    for (;;) {
      const byte = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)) {
        this.#buf[this.length++] = byte;
        return this;
      }
      this.#buf[this.length++] = byte | 0x80;
    }
  }

  bytes(b: Uint8Array): this {
    this.#ensure(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  /**
   * Appends `src[start..end)`. Most ranges between two patches are a few bytes, for which a loop
   * beats creating a subarray to pass to `set`.
   */
  copy(src: Uint8Array, start: number, end: number): this {
    const n = end - start;
    this.#ensure(n);
    const buf = this.#buf;
    let len = this.length;
    if (n <= 32) {
      for (let i = start; i < end; i++) buf[len++] = src[i]!;
    } else {
      buf.set(src.subarray(start, end), len);
      len += n;
    }
    this.length = len;
    return this;
  }

  /** Appends what `w` holds, preceded by its length as u32 LEB128. */
  sizedFrom(w: Writer): this {
    this.u32(w.length);
    return this.copy(w.#buf, 0, w.length);
  }

  name(s: string): this {
    const b = utf8Encoder.encode(s);
    return this.u32(b.length).bytes(b);
  }

  /** Writes `body` preceded by its length as u32 LEB128. */
  sized(body: Uint8Array): this {
    return this.u32(body.length).bytes(body);
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }

  /** Bytes allocated, written or not. */
  get capacity(): number {
    return this.#buf.length;
  }

  view(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}
