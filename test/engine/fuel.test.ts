import { describe, expect, it } from 'vitest';
import { compile, OutOfFuel, DEFAULT_COST_TABLE } from '../../index.ts';
import type { Instance } from '../../index.ts';
import { wat } from './wat.ts';
import { FOLD_PARENT_MAX, FOLD_SEGMENT_MAX } from '../../runtime/instrument/analyze-body.ts';

type Fn = (...args: unknown[]) => unknown;
const fn = (inst: Instance, name: string): Fn => inst.exports[name] as Fn;

async function instance(text: string, fuel = 1_000_000n): Promise<Instance> {
  const mod = await compile(wat(text), { imports: ['*'] });
  return mod.instantiate({}, { fuel });
}

/**
 * Fuel-cost assertions as a tiny table (in the spirit of wasmtime's tests/all/fuel.wast):
 * each row is the exact fuel one call of `f` must use under the default cost table.
 */
// Fold bounds of spec/fuel.md#F8, from the rewriter itself so the rows follow its constants.
const BIG_ARM_COST = 2n * BigInt(Math.floor(FOLD_SEGMENT_MAX / 2) + 1);
const BIG_ARM = '(drop (i32.const 1)) '.repeat(Number(BIG_ARM_COST / 2n));
const FOLDED_CHILDREN = BigInt(Math.floor(FOLD_PARENT_MAX / 6));

const FUEL_TABLE: [cost: bigint, body: string, line: string][] = [
  [0n, '(func (export "f"))', 'empty function'],
  [2n, '(func (export "f") nop i32.const 1 drop)', 'nop is free, const and drop cost 1 each'],
  [4n, '(func (export "f") (drop (i32.add (i32.const 1) (i32.const 2))))', 'three operators and a drop'],
  [4n, '(func (export "f") (block (drop (i32.const 1))) (drop (i32.const 2)) )', 'blocks merge into one segment'],
  [5n, '(func (export "f") (drop (i32.div_s (i32.const 4) (i32.const 2))))', 'division costs 2'],
  [
    4n,
    '(func (export "f") (if (i32.const 0) (then (drop (i32.const 1)))) (nop))',
    'a small untaken arm is charged with its parent (spec: fuel.md#F8)',
  ],
  [4n, '(func (export "f") (if (i32.const 1) (then (drop (i32.const 1)))) (nop))', 'a small taken arm costs the same'],
  [
    2n,
    `(func (export "f") (if (i32.const 0) (then ${BIG_ARM})) (nop))`,
    'an untaken arm over the fold bound costs nothing: const + if',
  ],
  [
    2n + BIG_ARM_COST,
    `(func (export "f") (if (i32.const 1) (then ${BIG_ARM})) (nop))`,
    'a taken arm over the fold bound adds its body',
  ],
  [
    2n + 6n * FOLDED_CHILDREN,
    `(func (export "f") (local i32) (block (br_if 0 (i32.const 1)) ${'(drop (i32.const 1)) (drop (i32.const 1)) (br_if 0 (local.get 0)) '.repeat(Number(FOLDED_CHILDREN) + 3)}))`,
    'a parent takes in at most FOLD_PARENT_MAX: the branch out pays its 2 plus the skipped children of 6 that fit',
  ],
  [
    2n + 3n * 5n + 4n,
    '(func (export "f") (local i32) (local.set 0 (i32.const 3)) (loop (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1))))) (drop (i32.const 1)) (drop (i32.const 1)))',
    'a segment running past a loop end is not charged per iteration',
  ],
];

describe('fuel accounting', () => {
  for (const [cost, body, what] of FUEL_TABLE) {
    it(`${what}: ${body}`, async () => {
      const inst = await instance(`(module ${body})`);
      fn(inst, 'f')();
      expect(inst.fuelUsed()).toBe(cost);
    });
  }

  const LOOP = `(module (func (export "f") (param $n i32) (result i32) (local $i i32)
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
      (local.get $i)))`;

  it('a loop costs exactly its body per iteration', async () => {
    // per iteration: get, const, add, set, get, get, lt_u, br_if = 8; plus the final local.get = 1
    for (const n of [1, 2, 10, 1000]) {
      const inst = await instance(LOOP);
      expect(fn(inst, 'f')(n)).toBe(n);
      expect(inst.fuelUsed()).toBe(BigInt(8 * n + 1));
    }
  });

  it('every budget below the total runs out of fuel, every budget at or above it succeeds identically', async () => {
    const total = 8n * 20n + 1n;
    const counters = new Map<bigint, bigint>();
    for (let budget = 0n; budget <= total + 3n; budget++) {
      for (let run = 0; run < 2; run++) {
        const inst = await instance(LOOP, budget);
        if (budget < total) {
          expect(() => fn(inst, 'f')(20)).toThrow(OutOfFuel);
          expect(inst.fuelUsed()).toBe(budget);
          // The overdraft at the trap point is the same on every run.
          const c = inst.fuelCounter();
          if (run === 0) counters.set(budget, c);
          else expect(c).toBe(counters.get(budget));
        } else {
          expect(fn(inst, 'f')(20)).toBe(20);
          expect(inst.fuelUsed()).toBe(total);
        }
      }
    }
  });

  it("out of fuel is distinguishable from the guest's own unreachable", async () => {
    const inst = await instance(
      '(module (func (export "u") unreachable) (func (export "l") (loop $l (br $l))))',
      1000n,
    );
    let err: unknown;
    try {
      fn(inst, 'u')();
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ name: 'Trap', trap: 'unreachable' });
    expect(() => fn(inst, 'l')()).toThrow(OutOfFuel);
    expect(inst.fuelRemaining()).toBe(0n);
  });

  it('bulk memory operations are charged by length before they run', async () => {
    const text = `(module (memory 1) (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 7) (local.get 0))))`;
    const small = await instance(text);
    fn(small, 'fill')(16);
    const big = await instance(text);
    fn(big, 'fill')(65536);
    const perUnit = 1n << BigInt(DEFAULT_COST_TABLE.bulkByteShift);
    expect(big.fuelUsed() - small.fuelUsed()).toBe((65536n - 16n) / perUnit);
    // Not enough fuel for the length: trapped before filling anything.
    const poor = await instance(text, 100n);
    expect(() => fn(poor, 'fill')(65536)).toThrow(OutOfFuel);
    const mem = poor.exports.memory;
    expect(mem).toBeUndefined();
  });

  it('memory.grow is charged per page granted, and the start function is metered', async () => {
    const text = `(module (memory 1) (global $g (mut i32) (i32.const 0))
      (func $s (global.set $g (memory.grow (i32.const 3))))
      (start $s)
      (func (export "g") (result i32) (global.get $g)))`;
    const inst = await instance(text);
    expect(fn(inst, 'g')()).toBe(1);
    const startCost = inst.fuelUsed() - 1n;
    expect(startCost).toBe(1n + 2n + 3n * BigInt(DEFAULT_COST_TABLE.memoryGrowPageCost) + 1n);
    await expect(instance(text, 10n)).rejects.toThrow(OutOfFuel);
  });

  it("callers paying an internal function's entry charge leaves the total unchanged (spec: fuel.md#F7)", async () => {
    // The recursive arm costs more than FOLD_SEGMENT_MAX, so it keeps its own charge either way
    // (spec: fuel.md#F8) and only the entry charge's place differs between the two modules.
    const heavy = '(drop (i32.const 0)) '.repeat(Math.ceil(FOLD_SEGMENT_MAX / 2));
    const body = (exportHelper: boolean): string => `(module
      (func $helper ${exportHelper ? '(export "helper")' : ''} (param i32) (result i32)
        (if (result i32) (i32.lt_s (local.get 0) (i32.const 2)) (then (local.get 0))
          (else ${heavy} (i32.add (call $helper (i32.sub (local.get 0) (i32.const 1))) (call $helper (i32.sub (local.get 0) (i32.const 2)))))))
      (func (export "f") (param i32) (result i32) (call $helper (local.get 0))))`;
    const internal = await instance(body(false));
    const exported = await instance(body(true));
    expect(fn(internal, 'f')(15)).toBe(610);
    expect(fn(exported, 'f')(15)).toBe(610);
    expect(internal.fuelUsed()).toBe(exported.fuelUsed());
    // And the exact budget still suffices while one less runs out.
    const total = internal.fuelUsed();
    expect(fn(await instance(body(false), total), 'f')(15)).toBe(610);
    const short = await instance(body(false), total - 1n);
    expect(() => fn(short, 'f')(15)).toThrow(OutOfFuel);
  });

  it('fuel is identical across instances of the same compiled module', async () => {
    const mod = await compile(wat(LOOP));
    const used: bigint[] = [];
    for (let i = 0; i < 5; i++) {
      const inst = await mod.instantiate({}, { fuel: 10n ** 12n });
      fn(inst, 'f')(12345);
      used.push(inst.fuelUsed());
    }
    expect(new Set(used).size).toBe(1);
  });
});
