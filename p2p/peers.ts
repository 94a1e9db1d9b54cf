/**
 * Per-peer rate limits (token buckets) and the node's own peer scores. A peer that sends invalid
 * claims, false divergences or junk bundles loses score; at {@link DISCONNECT_SCORE} the node hangs
 * up and refuses it (connection gater) until the score recovers. Scores persist in the store.
 */
import type { PeerRow, Store } from './store.ts';

export const PENALTY = {
  /** A message that fails decoding, schema, version or signature checks. */
  invalidMessage: 20,
  /** A diverging verdict whose proof does not check. */
  falseDivergence: 50,
  /** A bundle stream with the wrong hash, length or framing. */
  junkBundle: 30,
  /** Over the message rate. */
  rateLimited: 1,
} as const;
export const DISCONNECT_SCORE = -100;
/** Score regained per second (a peer is not banned forever for an old fault). */
const RECOVERY_PER_SECOND = 0.05;

interface Bucket {
  tokens: number;
  at: number;
}

export class PeerBook {
  readonly #store: Store;
  readonly #buckets = new Map<string, Bucket>();
  // Write-through copy of the stored scores: every claim asks whether each candidate is banned,
  // which was a sqlite query per candidate (bench:p2p profile). Bounded like the buckets.
  readonly #rows = new Map<string, PeerRow | null>();
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  constructor(store: Store, rate: number, burst: number, now: () => number = Date.now) {
    this.#store = store;
    this.#rate = rate;
    this.#burst = burst;
    this.#now = now;
  }

  /** Takes `n` tokens (one per message, a batch counts each) of `peer`'s budget; false, taking none, when it is over its rate. */
  take(peer: string, n = 1): boolean {
    const now = this.#now();
    let b = this.#buckets.get(peer);
    if (b === undefined) {
      if (this.#buckets.size > 10_000) this.#buckets.clear(); // bounded: a flood of identities only resets budgets
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(peer, b);
    }
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
  }

  #row(peer: string): PeerRow | undefined {
    let r = this.#rows.get(peer);
    if (r === undefined) {
      if (this.#rows.size > 10_000) this.#rows.clear();
      r = this.#store.peer(peer) ?? null;
      this.#rows.set(peer, r);
    }
    return r ?? undefined;
  }

  score(peer: string): number {
    const p = this.#row(peer);
    if (p === undefined) return 0;
    return Math.min(0, p.score + ((this.#now() - p.updatedAt) / 1000) * RECOVERY_PER_SECOND);
  }

  /** @returns true when the peer is now at or under the disconnect score. */
  penalize(peer: string, amount: number): boolean {
    const prev = this.#row(peer);
    const score = this.score(peer) - amount;
    const row = { peerId: peer, score, penalties: (prev?.penalties ?? 0) + 1, updatedAt: this.#now() };
    this.#store.putPeer(row);
    this.#rows.set(peer, row);
    return score <= DISCONNECT_SCORE;
  }

  banned(peer: string): boolean {
    return this.score(peer) <= DISCONNECT_SCORE;
  }
}
