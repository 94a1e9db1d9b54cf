/**
 * The witness budget (spec/wasi.md#W9): every host call's arguments, result and memory writes stay
 * in the host's memory until the run ends, so a guest that makes host calls in a loop would grow
 * the validator's memory by gigabytes within its fuel. From ABI level 4 a host call made while the
 * witness holds more bytes than the run's memory limit ends the run with `memory_limit`, on every
 * node at the same call; bundles of earlier levels replay without the rule.
 */
import { describe, expect, it } from 'vitest';
import { runGuest } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { decodeBundle, encodeBundle } from '../../runtime/bundle.ts';
import { replayDecoded } from '../../runtime/replay.ts';
import { wat } from '../engine/wat.ts';

const EMPTY = new Uint8Array(0);
const MEMORY = 1024 * 1024;

/** Calls clock_time_get forever (8 bytes written a call), or random_get of 256 KiB forever. */
const loop = (call: 'clock' | 'random'): Uint8Array =>
  wat(`(module
    (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
    (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
    (memory (export "memory") 16)
    (func (export "_start")
      (loop $again
        ${call === 'clock' ? '(drop (call $clock (i32.const 1) (i64.const 1) (i32.const 64)))' : '(drop (call $random (i32.const 1024) (i32.const 262144)))'}
        (br $again))))`);

const manifestWith = (fuel: number) =>
  parseManifest({
    apiVersion: 'docklock/v1',
    kind: 'Cage',
    module: 'm.wasm',
    grants: ['wasi', 'clock', 'random'],
    limits: { fuel, memory: MEMORY },
  });

async function record(module: Uint8Array, wasiLevel?: number, fuel = 200_000_000) {
  const manifest = manifestWith(fuel);
  const level = wasiLevel === undefined ? {} : { wasiLevel };
  const out = await runGuest({ manifest, module, stdin: EMPTY, inputs: new Map(), mode: 'record', ...level });
  const bundle = encodeBundle({
    manifest,
    module,
    stdin: EMPTY,
    inputs: new Map(),
    witness: out.witnessBytes,
    result: out.result,
    ...level,
  });
  return { out, bundle };
}

describe('the witness budget (spec/wasi.md#W9)', () => {
  it('ends a run of many small host calls with memory_limit, at the same call on replay', async () => {
    const { out, bundle } = await record(loop('clock'));
    expect(out.result.status).toBe('memory_limit');
    expect(out.result.trap).toBeNull();
    // Stopped by the budget, long before the fuel ran out: one entry is a few dozen bytes.
    expect(out.result.fuelUsed).toBeLessThan(out.result.fuelLimit);
    expect(out.result.witnessEntries).toBeGreaterThan(MEMORY / 128);
    expect(out.result.witnessEntries).toBeLessThan(MEMORY / 32);
    const again = await record(loop('clock'));
    expect(again.out.result.witnessEntries).toBe(out.result.witnessEntries);
    const report = await replayDecoded(decodeBundle(bundle));
    expect(report.match).toBe(true);
  });

  it('counts the bytes each call writes into guest memory', async () => {
    const { out, bundle } = await record(loop('random'));
    expect(out.result.status).toBe('memory_limit');
    // 256 KiB a call: the fifth call finds four entries (just over 1 MiB) and ends the run.
    expect(out.result.witnessEntries).toBe(4);
    expect((await replayDecoded(decodeBundle(bundle))).match).toBe(true);
  });

  it('does not apply to bundles recorded before ABI level 4, which replay as they ran', async () => {
    // A fuel budget for a few dozen calls: without the rule, only fuel bounds the witness.
    const { out, bundle } = await record(loop('random'), 3, 300);
    expect(out.result.status).toBe('out_of_fuel');
    expect(out.result.witnessEntries).toBeGreaterThan(4);
    expect(decodeBundle(bundle).wasiLevel).toBe(3);
    expect((await replayDecoded(decodeBundle(bundle))).match).toBe(true);
  });
});
