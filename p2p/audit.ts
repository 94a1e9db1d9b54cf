/**
 * What a bundle says about itself, the claim that describes it, and the replay that checks a claim
 * against its bundle. Replays run on cage threads (the node's ReplayPool, or `runCage`), with the
 * fuel, memory and wall-clock limits of the bundle's own manifest.
 */
import {
  blake3,
  resultHash,
  decodeBundle,
  encodeEntry,
  inclusionProof,
  leafHash,
  runCage,
  verdictOf,
  verifyBundleBytes,
  INSTRUMENTER_VERSION,
  DEFAULT_COST_TABLE,
  DocklockError,
} from '../index.ts';
import type { RunOutcome } from '../index.ts';
import type { ReplayInput, Replayer } from './replay-input.ts';
import type { Claim, ClaimStatus, Divergence, Verdict } from './messages.ts';
import { P2PError } from './errors.ts';
import { equalBytes, hex } from './wire.ts';

type Bundle = ReturnType<typeof decodeBundle>;

/** The claim fields a bundle determines (everything but the claimer, time and bundle hash/size). */
export type BundleFacts = Omit<Claim, 'claimer' | 'issuedAt' | 'bundleHash' | 'bundleSize'>;

export function bundleFacts(b: Bundle): BundleFacts {
  const r = b.result;
  // The score contract (runtime/evaluate/evaluation.ts) read from the recorded outputs: a claim's
  // score is a function of its bundle, so any node recomputes it without running anything.
  const v = verdictOf({ result: r, error: null } as unknown as RunOutcome);
  return {
    moduleHash: r.moduleHash,
    manifestHash: r.manifestHash,
    submissionHash: blake3(b.stdin),
    score: v.score,
    status: v.status as ClaimStatus,
    resultHash: b.resultHash,
    witnessRoot: r.witnessRoot,
    witnessEntries: r.witnessEntries,
    instrumenterVersion: r.instrumenterVersion,
    costTableVersion: r.costTableVersion,
  };
}

/**
 * The claim for a bundle file: its facts, checked for internal consistency first.
 * @throws {P2PError} `DL_ERR_P2P_BUNDLE_INVALID` when the bundle does not verify
 */
export function claimFieldsOf(bytes: Uint8Array): Omit<Claim, 'claimer' | 'issuedAt'> {
  let v: ReturnType<typeof verifyBundleBytes>;
  try {
    v = verifyBundleBytes(bytes);
  } catch (e) {
    throw new P2PError(
      'DL_ERR_P2P_BUNDLE_INVALID',
      `cannot publish this bundle: ${(e as Error).message}`,
      { field: 'bundle' },
      { cause: e },
    );
  }
  if (!v.ok)
    throw new P2PError(
      'DL_ERR_P2P_BUNDLE_INVALID',
      `cannot publish this bundle: ${v.problems.map((p) => p.message).join('; ')}`,
      { field: 'bundle' },
    );
  return { ...bundleFacts(v.bundle), bundleHash: blake3(bytes), bundleSize: bytes.length };
}

const COMPARED: readonly (keyof BundleFacts)[] = [
  'moduleHash',
  'manifestHash',
  'submissionHash',
  'instrumenterVersion',
  'costTableVersion',
  'witnessEntries',
  'witnessRoot',
  'resultHash',
  'status',
  'score',
];

function show(v: unknown): string {
  return v instanceof Uint8Array ? hex(v) : String(v);
}

/** The first claim field that its bundle contradicts, or null. */
export function claimMismatch(claim: Claim, facts: BundleFacts): Divergence | null {
  for (const k of COMPARED) {
    const a = claim[k];
    const b = facts[k];
    const same = a instanceof Uint8Array && b instanceof Uint8Array ? equalBytes(a, b) : a === b;
    if (!same) return { kind: 'bundle', field: k, claimed: show(a), actual: show(b) };
  }
  return null;
}

/** A replay's judgement, before signing. `abstain`: this node cannot judge (another engine version). */
export type Judgement = { abstain: string } | Omit<Verdict, 'replayer' | 'issuedAt' | 'claimId'>;

/**
 * The half of judging that runs nothing: the bundle checked against itself, then against the claim
 * and this node's engine versions. Never throws for anything in the bytes.
 * @returns the judgement when no replay is needed, else the decoded bundle to replay
 */
export function checkClaimBundle(claim: Claim, bytes: Uint8Array): { judgement: Judgement } | { bundle: Bundle } {
  let bundle: Bundle;
  try {
    const v = verifyBundleBytes(bytes);
    if (!v.ok)
      return {
        judgement: {
          outcome: 'diverge',
          resultHash: null,
          divergence: {
            kind: 'bundle',
            field: 'integrity',
            claimed: 'a consistent bundle',
            actual: v.problems[0]!.code,
          },
        },
      };
    bundle = v.bundle;
  } catch (e) {
    // A bundle from a newer docklock (a WASI level above this node's) is not this node's to judge:
    // during an upgrade, old nodes abstain rather than dispute every new claim. Abstaining never
    // counts as a match, so a claimer cannot win anything by claiming a level nobody has.
    if (e instanceof DocklockError && e.code === 'DL_ERR_BUNDLE_SCHEMA' && e.where?.field === 'wasiLevel')
      return { judgement: { abstain: `recorded by a newer docklock: ${e.message}` } };
    return {
      judgement: {
        outcome: 'diverge',
        resultHash: null,
        divergence: {
          kind: 'bundle',
          field: 'decode',
          claimed: 'a bundle',
          actual: e instanceof DocklockError ? e.code : 'DL_ERR_INTERNAL',
        },
      },
    };
  }
  const mismatch = claimMismatch(claim, bundleFacts(bundle));
  if (mismatch !== null) return { judgement: { outcome: 'diverge', resultHash: null, divergence: mismatch } };
  if (
    bundle.result.instrumenterVersion !== INSTRUMENTER_VERSION ||
    bundle.result.costTableVersion !== DEFAULT_COST_TABLE.version
  ) {
    return {
      judgement: {
        abstain: `recorded by instrumenter ${bundle.result.instrumenterVersion}; this node has ${INSTRUMENTER_VERSION}`,
      },
    };
  }
  return { bundle };
}

/** What a bundle's replay asks of the cage. */
export function replayInputOf(bundle: Bundle): ReplayInput {
  return {
    manifest: bundle.manifest,
    module: bundle.module,
    stdin: bundle.stdin,
    inputs: bundle.inputs,
    witness: bundle.witnessBytes,
    wasiLevel: bundle.wasiLevel,
  };
}

/** The judgement of a replay of a bundle that {@link checkClaimBundle} passed. */
export function judgementOfReplay(bundle: Bundle, out: Pick<RunOutcome, 'result' | 'divergence'>): Judgement {
  const actual = resultHash(out.result);
  if (out.divergence !== null)
    return { outcome: 'diverge', resultHash: actual, divergence: witnessDivergence(bundle, out.divergence) };
  if (!equalBytes(actual, bundle.resultHash))
    return { outcome: 'diverge', resultHash: actual, divergence: { kind: 'result' } };
  return { outcome: 'match', resultHash: actual, divergence: null };
}

/**
 * Checks a claim against its bundle: static consistency, then a replay. The node's replay pool
 * (replay-pool.ts) runs the same two halves on its threads.
 * @param claim - the claim (already signature-checked).
 * @param bytes - the bundle whose BLAKE3 is `claim.bundleHash` (the caller checked it while fetching).
 */
export async function judgeClaim(
  claim: Claim,
  bytes: Uint8Array,
  replay: Replayer = (i) => runCage({ ...i, mode: 'replay' }),
): Promise<Judgement> {
  const c = checkClaimBundle(claim, bytes);
  if ('judgement' in c) return c.judgement;
  return judgementOfReplay(c.bundle, await replay(replayInputOf(c.bundle)));
}

function witnessDivergence(bundle: Bundle, d: NonNullable<RunOutcome['divergence']>): Divergence {
  const entries = bundle.witness;
  const leaves = entries.map((e) => leafHash(encodeEntry(e)));
  const i = d.index;
  let actualLeaf: Uint8Array | null = null;
  try {
    if (d.actual !== null) actualLeaf = leafHash(encodeEntry({ ...d.actual, index: i }));
  } catch {
    actualLeaf = null;
  }
  if (i >= leaves.length)
    return {
      kind: 'witness',
      index: i,
      treeSize: leaves.length,
      claimedLeaf: null,
      actualLeaf,
      path: [],
      field: d.field,
    };
  const proof = inclusionProof(leaves, i);
  return {
    kind: 'witness',
    index: i,
    treeSize: leaves.length,
    claimedLeaf: proof.leafHash,
    actualLeaf,
    path: proof.path,
    field: d.field,
  };
}
