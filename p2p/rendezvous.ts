/**
 * Who replays a claim: rendezvous (highest-random-weight) hashing of the claim id over the known
 * peers (Thaler & Ravishankar 1998). Every node ranks the same candidates the same way, the
 * claimer is never a candidate, and the claimer cannot steer the ranking without changing the
 * claim (and so its id), which it signed before knowing anything else.
 */
import { blake3 } from '../index.ts';
import { hex } from './wire.ts';

const te = new TextEncoder();

/** Candidates ordered by weight BLAKE3(claim id ‖ peer id), highest first; ties by peer id. */
export function rankReplayers(claimId: Uint8Array, candidates: Iterable<string>): string[] {
  const weighted = [...new Set(candidates)].map((p) => {
    const pb = te.encode(p);
    const all = new Uint8Array(claimId.length + pb.length);
    all.set(claimId, 0);
    all.set(pb, claimId.length);
    return { p, w: hex(blake3(all)) };
  });
  weighted.sort((a, b) => (a.w < b.w ? 1 : a.w > b.w ? -1 : a.p < b.p ? -1 : 1));
  return weighted.map((x) => x.p);
}
