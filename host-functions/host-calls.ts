/**
 * Every host function the guest can call goes through `HostCalls.wrap`, which makes it a witness
 * entry (spec: spec/witness.md#H1): the import name, the guest's arguments, the result, every byte
 * written into guest memory and the fuel used at the call. In replay mode the same wrapper compares
 * each new entry with the recorded one at the same index and stops the run at the first difference.
 */
import { WitnessLog } from '../runtime/witness/log.ts';
import type { WitnessEntry } from '../runtime/witness/entry.ts';
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

export class HostCalls {
  readonly mem = new GuestMemory();
  readonly log = new WitnessLog();
  readonly mode: 'record' | 'replay';
  readonly #expected: readonly WitnessEntry[];
  /** Fuel the guest has used so far; set once the instance exists. */
  fuelUsed: () => bigint = () => 0n;
  /** Extra payload to attach to the entry of the call in progress (e.g. an HTTP response). */
  pendingData: Uint8Array | undefined;

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

  // One entry object, refilled per call: the log copies what it keeps, so nothing here is retained.
  // Host functions never call back into the guest they serve, so calls never nest (spec: witness.md#H1).
  readonly #entry: { name: string; args: HostValue[]; result: HostValue | null; writes: GuestMemory['writes']; fuel: bigint; data?: Uint8Array } = { name: '', args: [], result: null, writes: [], fuel: 0n };

  #record(name: string, args: HostValue[], result: HostValue | null, fuel: bigint): void {
    const e = this.#entry;
    e.name = name;
    e.args = args;
    e.result = result;
    e.writes = this.mem.writes;
    e.fuel = fuel;
    e.data = this.pendingData;
    this.pendingData = undefined;
    if (this.mode === 'replay') {
      // Compared before appending, against the live values: no entry object is built unless it differs.
      const index = this.log.length;
      const expected = this.#expected[index];
      const field = expected === undefined ? 'extra' : firstDifference(expected, e);
      this.log.append(e);
      if (field !== null) throw new DivergenceStop({ index, import: name, expected: expected ?? null, actual: this.log.entry(index), field });
      return;
    }
    this.log.append(e);
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
    // The arguments array is reused: the log copies values into its columns.
    const args = new Array<HostValue>(arity).fill(0);
    return function hostCall(): HostValue | undefined {
      for (let i = 0; i < arity; i++) args[i] = arguments[i] as HostValue;
      const fuel = calls.fuelUsed();
      calls.mem.beginCall();
      let result: HostValue | void;
      try {
        result = fn.apply(undefined, args);
      } catch (e) {
        if (e instanceof GuestFault) {
          result = faultValue;
        } else {
          if (e instanceof RunEnd) calls.#record(name, args, null, fuel);
          throw e;
        }
      }
      calls.#record(name, args, result ?? null, fuel);
      return result ?? undefined;
    };
  }
}
