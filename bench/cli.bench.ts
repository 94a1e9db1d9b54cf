/**
 * Start-up cost of the `docklock` command (`npm run bench:cli`), paired with baselines measured in
 * the same run, each round alternating which goes first:
 *
 *   1. `docklock run nop.wasm` (an empty C `main`, built here with clang) against a bare `node`
 *      process running the same module under node:wasi;
 *   2. `docklock --help` against `node -e 0`.
 *
 * The command is the built one (`dist/cli/main.js`, what `npm link` and the package run): run
 * `npm run build` first. Reports the median wall time of each and the median of the per-round
 * ratios. Targets (issue 12): run ≤ 0.15 s and ≤ 1.5× node:wasi; --help ≤ 0.12 s.
 *
 *   BENCH_ROUNDS=21 npm run bench:cli
 *   DOCKLOCK_CLI=/path/to/other/checkout/dist/cli/main.js npm run bench:cli   # the same for another build
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
// DOCKLOCK_CLI: another build's main.js, to measure an older commit with the same harness.
const CLI = process.env.DOCKLOCK_CLI ?? join(ROOT, 'dist', 'cli', 'main.js');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);

const dir = mkdtempSync(join(tmpdir(), 'docklock-bench-cli-'));
const nop = join(dir, 'nop.wasm');
writeFileSync(join(dir, 'nop.c'), 'int main(void) { return 0; }\n');
execFileSync('clang', ['--target=wasm32-wasi', '-O2', '-o', nop, join(dir, 'nop.c')]);
const nodeWasi = join(dir, 'node-wasi.mjs');
writeFileSync(
  nodeWasi,
  `import { WASI } from 'node:wasi';
import { readFileSync } from 'node:fs';
const wasi = new WASI({ version: 'preview1', args: ['nop'], env: {} });
const mod = await WebAssembly.compile(readFileSync(process.argv[2]));
process.exitCode = wasi.start(await WebAssembly.instantiate(mod, wasi.getImportObject()));
`,
);

/** Wall time of one process, in seconds; its exit status must be 0. */
function wall(args: string[]): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const s = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return s;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Pair {
  name: string;
  subject: string[];
  baseline: string[];
  baselineName: string;
  target: { seconds: number; ratio?: number };
}

const pairs: Pair[] = [
  {
    name: 'docklock run nop.wasm',
    subject: [CLI, 'run', nop],
    baseline: ['--no-warnings', nodeWasi, nop],
    baselineName: 'node node:wasi nop.wasm',
    target: { seconds: 0.15, ratio: 1.5 },
  },
  {
    name: 'docklock --help',
    subject: [CLI, '--help'],
    baseline: ['-e', '0'],
    baselineName: 'node -e 0',
    target: { seconds: 0.12 },
  },
];

console.log(
  `bench:cli — ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, Node ${process.version}, ${ROUNDS} rounds (after 3 warm-up rounds: the compile cache fills)`,
);
for (const p of pairs) {
  for (let i = 0; i < 3; i++) {
    wall(p.subject);
    wall(p.baseline);
  }
  const subject: number[] = [];
  const baseline: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    let s: number;
    let b: number;
    if (i % 2 === 0) {
      s = wall(p.subject);
      b = wall(p.baseline);
    } else {
      b = wall(p.baseline);
      s = wall(p.subject);
    }
    subject.push(s);
    baseline.push(b);
    ratios.push(s / b);
  }
  const m = median(subject);
  const r = median(ratios);
  const ok = m <= p.target.seconds && (p.target.ratio === undefined || r <= p.target.ratio);
  console.log(
    `${p.name.padEnd(24)} ${m.toFixed(3)} s   ${p.baselineName.padEnd(24)} ${median(baseline).toFixed(3)} s   ratio ${r.toFixed(2)}×   ` +
      `target ≤ ${p.target.seconds} s${p.target.ratio !== undefined ? ` and ≤ ${p.target.ratio}×` : ''}: ${ok ? 'met' : 'NOT met'}`,
  );
}

/*
 * Before/after in one run: with DOCKLOCK_BASELINE_CLI set to another build's main.js (a checkout of
 * an older commit, built), each command of this build is paired with the same command of that one,
 * alternating which goes first, and the median of the per-round ratios is printed (< 1: faster).
 *
 *   git worktree add --detach ../base 0ac6d20 && (cd ../base && npm ci && npm run build)
 *   DOCKLOCK_BASELINE_CLI=../base/dist/cli/main.js npm run bench:cli
 */
const BASELINE_CLI = process.env.DOCKLOCK_BASELINE_CLI;
if (BASELINE_CLI !== undefined) {
  if (!existsSync(BASELINE_CLI)) throw new Error(`${BASELINE_CLI} is missing: build that checkout first`);
  console.log(`against ${BASELINE_CLI}, ${ROUNDS} rounds each`);
  for (const args of [['run', nop], ['--help']]) {
    const mine = [CLI, ...args];
    const theirs = [BASELINE_CLI, ...args];
    for (let i = 0; i < 3; i++) {
      wall(mine);
      wall(theirs);
    }
    const a: number[] = [];
    const b: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const first = i % 2 === 0 ? mine : theirs;
      const x = wall(first);
      const y = wall(first === mine ? theirs : mine);
      const [s, t] = first === mine ? [x, y] : [y, x];
      a.push(s);
      b.push(t);
      ratios.push(s / t);
    }
    console.log(
      `docklock ${args[0] === 'run' ? 'run nop.wasm' : args[0]}`.padEnd(24) +
        ` this ${median(a).toFixed(3)} s   baseline ${median(b).toFixed(3)} s   ratio ${median(ratios).toFixed(2)}×`,
    );
  }
}
