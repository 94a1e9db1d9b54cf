/**
 * MessagePack forms written straight into a byte array at a position, returning the next one:
 * exactly the bytes msgpackr writes for the witness's values (test/cage/witness-encoding.test.ts).
 * Shared by the entry encoder and the witness log's append path, which writes records without a
 * writer object.
 *
 * @module
 */
import { LITTLE_ENDIAN } from '../blake3-small.ts';

const I64_MAX = (1n << 63n) - 1n;

// Scratch for writing float64 and 64-bit ints big-endian without a DataView per chunk.
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const i64 = new BigInt64Array(f64.buffer);
const u64 = new BigUint64Array(f64.buffer);

/**
 * Writes `v` as MessagePack exactly as msgpackr does (see MessagePackWriter.number); returns the
 * new position. Kept small so that it inlines: u32s are nearly every value a host call sees.
 */
export function putNumber(b: Uint8Array, p: number, v: number): number {
  if (v >>> 0 !== v) return putOtherNumber(b, p, v);
  if (v < 0x80) b[p++] = v;
  else if (v < 0x100) {
    b[p++] = 0xcc;
    b[p++] = v;
  } else if (v < 0x10000) {
    b[p++] = 0xcd;
    b[p++] = v >>> 8;
    b[p++] = v;
  } else {
    b[p++] = 0xce;
    putU32BE(b, p, v);
    p += 4;
  }
  return p;
}

/** {@link putNumber} of a number that is not a u32: a negative i32, else float64. */
export function putOtherNumber(b: Uint8Array, p: number, v: number): number {
  if (v >> 0 === v) {
    if (v >= -0x20) b[p++] = v & 0xff;
    else if (v >= -0x80) {
      b[p++] = 0xd0;
      b[p++] = v & 0xff;
    } else if (v >= -0x8000) {
      b[p++] = 0xd1;
      b[p++] = (v >> 8) & 0xff;
      b[p++] = v & 0xff;
    } else {
      b[p++] = 0xd2;
      putU32BE(b, p, v >>> 0);
      p += 4;
    }
  } else {
    b[p++] = 0xcb;
    f64[0] = v;
    p = putScratch64(b, p);
  }
  return p;
}

/** A bigint in −2^63..2^64−1 as int64 / uint64 (9 bytes), as msgpackr writes it. */
export function putBigint(b: Uint8Array, p: number, v: bigint): number {
  if (v > I64_MAX) {
    b[p++] = 0xcf;
    u64[0] = v;
  } else {
    b[p++] = 0xd3;
    i64[0] = v;
  }
  return putScratch64(b, p);
}

/** The 8 bytes of the 64-bit scratch, big-endian. */
function putScratch64(b: Uint8Array, p: number): number {
  if (LITTLE_ENDIAN) for (let k = 7; k >= 0; k--) b[p++] = f64Bytes[k];
  else for (let k = 0; k < 8; k++) b[p++] = f64Bytes[k];
  return p;
}

export function putU32BE(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}

/** Array header of `n` values (fixarray, array16 or array32). */
export function putArrayHeader(b: Uint8Array, p: number, n: number): number {
  if (n < 0x10) b[p++] = 0x90 | n;
  else if (n < 0x10000) {
    b[p++] = 0xdc;
    b[p++] = n >>> 8;
    b[p++] = n;
  } else {
    b[p++] = 0xdd;
    putU32BE(b, p, n);
    p += 4;
  }
  return p;
}

/** The bin8/bin16/bin32 header of `n` bytes; returns where the bytes go. */
export function putBinHeader(b: Uint8Array, p: number, n: number): number {
  if (n < 0x100) {
    b[p++] = 0xc4;
    b[p++] = n;
  } else if (n < 0x10000) {
    b[p++] = 0xc5;
    b[p++] = n >>> 8;
    b[p++] = n;
  } else {
    b[p++] = 0xc6;
    putU32BE(b, p, n);
    p += 4;
  }
  return p;
}

/** bin8/bin16/bin32 of `bytes`. */
export function putBin(b: Uint8Array, p: number, bytes: Uint8Array): number {
  const n = bytes.length;
  p = putBinHeader(b, p, n);
  // Most writes are a few bytes: a loop beats set() and its argument checks there.
  if (n <= 32) for (let j = 0; j < n; j++) b[p + j] = bytes[j];
  else b.set(bytes, p);
  return p + n;
}
