/**
 * bench:fuel — what docklock's instrumentation costs on real C programs, measured against plain V8
 * in the same process run (DESIGN.md "Engineering habits": ratios against a same-run baseline).
 *
 * Workloads (test/fixtures/c, built by scripts/build-fixtures.ts):
 *   sha256      SHA-256 over 16 MiB        integer, memory-bound
 *   loop        xorshift64 + Collatz mix   integer, one tight loop
 *   mandelbrot  Mandelbrot in double       float: every f64 op is NaN-canonicalised
 *   fib         recursive fib(32)          7 million calls: per-call stack + fuel accounting
 * each run plain (`new WebAssembly.Module(original)`) and instrumented (`compile()`: fuel + stack
 * + NaN + memory clamp, all on), warmed up, then interleaved (the order alternates every
 * repetition) and timed; a ratio is median(instrumented) / median(plain).
 *
 * Also: `instrument()` speed (MB/s of code-section bytes) on the fixtures and on wabt's own
 * 600 KB WebAssembly binary (the largest real module in node_modules), and code-size growth.
 *
 * Targets: sha256/loop/mandelbrot geometric mean ≤ 1.10×, fib ≤ 1.5×, instrument ≥ 50 MB/s,
 * code growth ≤ 15 %.
 *
 * Usage: npm run bench:fuel [-- --reps N] [-- --variants] [-- --no-write]
 *   --variants   also runs the runtime ratios in child processes with V8's `--liftoff-only`
 *                (baseline compiler only), `--no-liftoff` (TurboFan only, no tier-up) and
 *                `--no-wasm-inlining` (TurboFan without wasm-into-wasm inlining); adds ~1 minute
 *   --no-write   do not update bench/RESULTS.md
 *   --child      (internal) runtime ratios only, printed as one JSON line
 * Writes its figures, the command and the machine to bench/RESULTS.md, section "## Engine (bench:fuel)".
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compile, instrument } from '../index.ts';
import { instrumentModule } from '../runtime/instrument/instrument.ts';
import { buildFixtures, FIXTURE_WASM_DIR } from '../scripts/build-fixtures.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, 'RESULTS.md');
const HEADING = '## Engine (bench:fuel)';
const FUEL = 1n << 62n;

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
const option = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : fallback;
};
const CHILD = flag('--child');
const REPS = option('--reps', CHILD ? 9 : 21);
const WARMUP = 3;

type WasmFn = (...args: number[]) => number;

interface Workload {
  name: string;
  fixture: string;
  exportName: string;
  args: number[];
  /** Calls per timed sample (fib(32) alone is only a few ms). */
  calls: number;
  what: string;
  /** Counted in the loop/float/SHA geometric mean (fib has its own target). */
  inGeomean: boolean;
}

const WORKLOADS: Workload[] = [
  {
    name: 'sha256',
    fixture: 'sha256',
    exportName: 'sha256_pattern',
    args: [16 << 20],
    calls: 1,
    what: 'SHA-256 over 16 MiB',
    inGeomean: true,
  },
  {
    name: 'loop',
    fixture: 'loop',
    exportName: 'loop_mix',
    args: [40_000_000],
    calls: 1,
    what: 'integer loop, 40M iterations',
    inGeomean: true,
  },
  {
    name: 'mandelbrot',
    fixture: 'mandelbrot',
    exportName: 'mandelbrot',
    args: [600, 1000],
    calls: 1,
    what: 'Mandelbrot 600², ≤1000 iterations (f64)',
    inGeomean: true,
  },
  {
    name: 'fib',
    fixture: 'fib',
    exportName: 'fib',
    args: [32],
    calls: 8,
    what: 'recursive fib(32) ×8, 7.0M calls each',
    inGeomean: false,
  },
];

function readFixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURE_WASM_DIR, `${name}.wasm`)));
}

/** The q-quantile (0..1) by linear interpolation. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

function geomean(xs: number[]): number {
  return Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
}

function time(f: () => unknown): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

interface RuntimeRow {
  name: string;
  what: string;
  plainMs: number;
  instrMs: number;
  ratio: number;
  /** best(instrumented) / best(plain): less sensitive to other processes' bursts on a shared machine. */
  bestRatio: number;
  /** Quartiles of the per-pair ratios (instrumented / plain of the same repetition): how noisy the run was. */
  pairQ1: number;
  pairQ3: number;
  inGeomean: boolean;
}

async function runtimeRatios(): Promise<RuntimeRow[]> {
  const rows: RuntimeRow[] = [];
  for (const w of WORKLOADS) {
    const bytes = readFixture(w.fixture);
    const plainInst = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
    const plainFn = plainInst.exports[w.exportName] as WasmFn;
    const compiled = await compile(bytes);
    const inst = await compiled.instantiate({}, { fuel: FUEL });
    const instrFn = inst.exports[w.exportName] as WasmFn;
    const plain = (): number => {
      let r = 0;
      for (let c = 0; c < w.calls; c++) r = plainFn(...w.args);
      return r;
    };
    const instr = (): number => {
      inst.setFuel(FUEL);
      let r = 0;
      for (let c = 0; c < w.calls; c++) r = instrFn(...w.args);
      return r;
    };
    const a = plain();
    const b = instr();
    if (a !== b) throw new Error(`${w.name}: instrumented result ${b} differs from plain ${a}`);
    for (let i = 0; i < WARMUP; i++) {
      plain();
      instr();
    }
    const tp: number[] = [];
    const ti: number[] = [];
    for (let r = 0; r < REPS; r++) {
      if (r % 2 === 0) {
        tp.push(time(plain));
        ti.push(time(instr));
      } else {
        ti.push(time(instr));
        tp.push(time(plain));
      }
    }
    const pairs = tp.map((p, i) => ti[i]! / p);
    const mp = median(tp);
    const mi = median(ti);
    rows.push({
      name: w.name,
      what: w.what,
      plainMs: mp,
      instrMs: mi,
      ratio: mi / mp,
      bestRatio: Math.min(...ti) / Math.min(...tp),
      pairQ1: quantile(pairs, 0.25),
      pairQ3: quantile(pairs, 0.75),
      inGeomean: w.inGeomean,
    });
  }
  return rows;
}

/** wabt's own WebAssembly binary, captured as its Emscripten loader instantiates it. */
async function wabtBinary(): Promise<Uint8Array | undefined> {
  const original = WebAssembly.instantiate;
  let captured: Uint8Array | undefined;
  const hook = (source: unknown, imports?: WebAssembly.Imports): unknown => {
    if (captured === undefined && (source instanceof ArrayBuffer || ArrayBuffer.isView(source))) {
      const v =
        source instanceof ArrayBuffer
          ? new Uint8Array(source)
          : new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
      captured = v.slice();
    }
    return (original as (s: unknown, i?: WebAssembly.Imports) => unknown)(source, imports);
  };
  WebAssembly.instantiate = hook as typeof WebAssembly.instantiate;
  try {
    const { default: init } = await import('wabt');
    await init();
  } catch {
    return undefined;
  } finally {
    WebAssembly.instantiate = original;
  }
  return captured;
}

interface InstrumentRow {
  name: string;
  moduleBytes: number;
  codeIn: number;
  codeOut: number;
  moduleOut: number;
  /** Median and fastest time per call. */
  ms: number;
  bestMs: number;
  mbPerS: number;
}

function instrumentSpeed(name: string, bytes: Uint8Array, minMs: number): InstrumentRow {
  const r = instrumentModule(bytes);
  // Warm the rewriter's JIT, then time batches of calls until `minMs` has passed; median per call.
  for (let i = 0; i < 5; i++) instrument(bytes);
  const perCall: number[] = [];
  const deadline = performance.now() + minMs;
  do {
    const t0 = performance.now();
    let n = 0;
    do {
      instrument(bytes);
      n++;
    } while (performance.now() - t0 < 5);
    perCall.push((performance.now() - t0) / n);
  } while (performance.now() < deadline || perCall.length < 5);
  const ms = median(perCall);
  return {
    name,
    moduleBytes: bytes.length,
    codeIn: r.stats.codeBytesIn,
    codeOut: r.stats.codeBytesOut,
    moduleOut: r.bytes.length,
    ms,
    bestMs: Math.min(...perCall),
    mbPerS: r.stats.codeBytesIn / 1e6 / (ms / 1e3),
  };
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const fx = (x: number): string => `${x.toFixed(3)}×`;

function table(head: string[], rows: string[][]): string {
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

function runtimeTable(rows: RuntimeRow[]): string {
  return table(
    [
      'workload',
      'plain V8 (median ms)',
      'instrumented (median ms)',
      'ratio of medians',
      'per-pair ratios, quartiles',
      'ratio of bests',
    ],
    rows.map((r) => [
      `${r.name} — ${r.what}`,
      r.plainMs.toFixed(1),
      r.instrMs.toFixed(1),
      `**${fx(r.ratio)}**`,
      `${r.pairQ1.toFixed(2)}–${r.pairQ3.toFixed(2)}`,
      fx(r.bestRatio),
    ]),
  );
}

function variantChild(v8flag: string): RuntimeRow[] | string {
  try {
    const out = execFileSync(
      process.execPath,
      [v8flag, fileURLToPath(import.meta.url), '--child', '--reps', String(Math.min(REPS, 9))],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 },
    );
    return JSON.parse(out.trim().split('\n').pop()!) as RuntimeRow[];
  } catch (e) {
    return (e as Error).message.split('\n')[0]!;
  }
}

function writeResults(section: string): void {
  // Re-read right before writing: other benches own other sections of the same file.
  const current = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmark results\n';
  const lines = current.split('\n');
  const start = lines.findIndex((l) => l.trim() === HEADING);
  let next: string;
  if (start < 0) {
    next = `${current.replace(/\n*$/, '\n')}\n${section}\n`;
  } else {
    let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
    if (end < 0) end = lines.length;
    const after = lines.slice(end).join('\n');
    next = `${lines.slice(0, start).join('\n').replace(/\n*$/, '\n\n')}${section}\n${after.length > 0 ? `\n${after}` : ''}`;
  }
  writeFileSync(RESULTS, next.replace(/\n*$/, '\n'));
}

async function main(): Promise<void> {
  if (CHILD) {
    process.stdout.write(JSON.stringify(await runtimeRatios()) + '\n');
    return;
  }
  const started = performance.now();
  const loadAtStart = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const built = buildFixtures();
  if (built.built.length > 0) console.log(`built fixtures: ${built.built.join(', ')}`);

  console.log(
    `bench:fuel — plain V8 vs instrumented (fuel + stack + NaN + memory), ${REPS} interleaved repetitions after ${WARMUP} warm-ups, ratio = median/median\n`,
  );
  const rows = await runtimeRatios();
  const geo = geomean(rows.filter((r) => r.inGeomean).map((r) => r.ratio));
  const fib = rows.find((r) => r.name === 'fib')!;
  const rt = runtimeTable(rows);
  console.log(rt);
  console.log(
    `\ngeometric mean (sha256, loop, mandelbrot): ${fx(geo)}   target ≤ 1.10×  ${geo <= 1.1 ? 'met' : `MISSED by ${pct(geo / 1.1 - 1)}`}`,
  );
  console.log(
    `fib(32): ${fx(fib.ratio)}   target ≤ 1.5×  ${fib.ratio <= 1.5 ? 'met' : `MISSED by ${pct(fib.ratio / 1.5 - 1)}`}\n`,
  );

  const inst: InstrumentRow[] = [];
  const names = ['sha256', 'loop', 'mandelbrot', 'fib', 'recurse', 'nan', 'hello'];
  for (const n of names) inst.push(instrumentSpeed(`${n}.wasm`, readFixture(n), 150));
  const fixturesIn = inst.reduce((a, r) => a + r.codeIn, 0);
  const fixturesOut = inst.reduce((a, r) => a + r.codeOut, 0);
  const fixturesMs = inst.reduce((a, r) => a + r.ms, 0);
  const wabt = await wabtBinary();
  const wabtRow = wabt ? instrumentSpeed('wabt (node_modules/wabt, libwabt)', wabt, 3000) : undefined;
  const instRows = [...inst, ...(wabtRow ? [wabtRow] : [])];
  const it = table(
    [
      'module',
      'module bytes',
      'code bytes in',
      'code bytes out',
      'code growth',
      'module growth',
      'instrument() ms (median / best)',
      'MB/s of code (median / best)',
    ],
    [
      ...instRows.map((r) => [
        r.name,
        String(r.moduleBytes),
        String(r.codeIn),
        String(r.codeOut),
        pct(r.codeOut / r.codeIn - 1),
        pct(r.moduleOut / r.moduleBytes - 1),
        `${r.ms.toFixed(3)} / ${r.bestMs.toFixed(3)}`,
        `${r.mbPerS.toFixed(1)} / ${(r.codeIn / 1e3 / r.bestMs).toFixed(1)}`,
      ]),
      [
        'all fixtures',
        '',
        String(fixturesIn),
        String(fixturesOut),
        pct(fixturesOut / fixturesIn - 1),
        '',
        fixturesMs.toFixed(3),
        (fixturesIn / 1e6 / (fixturesMs / 1e3)).toFixed(1),
      ],
    ],
  );
  console.log(it);
  const speed = wabtRow?.mbPerS ?? fixturesIn / 1e6 / (fixturesMs / 1e3);
  const growthFx = fixturesOut / fixturesIn - 1;
  const growthBig = wabtRow ? wabtRow.codeOut / wabtRow.codeIn - 1 : growthFx;
  console.log(
    `\ninstrumentation speed (${wabtRow ? 'wabt' : 'fixtures'}): ${speed.toFixed(1)} MB/s of code   target ≥ 50 MB/s  ${speed >= 50 ? 'met' : `MISSED by ${pct(1 - speed / 50)}`}`,
  );
  console.log(
    `code growth: fixtures ${pct(growthFx)}, wabt ${wabtRow ? pct(growthBig) : 'n/a'}   target ≤ 15%  ${Math.max(growthFx, growthBig) <= 0.15 ? 'met' : 'MISSED'}`,
  );

  let variants = '';
  if (flag('--variants')) {
    for (const v of ['--liftoff-only', '--no-liftoff', '--no-wasm-inlining']) {
      console.log(`\nvariant: node ${v} (child process)`);
      const res = variantChild(v);
      if (typeof res === 'string') {
        console.log(`  failed: ${res}`);
        variants += `\nVariant \`node ${v}\`: failed (${res})\n`;
        continue;
      }
      const vt = runtimeTable(res);
      const vg = geomean(res.filter((r) => r.inGeomean).map((r) => r.ratio));
      console.log(vt);
      console.log(`geometric mean (sha256, loop, mandelbrot): ${fx(vg)}`);
      variants += `\nVariant \`node ${v}\` (child process, ${Math.min(REPS, 9)} repetitions):\n\n${vt}\n\ngeometric mean (sha256, loop, mandelbrot): ${fx(vg)}\n`;
    }
  }

  const seconds = (performance.now() - started) / 1000;
  console.log(`\ntotal ${seconds.toFixed(1)} s`);
  const machine = `${availableParallelism()} cores (nproc), ${cpuModel()}, Node ${process.version}, V8 ${process.versions.v8}, ${process.platform}/${process.arch}`;
  const section = [
    HEADING,
    '',
    `Run ${new Date().toISOString().slice(0, 10)} with \`npm run bench:fuel${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}\` (\`node bench/fuel.bench.ts\`), ${seconds.toFixed(0)} s.`,
    `Machine: ${machine}; load average at start ${loadAtStart} (1/5/15 min; other sessions' tests and benches share the 2 cores). ${WARMUP} warm-ups each, then ${REPS} repetitions with plain and instrumented interleaved (order alternating); ratio = median(instrumented) / median(plain).`,
    'Instrumented = `compile()` defaults: fuel, stack budget, NaN canonicalisation and memory clamp all on.',
    '',
    rt,
    '',
    `- loop/float/SHA geometric mean: **${fx(geo)}** (target ≤ 1.10×: ${geo <= 1.1 ? 'met' : `missed by ${pct(geo / 1.1 - 1)}`})`,
    `- fib(32): **${fx(fib.ratio)}** (target ≤ 1.5×: ${fib.ratio <= 1.5 ? 'met' : `missed by ${pct(fib.ratio / 1.5 - 1)}`})`,
    '',
    'Instrumentation (`instrument()`, warm, median per call; MB/s of code-section bytes) and size:',
    '',
    it,
    '',
    `- speed: **${speed.toFixed(1)} MB/s** on ${wabtRow ? "wabt's 600 KB module" : 'the fixtures'} (target ≥ 50 MB/s: ${speed >= 50 ? 'met' : `missed by ${pct(1 - speed / 50)}`})`,
    `- code growth: **${pct(growthFx)}** over all fixtures, **${wabtRow ? pct(growthBig) : 'n/a'}** on wabt (target ≤ 15%: ${Math.max(growthFx, growthBig) <= 0.15 ? 'met' : 'missed'})`,
    variants,
  ].join('\n');
  if (!flag('--no-write')) {
    writeResults(section.replace(/\n+$/, '\n'));
    console.log(`updated ${RESULTS} (${HEADING})`);
  }
}

await main();
