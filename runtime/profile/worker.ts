/**
 * Worker-thread side of a profiled run: the guest runs here, on a thread whose stack is sized from
 * the manifest's budget (as a cage run's is), and the result and profile are posted back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { profileRun } from './run.ts';
import type { ProfileJob } from './run.ts';
import { errorToWire } from '../cage/transport.ts';
import { flattenProfile } from './model.ts';

const job = workerData as ProfileJob;
try {
  const { outcome, profile } = await profileRun(job.request, job.name);
  parentPort!.postMessage({
    type: 'done',
    result: outcome.result,
    divergence: outcome.divergence,
    error: outcome.error,
    profile: flattenProfile(profile),
  });
} catch (e) {
  parentPort!.postMessage({ type: 'error', error: errorToWire(e) });
} finally {
  parentPort!.close();
}
