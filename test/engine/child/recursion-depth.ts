/**
 * Child process for the stack-determinism test: runs deep recursion through docklock and prints
 * the depth at which it stopped. Run under different V8 tiers (--liftoff-only, --no-liftoff).
 */
import { compile } from '../../../index.ts';
import { wat } from '../wat.ts';

const shapes = [0, 3, 40];
const out: Record<string, number | string> = {};
// Exported recursion keeps its depth in the global; internal recursion passes it as a parameter
// (spec: stack.md#S7). Both must stop at a fixed depth before V8's own limit.
for (const internal of [false, true])
  for (const locals of shapes) {
    const decl = locals ? `(local ${Array(locals).fill('i64').join(' ')})` : '';
    const mod = await compile(
      wat(`(module (global $d (mut i32) (i32.const 0))
    (func $r ${internal ? '' : '(export "r")'} (param i32) (result i32) ${decl}
      (global.set $d (i32.add (global.get $d) (i32.const 1)))
      (i32.add (call $r (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
    ${internal ? '(func (export "r") (param i32) (result i32) (call $r (local.get 0)))' : ''}
    (func (export "d") (result i32) (global.get $d)))`),
    );
    // Several runs in one process: the second run must stop where the first did (tier-up happens in between).
    for (let run = 0; run < 3; run++) {
      const inst = await mod.instantiate({}, { fuel: 10n ** 15n });
      let name = 'returned';
      try {
        (inst.exports.r as (n: number) => number)(0);
      } catch (e) {
        name = (e as Error).name;
      }
      const depth = (inst.exports.d as () => number)();
      const key = `${internal ? 'internal' : 'exported'},locals=${locals}`;
      const value = `${name}@${depth}`;
      if (out[key] !== undefined && out[key] !== value) out[key] = `unstable: ${out[key]} vs ${value}`;
      else out[key] = value;
    }
  }
process.stdout.write(JSON.stringify(out));
