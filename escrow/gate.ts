/**
 * The gate: what happens to an escrowed result, decided from three factors and explained.
 *
 * - **Jury.** Independent replays of the run's bundle; each must reproduce the claimed result hash
 *   bit for bit. Where a replay comes from (a local worker process, a P2P verdict) is the juror's
 *   business: the gate sees only `{ juror, resultHash }`, and each juror counts once.
 * - **Entropy.** The submission's bits per byte against a band: a flag that sends a result to
 *   review unless the miner is trusted, never a revert.
 * - **Reputation.** Low reputation raises the jury size, and below a threshold every result goes
 *   to review.
 *
 * The rules, in order (docs/escrow.md#gate): a mismatching juror → revert; fewer matching jurors
 * than required → wait; reputation under `reviewBelow` → hold; entropy flagged and reputation
 * under `trustedAbove` → hold; otherwise → commit. `decide` is a pure function of its inputs, so
 * the same inputs give the same decision and the same explanation on every node.
 */
import type { EntropyBand, EntropyReading } from './entropy.ts';

export interface GateRules {
  /** Matching replays needed for a commit. */
  readonly jurySize: number;
  /** Extra matching replays needed from a miner whose reputation is under `raiseQuorumBelow`. */
  readonly lowReputationExtra: number;
  readonly raiseQuorumBelow: number;
  /** Under this reputation every result is held for review. */
  readonly reviewBelow: number;
  /** At or above this reputation an entropy flag alone does not hold a result. */
  readonly trustedAbove: number;
  /** The entropy band; absent: no entropy check. */
  readonly entropy?: EntropyBand;
}

export const GATE_DEFAULTS: GateRules = {
  jurySize: 3,
  lowReputationExtra: 2,
  raiseQuorumBelow: 0.4,
  reviewBelow: 0.15,
  trustedAbove: 0.8,
};

/** One juror's answer: the result hash its replay produced (`null`: the replay failed). */
export interface JurorVerdict {
  readonly juror: string;
  readonly resultHash: string | null;
  /** Why the replay failed, or where it diverged. */
  readonly detail?: string;
}

export type GateOutcome = 'commit' | 'revert' | 'hold' | 'wait';

export interface GateDecision {
  readonly outcome: GateOutcome;
  /** Each rule that decided, in words, in the order applied. */
  readonly reasons: readonly string[];
  readonly required: number;
  readonly matching: readonly string[];
  readonly mismatching: readonly string[];
  readonly reputation: number;
  readonly entropy: EntropyReading | null;
}

export interface GateInput {
  /** The result hash the escrowed run claims. */
  readonly resultHash: string;
  readonly verdicts: readonly JurorVerdict[];
  readonly reputation: number;
  readonly entropy: EntropyReading | null;
  readonly rules: GateRules;
}

/** Jurors required for a miner of this reputation. */
export function requiredJurors(reputation: number, rules: GateRules): number {
  return rules.jurySize + (reputation < rules.raiseQuorumBelow ? rules.lowReputationExtra : 0);
}

export function decide(input: GateInput): GateDecision {
  const { rules, reputation, entropy } = input;
  const required = requiredJurors(reputation, rules);
  const seen = new Set<string>();
  const matching: string[] = [];
  const mismatching: string[] = [];
  const mismatchWords: string[] = [];
  for (const v of input.verdicts) {
    if (seen.has(v.juror)) continue;
    seen.add(v.juror);
    if (v.resultHash === input.resultHash) matching.push(v.juror);
    else {
      mismatching.push(v.juror);
      mismatchWords.push(
        v.resultHash === null
          ? `juror ${v.juror} could not replay the bundle${v.detail ? ` (${v.detail})` : ''}`
          : `juror ${v.juror} replayed result ${v.resultHash.slice(0, 16)}…, not the claimed ${input.resultHash.slice(0, 16)}…${v.detail ? ` (${v.detail})` : ''}`,
      );
    }
  }
  const rep = reputation.toFixed(3);
  const quorum = `${matching.length} of ${required} required matching replays${required > rules.jurySize ? ` (raised: reputation ${rep} < ${rules.raiseQuorumBelow})` : ''}`;
  const flag =
    entropy === null
      ? null
      : `submission entropy ${entropy.bitsPerByte.toFixed(3)} bits/byte is ${entropy.flagged ? 'outside' : 'within'} ${entropy.band.baseline} ± ${entropy.band.tolerance}`;
  const out = (outcome: GateOutcome, reasons: string[]): GateDecision => ({
    outcome,
    reasons: flag === null ? reasons : [...reasons, flag],
    required,
    matching,
    mismatching,
    reputation,
    entropy,
  });

  if (mismatching.length > 0)
    return out('revert', [...mismatchWords, 'a result one juror cannot reproduce is never committed']);
  if (matching.length < required) return out('wait', [quorum]);
  if (reputation < rules.reviewBelow)
    return out('hold', [quorum, `reputation ${rep} < ${rules.reviewBelow}: every result goes to review`]);
  if (entropy?.flagged === true && reputation < rules.trustedAbove)
    return out('hold', [quorum, `entropy flagged and reputation ${rep} < ${rules.trustedAbove}: review`]);
  return out('commit', [quorum]);
}
