/**
 * bench:profile — what profiling costs against the plain run (issue 17: ≤ 3×, an analysis tool).
 *
 * Workloads, each plain and profiled, interleaved (the order alternates every repetition) in this
 * process after warm-ups; a figure is the median of the per-repetition ratios profiled / plain:
 *   replay quicksort   `docklock profile` of a real bundle (sort challenge, quicksort submission in
 *                      a nested cage), against the plain replay: compile + run + witness, in-thread
 *   replay insertion   the same for the insertion-sort submission (more fuel, fewer calls)
 *   fib(30)            the C fixture, warm instance, 2.7 million calls: the profiler's per-call cost
 *   sha256 4 MiB       the C fixture, warm instance, few calls: the per-instruction cost (none)
 *
 * Usage: npm run bench:profile [-- --reps N]
 * Prints a table; the figures go to bench/RESULTS.md by hand (one section).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeBundle } from '../runtime/bundle.ts';
import { runGuest } from '../runtime/cage/run.ts';
import type { RunRequest } from '../runtime/cage/run.ts';
import { Engine } from '../runtime/engine.ts';
import { evaluateSubmissions, loadChallenge } from '../runtime/api/evaluate.ts';
import { profileRun } from '../runtime/profile/run.ts';
import { ProfilingEngine } from '../runtime/profile/engine.ts';
import { buildFixtures, FIXTURE_WASM_DIR } from '../scripts/build-fixtures.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const argv = process.argv.slice(2);
const at = argv.indexOf('--reps');
const REPS = at >= 0 ? Number(argv[at + 1]) : 15;
const WARMUP = 3;
const FUEL = 1n << 60n;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Pair {
  name: string;
  plain: () => Promise<unknown> | unknown;
  profiled: () => Promise<unknown> | unknown;
}

async function time(f: () => Promise<unknown> | unknown): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function measure(p: Pair): Promise<{ plain: number; profiled: number; ratio: number }> {
  for (let i = 0; i < WARMUP; i++) {
    await p.plain();
    await p.profiled();
  }
  const plain: number[] = [];
  const profiled: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < REPS; i++) {
    let a: number;
    let b: number;
    if (i % 2 === 0) {
      a = await time(p.plain);
      b = await time(p.profiled);
    } else {
      b = await time(p.profiled);
      a = await time(p.plain);
    }
    plain.push(a);
    profiled.push(b);
    ratios.push(b / a);
  }
  return { plain: median(plain), profiled: median(profiled), ratio: median(ratios) };
}

async function bundleOf(submission: string): Promise<RunRequest> {
  const dir = mkdtempSync(join(tmpdir(), 'docklock-bench-profile-'));
  const root = join(import.meta.dirname, '..', 'challenges', 'examples', 'sort');
  const c = await loadChallenge(root);
  const bytes = new Uint8Array(readFileSync(join(root, 'submissions', submission)));
  const [e] = await evaluateSubmissions(c, [{ label: submission, bytes }], { bundles: dir, jobs: 1 });
  const b = decodeBundle(readFileSync(e!.bundle!));
  return {
    manifest: b.manifest,
    module: b.module,
    stdin: b.stdin,
    inputs: b.inputs,
    mode: 'replay',
    witness: b.witnessBytes,
    wasiLevel: b.wasiLevel,
  };
}

/** A warm instance's export, plain (default engine) or profiled (a profiling engine). */
async function exportOf(fixture: string, name: string, profiled: boolean): Promise<(...a: number[]) => number> {
  const wasm = new Uint8Array(readFileSync(join(FIXTURE_WASM_DIR, `${fixture}.wasm`)));
  const engine = profiled ? new ProfilingEngine() : new Engine();
  const compiled = await engine.compile(wasm);
  const inst = compiled.instantiateSync({}, { fuel: FUEL });
  return inst.exports[name] as (...a: number[]) => number;
}

buildFixtures();
const pairs: Pair[] = [];
for (const s of ['quicksort.wasm', 'insertion.wasm']) {
  const req = await bundleOf(s);
  pairs.push({
    name: `replay ${s.replace('.wasm', '')}`,
    plain: () => runGuest({ ...req, engine: new Engine() }),
    profiled: () => profileRun(req, 'bench'),
  });
}
{
  const [plain, profiled] = [await exportOf('fib', 'fib', false), await exportOf('fib', 'fib', true)];
  pairs.push({ name: 'fib(30)', plain: () => plain(30), profiled: () => profiled(30) });
}
{
  const [plain, profiled] = [
    await exportOf('sha256', 'sha256_pattern', false),
    await exportOf('sha256', 'sha256_pattern', true),
  ];
  pairs.push({ name: 'sha256 4 MiB', plain: () => plain(4 << 20), profiled: () => profiled(4 << 20) });
}

const load = loadavg()
  .map((l) => l.toFixed(2))
  .join(' ');
console.log(`bench:profile — ${REPS} interleaved repetitions after ${WARMUP} warm-ups; load ${load}`);
console.log('workload            plain ms   profiled ms   profiled/plain (median of ratios)');
for (const p of pairs) {
  const r = await measure(p);
  console.log(
    `${p.name.padEnd(18)} ${r.plain.toFixed(1).padStart(9)} ${r.profiled.toFixed(1).padStart(13)}   ${r.ratio.toFixed(2)}×`,
  );
}
console.log(
  `load after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
