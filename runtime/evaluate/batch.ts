/**
 * `evaluateSubmissions`: the library behind `docklock evaluate`. Runs every submission through an
 * {@link EvaluationPool}; a submission whose evaluation fails for any reason (its own fault, a
 * watchdog, a worker crash) becomes a failed evaluation with a reason, and the batch goes on.
 * Optionally writes each run's replay bundle.
 */
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../write-atomic.ts';
import { basename, join } from 'node:path';
import { encodeBundle } from '../bundle.ts';
import { DocklockError } from '../errors.ts';
import type { Challenge } from './challenge.ts';
import { evaluationInputs } from './evaluation.ts';
import type { Evaluation } from './evaluation.ts';
import { EvaluationPool } from './pool.ts';

export interface SubmissionSource {
  /** Shown in reports; a file path on the command line. */
  label: string;
  bytes: Uint8Array;
}

export interface BatchOptions {
  jobs?: number;
  /** Write `<name>.dlb` replay bundles into this folder. */
  bundles?: string;
  /**
   * Called after each evaluation finishes (in completion order, which varies from run to run);
   * `index` is the submission's position in the list given.
   */
  onResult?: (e: Evaluation, done: number, total: number, index: number) => void;
}

/** A failed evaluation for an error outside the run (watchdog, crashed worker). */
export function infrastructureFailure(label: string, e: unknown): Evaluation {
  const code = e instanceof DocklockError ? e.code : 'DL_ERR_INTERNAL';
  return {
    submission: label,
    score: 0,
    status: 'evaluation_failed',
    reason: `error:${code}`,
    details: { message: e instanceof Error ? e.message : String(e) },
    run: null,
    resultHash: null,
    log: [],
  };
}

function bundleNames(labels: string[]): string[] {
  const used = new Set<string>();
  return labels.map((l) => {
    const base = basename(l).replace(/[^A-Za-z0-9._-]/g, '_') || 'submission';
    let name = `${base}.dlb`;
    for (let i = 2; used.has(name); i++) name = `${base}-${i}.dlb`;
    used.add(name);
    return name;
  });
}

/**
 * Evaluates submissions in parallel; results come back in the order given.
 * @example
 * const ch = await loadChallenge('challenges/examples/sort');
 * const evals = await evaluateSubmissions(ch, [{ label: 'q.wasm', bytes }], { jobs: 2 });
 */
export async function evaluateSubmissions(
  challenge: Challenge,
  submissions: readonly SubmissionSource[],
  options: BatchOptions = {},
): Promise<Evaluation[]> {
  const pool = new EvaluationPool(challenge, {
    jobs: Math.max(1, Math.min(options.jobs ?? 2, submissions.length || 1)),
  });
  const names = bundleNames(submissions.map((s) => s.label));
  if (options.bundles !== undefined) mkdirSync(options.bundles, { recursive: true });
  let done = 0;
  try {
    return await Promise.all(
      submissions.map(async (s, i) => {
        let e: Evaluation;
        try {
          const rec = await pool.evaluate(s.bytes, s.label, options.bundles !== undefined);
          e = rec.evaluation;
          if (options.bundles !== undefined && rec.result !== undefined && rec.witness !== undefined) {
            const path = join(options.bundles, names[i]!);
            const bytes = encodeBundle({
              manifest: challenge.manifest,
              module: challenge.module,
              stdin: s.bytes,
              inputs: evaluationInputs(challenge.inputs, s.bytes),
              witness: rec.witness,
              result: rec.result,
            });
            writeFileAtomic(path, bytes);
            e = { ...e, bundle: path };
          }
        } catch (err) {
          e = infrastructureFailure(s.label, err);
        }
        options.onResult?.(e, ++done, submissions.length, i);
        return e;
      }),
    );
  } finally {
    await pool.close();
  }
}
