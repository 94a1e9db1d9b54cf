/**
 * A profiled cage run: the same run as `runGuest`, on a {@link ProfilingEngine}, plus the profile.
 * The run's result (and so its hash) is the plain run's; the profile's total is its `fuelUsed`.
 * `profileInWorker` runs it on a worker thread whose stack is sized from the manifest, as
 * `runCage` does, so recursion that a plain run survives does not overflow this thread's stack.
 */
import { Worker } from 'node:worker_threads';
import { runGuest } from '../cage/run.ts';
import type { RunOutcome, RunRequest } from '../cage/run.ts';
import { workerStackMb } from '../cage/cage.ts';
import { errorFromWire } from '../cage/transport.ts';
import { InternalError, WatchdogError } from '../errors.ts';
import type { ErrorJson } from '../errors.ts';
import type { RunResult } from '../result.ts';
import type { Divergence } from '../witness/recorder.ts';
import { workerUrl } from '../worker-url.ts';
import { ProfilingEngine } from './engine.ts';
import { buildProfile, unflattenProfile } from './model.ts';
import type { FlatProfile, Profile } from './model.ts';

export interface ProfiledRun {
  outcome: RunOutcome;
  profile: Profile;
}

/** Runs (or replays) `request` in this thread with profiling; `name` labels the profile's root. */
export async function profileRun(request: RunRequest, name: string): Promise<ProfiledRun> {
  const engine = new ProfilingEngine();
  const outcome = await runGuest({ ...request, engine });
  return { outcome, profile: buildProfile(name, engine.recorder.trees) };
}

/** What the profile worker is given (plain data). */
export interface ProfileJob {
  request: RunRequest;
  name: string;
}

export interface WorkerProfile {
  result: RunResult;
  divergence: Divergence | null;
  error: { code: string; message: string } | null;
  profile: Profile;
}

const WORKER_URL = workerUrl(import.meta.url, 'worker');
/**
 * Profiling makes each frame a little larger (one local, and `enter` above it) and runs slower:
 * twice a cage run's stack, and four times its watchdog.
 */
const STACK_FACTOR = 2;
const WATCHDOG_FACTOR = 4;

export function profileInWorker(job: ProfileJob): Promise<WorkerProfile> {
  const limits = job.request.manifest.limits;
  const worker = new Worker(WORKER_URL, {
    workerData: job,
    resourceLimits: { stackSizeMb: workerStackMb(limits.stack) * STACK_FACTOR },
    stdout: false,
    stderr: false,
  });
  return new Promise<WorkerProfile>((resolve, reject) => {
    let finished = false;
    const finish = (fn: () => void, kill: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(watchdog);
      if (kill) void worker.terminate();
      fn();
    };
    const watchdog = setTimeout(
      () => finish(() => reject(new WatchdogError(['the profiled run', limits.wallClockMs * WATCHDOG_FACTOR])), true),
      limits.wallClockMs * WATCHDOG_FACTOR,
    );
    type Done = { type: 'done'; profile: FlatProfile } & Omit<WorkerProfile, 'profile'>;
    worker.on('message', (msg: Done | { type: 'error'; error: ErrorJson }) => {
      if (msg.type === 'done') {
        const { type: _, profile, ...out } = msg;
        finish(() => resolve({ ...out, profile: unflattenProfile(profile) }), false);
      } else finish(() => reject(errorFromWire(msg.error)), false);
    });
    worker.on('error', (e) =>
      finish(() => reject(new InternalError(`profile worker failed: ${e.message}`, { cause: e })), true),
    );
    worker.on('exit', (code) =>
      finish(() => reject(new InternalError(`profile worker exited unexpectedly with code ${code}`)), false),
    );
  });
}
