/**
 * `markRefusedGrow` (issue 12, "status consistency"): the instrumented module flags a `memory.grow`
 * that the memory limit refuses, whatever the number of pages asked, so the cage can tell a failure
 * after a refused grow from any other trap without looking at how full the memory is.
 */
import { describe, expect, it } from 'vitest';
import { instrumentModule } from '../../runtime/instrument/instrument.ts';
import { EXPORT_GROW_REFUSED } from '../../runtime/instrument/instrument.ts';
import { Engine } from '../../index.ts';
import { wat } from './wat.ts';

// One page to start; grow(n) returns what memory.grow returns.
const GROW = wat(`(module (memory (export "memory") 1)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))`);
const PAGE = 65536;

function instance(markRefusedGrow: boolean): { grow: (n: number) => number; refused: () => number | undefined } {
  const out = instrumentModule(GROW, { memoryLimit: 4 * PAGE, markRefusedGrow });
  const e = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(out.bytes)), {}).exports;
  const fuel = e.docklock_fuel as WebAssembly.Global;
  fuel.value = 10n ** 9n;
  const flag = e[EXPORT_GROW_REFUSED] as WebAssembly.Global | undefined;
  return { grow: e.grow as (n: number) => number, refused: () => flag?.value as number | undefined };
}

describe('markRefusedGrow', () => {
  it('flags a grow the limit refuses, small or large, and not one it grants', () => {
    const a = instance(true);
    expect(a.grow(2)).toBe(1); // 3 of 4 pages
    expect(a.refused()).toBe(0);
    expect(a.grow(1)).toBe(3); // exactly at the limit
    expect(a.refused()).toBe(0);
    expect(a.grow(0)).toBe(4); // asking nothing at the limit is granted
    expect(a.refused()).toBe(0);
    expect(a.grow(1)).toBe(-1);
    expect(a.refused()).toBe(1);
    // Far from the limit, a large request is refused too (the case 1 MiB allocations hit).
    const b = instance(true);
    expect(b.grow(16)).toBe(-1);
    expect(b.refused()).toBe(1);
    expect(b.grow(-1 >>> 0)).toBe(-1); // delta 2^32-1: unsigned, never wraps to "fits"
  });

  it('changes neither the result of a grow nor the fuel, and is absent unless asked', () => {
    const on = instance(true);
    const off = instance(false);
    expect(off.refused()).toBeUndefined();
    for (const n of [1, 5, 2, 1]) expect(on.grow(n)).toBe(off.grow(n));
    const fuelOf = (mark: boolean): bigint => {
      const out = instrumentModule(GROW, { memoryLimit: 4 * PAGE, markRefusedGrow: mark });
      const e = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(out.bytes)), {}).exports;
      const fuel = e.docklock_fuel as WebAssembly.Global;
      fuel.value = 10n ** 9n;
      for (const n of [1, 5, 2]) (e.grow as (n: number) => number)(n);
      return fuel.value as bigint;
    };
    expect(fuelOf(true)).toBe(fuelOf(false));
  });

  it('is part of the compile cache key only when set', () => {
    const engine = new Engine({ memoryLimit: 4 * PAGE });
    const plain = engine.cacheKey(GROW).key;
    expect(engine.cacheKey(GROW, { markRefusedGrow: false }).key).toBe(plain);
    expect(engine.cacheKey(GROW, { markRefusedGrow: true }).key).not.toBe(plain);
  });
});
