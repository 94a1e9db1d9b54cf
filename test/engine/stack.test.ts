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
});
