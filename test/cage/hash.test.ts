import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blake3LeafWords,
  blake3NodeWords,
  blake3PaddedScratch,
  blake3SmallInto,
  LITTLE_ENDIAN,
  SMALL_MAX,
} from '../../runtime/blake3-small.ts';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  blake3,
  blake3Into,
  blake3Parts,
  blake3Reference,
  bytesEqual,
  hashBackend,
  toHex,
} from '../../runtime/hash.ts';

const HASH_MODULE = fileURLToPath(new URL('../../runtime/hash.ts', import.meta.url));
const LENGTHS = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 8192, 100_000, 3 * 1024 * 1024 + 17];
const pattern = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 11)) % 251);

describe('blake3', () => {
  it('matches the BLAKE3 empty-input digest (BLAKE3 test_vectors.json, input_len 0)', () => {
    expect(toHex(blake3(new Uint8Array(0)))).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
  });

  it(`the ${hashBackend()} long-input digests equal @noble/hashes digests, across chunk sizes (property)`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (data) => {
        expect(toHex(blake3(data))).toBe(toHex(blake3Reference(data)));
      }),
      { numRuns: 300 },
    );
    for (const n of [1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 8192, 100_000]) {
      const data = Uint8Array.from({ length: n }, (_, i) => i % 251);
      expect(toHex(blake3(data))).toBe(toHex(blake3Reference(data)));
    }
  });

  it('a process held to the WebAssembly backend (DOCKLOCK_BLAKE3=wasm) gives the same digests, before and after it compiles', () => {
    // Hashed at once after import (noble's pure JS, while hash-wasm compiles), then once it is ready.
    const script = `
      const h = await import(${JSON.stringify(HASH_MODULE)});
      const pattern = ${pattern.toString()};
      const hashAll = () => ({ backend: h.hashBackend(), digests: ${JSON.stringify(LENGTHS)}.map((n) => h.toHex(h.blake3(pattern(n)))),
        parts: h.toHex(h.blake3Parts([pattern(5000), pattern(3)])) });
      const before = hashAll();
      const ready = await h.hashBackendReady();
      process.stdout.write(JSON.stringify({ before, after: hashAll(), ready }));`;
    type Hashed = { backend: string; digests: string[]; parts: string };
    const child = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, DOCKLOCK_BLAKE3: 'wasm' },
        encoding: 'utf8',
      }),
    ) as { before: Hashed; after: Hashed; ready: string };
    expect([child.before.backend, child.ready, child.after.backend]).toEqual(['js', 'wasm', 'wasm']);
    for (const run of [child.before, child.after]) {
      expect(run.digests).toEqual(LENGTHS.map((n) => toHex(blake3(pattern(n)))));
      expect(run.parts).toBe(toHex(blake3Parts([pattern(5000), pattern(3)])));
      expect(run.digests[LENGTHS.indexOf(1025)]).toBe(toHex(blake3Reference(pattern(1025))));
    }
  });

  it('blake3Parts equals blake3 of the concatenation', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }), (parts) => {
        const all = Uint8Array.from(parts.flatMap((p) => [...p]));
        expect(toHex(blake3Parts(parts))).toBe(toHex(blake3Reference(all)));
      }),
    );
  });

  it('returns a fresh array each call (the shared hasher never aliases results)', () => {
    const a = blake3(Uint8Array.of(1));
    const b = blake3(Uint8Array.of(2));
    expect(bytesEqual(a, b)).toBe(false);
    expect(toHex(a)).toBe(toHex(blake3Reference(Uint8Array.of(1))));
  });

  it('the single-chunk JS path equals noble for every length 0..1024, at any offset and alignment', () => {
    const src = Uint8Array.from({ length: SMALL_MAX + 3 }, (_, i) => (i * 31 + 7) & 0xff);
    const out = new Uint8Array(40);
    for (let n = 0; n <= SMALL_MAX; n++) {
      const input = src.subarray(n % 3, (n % 3) + n);
      blake3SmallInto(input, out, 5);
      expect(toHex(out.subarray(5, 37)), `n=${n}`).toBe(toHex(blake3Reference(input)));
    }
    expect(() => blake3SmallInto(new Uint8Array(SMALL_MAX + 1), out, 0)).toThrow(RangeError);
  });

  it('blake3Into handles long inputs through the WebAssembly path', () => {
    const big = new Uint8Array(5000).fill(3);
    const out = new Uint8Array(32);
    blake3Into(big, out, 0);
    expect(toHex(out)).toBe(toHex(blake3Reference(big)));
  });

  it('the single-chunk path ignores whatever a longer earlier input left past the end', () => {
    const src = Uint8Array.from({ length: SMALL_MAX }, (_, i) => (i * 13 + 1) & 0xff);
    const out = new Uint8Array(32);
    const scratch = blake3PaddedScratch(SMALL_MAX);
    const words = new Uint32Array(8);
    for (let n = SMALL_MAX; n >= 0; n -= 7) {
      blake3SmallInto(src.subarray(0, n), out, 0);
      expect(toHex(out), `n=${n}`).toBe(toHex(blake3Reference(src.subarray(0, n))));
      if (!LITTLE_ENDIAN) continue;
      // The caller's scratch still holds the longer message: only the first n bytes count.
      scratch.bytes.set(src);
      blake3LeafWords(scratch.words, n, words, 0);
      expect(toHex(new Uint8Array(words.buffer)), `words n=${n}`).toBe(toHex(blake3Reference(src.subarray(0, n))));
    }
  });

  it('the word-wise Merkle node hash equals BLAKE3(0x01 ‖ left ‖ right)', () => {
    if (!LITTLE_ENDIAN) return;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (lr) => {
        const slab = new Uint32Array(24);
        new Uint8Array(slab.buffer).set(lr, 32);
        blake3NodeWords(slab, 8, 16, slab, 0);
        const expected = blake3Reference(Uint8Array.of(0x01, ...lr));
        expect(toHex(new Uint8Array(slab.buffer, 0, 32))).toBe(toHex(expected));
      }),
      { numRuns: 200 },
    );
  });
});
