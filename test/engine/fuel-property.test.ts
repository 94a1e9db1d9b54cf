import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compile, OutOfFuel } from '../../index.ts';
import { wat } from './wat.ts';

/**
 * Generated programs: structured i32 code with blocks, ifs, bounded loops, branches out of nested
 * constructs, early returns and calls. Properties: the instrumented module computes what plain V8
 * computes; fuel is the same in every fresh instance; a budget one short of the total runs out of
 * fuel and the total itself suffices (spec: fuel.md#F5).
 */
type Stmt = string;

const expr: fc.Arbitrary<string> = fc.letrec((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: -50, max: 50 }).map((n) => `(i32.const ${n})`),
    fc.constantFrom('(local.get $x)', '(local.get $acc)', '(global.get $g)'),
    fc
      .tuple(
        fc.constantFrom(
          'i32.add',
          'i32.sub',
          'i32.mul',
          'i32.and',
          'i32.xor',
          'i32.shl',
          'i32.rotl',
          'i32.lt_s',
          'i32.eq',
        ),
        tie('e'),
        tie('e'),
      )
      .map(([op, a, b]) => `(${op} ${a} ${b})`),
    tie('e').map((a) => `(call $helper ${a})`),
  ),
})).e as fc.Arbitrary<string>;

const stmt: fc.Arbitrary<Stmt> = fc.letrec((tie) => ({
  s: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    expr.map((e) => `(local.set $acc (i32.add (local.get $acc) ${e}))`),
    expr.map((e) => `(global.set $g ${e})`),
    fc
      .tuple(expr, fc.array(tie('s'), { maxLength: 3 }), fc.array(tie('s'), { maxLength: 3 }))
      .map(([c, t, f]) => `(if ${c} (then ${t.join(' ')}) (else ${f.join(' ')}))`),
    fc.array(tie('s'), { maxLength: 3 }).map((b) => `(block $b ${b.join(' ')})`),
    fc
      .tuple(expr, fc.array(tie('s'), { maxLength: 2 }))
      .map(
        ([c, b]) =>
          `(block $b2 ${b.join(' ')} (br_if $b2 ${c}) (local.set $acc (i32.add (local.get $acc) (i32.const 7))))`,
      ),
    fc.tuple(fc.integer({ min: 0, max: 6 }), fc.array(tie('s'), { maxLength: 2 })).map(
      // Nested loops share $i, so a global step budget bounds the total (plain V8 has no fuel).
      ([n, b]) =>
        `(local.set $i (i32.const 0)) (loop $l ${b.join(' ')} (local.set $i (i32.add (local.get $i) (i32.const 1))) (global.set $steps (i32.sub (global.get $steps) (i32.const 1))) (br_if $l (i32.and (i32.lt_u (local.get $i) (i32.const ${n})) (i32.gt_s (global.get $steps) (i32.const 0)))))`,
    ),
    expr.map((e) => `(if ${e} (then (return (local.get $acc))))`),
  ),
})).s as fc.Arbitrary<Stmt>;

function program(body: Stmt[]): string {
  return `(module
    (global $g (mut i32) (i32.const 3))
    (global $steps (mut i32) (i32.const 500))
    (func $helper (param $v i32) (result i32) (i32.add (i32.mul (local.get $v) (i32.const 3)) (global.get $g)))
    (func (export "run") (param $x i32) (result i32) (local $acc i32) (local $i i32)
      ${body.join('\n      ')}
      (local.get $acc))
    (func (export "g") (result i32) (global.get $g)))`;
}

type Run = (x: number) => number;

describe('fuel on generated programs', () => {
  it('instrumented code agrees with plain V8, fuel is reproducible, and the total budget is exact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stmt, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: -20, max: 20 }),
        async (body, x) => {
          const bytes = wat(program(body));
          const plain = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
          const expected = (plain.exports.run as Run)(x);
          const mod = await compile(bytes);
          const used: bigint[] = [];
          for (let k = 0; k < 2; k++) {
            const inst = await mod.instantiate({}, { fuel: 1_000_000n });
            expect((inst.exports.run as Run)(x)).toBe(expected);
            expect((inst.exports.g as () => number)()).toBe((plain.exports.g as () => number)());
            used.push(inst.fuelUsed());
          }
          expect(used[0]).toBe(used[1]);
          const alone = await mod.instantiate({}, { fuel: 1_000_000n });
          (alone.exports.run as Run)(x);
          const total = alone.fuelUsed();
          const exact = await mod.instantiate({}, { fuel: total });
          expect((exact.exports.run as Run)(x)).toBe(expected);
          if (total > 0n) {
            const short = await mod.instantiate({}, { fuel: total - 1n });
            expect(() => (short.exports.run as Run)(x)).toThrow(OutOfFuel);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
