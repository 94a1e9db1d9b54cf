/**
 * Dispute files: a claim, a diverging verdict on it and, when the verdict says the claim misstates
 * its own bundle, that bundle. `verifyDispute` checks one offline, without replaying
 * (docs/p2p.md, "What a dispute proves"):
 *
 * | divergence | checked offline | strength |
 * |---|---|---|
 * | `witness` | both signatures; the claimed leaf at `index` is in the claim's signed witness root (RFC 9162 inclusion proof); the replayed leaf differs | `pinned`: the claimer committed to that entry; the replayer signed a different one |
 * | `bundle` with the bundle | both signatures; BLAKE3(bundle) is the claimed bundle hash; the bundle itself contradicts the claim on `field` | `proof`: the claim is false, whatever any replay says |
 * | `result` | both signatures; replayed and claimed result hashes differ | `signed`: two signed parties disagree; a replay settles it |
 *
 * Layout: canonical MessagePack `["docklock/dispute", 1, claim envelope, verdict envelope, bundle | nil]`.
 */
import { blake3, verifyInclusion } from '../index.ts';
import { claimFieldsOf, claimMismatch } from './audit.ts';
import { P2PError } from './errors.ts';
import { CLAIM_KIND, openEnvelope, VERDICT_KIND, type Claim, type Verdict } from './messages.ts';
import { equalBytes, Fields, hex, pack, unpackCanonical } from './wire.ts';

export const DISPUTE_KIND = 'docklock/dispute';
export const DISPUTE_VERSION = 1;
/** A dispute carries its bundle only up to this size; larger ones stay `bundle` disputes without the file. */
export const MAX_DISPUTE_BUNDLE_BYTES = 8 * 1024 * 1024;

export interface DisputeReport {
  claimId: string;
  claimer: string;
  replayer: string;
  kind: 'witness' | 'result' | 'bundle';
  strength: 'proof' | 'pinned' | 'signed';
  /** What the dispute shows, in one sentence. */
  finding: string;
}

export function encodeDispute(
  claimEnvelope: Uint8Array,
  verdictEnvelope: Uint8Array,
  bundle: Uint8Array | null,
): Uint8Array {
  return pack([
    DISPUTE_KIND,
    DISPUTE_VERSION,
    claimEnvelope,
    verdictEnvelope,
    bundle !== null && bundle.length <= MAX_DISPUTE_BUNDLE_BYTES ? bundle : null,
  ]);
}

function invalid(message: string, field: string): P2PError {
  return new P2PError('DL_ERR_P2P_DISPUTE_INVALID', message, { field });
}

/**
 * Checks a divergence against the claim it disputes (no bundle, no replay): the check every node
 * applies to a diverging verdict before it marks a claim disputed.
 * @throws {P2PError} `DL_ERR_P2P_DISPUTE_INVALID`
 */
export function checkDivergence(claim: Claim, claimId: Uint8Array, verdict: Verdict): void {
  if (!equalBytes(verdict.claimId, claimId)) throw invalid('the verdict judges another claim', 'verdict.claimId');
  const d = verdict.divergence;
  if (verdict.outcome !== 'diverge' || d === null)
    throw invalid('the verdict is a match, not a divergence', 'verdict.outcome');
  if (d.kind === 'witness') {
    if (d.treeSize !== claim.witnessEntries)
      throw invalid(
        `the proof is for a tree of ${d.treeSize} leaves; the claim commits to ${claim.witnessEntries}`,
        'divergence.treeSize',
      );
    if (d.claimedLeaf === null) {
      if (d.index !== claim.witnessEntries)
        throw invalid('a divergence past the recorded witness must sit at its end', 'divergence.index');
    } else {
      if (
        !verifyInclusion(
          { index: d.index, treeSize: d.treeSize, leafHash: d.claimedLeaf, path: d.path },
          claim.witnessRoot,
        )
      )
        throw invalid(
          `the inclusion proof of entry ${d.index} does not verify against the claimed witness root`,
          'divergence.path',
        );
      if (d.actualLeaf !== null && equalBytes(d.actualLeaf, d.claimedLeaf))
        throw invalid(`the replayed entry ${d.index} equals the claimed one`, 'divergence.actualLeaf');
    }
  } else if (d.kind === 'result') {
    if (verdict.resultHash === null || equalBytes(verdict.resultHash, claim.resultHash))
      throw invalid(
        'a result divergence needs a replayed result hash different from the claimed one',
        'verdict.resultHash',
      );
  }
  // `bundle` divergences name a field; only the bundle itself proves them (verifyDispute).
}

/**
 * Verifies a dispute file offline.
 * @throws {P2PError} `DL_ERR_P2P_DISPUTE_INVALID` (or a message decoding code) when it proves nothing
 */
export async function verifyDispute(bytes: Uint8Array): Promise<DisputeReport> {
  const f = new Fields(unpackCanonical(bytes, 'dispute'), 'dispute', 5);
  f.literal(DISPUTE_KIND);
  f.literal(DISPUTE_VERSION);
  const c = await openEnvelope(f.bytes(undefined, 1 << 16));
  const v = await openEnvelope(f.bytes(undefined, 1 << 16));
  const bundleRaw = f.raw();
  if (c.kind !== CLAIM_KIND || v.kind !== VERDICT_KIND)
    throw invalid('a dispute holds a claim, then a verdict', 'dispute');
  checkDivergence(c.claim, c.id, v.verdict);
  const d = v.verdict.divergence!;
  if (d.kind !== 'bundle' && bundleRaw !== null)
    throw invalid(`a ${d.kind} dispute carries no bundle`, 'dispute.bundle');
  const base = { claimId: c.idHex, claimer: hex(c.claim.claimer), replayer: hex(v.verdict.replayer), kind: d.kind };
  if (d.kind === 'witness') {
    const where =
      d.claimedLeaf === null
        ? `the replay made a call past the ${d.treeSize} recorded`
        : `entry ${d.index} of ${d.treeSize} (${d.field} differs)`;
    return {
      ...base,
      strength: 'pinned',
      finding: `the claim's witness root commits to ${where}; the replayer signed a different entry`,
    };
  }
  if (d.kind === 'result')
    return {
      ...base,
      strength: 'signed',
      finding: 'every witness entry replayed, but the replayed result hash differs from the claimed one',
    };
  if (!(bundleRaw instanceof Uint8Array))
    return {
      ...base,
      strength: 'signed',
      finding: `the replayer says the bundle contradicts the claim's ${d.field} (the dispute does not carry the bundle to prove it)`,
    };
  if (!equalBytes(blake3(bundleRaw), c.claim.bundleHash))
    throw invalid('the enclosed bundle is not the one the claim names', 'dispute.bundle');
  let mismatch;
  try {
    const facts = claimFieldsOf(bundleRaw);
    mismatch = claimMismatch(c.claim, { ...facts });
  } catch (e) {
    return { ...base, strength: 'proof', finding: `the claimed bundle is unusable: ${(e as Error).message}` };
  }
  if (mismatch === null || mismatch.kind !== 'bundle')
    throw invalid('the enclosed bundle agrees with the claim', 'dispute.bundle');
  return {
    ...base,
    strength: 'proof',
    finding: `the claimed bundle contradicts the claim's ${mismatch.field}: claimed ${mismatch.claimed}, bundle has ${mismatch.actual}`,
  };
}
