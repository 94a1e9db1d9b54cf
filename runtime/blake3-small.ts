/**
 * BLAKE3-256 of inputs up to one chunk (1024 bytes), written into a caller's buffer with no
 * allocation: the shape of every witness hash (a leaf is one small encoded entry, a node is 65
 * bytes). Follows the BLAKE3 paper §2.2–2.5 (https://github.com/BLAKE3-team/BLAKE3-specs);
 * test/cage/hash.test.ts checks it against `@noble/hashes` for every length 0..1024 and alignment.
 *
 * Longer inputs need the chunk tree and go through `runtime/hash.ts`' WebAssembly hasher.
 *
 * @module
 */

/** One chunk (BLAKE3 §2.1): the largest input this single-chunk path hashes. */
export const SMALL_MAX = 1024;

// IV = SHA-256 initial hash words (BLAKE3 §2.2, table 1).
const IV0 = 0x6a09e667;
const IV1 = 0xbb67ae85;
const IV2 = 0x3c6ef372;
const IV3 = 0xa54ff53a;
const IV4 = 0x510e527f;
const IV5 = 0x9b05688c;
const IV6 = 0x1f83d9ab;
const IV7 = 0x5be0cd19;
// Domain flags (BLAKE3 §2.1, table 3).
const CHUNK_START = 1;
const CHUNK_END = 2;
const ROOT = 8;

const m = new Uint32Array(16);
const block = new Uint8Array(64);
const blockWords = new Uint32Array(block.buffer);
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
const cv = new Uint32Array(8);

/**
 * Writes BLAKE3-256(input) to `out[outOff .. outOff+32]`.
 *
 * @param input - at most {@link SMALL_MAX} bytes.
 * @param out - destination buffer.
 * @param outOff - offset of the digest in `out`.
 * @throws {RangeError} if the input is longer than one chunk.
 * @example
 * ```ts
 * const slab = new Uint8Array(32 * n);
 * blake3SmallInto(leafBytes, slab, 32 * i);
 * ```
 */
export function blake3SmallInto(input: Uint8Array, out: Uint8Array, outOff: number): void {
  const len = input.length;
  if (len > SMALL_MAX) throw new RangeError(`single-chunk BLAKE3 takes at most ${SMALL_MAX} bytes, got ${len}`);
  cv[0] = IV0; cv[1] = IV1; cv[2] = IV2; cv[3] = IV3; cv[4] = IV4; cv[5] = IV5; cv[6] = IV6; cv[7] = IV7;
  const blocks = len === 0 ? 1 : Math.ceil(len / 64);
  for (let b = 0; b < blocks; b++) {
    const start = b * 64;
    const blen = Math.min(64, len - start);
    let flags = b === 0 ? CHUNK_START : 0;
    if (b === blocks - 1) flags |= CHUNK_END | ROOT;
    if (blen === 64 && LITTLE_ENDIAN && (input.byteOffset + start) % 4 === 0) {
      m.set(new Uint32Array(input.buffer, input.byteOffset + start, 16));
    } else {
      block.fill(0);
      block.set(input.subarray(start, start + blen));
      if (LITTLE_ENDIAN) m.set(blockWords);
      else for (let i = 0; i < 16; i++) m[i] = block[4 * i] | (block[4 * i + 1] << 8) | (block[4 * i + 2] << 16) | (block[4 * i + 3] << 24);
    }
    compress(blen, flags);
  }
  for (let i = 0; i < 8; i++) {
    const w = cv[i];
    out[outOff + 4 * i] = w;
    out[outOff + 4 * i + 1] = w >>> 8;
    out[outOff + 4 * i + 2] = w >>> 16;
    out[outOff + 4 * i + 3] = w >>> 24;
  }
}

// The compression function (BLAKE3 §2.2) with counter t = 0 (always chunk 0), updating `cv` to the
// first half of the output (the chaining value, or the root digest on the ROOT block).
function compress(blockLen: number, flags: number): void {
  let v0 = cv[0], v1 = cv[1], v2 = cv[2], v3 = cv[3], v4 = cv[4], v5 = cv[5], v6 = cv[6], v7 = cv[7];
  let v8 = IV0, v9 = IV1, v10 = IV2, v11 = IV3, v12 = 0, v13 = 0, v14 = blockLen, v15 = flags;
  let m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5], m6 = m[6], m7 = m[7];
  let m8 = m[8], m9 = m[9], m10 = m[10], m11 = m[11], m12 = m[12], m13 = m[13], m14 = m[14], m15 = m[15];
  for (let r = 0; r < 7; r++) {
    // G(0,4,8,12) G(1,5,9,13) G(2,6,10,14) G(3,7,11,15): columns
    v0 = (v0 + v4 + m0) | 0; v12 ^= v0; v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + m1) | 0; v12 ^= v0; v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 7) | (v4 << 25);
    v1 = (v1 + v5 + m2) | 0; v13 ^= v1; v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + m3) | 0; v13 ^= v1; v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 7) | (v5 << 25);
    v2 = (v2 + v6 + m4) | 0; v14 ^= v2; v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + m5) | 0; v14 ^= v2; v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 7) | (v6 << 25);
    v3 = (v3 + v7 + m6) | 0; v15 ^= v3; v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + m7) | 0; v15 ^= v3; v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 7) | (v7 << 25);
    // G(0,5,10,15) G(1,6,11,12) G(2,7,8,13) G(3,4,9,14): diagonals
    v0 = (v0 + v5 + m8) | 0; v15 ^= v0; v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + m9) | 0; v15 ^= v0; v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 7) | (v5 << 25);
    v1 = (v1 + v6 + m10) | 0; v12 ^= v1; v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + m11) | 0; v12 ^= v1; v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 7) | (v6 << 25);
    v2 = (v2 + v7 + m12) | 0; v13 ^= v2; v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + m13) | 0; v13 ^= v2; v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 7) | (v7 << 25);
    v3 = (v3 + v4 + m14) | 0; v14 ^= v3; v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + m15) | 0; v14 ^= v3; v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 7) | (v4 << 25);
    // Message permutation (BLAKE3 §2.2): m'[i] = m[P[i]], P = [2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8].
    const t0 = m0, t1 = m1, t4 = m4, t5 = m5, t8 = m8;
    m0 = m2; m1 = m6; m2 = m3; m3 = m10; m4 = m7; m5 = t0; m6 = t4; m7 = m13;
    m8 = t1; m10 = m12; m12 = m9; m9 = m11; m11 = t5; m13 = m14; m14 = m15; m15 = t8;
  }
  cv[0] = v0 ^ v8; cv[1] = v1 ^ v9; cv[2] = v2 ^ v10; cv[3] = v3 ^ v11;
  cv[4] = v4 ^ v12; cv[5] = v5 ^ v13; cv[6] = v6 ^ v14; cv[7] = v7 ^ v15;
}
