/**
 * bench:component — what running a program as a WebAssembly component costs against the same C
 * program as a core module (issue 16: ≤ 1.25× warm, paired; a transpile cache hit ≤ 5 ms).
 *
 *   warm runs     `runGuest` in this thread, core module and component alternating (the order
 *                 flips every repetition), both compile caches warm; median of per-pair ratios
 *   sha256 2 MiB  a compute-bound program (built here from the sha256 fixture), where the guest's
 *                 own code dominates: the component's fixed cost per run is amortised
 *   cache hit     a fresh process asks for a component whose transpilation is on disk: the time of
 *                 `transpileComponent` there (index, core modules, the glue's import), median of
 *                 runs, bare and with V8's compile cache on (the docklock CLI turns it on),
 *                 the two alternating
 *
 * Usage: npm run bench:component [-- --reps N]
 * Prints a table; the figures go to bench/RESULTS.md by hand (one section).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runGuest } from '../runtime/cage/run.ts';
import { parseManifest } from '../runtime/manifest/parse.ts';
import { transpileCacheKey, transpileComponent } from '../runtime/component/transpile.ts';
import {
  buildComponentFixtures,
  buildFixtures,
  COMPONENT_DIR,
  FIXTURE_SRC_DIR,
  FIXTURE_WASM_DIR,
} from '../scripts/build-fixtures.ts';

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

/** One run: [wall ms, CPU ms]. CPU time (user + system) is what other agents' load barely moves. */
async function runOnce(module: Uint8Array, fields: Record<string, unknown>): Promise<[number, number]> {
  const manifest = parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'x.wasm', ...fields });
  const t = performance.now();
  const cpu = process.cpuUsage();
  const o = await runGuest({ manifest, module, stdin: utf8.encode('line\n'), inputs: INPUTS, mode: 'record' });
  const used = process.cpuUsage(cpu);
  const ms = performance.now() - t;
  if (o.error !== null) throw new Error(`${o.error.code}: ${o.error.message}`);
  return [ms, (used.user + used.system) / 1000];
}

buildFixtures();
await buildComponentFixtures();

/**
 * A compute-bound program as a core module and as a component, built here (clang + the command
 * adapter inside the jco package, as scripts/build-fixtures.ts does): SHA-256 of 2 MiB through the
 * sha256 fixture's code, then one line of output. Nothing is committed.
 */
async function computeBound(): Promise<{ core: Uint8Array; comp: Uint8Array }> {
  const dir = mkdtempSync(join(tmpdir(), 'docklock-bench-component-c-'));
  const main = join(dir, 'main.c');
  writeFileSync(
    main,
    `#include <stdio.h>\n#include ${JSON.stringify(join(FIXTURE_SRC_DIR, 'sha256.c'))}\n` +
      'int main(void) { uint8_t *d = sha256_pattern(2u << 20); printf("%02x%02x%02x%02x\\n", d[0], d[1], d[2], d[3]); return 0; }\n',
  );
  const out = join(dir, 'sha.wasm');
  execFileSync('clang', ['--target=wasm32-wasi', '-O2', '-mexec-model=command', '-Wl,--strip-debug', main, '-o', out]);
  const core = new Uint8Array(readFileSync(out));
  const jco = await import('@bytecodealliance/jco');
  const adapter = new Uint8Array(readFileSync(fileURLToPath(jco.preview1AdapterCommandPath())));
  const comp = new Uint8Array(await jco.componentNew(core, [['wasi_snapshot_preview1', adapter]]));
  return { core, comp };
}
const cache = mkdtempSync(join(tmpdir(), 'docklock-bench-component-'));
process.env.DOCKLOCK_COMPONENT_CACHE = cache;

console.log(
  `bench:component — ${REPS} paired repetitions after ${WARMUP} warm-ups; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('workload        core ms   component ms   component/core (median of ratios)');
const sha = await computeBound();
for (const [name, fields] of [...WORKLOADS, ['sha256 2 MiB', {}] as [string, Record<string, unknown>]]) {
  const file = (d: string): Uint8Array => new Uint8Array(readFileSync(join(d, `${name}.wasm`)));
  const core = name.startsWith('sha256') ? sha.core : file(FIXTURE_WASM_DIR);
  const comp = name.startsWith('sha256') ? sha.comp : file(COMPONENT_DIR);
  for (let i = 0; i < WARMUP; i++) {
    await runOnce(core, fields);
    await runOnce(comp, fields);
  }
  const a: number[] = [];
  const b: number[] = [];
  const r: number[] = [];
  const rc: number[] = [];
  for (let i = 0; i < REPS; i++) {
    let x: [number, number];
    let y: [number, number];
    if (i % 2 === 0) {
      x = await runOnce(core, fields);
      y = await runOnce(comp, fields);
    } else {
      y = await runOnce(comp, fields);
      x = await runOnce(core, fields);
    }
    a.push(x[0]);
    b.push(y[0]);
    r.push(y[0] / x[0]);
    rc.push(y[1] / x[1]);
  }
  console.log(
    `${name.padEnd(14)} ${median(a).toFixed(2).padStart(7)} ${median(b).toFixed(2).padStart(14)}   ${median(r).toFixed(2)}×  (CPU time ${median(rc).toFixed(2)}×)`,
  );
}

// Cache hit in a fresh process: the transpilation is on disk (made above), memory is empty.
const child = `
  import { transpileComponent } from ${JSON.stringify(new URL('../runtime/component/transpile.ts', import.meta.url).href)};
  import { blake3 } from ${JSON.stringify(new URL('../runtime/hash.ts', import.meta.url).href)};
  import { readFileSync } from 'node:fs';
  const bytes = new Uint8Array(readFileSync(process.argv[1]));
  // A run hashes its module anyway and hands the hash over (runtime/cage/component.ts).
  const hash = blake3(bytes);
  const t = performance.now();
  const cpu = process.cpuUsage();
  await transpileComponent(bytes, undefined, hash);
  const used = process.cpuUsage(cpu);
  // Wall time, and CPU time (user + system), which the other agents' load barely moves.
  console.log(performance.now() - t, (used.user + used.system) / 1000);
`;
for (const name of ['hello', 'wasi_suite']) {
  const file = join(COMPONENT_DIR, `${name}.wasm`);
  const t = await transpileComponent(new Uint8Array(readFileSync(file)));
  const glue = statSync(join(cache, transpileCacheKey(), t.hash, 'component.mjs')).size;
  // NODE_COMPILE_CACHE: V8's code cache on disk, which the docklock CLI turns on for itself.
  const env = (compileCache: boolean): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, DOCKLOCK_COMPONENT_CACHE: cache };
    if (compileCache) e.NODE_COMPILE_CACHE = join(cache, 'v8');
    else delete e.NODE_COMPILE_CACHE;
    return e;
  };
  const hit = (compileCache: boolean): [number, number] => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', child, file], {
      encoding: 'utf8',
      env: env(compileCache),
    });
    const [wall, cpu] = out.trim().split(' ').map(Number);
    return [wall!, cpu!];
  };
  // The first run fills V8's cache. Then bare and cached runs alternate, so a change of load on
  // the shared machine falls on both alike.
  hit(true);
  const bare: [number, number][] = [];
  const cached: [number, number][] = [];
  for (let i = 0; i < Math.max(11, REPS); i++) {
    bare.push(hit(false));
    cached.push(hit(true));
  }
  for (const [label, times] of [
    ['bare library', bare],
    ['V8 compile cache on (as the docklock CLI)', cached],
  ] as const)
    console.log(
      `transpile cache hit, fresh process, ${name} (glue ${(glue / 1024).toFixed(0)} KB), ${label}: ${median(times.map((t) => t[0])).toFixed(2)} ms (min ${Math.min(...times.map((t) => t[0])).toFixed(2)}; CPU ${median(times.map((t) => t[1])).toFixed(2)} ms)`,
    );
}
console.log(
  `load after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
