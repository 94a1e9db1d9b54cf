import { describe, expect, it } from 'vitest';
import { compile, OutOfFuel } from '../../index.ts';
import type { Instance } from '../../index.ts';
import { DivergenceStop, HostCalls } from '../../runtime/witness/recorder.ts';
import type { FuelMeter, HostValue } from '../../runtime/witness/recorder.ts';
import { GuestFault } from '../../runtime/guest-memory.ts';
import { toHex } from '../../runtime/hash.ts';
import type { WitnessEntry } from '../../runtime/witness/entry.ts';
import { commitEntries, WitnessLog } from '../../runtime/witness/log.ts';
import { wat } from '../engine/wat.ts';

const MAX_FUEL = (1n << 63n) - 1n;

function wordsOf(i: Instance): bigint {
  const out = new Uint32Array(3);
  i.fuelUsedWords(out, 1);
  return (BigInt(out[2]) << 32n) | BigInt(out[1]);
}

describe('Instance.fuelUsedWords', () => {
  const LOOP = `(module (func (export "f") (param $n i32) (local $i i32)
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))`;

  it('equals fuelUsed() for small and huge budgets, after charges, an overdraft and a new budget', async () => {
    const mod = await compile(wat(LOOP), { imports: ['*'] });
    for (const budget of [
      0n,
      1n,
      1000n,
      (1n << 32n) - 1n,
      1n << 32n,
      (1n << 32n) + 12_345n,
      (1n << 53n) - 1n,
      1n << 53n,
      (1n << 53n) + 1n,
      MAX_FUEL,
    ]) {
      const inst = mod.instantiateSync({}, { fuel: budget });
      expect(wordsOf(inst)).toBe(inst.fuelUsed());
      try {
        (inst.exports.f as (n: number) => void)(100);
      } catch (e) {
        expect(e).toBeInstanceOf(OutOfFuel);
      }
      expect(wordsOf(inst), `budget ${budget}`).toBe(inst.fuelUsed());
      inst.charge(1n << 33n);
      expect(wordsOf(inst)).toBe(inst.fuelUsed());
      inst.setFuel((1n << 40n) + 7n);
      expect(wordsOf(inst)).toBe(0n);
      inst.charge((1n << 32n) + 3n);
      expect(wordsOf(inst)).toBe((1n << 32n) + 3n);
      expect(wordsOf(inst)).toBe(inst.fuelUsed());
    }
  });

  it('is exact on both sides of 2^53, where the helper switches from an f64 to two halves', async () => {
    const mod = await compile(wat(LOOP), { imports: ['*'] });
    const inst = mod.instantiateSync({}, { fuel: MAX_FUEL });
    for (const used of [(1n << 53n) - 2n, 1n, 1n, 1n, (1n << 40n) + 3n]) {
      inst.charge(used);
      expect(wordsOf(inst)).toBe(inst.fuelUsed());
    }
  });

  it("instances never see each other's value", async () => {
    const mod = await compile(wat(LOOP), { imports: ['*'] });
    const a = mod.instantiateSync({}, { fuel: 1n << 40n });
    const b = mod.instantiateSync({}, { fuel: 1000n });
    a.charge(5n);
    b.charge(7n);
    expect([wordsOf(a), wordsOf(b), wordsOf(a)]).toEqual([5n, 7n, 5n]);
  });
});

/** A meter whose reading the test sets before each call. */
class FakeMeter implements FuelMeter {
  fuel = 0n;
  fuelUsedWords(out: Uint32Array, at: number): void {
    out[at] = Number(this.fuel & 0xffff_ffffn);
    out[at + 1] = Number(this.fuel >> 32n);
  }
}

type Step = { fn: 'get' | 'put' | 'big' | 'fault'; args: HostValue[]; fuel: bigint };

/** Host functions that write into a small guest memory, wrapped by `calls`. */
function host(calls: HostCalls): Record<Step['fn'], (...a: HostValue[]) => HostValue | undefined> {
  const memory = new WebAssembly.Memory({ initial: 1 });
  calls.mem.attach(memory);
  return {
    get: calls.wrap('test.get', (ptr: number, len: number) => {
      calls.mem.write(
        ptr,
        Uint8Array.from({ length: len }, (_, i) => (ptr + i) & 0xff),
      );
      return 0;
    }),
    put: calls.wrap('test.put', (ptr: number, v: bigint) => {
      calls.mem.setU64(ptr, v);
      calls.mem.setU32(ptr + 8, Number(v & 0xffn));
      return v;
    }),
    big: calls.wrap('test.big', (x: number) => {
      calls.pendingData = Uint8Array.of(x & 0xff, 1, 2);
      return x / 4;
    }),
    fault: calls.wrap(
      'test.fault',
      (ptr: number) => {
        calls.mem.check(ptr, 1 << 20);
        throw new GuestFault(ptr, 1);
      },
      -9,
    ),
  };
}

const STEPS: Step[] = [
  { fn: 'get', args: [16, 8], fuel: 0n },
  { fn: 'put', args: [64, (1n << 63n) + 5n], fuel: 17n },
  { fn: 'big', args: [7], fuel: (1n << 32n) + 1n },
  { fn: 'fault', args: [3], fuel: (1n << 40n) + 9n },
  { fn: 'get', args: [100, 40], fuel: (1n << 63n) - 1n },
];

function record(steps: Step[], calls = new HostCalls('record')): HostCalls {
  const meter = new FakeMeter();
  calls.fuelMeter = meter;
  const h = host(calls);
  for (const s of steps) {
    meter.fuel = s.fuel;
    h[s.fn](...s.args);
  }
  return calls;
}

describe('HostCalls.wrap', () => {
  it('records each call (name, args, result, writes, fuel, data) as append would', () => {
    const calls = record(STEPS);
    const entries = calls.log.entries();
    const generic = new WitnessLog();
    for (const { index: _, ...e } of entries) generic.append(e);
    expect(entries.map((e) => [e.name, e.args, e.result, e.fuel])).toEqual([
      ['test.get', [16, 8], 0, 0n],
      ['test.put', [64, (1n << 63n) + 5n], (1n << 63n) + 5n, 17n],
      ['test.big', [7], 1.75, (1n << 32n) + 1n],
      ['test.fault', [3], -9, (1n << 40n) + 9n],
      ['test.get', [100, 40], 0, (1n << 63n) - 1n],
    ]);
    expect(entries[0].writes.map((w) => [w.ptr, [...w.bytes]])).toEqual([[16, [16, 17, 18, 19, 20, 21, 22, 23]]]);
    expect(entries[1].writes.map((w) => w.ptr)).toEqual([64, 72]);
    expect(entries[2].data).toEqual(Uint8Array.of(7, 1, 2));
    expect(entries[3].writes).toEqual([]);
    expect(toHex(calls.log.finalize().root)).toBe(toHex(generic.finalize().root));
    expect(toHex(calls.log.finalize().root)).toBe(toHex(commitEntries(entries).root));
  });

  it('replays a recording without divergence, and stops at the first differing field', () => {
    const recorded: readonly WitnessEntry[] = record(STEPS).log.entries();
    const again = record(STEPS, new HostCalls('replay', recorded));
    expect(again.checkComplete()).toBeNull();
    expect(toHex(again.log.finalize().root)).toBe(toHex(commitEntries(recorded).root));

    const diverge = (steps: Step[]): DivergenceStop => {
      try {
        record(steps, new HostCalls('replay', recorded));
      } catch (e) {
        if (e instanceof DivergenceStop) return e;
        throw e;
      }
      throw new Error('no divergence');
    };
    // Only the high word of the fuel differs.
    const fuel = diverge(STEPS.map((s, i) => (i === 2 ? { ...s, fuel: s.fuel + (1n << 33n) } : s)));
    expect(fuel.divergence).toMatchObject({ index: 2, import: 'test.big', field: 'fuel' });
    expect(fuel.divergence.actual?.fuel).toBe((1n << 32n) + 1n + (1n << 33n));
    expect(diverge(STEPS.map((s, i) => (i === 1 ? { ...s, args: [64, 5n] } : s))).divergence).toMatchObject({
      index: 1,
      field: 'args',
    });
    expect(diverge(STEPS.map((s, i) => (i === 4 ? { ...s, args: [101, 40] } : s))).divergence).toMatchObject({
      index: 4,
      field: 'args',
    });
    expect(
      diverge(STEPS.map((s, i) => (i === 0 ? { ...s, fn: 'big' as const, args: [7] } : s))).divergence,
    ).toMatchObject({ index: 0, field: 'name' });
    expect(diverge([...STEPS, STEPS[0]]).divergence).toMatchObject({ index: 5, field: 'extra', expected: null });
    const short = record(STEPS.slice(0, 3), new HostCalls('replay', recorded));
    expect(short.checkComplete()).toMatchObject({ index: 3, field: 'missing' });
  });
});
