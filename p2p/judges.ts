/**
 * This node's own judgements of claims: fetch the bundle, check the claim against it, replay it.
 * One judgement per claim, memoised (bounded), serves both the replayer's verdict and the re-check
 * of divergences other nodes send on the same claim (docs/p2p.md, "Re-checking divergences").
 */
import type { Judgement } from './audit.ts';
import type { Claim } from './messages.ts';
import type { NodeMetrics } from './metrics.ts';
import type { Judge } from './replay-pool.ts';
import type { ReplayQueue } from './replay-queue.ts';

/** What a node's re-check says of another node's divergence. */
export type Ruling = 'overruled' | 'upheld' | 'unchecked' | 'busy';

const MEMO = 1024;

export class Judges {
  readonly #fetch: (claim: Claim, claimer: string) => Promise<Uint8Array>;
  readonly #judgeBundle: Judge;
  readonly #queue: ReplayQueue;
  readonly #metrics: NodeMetrics;
  readonly #memo = new Map<string, Promise<Judgement | null>>();

  constructor(o: {
    fetch: (claim: Claim, claimer: string) => Promise<Uint8Array>;
    judge: Judge;
    queue: ReplayQueue;
    metrics: NodeMetrics;
  }) {
    this.#fetch = o.fetch;
    this.#judgeBundle = o.judge;
    this.#queue = o.queue;
    this.#metrics = o.metrics;
  }

  /**
   * This node's judgement of a claim, computed now (the caller is already a replay-queue job).
   * @returns null when no peer served the bundle (not memoised: a later call tries again)
   */
  judge(idHex: string, claim: Claim, claimer: string): Promise<Judgement | null> {
    const memo = this.#memo.get(idHex);
    if (memo !== undefined) return memo;
    const p = (async (): Promise<Judgement | null> => {
      const end = this.#metrics.replaySeconds.startTimer();
      let bytes: Uint8Array;
      try {
        bytes = await this.#fetch(claim, claimer);
      } catch {
        this.#metrics.replays.inc({ outcome: 'no_bundle' });
        this.#memo.delete(idHex);
        return null;
      }
      const j = await this.#judgeBundle(claim, bytes).catch((e: unknown) => ({
        abstain: (e as Error).message,
      }));
      end();
      this.#metrics.replays.inc({ outcome: 'abstain' in j ? 'abstain' : j.outcome });
      return j;
    })();
    if (this.#memo.size >= MEMO) this.#memo.clear();
    this.#memo.set(idHex, p);
    return p;
  }

  /**
   * Re-checks a divergence another node signed before it can dispute a claim here. Only a `bundle`
   * divergence with the bundle in hand, or this node's own replay, shows a divergence is true: a
   * `result` divergence is one signer's word, and a `witness` one proves only the claimed entry,
   * not the replayed one. So the node judges the claim itself (on the replay queue, memoised), and
   * a divergence from a claim that matches here is false. Without a judgement of its own (no peer
   * serves the bundle, another engine version) it takes the proof as it stands: a claimer that
   * withholds its bundle cannot expect the benefit of the doubt.
   * @returns 'overruled' (this node's replay matches), 'upheld', 'unchecked', or 'busy' (queue full)
   */
  recheck(idHex: string, claim: Claim, claimer: string): Promise<Ruling> {
    const ruling = (j: Judgement | null): Ruling =>
      j === null || 'abstain' in j ? 'unchecked' : j.outcome === 'match' ? 'overruled' : 'upheld';
    const memo = this.#memo.get(idHex);
    if (memo !== undefined) return memo.then(ruling);
    return new Promise((resolve) => {
      const queued = this.#queue.push(
        () => this.judge(idHex, claim, claimer).then((j) => resolve(ruling(j))),
        claim.bundleSize,
      );
      if (!queued) resolve('busy');
    });
  }
}
