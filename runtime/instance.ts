/**
 * A running instance of an instrumented module: the guest's own exports with their original
 * names and signatures, plus fuel accounting. Every exported function is wrapped so that
 *   - a trap becomes a typed `DeterministicTrap` (traps.ts),
 *   - the stack-depth counter is restored after the call, since a trap skips the frames' exit code
 *     (spec: stack.md#S5), which also makes re-entrant host → guest calls nest correctly.
 */
import { classifyTrap } from './traps.ts';
import {
  DEFAULT_STACK_LIMIT,
  EXPORT_DEPTH,
  EXPORT_FUEL,
  EXPORT_GROW_REFUSED,
  EXPORT_START,
  EXPORT_TRAP,
} from './instrument/instrument.ts';
import { CHAIN_MAX_WEIGHT } from './instrument/frame-plan.ts';
import { InternalError, OutOfFuel, StackExhausted } from './errors.ts';
import type { FuncType } from './instrument/module.ts';

/**
 * On every exported function wrapper: the wasm type of the function it wraps. V8 links a JS
 * function against any function import, so `CompiledModule.instantiate` checks this type when a
 * docklock export is imported by another docklock module, as V8 does for wasm functions.
 */
export const kFuncType: unique symbol = Symbol.for('docklock.funcType');

export interface InstanceHandles {
  fuel: WebAssembly.Global;
  depth: WebAssembly.Global;
  trap: WebAssembly.Global;
  /** Guest calls in progress on this instance (more than one only when a host function calls back in). */
  active: number;
  stackLimit: number;
}

/** Calls `fn` as a guest entry: classifies traps and restores the depth counter. */
function guard<T>(h: InstanceHandles, fn: () => T): T {
  const saved = h.depth.value as number;
  if (h.active > 0) {
    // A host function calling back into the guest starts a new unaccounted chain of frames above
    // the accounted ones; the reserve of spec: stack.md#S4 covers it, so count it (spec: stack.md#S5).
    const depth = saved + CHAIN_MAX_WEIGHT;
    if (depth > h.stackLimit - CHAIN_MAX_WEIGHT) throw new StackExhausted();
    h.depth.value = depth;
  }
  h.active++;
  try {
    const result = fn();
    // Charges between the last check and the return may overdraw the counter: the run still
    // consumed more than its budget, so it is out of fuel (spec: fuel.md#F5).
    if ((h.fuel.value as bigint) < 0n) throw new OutOfFuel();
    return result;
  } catch (err) {
    const reason = h.trap.value as number;
    h.trap.value = 0;
    throw classifyTrap(err, reason);
  } finally {
    h.active--;
    h.depth.value = saved;
  }
}

// fuelUsed() without a BigInt: reading an i64 global from JavaScript allocates one (the largest part
// of what recording a call cost: bench/RESULTS.md, witness). These wasm functions compute the same
// clamped value; `small` returns it as an f64 (exact below 2^53, else −1), and `lo`/`hi` give its
// halves for the rare larger budgets. `used` is the i64 itself, for wasm callers: the host-call
// trampolines (host-functions/trampolines.ts) read the fuel without leaving wasm.
//   (module
//     (import "m" "fuel" (global $fuel (mut i64)))
//     (import "m" "limit" (global $limit (mut i64)))
//     (func $used (export "used") (result i64) (local $c i64)
//       (local.set $c (global.get $fuel))
//       (select (global.get $limit) (i64.sub (global.get $limit) (local.get $c))
//               (i64.lt_s (local.get $c) (i64.const 0))))
//     (func (export "small") (result f64) (local $u i64)
//       (local.set $u (call $used))
//       (select (f64.convert_i64_u (local.get $u)) (f64.const -1)
//               (i64.lt_u (local.get $u) (i64.const 0x20000000000000))))
//     (func (export "lo") (result i32) (i32.wrap_i64 (call $used)))
//     (func (export "hi") (result i32) (i32.wrap_i64 (i64.shr_u (call $used) (i64.const 32)))))
const FUEL_USED_WASM = Uint8Array.of(
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00,
  0x01,
  0x0d,
  0x03,
  0x60,
  0x00,
  0x01,
  0x7e,
  0x60,
  0x00,
  0x01,
  0x7c,
  0x60,
  0x00,
  0x01,
  0x7f,
  0x02,
  0x16,
  0x02,
  0x01,
  0x6d,
  0x04,
  0x66,
  0x75,
  0x65,
  0x6c,
  0x03,
  0x7e,
  0x01,
  0x01,
  0x6d,
  0x05,
  0x6c,
  0x69,
  0x6d,
  0x69,
  0x74,
  0x03,
  0x7e,
  0x01,
  0x03,
  0x05,
  0x04,
  0x00,
  0x01,
  0x02,
  0x02,
  0x07,
  0x1a,
  0x04,
  0x04,
  0x75,
  0x73,
  0x65,
  0x64,
  0x00,
  0x00,
  0x05,
  0x73,
  0x6d,
  0x61,
  0x6c,
  0x6c,
  0x00,
  0x01,
  0x02,
  0x6c,
  0x6f,
  0x00,
  0x02,
  0x02,
  0x68,
  0x69,
  0x00,
  0x03,
  0x0a,
  0x48,
  0x04,
  0x15,
  0x01,
  0x01,
  0x7e,
  0x23,
  0x00,
  0x21,
  0x00,
  0x23,
  0x01,
  0x23,
  0x01,
  0x20,
  0x00,
  0x7d,
  0x20,
  0x00,
  0x42,
  0x00,
  0x53,
  0x1b,
  0x0b,
  0x21,
  0x01,
  0x01,
  0x7e,
  0x10,
  0x00,
  0x21,
  0x00,
  0x20,
  0x00,
  0xba,
  0x44,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0x00,
  0xf0,
  0xbf,
  0x20,
  0x00,
  0x42,
  0x80,
  0x80,
  0x80,
  0x80,
  0x80,
  0x80,
  0x80,
  0x10,
  0x54,
  0x1b,
  0x0b,
  0x05,
  0x00,
  0x10,
  0x00,
  0xa7,
  0x0b,
  0x08,
  0x00,
  0x10,
  0x00,
  0x42,
  0x20,
  0x88,
  0xa7,
  0x0b,
);
let fuelUsedModule: WebAssembly.Module | undefined;

/** The exports of the fuel helper above. */
interface FuelHelper {
  used: () => bigint;
  small: () => number;
  lo: () => number;
  hi: () => number;
}

function wrapFunction(
  h: InstanceHandles,
  name: string,
  f: (...args: unknown[]) => unknown,
  type: FuncType | undefined,
): (...args: unknown[]) => unknown {
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    return guard(h, () => f.apply(this, args));
  };
  Object.defineProperty(wrapped, 'name', { value: name });
  Object.defineProperty(wrapped, 'length', { value: f.length });
  if (type !== undefined) Object.defineProperty(wrapped, kFuncType, { value: type });
  return wrapped;
}

/** An instantiated guest. */
export class Instance {
  /** The guest's exports under their original names; functions throw typed traps. */
  readonly exports: Record<string, unknown>;
  readonly raw: WebAssembly.Instance;
  readonly #h: InstanceHandles;
  #limit: bigint;
  /** The budget as the fuel helper sees it; created with the helper. */
  #limitG: WebAssembly.Global | undefined;
  #fuelHelper: FuelHelper | undefined;

  /** `exportTypes`: the wasm type of each exported function, by export name. */
  constructor(
    raw: WebAssembly.Instance,
    fuel: bigint,
    exportTypes?: ReadonlyMap<string, FuncType>,
    stackLimit = DEFAULT_STACK_LIMIT,
  ) {
    const e = raw.exports;
    const fuelG = e[EXPORT_FUEL];
    const depthG = e[EXPORT_DEPTH];
    const trapG = e[EXPORT_TRAP];
    if (
      !(fuelG instanceof WebAssembly.Global) ||
      !(depthG instanceof WebAssembly.Global) ||
      !(trapG instanceof WebAssembly.Global)
    ) {
      throw new InternalError('instance lacks docklock instrumentation exports: was the module compiled by docklock?');
    }
    this.raw = raw;
    this.#h = { fuel: fuelG, depth: depthG, trap: trapG, active: 0, stackLimit };
    this.#limit = fuel;
    fuelG.value = fuel;
    const out: Record<string, unknown> = Object.create(null);
    for (const [name, value] of Object.entries(e)) {
      if (
        name === EXPORT_FUEL ||
        name === EXPORT_DEPTH ||
        name === EXPORT_TRAP ||
        name === EXPORT_START ||
        name === EXPORT_GROW_REFUSED
      )
        continue;
      out[name] =
        typeof value === 'function'
          ? wrapFunction(this.#h, name, value as (...args: unknown[]) => unknown, exportTypes?.get(name))
          : value;
    }
    this.exports = Object.freeze(out);
  }

  /** Runs the module's start function, metered like everything else (called by `instantiate`). */
  runStart(): void {
    const start = this.raw.exports[EXPORT_START];
    if (typeof start === 'function') this.guard(() => (start as () => void)());
  }

  /**
   * Runs `fn`, which calls into this instance's raw exports (`raw.exports`), exactly as the
   * wrapped exports do: traps become typed `DeterministicTrap`s, an overdrawn counter is
   * `OutOfFuel`, and the depth counter is restored (spec: stack.md#S5). For callers that need the
   * wasm function itself, e.g. to pass it to another module.
   */
  guard<T>(fn: () => T): T {
    return guard(this.#h, fn);
  }

  /**
   * Whether the memory limit has refused a `memory.grow` of this instance (false when the module
   * was compiled without `markRefusedGrow`).
   */
  growRefused(): boolean {
    const flag = this.raw.exports[EXPORT_GROW_REFUSED];
    return flag instanceof WebAssembly.Global && flag.value !== 0;
  }

  /** Fuel charged so far, at most the budget. */
  fuelUsed(): bigint {
    const used = this.#limit - (this.#h.fuel.value as bigint);
    return used > this.#limit ? this.#limit : used;
  }

  /**
   * {@link Instance.fuelUsed} as two u32 words, without allocating a BigInt: the low 32 bits go to
   * `out[at]`, the high 32 bits to `out[at + 1]`. For the witness, which reads the fuel at every
   * host call.
   */
  fuelUsedWords(out: Uint32Array, at: number): void {
    const h = this.#fuelHelper ?? this.#makeFuelHelper();
    const used = h.small();
    if (used >= 0) {
      const lo = used >>> 0;
      out[at] = lo;
      out[at + 1] = (used - lo) / 0x1_0000_0000;
    } else {
      out[at] = h.lo();
      out[at + 1] = h.hi();
    }
  }

  /**
   * A wasm function `() -> i64` returning {@link Instance.fuelUsed}, for other wasm modules to
   * call (a JavaScript caller would get a BigInt: use `fuelUsedWords`).
   */
  fuelUsedFunction(): () => bigint {
    return (this.#fuelHelper ?? this.#makeFuelHelper()).used;
  }

  #makeFuelHelper(): FuelHelper {
    fuelUsedModule ??= new WebAssembly.Module(FUEL_USED_WASM);
    this.#limitG = new WebAssembly.Global({ value: 'i64', mutable: true }, this.#limit);
    const e = new WebAssembly.Instance(fuelUsedModule, { m: { fuel: this.#h.fuel, limit: this.#limitG } }).exports;
    this.#fuelHelper = {
      used: e.used as () => bigint,
      small: e.small as () => number,
      lo: e.lo as () => number,
      hi: e.hi as () => number,
    };
    return this.#fuelHelper;
  }

  /** The budget as u32 halves (low to `out[at]`), the value `fuelUsedWords` gives once it is spent. */
  fuelLimitWords(out: Uint32Array, at: number): void {
    out[at] = Number(this.#limit & 0xffffffffn);
    out[at + 1] = Number(this.#limit >> 32n);
  }

  /** Whether the counter is below zero: more was spent than the budget (spec: fuel.md#F5). */
  overdrawn(): boolean {
    return (this.#h.fuel.value as bigint) < 0n;
  }

  /** Fuel left; 0 after an out-of-fuel trap. */
  fuelRemaining(): bigint {
    const left = this.#h.fuel.value as bigint;
    return left < 0n ? 0n : left;
  }

  /** The raw counter: negative by the overdraft of the segment that ran out (spec: fuel.md#F5). */
  fuelCounter(): bigint {
    return this.#h.fuel.value as bigint;
  }

  /**
   * Charges `amount` of fuel to this instance from outside its own code: the `nested` host group
   * bills a submission's fuel to the challenge that called it (spec: spec/nested.md#N4). The
   * counter may go negative; the guest then traps out of fuel at its next check.
   */
  charge(amount: bigint): void {
    if (typeof amount !== 'bigint' || amount < 0n)
      throw new RangeError(`amount must be a non-negative bigint, got ${String(amount)}`);
    this.#h.fuel.value = (this.#h.fuel.value as bigint) - amount;
  }

  /** Sets a new budget; `fuelUsed` then counts from here. */
  setFuel(fuel: bigint): void {
    if (typeof fuel !== 'bigint' || fuel < 0n)
      throw new RangeError(`fuel must be a non-negative bigint, got ${String(fuel)}`);
    this.#limit = fuel;
    if (this.#limitG !== undefined) this.#limitG.value = fuel;
    this.#h.fuel.value = fuel;
  }
}
