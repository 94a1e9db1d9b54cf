/**
 * One fuel budget and one stack budget for every core instance of a component. Each instrumented
 * core module has its own `docklock_fuel` and `docklock_depth` globals (spec/instrumented-abi.md);
 * a component's instances only call each other through the glue or through exports, and every
 * export is wrapped here. So the budget is handed over at each crossing: the callee's counters are
 * set from the caller's before the call, and the caller's from the callee's after it. Exactly one
 * instance holds the live counters at any time, so the component spends one budget, to the unit,
 * in any order of crossings (docs/components.md).
 */
import { CHAIN_MAX_WEIGHT } from '../instrument/frame-plan.ts';
import { EXPORT_DEPTH, EXPORT_FUEL, EXPORT_GROW_REFUSED, EXPORT_START, EXPORT_TRAP } from '../instrument/instrument.ts';
import { InternalError, OutOfFuel, StackExhausted } from '../errors.ts';
import { classifyTrap } from '../traps.ts';

/** An instrumented core instance's counters. */
interface Counters {
  fuel: WebAssembly.Global;
  depth: WebAssembly.Global;
  trap: WebAssembly.Global;
  hooks: CrossingHooks | undefined;
}

/**
 * Told of every crossing, e.g. by the profiler (runtime/profile/engine.ts), which must know which
 * core instance each unit of fuel was spent in. Results never depend on it.
 */
export interface CrossingObserver {
  /** A core instance of the component exists (its start function has not run). */
  adopt(raw: WebAssembly.Instance, module: WebAssembly.Module): CrossingHooks | undefined;
}

export interface CrossingHooks {
  /** The instance takes over the counter, which stands at `fuel`; returns what `leave` gets. */
  enter(fuel: bigint): number;
  /** The instance hands the counter back (its own counter holds what is left). */
  leave(token: number): void;
  /** The running instance calls into another one: its counter stands where it handed it over. */
  pause(): void;
  /** The instance has the counter back, standing at `fuel`. */
  resume(fuel: bigint): void;
}

export class SharedBudget {
  readonly limit: bigint;
  readonly stackLimit: number;
  /** The instance holding the live counters; undefined between calls (then `#fuel` holds the rest). */
  #holder: Counters | undefined;
  #fuel: bigint;
  /** Guest calls in progress across all instances. */
  #active = 0;
  /** Each core instance's refused-grow flag (instrumenter `markRefusedGrow`). */
  readonly #growFlags: WebAssembly.Global[] = [];

  readonly #observer: CrossingObserver | undefined;

  constructor(fuel: bigint, stackLimit: number, observer?: CrossingObserver) {
    this.#observer = observer;
    this.limit = fuel;
    this.stackLimit = stackLimit;
    this.#fuel = fuel;
  }

  /** The counter as it stands now: negative once overdrawn. */
  counter(): bigint {
    return this.#holder === undefined ? this.#fuel : (this.#holder.fuel.value as bigint);
  }

  /** Fuel used so far, at most the budget. */
  fuelUsed(): bigint {
    const used = this.limit - this.counter();
    return used > this.limit ? this.limit : used;
  }

  /** As `Instance.fuelUsedWords`, for the witness recorder (a `FuelMeter`). */
  fuelUsedWords(out: Uint32Array, at: number): void {
    const u = this.fuelUsed();
    out[at] = Number(u & 0xffffffffn);
    out[at + 1] = Number(u >> 32n);
  }

  fuelLimitWords(out: Uint32Array, at: number): void {
    out[at] = Number(this.limit & 0xffffffffn);
    out[at + 1] = Number(this.limit >> 32n);
  }

  overdrawn(): boolean {
    return this.counter() < 0n;
  }

  /** Whether the memory limit refused a `memory.grow` of any core instance (spec/wasi.md#W5). */
  growRefused(): boolean {
    return this.#growFlags.some((g) => g.value !== 0);
  }

  /**
   * Wraps a raw core instance: its functions take over the budget while they run; its start
   * function (removed by the instrumenter, exported as `docklock_start`) runs now, metered.
   */
  adopt(raw: WebAssembly.Instance, module?: WebAssembly.Module): Record<string, unknown> {
    const e = raw.exports;
    const fuel = e[EXPORT_FUEL];
    const depth = e[EXPORT_DEPTH];
    const trap = e[EXPORT_TRAP];
    if (
      !(fuel instanceof WebAssembly.Global) ||
      !(depth instanceof WebAssembly.Global) ||
      !(trap instanceof WebAssembly.Global)
    )
      throw new InternalError('a core instance of the component lacks docklock instrumentation');
    const hooks = module === undefined ? undefined : this.#observer?.adopt(raw, module);
    const c: Counters = { fuel, depth, trap, hooks };
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(e)) {
      if (name === EXPORT_FUEL || name === EXPORT_DEPTH || name === EXPORT_TRAP || name === EXPORT_START) continue;
      if (name === EXPORT_GROW_REFUSED) {
        if (value instanceof WebAssembly.Global) this.#growFlags.push(value);
        continue;
      }
      out[name] = typeof value === 'function' ? this.#wrap(c, value as (...a: unknown[]) => unknown) : value;
    }
    const start = e[EXPORT_START];
    if (typeof start === 'function') this.call(c, () => (start as () => void)());
    return out;
  }

  #wrap(c: Counters, f: (...a: unknown[]) => unknown): (...a: unknown[]) => unknown {
    const budget = this;
    return function (this: unknown, ...args: unknown[]): unknown {
      return budget.call(c, () => f.apply(this, args));
    };
  }

  /** Runs `fn` (a call into `c`'s instance) with the budget handed to `c` and back. */
  call<T>(c: Counters, fn: () => T): T {
    const prev = this.#holder;
    const fuel = prev === undefined ? this.#fuel : (prev.fuel.value as bigint);
    const savedDepth = prev === undefined ? 0 : (prev.depth.value as number);
    const savedOwnDepth = c.depth.value as number;
    let depth = savedDepth;
    if (this.#active > 0) {
      // A crossing starts a new unaccounted chain above the caller's frames (spec: stack.md#S5).
      depth += CHAIN_MAX_WEIGHT;
      if (depth > this.stackLimit - CHAIN_MAX_WEIGHT) throw new StackExhausted();
    }
    c.fuel.value = fuel;
    c.depth.value = depth;
    this.#holder = c;
    this.#active++;
    prev?.hooks?.pause();
    const token = c.hooks?.enter(fuel) ?? 0;
    try {
      const r = fn();
      if ((c.fuel.value as bigint) < 0n) throw new OutOfFuel();
      return r;
    } catch (err) {
      const reason = c.trap.value as number;
      c.trap.value = 0;
      throw classifyTrap(err, reason);
    } finally {
      this.#active--;
      const left = c.fuel.value as bigint;
      c.hooks?.leave(token);
      c.depth.value = savedOwnDepth;
      this.#holder = prev;
      if (prev === undefined) this.#fuel = left;
      else {
        prev.fuel.value = left;
        prev.depth.value = savedDepth;
        prev.hooks?.resume(left);
      }
    }
  }
}
