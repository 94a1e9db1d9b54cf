import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compile, StackExhausted } from '../../index.ts';
import { wat } from './wat.ts';

const child = fileURLToPath(new URL('./child/recursion-depth.ts', import.meta.url));

function depthsUnder(flags: string[]): Record<string, string> {
  return JSON.parse(execFileSync(process.execPath, [...flags, child], { encoding: 'utf8' })) as Record<string, string>;
}

describe('deterministic stack budget', () => {
  it('deep recursion stops at the same depth under Liftoff-only, TurboFan-only and default V8', () => {
    const def = depthsUnder([]);
    const liftoff = depthsUnder(['--liftoff-only']);
    const turbofan = depthsUnder(['--no-liftoff']);
    for (const v of Object.values(def)) expect(v).toMatch(/^StackExhausted@\d+$/);
    expect(liftoff).toEqual(def);
    expect(turbofan).toEqual(def);
  }, 120_000);

  it('the budget scales the depth and a trap resets the counter for the next call', async () => {
    const text = `(module (global $d (mut i32) (i32.const 0))
      (func $r (export "r") (param i32) (result i32)
        (global.set $d (i32.add (global.get $d) (i32.const 1)))
        (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
          (else (i32.add (call $r (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
      (func (export "reset") (global.set $d (i32.const 0)))
      (func (export "d") (result i32) (global.get $d)))`;
    const depthAt = async (stackLimit: number): Promise<number> => {
      const inst = await (await compile(wat(text), { stackLimit })).instantiate({}, { fuel: 10n ** 12n });
      expect(() => (inst.exports.r as (n: number) => number)(1_000_000)).toThrow(StackExhausted);
      const d = (inst.exports.d as () => number)();
      // After the trap the depth counter is back to zero: a modest recursion succeeds.
      (inst.exports.reset as () => void)();
      expect((inst.exports.r as (n: number) => number)(50)).toBe(50);
      return d;
    };
    const small = await depthAt(4096);
    const large = await depthAt(16384);
    expect(large).toBeGreaterThan(small * 3);
  });

  // Only functions on call-graph cycles account frames (spec: stack.md#S4), so every way to recur
  // must be a cycle in the graph the rewriter builds, or V8's own overflow would decide the run.
  const unbounded: [string, string][] = [
    [
      'mutual recursion through direct calls',
      `(module
      (func $a (export "f") (param i32) (result i32) (call $b (i32.add (local.get 0) (i32.const 1))))
      (func $b (param i32) (result i32) (call $a (local.get 0))))`,
    ],
    [
      'recursion through call_indirect',
      `(module (type $t (func (param i32) (result i32)))
      (table 1 funcref) (elem (i32.const 0) $f)
      (func $f (export "f") (type $t) (call_indirect (type $t) (i32.add (local.get 0) (i32.const 1)) (i32.const 0))))`,
    ],
    [
      'recursion through a function reference put in a table at run time',
      `(module (type $t (func (param i32) (result i32)))
      (table 1 funcref) (elem declare func $f)
      (func $f (export "f") (type $t)
        (table.set (i32.const 0) (ref.func $f))
        (call_indirect (type $t) (i32.add (local.get 0) (i32.const 1)) (i32.const 0))))`,
    ],
  ];
  for (const [what, text] of unbounded) {
    it(`stops ${what} with StackExhausted`, async () => {
      const inst = await (await compile(wat(text))).instantiate({}, { fuel: 10n ** 12n });
      expect(() => (inst.exports.f as (n: number) => number)(0)).toThrow(StackExhausted);
    });
  }

  it('mixes functions that pass their depth with ones that keep it in the global (spec: stack.md#S7)', async () => {
    // $even is exported (depth in the global), $odd is internal and on the cycle (depth passed), and
    // $odd also goes through a table and a host function, around which it must store its depth.
    const text = `(module (import "h" "tick" (func $tick))
      (type $t (func (param i32) (result i32)))
      (table 1 funcref) (elem (i32.const 0) $id)
      (func $id (type $t) (local.get 0))
      (func $even (export "even") (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1)) (else (call $odd (i32.sub (local.get 0) (i32.const 1))))))
      (func $odd (param i32) (result i32) (local i32)
        (call $tick)
        (local.set 1 (call_indirect (type $t) (local.get 0) (i32.const 0)))
        (if (result i32) (i32.eqz (local.get 1)) (then (i32.const 0)) (else (call $even (i32.sub (local.get 1) (i32.const 1)))))))`;
    let ticks = 0;
    let depths: number[] = [];
    const inst = await (await compile(wat(text), { imports: ['h.tick'] })).instantiate(
      {
        h: {
          tick: () => {
            ticks++;
            depths.push(
              inst.raw.exports.docklock_depth instanceof WebAssembly.Global
                ? (inst.raw.exports.docklock_depth.value as number)
                : -1,
            );
          },
        },
      },
      { fuel: 10n ** 12n },
    );
    const even = inst.exports.even as (n: number) => number;
    expect(even(10)).toBe(1);
    expect(even(7)).toBe(0);
    expect(ticks).toBe(5 + 4);
    // The depth the host sees grows with every level, and each call starts from zero again.
    depths = [];
    even(6);
    expect(depths).toHaveLength(3);
    expect(depths[0]).toBeGreaterThan(0);
    expect(depths[1]! - depths[0]!).toBe(depths[2]! - depths[1]!);
    expect(depths[1]!).toBeGreaterThan(depths[0]!);
    expect(() => even(1_000_000)).toThrow(StackExhausted);
    expect(even(4)).toBe(1);
  });

  it('a depth-passing function leaves the depth global as it found it, however often it runs (spec: stack.md#S7)', async () => {
    // $c and $f pass their depth; $f also calls the host, so it keeps the global right while it
    // runs. The exported loop calls them again and again: every round must see the same depths.
    const text = `(module (import "h" "probe" (func $probe))
      (func $f (param i32) (result i32)
        (call $probe)
        (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0)) (else (call $f (i32.sub (local.get 0) (i32.const 1))))))
      (func $c (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0)) (then (call $f (i32.const 2))) (else (call $c (i32.sub (local.get 0) (i32.const 1))))))
      (func (export "h") (param i32) (local i32)
        (loop (drop (call $c (i32.const 3)))
          (br_if 0 (local.tee 1 (i32.sub (local.get 0) (local.get 1)))))))`;
    const seen: number[] = [];
    const inst = await (await compile(wat(text), { imports: ['h.probe'] })).instantiate(
      {
        h: {
          probe: () => {
            const g = inst.raw.exports.docklock_depth as WebAssembly.Global;
            seen.push(g.value as number);
          },
        },
      },
      { fuel: 10n ** 12n },
    );
    (inst.exports.h as (n: number) => void)(4);
    expect(seen.length).toBeGreaterThanOrEqual(6);
    const round = seen.slice(0, 3);
    expect(round[1]!).toBeGreaterThan(round[0]!);
    for (let k = 0; k < seen.length; k += 3) expect(seen.slice(k, k + 3)).toEqual(round);
    expect((inst.raw.exports.docklock_depth as WebAssembly.Global).value).toBe(0);
  });

  it('stops endless re-entry through a host function with StackExhausted (spec: stack.md#S5)', async () => {
    const text = `(module (import "h" "again" (func $again (param i32)))
      (func (export "f") (param i32) (call $again (i32.add (local.get 0) (i32.const 1)))))`;
    let deepest = 0;
    const imports = {
      h: {
        again: (n: number): void => {
          deepest = n;
          (inst.exports.f as (n: number) => void)(n);
        },
      },
    };
    const inst = await (await compile(wat(text), { imports: ['h.again'] })).instantiate(imports, { fuel: 10n ** 12n });
    expect(() => (inst.exports.f as (n: number) => void)(0)).toThrow(StackExhausted);
    // Each re-entry reserves the 512 of the top-of-stack chain: with the 512 the first call keeps,
    // 77 re-entries fit in 40,000 units and the 78th is refused.
    expect(deepest).toBe(78);
    // The counter is back at zero afterwards: a single call goes through.
    const once = { h: { again: (): void => {} } };
    const inst2 = await (await compile(wat(text), { imports: ['h.again'] })).instantiate(once, { fuel: 10n ** 12n });
    expect(() => (inst2.exports.f as (n: number) => void)(0)).not.toThrow();
  });
});
