/**
 * Worker-thread side of a cage run. The guest runs here, on a thread with a fixed stack size; a
 * network request blocks this thread on `Atomics.wait` while the main thread performs it, then the
 * answer is taken synchronously with `receiveMessageOnPort` (spec: spec/network.md#R1).
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { runGuest } from './run.ts';
import type { RunRequest } from './run.ts';
import type { NetRequest, NetResponse } from '../host-functions/net/http.ts';
import { DocklockError } from './errors.ts';

export interface WorkerInit {
  request: Omit<RunRequest, 'net' | 'tee' | 'compiled'>;
  netPort: MessagePort;
  signal: SharedArrayBuffer;
  tee: boolean;
}

const init = workerData as WorkerInit;
const flag = new Int32Array(init.signal);

function transport(req: NetRequest): NetResponse {
  Atomics.store(flag, 0, 0);
  init.netPort.postMessage(req);
  // The main thread enforces the request timeout; this wait only guards against a lost reply.
  const r = Atomics.wait(flag, 0, 0, req.timeoutMs + 5_000);
  const msg = receiveMessageOnPort(init.netPort);
  if (r === 'timed-out' || msg === undefined) return { error: 'transport', message: 'no answer from the network thread' };
  return msg.message as NetResponse;
}

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
