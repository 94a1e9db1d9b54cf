import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compile } from '../../index.ts';
import { HostCalls, RunEnd } from '../../runtime/witness/recorder.ts';
import type { HostValue } from '../../runtime/witness/recorder.ts';
import { createWasi, ProcExit } from '../../host-functions/wasi/preview1.ts';
import { trampolinable, trampolineModuleBytes } from '../../runtime/witness/trampolines.ts';
import { InternalError } from '../../runtime/errors.ts';
import { toHex } from '../../runtime/hash.ts';
import type { FuncType } from '../../runtime/instrument/module.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { compileOptionsFor } from '../../runtime/cage/run.ts';
import { wat } from '../engine/wat.ts';

const I32 = 0x7f;
const I64 = 0x7e;
const F64 = 0x7c;
const type = (params: readonly number[], results: readonly number[] = [I32]): FuncType => ({
  params: Uint8Array.from(params),
  results: Uint8Array.from(results),
});
const manifest = parseManifest({
  apiVersion: 'docklock/v1',
  kind: 'Cage',
  module: 't.wasm',
  args: ['a', 'bc'],
  limits: { fuel: '100000000' },
});
const EMPTY = new Uint8Array(0);

/** A WASI call the generated guest makes: the import and its literal arguments. */
type Call =
  | { fn: 'random_get'; args: [number, number] }
  | { fn: 'clock_time_get'; args: [number, bigint, number] }
  | { fn: 'fd_seek'; args: [number, bigint, number, number] }
  | { fn: 'args_sizes_get'; args: [number, number] }
  | { fn: 'fd_write'; args: [number, number, number, number] };

const SIGS: Record<Call['fn'], string> = {
  random_get: '(param i32 i32) (result i32)',
  clock_time_get: '(param i32 i64 i32) (result i32)',
  fd_seek: '(param i32 i64 i32 i32) (result i32)',
  args_sizes_get: '(param i32 i32) (result i32)',
  fd_write: '(param i32 i32 i32 i32) (result i32)',
};

function guest(calls: readonly Call[], exitCode: number | null): Uint8Array {
  const imports = Object.entries(SIGS)
    .map(([n, s]) => `(import "wasi_snapshot_preview1" "${n}" (func $${n} ${s}))`)
    .join('\n');
  const body = calls
    .map(
      (c) =>
        `(drop (call $${c.fn} ${c.args.map((a) => (typeof a === 'bigint' ? `(i64.const ${a})` : `(i32.const ${a})`)).join(' ')}))`,
    )
    .join('\n');
  return wat(`(module ${imports}
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    ;; an iovec at 64 → 5 bytes at 128
    (data (i32.const 64) "\\80\\00\\00\\00\\05\\00\\00\\00")
    (data (i32.const 128) "hello")
    (func (export "_start") ${body} ${exitCode === null ? '' : `(call $exit (i32.const ${exitCode}))`}))`);
}

/** Runs the guest with docklock's WASI; `link` routes the imports through trampolines. */
async function run(module: Uint8Array, link: boolean): Promise<HostCalls> {
  const compiled = await compile(module, compileOptionsFor(manifest));
  const calls = new HostCalls('record');
  const wasi = createWasi(calls, {
    args: manifest.args,
    env: {},
    seed: manifest.determinism.seed,
    clockStart: 0n,
    clockStep: 1000n,
    stdin: EMPTY,
    inputs: new Map(),
    outputDir: '/output',
    scratchDir: '/tmp',
    limits: { stdout: 1024, stderr: 1024, output: 1024, scratch: 1024 },
    grants: new Set(['wasi', 'random', 'clock']),
  });
  const given = { wasi_snapshot_preview1: wasi.imports };
  const imports = link ? calls.link(given, compiled.functionImports()) : given;
  if (link) expect(imports).not.toBe(given);
  try {
    const inst = compiled.instantiateSync(imports, {
      fuel: manifest.limits.fuel,
      beforeStart: (i) => {
        calls.mem.attach(i.exports.memory as WebAssembly.Memory);
        calls.fuelMeter = i;
      },
    });
    (inst.exports._start as () => void)();
  } catch (e) {
    if (!(e instanceof ProcExit)) throw e;
  }
  return calls;
}

const i32 = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.constantFrom(0, 1, 8, 64, 127, 128, 255, 256, 65535, 65536, -1, -32, -33, -128, -129, 65528),
);
const ptr = fc.oneof(fc.integer({ min: 0, max: 65528 }), i32);
const i64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(0n, -1n, 2n ** 32n, 2n ** 63n - 1n, -(2n ** 63n)),
);
const call: fc.Arbitrary<Call> = fc.oneof(
  fc.tuple(ptr, fc.integer({ min: 0, max: 64 })).map((a): Call => ({ fn: 'random_get', args: a })),
  fc.tuple(fc.integer({ min: -1, max: 5 }), i64, ptr).map((a): Call => ({ fn: 'clock_time_get', args: a })),
  fc
    .tuple(fc.integer({ min: -1, max: 4 }), i64, fc.integer({ min: 0, max: 3 }), ptr)
    .map((a): Call => ({ fn: 'fd_seek', args: a })),
  fc.tuple(ptr, ptr).map((a): Call => ({ fn: 'args_sizes_get', args: a })),
  fc
    .tuple(fc.constantFrom(1, 2, 9), fc.constantFrom(64, 65535, -1), fc.integer({ min: 0, max: 2 }), ptr)
    .map((a): Call => ({ fn: 'fd_write', args: a })),
);

describe('host-call trampolines', () => {
  it('record exactly the witness the JavaScript path records, for any calls (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(call, { minLength: 1, maxLength: 12 }),
        fc.option(fc.integer({ min: 0, max: 255 })),
        async (calls, exit) => {
          const module = guest(calls, exit);
          const viaJs = await run(module, false);
          const viaWasm = await run(module, true);
          expect(viaWasm.log.length).toBe(calls.length + (exit === null ? 0 : 1));
          expect(viaWasm.log.entries()).toEqual(viaJs.log.entries());
          expect(toHex(viaWasm.log.finalize().root)).toBe(toHex(viaJs.log.finalize().root));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('record i64 arguments, negative i32s, faults and the exit call', async () => {
    const calls: Call[] = [
      { fn: 'clock_time_get', args: [1, -(2n ** 63n), 256] },
      { fn: 'fd_seek', args: [9, 2n ** 63n - 1n, 0, -1] },
      { fn: 'random_get', args: [-8, 8] },
    ];
    const recorded = (await run(guest(calls, 7), true)).log.entries();
    expect(recorded.map((e) => [e.name.split('.')[1], e.args, e.result])).toEqual([
      ['clock_time_get', [1, -(2n ** 63n), 256], 0],
      ['fd_seek', [9, 2n ** 63n - 1n, 0, -1], 8], // EBADF: fd 9 is not open
      ['random_get', [-8, 8], 21], // EFAULT: the pointer is past memory
      ['proc_exit', [7], null],
    ]);
    expect(recorded[0].writes.map((w) => [w.ptr, w.bytes.length])).toEqual([[256, 8]]);
    // The straight-line body is one segment, charged on entry (spec/fuel.md): every call sees it.
    expect(recorded[0].fuel).toBeGreaterThan(0n);
    expect(new Set(recorded.map((e) => e.fuel)).size).toBe(1);
  });

  it('leave other imports to JavaScript: unwrapped functions, float types, and a name imported with two types', async () => {
    const calls = new HostCalls('record');
    const wrapped = calls.wrap('m.f', (a: number) => a);
    const plain = (): number => 1;
    const imports = {
      m: { f: wrapped, g: plain, h: calls.wrap('m.h', (x: number) => x), k: calls.wrap('m.k', (a: number) => a) },
    };
    const linked = calls.link(imports, [
      { module: 'm', name: 'f', type: type([I32]) },
      { module: 'm', name: 'g', type: type([]) },
      { module: 'm', name: 'h', type: type([F64], [F64]) },
      { module: 'm', name: 'k', type: type([I32]) },
      { module: 'm', name: 'k', type: type([I64]) },
    ]) as { m: Record<string, unknown> };
    expect(linked.m.f).not.toBe(wrapped);
    expect(linked.m.g).toBe(plain);
    expect(linked.m.h).toBe(imports.m.h);
    expect(linked.m.k).toBe(imports.m.k);
    expect(trampolinable(type([F64]))).toBe(false);
    expect(trampolinable(type(new Array<number>(16).fill(I32)))).toBe(false);
    expect(trampolinable(type([I64, I32], []))).toBe(true);
  });

  it("record fuel 0 before an instance exists, and the instance's fuel once it does", async () => {
    const calls = new HostCalls('record');
    const linked = calls.link({ m: { f: calls.wrap('m.f', (a: number) => a + 1) } }, [
      { module: 'm', name: 'f', type: type([I32]) },
    ]) as { m: { f: (a: number) => number } };
    expect(linked.m.f(41)).toBe(42);
    expect(calls.log.entry(0)).toMatchObject({ args: [41], result: 42, fuel: 0n });
    const mod = await compile(
      wat(
        '(module (func (export "spin") (local $i i32) (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))))',
      ),
      { imports: ['*'] },
    );
    const inst = mod.instantiateSync({}, { fuel: 10_000n });
    (inst.exports.spin as () => void)();
    calls.fuelMeter = inst;
    linked.m.f(1);
    expect(calls.log.entry(1).fuel).toBe(inst.fuelUsed());
    expect(inst.fuelUsed()).toBeGreaterThan(0n);
    // A meter with no wasm reader is read from JavaScript, as the wrapper path reads it.
    calls.fuelMeter = {
      fuelUsedWords: (out, at) => {
        out[at] = 5;
        out[at + 1] = 1;
      },
    };
    linked.m.f(2);
    expect(calls.log.entry(2).fuel).toBe((1n << 32n) + 5n);
  });

  it('fail closed when a host function runs another host call before returning', () => {
    const calls = new HostCalls('record');
    const inner = calls.wrap('m.inner', (a: number) => a);
    let linked: { m: { outer: (a: number) => number; inner: (a: number) => number } } | undefined;
    const outer = calls.wrap('m.outer', (a: number) => linked!.m.inner(a) + 1);
    linked = calls.link({ m: { outer, inner } }, [
      { module: 'm', name: 'outer', type: type([I32]) },
      { module: 'm', name: 'inner', type: type([I32]) },
    ]) as typeof linked;
    expect(() => linked!.m.outer(1)).toThrow(InternalError);
  });

  it('record a RunEnd before it ends the run, and answer a guest fault with the fault value', () => {
    const calls = new HostCalls('record');
    class Stop extends RunEnd {}
    const linked = calls.link(
      {
        m: {
          stop: calls.wrap('m.stop', (_a: number): HostValue => {
            throw new Stop();
          }),
          bad: calls.wrap('m.bad', (_a: number): HostValue => calls.mem.u32(1 << 30), -7),
        },
      },
      [
        { module: 'm', name: 'stop', type: type([I32], []) },
        { module: 'm', name: 'bad', type: type([I32]) },
      ],
    ) as { m: { stop: (a: number) => void; bad: (a: number) => number } };
    expect(linked.m.bad(5)).toBe(-7);
    expect(() => linked.m.stop(9)).toThrow(Stop);
    expect(calls.log.entries().map((e) => [e.name, e.args, e.result])).toEqual([
      ['m.bad', [5], -7],
      ['m.stop', [9], null],
    ]);
  });

  it('build valid modules for every mix of i32/i64 parameters and results', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(fc.constantFrom(I32, I64), { maxLength: 15 }), fc.constantFrom([], [I32], [I64])), {
          minLength: 1,
          maxLength: 6,
        }),
        (sigs) => {
          expect(WebAssembly.validate(trampolineModuleBytes(sigs.map(([p, r]) => type(p, r))) as BufferSource)).toBe(
            true,
          );
        },
      ),
    );
  });
});
