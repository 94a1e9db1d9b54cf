/**
 * The one worker pool of the runtime: N long-lived worker threads, each running one job at a
 * time from a bounded FIFO (job-queue.ts), one wall-clock watchdog per job (which a job of
 * several steps, each with its own limit, may extend when it fires), one error transport
 * (`{code, message, where}`, never a stack: transport.ts). A single run is a pool of one
 * (cage.ts), the cage pool serves run and replay (cage-pool.ts), the evaluation pool serves a
 * challenge (evaluate/pool.ts); the thread side is worker-loop.ts.
 *
 * A job that outlives its watchdog, or a thread that dies, fails that job only (an infrastructure
 * error, never a result): the thread is terminated and a new one starts when a job needs it.
 * An idle thread is never terminated but asked to end by itself (worker-loop.ts says why).
 *
 * When every thread is busy, each is also handed the job after its current one (one deep), so
 * it starts that job the moment it posts a result instead of waiting for this thread to wake,
 * read the result and post the next job: with one thread that round trip cost 50–200 µs a job
 * on a loaded machine (bench/RESULTS.md, "One worker pool"). The watchdog of a job handed ahead
 * starts when the job before it ends; if its thread dies first, it goes back to the queue's head.
 */
import { Worker } from 'node:worker_threads';
import type { Transferable } from 'node:worker_threads';
import { CagePoolClosedError, InputError, InternalError, WatchdogError } from '../errors.ts';
import type { DocklockError } from '../errors.ts';
import { errorFromWire } from './transport.ts';
import { JobQueue } from './job-queue.ts';
import type { JobMessage, ReplyMessage } from './worker-loop.ts';

/** What each thread starts with: its `workerData`, what to transfer with it, how to release it. */
export interface ThreadBoot {
  data: unknown;
  transfer?: Transferable[];
  /** Called when the thread is gone (closes the main-thread end of its bridge). */
  close?: () => void;
  /** Whether what the thread holds on this side keeps the process alive (with `unref`). */
  ref?: (on: boolean) => void;
}

export interface WorkerPoolOptions {
  /** The thread's entry module (it calls `serveJobs`). */
  url: URL;
  /** Threads, 1..256. */
  size: number;
  /** Thread stack, MiB (cage.ts `workerStackMb`). */
  stackSizeMb: number;
  maxYoungGenerationSizeMb?: number;
  /** Heap cap of each thread, MiB: past it the thread dies (its job fails), not the process (default V8's). */
  maxOldGenerationSizeMb?: number;
  /** Called for every thread started (replacements included). */
  boot?: () => ThreadBoot;
  /** How many jobs may wait (default 65,536). */
  maxQueue?: number;
  /** Start threads when jobs first need them instead of now. */
  lazy?: boolean;
  /** Let the process exit while threads are idle (a thread with a job keeps it alive). */
  unref?: boolean;
  /** Names the threads in errors ("cage worker"). */
  name: string;
  /** The error for a job refused or cut off by `close()` (default `DL_ERR_CAGE_POOL_CLOSED`); `was`: already closed. */
  closedError?: (was: 'is' | 'was') => DocklockError;
}

export interface JobOptions<E> {
  /** The job's wall-clock watchdog, ms. */
  watchdogMs: number;
  /** What ran, for the watchdog's message ("the run"). */
  what: string;
  /** Buffers of the job to move to the thread instead of copying them. */
  transfer?: Transferable[];
  /** Events the thread posts while the job runs. */
  onEvent?: (event: E) => void;
  /**
   * A job of several steps, each under a limit of its own: asked when the watchdog fires, it
   * answers how many more ms the job may take (the watchdog is set again for them), or undefined
   * to stop it. The job's own progress (which step, since when) is for it to know: asking only
   * then costs nothing while steps finish in time.
   */
  onWatchdog?: () => number | undefined;
}

interface Pending<J, R, E> {
  id: number;
  job: J;
  options: JobOptions<E>;
  resolve: (value: R) => void;
  reject: (e: Error) => void;
}

interface Slot<J, R, E> {
  worker: Worker | undefined;
  release: (() => void) | undefined;
  ref: ((on: boolean) => void) | undefined;
  /** The job the thread runs. */
  current: Pending<J, R, E> | undefined;
  /** The job handed to the thread ahead, which it starts when `current` ends. */
  next: Pending<J, R, E> | undefined;
  timer: NodeJS.Timeout | undefined;
}

const DEFAULT_MAX_QUEUE = 65_536;

/** A pool of worker threads for jobs `J` with values `R` and events `E`. Call {@link close} when done. */
export class WorkerPool<J, R, E = never> {
  readonly size: number;
  readonly #options: WorkerPoolOptions;
  readonly #slots: Slot<J, R, E>[] = [];
  readonly #queue: JobQueue<Pending<J, R, E>>;
  readonly #closedError: (was: 'is' | 'was') => DocklockError;
  #nextId = 0;
  #closed = false;

  /** @throws {InputError} `DL_ERR_CAGE_POOL_SIZE` for a size outside 1..256 or a queue bound below 1 */
  constructor(options: WorkerPoolOptions) {
    const size = options.size;
    if (!Number.isInteger(size) || size < 1 || size > 256)
      throw new InputError('DL_ERR_CAGE_POOL_SIZE', `a worker pool has 1..256 threads, got ${size}`, {
        field: 'size',
      });
    this.size = size;
    this.#options = options;
    this.#queue = new JobQueue(options.maxQueue ?? DEFAULT_MAX_QUEUE);
    this.#closedError = options.closedError ?? ((was) => new CagePoolClosedError([was]));
    for (let i = 0; i < size; i++) {
      const slot: Slot<J, R, E> = {
        worker: undefined,
        release: undefined,
        ref: undefined,
        current: undefined,
        next: undefined,
        timer: undefined,
      };
      this.#slots.push(slot);
      if (options.lazy !== true) this.#start(slot);
    }
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #start(slot: Slot<J, R, E>): Worker {
    const o = this.#options;
    const boot = o.boot?.();
    const worker = new Worker(o.url, {
      workerData: boot?.data,
      transferList: boot?.transfer,
      resourceLimits: {
        stackSizeMb: o.stackSizeMb,
        maxYoungGenerationSizeMb: o.maxYoungGenerationSizeMb,
        maxOldGenerationSizeMb: o.maxOldGenerationSizeMb,
      },
      stdout: false,
      stderr: false,
    });
    slot.worker = worker;
    slot.release = boot?.close;
    slot.ref = boot?.ref;
    worker.on('message', (msg: ReplyMessage<R, E>) => {
      const p = slot.current;
      if (p === undefined || p.id !== msg.id) return;
      if ('event' in msg) {
        p.options.onEvent?.(msg.event);
        return;
      }
      this.#advance(slot);
      if ('ok' in msg) p.resolve(msg.ok);
      else p.reject(errorFromWire(msg.error));
      this.#pump(slot);
    });
    const lost = (why: Error): void => {
      if (slot.worker !== worker) return;
      const p = slot.current;
      this.#fail(slot);
      p?.reject(why);
      this.#pump(slot);
    };
    worker.on('error', (e) => lost(new InternalError(`${o.name} failed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => {
      if (!this.#closed) lost(new InternalError(`${o.name} exited unexpectedly with code ${code}`));
    });
    // After the listeners: adding a 'message' listener refs the worker again.
    if (o.unref === true) this.#hold(slot, false);
    return worker;
  }

  /** The current job ended: the job handed ahead (if any) is now running, under its own watchdog. */
  #advance(slot: Slot<J, R, E>): void {
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.timer = undefined;
    const n = slot.next;
    slot.current = n;
    slot.next = undefined;
    if (n !== undefined) this.#watch(slot, n);
    else if (this.#options.unref === true) this.#hold(slot, false);
  }

  /** With `unref`: a thread keeps the process alive only while it has a job. */
  #hold(slot: Slot<J, R, E>, on: boolean): void {
    if (on) slot.worker?.ref();
    else slot.worker?.unref();
    slot.ref?.(on);
  }

  /** The slot's thread is lost with its current job: the job handed ahead goes back to the queue. */
  #fail(slot: Slot<J, R, E>): void {
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.timer = undefined;
    if (slot.next !== undefined) this.#queue.unshift(slot.next);
    slot.current = undefined;
    slot.next = undefined;
    this.#drop(slot);
  }

  #watch(slot: Slot<J, R, E>, p: Pending<J, R, E>, ms = p.options.watchdogMs): void {
    slot.timer = setTimeout(() => {
      if (slot.current !== p) return;
      const more = p.options.onWatchdog?.();
      if (more !== undefined && more > 0) {
        this.#watch(slot, p, more);
        return;
      }
      this.#fail(slot);
      p.reject(new WatchdogError([p.options.what, ms]));
      this.#pump(slot);
    }, ms);
  }

  /** Forgets a slot's thread, terminating it (it is running a job, or already gone). */
  #drop(slot: Slot<J, R, E>): void {
    const w = slot.worker;
    slot.worker = undefined;
    slot.release?.();
    slot.release = undefined;
    slot.ref = undefined;
    if (w !== undefined) void w.terminate();
  }

  /** Gives the slot's thread a job to run if it has none, and one to run next if jobs wait. */
  #pump(slot: Slot<J, R, E>): void {
    if (this.#closed) return;
    if (slot.current === undefined) {
      const p = this.#queue.shift();
      if (p === undefined) return;
      slot.current = p;
      this.#post(slot, p);
      this.#watch(slot, p);
      if (this.#options.unref === true) this.#hold(slot, true);
    }
    if (slot.next === undefined && this.#queue.length > 0) {
      const n = this.#queue.shift()!;
      slot.next = n;
      this.#post(slot, n);
    }
  }

  #post(slot: Slot<J, R, E>, p: Pending<J, R, E>): void {
    const worker = slot.worker ?? this.#start(slot);
    worker.postMessage({ id: p.id, job: p.job } satisfies JobMessage<J>, p.options.transfer);
  }

  /**
   * Runs one job on the next free thread.
   * @throws {DocklockError} `DL_ERR_CAGE_WATCHDOG`, `DL_ERR_INTERNAL`, `DL_ERR_CAGE_POOL_FULL`, the
   *   closed error, or the job's own error from the thread
   */
  run(job: J, options: JobOptions<E>): Promise<R> {
    if (this.#closed) return Promise.reject(this.#closedError('is'));
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, job, options, resolve, reject });
      // An idle thread first; else a busy one without a job handed ahead.
      for (const s of this.#slots)
        if (s.current === undefined) {
          this.#pump(s);
          return;
        }
      for (const s of this.#slots)
        if (s.next === undefined) {
          this.#pump(s);
          return;
        }
    });
  }

  /**
   * Stops every thread; jobs still waiting or running are rejected with the closed error. Idle
   * threads end by themselves (killed after 5 s if they do not); busy ones are terminated.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#queue.drain()) p.reject(this.#closedError('was'));
    await Promise.all(
      this.#slots.map(async (s) => {
        const p = s.current;
        const n = s.next;
        const w = s.worker;
        if (s.timer !== undefined) clearTimeout(s.timer);
        s.timer = undefined;
        s.current = undefined;
        s.next = undefined;
        n?.reject(this.#closedError('was'));
        if (w === undefined) return;
        if (p !== undefined) {
          p.reject(this.#closedError('was'));
          this.#drop(s);
          return;
        }
        s.worker = undefined;
        s.release?.();
        s.release = undefined;
        const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
        w.postMessage(null);
        const timer = setTimeout(() => void w.terminate(), 5_000);
        // The kill is a fallback: it must not keep the process alive by itself.
        timer.unref();
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
