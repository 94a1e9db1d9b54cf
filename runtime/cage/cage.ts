/**
 * `runCage`: runs or replays a guest in a fresh worker thread with a fixed stack size, serves its
 * network requests (record mode), mirrors its output if asked, and enforces the wall-clock
 * watchdog, which is an infrastructure failure, never a result (spec: DESIGN.md).
 */
import { Worker } from 'node:worker_threads';
import { workerUrl } from '../worker-url.ts';
import { InternalError, ValidationError, WatchdogError } from '../errors.ts';
import type { ErrorJson } from '../errors.ts';
import { errorFromWire } from './transport.ts';
import { compile } from '../engine.ts';
import type { SharedCompiledModule } from '../compiled-module.ts';
import { compileOptionsFor, runOutcome } from './run.ts';
import type { RunOutcome, RunOutcomeParts, RunRequest } from './run.ts';
import { openBridge } from '../../host-functions/net/bridge.ts';
import type { WorkerBoot, WorkerJob } from './worker.ts';

/** A {@link RunRequest} for a run in its own worker, plus where to mirror the guest's output. */
export interface CageOptions extends RunRequest {
  /** Mirror the guest's stdout/stderr as it writes them. */
  tee?: { stdout?: (b: Uint8Array) => void; stderr?: (b: Uint8Array) => void };
}

const WORKER_URL = workerUrl(import.meta.url, 'worker');

/** Stack for the worker: room for the frame-weight budget (≈8 bytes a unit) three times over. */
export function workerStackMb(stackBudget: number): number {
  return Math.max(4, Math.ceil((stackBudget * 8 * 3) / (1024 * 1024)) + 1);
}

/**
 * Runs a guest in an isolated worker.
 * @throws {InternalError} `DL_ERR_CAGE_WATCHDOG` when the wall-clock watchdog fires, or an internal failure
 */
export async function runCage(options: CageOptions): Promise<RunOutcome> {
  const { tee, ...request } = options;
  // The worker starts first: its thread boots and loads the runtime on the other core while this
  // thread compiles (bench:cli, "docklock run nop.wasm").
  const bridge = openBridge();
  const boot: WorkerBoot = { net: bridge.end, tee: tee !== undefined };
  const worker = new Worker(WORKER_URL, {
    workerData: boot,
    transferList: [bridge.end.port],
    resourceLimits: { stackSizeMb: workerStackMb(request.manifest.limits.stack) },
    stdout: false,
    stderr: false,
  });
  let fail: (e: unknown) => void = () => {};
  const outcome = new Promise<RunOutcome>((resolve, reject) => {
    let finished = false;
    /** `kill`: stop the thread (watchdog, failures); after a result it ends by itself. */
    const finish = (fn: () => void, kill = true): void => {
      if (finished) return;
      finished = true;
      clearTimeout(watchdog);
      bridge.close();
      if (kill) void worker.terminate();
      fn();
    };
    fail = (e) => finish(() => reject(e));
    const watchdog = setTimeout(() => {
      finish(() => reject(new WatchdogError(['the run', request.manifest.limits.wallClockMs])));
    }, request.manifest.limits.wallClockMs);
    worker.on('message', (msg: { type: string; data?: Uint8Array; outcome?: RunOutcomeParts; error?: ErrorJson }) => {
      if (msg.type === 'stdout') tee?.stdout?.(msg.data!);
      else if (msg.type === 'stderr') tee?.stderr?.(msg.data!);
      else if (msg.type === 'done') finish(() => resolve(runOutcome(msg.outcome!)), false);
      else if (msg.type === 'error') finish(() => reject(errorFromWire(msg.error!)), false);
    });
    worker.on('error', (e) =>
      finish(() => reject(new InternalError(`cage worker failed: ${e.message}`, { cause: e }))),
    );
    worker.on('exit', (code) =>
      finish(() => reject(new InternalError(`cage worker exited unexpectedly with code ${code}`))),
    );
  });
  // Compile here (cached by content hash) and share the machine code with the worker: the worker
  // then allocates no WebAssembly code of its own, and repeated runs skip compilation entirely.
  let shared: SharedCompiledModule | undefined;
  try {
    shared = (await compile(request.module, compileOptionsFor(request.manifest))).share();
  } catch (e) {
    // A rejected module is a result: the worker's runGuest reports it. Anything else ends the run
    // before the worker holds any WebAssembly code, so terminating it is safe.
    if (!(e instanceof ValidationError)) fail(e);
    shared = undefined;
  }
  const job: WorkerJob = { request, shared };
  worker.postMessage(job);
  return outcome;
}
