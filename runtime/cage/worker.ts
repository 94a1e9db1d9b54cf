/**
 * Thread side of a cage pool (cage-pool.ts): a long-lived thread that runs or replays one guest at
 * a time, on a stack sized for the pool's budget. A network request blocks this thread on
 * `Atomics.wait` while the main thread performs it, then the answer is taken synchronously with
 * `receiveMessageOnPort` (spec: spec/network.md#R1).
 */
import { workerData } from 'node:worker_threads';
import { runGuest } from './run.ts';
import type { RunOutcomeParts, RunRequest } from './run.ts';
import { bridgeTransport } from '../../host-functions/net/bridge.ts';
import type { BridgeEnd } from '../../host-functions/net/bridge.ts';
import { serveJobs } from './worker-loop.ts';
import type { JobContext, JobResult } from './worker-loop.ts';
import { CompiledModule } from '../compiled-module.ts';
import { Engine } from '../engine.ts';
import type { SharedCompiledModule } from '../compiled-module.ts';

/** What the thread starts with (`workerData`). */
export interface WorkerBoot {
  net: BridgeEnd;
  /** The pool's instrumented-module cache (CagePoolOptions.cacheDir), for modules compiled here. */
  cacheDir: string | undefined;
}

/** One run or replay. */
export interface WorkerJob {
  request: Omit<RunRequest, 'net' | 'tee' | 'compiled'>;
  /** The module compiled by the caller; absent: compile here (cached per thread), or it failed validation. */
  shared: SharedCompiledModule | undefined;
  /** Post stdout/stderr as the guest writes them. */
  tee: boolean;
  /** Send the witness back (a replay verdict needs only the divergence and the result). */
  witness: boolean;
}

/** An output event: the guest wrote to stdout (1) or stderr (2). */
export interface OutputEvent {
  fd: 1 | 2;
  data: Uint8Array;
}

const boot = workerData as WorkerBoot;
const transport = bridgeTransport(boot.net);
// Modules compiled on this thread (a component's core modules; `compileIn: 'worker'`).
const engine = boot.cacheDir === undefined ? undefined : new Engine({ cacheDir: boot.cacheDir });
const EMPTY = new Uint8Array(0);

/**
 * Tee callbacks made once: they post for whatever job runs (one at a time). The guest's bytes are
 * copied by postMessage: the WASI host may reuse the view.
 */
let teeCtx: JobContext<OutputEvent> | undefined;
const tee = {
  stdout: (data: Uint8Array) => teeCtx?.emit({ fd: 1, data }),
  stderr: (data: Uint8Array) => teeCtx?.emit({ fd: 2, data }),
};

async function run(job: WorkerJob, ctx: JobContext<OutputEvent>): Promise<JobResult<RunOutcomeParts>> {
  teeCtx = ctx;
  const compiled = job.shared === undefined ? undefined : CompiledModule.fromShared(job.shared);
  const outcome = await runGuest({
    ...job.request,
    net: transport,
    tee: job.tee ? tee : undefined,
    compiled,
    ...(engine === undefined ? {} : { engine }),
  });
  const bytes = job.witness ? outcome.witnessBytes : EMPTY;
  const value: RunOutcomeParts = {
    result: outcome.result,
    witnessBytes: bytes,
    divergence: outcome.divergence,
    error: outcome.error,
  };
  // The witness travels as its encoding (reading `witness` would decode a million entries here
  // only to clone them), moved rather than copied. Safe in a long-lived thread because
  // `WitnessLog.finalize` allocates the encoding afresh for each run (the log's own chunks, which
  // the next run reuses, are never sent); an empty one is cloned (the constants are shared).
  return bytes.byteLength > 0 ? { value, transfer: [bytes.buffer as ArrayBuffer] } : { value };
}

serveJobs<WorkerJob, RunOutcomeParts, OutputEvent>(run, () => boot.net.port.close());
