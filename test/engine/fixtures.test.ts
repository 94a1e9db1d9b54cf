/**
 * Differential tests on real C programs (test/fixtures/c, built by scripts/build-fixtures.ts from
 * vitest's globalSetup): every fixture gives the same results plain on V8 and instrumented
 * (fuel + stack + NaN + memory clamp), and the instrumented NaN fixture stores only canonical NaNs
 * (spec: nan.md#N1). Plain V8 is the reference; node:crypto is the known answer for SHA-256.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import wabtInit from 'wabt';
import { ConsoleStdout, File, OpenFile, WASI } from '@bjorn3/browser_wasi_shim';
import { compile, StackExhausted } from '../../index.ts';
import type { CompileOptions, Instance } from '../../index.ts';
import { FIXTURE_WASM_DIR } from '../../scripts/build-fixtures.ts';

const FUEL = 1n << 60n;

function fixture(name: string): Uint8Array {
  const file = join(FIXTURE_WASM_DIR, `${name}.wasm`);
  if (!existsSync(file)) {
    throw new Error(
      `fixture ${name}.wasm is missing: run \`bash scripts/setup-toolchain.sh\` (clang + wasi-libc), then \`npx node scripts/build-fixtures.ts\` (npm test builds fixtures itself once clang is installed)`,
    );
  }
  return new Uint8Array(readFileSync(file));
}

type Fn = (...args: (number | bigint)[]) => number | bigint;

interface Pair {
  plain: WebAssembly.Instance;
  instr: Instance;
}

async function pair(name: string, options: CompileOptions = {}, imports: WebAssembly.Imports = {}): Promise<Pair> {
  const bytes = fixture(name);
  const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), imports);
  const compiled = await compile(bytes, options);
  const instr = await compiled.instantiate(imports, { fuel: FUEL });
  return { plain, instr };
}

function fn(exports: Record<string, unknown> | WebAssembly.Exports, name: string): Fn {
  const f = exports[name];
  if (typeof f !== 'function') throw new TypeError(`export ${name} is not a function`);
  return f as Fn;
}

function memory(exports: Record<string, unknown> | WebAssembly.Exports): WebAssembly.Memory {
  const m = exports['memory'];
  if (!(m instanceof WebAssembly.Memory)) throw new TypeError('export memory is not a memory');
  return m;
}

/** Calls `name(...args)` on both and expects the same result; returns it. */
function same(p: Pair, name: string, ...args: (number | bigint)[]): number | bigint {
  const a = fn(p.plain.exports, name)(...args);
  const b = fn(p.instr.exports, name)(...args);
  expect(b, `${name}(${args.join(', ')})`).toBe(a);
  return a;
}

/** fixture_byte(i) from sha256.c. */
function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (Math.imul((i ^ (i >>> 8) ^ (i >>> 16)) >>> 0, 31) + 7) & 0xff;
  return out;
}

function digestAt(exports: Record<string, unknown> | WebAssembly.Exports, ptr: number): string {
  return Buffer.from(memory(exports).buffer, ptr, 32).toString('hex');
}

describe('sha256.c', () => {
  it('matches node:crypto on the FIPS 180-4 "abc" vector, plain and instrumented', async () => {
    const p = await pair('sha256');
    for (const e of [p.plain.exports, p.instr.exports]) {
      const input = fn(e, 'sha256_input')() as number;
      new Uint8Array(memory(e).buffer).set(new TextEncoder().encode('abc'), input);
      const d = fn(e, 'sha256_digest')(3) as number;
      expect(digestAt(e, d)).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    }
  });

  it('hashes its own pattern like node:crypto at every padding boundary and at 16 MiB', async () => {
    const p = await pair('sha256');
    for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 1 << 20, 16 << 20]) {
      const expected = createHash('sha256').update(pattern(n)).digest('hex');
      const a = fn(p.plain.exports, 'sha256_pattern')(n) as number;
      expect(digestAt(p.plain.exports, a), `plain n=${n}`).toBe(expected);
      const b = fn(p.instr.exports, 'sha256_pattern')(n) as number;
      expect(digestAt(p.instr.exports, b), `instrumented n=${n}`).toBe(expected);
    }
    // One byte over the 16 MiB buffer is refused the same way.
    same(p, 'sha256_pattern', (16 << 20) + 1);
  });
});

describe('loop.c', () => {
  it('gives the same checksums plain and instrumented', async () => {
    const p = await pair('loop');
    const seen = new Set<number | bigint>();
    for (const n of [0, 1, 2, 3, 100, 12_345, 1_000_000]) seen.add(same(p, 'loop_mix', n));
    expect(seen.size).toBe(7);
  });

  it('charges the same fuel for the same work in two instances', async () => {
    const compiled = await compile(fixture('loop'));
    const used: bigint[] = [];
    for (let i = 0; i < 2; i++) {
      const inst = await compiled.instantiate({}, { fuel: FUEL });
      fn(inst.exports, 'loop_mix')(10_000);
      used.push(inst.fuelUsed());
    }
    expect(used[0]).toBe(used[1]);
    expect(used[0]! > 10_000n * 20n).toBe(true);
  });
});

describe('mandelbrot.c', () => {
  it('gives the same checksums plain and instrumented', async () => {
    const p = await pair('mandelbrot');
    for (const [size, iter] of [
      [0, 0],
      [1, 1],
      [16, 50],
      [64, 200],
      [200, 500],
    ] as const)
      same(p, 'mandelbrot', size, iter);
  });
});

function fib(n: number): number {
  let [a, b] = [0, 1];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

describe('fib.c', () => {
  it('computes fib(n) plain and instrumented', async () => {
    const p = await pair('fib');
    for (let n = 0; n <= 27; n++) expect(same(p, 'fib', n)).toBe(fib(n));
  });

  it('really recurses: fib calls itself twice and recursion goes n frames deep', async () => {
    const wabt = await wabtInit();
    const mod = wabt.readWasm(fixture('fib'), { readDebugNames: true });
    let text: string;
    try {
      mod.applyNames();
      text = mod.toText({});
    } finally {
      mod.destroy();
    }
    const body = text.slice(text.indexOf('(func $fib '), text.indexOf('(func ', text.indexOf('(func $fib ') + 1));
    expect(body.match(/call \$fib\b/g)?.length, body).toBe(2);
    expect(body).not.toMatch(/\bloop\b/);

    // Depth n before any work: plain V8 overflows its native stack, docklock's budget stops it first.
    const p = await pair('fib', { stackLimit: 2048 });
    expect(() => fn(p.plain.exports, 'fib')(10_000_000)).toThrow(RangeError);
    expect(() => fn(p.instr.exports, 'fib')(10_000)).toThrow(StackExhausted);
  });
});

describe('recurse.c', () => {
  it('gives the same checksums plain and instrumented below the stack budget', async () => {
    const p = await pair('recurse');
    for (const depth of [0, 1, 2, 10, 100, 500]) same(p, 'recurse', depth, 0x1234_5678);
  });

  it('has one deterministic maximum depth per stack budget, and plain agrees up to it', async () => {
    const maxDepth = async (stackLimit: number): Promise<number> => {
      const { instr } = await pair('recurse', { stackLimit });
      const recurse = fn(instr.exports, 'recurse');
      let [ok, bad] = [0, 1_000_000];
      while (bad - ok > 1) {
        const mid = (ok + bad) >>> 1;
        try {
          recurse(mid, 7);
          ok = mid;
        } catch (e) {
          expect(e).toBeInstanceOf(StackExhausted);
          bad = mid;
        }
      }
      return ok;
    };
    const small = await maxDepth(10_000);
    const large = await maxDepth(40_000);
    expect(small).toBeGreaterThan(100);
    expect(large).toBeGreaterThan(3 * small);
    expect(await maxDepth(10_000)).toBe(small);
    const p = await pair('recurse', { stackLimit: 40_000 });
    same(p, 'recurse', large, 7);
    expect(() => fn(p.instr.exports, 'recurse')(large + 1, 7)).toThrow(StackExhausted);
  });
});

describe('nan.c', () => {
  const isNan32 = (b: number): boolean => (b & 0x7f80_0000) === 0x7f80_0000 && (b & 0x007f_ffff) !== 0;
  const isNan64 = (b: bigint): boolean =>
    (b & 0x7ff0_0000_0000_0000n) === 0x7ff0_0000_0000_0000n && (b & 0x000f_ffff_ffff_ffffn) !== 0n;

  it('stores only canonical NaNs when instrumented (0x7fc00000 / 0x7ff8000000000000)', async () => {
    const p = await pair('nan');
    for (const [label, e] of [
      ['plain', p.plain.exports],
      ['instrumented', p.instr.exports],
    ] as const) {
      fn(e, 'nan_run')(0, Infinity, -1);
      const f32 = new Uint32Array(memory(e).buffer, fn(e, 'nan_f32_ptr')() as number, 4);
      const f64 = new BigUint64Array(memory(e).buffer, fn(e, 'nan_f64_ptr')() as number, 4);
      for (let i = 0; i < 4; i++) {
        const b32 = (fn(e, 'nan_f32_bits')(i) as number) >>> 0;
        const b64 = BigInt.asUintN(64, fn(e, 'nan_f64_bits')(i) as bigint);
        expect(f32[i], `${label} f32[${i}] in memory`).toBe(b32);
        expect(f64[i], `${label} f64[${i}] in memory`).toBe(b64);
        expect(isNan32(b32), `${label} f32[${i}] = 0x${b32.toString(16)}`).toBe(true);
        expect(isNan64(b64), `${label} f64[${i}] = 0x${b64.toString(16)}`).toBe(true);
        if (label === 'instrumented') {
          expect(b32.toString(16), `f32 slot ${i}`).toBe('7fc00000');
          expect(b64.toString(16), `f64 slot ${i}`).toBe('7ff8000000000000');
        }
      }
    }
  });
});

describe('hello.c (WASI command)', () => {
  const run = (exports: Record<string, unknown> | WebAssembly.Exports, wasi: WASI): number =>
    wasi.start({ exports } as unknown as { exports: { memory: WebAssembly.Memory; _start: () => unknown } });

  const harness = (args: string[]): { wasi: WASI; out: () => string; err: () => string } => {
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    const wasi = new WASI(
      args,
      [],
      [new OpenFile(new File([])), new ConsoleStdout((b) => out.push(b)), new ConsoleStdout((b) => err.push(b))],
      { debug: false },
    );
    const text = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('utf8');
    return { wasi, out: () => text(out), err: () => text(err) };
  };

  it('prints the same output and exits with the same status plain and instrumented', async () => {
    const bytes = fixture('hello');
    const compiled = await compile(bytes, { imports: ['wasi_snapshot_preview1.*'] });
    for (const args of [['hello'], ['hello', 'fail', 'x y']]) {
      const a = harness(args);
      const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {
        wasi_snapshot_preview1: a.wasi.wasiImport,
      });
      const codeA = run(plain.exports, a.wasi);
      const b = harness(args);
      const instr = await compiled.instantiate({ wasi_snapshot_preview1: b.wasi.wasiImport }, { fuel: FUEL });
      const codeB = run(instr.exports, b.wasi);
      expect(codeB).toBe(codeA);
      expect(b.out()).toBe(a.out());
      expect(b.err()).toBe(a.err());
      expect(codeA).toBe(args[1] === 'fail' ? 3 : 0);
      expect(a.out()).toContain(`arg[0]=hello\n`);
      expect(a.out()).toMatch(/fnv1a=[0-9a-f]{8}\n$/);
      expect(a.err()).toBe('hello from stderr\n');
      expect(instr.fuelUsed() > 0n).toBe(true);
    }
  });
});
