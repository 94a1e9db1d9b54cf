/**
 * A juror's process: replays the bundles it is sent, one at a time, and answers with the result
 * hash its own replay produced. A separate process per juror, so a juror shares no memory, no
 * compile cache and no V8 state with the run it judges or with the other jurors.
 */
import { replayBundle } from '../runtime/api/bundle.ts';

interface Job {
  readonly n: number;
  readonly bundle: Uint8Array;
}

process.on('message', (job: Job) => {
  replayBundle(job.bundle).then(
    (r) =>
      process.send?.({
        n: job.n,
        resultHash: r.resultHash,
        ...(r.divergence === null
          ? {}
          : {
              detail: `diverged at witness entry ${r.divergence.index} (${r.divergence.import}, ${r.divergence.field})`,
            }),
      }),
    (err: unknown) => {
      const e = err as { code?: unknown; message?: unknown };
      process.send?.({
        n: job.n,
        resultHash: null,
        detail: `${typeof e.code === 'string' ? `${e.code}: ` : ''}${String(e.message ?? err)}`,
      });
    },
  );
});
