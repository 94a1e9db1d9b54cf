/**
 * Worker-thread side of a cage run. The guest runs here, on a thread with a fixed stack size; a
 * network request blocks this thread on `Atomics.wait` while the main thread performs it, then the
 * answer is taken synchronously with `receiveMessageOnPort` (spec: spec/network.md#R1).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runGuest } from './run.ts';
import type { RunOutcomeParts } from './run.ts';
import type { RunRequest } from './run.ts';
import { bridgeTransport } from '../../host-functions/net/bridge.ts';
import type { BridgeEnd } from '../../host-functions/net/bridge.ts';
import { errorToWire } from './transport.ts';
import { CompiledModule } from '../compiled-module.ts';
import type { SharedCompiledModule } from '../compiled-module.ts';

/** What the worker starts with (`workerData`), before the module is compiled. */
export interface WorkerBoot {
  net: BridgeEnd;
  tee: boolean;
}

/** The run, posted once the main thread has compiled the module. */
export interface WorkerJob {
  request: Omit<RunRequest, 'net' | 'tee' | 'compiled'>;
  /** The module compiled on the main thread; absent when it failed validation (the run reports why). */
  shared: SharedCompiledModule | undefined;
}

const init = workerData as WorkerBoot;
const transport = bridgeTransport(init.net);
const job = await new Promise<WorkerJob>((resolve) => parentPort!.once('message', resolve));

try {
  const tee = init.tee
    ? {
        stdout: (b: Uint8Array) => parentPort!.postMessage({ type: 'stdout', data: b }),
        stderr: (b: Uint8Array) => parentPort!.postMessage({ type: 'stderr', data: b }),
      }
    : undefined;
  const compiled = job.shared === undefined ? undefined : CompiledModule.fromShared(job.shared);
  const outcome = await runGuest({ ...job.request, net: transport, tee, compiled });
  // The witness travels as its encoding, moved rather than copied (reading `witness` would decode
  // a million entries here only to clone them); the log stays here.
  const parts: RunOutcomeParts = {
    result: outcome.result,
    witnessBytes: outcome.witnessBytes,
    divergence: outcome.divergence,
    error: outcome.error,
  };
  parentPort!.postMessage({ type: 'done', outcome: parts }, [outcome.witnessBytes.buffer as ArrayBuffer]);
} catch (e) {
  parentPort!.postMessage({ type: 'error', error: errorToWire(e) });
} finally {
  // Let the thread end by itself: terminating a thread that holds WebAssembly code races V8's
  // code-page bookkeeping ("Check failed: jit_page.has_value()") on this Node line.
  init.net.port.close();
  parentPort!.close();
}
