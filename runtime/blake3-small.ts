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

/** Whether typed-array words are little-endian here, as BLAKE3 reads its message words. */
export const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

const cv = new Uint32Array(8);
/** A message block for inputs that are not already padded words. */
const blockScratch = blake3PaddedScratch(SMALL_MAX);

/**
 * An aligned buffer seen as bytes and as u32 words, sized up to whole 64-byte blocks, for
 * {@link blake3LeafWords}.
 */
export interface PaddedScratch {
  bytes: Uint8Array;
  words: Uint32Array;
}

/**
 * A scratch buffer that holds at least `size` bytes plus the padding of the last block.
 *
 * @param size - largest input to be hashed from it.
 * @returns bytes and words over one buffer.
 */
export function blake3PaddedScratch(size: number): PaddedScratch {
  const buf = new ArrayBuffer(Math.max(64, Math.ceil(size / 64) * 64));
  return { bytes: new Uint8Array(buf), words: new Uint32Array(buf) };
}

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
  // One copy into aligned words costs far less than the compressions, and allocates nothing.
  const b = blockScratch.bytes;
  if (len <= 64) for (let i = 0; i < len; i++) b[i] = input[i];
  else b.set(input);
  if (LITTLE_ENDIAN) {
    hashPadded(blockScratch.words, len);
  } else {
    // Big-endian hosts: read the message words byte by byte into a second scratch.
    const blocks = len === 0 ? 1 : Math.ceil(len / 64);
    b.fill(0, len, blocks * 64);
    const w = beWords;
    for (let i = 0; i < blocks * 16; i++)
      w[i] = (b[4 * i] | (b[4 * i + 1] << 8) | (b[4 * i + 2] << 16) | (b[4 * i + 3] << 24)) >>> 0;
    hashWords(w, len);
  }
  for (let i = 0; i < 8; i++) {
    const w = cv[i];
    out[outOff + 4 * i] = w;
    out[outOff + 4 * i + 1] = w >>> 8;
    out[outOff + 4 * i + 2] = w >>> 16;
    out[outOff + 4 * i + 3] = w >>> 24;
  }
}

const beWords = new Uint32Array(SMALL_MAX / 4);

/**
 * BLAKE3-256 of the first `len` bytes of `words` (little-endian hosts only: the caller checks
 * {@link LITTLE_ENDIAN}), written as 8 words at `out[outWordOff]`, i.e. the digest bytes when `out`
 * views a byte slab. Bytes after `len` up to the end of its block are overwritten with zeros.
 *
 * @param words - the message, from a {@link blake3PaddedScratch}; at most {@link SMALL_MAX} bytes.
 * @param len - message length in bytes.
 * @param out - destination words.
 * @param outWordOff - index of the first digest word.
 */
export function blake3LeafWords(words: Uint32Array, len: number, out: Uint32Array, outWordOff: number): void {
  hashPadded(words, len);
  for (let i = 0; i < 8; i++) out[outWordOff + i] = cv[i];
}

/** Zero-pads the last block of a little-endian word message, then hashes it into `cv`. */
function hashPadded(words: Uint32Array, len: number): void {
  const blocks = len === 0 ? 1 : Math.ceil(len / 64);
  const full = len >>> 2;
  const rem = len & 3;
  let k = full;
  if (rem !== 0) {
    words[k] &= (1 << (8 * rem)) - 1;
    k++;
  }
  for (const endWord = blocks * 16; k < endWord; k++) words[k] = 0;
  hashWords(words, len);
}

/** Hashes `len` bytes of zero-padded message words into `cv` (single chunk, root output). */
function hashWords(words: Uint32Array, len: number): void {
  cv[0] = IV0;
  cv[1] = IV1;
  cv[2] = IV2;
  cv[3] = IV3;
  cv[4] = IV4;
  cv[5] = IV5;
  cv[6] = IV6;
  cv[7] = IV7;
  const blocks = len === 0 ? 1 : Math.ceil(len / 64);
  for (let b = 0; b < blocks; b++) {
    let flags = b === 0 ? CHUNK_START : 0;
    if (b === blocks - 1) flags |= CHUNK_END | ROOT;
    compress(words, 16 * b, Math.min(64, len - 64 * b), flags);
  }
}

const parentBlock = new Uint32Array(16);

/**
 * A Merkle interior node, BLAKE3-256(0x01 ‖ left ‖ right), straight from 32-byte hashes stored as
 * words (little-endian hosts only): the two blocks are built by shifting words, with no byte copy.
 *
 * @param slab - hashes as 8 words each.
 * @param left - word index of the left child.
 * @param right - word index of the right child.
 * @param out - destination words (may be `slab`; the children are read first).
 * @param outWordOff - word index of the digest.
 */
export function blake3NodeWords(
  slab: Uint32Array,
  left: number,
  right: number,
  out: Uint32Array,
  outWordOff: number,
): void {
  const m = parentBlock;
  // Message bytes: 0x01, left[0..31], right[0..31]: every word straddles two input words.
  const l0 = slab[left],
    l1 = slab[left + 1],
    l2 = slab[left + 2],
    l3 = slab[left + 3];
  const l4 = slab[left + 4],
    l5 = slab[left + 5],
    l6 = slab[left + 6],
    l7 = slab[left + 7];
  const r0 = slab[right],
    r1 = slab[right + 1],
    r2 = slab[right + 2],
    r3 = slab[right + 3];
  const r4 = slab[right + 4],
    r5 = slab[right + 5],
    r6 = slab[right + 6],
    r7 = slab[right + 7];
  m[0] = 0x01 | (l0 << 8);
  m[1] = (l0 >>> 24) | (l1 << 8);
  m[2] = (l1 >>> 24) | (l2 << 8);
  m[3] = (l2 >>> 24) | (l3 << 8);
  m[4] = (l3 >>> 24) | (l4 << 8);
  m[5] = (l4 >>> 24) | (l5 << 8);
  m[6] = (l5 >>> 24) | (l6 << 8);
  m[7] = (l6 >>> 24) | (l7 << 8);
  m[8] = (l7 >>> 24) | (r0 << 8);
  m[9] = (r0 >>> 24) | (r1 << 8);
  m[10] = (r1 >>> 24) | (r2 << 8);
  m[11] = (r2 >>> 24) | (r3 << 8);
  m[12] = (r3 >>> 24) | (r4 << 8);
  m[13] = (r4 >>> 24) | (r5 << 8);
  m[14] = (r5 >>> 24) | (r6 << 8);
  m[15] = (r6 >>> 24) | (r7 << 8);
  cv[0] = IV0;
  cv[1] = IV1;
  cv[2] = IV2;
  cv[3] = IV3;
  cv[4] = IV4;
  cv[5] = IV5;
  cv[6] = IV6;
  cv[7] = IV7;
  compress(m, 0, 64, CHUNK_START);
  m[0] = r7 >>> 24;
  for (let i = 1; i < 16; i++) m[i] = 0;
  compress(m, 0, 1, CHUNK_END | ROOT);
  for (let i = 0; i < 8; i++) out[outWordOff + i] = cv[i];
}

// The compression function (BLAKE3 §2.2) of the block m[o .. o+16] with counter t = 0 (always
// chunk 0), updating `cv` to the first half of the output (the chaining value, or the root digest
// on the ROOT block).
function compress(m: Uint32Array, o: number, blockLen: number, flags: number): void {
  let v0 = cv[0],
    v1 = cv[1],
    v2 = cv[2],
    v3 = cv[3],
    v4 = cv[4],
    v5 = cv[5],
    v6 = cv[6],
    v7 = cv[7];
  let v8 = IV0,
    v9 = IV1,
    v10 = IV2,
    v11 = IV3,
    v12 = 0,
    v13 = 0,
    v14 = blockLen,
    v15 = flags;
  let m0 = m[o],
    m1 = m[o + 1],
    m2 = m[o + 2],
    m3 = m[o + 3],
    m4 = m[o + 4],
    m5 = m[o + 5],
    m6 = m[o + 6],
    m7 = m[o + 7];
  let m8 = m[o + 8],
    m9 = m[o + 9],
    m10 = m[o + 10],
    m11 = m[o + 11],
    m12 = m[o + 12],
    m13 = m[o + 13],
    m14 = m[o + 14],
    m15 = m[o + 15];
  for (let r = 0; r < 7; r++) {
    // G(0,4,8,12) G(1,5,9,13) G(2,6,10,14) G(3,7,11,15): columns
    v0 = (v0 + v4 + m0) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + m1) | 0;
    v12 ^= v0;
    v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0;
    v4 ^= v8;
    v4 = (v4 >>> 7) | (v4 << 25);
    v1 = (v1 + v5 + m2) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + m3) | 0;
    v13 ^= v1;
    v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0;
    v5 ^= v9;
    v5 = (v5 >>> 7) | (v5 << 25);
    v2 = (v2 + v6 + m4) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + m5) | 0;
    v14 ^= v2;
    v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0;
    v6 ^= v10;
    v6 = (v6 >>> 7) | (v6 << 25);
    v3 = (v3 + v7 + m6) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + m7) | 0;
    v15 ^= v3;
    v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0;
    v7 ^= v11;
    v7 = (v7 >>> 7) | (v7 << 25);
    // G(0,5,10,15) G(1,6,11,12) G(2,7,8,13) G(3,4,9,14): diagonals
    v0 = (v0 + v5 + m8) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + m9) | 0;
    v15 ^= v0;
    v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0;
    v5 ^= v10;
    v5 = (v5 >>> 7) | (v5 << 25);
    v1 = (v1 + v6 + m10) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + m11) | 0;
    v12 ^= v1;
    v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0;
    v6 ^= v11;
    v6 = (v6 >>> 7) | (v6 << 25);
    v2 = (v2 + v7 + m12) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + m13) | 0;
    v13 ^= v2;
    v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0;
    v7 ^= v8;
    v7 = (v7 >>> 7) | (v7 << 25);
    v3 = (v3 + v4 + m14) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + m15) | 0;
    v14 ^= v3;
    v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0;
    v4 ^= v9;
    v4 = (v4 >>> 7) | (v4 << 25);
    // Message permutation (BLAKE3 §2.2): m'[i] = m[P[i]], P = [2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8].
    const t0 = m0,
      t1 = m1,
      t4 = m4,
      t5 = m5,
      t8 = m8;
    m0 = m2;
    m1 = m6;
    m2 = m3;
    m3 = m10;
    m4 = m7;
    m5 = t0;
    m6 = t4;
    m7 = m13;
    m8 = t1;
    m10 = m12;
    m12 = m9;
    m9 = m11;
    m11 = t5;
    m13 = m14;
    m14 = m15;
    m15 = t8;
  }
  cv[0] = v0 ^ v8;
  cv[1] = v1 ^ v9;
  cv[2] = v2 ^ v10;
  cv[3] = v3 ^ v11;
  cv[4] = v4 ^ v12;
  cv[5] = v5 ^ v13;
  cv[6] = v6 ^ v14;
  cv[7] = v7 ^ v15;
}
