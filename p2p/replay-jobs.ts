/**
 * What the node's replay pool (replay-pool.ts) and its threads (replay-worker.ts) exchange: a job
 * is several judgements at once (one message for all of them), each answered by an event of its
 * own as soon as it is judged, so a job cut short by one item's watchdog keeps the answers before
 * it; and a progress board the pool's watchdog reads to bound each replay by its own limit.
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

/** What a thread posts while a job runs: item `answered`'s reply, as soon as it is judged. */
export type JudgeEvent = { answered: number; reply: JudgeReply };

/**
 * A job: its items, and a board the thread writes its progress on (which item, decoding or
 * replaying, since when), which the pool reads only when a watchdog fires. A message per step
 * would cost the node's event loop a postMessage and a timer per replay.
 */
export interface JudgeJob {
  items: JudgeItem[];
  progress: SharedArrayBuffer;
}

export type Phase = 'decoding' | 'replaying';

/** Where a job is: item `index`, in `phase` since `since` (epoch ms). */
export interface Progress {
  index: number;
  phase: Phase;
  since: number;
}

// Layout: one Int32 (index × 2 + phase, published last) and, 8 bytes in, one Float64 (since).
const STATE = 0;
const SINCE = 1;

/** A board for a job about to be sent: item 0, decoding, since now. */
export function newProgress(): SharedArrayBuffer {
  const board = new SharedArrayBuffer(16);
  setProgress(board, 0, 'decoding');
  return board;
}

/** The thread's side: item `index` enters `phase` now. */
export function setProgress(board: SharedArrayBuffer, index: number, phase: Phase): void {
  new Float64Array(board)[SINCE] = Date.now();
  Atomics.store(new Int32Array(board, 0, 1), STATE, index * 2 + (phase === 'replaying' ? 1 : 0));
}

/** The pool's side: where the job is (read again if the thread moved on while it was read). */
export function readProgress(board: SharedArrayBuffer): Progress {
  const state = new Int32Array(board, 0, 1);
  const since = new Float64Array(board);
  for (;;) {
    const a = Atomics.load(state, STATE);
    const t = since[SINCE]!;
    if (Atomics.load(state, STATE) === a)
      return { index: a >> 1, phase: (a & 1) === 1 ? 'replaying' : 'decoding', since: t };
  }
}

/** A replay thread's `workerData`. */
export interface ReplayWorkerBoot {
  /** Thread stack, MiB: a manifest whose stack budget needs more is sent back (`needs`). */
  stackMb: number;
}
