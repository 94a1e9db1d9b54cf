/**
 * A pool of worker threads evaluating submissions of one challenge in parallel, on the one
 * {@link WorkerPool} (cage/worker-pool.ts). The challenge is compiled once on this thread; its
 * `WebAssembly.Module` is posted to every thread once (`CompiledModule.share`), which rebuilds a
 * `CompiledModule` around it without compiling (`CompiledModule.fromShared`); then each job is one
 * submission.
 *
 * A job that outlives the manifest's wall-clock watchdog, or a thread that dies, fails that job
 * only (an infrastructure error, never a result): the thread is replaced and the batch goes on.
 */
import { availableParallelism } from 'node:os';
import { workerUrl } from '../worker-url.ts';
import { workerStackMb } from '../cage/cage.ts';
import { InputError, PoolClosedError } from '../errors.ts';
import { openBridge } from '../cage/bridge.ts';
import { WorkerPool } from '../cage/worker-pool.ts';
import type { Challenge } from './challenge.ts';
import type { EvaluationRecord } from './evaluation.ts';
import type { PoolJob, PoolWorkerInit } from './worker.ts';

const WORKER_URL = workerUrl(import.meta.url, 'worker');

export interface PoolOptions {
  /** Worker threads. Default: the machine's available parallelism. */
  jobs?: number;
}

/** Worker-thread pool for one challenge. Call {@link EvaluationPool.close} when done. */
export class EvaluationPool {
  readonly jobs: number;
  readonly #watchdogMs: number;
  readonly #pool: WorkerPool<PoolJob, EvaluationRecord>;

  /**
   * @throws {InputError} `DL_ERR_EVALUATE_JOBS` for a jobs count outside 1..256
   */
  constructor(challenge: Challenge, options: PoolOptions = {}) {
    const jobs = options.jobs ?? availableParallelism();
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 256)
      throw new InputError('DL_ERR_EVALUATE_JOBS', `jobs must be an integer in 1..256, got ${jobs}`, { field: 'jobs' });
    this.jobs = jobs;
    const c = challenge;
    this.#watchdogMs = c.manifest.limits.wallClockMs;
    this.#pool = new WorkerPool({
      url: WORKER_URL,
      size: jobs,
      stackSizeMb: workerStackMb(c.manifest.limits.stack),
      // Every evaluation allocates a fresh instance, WASI state and witness: a larger young
      // generation means fewer scavenges in the middle of an evaluation (the p99 tail).
      maxYoungGenerationSizeMb: 64,
      // A batch queues every submission at once (evaluate/batch.ts): the caller bounds it.
      maxQueue: Number.POSITIVE_INFINITY,
      name: 'evaluation worker',
      closedError: (was) => new PoolClosedError([was]),
      boot: () => {
        const bridge = openBridge();
        const data: PoolWorkerInit = {
          shared: c.compiled?.share(),
          manifest: c.manifest,
          module: c.module,
          inputs: new Map(c.inputs),
          net: bridge.end,
        };
        return { data, transfer: [bridge.end.port], close: bridge.close };
      },
    });
  }

  /**
   * Evaluates one submission on the next free worker.
   * @param keep also return the run's result and witness (to write a bundle)
   * @throws {DocklockError} `DL_ERR_CAGE_WATCHDOG`, `DL_ERR_INTERNAL`, or `DL_ERR_EVALUATE_CLOSED`
   */
  evaluate(submission: Uint8Array, label: string, keep = false): Promise<EvaluationRecord> {
    return this.#pool.run(
      { submission, label, keep },
      { watchdogMs: this.#watchdogMs, what: `the evaluation of ${label}` },
    );
  }

  /** Stops every worker; jobs still queued are rejected. */
  close(): Promise<void> {
    return this.#pool.close();
  }
}
