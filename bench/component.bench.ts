/**
 * bench:component — what running a program as a WebAssembly component costs against the same C
 * program as a core module (issue 16: ≤ 1.25× warm, paired; a transpile cache hit ≤ 5 ms).
 *
 *   warm runs     `runGuest` in this thread, core module and component alternating (the order
 *                 flips every repetition), both compile caches warm; median of per-pair ratios
 *   cache hit     a fresh process asks for a component whose transpilation is on disk: the time of
 *                 `transpileComponent` there (index, core modules, the glue's import), median of runs
 *
 * Usage: npm run bench:component [-- --reps N]
 * Prints a table; the figures go to bench/RESULTS.md by hand (one section).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runGuest } from '../runtime/cage/run.ts';
import { parseManifest } from '../runtime/manifest/parse.ts';
import { transpileComponent } from '../runtime/component/transpile.ts';
import { buildComponentFixtures, buildFixtures, COMPONENT_DIR, FIXTURE_WASM_DIR } from '../scripts/build-fixtures.ts';

const argv = process.argv.slice(2);
const at = argv.indexOf('--reps');
const REPS = at >= 0 ? Number(argv[at + 1]) : 21;
const WARMUP = 5;
const utf8 = new TextEncoder();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const INPUTS = new Map<string, Uint8Array>([
  ['/data/a.txt', utf8.encode('hello\n')],
  ['/data/sub/', new Uint8Array(0)],
  ['/data/sub/b.bin', Uint8Array.of(0, 255, 7)],
]);

const WORKLOADS: [string, Record<string, unknown>][] = [
  ['hello', { args: ['one', 'two'] }],
  ['rand_clock', { grants: ['wasi', 'clock', 'random'] }],
  ['tree_io', { args: ['x'] }],
  ['wasi_suite', {}],
];

async function runOnce(module: Uint8Array, fields: Record<string, unknown>): Promise<number> {
  const manifest = parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'x.wasm', ...fields });
  const t = performance.now();
  const o = await runGuest({ manifest, module, stdin: utf8.encode('line\n'), inputs: INPUTS, mode: 'record' });
  const ms = performance.now() - t;
  if (o.error !== null) throw new Error(`${o.error.code}: ${o.error.message}`);
  return ms;
}

buildFixtures();
await buildComponentFixtures();
const cache = mkdtempSync(join(tmpdir(), 'docklock-bench-component-'));
process.env.DOCKLOCK_COMPONENT_CACHE = cache;

console.log(
  `bench:component — ${REPS} paired repetitions after ${WARMUP} warm-ups; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('workload        core ms   component ms   component/core (median of ratios)');
for (const [name, fields] of WORKLOADS) {
  const core = new Uint8Array(readFileSync(join(FIXTURE_WASM_DIR, `${name}.wasm`)));
  const comp = new Uint8Array(readFileSync(join(COMPONENT_DIR, `${name}.wasm`)));
  for (let i = 0; i < WARMUP; i++) {
    await runOnce(core, fields);
    await runOnce(comp, fields);
  }
  const a: number[] = [];
  const b: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < REPS; i++) {
    let x: number;
    let y: number;
    if (i % 2 === 0) {
      x = await runOnce(core, fields);
      y = await runOnce(comp, fields);
    } else {
      y = await runOnce(comp, fields);
      x = await runOnce(core, fields);
    }
    a.push(x);
    b.push(y);
    r.push(y / x);
  }
  console.log(
    `${name.padEnd(14)} ${median(a).toFixed(2).padStart(7)} ${median(b).toFixed(2).padStart(14)}   ${median(r).toFixed(2)}×`,
  );
}

// Cache hit in a fresh process: the transpilation is on disk (made above), memory is empty.
const hits: number[] = [];
const child = `
  import { transpileComponent } from ${JSON.stringify(new URL('../runtime/component/transpile.ts', import.meta.url).href)};
  import { readFileSync } from 'node:fs';
  const bytes = new Uint8Array(readFileSync(process.argv[1]));
  const t = performance.now();
  await transpileComponent(bytes);
  console.log(performance.now() - t);
`;
for (const name of ['hello', 'wasi_suite']) {
  const file = join(COMPONENT_DIR, `${name}.wasm`);
  await transpileComponent(new Uint8Array(readFileSync(file)));
  const times: number[] = [];
  for (let i = 0; i < Math.max(5, Math.ceil(REPS / 2)); i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', child, file], {
      encoding: 'utf8',
      env: { ...process.env, DOCKLOCK_COMPONENT_CACHE: cache },
    });
    times.push(Number(out.trim()));
  }
  hits.push(median(times));
  console.log(
    `transpile cache hit, fresh process, ${name}: ${median(times).toFixed(2)} ms (median of ${times.length})`,
  );
}
console.log(
  `load after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
