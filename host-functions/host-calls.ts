/**
 * Every host function the guest can call goes through `HostCalls.wrap`, which makes it a witness
 * entry (spec: spec/witness.md#H1): the import name, the guest's arguments, the result, every byte
 * written into guest memory and the fuel used at the call. In replay mode the same wrapper compares
 * each new entry with the recorded one at the same index and stops the run at the first difference.
 */
import { WitnessLog } from '../runtime/witness/log.ts';
import type { MemoryWrite, WitnessEntry } from '../runtime/witness/entry.ts';
import { GuestFault, GuestMemory } from './guest-memory.ts';
import { ERRNO } from './wasi/defs.ts';

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
export function firstDifference(expected: WitnessEntry, actual: Omit<WitnessEntry, 'index'>): Divergence['field'] | null {
  if (expected.name !== actual.name) return 'name';
  if (expected.args.length !== actual.args.length || expected.args.some((a, i) => !sameValue(a, actual.args[i]!))) return 'args';
  if (!sameValue(expected.result, actual.result)) return 'result';
  if (expected.writes.length !== actual.writes.length || expected.writes.some((w, i) => w.ptr !== actual.writes[i]!.ptr || !sameBytes(w.bytes, actual.writes[i]!.bytes))) return 'writes';
  if (expected.fuel !== actual.fuel) return 'fuel';
  if (!sameBytes(expected.data, actual.data)) return 'data';
  return null;
}

/** Where the wrapper reads the fuel used at each call: a running `Instance` in a cage run. */
export interface FuelMeter {
  /** Writes the fuel used so far as u32 halves: low to `out[at]`, high to `out[at + 1]`. */
  fuelUsedWords(out: Uint32Array, at: number): void;
}

/** Before an instance exists (and in tests of host functions alone), every call is at fuel 0. */
const NO_FUEL: FuelMeter = {
  fuelUsedWords(out: Uint32Array, at: number): void {
    out[at] = 0;
    out[at + 1] = 0;
  },
};

const U64_MAX = (1n << 64n) - 1n;
// Replay compares a recorded bigint fuel with the live u32 halves through this slot: storing a
// bigint into a BigUint64Array and reading its words allocates nothing.
const fuelSlot = new BigUint64Array(1);
const fuelSlotWords = new Uint32Array(fuelSlot.buffer);
const FUEL_LO = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1 ? 0 : 1;

function sameFuel(expected: bigint, lo: number, hi: number): boolean {
  if (typeof expected !== 'bigint' || expected < 0n || expected > U64_MAX) return false;
  fuelSlot[0] = expected;
  return fuelSlotWords[FUEL_LO] === lo && fuelSlotWords[1 - FUEL_LO] === hi;
}

export class HostCalls {
  readonly mem = new GuestMemory();
  readonly log = new WitnessLog();
  readonly mode: 'record' | 'replay';
  readonly #expected: readonly WitnessEntry[];
  /** Reads the fuel the guest has used; set to the instance once it exists. */
  fuelMeter: FuelMeter = NO_FUEL;
  /** Extra payload to attach to the entry of the call in progress (e.g. an HTTP response). */
  pendingData: Uint8Array | undefined;
  /** Fuel halves of the call in progress (calls never nest: see #record). */
  readonly #fuel = new Uint32Array(2);

  constructor(mode: 'record' | 'replay', expected: readonly WitnessEntry[] = []) {
    this.mode = mode;
    this.#expected = expected;
  }

  /** In replay, the recorded entry the call in progress must match (net answers come from it). */
  expectedNext(): WitnessEntry | undefined {
    return this.#expected[this.log.length];
  }

  /** After a replay ends normally: a recording with more entries diverges where the replay stopped. */
  checkComplete(): Divergence | null {
    if (this.mode !== 'replay' || this.log.length >= this.#expected.length) return null;
    const e = this.#expected[this.log.length]!;
    return { index: this.log.length, import: e.name, expected: e, actual: null, field: 'missing' };
  }

  // Host functions never call back into the guest they serve, so calls never nest
  // (spec: witness.md#H1): the wrapper's reused argument array and the pooled writes are this call's.
  #record(name: string, nameId: number, args: HostValue[], arity: number, result: HostValue | null, fuelLo: number, fuelHi: number): void {
    const data = this.pendingData;
    this.pendingData = undefined;
    const writes = this.mem.writes;
    if (this.mode === 'replay') {
      // Compared before appending, against the live values: no entry object is built unless it differs.
      const index = this.log.length;
      const expected = this.#expected[index];
      const field = expected === undefined ? 'extra' : liveDifference(expected, name, args, arity, result, writes, fuelLo, fuelHi, data);
      this.log.appendCall(nameId, args, arity, result, fuelLo, fuelHi, writes, data);
      if (field !== null) throw new DivergenceStop({ index, import: name, expected: expected ?? null, actual: this.log.entry(index), field });
      return;
    }
    this.log.appendCall(nameId, args, arity, result, fuelLo, fuelHi, writes, data);
  }

  /**
   * Wraps a host implementation as a recorded import. The implementation returns the value for the
   * guest; a `GuestFault` becomes `faultValue` (ERRNO_FAULT for WASI); a `RunEnd` is recorded and
   * then ends the run.
   */
  wrap<F extends (...args: never[]) => HostValue | void>(name: string, impl: F, faultValue: HostValue = ERRNO.FAULT): (...args: HostValue[]) => HostValue | undefined {
    const calls = this;
    const fn = impl as unknown as (...a: HostValue[]) => HostValue | void;
    const arity = fn.length;
    // Interned once here rather than looked up per call.
    const nameId = this.log.intern(name);
    const fuel = this.#fuel;
    const mem = this.mem;
    // The arguments array is reused: the log copies values into its columns.
    const args = new Array<HostValue>(arity).fill(0);
    return function hostCall(): HostValue | undefined {
      for (let i = 0; i < arity; i++) args[i] = arguments[i] as HostValue;
      calls.fuelMeter.fuelUsedWords(fuel, 0);
      const fuelLo = fuel[0];
      const fuelHi = fuel[1];
      mem.beginCall();
      let result: HostValue | void;
      try {
        result = fn.apply(undefined, args);
      } catch (e) {
        if (e instanceof GuestFault) {
          result = faultValue;
        } else {
          if (e instanceof RunEnd) calls.#record(name, nameId, args, arity, null, fuelLo, fuelHi);
          throw e;
        }
      }
      calls.#record(name, nameId, args, arity, result ?? null, fuelLo, fuelHi);
      return result ?? undefined;
    };
  }
}

/** {@link firstDifference} against the live values of the call in progress. */
function liveDifference(expected: WitnessEntry, name: string, args: readonly HostValue[], arity: number, result: HostValue | null, writes: readonly MemoryWrite[], fuelLo: number, fuelHi: number, data: Uint8Array | undefined): Divergence['field'] | null {
  if (expected.name !== name) return 'name';
  const ea = expected.args;
  if (ea.length !== arity) return 'args';
  for (let i = 0; i < arity; i++) if (!sameValue(ea[i]!, args[i]!)) return 'args';
  if (!sameValue(expected.result, result)) return 'result';
  const ew = expected.writes;
  if (ew.length !== writes.length) return 'writes';
  for (let i = 0; i < ew.length; i++) if (ew[i]!.ptr !== writes[i]!.ptr || !sameBytes(ew[i]!.bytes, writes[i]!.bytes)) return 'writes';
  if (!sameFuel(expected.fuel, fuelLo, fuelHi)) return 'fuel';
  if (!sameBytes(expected.data, data)) return 'data';
  return null;
}
