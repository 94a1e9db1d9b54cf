/**
 * A pool of worker threads evaluating submissions of one challenge in parallel. The challenge is
 * compiled once on this thread; its `WebAssembly.Module` is posted to every worker
 * (`CompiledModule.share`), which rebuilds a `CompiledModule` around it without compiling
 * (`CompiledModule.fromShared`). Each worker evaluates one submission at a time; a queue feeds them.
 *
 * A job that outlives the manifest's wall-clock watchdog, or a worker that dies, fails that job
 * only (an infrastructure error, never a result): the worker is replaced and the batch goes on.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { workerUrl } from '../worker-url.ts';
import { workerStackMb } from '../cage/cage.ts';
import { InputError, InternalError, PoolClosedError, WatchdogError } from '../errors.ts';
import { errorFromWire } from '../cage/transport.ts';
import { openBridge } from '../cage/bridge.ts';
import type { Challenge } from './challenge.ts';
import type { EvaluationRecord } from './evaluation.ts';
import type { PoolJob, PoolReply, PoolWorkerInit } from './worker.ts';

const WORKER_URL = workerUrl(import.meta.url, 'worker');

export interface PoolOptions {
  /** Worker threads. Default: the machine's available parallelism. */
  jobs?: number;
}

interface Pending {
  job: PoolJob;
  resolve: (r: EvaluationRecord) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  bridge: { close: () => void };
  current: Pending | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** FIFO of waiting jobs: an array with a moving head, compacted now and then (no `Array#shift`). */
class JobQueue {
  #items: (Pending | undefined)[] = [];
  #head = 0;
  get length(): number {
    return this.#items.length - this.#head;
  }
  push(p: Pending): void {
    this.#items.push(p);
  }
  shift(): Pending | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const p = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return p;
  }
}

/** Worker-thread pool for one challenge. Call {@link EvaluationPool.close} when done. */
export class EvaluationPool {
  readonly jobs: number;
  readonly #challenge: Challenge;
  readonly #slots: Slot[] = [];
  readonly #queue = new JobQueue();
  #nextId = 0;
  #closed = false;

  /**
   * @throws {InputError} `DL_ERR_EVALUATE_JOBS` for a jobs count outside 1..256
   */
  constructor(challenge: Challenge, options: PoolOptions = {}) {
    const jobs = options.jobs ?? availableParallelism();
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 256)
      throw new InputError('DL_ERR_EVALUATE_JOBS', `jobs must be an integer in 1..256, got ${jobs}`, { field: 'jobs' });
    this.jobs = jobs;
    this.#challenge = challenge;
    for (let i = 0; i < jobs; i++) this.#slots.push(this.#spawn());
  }

  #spawn(): Slot {
    const c = this.#challenge;
    const bridge = openBridge();
    const init: PoolWorkerInit = {
      shared: c.compiled?.share(),
      manifest: c.manifest,
      module: c.module,
      inputs: new Map(c.inputs),
      net: bridge.end,
    };
    const worker = new Worker(WORKER_URL, {
      workerData: init,
      transferList: [bridge.end.port],
      // Every evaluation allocates a fresh instance, WASI state and witness: a larger young
      // generation means fewer scavenges in the middle of an evaluation (the p99 tail).
      resourceLimits: { stackSizeMb: workerStackMb(c.manifest.limits.stack), maxYoungGenerationSizeMb: 64 },
      stdout: false,
      stderr: false,
    });
    const slot: Slot = { worker, bridge, current: undefined, timer: undefined };
    worker.on('message', (msg: PoolReply) => {
      const p = slot.current;
      if (p === undefined || p.job.id !== msg.id) return;
      this.#finish(slot);
      if ('record' in msg) p.resolve(msg.record);
      else p.reject(errorFromWire(msg.error));
      this.#pump(slot);
    });
    const lost = (why: Error): void => {
      const p = slot.current;
      this.#finish(slot);
      p?.reject(why);
      this.#replace(slot);
    };
    worker.on('error', (e) => lost(new InternalError(`evaluation worker failed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => {
      if (!this.#closed && this.#slots.includes(slot))
        lost(new InternalError(`evaluation worker exited unexpectedly with code ${code}`));
    });
    return slot;
  }

  #finish(slot: Slot): void {
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.current = undefined;
  }

  #replace(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i < 0) return;
    slot.bridge.close();
    void slot.worker.terminate();
    if (this.#closed) return;
    const fresh = this.#spawn();
    this.#slots[i] = fresh;
    this.#pump(fresh);
  }

  #pump(slot: Slot): void {
    if (slot.current !== undefined || this.#closed) return;
    const p = this.#queue.shift();
    if (p === undefined) return;
    slot.current = p;
    const ms = this.#challenge.manifest.limits.wallClockMs;
    slot.timer = setTimeout(() => {
      const cur = slot.current;
      this.#finish(slot);
      cur?.reject(new WatchdogError([`the evaluation of ${p.job.label}`, ms]));
      this.#replace(slot);
    }, ms);
    slot.worker.postMessage(p.job);
  }

  /**
   * Evaluates one submission on the next free worker.
   * @param keep also return the run's result and witness (to write a bundle)
   * @throws {DocklockError} `DL_ERR_CAGE_WATCHDOG`, `DL_ERR_INTERNAL`, or `DL_ERR_EVALUATE_CLOSED`
   */
  evaluate(submission: Uint8Array, label: string, keep = false): Promise<EvaluationRecord> {
    if (this.#closed) return Promise.reject(new PoolClosedError(['is']));
    return new Promise<EvaluationRecord>((resolve, reject) => {
      this.#queue.push({ job: { id: this.#nextId++, submission, label, keep }, resolve, reject });
      const idle = this.#slots.find((s) => s.current === undefined);
      if (idle !== undefined) this.#pump(idle);
    });
  }

  /** Stops every worker; jobs still queued are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    for (let p = this.#queue.shift(); p !== undefined; p = this.#queue.shift()) p.reject(new PoolClosedError(['was']));
    await Promise.all(
      this.#slots.map(async (s) => {
        const p = s.current;
        this.#finish(s);
        p?.reject(new PoolClosedError(['was']));
        s.bridge.close();
        if (p !== undefined) {
          await s.worker.terminate();
          return;
        }
        // An idle worker is asked to end by itself: terminating a thread that holds WebAssembly
        // code races V8's code-page bookkeeping on this Node line. It is killed if it does not.
        const exited = new Promise<void>((resolve) => s.worker.once('exit', () => resolve()));
        s.worker.postMessage(null);
        const timer = setTimeout(() => void s.worker.terminate(), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
