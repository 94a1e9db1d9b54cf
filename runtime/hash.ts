/**
 * The one way docklock hashes: BLAKE3-256 (https://github.com/BLAKE3-team/BLAKE3-specs).
 *
 * Four implementations give identical digests (test/cage/hash.test.ts cross-checks them, and runs
 * the suite's hashes once more in a process held to the WebAssembly one):
 * - the BLAKE3 team's Rust implementation through `@napi-rs/blake-hash` (native, SIMD), for every
 *   input longer than one chunk. Bundles, modules and witnesses are hashed whole, often several MiB:
 *   10 MiB here is about ten times faster than WebAssembly (bench/RESULTS.md, "Hashing"). Loading
 *   it costs a `docklock run` about the wall time compiling the WebAssembly hasher did (that
 *   compile ran on V8's background threads), and less CPU.
 * - `hash-wasm`'s WebAssembly BLAKE3, used instead where no native build loads (a platform npm has
 *   no package for, or `DOCKLOCK_BLAKE3=wasm`). Its compile is asynchronous and this module has no
 *   top-level await (the CLI's bundle is a script, cli/script-bundle.ts), so until it is ready,
 *   which is before the first turn of the event loop ends, `@noble/hashes` hashes long inputs.
 * - `runtime/blake3-small.ts`, a pure-JS single-chunk (≤ 1024 bytes) BLAKE3 that writes into a
 *   caller's buffer: {@link blake3Into}, the batch path for witness leaves and Merkle nodes, and
 *   every short {@link blake3}. A native call costs more than hashing one chunk in JS, and with a
 *   million live witness entries on the heap, one fresh digest array per hash slowed finalisation.
 * - `@noble/hashes`' pure-JS BLAKE3 is the reference the others are checked against.
 *
 * Every call is synchronous and runs to completion, so the shared hashers are never interleaved.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js';
import { blake3SmallInto, SMALL_MAX } from './blake3-small.ts';

/** Digest size in bytes (BLAKE3 default output length, BLAKE3 spec §2.6). */
export const HASH_BYTES = 32;

/** What this process hashes long inputs with (`js` only until the WebAssembly one is ready). */
export type HashBackend = 'native' | 'wasm' | 'js';

/** The part of `@napi-rs/blake-hash` used here. */
interface NativeBlake3 {
  blake3(input: Uint8Array): Uint8Array;
  Blake3Hasher: new () => { reset(): void; update(input: Uint8Array): unknown; digestBuffer(): Uint8Array };
}

/** A one-call-at-a-time hasher: what both long-input backends reduce to. */
interface Incremental {
  init(): void;
  update(bytes: Uint8Array): void;
  digest(): Uint8Array;
}

function loadNative(): NativeBlake3 | undefined {
  if (process.env.DOCKLOCK_BLAKE3 === 'wasm') return undefined;
  const require = createRequire(import.meta.url);
  // The platform's own package first: the package's loader probes the C library (reads
  // /usr/bin/ldd) and resolves more files on every start. A glibc build that cannot load (musl)
  // throws and the loader, which knows every platform, decides.
  if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64'))
    try {
      return require(`@napi-rs/blake-hash-linux-${process.arch}-gnu`) as NativeBlake3;
    } catch {}
  try {
    return require('@napi-rs/blake-hash') as NativeBlake3;
  } catch {
    // No build for this platform (or the optional package was not installed): WebAssembly below.
    return undefined;
  }
}

const native = loadNative();

/** Long inputs: the native hasher, else noble's until hash-wasm's has compiled (then that). */
let long: Incremental = native !== undefined ? nativeIncremental(native) : nobleIncremental();
let backend: HashBackend = native !== undefined ? 'native' : 'js';

const ready: Promise<HashBackend> =
  native !== undefined
    ? Promise.resolve(backend)
    : wasmIncremental().then(
        (h) => {
          long = h;
          backend = 'wasm';
          return backend;
        },
        // No WebAssembly hasher either: noble's stays, slower, with the same digests.
        () => backend,
      );

/** The backend hashing long inputs now, for diagnostics and the cross-check test. */
export function hashBackend(): HashBackend {
  return backend;
}

/** The backend once the WebAssembly fallback (if one is needed) has compiled or failed to. */
export function hashBackendReady(): Promise<HashBackend> {
  return ready;
}

function nativeIncremental(n: NativeBlake3): Incremental {
  const h = new n.Blake3Hasher();
  return {
    init: () => h.reset(),
    update: (bytes) => {
      h.update(bytes);
    },
    // A copy: the addon's Buffer may be a view of a shared pool, and callers keep digests.
    digest: () => new Uint8Array(h.digestBuffer()),
  };
}

function nobleIncremental(): Incremental {
  let h = nobleBlake3.create({});
  return {
    init: () => {
      h = nobleBlake3.create({});
    },
    update: (bytes) => {
      h.update(bytes);
    },
    digest: () => h.digest(),
  };
}

async function wasmIncremental(): Promise<Incremental> {
  // hash-wasm's BLAKE3 alone: its main file holds every algorithm it has (bundled, 240 kB more).
  const { createBLAKE3 } = createRequire(import.meta.url)(
    'hash-wasm/dist/blake3.umd.min.js',
  ) as typeof import('hash-wasm');
  const h = await createBLAKE3();
  return {
    init: () => h.init(),
    update: (bytes) => {
      h.update(bytes);
    },
    digest: () => h.digest('binary'),
  };
}

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
  if (bytes.length <= SMALL_MAX) {
    const out = new Uint8Array(HASH_BYTES);
    blake3SmallInto(bytes, out, 0);
    return out;
  }
  if (native !== undefined) return new Uint8Array(native.blake3(bytes));
  long.init();
  long.update(bytes);
  return long.digest();
}

/**
 * Writes BLAKE3-256(bytes) into `out` at `offset` without allocating (for inputs of one chunk,
 * 1024 bytes or less; longer inputs take the long-input path and copy its digest).
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
  long.init();
  for (const p of parts) long.update(p);
  return long.digest();
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
