/**
 * One witness entry: everything a single host call let into the guest. Replay answers the same
 * call from this record alone (spec: witness.md#H1).
 *
 * @module
 */

/** A run of bytes the host wrote into guest linear memory. */
export interface MemoryWrite {
  /** Guest address of the first byte (u32). */
  ptr: number;
  /** The bytes written; the log keeps its own copy. */
  bytes: Uint8Array;
}

/**
 * A recorded host call.
 *
 * Argument and result values keep their WebAssembly type through their JS type: i32/f32/f64 are
 * `number`, i64 is `bigint`. The encoding preserves that distinction, so replay can compare a
 * guest's i64 `5n` with the recorded value and never confuse it with an i32 `5`.
 */
export interface WitnessEntry {
  /** Position in the log, from 0. */
  index: number;
  /** `<import module>.<import name>`, e.g. `wasi_snapshot_preview1.random_get`, `docklock.http_request`. */
  name: string;
  /** The guest's arguments, in order. */
  args: readonly (number | bigint)[];
  /** The value returned to the guest; `null` for a void function. */
  result: number | bigint | null;
  /** Every byte the host wrote into guest memory during the call, in write order. */
  writes: readonly MemoryWrite[];
  /** Fuel the guest had used when it made the call (u64). */
  fuel: bigint;
  /** Extra payload the host keeps outside guest memory (e.g. a full HTTP response). */
  data?: Uint8Array;
}
