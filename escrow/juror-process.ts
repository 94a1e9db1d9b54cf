/**
 * A juror's process: replays the bundles it is sent, one at a time, and answers with the result
 * hash its own replay produced. A separate process per juror, so a juror shares no memory, no
 * compile cache and no V8 state with the run it judges or with the other jurors.
 */
import { replayBundle } from '../runtime/api/bundle.ts';
import { CagePool } from '../runtime/api/cage.ts';

// One long-lived cage thread: a juror replays many bundles, and starting a thread (and loading the
// runtime into it) per replay would cost more than the replay of a small evaluation.
const pool = new CagePool({ size: 1, lazy: true, unref: true, compileIn: 'worker' });

interface Job {
  readonly n: number;
  readonly bundle: Uint8Array;
}

process.on('message', (job: Job) => {
  replayBundle(job.bundle, { pool }).then(
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
