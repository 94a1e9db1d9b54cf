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

/**
 * Not judged, and not memoised (a later call tries again): no peer served the bundle, or the
 * replay was dropped because the claim's quorum window ended first (`DL_ERR_P2P_REPLAY_EXPIRED`).
 */
export type Unjudged = 'no_bundle' | 'expired';

const MEMO = 1024;

export class Judges {
  readonly #fetch: (claim: Claim, claimer: string) => Promise<Uint8Array>;
  readonly #judgeBundle: Judge;
  readonly #queue: ReplayQueue;
  readonly #metrics: NodeMetrics;
  readonly #memo = new Map<string, Promise<Judgement | Unjudged>>();

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
   * @param deadline - epoch ms after which the judgement is of no use (the claim's quorum window):
   *   a replay that would start or end later is dropped (`expired`)
   */
  judge(idHex: string, claim: Claim, claimer: string, deadline?: number): Promise<Judgement | Unjudged> {
    const memo = this.#memo.get(idHex);
    if (memo !== undefined) return memo;
    const p = (async (): Promise<Judgement | Unjudged> => {
      const end = this.#metrics.replaySeconds.startTimer();
      let bytes: Uint8Array;
      try {
        bytes = await this.#fetch(claim, claimer);
      } catch {
        this.#metrics.replays.inc({ outcome: 'no_bundle' });
        this.#memo.delete(idHex);
        return 'no_bundle';
      }
      const j = await this.#judgeBundle(claim, bytes, deadline).catch((e: unknown): Judgement | Unjudged =>
        (e as { code?: string }).code === 'DL_ERR_P2P_REPLAY_EXPIRED' ? 'expired' : { abstain: (e as Error).message },
      );
      end();
      if (j === 'expired') this.#memo.delete(idHex);
      this.#metrics.replays.inc({ outcome: typeof j === 'string' ? j : 'abstain' in j ? 'abstain' : j.outcome });
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
    const ruling = (j: Judgement | Unjudged): Ruling =>
      typeof j === 'string' || 'abstain' in j ? 'unchecked' : j.outcome === 'match' ? 'overruled' : 'upheld';
    // No deadline: a divergence counts whenever it comes, so its re-check is never dropped for time.
    const fresh = (): Promise<Ruling> =>
      new Promise((resolve) => {
        const queued = this.#queue.push(
          () => this.judge(idHex, claim, claimer).then((j) => resolve(ruling(j))),
          claim.bundleSize,
          claimer,
        );
        if (!queued) resolve('busy');
      });
    const memo = this.#memo.get(idHex);
    // A replay dropped for its claim's quorum window is no judgement: this re-check replays it.
    if (memo !== undefined) return memo.then((j) => (j === 'expired' ? fresh() : ruling(j)));
    return fresh();
  }
}
