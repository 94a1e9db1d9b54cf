/**
 * Worker side of the evaluation pool. The challenge's compiled module arrives once, in
 * `workerData`, as a `SharedCompiledModule` (V8 shares the machine code; nothing is compiled
 * again here); then each message is one submission to evaluate. Network requests of a `net`-granted
 * challenge block this thread on `Atomics.wait` while the main thread performs them, as in
 * runtime/cage/worker.ts (spec: spec/network.md#R1).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CompiledModule } from '../compiled-module.ts';
import type { SharedCompiledModule } from '../compiled-module.ts';
import type { CageManifest } from '../manifest/parse.ts';
import { errorToWire } from '../cage/transport.ts';
import type { ErrorJson } from '../errors.ts';
import { bridgeTransport } from '../cage/bridge.ts';
import type { BridgeEnd } from '../cage/bridge.ts';
import { evaluateOne } from './evaluation.ts';
import type { EvaluationRecord } from './evaluation.ts';

export interface PoolWorkerInit {
  shared: SharedCompiledModule | undefined;
  manifest: CageManifest;
  module: Uint8Array;
  inputs: Map<string, Uint8Array>;
  net: BridgeEnd;
}

export interface PoolJob {
  id: number;
  submission: Uint8Array;
  label: string;
  keep: boolean;
}

export type PoolReply = { id: number; record: EvaluationRecord } | { id: number; error: ErrorJson };

const init = workerData as PoolWorkerInit;
const compiled = init.shared === undefined ? undefined : CompiledModule.fromShared(init.shared);

const transport = bridgeTransport(init.net);

parentPort!.on('message', (job: PoolJob | null) => {
  if (job === null) {
    // The pool is closing: release the ports so the thread ends by itself.
    init.net.port.close();
    parentPort!.close();
    return;
  }
  void evaluateOne({
    manifest: init.manifest,
    module: init.module,
    compiled,
    inputs: init.inputs,
    submission: job.submission,
    label: job.label,
    keep: job.keep,
    net: transport,
  }).then(
    (record) => parentPort!.postMessage({ id: job.id, record } satisfies PoolReply),
    (e: unknown) => {
      parentPort!.postMessage({ id: job.id, error: errorToWire(e) } satisfies PoolReply);
    },
  );
});
