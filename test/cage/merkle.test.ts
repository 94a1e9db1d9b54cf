import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blake3Reference, toHex } from '../../runtime/hash.ts';
import {
  inclusionProof,
  leafHash,
  merkleRoot,
  merkleRootOfLeafHashes,
  merkleRootOfLeafSlab,
  merkleRootOfSlab,
  nodeHash,
  verifyInclusion,
  type InclusionProof,
} from '../../runtime/witness/merkle.ts';

const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));
const H = (b: Uint8Array): Uint8Array => blake3Reference(b);

/** RFC 9162 §2.1.1 MTH, written as the recursive definition with the reference hasher. */
function naiveMth(d: Uint8Array[]): Uint8Array {
  const n = d.length;
  if (n === 0) return H(new Uint8Array(0));
  if (n === 1) return H(cat(Uint8Array.of(0), d[0]));
  const k = largestPow2Below(n);
  return H(cat(Uint8Array.of(1), naiveMth(d.slice(0, k)), naiveMth(d.slice(k))));
}

/** RFC 9162 §2.1.3.1 PATH(m, D[n]). */
function naivePath(m: number, d: Uint8Array[]): Uint8Array[] {
  const n = d.length;
  if (n <= 1) return [];
  const k = largestPow2Below(n);
  return m < k
    ? [...naivePath(m, d.slice(0, k)), naiveMth(d.slice(k))]
    : [...naivePath(m - k, d.slice(k)), naiveMth(d.slice(0, k))];
}

function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const leavesOf = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => Uint8Array.of(i, i * 3, 7));

describe('merkle tree (RFC 9162 §2.1)', () => {
  it('empty tree root is H("")', () => {
    expect(toHex(merkleRoot([]))).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262');
  });

  it('one leaf: root = H(0x00 ‖ d); two leaves: H(0x01 ‖ H(0x00‖a) ‖ H(0x00‖b))', () => {
    const a = Uint8Array.of(1, 2);
    const b = Uint8Array.of(3);
    expect(toHex(merkleRoot([a]))).toBe(toHex(H(cat(Uint8Array.of(0), a))));
    const la = H(cat(Uint8Array.of(0), a));
    const lb = H(cat(Uint8Array.of(0), b));
    expect(toHex(merkleRoot([a, b]))).toBe(toHex(H(cat(Uint8Array.of(1), la, lb))));
    expect(toHex(nodeHash(la, lb))).toBe(toHex(merkleRoot([a, b])));
  });

  it('roots equal the recursive MTH definition for sizes 0..17 and a few larger', () => {
    for (const n of [...Array.from({ length: 18 }, (_, i) => i), 31, 32, 33, 100]) {
      const d = leavesOf(n);
      expect(toHex(merkleRoot(d)), `n=${n}`).toBe(toHex(naiveMth(d)));
    }
  });

  it('merkleRootOfLeafSlab equals the recursive definition and leaves its slab intact, at any alignment', () => {
    for (const n of [...Array.from({ length: 18 }, (_, i) => i), 33, 100]) {
      const d = leavesOf(n);
      for (const offset of [0, 4, 1]) {
        const buf = new Uint8Array(offset + n * 32);
        d.forEach((x, i) => buf.set(leafHash(x), offset + i * 32));
        const slab = buf.subarray(offset);
        const before = toHex(slab);
        expect(toHex(merkleRootOfLeafSlab(slab, n)), `n=${n} offset=${offset}`).toBe(toHex(naiveMth(d)));
        expect(toHex(slab)).toBe(before);
        expect(toHex(merkleRootOfSlab(slab, n))).toBe(toHex(naiveMth(d)));
      }
    }
  });

  it('inclusion paths equal RFC 9162 PATH(m, D[n]) for every leaf of sizes 1..17', () => {
    for (let n = 1; n <= 17; n++) {
      const d = leavesOf(n);
      const hashes = d.map(leafHash);
      for (let m = 0; m < n; m++) {
        expect(inclusionProof(hashes, m).path.map(toHex), `n=${n} m=${m}`).toEqual(naivePath(m, d).map(toHex));
      }
    }
  });

  it('leaf hashes with the domain prefix: a leaf never equals an interior node of the same bytes', () => {
    const l = leafHash(Uint8Array.of(9));
    const asLeaf = leafHash(cat(l, l));
    expect(toHex(asLeaf)).not.toBe(toHex(nodeHash(l, l)));
  });

  it('verify(prove(i)) holds for every leaf (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 70 }), (d) => {
        const hashes = d.map(leafHash);
        const root = merkleRootOfLeafHashes(hashes);
        for (let i = 0; i < d.length; i++) expect(verifyInclusion(inclusionProof(hashes, i), root)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  // The tree size is not in the list: RFC 9162 proofs bind it only through the root, and a proof
  // can be valid for two sizes that share the same path shape (3 and 4 leaves, index 0).
  it('any altered byte of path, leaf or root, a changed index, or a dropped/extra path element fails (property)', () => {
    const arb = fc.integer({ min: 2, max: 70 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        i: fc.integer({ min: 0, max: n - 1 }),
        pick: fc.nat(),
        bit: fc.integer({ min: 0, max: 7 }),
        delta: fc.integer({ min: 1, max: 80 }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ n, i, pick, bit, delta }) => {
        const hashes = leavesOf(n).map(leafHash);
        const root = merkleRootOfLeafHashes(hashes);
        const proof = inclusionProof(hashes, i);
        const flip = (b: Uint8Array): Uint8Array => {
          const c = b.slice();
          c[pick % 32] ^= 1 << bit;
          return c;
        };
        const variants: [string, InclusionProof, Uint8Array][] = [
          ['leaf', { ...proof, leafHash: flip(proof.leafHash) }, root],
          ['root', proof, flip(root)],
          ['index', { ...proof, index: (i + delta) % n }, root],
          ['path dropped', { ...proof, path: proof.path.slice(1) }, root],
          ['path extended', { ...proof, path: [...proof.path, root] }, root],
        ];
        if (proof.path.length > 0) {
          const k = pick % proof.path.length;
          variants.push(['path', { ...proof, path: proof.path.map((p, j) => (j === k ? flip(p) : p)) }, root]);
        }
        for (const [what, p, r] of variants) {
          if (what === 'index' && p.index === i) continue;
          expect(verifyInclusion(p, r), what).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('malformed proofs fail without throwing', () => {
    const hashes = leavesOf(5).map(leafHash);
    const root = merkleRootOfLeafHashes(hashes);
    const p = inclusionProof(hashes, 2);
    expect(verifyInclusion({ ...p, index: -1 }, root)).toBe(false);
    expect(verifyInclusion({ ...p, index: 1.5 }, root)).toBe(false);
    expect(verifyInclusion({ ...p, path: [new Uint8Array(31), ...p.path.slice(1)] }, root)).toBe(false);
    expect(verifyInclusion({ ...p, leafHash: new Uint8Array(0) }, root)).toBe(false);
    expect(verifyInclusion({ ...p, treeSize: 2 ** 40 }, root)).toBe(false);
    expect(() => inclusionProof(hashes, 5)).toThrow(RangeError);
  });

  it('root computation is linear in the number of leaves (complexity fit)', () => {
    const sizes = [1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16];
    const base = leavesOf(1 << 16).map(leafHash);
    const time = (n: number): number => {
      const slice = base.slice(0, n);
      let best = Infinity;
      for (let r = 0; r < 5; r++) {
        const t = performance.now();
        merkleRootOfLeafHashes(slice);
        best = Math.min(best, performance.now() - t);
      }
      return best;
    };
    time(sizes[0]);
    const xs = sizes.map(Math.log);
    const ys = sizes.map((n) => Math.log(time(n)));
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const slope = xs.reduce((s, x, k) => s + (x - mx) * (ys[k] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    // Linear is exponent 1; quadratic would be 2. The margin absorbs noise on a shared machine.
    expect(slope).toBeLessThan(1.5);
  });
});
