/**
 * The `state` host group's ABI (spec: docs/escrow.md, "The state functions"). Stable: both SDKs
 * (challenges/sdk/c/docklock.h, challenges/sdk/assemblyscript/state.ts) hard-code these numbers.
 *
 *   state_get(key_ptr, key_len, buf_ptr, buf_cap) -> i32
 *       the value's length (copying min(length, cap) bytes: ask again with a bigger buffer), or
 *       NOT_FOUND, LIMIT (key size), FAULT
 *   state_put(key_ptr, key_len, val_ptr, val_len) -> i32      0, or LIMIT, FAULT
 *   state_delete(key_ptr, key_len) -> i32                     0, or LIMIT, FAULT
 *   state_scan(start_ptr, start_len, limit, buf_ptr, buf_cap) -> i32
 *       the number of entries written to buf, each `u32 key_len, key, u32 value_len, value`
 *       (little-endian), in key order from `start`; 0 at the end. Continue from the last key
 *       with a 0 byte appended. BUFFER when not even the first entry fits; LIMIT for a limit
 *       outside 1..MAX_SCAN.
 */

/** Import names in module `docklock`, granted by `state`. */
export const STATE_IMPORTS = ['state_get', 'state_put', 'state_delete', 'state_scan'] as const;

/** Negative results of the `docklock.state_*` functions. */
export const STATE_ERR = {
  /** `state_get`: the key has no value in the run's view (never written, or deleted). */
  NOT_FOUND: -1,
  /** A key or value over its size cap, a scan limit out of range, or the run's write set full. */
  LIMIT: -2,
  /** `state_scan`: the buffer cannot hold even the first entry. */
  BUFFER: -3,
  /** A pointer or length outside guest memory. */
  FAULT: -5,
} as const;

/** The size caps the group enforces (the state store's limits: state/limits.ts). */
export interface StateCaps {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  readonly maxScanEntries: number;
  readonly maxWriteKeys: number;
  readonly maxWriteBytes: number;
}
