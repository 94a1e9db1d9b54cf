/**
 * The thread side of a {@link WorkerPool} (worker-pool.ts): receives jobs and runs one at a time
 * with the entry's handler, and posts the value, or the error as `{code, message, where}` (the
 * one error transport, transport.ts). `null` asks the thread to end by itself: terminating a
 * thread that holds WebAssembly code races V8's code-page bookkeeping on this Node line
 * ("Check failed: jit_page.has_value()", .ci/run).
 *
 * The hot path stays flat: no per-job closures or wrapper promises beyond the handler's own, and
 * an async handler's result is taken with one `then` (bench:evaluate measures a job end to end).
 */
import { parentPort } from 'node:worker_threads';
import type { MessagePort, Transferable } from 'node:worker_threads';
import { errorToWire } from './transport.ts';
import type { ErrorJson } from '../errors.ts';

/** What the pool posts to a thread: a job with its id, or `null` to end. */
export interface JobMessage<J> {
  id: number;
  job: J;
}

/** What a thread posts back: the job's value, its error, or an event while it runs (e.g. output). */
export type ReplyMessage<R, E> = { id: number; ok: R } | { id: number; error: ErrorJson } | { id: number; event: E };

/** A handler's value, with the buffers to move to the pool instead of copying them. */
export interface JobResult<R> {
  value: R;
  /** Buffers that this thread never touches again (each must be owned by this job alone). */
  transfer?: Transferable[];
}

/** What a handler can do besides returning: post events for the job that runs. */
export interface JobContext<E> {
  emit(event: E, transfer?: Transferable[]): void;
}

export type JobHandler<J, R, E> = (job: J, ctx: JobContext<E>) => JobResult<R> | Promise<JobResult<R>>;

/**
 * Serves jobs on this thread until the pool sends `null`.
 * @param onClose - releases what the thread holds open (bridge ports) so it can end by itself
 */
export function serveJobs<J, R, E = never>(handler: JobHandler<J, R, E>, onClose?: () => void): void {
  const port: MessagePort | null = parentPort;
  if (port === null) throw new Error('serveJobs runs on a worker thread only (a docklock bug)');
  // One job runs at a time, so one context serves them all: `id` is the running job's.
  let id = -1;
  const ctx: JobContext<E> = {
    emit: (event, transfer) => port.postMessage({ id, event } satisfies ReplyMessage<R, E>, transfer),
  };
  const failed = (e: unknown): void => {
    port.postMessage({ id, error: errorToWire(e) } satisfies ReplyMessage<R, E>);
  };
  const done = (r: JobResult<R>): void => {
    try {
      port.postMessage({ id, ok: r.value } satisfies ReplyMessage<R, E>, r.transfer);
    } catch (e) {
      // A value that cannot be cloned is our bug; the job still gets an answer.
      failed(e);
    }
  };
  // A busy thread may be handed its next job ahead (worker-pool.ts); an async handler (a
  // component run) is still running then, so the job waits here for its turn: one job at a time.
  const waiting: JobMessage<J>[] = [];
  let running = false;
  const finished = (): void => {
    const msg = waiting.shift();
    if (msg === undefined) running = false;
    else start(msg);
  };
  const start = (msg: JobMessage<J>): void => {
    running = true;
    id = msg.id;
    let r: JobResult<R> | Promise<JobResult<R>>;
    try {
      r = handler(msg.job, ctx);
    } catch (e) {
      failed(e);
      finished();
      return;
    }
    if (r instanceof Promise)
      r.then(
        (v) => {
          done(v);
          finished();
        },
        (e: unknown) => {
          failed(e);
          finished();
        },
      );
    else {
      done(r);
      finished();
    }
  };
  port.on('message', (msg: JobMessage<J> | null) => {
    if (msg === null) {
      onClose?.();
      port.close();
      return;
    }
    if (running) waiting.push(msg);
    else start(msg);
  });
}
