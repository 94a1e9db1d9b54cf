/**
 * The node's replay threads: long-lived threads (replay-worker.ts) on the runtime's one worker
 * pool, started on first use and never keeping the process alive while idle. A thread judges a
 * claim whole: it decodes and checks the bundle, replays it (each challenge module compiled once
 * per thread) and sends back only the judgement, so the node's event loop does neither the
 * bundle's decoding nor a message round trip per replay: claims waiting while every thread is
 * busy go to the next free thread together, in one message.
 *
 * Fairness against a peer whose claims never end (docs/p2p.md, "Replay queue and fairness"):
 * - each replay is bounded by its own watchdog, never by a sum over its job: the thread writes on
 *   the job's progress board which item it is on, decoding or replaying, since when; the watchdog
 *   fires at the shortest allowance in the job and reads it (decoding: `DECODE_MS`; the replay: its
 *   manifest's `wallClockMs`), stopping the thread only when the item it is on is over its own;
 * - claims waiting take turns by claimer, and a job holds at most one claim per claimer, so a claim
 *   waits for at most one claim of each other claimer ahead of it, not for all of a peer's claims;
 * - a claim given a deadline (the end of its quorum window) is dropped when its turn comes after
 *   it, and its replay's watchdog ends there: both `DL_ERR_P2P_REPLAY_EXPIRED`, a non-verdict like
 *   a watchdog's (a verdict issued later would count for nothing).
 * A job cut short (a watchdog, a thread lost) keeps the answers posted before it: the item it was
 * on fails alone, the items after it wait again at the front of their lines.
 *
 * A bundle's limits are known only once it is decoded, so the first bundle of a manifest is
 * decoded once to learn them (cached by manifest hash, which the thread has checked). A manifest
 * whose stack budget needs a bigger thread stack runs on a thread of its own, in place of one of
 * the pool's (and closed with it). A manifest may ask for up to 2^31 − 1 ms (24 days): one claimed
 * with more than `maxWallClockMs` is refused, not replayed, so no claim holds a thread past the
 * time its verdict could still count.
 */
import {
  CagePoolClosedError,
  DEFAULT_STACK_LIMIT,
  InternalError,
  MANIFEST_DEFAULTS,
  WatchdogError,
  WorkerPool,
  errorFromWire,
  workerStackMb,
  workerUrl,
} from '../index.ts';
import type { Judgement } from './audit.ts';
import type { Claim } from './messages.ts';
import { P2PError } from './errors.ts';
import { FairQueue } from './fair-queue.ts';
import { newProgress, readProgress } from './replay-jobs.ts';
import type { JudgeEvent, JudgeItem, JudgeJob, JudgeReply, ReplayLimits, ReplayWorkerBoot } from './replay-jobs.ts';
import { hex } from './wire.ts';

const WORKER_URL = workerUrl(import.meta.url, 'replay-worker');
const DEFAULT_STACK_BUDGET = Math.max(MANIFEST_DEFAULTS.stack, DEFAULT_STACK_LIMIT);
/** Most claims in one job. */
const MAX_ITEMS = 16;
/** Most bundle bytes in one job (a larger bundle goes alone). */
const MAX_BYTES = 8 * 1024 * 1024;
/** Allowed per item for decoding and checking its bundle, before its replay starts. */
const DECODE_MS = 10_000;
/**
 * Allowed past a replay's own limit before the watchdog stops its thread: the thread measures the
 * replay itself and refuses one slower than its limit, so this covers only the message's way back.
 */
const REPLAY_SLACK_MS = 1000;
/** Manifests whose limits are remembered. */
const MAX_LIMITS = 256;
/** `quorum.expiryMs`'s default: a verdict issued later than that after its claim counts for nothing. */
const DEFAULT_MAX_WALL_CLOCK_MS = 120_000;

/**
 * A replay thread's heap: a decoded witness entry takes about 350 bytes of it, so 2 GiB hold the
 * ~6 million entries of the largest witness a run within the default memory limit records
 * (spec/wasi.md#W9), and a few megabytes of bundle cannot make a thread take V8's own cap (4 GiB).
 */
const DEFAULT_HEAP_MB = 2048;

export interface ReplayPoolOptions {
  /** Longest `limits.wallClockMs` of a manifest replayed here (default 120 s); the node passes `quorum.expiryMs`. */
  maxWallClockMs?: number;
  /** Heap of each replay thread, MiB (default 2048): a claim whose bundle needs more fails (`DL_ERR_INTERNAL`) alone. */
  heapMb?: number;
}

/**
 * Judges a claim against its bundle; `deadline` (epoch ms, optional): the judgement is of no use
 * after it, so the replay is dropped rather than started or finished later.
 */
export type Judge = (claim: Claim, bytes: Uint8Array, deadline?: number) => Promise<Judgement>;

type Threads = WorkerPool<JudgeJob, number, JudgeEvent>;

interface Waiting {
  item: JudgeItem;
  /** The caller's bytes: `item.bytes` is a copy, moved to the thread, and an item whose job was cut short is sent again from this. */
  source: Uint8Array;
  /** Its claimer: claimers take turns. */
  key: string;
  deadline: number | undefined;
  /** Times the thread sent it back for its limits (at most once). */
  asked: number;
  resolve: (j: Judgement) => void;
  reject: (e: Error) => void;
}

export class ReplayPool {
  readonly #threads: number;
  readonly #stackMb: number;
  readonly #maxWallClockMs: number;
  readonly #heapMb: number;
  readonly #pool: Threads;
  readonly #limits = new Map<string, ReplayLimits>();
  readonly #waiting = new FairQueue<Waiting>();
  /** Threads of their own (for a manifest's stack) running now. */
  readonly #owned = new Set<Threads>();
  #busy = 0;
  #scheduled = false;
  #closed = false;

  constructor(threads: number, options: ReplayPoolOptions = {}) {
    this.#threads = threads;
    this.#maxWallClockMs = options.maxWallClockMs ?? DEFAULT_MAX_WALL_CLOCK_MS;
    this.#heapMb = options.heapMb ?? DEFAULT_HEAP_MB;
    this.#stackMb = workerStackMb(DEFAULT_STACK_BUDGET);
    this.#pool = this.#workers(threads, this.#stackMb);
  }

  #workers(size: number, stackMb: number): Threads {
    return new WorkerPool({
      url: WORKER_URL,
      size,
      stackSizeMb: stackMb,
      // Every replay is a fresh allocation: a larger young generation means fewer scavenges mid-run.
      maxYoungGenerationSizeMb: 64,
      maxOldGenerationSizeMb: this.#heapMb,
      lazy: true,
      unref: true,
      name: 'replay worker',
      boot: () => ({ data: { stackMb } satisfies ReplayWorkerBoot }),
    });
  }

  /**
   * Judges a claim against its bundle (the bytes are copied: the caller may keep serving them).
   * @throws {DocklockError} `DL_ERR_CAGE_WATCHDOG`, `DL_ERR_CAGE_POOL_CLOSED`, `DL_ERR_INTERNAL`,
   *   `DL_ERR_P2P_REPLAY_LIMITS`, `DL_ERR_P2P_REPLAY_EXPIRED`
   */
  judge: Judge = (claim, bytes, deadline) => {
    if (this.#closed) return Promise.reject(new CagePoolClosedError(['is']));
    const limits = this.#limits.get(hex(claim.manifestHash)) ?? null;
    if (limits !== null && this.#tooLong(limits)) return Promise.reject(this.#tooLongError(limits));
    return new Promise((resolve, reject) => {
      const item = { claim, bytes: new Uint8Array(bytes), limits };
      const key = hex(claim.claimer);
      this.#waiting.push(key, { item, source: bytes, key, deadline, asked: 0, resolve, reject });
      this.#schedule();
    });
  };

  /** Sends what waits once the current task is done, so judgements asked for together go together. */
  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  /**
   * One job per free thread, the waiting items shared evenly between them, in turns by claimer,
   * at most one claim of each claimer in a job (so a job never holds a peer's claims end to end).
   */
  #pump(): void {
    while (!this.#closed && this.#busy < this.#threads && this.#waiting.length > 0) {
      const free = this.#threads - this.#busy;
      const want = Math.min(MAX_ITEMS, Math.ceil(this.#waiting.length / free));
      const first = this.#next();
      if (first === undefined) return;
      this.#withLimits(first);
      this.#busy++;
      const done = (): void => {
        this.#busy--;
        this.#schedule();
      };
      // A thread of its own takes the place of one of the pool's: the node never runs more
      // replays at once than it has replay threads, whatever stacks the manifests ask for.
      if (this.#needsOwn(first)) {
        void this.#own(first).finally(done);
        continue;
      }
      const job: Waiting[] = [first];
      const claimers = new Set([first.key]);
      let bytes = first.item.bytes.length;
      while (job.length < want && this.#waiting.length > 0) {
        const next = this.#waiting.peek()!;
        if (claimers.has(next.key)) break;
        if (this.#expired(next)) {
          this.#waiting.shift();
          continue;
        }
        this.#withLimits(next);
        if (this.#needsOwn(next) || bytes + next.item.bytes.length > MAX_BYTES) break;
        bytes += next.item.bytes.length;
        claimers.add(next.key);
        job.push(this.#waiting.shift()!);
      }
      void this.#run(this.#pool, job).finally(done);
    }
  }

  /** The next waiting item whose deadline has not passed (those before it are dropped). */
  #next(): Waiting | undefined {
    for (let w = this.#waiting.shift(); w !== undefined; w = this.#waiting.shift()) if (!this.#expired(w)) return w;
    return undefined;
  }

  /** Whether the item's deadline has passed: then it is dropped (`DL_ERR_P2P_REPLAY_EXPIRED`). */
  #expired(w: Waiting): boolean {
    if (w.deadline === undefined || Date.now() < w.deadline) return false;
    w.reject(this.#expiredError('before its turn came'));
    return true;
  }

  #expiredError(when: string): P2PError {
    return new P2PError(
      'DL_ERR_P2P_REPLAY_EXPIRED',
      `the claim's quorum window (quorum.expiryMs) ended ${when}: not replayed, since a verdict issued later counts for nothing`,
      { field: 'issuedAt' },
    );
  }

  #needsOwn(w: Waiting): boolean {
    return w.item.limits !== null && workerStackMb(w.item.limits.stack) > this.#stackMb;
  }

  /**
   * Limits learnt since the item was queued (the first bundles of a manifest wait together); not
   * limits too long to replay: the thread sends such an item back, and it is refused then.
   */
  #withLimits(w: Waiting): void {
    if (w.item.limits !== null) return;
    const l = this.#limits.get(hex(w.item.claim.manifestHash));
    if (l !== undefined && !this.#tooLong(l)) w.item.limits = l;
  }

  /**
   * Runs a job, each item under a watchdog of its own: decoding, then its replay (its manifest's
   * limit, cut to its deadline). Answers are taken as the thread posts them.
   */
  async #run(pool: Threads, job: Waiting[]): Promise<void> {
    const items = job.map((w) => w.item);
    const progress = newProgress();
    /** How long item `i` may spend in a phase. */
    const allowance = (i: number, phase: 'decoding' | 'replaying'): number =>
      phase === 'decoding' ? DECODE_MS : job[i]!.item.limits!.wallClockMs + REPLAY_SLACK_MS;
    // The watchdog looks at least this often: the shortest allowance any step of the job has.
    const every = Math.min(
      DECODE_MS,
      ...job.map((w) => (w.item.limits === null ? DECODE_MS : w.item.limits.wallClockMs + REPLAY_SLACK_MS)),
      ...job.map((w) => (w.deadline === undefined ? DECODE_MS : Math.max(1, w.deadline - Date.now()))),
    );
    let answered = 0;
    /** The item the watchdog stopped, and whether at its claim's deadline rather than its limit. */
    let stopped: { index: number; cut: boolean; ms: number } | undefined;
    try {
      const n = await pool.run(
        { items, progress },
        {
          watchdogMs: every,
          what: 'the replay',
          onEvent: (e) => {
            answered = e.answered + 1;
            this.#answer(job[e.answered]!, e.reply);
          },
          onWatchdog: () => {
            const at = readProgress(progress);
            const w = job[at.index]!;
            const ms = allowance(at.index, at.phase);
            let end = at.since + ms;
            const cut = at.phase === 'replaying' && w.deadline !== undefined && w.deadline < end;
            if (cut) end = w.deadline!;
            const left = end - Date.now();
            if (left > 0) return Math.min(left, every);
            stopped = { index: at.index, cut, ms };
            return undefined;
          },
          transfer: items.map((i) => i.bytes.buffer as ArrayBuffer),
        },
      );
      if (n !== answered) throw new InternalError('a replay thread answered fewer items than it was sent');
    } catch (e) {
      const rest = job.slice(answered);
      if (this.#closed) {
        for (const w of rest) w.reject(e as Error);
        return;
      }
      // The item it was on is the one that stopped it (the watchdog's, or the thread's death): it
      // fails alone; the others go again (an answer posted just before may not have come).
      const on = stopped?.index ?? readProgress(progress).index;
      const failed = job[on];
      if (failed !== undefined && on >= answered) {
        rest.splice(on - answered, 1);
        failed.reject(
          stopped === undefined
            ? (e as Error)
            : stopped.cut
              ? this.#expiredError('while it replayed')
              : new WatchdogError(['the replay', stopped.ms]),
        );
      }
      for (const w of rest.reverse()) {
        w.item = { ...w.item, bytes: new Uint8Array(w.source) };
        this.#waiting.unshift(w.key, w);
      }
      if (rest.length > 0) this.#schedule();
    }
  }

  #answer(w: Waiting, r: JudgeReply): void {
    if ('judgement' in r) w.resolve(r.judgement);
    else if ('error' in r) w.reject(errorFromWire(r.error));
    else if (this.#closed) w.reject(new CagePoolClosedError(['was']));
    else if (w.asked > 0) w.reject(new InternalError('a replay thread asked twice for the limits of one bundle'));
    else {
      // Checked by the thread: the bundle's manifest hashes to the claim's manifest hash.
      if (this.#limits.size >= MAX_LIMITS) this.#limits.clear();
      this.#limits.set(hex(w.item.claim.manifestHash), r.needs);
      if (this.#tooLong(r.needs)) {
        w.reject(this.#tooLongError(r.needs));
        return;
      }
      w.asked++;
      w.item = { ...w.item, bytes: r.bytes, limits: r.needs };
      this.#waiting.unshift(w.key, w);
      this.#schedule();
    }
  }

  #tooLong(l: ReplayLimits): boolean {
    return l.wallClockMs > this.#maxWallClockMs;
  }

  #tooLongError(l: ReplayLimits): P2PError {
    return new P2PError(
      'DL_ERR_P2P_REPLAY_LIMITS',
      `the claim's manifest allows its run ${l.wallClockMs} ms, over the ${this.#maxWallClockMs} ms this node replays for (quorum.expiryMs): not replayed`,
      { field: 'limits.wallClockMs' },
    );
  }

  /** A replay on a thread of its own, with the stack its manifest needs. */
  async #own(w: Waiting): Promise<void> {
    const pool = this.#workers(1, workerStackMb(w.item.limits!.stack));
    this.#owned.add(pool);
    try {
      await this.#run(pool, [w]);
    } finally {
      this.#owned.delete(pool);
      void pool.close();
    }
  }

  /** Stops every thread; judgements waiting or running are rejected (`DL_ERR_CAGE_POOL_CLOSED`). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiting.drain()) w.reject(new CagePoolClosedError(['was']));
    await Promise.all([this.#pool.close(), ...[...this.#owned].map((p) => p.close())]);
  }
}
