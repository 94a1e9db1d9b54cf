/**
 * What makes one message of a signed batch verifiable on its own (docs/p2p.md, "Batches"): the
 * batch's signer signs the RFC 9162 Merkle root (BLAKE3, the witness tree of runtime/witness) over
 * the batch's message bodies, once; each message then travels with the root, the signature and its
 * inclusion proof. One Ed25519 check covers a whole batch, and anyone holding one message still
 * checks it offline: leaf in root, root signed by the key named in the body.
 *
 * Chosen over a signature per message by measurement (bench/RESULTS.md, "P2P batches"): on this
 * machine an Ed25519 check costs ~78 µs and a signature ~80 µs, a message's leaf hash, share of the
 * tree and proof ~10 µs, and checking a proof ~2.5 µs.
 */
import { leafHash, nodeHash } from '../runtime/api/bundle.ts';
import { verifySignature } from './keys.ts';
import { hex } from './wire.ts';

/** Most messages in one batch: a proof path is at most log2 of it (6 hashes). */
export const MAX_BATCH_ITEMS = 64;
export const MAX_PROOF_DEPTH = 6;
const te = new TextEncoder();

/** The bytes a batch signature covers: domain, kind, number of messages and root. */
export function batchSigningBytes(kind: string, size: number, root: Uint8Array): Uint8Array {
  const head = te.encode(`docklock/p2p/batch/1\0${kind}\0`);
  const out = new Uint8Array(head.length + 4 + 32);
  out.set(head, 0);
  new DataView(out.buffer).setUint32(head.length, size);
  out.set(root, head.length + 4);
  return out;
}

/**
 * The tree over the bodies' leaf hashes, level by level (the bottom-up form of runtime/witness/merkle.ts:
 * pair neighbours, promote a lone last node), so every message's proof is read off it in O(log n).
 */
export function merkleLevels(leaves: readonly Uint8Array[]): Uint8Array[][] {
  const levels: Uint8Array[][] = [leaves.slice()];
  for (let level = levels[0]!; level.length > 1; ) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    levels.push(next);
    level = next;
  }
  return levels;
}

export function rootOf(levels: readonly Uint8Array[][]): Uint8Array {
  return levels[levels.length - 1]![0]!;
}

/** RFC 9162 §2.1.3.1 PATH of leaf `index`, from the levels {@link merkleLevels} built. */
export function pathOf(levels: readonly Uint8Array[][], index: number): Uint8Array[] {
  const path: Uint8Array[] = [];
  let i = index;
  for (let l = 0; l < levels.length - 1; l++) {
    const sibling = i ^ 1;
    if (sibling < levels[l]!.length) path.push(levels[l]![sibling]!);
    i >>>= 1;
  }
  return path;
}

/** The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or null when the proof is malformed. */
export function rootFromProof(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
): Uint8Array | null {
  if (index < 0 || index >= size || size > MAX_BATCH_ITEMS) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if ((fn & 1) === 1 || fn === sn) {
      r = nodeHash(p, r);
      while ((fn & 1) === 0 && fn !== 0) {
        fn >>>= 1;
        sn >>>= 1;
      }
    } else r = nodeHash(r, p);
    fn >>>= 1;
    sn >>>= 1;
  }
  return sn === 0 ? r : null;
}

export { leafHash };

// Batch signatures already checked, by signature: every message of a batch that arrives on its own
// (catch-up sends them one by one, the orphan pool re-delivers them) names the same root, and one
// Ed25519 check per batch is the point. The key holds everything the signature covers, so a hit is
// exactly the check that passed. Bounded: a flood of batches only empties it.
const checked = new Map<string, string>();

/** Checks a batch signature over (kind, size, root) by `signer`, once per distinct batch. */
export async function verifyBatchSignature(
  signer: Uint8Array,
  kind: string,
  size: number,
  root: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const k = hex(signature);
  const what = `${hex(signer)}:${kind}:${size}:${hex(root)}`;
  if (checked.get(k) === what) return true;
  if (!(await verifySignature(signer, batchSigningBytes(kind, size, root), signature))) return false;
  if (checked.size >= 4096) checked.clear();
  checked.set(k, what);
  return true;
}
