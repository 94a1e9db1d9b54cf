/**
 * The fail-closed check on host calls (spec/fuel.md#F9): 1,000,000 random_get calls through runGuest
 * at WASI level 0 (no check) and level 1 (check), alternating, 9 pairs after a warm-up; prints the
 * medians and the median of the paired ratios.  Run: node_modules/.bin/node bench/host-call-check.bench.ts
 */
import { runGuest } from '../runtime/cage/run.ts';
import { parseManifest } from '../runtime/manifest/parse.ts';
import { wat } from '../test/engine/wat.ts';
const N = 1_000_000;
const mod =
  wat(`(module (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32))) (memory (export "memory") 1)
  (func (export "_start") (local $i i32) (loop $l (drop (call $random_get (i32.const 0) (i32.const 8))) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const ${N})))))) `);
const m = parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'm', limits: { memory: '64MiB' } });
const time = async (lvl: number) => {
  const t = performance.now();
  const o = await runGuest({
    manifest: m,
    module: mod,
    stdin: new Uint8Array(0),
    inputs: new Map(),
    mode: 'record',
    wasiLevel: lvl,
  });
  if (o.result.witnessEntries !== N) throw new Error('n');
  return performance.now() - t;
};
await time(0);
await time(1);
const ratios: number[] = [];
const a: number[] = [];
const b: number[] = [];
for (let i = 0; i < 9; i++) {
  const x = await time(0);
  const y = await time(1);
  a.push(x);
  b.push(y);
  ratios.push(y / x);
}
const med = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1]!;
console.log(
  `N=${N} random_get calls: no check ${med(a).toFixed(0)} ms, fail-closed check ${med(b).toFixed(0)} ms, median ratio ${med(ratios).toFixed(3)} (${ratios.map((r) => r.toFixed(3)).join(' ')})`,
);
