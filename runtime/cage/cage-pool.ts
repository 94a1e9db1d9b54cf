/**
 * The cage pool: long-lived cage threads (worker.ts) on the one {@link WorkerPool}, serving runs
 * and replays of any module. Each thread loads the runtime once; a module is compiled once, on the
 * caller's thread (its machine code is shared with the thread, which then allocates no WebAssembly
 * code of its own) or, with `compileIn: 'worker'`, on the thread (the engine caches it there), so
 * the caller's event loop never waits for a compile. `runCage` is a pool of one (cage.ts).
 *
 * Each job keeps its manifest's wall-clock watchdog, an infrastructure failure, never a result.
 * Threads have one stack size, sized for `stackBudget`; a manifest whose stack budget needs more
 * runs on a thread of its own (a pool of one sized for it).
 */
import { Engine } from '../engine.ts';
import { ValidationError } from '../errors.ts';
import { DEFAULT_STACK_LIMIT } from '../instrument/instrument.ts';
import { MANIFEST_DEFAULTS } from '../manifest/parse.ts';
import type { SharedCompiledModule } from '../compiled-module.ts';
import { workerUrl } from '../worker-url.ts';
import { openBridge } from '../../host-functions/net/bridge.ts';
import { compileOptionsFor, runOutcome } from './run.ts';
import type { RunOutcome, RunOutcomeParts, RunRequest } from './run.ts';
import { WorkerPool } from './worker-pool.ts';
import type { OutputEvent, WorkerBoot, WorkerJob } from './worker.ts';

const WORKER_URL = workerUrl(import.meta.url, 'worker');

/** Stack for a thread: room for the frame-weight budget (≈8 bytes a unit) three times over. */
export function workerStackMb(stackBudget: number): number {
  return Math.max(4, Math.ceil((stackBudget * 8 * 3) / (1024 * 1024)) + 1);
}

/** A {@link RunRequest} for a run on a cage thread, plus where to mirror the guest's output. */
export interface CageOptions extends RunRequest {
  /** Mirror the guest's stdout/stderr as it writes them. */
  tee?: { stdout?: (b: Uint8Array) => void; stderr?: (b: Uint8Array) => void };
}

export interface CagePoolOptions {
  /** Threads, 1..256 (default 1). */
  size?: number;
  /** The largest manifest stack budget the threads take (default: the manifest's or engine's default, whichever is larger). */
  stackBudget?: number;
  /** Where modules are compiled (default `caller`). */
  compileIn?: 'caller' | 'worker';
  /** Start threads on first use (a node that never replays never loads the runtime into a thread). */
  lazy?: boolean;
  /** Let the process exit while threads are idle. */
  unref?: boolean;
  /** How many jobs may wait. */
  maxQueue?: number;
  /** Every run and replay is a fresh allocation: a larger young generation means fewer scavenges mid-run. */
  youngGenerationMb?: number;
  /**
   * Keep instrumented modules in this folder between processes (runtime/instrument-cache.ts), for
   * modules compiled by the caller and on the threads (a component's core modules always are).
   * Default: none, nothing is written.
   */
  cacheDir?: string;
}

/** What a job may skip sending back. */
export interface CageRunOptions {
  /** Send the witness back (default true); a replay verdict needs only the divergence and the result. */
  witness?: boolean;
}

const DEFAULT_STACK_BUDGET = Math.max(MANIFEST_DEFAULTS.stack, DEFAULT_STACK_LIMIT);

/** Cage threads for runs and replays. Call {@link close} when done. */
export class CagePool {
  readonly stackBudget: number;
  readonly #options: CagePoolOptions;
  readonly #pool: WorkerPool<WorkerJob, RunOutcomeParts, OutputEvent>;
  readonly #engine: Engine;

  /** @throws {InputError} `DL_ERR_CAGE_POOL_SIZE` for a size outside 1..256 */
  constructor(options: CagePoolOptions = {}) {
    this.#options = options;
    this.stackBudget = options.stackBudget ?? DEFAULT_STACK_BUDGET;
    this.#engine = options.cacheDir === undefined ? Engine.default : new Engine({ cacheDir: options.cacheDir });
    this.#pool = new WorkerPool({
      url: WORKER_URL,
      size: options.size ?? 1,
      stackSizeMb: workerStackMb(this.stackBudget),
      maxYoungGenerationSizeMb: options.youngGenerationMb,
      lazy: options.lazy,
      unref: options.unref,
      maxQueue: options.maxQueue,
      name: 'cage worker',
      boot: () => {
        const bridge = openBridge();
        const data: WorkerBoot = { net: bridge.end, cacheDir: options.cacheDir };
        return { data, transfer: [bridge.end.port], close: bridge.close, ref: bridge.ref };
      },
    });
  }

  /**
   * Runs (or replays, by `mode`) one guest on the next free thread.
   * @throws {DocklockError} `DL_ERR_CAGE_WATCHDOG`, `DL_ERR_CAGE_POOL_*`, or `DL_ERR_INTERNAL`
   */
  async run(options: CageOptions, runOptions: CageRunOptions = {}): Promise<RunOutcome> {
    const { tee, ...request } = options;
    if (workerStackMb(request.manifest.limits.stack) > workerStackMb(this.stackBudget)) {
      const own = new CagePool({ ...this.#options, size: 1, lazy: false, stackBudget: request.manifest.limits.stack });
      try {
        return await own.run(options, runOptions);
      } finally {
        void own.close();
      }
    }
    let shared: SharedCompiledModule | undefined;
    if (this.#options.compileIn !== 'worker') {
      try {
        // Cached by content hash: repeated runs of a module skip compilation entirely.
        shared = (await this.#engine.compile(request.module, compileOptionsFor(request.manifest))).share();
      } catch (e) {
        // A rejected module is a result: the thread's runGuest reports it.
        if (!(e instanceof ValidationError)) throw e;
      }
    }
    const job: WorkerJob = { request, shared, tee: tee !== undefined, witness: runOptions.witness !== false };
    const parts = await this.#pool.run(job, {
      watchdogMs: request.manifest.limits.wallClockMs,
      what: request.mode === 'replay' ? 'the replay' : 'the run',
      onEvent: tee === undefined ? undefined : (e) => (e.fd === 1 ? tee.stdout?.(e.data) : tee.stderr?.(e.data)),
    });
    return runOutcome(parts);
  }

  /** Replays a recorded run (`run` with `mode: 'replay'`). */
  replay(request: Omit<RunRequest, 'mode'>, runOptions: CageRunOptions = {}): Promise<RunOutcome> {
    return this.run({ ...request, mode: 'replay' }, runOptions);
  }

  /** Stops every thread; jobs still waiting or running are rejected (`DL_ERR_CAGE_POOL_CLOSED`). */
  close(): Promise<void> {
    return this.#pool.close();
  }
}
