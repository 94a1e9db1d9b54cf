/**
 * Thread side of the evaluation pool (pool.ts), on the one worker loop (cage/worker-loop.ts). The
 * challenge's compiled module arrives once, in `workerData`, as a `SharedCompiledModule` (V8 shares
 * the machine code; nothing is compiled again here); then each job is one submission to evaluate.
 * Network requests of a `net`-granted challenge block this thread on `Atomics.wait` while the main
 * thread performs them, as in runtime/cage/worker.ts (spec: spec/network.md#R1).
 */
import { workerData } from 'node:worker_threads';
import { CompiledModule } from '../compiled-module.ts';
import type { SharedCompiledModule } from '../compiled-module.ts';
import type { CageManifest } from '../manifest/parse.ts';
import { serveJobs } from '../cage/worker-loop.ts';
import type { JobResult } from '../cage/worker-loop.ts';
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
  submission: Uint8Array;
  label: string;
  keep: boolean;
}

const init = workerData as PoolWorkerInit;
const compiled = init.shared === undefined ? undefined : CompiledModule.fromShared(init.shared);
const transport = bridgeTransport(init.net);

async function evaluate(job: PoolJob): Promise<JobResult<EvaluationRecord>> {
  const record = await evaluateOne({
    manifest: init.manifest,
    module: init.module,
    compiled,
    inputs: init.inputs,
    submission: job.submission,
    label: job.label,
    keep: job.keep,
    net: transport,
  });
  // The witness encoding is allocated afresh for each run (WitnessLog.finalize): move it.
  const w = record.witness;
  return w !== undefined && w.byteLength > 0
    ? { value: record, transfer: [w.buffer as ArrayBuffer] }
    : { value: record };
}

serveJobs<PoolJob, EvaluationRecord>(evaluate, () => init.net.port.close());
