/**
 * Worker-thread side of a cage run. The guest runs here, on a thread with a fixed stack size; a
 * network request blocks this thread on `Atomics.wait` while the main thread performs it, then the
 * answer is taken synchronously with `receiveMessageOnPort` (spec: spec/network.md#R1).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runGuest } from './run.ts';
import type { RunRequest } from './run.ts';
import { bridgeTransport } from '../host-functions/net/bridge.ts';
import type { BridgeEnd } from '../host-functions/net/bridge.ts';
import { DocklockError } from './errors.ts';

export interface WorkerInit {
  request: Omit<RunRequest, 'net' | 'tee' | 'compiled'>;
  net: BridgeEnd;
  tee: boolean;
}

const init = workerData as WorkerInit;
const transport = bridgeTransport(init.net);

try {
  const tee = init.tee
    ? { stdout: (b: Uint8Array) => parentPort!.postMessage({ type: 'stdout', data: b }), stderr: (b: Uint8Array) => parentPort!.postMessage({ type: 'stderr', data: b }) }
    : undefined;
  const outcome = await runGuest({ ...init.request, net: transport, tee });
  parentPort!.postMessage({ type: 'done', outcome });
} catch (e) {
  const err = e instanceof DocklockError ? { code: e.code, message: e.message } : { code: 'DL_ERR_INTERNAL', message: String((e as Error)?.stack ?? e) };
  parentPort!.postMessage({ type: 'error', error: err });
}
