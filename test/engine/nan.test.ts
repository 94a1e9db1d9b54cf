import { describe, expect, it } from 'vitest';
import { compile, instrument } from '../../index.ts';
import { wat } from './wat.ts';

const F32_CANON = 0x7fc00000;
const F64_CANON = 0x7ff8000000000000n;

/** Each op's result is stored and read back as bits, so no JS conversion can hide a payload. */
const F32_CASES: [string, string][] = [
  ['div 0/0', '(f32.div (f32.const 0) (f32.const 0))'],
  ['sub inf-inf', '(f32.sub (f32.const inf) (f32.const inf))'],
  ['mul 0*inf', '(f32.mul (f32.const 0) (f32.const inf))'],
  ['add -nan payload', '(f32.add (f32.const -nan:0x12345) (f32.const 1))'],
  ['sqrt -1', '(f32.sqrt (f32.const -1))'],
  ['min nan', '(f32.min (f32.const -nan:0x1) (f32.const 1))'],
  ['max nan', '(f32.max (f32.const 1) (f32.const nan:0x7))'],
  ['ceil nan', '(f32.ceil (f32.const -nan:0x3))'],
  ['floor nan', '(f32.floor (f32.const nan:0x3))'],
  ['trunc nan', '(f32.trunc (f32.const -nan:0x3))'],
  ['nearest nan', '(f32.nearest (f32.const -nan:0x3))'],
  ['demote nan', '(f32.demote_f64 (f64.const -nan:0x123456789))'],
];
const F64_CASES: [string, string][] = [
  ['div 0/0', '(f64.div (f64.const 0) (f64.const 0))'],
  ['sub inf-inf', '(f64.sub (f64.const inf) (f64.const inf))'],
  ['add payload', '(f64.add (f64.const -nan:0x12345) (f64.const 1))'],
  ['sqrt -1', '(f64.sqrt (f64.const -1))'],
  ['min nan', '(f64.min (f64.const -nan:0x1) (f64.const 1))'],
  ['nearest nan', '(f64.nearest (f64.const -nan:0x3))'],
  ['promote nan', '(f64.promote_f32 (f32.const -nan:0x1234))'],
];

async function bitsOf(store: string, load: string, expr: string): Promise<bigint> {
  const text = `(module (memory 1) (func (export "f") (result ${load === 'i32.load' ? 'i32' : 'i64'})
     (${store} (i32.const 0) ${expr}) (${load} (i32.const 0))))`;
  const mod = await compile(wat(text));
  const inst = await mod.instantiate({}, { fuel: 1000n });
  const r = (inst.exports.f as () => number | bigint)();
  return typeof r === 'bigint' ? BigInt.asUintN(64, r) : BigInt(r >>> 0);
}

describe('NaN canonicalisation', () => {
  for (const [name, expr] of F32_CASES) {
    it(`f32 ${name} stores the canonical NaN`, async () => {
      expect(await bitsOf('f32.store', 'i32.load', expr)).toBe(BigInt(F32_CANON));
    });
  }
  for (const [name, expr] of F64_CASES) {
    it(`f64 ${name} stores the canonical NaN`, async () => {
      expect(await bitsOf('f64.store', 'i64.load', expr)).toBe(F64_CANON);
    });
  }

  it('canonicalises a NaN that reaches memory through a local, a tee, a select or a global', async () => {
    const text = `(module (memory 1) (global $g (mut f64) (f64.const 0))
      (func $canon (param $p i32) (result i32) (i64.eq (i64.load (local.get $p)) (i64.const 0x7ff8000000000000)))
      (func (export "f") (param $x f64) (result i32) (local $t f64)
        (local.set $t (f64.sub (local.get $x) (local.get $x)))   ;; inf - inf
        (f64.store (i32.const 0) (local.get $t))
        (f64.store (i32.const 8) (local.tee $t (f64.mul (local.get $x) (f64.const 0))))
        (f64.store (i32.const 16) (select (f64.sqrt (f64.const -1)) (f64.const 1) (i32.const 1)))
        (global.set $g (f64.div (f64.const 0) (f64.const 0)))
        (f64.store (i32.const 24) (global.get $g))
        (i32.add (i32.add (call $canon (i32.const 0)) (call $canon (i32.const 8))) (i32.add (call $canon (i32.const 16)) (call $canon (i32.const 24))))))`;
    const mod = await compile(wat(text));
    const inst = await mod.instantiate({}, { fuel: 1000n });
    expect((inst.exports.f as (x: number) => number)(Infinity)).toBe(4);
  });

  it('skips canonicalisation where no payload can be observed (comparisons, chained arithmetic, blind locals)', async () => {
    const text = `(module (func (export "f") (param $x f64) (result i32) (local $t f64)
        (local.set $t (f64.mul (f64.add (local.get $x) (f64.const 1)) (local.get $x)))
        (f64.lt (local.get $t) (f64.const 0))))`;
    const out = instrument(wat(text));
    const canon = Uint8Array.from([0x44, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f]);
    const hasCanon = out.some((_, i) => canon.every((b, j) => out[i + j] === b));
    expect(hasCanon).toBe(false);
    // …and where one can: the same value returned directly is canonicalised.
    const returned = instrument(
      wat(
        `(module (func (export "f") (param $x f64) (result f64) (f64.mul (f64.add (local.get $x) (f64.const 1)) (local.get $x))))`,
      ),
    );
    expect(returned.some((_, i) => canon.every((b, j) => returned[i + j] === b))).toBe(true);
  });

  it('leaves non-NaN results and bit operations (neg, abs, copysign) untouched', async () => {
    expect(await bitsOf('f32.store', 'i32.load', '(f32.add (f32.const 1.5) (f32.const 2))')).toBe(0x40600000n);
    // neg of a NaN is a pure bit operation: deterministic, so not canonicalised.
    expect(await bitsOf('f32.store', 'i32.load', '(f32.neg (f32.const nan:0x5))')).toBe(0xff800005n);
    expect(await bitsOf('f64.store', 'i64.load', '(f64.copysign (f64.const nan:0x5) (f64.const -1))')).toBe(
      0xfff0000000000005n,
    );
  });

  it('canonicalises every lane of SIMD float results', async () => {
    const text = `(module (memory 1) (func (export "f")
      (v128.store (i32.const 0) (f32x4.div (v128.const f32x4 0 1 -nan:0x9 4) (v128.const f32x4 0 1 1 0)))
      (v128.store (i32.const 16) (f64x2.sqrt (v128.const f64x2 -1 4))))
      (func (export "w") (param i32) (result i32) (i32.load (local.get 0)))
      (func (export "d") (param i32) (result i64) (i64.load (local.get 0))))`;
    const mod = await compile(wat(text));
    const inst = await mod.instantiate({}, { fuel: 1000n });
    (inst.exports.f as () => void)();
    const w = inst.exports.w as (p: number) => number;
    const d = inst.exports.d as (p: number) => bigint;
    expect([w(0) >>> 0, w(4) >>> 0, w(8) >>> 0, w(12) >>> 0]).toEqual([F32_CANON, 0x3f800000, F32_CANON, 0x7f800000]);
    expect([BigInt.asUintN(64, d(16)), BigInt.asUintN(64, d(24))]).toEqual([F64_CANON, 0x4000000000000000n]);
  });
});
