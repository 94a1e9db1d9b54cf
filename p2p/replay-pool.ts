/**
 * The node's replay threads: long-lived threads (replay-worker.ts) on the runtime's one worker
 * pool, started on first use and never keeping the process alive while idle. A thread judges a
 * claim whole: it decodes and checks the bundle, replays it (each challenge module compiled once
 * per thread) and sends back only the judgement, so the node's event loop does neither the
 * bundle's decoding nor a message round trip per replay: claims waiting while every thread is
 * busy go to the next free thread together, in one message, and their judgements come back in one.
 *
 * Each item keeps its manifest's wall-clock limit: a job's watchdog is the sum of its items'
 * limits (plus time to decode each bundle), and the thread refuses a replay slower than its own
 * limit. A bundle's limits are known only once it is decoded, so the first bundle of a manifest
 * is decoded once to learn them (cached by manifest hash, which the thread has checked). A job
 * that fails as a whole (a watchdog, a thread lost) is sent again item by item, so the item that
 * caused it fails alone. A manifest whose stack budget needs a bigger thread stack runs on a
 * thread of its own, in place of one of the pool's (and closed with it). A manifest may ask for up to 2^31 − 1 ms (24 days): one claimed with more
 * than `maxWallClockMs` is refused, not replayed, so no claim holds a thread past the time its
 * verdict could still count.
 */
import {
  CagePoolClosedError,
  DEFAULT_STACK_LIMIT,
  InternalError,
  MANIFEST_DEFAULTS,
  WorkerPool,
  errorFromWire,
  workerStackMb,
  workerUrl,
} from '../index.ts';
import type { Judgement } from './audit.ts';
import type { Claim } from './messages.ts';
import { P2PError } from './errors.ts';
import type { JudgeItem, JudgeReply, ReplayLimits, ReplayWorkerBoot } from './replay-jobs.ts';
import { hex } from './wire.ts';

const WORKER_URL = workerUrl(import.meta.url, 'replay-worker');
const DEFAULT_STACK_BUDGET = Math.max(MANIFEST_DEFAULTS.stack, DEFAULT_STACK_LIMIT);
/** Most claims in one job. */
const MAX_ITEMS = 16;
/** Most bundle bytes in one job (a larger bundle goes alone). */
const MAX_BYTES = 8 * 1024 * 1024;
/** Allowed per item for decoding and checking its bundle, on top of the replay's own limit. */
const DECODE_MS = 10_000;
/** Manifests whose limits are remembered. */
const MAX_LIMITS = 256;
/** `quorum.expiryMs`'s default: a verdict issued later than that after its claim counts for nothing. */
const DEFAULT_MAX_WALL_CLOCK_MS = 120_000;
/** The longest timer Node keeps: a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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

export type Judge = (claim: Claim, bytes: Uint8Array) => Promise<Judgement>;

interface Waiting {
  item: JudgeItem;
  /** The caller's bytes: `item.bytes` is a copy, moved to the thread, and a job that fails whole is sent again from this. */
  source: Uint8Array;
  /** Sent on its own: its job failed as a whole, or it needs a thread of its own. */
  alone: boolean;
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
  readonly #pool: WorkerPool<JudgeItem[], JudgeReply[]>;
  readonly #limits = new Map<string, ReplayLimits>();
  readonly #waiting: Waiting[] = [];
  /** Threads of their own (for a manifest's stack) running now. */
  readonly #owned = new Set<WorkerPool<JudgeItem[], JudgeReply[]>>();
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

  #workers(size: number, stackMb: number): WorkerPool<JudgeItem[], JudgeReply[]> {
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
   *   `DL_ERR_P2P_REPLAY_LIMITS`
   */
  judge: Judge = (claim, bytes) => {
    if (this.#closed) return Promise.reject(new CagePoolClosedError(['is']));
    const limits = this.#limits.get(hex(claim.manifestHash)) ?? null;
    if (limits !== null && this.#tooLong(limits)) return Promise.reject(this.#tooLongError(limits));
    return new Promise((resolve, reject) => {
      const item = { claim, bytes: new Uint8Array(bytes), limits };
      this.#waiting.push({ item, source: bytes, alone: false, asked: 0, resolve, reject });
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

  /** One job per free thread, the waiting items shared evenly between them. */
  #pump(): void {
    while (!this.#closed && this.#busy < this.#threads && this.#waiting.length > 0) {
      const free = this.#threads - this.#busy;
      const want = Math.min(MAX_ITEMS, Math.ceil(this.#waiting.length / free));
      const first = this.#waiting.shift()!;
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
      let bytes = first.item.bytes.length;
      if (!first.alone)
        while (job.length < want && this.#waiting.length > 0) {
          const next = this.#waiting[0]!;
          this.#withLimits(next);
          if (next.alone || this.#needsOwn(next) || bytes + next.item.bytes.length > MAX_BYTES) break;
          bytes += next.item.bytes.length;
          job.push(this.#waiting.shift()!);
        }
      void this.#run(this.#pool, job).finally(done);
    }
  }

  #needsOwn(w: Waiting): boolean {
    return w.item.limits !== null && workerStackMb(w.item.limits.stack) > this.#stackMb;
  }

  /** Limits learnt since the item was queued (the first bundles of a manifest wait together). */
  #withLimits(w: Waiting): void {
    if (w.item.limits === null) w.item.limits = this.#limits.get(hex(w.item.claim.manifestHash)) ?? null;
  }

  async #run(pool: WorkerPool<JudgeItem[], JudgeReply[]>, job: Waiting[]): Promise<void> {
    const items = job.map((w) => w.item);
    let replies: JudgeReply[];
    try {
      replies = await pool.run(items, {
        // Each item's limit is at most maxWallClockMs, but sixteen of them can still pass what a timer holds.
        watchdogMs: Math.min(
          MAX_TIMER_MS,
          items.reduce((ms, i) => ms + DECODE_MS + (i.limits?.wallClockMs ?? 0), 0),
        ),
        what: job.length === 1 ? 'the replay' : `a job of ${job.length} replays`,
        transfer: items.map((i) => i.bytes.buffer as ArrayBuffer),
      });
    } catch (e) {
      if (job.length === 1 || this.#closed) for (const w of job) w.reject(e as Error);
      else this.#retryAlone(job);
      return;
    }
    replies.forEach((r, i) => this.#answer(job[i]!, r));
  }

  #answer(w: Waiting, r: JudgeReply | undefined): void {
    if (r === undefined) w.reject(new InternalError('a replay thread answered fewer items than it was sent'));
    else if ('judgement' in r) w.resolve(r.judgement);
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
      this.#waiting.unshift(w);
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

  /**
   * A job that failed as a whole (its watchdog, its thread lost): each item goes again on its own,
   * under its own watchdog, so only the one that caused it fails. Its bytes went to the lost
   * thread: a fresh copy is sent.
   */
  #retryAlone(job: Waiting[]): void {
    for (const w of job) {
      w.alone = true;
      w.item = { ...w.item, bytes: new Uint8Array(w.source) };
    }
    this.#waiting.unshift(...job);
    this.#schedule();
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
    for (const w of this.#waiting.splice(0)) w.reject(new CagePoolClosedError(['was']));
    await Promise.all([this.#pool.close(), ...[...this.#owned].map((p) => p.close())]);
  }
}
