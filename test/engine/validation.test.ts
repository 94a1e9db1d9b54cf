import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compile, instrument, validateModule, ValidationError } from '../../index.ts';
import { roundTrip } from '../../runtime/instrument/instrument.ts';
import { wat } from './wat.ts';

const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const mod = (...sections: number[][]): Uint8Array => Uint8Array.from([...HEADER, ...sections.flat()]);
const section = (id: number, body: number[]): number[] => [id, body.length, ...body];

async function rejected(bytes: Uint8Array, options = {}): Promise<ValidationError> {
  try {
    await compile(bytes, options);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error('module was accepted');
}

const SAMPLE = wat(`(module (memory 1 4) (global $g (mut i32) (i32.const 1)) (table 2 funcref)
  (func $a (export "a") (param i32 f64) (result i32) (local i64 v128)
    (block $b (result i32) (br_if $b (local.get 0) (i32.const 3)) drop (i32.const 4)))
  (func (export "b") (result f32) (f32.sqrt (f32.const 2)))
  (elem (i32.const 0) $a)
  (data (i32.const 8) "hello"))`);

describe('validation', () => {
  it('rejects garbage, truncation and a wrong version with coded errors', async () => {
    expect((await rejected(new Uint8Array([1, 2, 3]))).code).toBe('DL_ERR_MODULE_MALFORMED');
    expect((await rejected(Uint8Array.from([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]))).code).toBe('DL_ERR_MODULE_MALFORMED');
    for (let cut = 9; cut < SAMPLE.length; cut += 7) {
      const e = await rejected(SAMPLE.subarray(0, cut));
      expect(e.code).toMatch(/^DL_ERR_MODULE_(MALFORMED|INVALID)$/);
    }
  });

  it('names the proposal and the offset of unsupported features', async () => {
    const shared = await rejected(mod(section(5, [1, 0x03, 1, 1])));
    expect(shared.code).toBe('DL_ERR_FEATURE_UNSUPPORTED');
    expect(shared.where).toMatchObject({ proposal: 'threads', section: 'memory', offset: 11 });
    const multi = await rejected(mod(section(5, [2, 0, 1, 0, 1])));
    expect(multi.where?.proposal).toBe('multi-memory');
    const mem64 = await rejected(mod(section(5, [1, 0x04, 1])));
    expect(mem64.where?.proposal).toBe('memory64');
    // (global i32 (i32.add (i32.const 1) (i32.const 2))): an extended constant expression
    const ext = await rejected(mod(section(6, [1, 0x7f, 0, 0x41, 1, 0x41, 2, 0x6a, 0x0b])));
    expect(ext.where?.proposal).toBe('extended-const');
    // type () -> (), one function whose body uses an atomic fence (0xfe 0x03 0x00)
    const body = (code: number[]): number[][] => [
      section(1, [1, 0x60, 0, 0]),
      section(3, [1, 0]),
      section(10, [1, code.length + 1, 0, ...code]),
    ];
    const atomics = await rejected(
      mod(
        section(1, [1, 0x60, 0, 0]),
        section(3, [1, 0]),
        section(5, [1, 0, 1]),
        section(10, [1, 5, 0, 0xfe, 0x03, 0x00, 0x0b]),
      ),
    );
    expect(atomics.where).toMatchObject({ proposal: 'threads (atomics)', func: 0 });
    const relaxed = await rejected(mod(...body([0xfd, 0x80, 0x02, 0x1a, 0x0b])));
    expect(relaxed.where?.proposal).toBe('relaxed-simd');
    const tail = await rejected(mod(...body([0x12, 0x00, 0x0b])));
    expect(tail.where?.proposal).toBe('tail-call');
    const exn = await rejected(mod(...body([0x08, 0x00, 0x0b])));
    expect(exn.where?.proposal).toBe('exception-handling');
  });

  it('rejects imports the caller did not grant, and accepts granted ones', async () => {
    const text =
      '(module (import "env" "f" (func)) (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))';
    const e = await rejected(wat(text));
    expect(e.code).toBe('DL_ERR_IMPORT_NOT_GRANTED');
    expect(e.where?.import).toBe('env.f');
    expect((await rejected(wat(text), { imports: ['wasi_snapshot_preview1.*'] })).where?.import).toBe('env.f');
    await expect(compile(wat(text), { imports: ['env.f', 'wasi_snapshot_preview1.*'] })).resolves.toBeDefined();
  });

  it('enforces limits against compile bombs', async () => {
    expect((await rejected(SAMPLE, { limits: { moduleBytes: 10 } })).code).toBe('DL_ERR_LIMIT_MODULE_SIZE');
    expect((await rejected(SAMPLE, { limits: { functions: 1 } })).code).toBe('DL_ERR_LIMIT_FUNCTION_COUNT');
    expect((await rejected(SAMPLE, { limits: { localsPerFunction: 1 } })).where).toMatchObject({
      section: 'code',
      func: 0,
    });
    expect((await rejected(SAMPLE, { limits: { bodyBytes: 4 } })).code).toBe('DL_ERR_LIMIT_FUNCTION_BODY_SIZE');
    expect((await rejected(SAMPLE, { limits: { tableElements: 1 } })).code).toBe('DL_ERR_LIMIT_TABLE_SIZE');
    expect((await rejected(SAMPLE, { limits: { dataBytes: 4 } })).code).toBe('DL_ERR_LIMIT_DATA_SIZE');
    // A declared local count of 2^32-1 must be refused without allocating anything.
    const bomb = mod(
      section(1, [1, 0x60, 0, 0]),
      section(3, [1, 0]),
      section(10, [1, 8, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x0b]),
    );
    expect((await rejected(bomb)).code).toBe('DL_ERR_LIMIT_LOCALS_PER_FUNCTION');
  });

  it('clamps the memory maximum and rejects an initial size over the limit', async () => {
    const text =
      '(module (memory (export "m") 1) (func (export "g") (param i32) (result i32) (memory.grow (local.get 0))))';
    const m = await compile(wat(text), { memoryLimit: 4 * 65536 });
    const inst = await m.instantiate({}, { fuel: 1_000_000n });
    const grow = inst.exports.g as (n: number) => number;
    expect(grow(2)).toBe(1);
    expect(grow(2)).toBe(-1);
    expect(grow(1)).toBe(3);
    expect((inst.exports.m as WebAssembly.Memory).buffer.byteLength).toBe(4 * 65536);
    const e = await rejected(wat('(module (memory 5))'), { memoryLimit: 4 * 65536 });
    expect(e.code).toBe('DL_ERR_LIMIT_MEMORY');
  });

  it('refuses export names reserved for the instrumentation', async () => {
    expect((await rejected(wat('(module (func (export "docklock_fuel")))'))).code).toBe(
      'DL_ERR_MODULE_RESERVED_EXPORT',
    );
  });

  it('hostile bytes never crash the decoder: every mutation is accepted or a coded error', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(SAMPLE.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (flips) => {
          const bytes = SAMPLE.slice();
          for (const [pos, v] of flips) bytes[pos] = v;
          try {
            validateModule(bytes, { imports: ['*'] });
            const out = instrument(bytes);
            expect(WebAssembly.validate(out as Uint8Array<ArrayBuffer>)).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(ValidationError);
            expect((e as ValidationError).code).toMatch(/^DL_ERR_/);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('round-trips modules byte for byte, custom sections included', () => {
    expect(roundTrip(SAMPLE)).toEqual(SAMPLE);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 40 })), { maxLength: 5 }),
        (customs) => {
          const extra: number[] = [];
          for (const [name, payload] of customs) {
            const n = [...new TextEncoder().encode(name)];
            extra.push(...section(0, [n.length, ...n, ...payload]));
          }
          const bytes = Uint8Array.from([...SAMPLE, ...extra]);
          expect(roundTrip(bytes)).toEqual(bytes);
          // Instrumentation keeps every custom section too.
          const out = instrument(bytes);
          for (let i = 0; i + extra.length <= out.length && extra.length > 0; i++) {
            if (out[i] === extra[0] && out.subarray(i, i + extra.length).every((b, j) => b === extra[j])) return;
          }
          expect(extra.length).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
