/**
 * Every host function the guest can call goes through `HostCalls.wrap`, which makes it a witness
 * entry (spec: spec/witness.md#H1): the import name, the guest's arguments, the result, every byte
 * written into guest memory and the fuel used at the call. In replay mode the same wrapper compares
 * each new entry with the recorded one at the same index and stops the run at the first difference.
 */
import { WitnessLog } from './log.ts';
import { witnessLogFromEncoded } from './decode-log.ts';
import type { RawShape } from './log.ts';
import { LITTLE_ENDIAN } from '../blake3-small.ts';
import type { WitnessEntry } from './entry.ts';
import { GuestFault, GuestMemory } from '../guest-memory.ts';
import { funcTypeKey, SCRATCH_ARGS, SCRATCH_FUEL, trampolinable, trampolineModule } from './trampolines.ts';
import { InternalError, OutOfFuel } from '../errors.ts';
import type { FuncType } from '../instrument/module.ts';

/**
 * WASI's `ERRNO_FAULT` (21, wasi-libc `__WASI_ERRNO_FAULT`): the default answer to a bad guest
 * pointer. Spelled out here so the recorder does not import a capability (host-functions/wasi/defs.ts
 * holds the same value; test/host-functions checks they agree).
 */
export const WASI_ERRNO_FAULT = 21;

/** A host value as WebAssembly passes it to JavaScript: i32/f32/f64 as number, i64 as bigint. */
export type HostValue = number | bigint;

/** The first witness entry where a replay differs from its recording. */
export interface Divergence {
  index: number;
  /** The import called at this point in the replay (or the recording, if the replay stopped short). */
  import: string;
  expected: WitnessEntry | null;
  actual: WitnessEntry | null;
  /** Which field differed first. */
  field: 'name' | 'args' | 'result' | 'writes' | 'fuel' | 'data' | 'missing' | 'extra';
}

/** Thrown inside the guest to stop a replay at its first divergence. */
export class DivergenceStop extends Error {
  readonly divergence: Divergence;
  constructor(d: Divergence) {
    super(`replay diverged at witness entry ${d.index} (${d.import}): ${d.field} differs`);
    this.name = 'DivergenceStop';
    this.divergence = d;
  }
}

/** Errors that end the run deliberately; the call that raised them is still recorded. */
export class RunEnd extends Error {}

/**
 * The witness already holds more than the run's budget (its memory limit) when the guest makes a
 * host call: the run ends with `memory_limit` before the call runs (spec/wasi.md#W9).
 */
export class WitnessLimit extends RunEnd {
  constructor(budget: number) {
    super(
      `the witness holds more than ${budget} bytes, the run's memory limit: each host call's arguments, result and memory writes are kept until the run ends (raise limits.memory, or make fewer host calls)`,
    );
    this.name = 'WitnessLimit';
  }
}

function sameValue(a: HostValue | null, b: HostValue | null): boolean {
  return typeof a === typeof b && a === b;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compares a replayed entry with its recording; returns the first differing field. */
export function firstDifference(
  expected: WitnessEntry,
  actual: Omit<WitnessEntry, 'index'>,
): Divergence['field'] | null {
  if (expected.name !== actual.name) return 'name';
  if (expected.args.length !== actual.args.length || expected.args.some((a, i) => !sameValue(a, actual.args[i]!)))
    return 'args';
  if (!sameValue(expected.result, actual.result)) return 'result';
  if (
    expected.writes.length !== actual.writes.length ||
    expected.writes.some((w, i) => w.ptr !== actual.writes[i]!.ptr || !sameBytes(w.bytes, actual.writes[i]!.bytes))
  )
    return 'writes';
  if (expected.fuel !== actual.fuel) return 'fuel';
  if (!sameBytes(expected.data, actual.data)) return 'data';
  return null;
}

/** Where the wrapper reads the fuel used at each call: a running `Instance` in a cage run. */
export interface FuelMeter {
  /** Writes the fuel used so far as u32 halves: low to `out[at]`, high to `out[at + 1]`. */
  fuelUsedWords(out: Uint32Array, at: number): void;
  /** The same as a wasm `() -> i64` function, for the trampolines (an `Instance` has one). */
  fuelUsedFunction?(): () => bigint;
  /** The budget as u32 halves, like `fuelUsedWords`: fuel used equal to it may mean an overdraft. */
  fuelLimitWords?(out: Uint32Array, at: number): void;
  /** Whether the counter is below zero: the guest spent more than its budget (spec: fuel.md#F5). */
  overdrawn?(): boolean;
}

/** Before an instance exists (and in tests of host functions alone), every call is at fuel 0. */
const NO_FUEL: FuelMeter = {
  fuelUsedWords(out: Uint32Array, at: number): void {
    out[at] = 0;
    out[at + 1] = 0;
  },
};

/** A host function made by {@link HostCalls.wrap}, as {@link HostCalls.link} needs it. */
export interface Wrapped {
  name: string;
  nameId: number;
  impl: (...a: HostValue[]) => HostValue | void;
  faultValue: HostValue;
  arity: number;
}

/** One function import of the guest, with its wasm type (from `CompiledModule.functionImports`). */
export interface FunctionImport {
  module: string;
  name: string;
  type: FuncType;
}

type HostFn = (...args: HostValue[]) => HostValue | undefined;

export class HostCalls {
  readonly mem = new GuestMemory();
  readonly log = new WitnessLog();
  readonly mode: 'record' | 'replay';
  /** Replay: the recording, compared entry by entry (WitnessLog.sameEntry). */
  readonly #expected: WitnessLog;
  #meter: FuelMeter = NO_FUEL;
  /** The trampolines' fuel slots, filled when the instance exists (see `fuelMeter`). */
  readonly #fuelTables: WebAssembly.Table[] = [];
  /** Extra payload to attach to the entry of the call in progress (e.g. an HTTP response). */
  pendingData: Uint8Array | undefined;
  /** Fuel halves of the call in progress (calls never nest: see #record). */
  readonly #fuel = new Uint32Array(2);
  /** Whether the trampolines read the fuel themselves (the meter has a wasm reader). */
  #fuelInWasm = true;
  /**
   * Fail closed (spec: fuel.md#F9): a host call made while the fuel counter is overdrawn ends the
   * run out of fuel before the host function runs. Off only to replay bundles recorded before
   * the rule (WASI level 0, spec/wasi.md#W6).
   */
  failClosed = true;
  /**
   * Bytes the witness may hold before a host call ends the run (spec/wasi.md#W9): the manifest's
   * memory limit from ABI level 4 on; unbounded to replay bundles recorded before the rule.
   */
  witnessBudget = Number.POSITIVE_INFINITY;
  /** The meter's budget as u32 halves: only a call whose fuel used equals it can be overdrawn. */
  readonly #limit = new Uint32Array(2).fill(0xffffffff);
  // A Map, not a WeakMap: it lives as long as the run, and WeakMap inserts measured slower (bench/RESULTS.md).
  readonly #wrapped = new Map<HostFn, Wrapped>();

  /** Whether #expected was built here (and may be released here). */
  readonly #ownsExpected: boolean;

  /**
   * `expected`: in replay, the recorded witness, as entries, as their canonical encodings back to
   * back (decoded and checked here), or as the log that recorded them.
   * @throws {InputError} `DL_ERR_WITNESS_*` for encoded entries that do not decode.
   */
  constructor(mode: 'record' | 'replay', expected: readonly WitnessEntry[] | Uint8Array | WitnessLog = []) {
    this.mode = mode;
    this.#ownsExpected = !(expected instanceof WitnessLog);
    this.#expected =
      expected instanceof WitnessLog
        ? expected
        : expected instanceof Uint8Array
          ? witnessLogFromEncoded(expected)
          : WitnessLog.from(expected);
  }

  /**
   * After the run, once its entries are built: gives the memory of the log (unless `keepLog`) and
   * of an expected log built here to the next run in this thread (WitnessLog.release).
   */
  release(options: { keepLog?: boolean } = {}): void {
    if (options.keepLog !== true) this.log.release();
    if (this.#ownsExpected) this.#expected.release();
  }

  /** Reads the fuel the guest has used; set to the instance once it exists. */
  get fuelMeter(): FuelMeter {
    return this.#meter;
  }

  set fuelMeter(meter: FuelMeter) {
    this.#meter = meter;
    const f = meter.fuelUsedFunction?.();
    // A meter with no wasm reader (a test's): trampolined calls then read it from JavaScript.
    this.#fuelInWasm = f !== undefined || meter === NO_FUEL;
    if (f !== undefined) for (const t of this.#fuelTables) t.set(0, f);
    if (meter.fuelLimitWords !== undefined) meter.fuelLimitWords(this.#limit, 0);
    else this.#limit.fill(0xffffffff);
  }

  /**
   * Ends the run out of fuel if the fuel used (u32 halves `lo`, `hi`, clamped to the budget) is
   * the whole budget and the counter is below zero. Two compares on the usual path; the counter
   * itself (a BigInt to read) only when the budget is spent.
   */
  #checkFuel(lo: number, hi: number): void {
    if (
      lo >>> 0 === this.#limit[0] &&
      hi >>> 0 === this.#limit[1] &&
      this.failClosed &&
      this.#meter.overdrawn?.() === true
    )
      throw new OutOfFuel();
  }

  /** Ends the run if the witness already holds more than its budget (one compare a call). */
  #checkWitness(): void {
    if (this.log.storedBytes > this.witnessBudget) throw new WitnessLimit(this.witnessBudget);
  }

  /** In replay, the recorded entry the call in progress must match (net answers come from it). */
  expectedNext(): WitnessEntry | undefined {
    const i = this.log.length;
    return i < this.#expected.length ? this.#expected.entry(i) : undefined;
  }

  /**
   * Records what the host worked out once the guest stopped (the `state` group's change): an
   * entry with no arguments or result, the fuel the run used, and `data`. Replay compares it like
   * any call; a difference is returned as the run's divergence.
   */
  appendFinal(name: string, data: Uint8Array): Divergence | null {
    const nameId = this.log.intern(name);
    this.#meter.fuelUsedWords(this.#fuel, 0);
    this.mem.beginCall();
    this.pendingData = data;
    try {
      this.#record(name, nameId, [], 0, null, this.#fuel[0]!, this.#fuel[1]!);
    } catch (e) {
      if (e instanceof DivergenceStop) return e.divergence;
      throw e;
    }
    return null;
  }

  /** After a replay ends normally: a recording with more entries diverges where the replay stopped. */
  checkComplete(): Divergence | null {
    const i = this.log.length;
    if (this.mode !== 'replay' || i >= this.#expected.length) return null;
    const e = this.#expected.entry(i);
    return { index: i, import: e.name, expected: e, actual: null, field: 'missing' };
  }

  // Host functions never call back into the guest they serve, so calls never nest
  // (spec: witness.md#H4): the wrapper's reused argument array, the pooled writes and the
  // trampolines' scratch are this call's. #checkNotNested fails closed if that ever breaks.
  #record(
    name: string,
    nameId: number,
    args: HostValue[],
    arity: number,
    result: HostValue | null,
    fuelLo: number,
    fuelHi: number,
  ): void {
    const data = this.pendingData;
    this.pendingData = undefined;
    const i = this.log.appendCall(nameId, args, arity, result, fuelLo, fuelHi, this.mem.writes, data);
    if (this.mode === 'replay') this.#compare(i, name);
  }

  /** As #record, with the arguments and fuel the call's trampoline left in the scratch memory. */
  #recordStaged(st: StagedImport, result: HostValue | null): void {
    const data = this.pendingData;
    this.pendingData = undefined;
    // Host-order words: link() uses trampolines only where that is little-endian, as wasm is.
    const words = st.words;
    const fuel = this.#fuelInWasm ? words : this.#fuel;
    const at = this.#fuelInWasm ? SCRATCH_FUEL >> 2 : 0;
    const i = this.log.appendRaw(st.shape, words, result, fuel[at] >>> 0, fuel[at + 1] >>> 0, this.mem.writes, data);
    if (this.mode === 'replay') this.#compare(i, st.w.name);
  }

  /** Starts a staged call; returns its number (see #checkNotNested). */
  #stagedBegin(st: StagedImport): number {
    if (!this.#fuelInWasm) this.#meter.fuelUsedWords(this.#fuel, 0);
    const fuel = this.#fuelInWasm ? st.words : this.#fuel;
    const at = this.#fuelInWasm ? SCRATCH_FUEL >> 2 : 0;
    this.#checkFuel(fuel[at]!, fuel[at + 1]!);
    this.#checkWitness();
    this.mem.beginCall();
    return ++callsStarted;
  }

  /** A staged call threw `e`: a guest fault is answered with the fault value, a RunEnd recorded first. */
  #stagedFault(st: StagedImport, e: unknown, started: number): HostValue {
    if (e instanceof GuestFault) return st.w.faultValue;
    if (e instanceof RunEnd) {
      this.#checkNotNested(started, st.w.name);
      this.#recordStaged(st, null);
    }
    throw e;
  }

  /** A staged call returned: records it. */
  #stagedDone(st: StagedImport, started: number, result: HostValue | void): HostValue | undefined {
    this.#checkNotNested(started, st.w.name);
    this.#recordStaged(st, result ?? null);
    return result ?? undefined;
  }

  /** Replay: stops the run unless entry i has the recorded encoding. */
  #compare(i: number, name: string): void {
    const expected = this.#expected;
    if (i < expected.length && this.log.sameEntry(i, expected)) return;
    const actual = this.log.entry(i);
    if (i >= expected.length)
      throw new DivergenceStop({ index: i, import: name, expected: null, actual, field: 'extra' });
    const e = expected.entry(i);
    // Different bytes always differ in some field; 'data' is what is left once the others agree.
    throw new DivergenceStop({
      index: i,
      import: name,
      expected: e,
      actual,
      field: firstDifference(e, actual) ?? 'data',
    });
  }

  #checkNotNested(started: number, name: string): void {
    if (callsStarted !== started)
      throw new InternalError(
        `host call ${name} ran another host call before it returned; the witness cannot record nested calls`,
      );
  }

  /**
   * Wraps a host implementation as a recorded import. The implementation returns the value for the
   * guest; a `GuestFault` becomes `faultValue` (ERRNO_FAULT for WASI); a `RunEnd` is recorded and
   * then ends the run.
   */
  wrap<F extends (...args: never[]) => HostValue | void>(
    name: string,
    impl: F,
    faultValue: HostValue = WASI_ERRNO_FAULT,
  ): HostFn {
    const calls = this;
    const fn = impl as unknown as (...a: HostValue[]) => HostValue | void;
    const arity = fn.length;
    // Interned once here rather than looked up per call.
    const nameId = this.log.intern(name);
    const fuel = this.#fuel;
    const mem = this.mem;
    // The arguments array is reused: the log copies the values into the record.
    const args = new Array<HostValue>(arity).fill(0);
    const hostCall = function hostCall(): HostValue | undefined {
      for (let i = 0; i < arity; i++) args[i] = arguments[i] as HostValue;
      calls.#meter.fuelUsedWords(fuel, 0);
      const fuelLo = fuel[0];
      const fuelHi = fuel[1];
      calls.#checkFuel(fuelLo!, fuelHi!);
      calls.#checkWitness();
      const started = ++callsStarted;
      mem.beginCall();
      let result: HostValue | void;
      try {
        result = fn.apply(undefined, args);
      } catch (e) {
        if (e instanceof GuestFault) {
          result = faultValue;
        } else {
          if (e instanceof RunEnd) {
            calls.#checkNotNested(started, name);
            calls.#record(name, nameId, args, arity, null, fuelLo, fuelHi);
          }
          throw e;
        }
      }
      calls.#checkNotNested(started, name);
      calls.#record(name, nameId, args, arity, result ?? null, fuelLo, fuelHi);
      return result ?? undefined;
    };
    this.#wrapped.set(hostCall, { name, nameId, impl: fn, faultValue, arity });
    return hostCall;
  }

  /**
   * Routes the guest's imports of wrapped host functions through trampolines
   * (host-functions/trampolines.ts), which capture the fuel and encode the arguments in wasm: the
   * same witness, recorded at about half the cost. Imports of other types, or not made by
   * {@link HostCalls.wrap}, are left as they are.
   *
   * @param imports - the import object for the guest.
   * @param functionImports - the guest's function imports with their types.
   * @returns an import object to instantiate the guest with.
   */
  link(imports: WebAssembly.Imports, functionImports: readonly FunctionImport[]): WebAssembly.Imports {
    // The scratch is read as host-order words; wasm memory is little-endian.
    if (!LITTLE_ENDIAN) return imports;
    const byKey = new Map<string, { imp: FunctionImport; w: Wrapped } | null>();
    for (const imp of functionImports) {
      const key = JSON.stringify([imp.module, imp.name]);
      const value = (imports as Record<string, Record<string, unknown> | undefined>)[imp.module]?.[imp.name];
      const w = typeof value === 'function' ? this.#wrapped.get(value as HostFn) : undefined;
      const prev = byKey.get(key);
      // An import named twice with different types cannot share one wasm function: keep it in JS.
      if (prev !== undefined) {
        if (prev !== null && funcTypeKey(prev.imp.type) !== funcTypeKey(imp.type)) byKey.set(key, null);
        continue;
      }
      byKey.set(
        key,
        w !== undefined && trampolinable(imp.type) && imp.type.params.length === w.arity ? { imp, w } : null,
      );
    }
    const chosen = [...byKey.values()].filter((c): c is { imp: FunctionImport; w: Wrapped } => c !== null);
    if (chosen.length === 0) return imports;
    const { memory, words } = threadScratch();
    const h: Record<string, HostFn | WebAssembly.Memory> = { scratch: memory };
    chosen.forEach((c, k) => {
      const st: StagedImport = {
        w: c.w,
        words,
        shape: this.log.rawShape(c.w.nameId, Array.from(c.imp.type.params), SCRATCH_ARGS >> 2),
      };
      h[`f${k}`] = this.#stagedFunction(st);
    });
    const inst = new WebAssembly.Instance(trampolineModule(chosen.map((c) => c.imp.type)), { h });
    const table = inst.exports.fuel as WebAssembly.Table;
    this.#fuelTables.push(table);
    const f = this.#meter.fuelUsedFunction?.();
    if (f !== undefined) table.set(0, f);
    const out: Record<string, Record<string, unknown>> = {};
    for (const [mod, ns] of Object.entries(imports)) out[mod] = { ...(ns as Record<string, unknown>) };
    chosen.forEach((c, k) => {
      out[c.imp.module][c.imp.name] = inst.exports[`t${k}`];
    });
    return out as WebAssembly.Imports;
  }

  /**
   * The JavaScript side of a trampoline, of fixed arity (V8 calls a JS function from wasm fastest
   * when the counts match): runs the host function, then records the call with the arguments and
   * fuel the trampoline left in the scratch memory. The host function is called directly and the
   * bookkeeping is in methods shared by every run: an `apply` over a reused array and helpers
   * made per run measured ~20 ns a call slower (bench/RESULTS.md, "Witness").
   */
  #stagedFunction(st: StagedImport): HostFn {
    const impl = st.w.impl;
    switch (st.w.arity) {
      case 0:
        return () => {
          const s = this.#stagedBegin(st);
          let r: HostValue | void;
          try {
            r = impl();
          } catch (e) {
            r = this.#stagedFault(st, e, s);
          }
          return this.#stagedDone(st, s, r);
        };
      case 1:
        return (a: HostValue) => {
          const s = this.#stagedBegin(st);
          let r: HostValue | void;
          try {
            r = impl(a);
          } catch (e) {
            r = this.#stagedFault(st, e, s);
          }
          return this.#stagedDone(st, s, r);
        };
      case 2:
        return (a: HostValue, b: HostValue) => {
          const s = this.#stagedBegin(st);
          let r: HostValue | void;
          try {
            r = impl(a, b);
          } catch (e) {
            r = this.#stagedFault(st, e, s);
          }
          return this.#stagedDone(st, s, r);
        };
      case 3:
        return (a: HostValue, b: HostValue, c: HostValue) => {
          const s = this.#stagedBegin(st);
          let r: HostValue | void;
          try {
            r = impl(a, b, c);
          } catch (e) {
            r = this.#stagedFault(st, e, s);
          }
          return this.#stagedDone(st, s, r);
        };
      case 4:
        return (a: HostValue, b: HostValue, c: HostValue, d: HostValue) => {
          const s = this.#stagedBegin(st);
          let r: HostValue | void;
          try {
            r = impl(a, b, c, d);
          } catch (e) {
            r = this.#stagedFault(st, e, s);
          }
          return this.#stagedDone(st, s, r);
        };
      default:
        return (...args: HostValue[]) => {
          const s = this.#stagedBegin(st);
          let r: HostValue | void;
          try {
            r = impl(...args);
          } catch (e) {
            r = this.#stagedFault(st, e, s);
          }
          return this.#stagedDone(st, s, r);
        };
    }
  }
}

let scratch: { memory: WebAssembly.Memory; words: Int32Array } | undefined;
/**
 * Host calls started in this thread, by any `HostCalls`: a call that sees it move while it runs
 * was nested (see #checkNotNested), which the shared scratch and the pooled writes cannot record.
 */
let callsStarted = 0;

/**
 * The trampolines' scratch memory, one per thread: a call fills it and reads it back before it
 * returns, and host calls never nest (#checkNotNested), so runs can share it. Creating a memory
 * per run (a reservation with guard pages) cost a tenth of a small evaluation (bench/RESULTS.md).
 */
function threadScratch(): { memory: WebAssembly.Memory; words: Int32Array } {
  if (scratch === undefined) {
    // One page that never grows, so the view stays valid.
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    scratch = { memory, words: new Int32Array(memory.buffer) };
  }
  return scratch;
}

/** One import routed through a trampoline: where its call finds the captured fuel and arguments. */
export interface StagedImport {
  readonly w: Wrapped;
  /** The trampolines' scratch memory as words. */
  readonly words: Int32Array;
  readonly shape: RawShape;
}
