/**
 * A claim's state as a pure function of the claim, the valid verdicts on it and the time, so every
 * node that holds the same messages reaches the same state whatever order they came in (catch-up
 * and partitions depend on this):
 *
 * 1. `disputed` if any stored diverging verdict exists (only verdicts whose proof checked are stored);
 * 2. else `confirmed` if k distinct peers, none the claimer, signed a match issued within
 *    `expiryMs` of the claim;
 * 3. else `expired` once `now` is past the claim's issue time plus `expiryMs`;
 * 4. else `pending`.
 */
import type { ClaimState } from './store.ts';

export interface VerdictFacts {
  id: string;
  replayer: string;
  issuedAt: number;
  outcome: 'match' | 'diverge';
}

export function claimState(
  claim: { claimer: string; issuedAt: number },
  verdicts: readonly VerdictFacts[],
  k: number,
  expiryMs: number,
  now: number,
): { state: ClaimState; disputedBy: string | null } {
  const dispute = verdicts
    .filter((v) => v.outcome === 'diverge' && v.replayer !== claim.claimer)
    .sort((a, b) => a.issuedAt - b.issuedAt || (a.id < b.id ? -1 : 1))[0];
  if (dispute !== undefined) return { state: 'disputed', disputedBy: dispute.id };
  const deadline = claim.issuedAt + expiryMs;
  const matches = new Set(
    verdicts
      .filter((v) => v.outcome === 'match' && v.replayer !== claim.claimer && v.issuedAt <= deadline)
      .map((v) => v.replayer),
  );
  if (matches.size >= k) return { state: 'confirmed', disputedBy: null };
  return { state: now > deadline ? 'expired' : 'pending', disputedBy: null };
}
