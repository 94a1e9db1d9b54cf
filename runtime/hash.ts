/**
 * The one way docklock hashes: BLAKE3-256 (https://github.com/BLAKE3-team/BLAKE3-specs).
 *
 * Two implementations give identical digests (test/cage/hash.test.ts cross-checks them):
 * - `hash-wasm`'s WebAssembly BLAKE3, used for every hash once loaded. Measured on the project's
 *   machine at ~0.31 µs per 64-byte input against ~2.1 µs for `@noble/hashes` (bench/RESULTS.md,
 *   "Witness"); witness finalisation hashes two inputs per entry, so this decides its throughput.
 * - `@noble/hashes`' pure-JS BLAKE3, the reference the WebAssembly one is checked against.
 *
 * - `runtime/blake3-small.ts`, a pure-JS single-chunk (≤ 1024 bytes) BLAKE3 that writes into a
 *   caller's buffer: {@link blake3Into}, the batch path for witness leaves and Merkle nodes. Per hash
 *   it is as fast as the WebAssembly call, but allocates nothing; with a million live witness
 *   entries on the heap, one fresh digest array per hash slowed finalisation (bench/RESULTS.md, witness).
 *
 * The WebAssembly hasher is created with a top-level await, so importing this module waits for it
 * once (a few ms) and every later call is synchronous. A single hasher is shared: each call runs
 * init/update/digest without yielding, so calls can never interleave.
 *
 * @module
 */
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { createBLAKE3 } from 'hash-wasm';
import { blake3SmallInto, SMALL_MAX } from './blake3-small.ts';

/** Digest size in bytes (BLAKE3 default output length, BLAKE3 spec §2.6). */
export const HASH_BYTES = 32;

const wasm = await createBLAKE3();

/**
 * BLAKE3-256 of `bytes`.
 *
 * @param bytes - the message; not retained.
 * @returns a fresh 32-byte digest.
 * @example
 * ```ts
 * toHex(blake3(new Uint8Array(0))); // 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'
 * ```
 */
export function blake3(bytes: Uint8Array): Uint8Array {
  wasm.init();
  wasm.update(bytes);
  return wasm.digest('binary');
}

/**
 * Writes BLAKE3-256(bytes) into `out` at `offset` without allocating (for inputs of one chunk,
 * 1024 bytes or less; longer inputs take the WebAssembly path and copy its digest).
 *
 * @param bytes - the message.
 * @param out - destination; needs 32 bytes from `offset`.
 * @param offset - where the digest goes.
 * @example
 * ```ts
 * const slab = new Uint8Array(32 * leaves.length);
 * leaves.forEach((leaf, i) => blake3Into(leaf, slab, 32 * i));
 * ```
 */
export function blake3Into(bytes: Uint8Array, out: Uint8Array, offset: number): void {
  if (bytes.length <= SMALL_MAX) blake3SmallInto(bytes, out, offset);
  else out.set(blake3(bytes), offset);
}

/**
 * BLAKE3-256 of the concatenation of `parts`, without building the concatenation.
 *
 * @param parts - message pieces, hashed in order.
 * @returns a fresh 32-byte digest.
 * @example
 * ```ts
 * blake3Parts([Uint8Array.of(0), data]); // same as blake3(concat(0x00, data))
 * ```
 */
export function blake3Parts(parts: readonly Uint8Array[]): Uint8Array {
  wasm.init();
  for (const p of parts) wasm.update(p);
  return wasm.digest('binary');
}

/**
 * BLAKE3-256 with the pure-JS `@noble/hashes` implementation: the reference the fast path is
 * cross-checked against, and the baseline in bench/witness.bench.ts. Same digests as {@link blake3}.
 *
 * @param bytes - the message.
 * @returns a fresh 32-byte digest.
 * @example
 * ```ts
 * blake3Reference(data); // equals blake3(data)
 * ```
 */
export function blake3Reference(bytes: Uint8Array): Uint8Array {
  return nobleBlake3(bytes);
}

/**
 * Lower-case hex of `bytes`.
 *
 * @param bytes - any bytes.
 * @returns two hex digits per byte.
 * @example
 * ```ts
 * toHex(Uint8Array.of(1, 255)); // '01ff'
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Two byte arrays are equal (not constant-time: digests here are public).
 *
 * @param a - first array.
 * @param b - second array.
 * @returns whether lengths and all bytes match.
 * @example
 * ```ts
 * bytesEqual(blake3(x), blake3(x)); // true
 * ```
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
