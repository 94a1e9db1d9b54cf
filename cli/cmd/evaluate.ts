/** `docklock evaluate <challenge-dir> <submission>…`: evaluate submissions in parallel (runtime/evaluate). */
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { InputError, evaluateSubmissions, loadChallenge } from '../../runtime/api/evaluate.ts';
import type { Evaluation } from '../../runtime/api/evaluate.ts';
import {
  EXIT,
  assertWritableDir,
  assertWritableFile,
  collect,
  guarded,
  parseEnvFlags,
  readInput,
  renderTable,
} from '../io.ts';

interface EvaluateFlags {
  jobs?: string;
  json?: boolean;
  bundles?: string;
  publish?: string;
  report?: string;
  env: string[];
  allowHost: string[];
}

/** One JSON line per evaluation: u64 as decimal strings. */
export function evaluationJson(e: Evaluation): Record<string, unknown> {
  return {
    submission: e.submission,
    score: e.score,
    status: e.status,
    reason: e.reason,
    details: e.details,
    run: e.run === null ? null : { ...e.run, fuelUsed: e.run.fuelUsed.toString() },
    resultHash: e.resultHash,
    log: e.log,
    ...(e.bundle !== undefined ? { bundle: e.bundle } : {}),
  };
}

const thousands = new Intl.NumberFormat('en-US');

/**
 * Short names for the table: each submission's file name, with as many parent folders as it
 * takes to tell apart submissions that share one.
 */
export function displayNames(paths: readonly string[]): string[] {
  const parts = paths.map((p) => p.split(/[\\/]+/).filter(Boolean));
  const depth = parts.map(() => 1);
  for (let round = 0; round < 64; round++) {
    const names = parts.map((p, i) => p.slice(-depth[i]!).join('/'));
    const seen = new Map<string, number[]>();
    names.forEach((n, i) => seen.set(n, [...(seen.get(n) ?? []), i]));
    let changed = false;
    for (const idx of seen.values()) {
      if (idx.length < 2) continue;
      for (const i of idx) {
        if (depth[i]! < parts[i]!.length) {
          depth[i]!++;
          changed = true;
        }
      }
    }
    if (!changed) return names;
  }
  return paths.slice();
}

function table(evals: Evaluation[]): string {
  const rows = [['submission', 'score', 'status', 'fuel', 'result hash']];
  const names = displayNames(evals.map((e) => e.submission));
  evals.forEach((e, i) => {
    const status =
      e.status === 'ok' ? 'ok' : e.status === 'submission_failed' ? `failed: ${e.reason}` : `error: ${e.reason}`;
    rows.push([
      names[i]!,
      e.score.toFixed(4),
      status,
      e.run === null ? '-' : thousands.format(e.run.fuelUsed),
      e.resultHash?.slice(0, 16) ?? '-',
    ]);
  });
  // score and fuel are numbers: right-aligned.
  return `${renderTable(rows, new Set([1, 3]))}${summaryLine(evals)}\n`;
}

/** "5 submissions: 3 ok, 1 failed by the challenge, 1 not evaluated; mean score 0.5400". */
export function summaryLine(evals: readonly Evaluation[]): string {
  const count = (s: Evaluation['status']): number => evals.filter((e) => e.status === s).length;
  const mean = evals.length === 0 ? 0 : evals.reduce((a, e) => a + e.score, 0) / evals.length;
  return `${evals.length} submission${evals.length === 1 ? '' : 's'}: ${count('ok')} ok, ${count('submission_failed')} failed by the challenge, ${count('evaluation_failed')} not evaluated; mean score ${mean.toFixed(4)}`;
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('evaluate miner submissions against a challenge, in parallel on worker threads')
    .argument('<challenge-dir>', 'folder with challenge.yaml and its module (challenges/README.md)')
    .argument('<submission...>', 'submission files (their bytes become /input/submission and stdin)')
    .option('--jobs <n>', 'worker threads (default: 2, at most one per submission)')
    .option('--json', 'print one JSON object per evaluation (JSON lines) instead of a table')
    .option('--bundles <dir>', "write each run's replay bundle to <dir>/<submission>.dlb")
    .option(
      '--publish <node-config>',
      'publish a signed claim for each bundle through the running node of <node.yaml> (docs/p2p.md); bundles go to --bundles or a temporary folder',
    )
    .option(
      '--report <file.html>',
      "write a self-contained HTML report (score distribution, fuel, statuses, slowest and failed submissions); with --bundles, it links fuel profiles of the slowest and failed submissions' bundles",
    )
    .option('--env <K=V>', "environment variable for the challenge, over the manifest's; repeatable", collect, [])
    .option('--allow-host <host:port>', "add to the challenge's network allow list; repeatable", collect, [])
    .addHelpText(
      'after',
      '\nExit codes: 0 when every submission was evaluated (whatever its score); 2 for bad usage or a challenge that cannot load.',
    )
    .action(async (challengeDir: string, submissionPaths: string[], f: EvaluateFlags) =>
      guarded(f.json === true, async () => {
        const jobs = f.jobs === undefined ? 2 : Number(f.jobs);
        if (!Number.isInteger(jobs) || jobs < 1 || jobs > 256)
          throw new InputError('DL_ERR_CLI_JOBS', `--jobs takes an integer in 1..256, got "${f.jobs}"`, {
            field: '--jobs',
          });
        if (f.publish !== undefined)
          f.bundles ??= (await import('node:fs')).mkdtempSync(
            `${(await import('node:os')).tmpdir()}/docklock-publish-`,
          );
        if (f.bundles !== undefined) assertWritableDir(f.bundles, '--bundles');
        if (f.report !== undefined) assertWritableFile(f.report, '--report');
        const env = parseEnvFlags(f.env);
        const challenge = await loadChallenge(challengeDir, { env, allowHosts: f.allowHost });
        const submissions = submissionPaths.map((p) => ({ label: p, bytes: readInput(p, 'submission') }));
        const bar =
          process.stderr.isTTY === true
            ? new SingleBar({
                format: 'evaluating [{bar}] {value}/{total} {eta_formatted}',
                hideCursor: true,
                clearOnComplete: true,
                stream: process.stderr,
              })
            : undefined;
        bar?.start(submissions.length, 0);
        // JSON lines stream in the order the submissions were given, not the order the pool
        // finishes them in: two identical commands print identical output.
        const finished = new Map<number, Evaluation>();
        let printed = 0;
        const evals = await evaluateSubmissions(challenge, submissions, {
          jobs,
          bundles: f.bundles,
          onResult: (e, done, _total, index) => {
            if (f.json) {
              finished.set(index, e);
              for (let next = finished.get(printed); next !== undefined; next = finished.get(printed)) {
                finished.delete(printed++);
                process.stdout.write(`${JSON.stringify(evaluationJson(next))}\n`);
              }
            }
            bar?.update(done);
          },
        });
        bar?.stop();
        if (!f.json) process.stdout.write(table(evals));
        if (f.report !== undefined)
          await (await import('./report.ts')).writeReport(
            f.report,
            evals,
            displayNames(evals.map((e) => e.submission)),
          );
        if (f.publish !== undefined)
          await (await import('./node.ts')).publishBundles(
            f.publish,
            evals.flatMap((e) => (e.bundle === undefined ? [] : [{ submission: e.submission, bundle: e.bundle }])),
            f.json === true,
          );
        return EXIT.ok;
      }),
    );
}
