/**
 * What the node's replay pool (replay-pool.ts) and its threads (replay-worker.ts) exchange: a job
 * is several judgements at once (one message for all of them), each answered by an event of its
 * own as soon as it is judged, so a job cut short by one item's watchdog keeps the answers before it.
 */
import type { ErrorJson } from '../index.ts';
import type { Judgement } from './audit.ts';
import type { Claim } from './messages.ts';

/** The manifest limits a replay's watchdog and thread depend on, known only once the bundle is decoded. */
export interface ReplayLimits {
  wallClockMs: number;
  stack: number;
}

/** One claim to judge against its bundle. */
export interface JudgeItem {
  claim: Claim;
  /** The bundle, in a buffer of its own (moved to the thread). */
  bytes: Uint8Array;
  /** The limits the pool's watchdog allows for: the thread replays only a bundle whose manifest has exactly these. */
  limits: ReplayLimits | null;
}

/**
 * A judgement; or the limits the bundle's manifest has when the job did not allow for them (the
 * bundle comes back to be sent again under the right watchdog); or this item's error alone.
 */
export type JudgeReply = { judgement: Judgement } | { needs: ReplayLimits; bytes: Uint8Array } | { error: ErrorJson };

/**
 * What a thread posts while a job runs: item `replaying` is decoded and checked and its replay
 * starts now (its watchdog: its own manifest's limit); item `answered`'s reply (the next item's
 * decoding starts now).
 */
export type JudgeEvent = { replaying: number } | { answered: number; reply: JudgeReply };

/** A replay thread's `workerData`. */
export interface ReplayWorkerBoot {
  /** Thread stack, MiB: a manifest whose stack budget needs more is sent back (`needs`). */
  stackMb: number;
}
