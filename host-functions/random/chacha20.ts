/**
 * The guest's only source of randomness: the ChaCha20 keystream (RFC 8439 §2.4) keyed by the
 * manifest's 32-byte seed, nonce 12 zero bytes, block counter from 0. Every node that runs the same
 * manifest hands the guest the same bytes in the same order.
 *
 * The block function is `@noble/ciphers`' audited `chacha20`. Guests ask for a few bytes at a time
 * (`random_get(buf, 8)` in a loop), so keystream is produced {@link CHUNK_BYTES} at a time and
 * small fills only copy from that buffer.
 *
 * Limit: RFC 8439 §2.4 uses a 32-bit block counter, so one stream holds 2^32 blocks (256 GiB); a
 * fill past that throws `RangeError`, which no fuel budget can reach.
 *
 * @module
 */
import { chacha20 } from '@noble/ciphers/chacha.js';

/** Key size: 256 bits (RFC 8439 §2.3). */
export const CHACHA20_KEY_BYTES = 32;
/** Nonce size: 96 bits (RFC 8439 §2.3). */
export const CHACHA20_NONCE_BYTES = 12;
/** ChaCha20 block size (RFC 8439 §2.3). */
export const CHACHA20_BLOCK_BYTES = 64;
/** Keystream generated per refill: 64 blocks, enough that tiny fills rarely call the block function. */
export const CHUNK_BYTES = 4096;
const CHUNK_BLOCKS = CHUNK_BYTES / CHACHA20_BLOCK_BYTES;
/** 2^32 blocks (RFC 8439 §2.4: 32-bit counter). */
const MAX_BLOCKS = 2 ** 32;
const ZERO_CHUNK = /* @__PURE__ */ new Uint8Array(CHUNK_BYTES);
/** Below this size a byte loop beats `subarray` + `set` (which allocates a view). */
const SMALL_COPY = 32;

/**
 * A deterministic byte stream: ChaCha20 keystream bytes in order, handed out by successive
 * {@link ChaCha20Stream.fill} calls. Split fills continue the stream exactly:
 * `fill(3)` then `fill(61)` yields the same 64 bytes as one `fill(64)`.
 *
 * @example
 * ```ts
 * const rng = new ChaCha20Stream(seed);   // seed: the manifest's 32 bytes
 * const buf = new Uint8Array(8);
 * rng.fill(buf);                          // keystream bytes 0..7
 * rng.position;                           // 8n
 * ```
 */
export class ChaCha20Stream {
  readonly #key: Uint8Array;
  readonly #nonce: Uint8Array;
  readonly #chunk = new Uint8Array(CHUNK_BYTES);
  /** Read offset into #chunk; CHUNK_BYTES means empty. */
  #pos = CHUNK_BYTES;
  /** Block counter of the next block to generate. */
  #nextBlock = 0;
  /** Bytes handed out so far; a number is exact up to 2^53, beyond the 2^38-byte stream limit. */
  #consumed = 0;

  /**
   * @param seed - the 32-byte key (the manifest's `determinism.seed`); copied.
   * @param nonce - 12-byte nonce; defaults to 12 zero bytes. Copied.
   * @throws {TypeError} if `seed` is not 32 bytes or `nonce` not 12 bytes.
   */
  constructor(seed: Uint8Array, nonce?: Uint8Array) {
    if (!(seed instanceof Uint8Array) || seed.length !== CHACHA20_KEY_BYTES) {
      throw new TypeError(`ChaCha20 seed must be a Uint8Array of ${CHACHA20_KEY_BYTES} bytes, got ${describe(seed)}`);
    }
    if (nonce !== undefined && (!(nonce instanceof Uint8Array) || nonce.length !== CHACHA20_NONCE_BYTES)) {
      throw new TypeError(
        `ChaCha20 nonce must be a Uint8Array of ${CHACHA20_NONCE_BYTES} bytes, got ${describe(nonce)}`,
      );
    }
    this.#key = seed.slice();
    this.#nonce = nonce === undefined ? new Uint8Array(CHACHA20_NONCE_BYTES) : nonce.slice();
  }

  /** Number of keystream bytes handed out so far. */
  get position(): bigint {
    return BigInt(this.#consumed);
  }

  /**
   * Overwrites `out` with the next `out.length` keystream bytes.
   *
   * @param out - destination; any length, including 0.
   * @throws {RangeError} past 2^32 blocks (256 GiB) of keystream.
   */
  fill(out: Uint8Array): void {
    const n = out.length;
    const chunk = this.#chunk;
    let pos = this.#pos;
    // Hot path: the request fits in what is already buffered.
    if (n <= CHUNK_BYTES - pos) {
      if (n < SMALL_COPY) for (let i = 0; i < n; i++) out[i] = chunk[pos + i];
      else out.set(chunk.subarray(pos, pos + n));
      this.#pos = pos + n;
      this.#consumed += n;
      return;
    }
    let off = CHUNK_BYTES - pos;
    out.set(chunk.subarray(pos));
    // Whole chunks go straight into the caller's buffer, skipping the copy.
    while (n - off >= CHUNK_BYTES) {
      this.#generate(out.subarray(off, off + CHUNK_BYTES));
      off += CHUNK_BYTES;
    }
    pos = CHUNK_BYTES;
    if (off < n) {
      this.#generate(chunk);
      pos = n - off;
      out.set(chunk.subarray(0, pos), off);
    }
    this.#pos = pos;
    this.#consumed += n;
  }

  #generate(dst: Uint8Array): void {
    if (this.#nextBlock + CHUNK_BLOCKS > MAX_BLOCKS) {
      throw new RangeError('ChaCha20 stream exhausted: RFC 8439 §2.4 allows 2^32 blocks (256 GiB) per seed and nonce');
    }
    chacha20(this.#key, this.#nonce, ZERO_CHUNK, dst, this.#nextBlock);
    this.#nextBlock += CHUNK_BLOCKS;
  }
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  return v === null ? 'null' : typeof v;
}
