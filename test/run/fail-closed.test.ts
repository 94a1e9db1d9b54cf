import { describe, expect, it } from 'vitest';
import { runGuest } from '../../runtime/cage/run.ts';
import { parseManifest } from '../../runtime/manifest/parse.ts';
import { encodeBundle } from '../../runtime/bundle.ts';
import { replayBundle } from '../../runtime/replay.ts';
import { OutOfFuel } from '../../runtime/errors.ts';
import { HostCalls } from '../../runtime/witness/recorder.ts';
import { wat } from '../engine/wat.ts';

/**
 * spec/fuel.md#F9: the entry segment pre-charges all five calls' straight-line code, so with a
 * budget of 10 the counter is overdrawn before the first call and no check runs until the end.
 * Before the rule (level 0) all five host calls ran and were recorded; now none runs.
 */
const calls = Array.from({ length: 5 }, () => '(drop (call $random_get (i32.const 0) (i32.const 8)))').join(' ');
const module =
  wat(`(module (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (memory (export "memory") 1) (func (export "_start") ${calls}))`);
const manifest = parseManifest({ apiVersion: 'docklock/v1', kind: 'Cage', module: 'm.wasm', limits: { fuel: 10 } });

async function run(wasiLevel: number) {
  return runGuest({ manifest, module, stdin: new Uint8Array(0), inputs: new Map(), mode: 'record', wasiLevel });
}

describe('a host call on an overdrawn fuel counter fails closed', () => {
  it('ends the run out of fuel before the host function runs, and the bundle replays', async () => {
    const out = await run(1);
    expect(out.result.status).toBe('out_of_fuel');
    expect(out.result.fuelUsed).toBe(10n);
    expect(out.result.witnessEntries).toBe(0);
    const report = await replayBundle(
      encodeBundle({
        manifest,
        module,
        stdin: new Uint8Array(0),
        inputs: new Map(),
        witness: out.witnessBytes,
        result: out.result,
      }),
    );
    expect(report.match).toBe(true);
  });

  it('is off at WASI level 0, where bundles recorded before the rule ran every call', async () => {
    const out = await run(0);
    expect(out.result.status).toBe('out_of_fuel');
    expect(out.result.witnessEntries).toBe(5);
  });

  it('checks the JavaScript path too: the implementation is never called', () => {
    const calls = new HostCalls('record');
    let ran = 0;
    const f = calls.wrap('wasi_snapshot_preview1.sched_yield', () => ++ran);
    let over = false;
    calls.fuelMeter = {
      fuelUsedWords: (out, at) => {
        out[at] = 10;
        out[at + 1] = 0;
      },
      fuelLimitWords: (out, at) => {
        out[at] = 10;
        out[at + 1] = 0;
      },
      overdrawn: () => over,
    };
    f();
    expect(ran).toBe(1);
    over = true;
    expect(() => f()).toThrow(OutOfFuel);
    expect(ran).toBe(1);
    expect(calls.log.length).toBe(1);
  });
});
