import { describe, expect, it } from 'vitest';
import {
  ENGINE_DEFAULTS,
  Engine,
  compile,
  compileSync,
  Module,
  CompiledModule,
  DeterministicTrap,
  OutOfFuel,
  StackExhausted,
  Trap,
  ValidationError,
} from '../../index.ts';
import { MANIFEST_DEFAULTS } from '../../runtime/manifest/parse.ts';
import { wat } from './wat.ts';

const ADD = wat('(module (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))');
const RECURSE = wat(
  '(module (func $r (export "r") (param i32) (result i32) (if (result i32) (local.get 0) (then (call $r (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 0)))))',
);

describe('Engine', () => {
  it('serves compile and compileSync from one cache and one key', async () => {
    const engine = new Engine();
    const a = await engine.compile(ADD);
    expect(engine.compileSync(ADD)).toBe(a);
    const b = engine.compileSync(RECURSE);
    expect(await engine.compile(RECURSE)).toBe(b);
    expect(engine.cacheKey(ADD).key).toBe(a.key);
    expect(engine.cacheKey(ADD, { stackLimit: 20_000 }).key).not.toBe(a.key);
  });

  it('fills options from its configuration, and a module option wins', async () => {
    const engine = new Engine({ stackLimit: 2_048, memoryLimit: 1 << 20 });
    expect(engine.config.stackLimit).toBe(2_048);
    expect(engine.config.limits).toEqual(ENGINE_DEFAULTS.limits);
    const small = await engine.compile(RECURSE);
    expect(small.share().stackLimit).toBe(2_048);
    const inst = await small.instantiate({}, { fuel: 10n ** 9n });
    expect(() => (inst.exports.r as (n: number) => number)(100_000)).toThrow(StackExhausted);
    const big = await engine.compile(RECURSE, { stackLimit: 40_000 });
    expect(big.share().stackLimit).toBe(40_000);
    await expect(new Engine({ limits: { functions: 0 } }).compile(ADD)).rejects.toMatchObject({
      code: 'DL_ERR_LIMIT_FUNCTION_COUNT',
    });
  });

  it('drops the least recently used module past compileCacheSize', async () => {
    const engine = new Engine({ compileCacheSize: 1 });
    const a = await engine.compile(ADD);
    await engine.compile(RECURSE);
    expect(await engine.compile(ADD)).not.toBe(a);
    const none = new Engine({ compileCacheSize: 0 });
    expect(none.compileSync(ADD)).not.toBe(none.compileSync(ADD));
    expect(() => new Engine({ compileCacheSize: -1 })).toThrow(RangeError);
  });

  it('keeps separate engines apart and backs the top-level compile with the default engine', async () => {
    const mine = new Engine();
    expect(await mine.compile(ADD)).not.toBe(await Engine.default.compile(ADD));
    expect(await compile(ADD)).toBe(await Engine.default.compile(ADD));
    expect(compileSync(ADD)).toBe(await compile(ADD));
    expect(Module).toBe(CompiledModule);
  });

  it('forgets a failed compilation so the error is thrown again, never cached', async () => {
    const engine = new Engine();
    const bad = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1]);
    await expect(engine.compile(bad)).rejects.toBeInstanceOf(ValidationError);
    expect(() => engine.compileSync(bad)).toThrow(ValidationError);
  });

  it('documents its two stack defaults: 40,000 for the library, 65,536 for a cage run', async () => {
    expect(ENGINE_DEFAULTS.stackLimit).toBe(40_000);
    expect(MANIFEST_DEFAULTS.stack).toBe(65_536);
    expect(ENGINE_DEFAULTS.memoryLimit).toBe(MANIFEST_DEFAULTS.memory);
    const inst = await (await compile(wat('(module (func (export "spin") (loop (br 0))))'))).instantiate(
      {},
      { fuel: 1000n },
    );
    expect(() => (inst.exports.spin as () => void)()).toThrow(OutOfFuel);
  });
});

describe('OutOfFuel and StackExhausted are Traps (as in wasmtime, where running out of fuel is a trap code)', () => {
  it('keeps instanceof consistent for the traps a guest really raises', async () => {
    const spin = await (await compile(wat('(module (func (export "spin") (loop (br 0))))'))).instantiate(
      {},
      { fuel: 1000n },
    );
    const deep = await (await compile(RECURSE)).instantiate({}, { fuel: 10n ** 12n });
    const div = await (
      await compile(wat('(module (func (export "div") (result i32) (i32.div_u (i32.const 1) (i32.const 0))))'))
    ).instantiate({}, { fuel: 1000n });
    const thrown = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return e;
      }
      throw new Error('did not trap');
    };
    const fuel = thrown(() => (spin.exports.spin as () => void)());
    const stack = thrown(() => (deep.exports.r as (n: number) => number)(1_000_000));
    const other = thrown(() => (div.exports.div as () => number)());
    for (const [e, cls, code] of [
      [fuel, OutOfFuel, 'out_of_fuel'],
      [stack, StackExhausted, 'stack_exhausted'],
      [other, Trap, 'integer_divide_by_zero'],
    ] as const) {
      expect(e).toBeInstanceOf(cls);
      expect(e).toBeInstanceOf(Trap);
      expect(e).toBeInstanceOf(DeterministicTrap);
      expect((e as Trap).trap).toBe(code);
      expect((e as Trap).code).toBe(`DL_ERR_TRAP_${code.toUpperCase()}`);
    }
    expect(other).not.toBeInstanceOf(OutOfFuel);
    expect(DeterministicTrap).toBe(Trap);
  });
});
