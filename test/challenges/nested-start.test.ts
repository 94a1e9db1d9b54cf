/**
 * A nested submission whose start function does work and then traps (spec/nested.md#N4): the fuel
 * it used is billed to the challenge and reported as `fuel_used`, the same on every run; its
 * bundle replays and profiles to the same total. Bundles recorded before the rule (ABI level 1,
 * spec/wasi.md#W6) billed nothing for such a start, and still replay as they ran.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../runtime/cage/run.ts';
import { loadChallenge } from '../../runtime/evaluate/challenge.ts';
import { evaluationInputs } from '../../runtime/evaluate/evaluation.ts';
import { encodeBundle } from '../../runtime/bundle.ts';
import { replayBundle } from '../../runtime/replay.ts';
import { profileBundle } from '../../runtime/api/profile.ts';
import { decodeEntries } from '../../runtime/witness/encoding.ts';
import { TRAP_CODES } from '../../runtime/errors.ts';
import { NESTED_STATUS } from '../../host-functions/nested/abi.ts';
import { wat } from '../engine/wat.ts';
import { exampleDir } from './helpers.ts';

/** The sort ABI, but the start function counts to 20 000 and then hits `unreachable`. */
const submission = wat(`
  (module
    (memory (export "memory") 1)
    (func $start (local $i i32)
      (loop $count
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $count (i32.lt_u (local.get $i) (i32.const 20000))))
      unreachable)
    (start $start)
    (func (export "alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "sort") (param i32 i32) (result i64) (i64.const 0)))
`);

async function record(wasiLevel?: number) {
  const ch = await loadChallenge(exampleDir('sort'));
  const out = await runGuest({
    manifest: ch.manifest,
    module: ch.module,
    stdin: submission,
    inputs: evaluationInputs(ch.inputs, submission),
    mode: 'record',
    wasiLevel,
  });
  const calls = decodeEntries(out.witnessBytes).filter((e) => e.name === 'docklock.nested_call');
  expect(calls.length).toBeGreaterThan(0);
  const first = calls[0]!;
  const info = first.writes.at(-1)!.bytes;
  const view = new DataView(info.buffer, info.byteOffset, 16);
  const bundle = encodeBundle({
    manifest: ch.manifest,
    module: ch.module,
    stdin: submission,
    inputs: evaluationInputs(ch.inputs, submission),
    witness: out.witnessBytes,
    result: out.result,
    wasiLevel,
  });
  return {
    status: first.result,
    nestedFuel: view.getBigUint64(0, true),
    trap: view.getUint32(12, true),
    fuelUsed: out.result.fuelUsed,
    bundle,
  };
}

describe('a nested submission whose start function traps after doing work', () => {
  it('is billed the fuel its start used, the same on every run; its bundle replays and profiles to fuelUsed', async () => {
    const a = await record();
    const b = await record();
    expect(a.status).toBe(NESTED_STATUS.TRAPPED);
    expect(a.trap).toBe(TRAP_CODES.indexOf('unreachable') + 1);
    // 20 000 loop iterations, each at least one instruction: the start function's work is billed.
    expect(a.nestedFuel).toBeGreaterThan(20_000n);
    expect(b.nestedFuel).toBe(a.nestedFuel);
    expect(b.fuelUsed).toBe(a.fuelUsed);
    expect(a.fuelUsed).toBeGreaterThan(a.nestedFuel);

    const report = await replayBundle(a.bundle);
    expect(report.divergence).toBeNull();
    expect(report.match).toBe(true);

    const profiled = await profileBundle(a.bundle, { name: 'start-trap' });
    expect(profiled.profile.root.total).toBe(a.fuelUsed);
    const nested = profiled.profile.root.children.flatMap(function walk(n): bigint[] {
      return [...(n.name.startsWith('nested submission') ? [n.total] : []), ...n.children.flatMap(walk)];
    });
    // The start function's fuel shows as the submission's subtree, not as the challenge's own.
    expect(nested.reduce((s, t) => s + t, 0n)).toBe(a.nestedFuel);
  }, 120_000);

  it('a level-1 bundle (recorded before the rule) billed nothing for it, and still replays and profiles as it ran', async () => {
    const old = await record(1);
    expect(old.status).toBe(NESTED_STATUS.TRAPPED);
    expect(old.nestedFuel).toBe(0n);
    const now = await record();
    expect(now.nestedFuel).toBeGreaterThan(0n);

    const report = await replayBundle(old.bundle);
    expect(report.divergence).toBeNull();
    expect(report.match).toBe(true);
    const profiled = await profileBundle(old.bundle, { name: 'start-trap-level-1' });
    expect(profiled.profile.root.total).toBe(old.fuelUsed);
  }, 120_000);
});
