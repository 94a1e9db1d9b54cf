/**
 * One evaluation: a challenge run on one submission, and how its outcome maps to a score
 * (challenges/README.md, "The contract"). A challenge that exits 0 having written a valid
 * `/output/score.json` produced a score; anything else is a failed evaluation with a reason,
 * scored 0. `details.failure` marks a submission the challenge itself failed (still a valid score).
 */
import { runGuest } from '../cage/run.ts';
import type { RunOutcome } from '../cage/run.ts';
import { resultHash } from '../result.ts';
import type { RunResult, RunStatus } from '../result.ts';
import type { CompiledModule } from '../compiled-module.ts';
import type { CageManifest } from '../manifest/parse.ts';
import type { NetTransport } from '../cage/run.ts';
import { toHex } from '../hash.ts';
import { SCORE_PATH, SUBMISSION_PATH } from './challenge.ts';

/**
 * `ok`: scored. `submission_failed`: scored, and the challenge reported why the submission failed
 * (`details.failure`). `evaluation_failed`: the contract was broken (no score, score out of range,
 * non-zero exit, trap, out of fuel, …): score 0, `reason` says why.
 */
export type EvaluationStatus = 'ok' | 'submission_failed' | 'evaluation_failed';

/** What `/output/score.json` and the run's end say. */
export interface ScoreVerdict {
  score: number;
  status: EvaluationStatus;
  /** Why it failed (`details.failure`, or the broken rule); null for `ok`. */
  reason: string | null;
  details: Record<string, unknown> | null;
}

export interface Evaluation extends ScoreVerdict {
  /** The submission's label (its path on the command line). */
  submission: string;
  /** How the challenge run ended; null when it never finished (watchdog, crashed worker). */
  run: {
    status: RunStatus;
    exitCode: number | null;
    trap: string | null;
    fuelUsed: bigint;
    witnessEntries: number;
  } | null;
  /** Hex result hash of the run (runtime/result.ts); null when there is no run. */
  resultHash: string | null;
  /** Path of the replay bundle, when one was written. */
  bundle?: string;
  /**
   * The challenge's stderr as lines (its `docklock.log` lines among them), at most
   * {@link LOG_LINES} of them; empty when there is no run.
   */
  log: string[];
}

/** How many stderr lines an evaluation report carries (the bundle keeps all of stderr). */
export const LOG_LINES = 100;

/** A run's stderr as at most {@link LOG_LINES} lines; invalid UTF-8 shows as U+FFFD. */
export function logLines(stderr: Uint8Array): string[] {
  const lines = new TextDecoder().decode(stderr).split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.length > LOG_LINES
    ? [...lines.slice(0, LOG_LINES), `… ${lines.length - LOG_LINES} more lines in the bundle`]
    : lines;
}

/** An evaluation with what a bundle needs. */
export interface EvaluationRecord {
  evaluation: Evaluation;
  result?: RunResult;
  /** The witness, encoded as a bundle stores it (`RunOutcome.witnessBytes`): cheap to post from a worker. */
  witness?: Uint8Array;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function failed(reason: string, details: Record<string, unknown> | null = null): ScoreVerdict {
  return { score: 0, status: 'evaluation_failed', reason, details };
}

/** Applies the contract to a finished run. */
export function verdictOf(outcome: RunOutcome): ScoreVerdict {
  const r = outcome.result;
  if (r.status === 'rejected') return failed(`rejected:${outcome.error?.code ?? 'unknown'}`);
  if (r.status === 'trapped') return failed(r.trap === null ? 'trapped' : `trapped:${r.trap}`);
  if (r.status !== 'exited') return failed(r.status);
  if (r.exitCode !== 0) return failed(`exit_code:${r.exitCode}`);
  const file = r.outputs.get(SCORE_PATH);
  if (file === undefined) return failed('no_score');
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(file));
  } catch {
    return failed('bad_score:not_json');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return failed('bad_score:not_an_object');
  const o = parsed as Record<string, unknown>;
  const details = o.details === undefined ? {} : o.details;
  if (typeof details !== 'object' || details === null || Array.isArray(details))
    return failed('bad_score:details_not_an_object');
  const d = details as Record<string, unknown>;
  if (typeof o.score !== 'number' || !Number.isFinite(o.score)) return failed('bad_score:no_number', d);
  if (o.score < 0 || o.score > 1) return failed('bad_score:out_of_range', d);
  if (typeof d.failure === 'string')
    return { score: o.score, status: 'submission_failed', reason: d.failure, details: d };
  return { score: o.score, status: 'ok', reason: null, details: d };
}

export interface EvaluateOneRequest {
  manifest: CageManifest;
  module: Uint8Array;
  compiled: CompiledModule | undefined;
  inputs: ReadonlyMap<string, Uint8Array>;
  submission: Uint8Array;
  label: string;
  /** Keep the result and witness (for a bundle). */
  keep: boolean;
  net?: NetTransport;
}

/** The inputs of an evaluation run: the challenge's own plus the submission. */
export function evaluationInputs(
  own: ReadonlyMap<string, Uint8Array>,
  submission: Uint8Array,
): Map<string, Uint8Array> {
  const inputs = new Map(own);
  inputs.set(SUBMISSION_PATH, submission);
  return inputs;
}

/** Runs one evaluation in the current thread (a pool worker, or a test). */
export async function evaluateOne(req: EvaluateOneRequest): Promise<EvaluationRecord> {
  const outcome = await runGuest({
    manifest: req.manifest,
    module: req.module,
    compiled: req.compiled,
    stdin: req.submission,
    inputs: evaluationInputs(req.inputs, req.submission),
    mode: 'record',
    net: req.net,
  });
  const r = outcome.result;
  const evaluation: Evaluation = {
    submission: req.label,
    ...verdictOf(outcome),
    run: {
      status: r.status,
      exitCode: r.exitCode,
      trap: r.trap,
      fuelUsed: r.fuelUsed,
      witnessEntries: r.witnessEntries,
    },
    resultHash: toHex(resultHash(r)),
    log: logLines(r.stderr),
  };
  return req.keep ? { evaluation, result: r, witness: outcome.witnessBytes } : { evaluation };
}
