/**
 * The witness Merkle tree: RFC 9162 §2.1 (same as RFC 6962 §2.1) with BLAKE3-256 as the hash
 * (spec: witness.md#H2).
 *
 * ```
 * MTH({})        = H("")                              RFC 9162 §2.1.1
 * MTH({d0})      = H(0x00 ‖ d0)                       leaf
 * MTH(D[n])      = H(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n]))  k = largest power of two < n
 * ```
 *
 * The bottom-up form used here (pair neighbours on each level, promote a lone last node unchanged)
 * builds exactly that tree: splitting at the largest power of two below n leaves every left
 * subtree perfect, which is what pairing from the left produces. test/cage/merkle.test.ts checks
 * it against the recursive definition.
 *
 * Inclusion proofs follow RFC 9162 §2.1.3.1 (PATH) and are verified with the §2.1.3.2 algorithm.
 *
 * @module
 */
import { blake3, blake3Into, bytesEqual, HASH_BYTES } from '../hash.ts';
import { blake3NodeWords, LITTLE_ENDIAN } from '../blake3-small.ts';

/** Domain separation prefix of leaf hashes (RFC 9162 §2.1.1). */
export const LEAF_PREFIX = 0x00;
/** Domain separation prefix of interior node hashes (RFC 9162 §2.1.1). */
export const NODE_PREFIX = 0x01;

/** An RFC 9162 §2.1.3 inclusion proof of one leaf in a tree of `treeSize` leaves. */
export interface InclusionProof {
  /** 0-based leaf index. */
  index: number;
  treeSize: number;
  /** H(0x00 ‖ leaf data). */
  leafHash: Uint8Array;
  /** Sibling hashes from the leaf level up to the root. */
  path: Uint8Array[];
}

// One scratch buffer per prefix: hashing a single contiguous input is the fastest path through
// the WebAssembly hasher. Safe as module state because nothing here awaits between uses.
let leafScratch = new Uint8Array(1024);
const nodeScratch = new Uint8Array(1 + 2 * HASH_BYTES);
nodeScratch[0] = NODE_PREFIX;

/**
 * Leaf hash H(0x00 ‖ data).
 *
 * @param data - the leaf's bytes (for the witness: one encoded entry).
 * @returns 32-byte leaf hash.
 * @example
 * ```ts
 * leafHash(encodeEntry(entry));
 * ```
 */
export function leafHash(data: Uint8Array): Uint8Array {
  const need = data.length + 1;
  if (need > leafScratch.length) {
    // Large leaves (an HTTP response) are rare: hash a one-off copy rather than keep a big scratch.
    if (need > 1 << 20) {
      const tmp = new Uint8Array(need);
      tmp.set(data, 1);
      return blake3(tmp);
    }
    leafScratch = new Uint8Array(Math.max(need, leafScratch.length * 2));
  }
  leafScratch[0] = LEAF_PREFIX;
  leafScratch.set(data, 1);
  const out = new Uint8Array(HASH_BYTES);
  blake3Into(leafScratch.subarray(0, need), out, 0);
  return out;
}

/**
 * Interior node hash H(0x01 ‖ left ‖ right).
 *
 * @param left - 32-byte hash of the left subtree.
 * @param right - 32-byte hash of the right subtree.
 * @returns 32-byte node hash.
 * @example
 * ```ts
 * nodeHash(leafHash(a), leafHash(b)); // root of the two-leaf tree [a, b]
 * ```
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeScratch.set(left, 1);
  nodeScratch.set(right, 1 + HASH_BYTES);
  const out = new Uint8Array(HASH_BYTES);
  blake3Into(nodeScratch, out, 0);
  return out;
}

/**
 * Root of the tree over already-hashed leaves. Linear time: n−1 node hashes.
 *
 * @param leafHashes - H(0x00 ‖ d) for each leaf, in order.
 * @returns 32-byte root; H("") for no leaves (RFC 9162 §2.1.1).
 * @example
 * ```ts
 * merkleRootOfLeafHashes(log.finalize().leaves);
 * ```
 */
export function merkleRootOfLeafHashes(leafHashes: readonly Uint8Array[]): Uint8Array {
  const n = leafHashes.length;
  const slab = new Uint8Array(n * HASH_BYTES);
  for (let i = 0; i < n; i++) slab.set(leafHashes[i], i * HASH_BYTES);
  return merkleRootOfSlab(slab, n);
}

/**
 * Root of the tree whose leaf hashes lie back to back in `slab` (32 bytes each). Reduces the slab
 * in place, level by level, with no allocation per node: the witness finalisation path.
 *
 * @param slab - `n` leaf hashes, concatenated; overwritten.
 * @param n - number of leaves.
 * @returns 32-byte root (a fresh array).
 * @example
 * ```ts
 * merkleRootOfSlab(leafSlab.slice(), n);
 * ```
 */
export function merkleRootOfSlab(slab: Uint8Array, n: number): Uint8Array {
  if (n === 0) return blake3(new Uint8Array(0));
  if (LITTLE_ENDIAN && slab.byteOffset % 4 === 0) {
    // Hashes as words: each parent is built from its children's words, with no byte copy.
    const words = new Uint32Array(slab.buffer, slab.byteOffset, n * 8);
    let m = n;
    while (m > 1) {
      const pairs = m >>> 1;
      // Parent i overwrites words 8i..8i+7 after reading children 2i and 2i+1 (never unread ones).
      for (let i = 0; i < pairs; i++) blake3NodeWords(words, 16 * i, 16 * i + 8, words, 8 * i);
      if ((m & 1) === 1) words.copyWithin(pairs * 8, (m - 1) * 8, m * 8);
      m = pairs + (m & 1);
    }
    return slab.slice(0, HASH_BYTES);
  }
  let m = n;
  while (m > 1) {
    const pairs = m >>> 1;
    for (let i = 0; i < pairs; i++) {
      // Read both children into the scratch before writing: parent i overwrites child 2i's slot
      // only when i = 0, and never a slot not yet read.
      const src = 2 * i * HASH_BYTES;
      nodeScratch.set(slab.subarray(src, src + 2 * HASH_BYTES), 1);
      blake3Into(nodeScratch, slab, i * HASH_BYTES);
    }
    if ((m & 1) === 1) slab.copyWithin(pairs * HASH_BYTES, (m - 1) * HASH_BYTES, m * HASH_BYTES);
    m = pairs + (m & 1);
  }
  return slab.slice(0, HASH_BYTES);
}

/**
 * {@link merkleRootOfSlab} that leaves `slab` as it is: the first level is written to a half-size
 * scratch, so the leaf hashes need no full copy.
 *
 * @param slab - `n` leaf hashes, concatenated; not modified.
 * @param n - number of leaves.
 * @returns 32-byte root (a fresh array).
 * @example
 * ```ts
 * merkleRootOfLeafSlab(leafSlab, n);
 * ```
 */
export function merkleRootOfLeafSlab(slab: Uint8Array, n: number): Uint8Array {
  if (n <= 1) return n === 0 ? blake3(new Uint8Array(0)) : slab.slice(0, HASH_BYTES);
  const pairs = n >>> 1;
  const m = pairs + (n & 1);
  const level = new Uint8Array(m * HASH_BYTES);
  if (LITTLE_ENDIAN && slab.byteOffset % 4 === 0) {
    const from = new Uint32Array(slab.buffer, slab.byteOffset, n * 8);
    const to = new Uint32Array(level.buffer);
    for (let i = 0; i < pairs; i++) blake3NodeWords(from, 16 * i, 16 * i + 8, to, 8 * i);
  } else {
    for (let i = 0; i < pairs; i++) {
      const src = 2 * i * HASH_BYTES;
      nodeScratch.set(slab.subarray(src, src + 2 * HASH_BYTES), 1);
      blake3Into(nodeScratch, level, i * HASH_BYTES);
    }
  }
  if ((n & 1) === 1) level.set(slab.subarray((n - 1) * HASH_BYTES, n * HASH_BYTES), pairs * HASH_BYTES);
  return merkleRootOfSlab(level, m);
}

/**
 * Root of the tree over raw leaf data (MTH of RFC 9162 §2.1.1).
 *
 * @param leaves - leaf data, in order; each is hashed as H(0x00 ‖ d).
 * @returns 32-byte root.
 * @example
 * ```ts
 * merkleRoot([]); // H("")
 * ```
 */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  return merkleRootOfLeafHashes(leaves.map(leafHash));
}

/**
 * Inclusion proof for leaf `index` (RFC 9162 §2.1.3.1). Linear time in the tree size.
 *
 * @param leafHashes - all leaf hashes of the tree.
 * @param index - the leaf to prove, 0 ≤ index < leafHashes.length.
 * @returns the proof; verify it with {@link verifyInclusion}.
 * @throws {RangeError} if `index` is not a valid leaf index.
 * @example
 * ```ts
 * const proof = inclusionProof(leaves, 3);
 * verifyInclusion(proof, root); // true
 * ```
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): InclusionProof {
  const n = leafHashes.length;
  if (!Number.isSafeInteger(index) || index < 0 || index >= n) {
    throw new RangeError(`leaf index must be an integer in [0, ${n}), got ${index}`);
  }
  const path: Uint8Array[] = [];
  let level: readonly Uint8Array[] = leafHashes;
  let i = index;
  while (level.length > 1) {
    const sibling = i ^ 1;
    // A lone last node has no sibling on this level: it is promoted, adding nothing to the path.
    if (sibling < level.length) path.push(level[sibling].slice());
    level = nextLevel(level);
    i >>>= 1;
  }
  return { index, treeSize: n, leafHash: leafHashes[index].slice(), path };
}

/**
 * Checks an inclusion proof against a root with the RFC 9162 §2.1.3.2 algorithm.
 * Never throws: any malformed proof simply fails.
 *
 * @param proof - from {@link inclusionProof} or an untrusted source.
 * @param root - the 32-byte tree root to check against.
 * @returns true if the leaf hash is at `index` of a tree of `treeSize` leaves with this root.
 * @example
 * ```ts
 * verifyInclusion({ ...proof, index: proof.index + 1 }, root); // false
 * ```
 */
export function verifyInclusion(proof: InclusionProof, root: Uint8Array): boolean {
  const { index, treeSize, leafHash: leaf, path } = proof;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) return false;
  if (!isHash(leaf) || !isHash(root) || !Array.isArray(path)) return false;
  // Bit operations below need 32-bit indices; a witness never nears 2^31 entries.
  if (treeSize > 0x7fffffff) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of path) {
    if (!isHash(p)) return false;
    if (sn === 0) return false;
    if ((fn & 1) === 1 || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1) === 0) {
        while ((fn & 1) === 0 && fn !== 0) {
          fn >>>= 1;
          sn >>>= 1;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>>= 1;
    sn >>>= 1;
  }
  return sn === 0 && bytesEqual(r, root);
}

function nextLevel(level: readonly Uint8Array[]): Uint8Array[] {
  const n = level.length;
  const out = new Array<Uint8Array>((n + 1) >>> 1);
  let j = 0;
  for (let i = 0; i + 1 < n; i += 2) out[j++] = nodeHash(level[i], level[i + 1]);
  if ((n & 1) === 1) out[j] = level[n - 1];
  return out;
}

function isHash(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === HASH_BYTES;
}
