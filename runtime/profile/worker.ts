/**
 * Thread side of a profiled run, on the one worker loop (cage/worker-loop.ts): the guest runs
 * here, on a thread whose stack is sized from the manifest's budget (as a cage run's is), and the
 * result and the profile (flattened: plain arrays clone cheaply) are posted back.
 */
import { serveJobs } from '../cage/worker-loop.ts';
import type { JobResult } from '../cage/worker-loop.ts';
import { profileRun } from './run.ts';
import type { ProfileJob, WorkerProfileParts } from './run.ts';
import { flattenProfile } from './model.ts';

async function profile(job: ProfileJob): Promise<JobResult<WorkerProfileParts>> {
  const { outcome, profile } = await profileRun(job.request, job.name);
  return {
    value: {
      result: outcome.result,
      divergence: outcome.divergence,
      error: outcome.error,
      profile: flattenProfile(profile),
    },
  };
}

serveJobs<ProfileJob, WorkerProfileParts>(profile);
