/**
 * A replay worker of {@link ReplayPool}: a long-lived thread that replays one bundle at a time with
 * `runGuest` (the cage's own run, in replay mode: no network, no clock), compiling each challenge
 * module once per thread (the engine caches by content hash).
 */
import { parentPort } from 'node:worker_threads';
import { DocklockError, runGuest } from '../index.ts';
import type { ReplayJob, ReplayReply } from './replay-pool.ts';

parentPort!.on('message', (job: ReplayJob | null) => {
  if (job === null) {
    parentPort!.close();
    return;
  }
  void runGuest({
    manifest: job.manifest,
    module: job.module,
    stdin: job.stdin,
    inputs: job.inputs,
    mode: 'replay',
    witness: job.witness,
    wasiLevel: job.wasiLevel,
  }).then(
    (o) => {
      // The replayed witness is not sent back (a verdict needs only the divergence and the result),
      // and never transferred: its bytes view this thread's reusable log memory, which a transfer
      // would detach (each later run then re-allocated it: ~0.6 s a replay, measured).
      const reply: ReplayReply = {
        id: job.id,
        outcome: { result: o.result, witnessBytes: new Uint8Array(0), divergence: o.divergence, error: o.error },
      };
      parentPort!.postMessage(reply);
    },
    (e: unknown) => {
      const reply: ReplayReply = {
        id: job.id,
        error:
          e instanceof DocklockError
            ? { code: e.code, message: e.message }
            : { code: 'DL_ERR_INTERNAL', message: String(e) },
      };
      parentPort!.postMessage(reply);
    },
  );
});
