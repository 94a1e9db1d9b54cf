/**
 * Evaluation throughput and latency (`npm run bench:evaluate`), side by side with a baseline
 * measured in the same run.
 *
 * Challenge: challenges/examples/guess (AssemblyScript; reads the submission, draws a seeded
 * target, writes /output/score.json; ~11k fuel, well under 0.1 ms of guest work).
 *
 *   1. throughput: N evaluations queued at once on a warm pool, `--jobs 1` and `--jobs 2`
 *   2. latency: one evaluation at a time on a warm pool (jobs 1), p50 / p99 / max
 *   3. baseline: the same challenge, one fresh `node` process per evaluation running the plain
 *      (uninstrumented) module under `node:wasi` with a temp directory for /input and /output
 *
 *   BENCH_N=5000 npm run bench:evaluate
 *
 * With BENCH_AGAINST=<another checkout> it measures instead this checkout's pool against that one's
 * in one process: alternating batches of BENCH_N evaluations (jobs 1, then jobs 2), BENCH_ROUNDS
 * pairs each, and reports the median of the per-pair throughput ratios (robust to a machine whose
 * load drifts; run an A/A pair with BENCH_AGAINST=. to see the noise).
 *
 *   BENCH_AGAINST=/work/wt/base BENCH_N=500 BENCH_ROUNDS=20 npm run bench:evaluate
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadChallenge } from '../runtime/evaluate/challenge.ts';
import { EvaluationPool } from '../runtime/evaluate/pool.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CHALLENGE = join(ROOT, 'challenges', 'examples', 'guess');
const N = Number(process.env.BENCH_N ?? 5000);
const LATENCY_N = Number(process.env.BENCH_LATENCY_N ?? 2000);
const BASELINE_N = Number(process.env.BENCH_BASELINE_N ?? 20);
const submissions = ['good.txt', 'mediocre.txt', 'broken.txt'].map(
  (f) => new Uint8Array(readFileSync(join(CHALLENGE, 'submissions', f))),
);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function throughput(jobs: number): Promise<{ perSecond: number; ms: number }> {
  const challenge = await loadChallenge(CHALLENGE);
  const pool = new EvaluationPool(challenge, { jobs });
  try {
    const batch = async (n: number): Promise<void> => {
      const all: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) all.push(pool.evaluate(submissions[i % submissions.length]!, 's'));
      await Promise.all(all);
    };
    await batch(Math.min(1000, N)); // warm-up: worker start-up, V8 tier-up
    let bestMs = Infinity;
    for (let rep = 0; rep < 3; rep++) {
      const t = performance.now();
      await batch(N);
      bestMs = Math.min(bestMs, performance.now() - t);
    }
    return { perSecond: (N / bestMs) * 1000, ms: bestMs };
  } finally {
    await pool.close();
  }
}

async function latency(): Promise<{ p50: number; p99: number; max: number }> {
  const challenge = await loadChallenge(CHALLENGE);
  const pool = new EvaluationPool(challenge, { jobs: 1 });
  try {
    for (let i = 0; i < 500; i++) await pool.evaluate(submissions[i % submissions.length]!, 's');
    const samples: number[] = [];
    for (let i = 0; i < LATENCY_N; i++) {
      const t = performance.now();
      await pool.evaluate(submissions[i % submissions.length]!, 's');
      samples.push(performance.now() - t);
    }
    samples.sort((a, b) => a - b);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples.at(-1)! };
  } finally {
    await pool.close();
  }
}

/** The baseline's per-process program: plain node:wasi, preopened "/" = a temp directory. */
const BASELINE_SCRIPT = `
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
const [wasmPath, root] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: ['main'], env: {}, preopens: { '/': root }, returnOnExit: true });
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), { wasi_snapshot_preview1: wasi.wasiImport });
process.exitCode = wasi.start(instance);
`;

function baseline(): { perSecond: number; p50: number } {
  const dir = mkdtempSync(join(tmpdir(), 'docklock-bench-'));
  try {
    const script = join(dir, 'run.mjs');
    writeFileSync(script, BASELINE_SCRIPT);
    const samples: number[] = [];
    const wasm = join(CHALLENGE, 'challenge.wasm');
    for (let i = 0; i < BASELINE_N + 1; i++) {
      const root = join(dir, `r${i}`);
      mkdirSync(join(root, 'input'), { recursive: true });
      mkdirSync(join(root, 'output'));
      const t = performance.now();
      writeFileSync(join(root, 'input', 'submission'), submissions[i % submissions.length]!);
      const r = spawnSync(process.execPath, ['--no-warnings', script, wasm, root], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      readFileSync(join(root, 'output', 'score.json'));
      const ms = performance.now() - t;
      if (r.status !== 0) throw new Error(`baseline run failed: ${r.stderr.toString()}`);
      if (i > 0) samples.push(ms); // the first one warms the file cache
    }
    samples.sort((a, b) => a - b);
    const total = samples.reduce((a, b) => a + b, 0);
    return { perSecond: (samples.length / total) * 1000, p50: percentile(samples, 50) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Pool {
  evaluate(s: Uint8Array, label: string): Promise<unknown>;
  close(): Promise<void>;
}

/** This checkout's pool against another's: alternating batches, median of per-pair ratios. */
async function against(other: string): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 20);
  const make = async (root: string, jobs: number): Promise<Pool> => {
    const ch = (await import(
      join(root, 'runtime/evaluate/challenge.ts')
    )) as typeof import('../runtime/evaluate/challenge.ts');
    const pl = (await import(join(root, 'runtime/evaluate/pool.ts'))) as typeof import('../runtime/evaluate/pool.ts');
    return new pl.EvaluationPool(await ch.loadChallenge(CHALLENGE), { jobs });
  };
  const batch = async (p: Pool, n: number): Promise<number> => {
    const t = performance.now();
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) all.push(p.evaluate(submissions[i % submissions.length]!, 's'));
    await Promise.all(all);
    return performance.now() - t;
  };
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`bench:evaluate: this checkout (B) against ${other} (A), N=${N} a batch, ${rounds} pairs\n`);
  console.log('| jobs | A µs/evaluation | B µs/evaluation | median ratio B/A throughput | load |');
  console.log('|---|---|---|---|---|');
  for (const jobs of [1, 2]) {
    const a = await make(other, jobs);
    const b = await make(ROOT, jobs);
    try {
      await batch(a, Math.min(1000, N));
      await batch(b, Math.min(1000, N));
      const ta: number[] = [];
      const tb: number[] = [];
      const ratio: number[] = [];
      for (let r = 0; r < rounds; r++) {
        let x: number;
        let y: number;
        if (r % 2 === 0) {
          x = await batch(a, N);
          y = await batch(b, N);
        } else {
          y = await batch(b, N);
          x = await batch(a, N);
        }
        ta.push(x);
        tb.push(y);
        ratio.push(x / y);
      }
      console.log(
        `| ${jobs} | ${((median(ta) / N) * 1000).toFixed(0)} | ${((median(tb) / N) * 1000).toFixed(0)} | ${median(ratio).toFixed(3)} | ${loadavg()[0].toFixed(1)} |`,
      );
    } finally {
      await a.close();
      await b.close();
    }
  }
}

if (process.env.BENCH_AGAINST !== undefined) {
  await against(process.env.BENCH_AGAINST);
  process.exit(0);
}

const t1 = await throughput(1);
const t2 = await throughput(2);
const lat = await latency();
const base = baseline();
const cpu = cpus()[0]?.model ?? 'unknown';
console.log(
  `bench:evaluate: challenge guess (AssemblyScript), N=${N}; ${availableParallelism()} cores (${cpu}), Node ${process.version}, ${process.platform}/${process.arch}\n`,
);
console.log('| path | evaluations/s | per evaluation |');
console.log('|---|---|---|');
console.log(
  `| docklock pool --jobs 1 (${N} queued, best of 3) | ${t1.perSecond.toFixed(0)} | ${((t1.ms / N) * 1000).toFixed(0)} µs |`,
);
console.log(
  `| docklock pool --jobs 2 (${N} queued, best of 3) | ${t2.perSecond.toFixed(0)} | ${((t2.ms / N) * 1000).toFixed(0)} µs |`,
);
console.log(
  `| baseline: fresh node process + node:wasi per evaluation (${BASELINE_N} runs) | ${base.perSecond.toFixed(1)} | p50 ${base.p50.toFixed(1)} ms |`,
);
console.log(
  `\nwarm pool latency (jobs 1, ${LATENCY_N} sequential evaluations): p50 ${(lat.p50 * 1000).toFixed(0)} µs, p99 ${(lat.p99 * 1000).toFixed(0)} µs, max ${lat.max.toFixed(2)} ms`,
);
console.log(
  `ratios: jobs 2 / jobs 1 = ${(t2.perSecond / t1.perSecond).toFixed(2)}×; jobs 2 / baseline = ${(t2.perSecond / base.perSecond).toFixed(0)}×`,
);
console.log(
  `targets: ≥ 1000 evaluations/s with --jobs 2: ${t2.perSecond >= 1000 ? 'met' : 'MISSED'}; p99 warm latency ≤ 5 ms: ${lat.p99 <= 5 ? 'met' : 'MISSED'}`,
);
