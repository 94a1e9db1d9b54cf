/**
 * `runCage`: runs or replays a guest in a fresh worker thread with a fixed stack size, serves its
 * network requests (record mode), mirrors its output if asked, and enforces the wall-clock
 * watchdog, which is an infrastructure failure, never a result (spec: DESIGN.md).
 */
import { Worker } from 'node:worker_threads';
import { InternalError, DocklockError, ValidationError, WatchdogError } from '../errors.ts';
import { compile } from '../engine.ts';
import type { SharedCompiledModule } from '../compiled-module.ts';
import { compileOptionsFor, runOutcome } from './run.ts';
import type { RunOutcome, RunOutcomeParts, RunRequest } from './run.ts';
import { WitnessLog } from '../witness/log.ts';
import { openBridge } from '../../host-functions/net/bridge.ts';
import type { WorkerInit } from './worker.ts';

export interface CageOptions extends Omit<RunRequest, 'net' | 'tee' | 'compiled'> {
  /** Mirror the guest's stdout/stderr as it writes them. */
  tee?: { stdout?: (b: Uint8Array) => void; stderr?: (b: Uint8Array) => void };
}

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/** Stack for the worker: room for the frame-weight budget (≈8 bytes a unit) three times over. */
export function workerStackMb(stackBudget: number): number {
  return Math.max(4, Math.ceil((stackBudget * 8 * 3) / (1024 * 1024)) + 1);
}

/**
 * Runs a guest in an isolated worker.
 * @throws {InternalError} `DL_ERR_CAGE_WATCHDOG` when the wall-clock watchdog fires, or an internal failure
 */
export async function runCage(options: CageOptions): Promise<RunOutcome> {
  const { tee, ...given } = options;
  // A log cannot cross to the worker (structured clone keeps no private state): send its entries.
  const request = given.witness instanceof WitnessLog ? { ...given, witness: given.witness.entries() } : given;
  // Compile here (cached by content hash) and share the machine code with the worker: the worker
  // then allocates no WebAssembly code of its own, and repeated runs skip compilation entirely.
  let shared: SharedCompiledModule | undefined;
  try {
    shared = (await compile(request.module, compileOptionsFor(request.manifest))).share();
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    shared = undefined; // the worker's runGuest reports the rejection as a result
  }
  const bridge = openBridge();
  const init: WorkerInit = { request, shared, net: bridge.end, tee: tee !== undefined };
  const worker = new Worker(WORKER_URL, {
    workerData: init,
    transferList: [bridge.end.port],
    resourceLimits: { stackSizeMb: workerStackMb(request.manifest.limits.stack) },
    stdout: false,
    stderr: false,
  });
  return new Promise<RunOutcome>((resolve, reject) => {
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
    const watchdog = setTimeout(() => {
      finish(() => reject(new WatchdogError(['the run', request.manifest.limits.wallClockMs])));
    }, request.manifest.limits.wallClockMs);
    worker.on('message', (msg: { type: string; data?: Uint8Array; outcome?: RunOutcomeParts; error?: { code: string; message: string } }) => {
      if (msg.type === 'stdout') tee?.stdout?.(msg.data!);
      else if (msg.type === 'stderr') tee?.stderr?.(msg.data!);
      else if (msg.type === 'done') finish(() => resolve(runOutcome(msg.outcome!)), false);
      else if (msg.type === 'error') finish(() => reject(DocklockError.fromJSON(msg.error!)), false);
    });
    worker.on('error', (e) => finish(() => reject(new InternalError(`cage worker failed: ${e.message}`, { cause: e }))));
    worker.on('exit', (code) => finish(() => reject(new InternalError(`cage worker exited unexpectedly with code ${code}`))));
  });
}
