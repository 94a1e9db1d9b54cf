/**
 * A profiled cage run: the same run as `runGuest`, on a {@link ProfilingEngine}, plus the profile.
 * The run's result (and so its hash) is the plain run's; the profile's total is its `fuelUsed`.
 * `profileInWorker` runs it on a worker thread whose stack is sized from the manifest, as
 * `runCage` does, so recursion that a plain run survives does not overflow this thread's stack.
 */
import { runGuest } from '../cage/run.ts';
import type { RunOutcome, RunRequest } from '../cage/run.ts';
import { workerStackMb } from '../cage/cage.ts';
import { WorkerPool } from '../cage/worker-pool.ts';
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

/** A {@link WorkerProfile} as it crosses threads. */
export interface WorkerProfileParts extends Omit<WorkerProfile, 'profile'> {
  profile: FlatProfile;
}

const WORKER_URL = workerUrl(import.meta.url, 'worker');
/**
 * Profiling makes each frame a little larger (one local, and `enter` above it) and runs slower:
 * twice a cage run's stack, and four times its watchdog.
 */
const STACK_FACTOR = 2;
const WATCHDOG_FACTOR = 4;

/** Runs a profiled run on a thread of its own (a pool of one), with the cage's watchdog and error transport. */
export async function profileInWorker(job: ProfileJob): Promise<WorkerProfile> {
  const limits = job.request.manifest.limits;
  const pool = new WorkerPool<ProfileJob, WorkerProfileParts>({
    url: WORKER_URL,
    size: 1,
    stackSizeMb: workerStackMb(limits.stack) * STACK_FACTOR,
    name: 'profile worker',
  });
  try {
    const { profile, ...out } = await pool.run(job, {
      watchdogMs: limits.wallClockMs * WATCHDOG_FACTOR,
      what: 'the profiled run',
    });
    return { ...out, profile: unflattenProfile(profile) };
  } finally {
    void pool.close();
  }
}
