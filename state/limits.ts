/**
 * Size caps on challenge state. They bound what one run can make a validator store or scan, and
 * they are part of the contract: a run that exceeds one fails the same way on every node.
 */
export interface StateLimits {
  /** Longest key, bytes. */
  readonly maxKeyBytes: number;
  /** Largest value, bytes. */
  readonly maxValueBytes: number;
  /** Most entries one `state_scan` returns. */
  readonly maxScanEntries: number;
  /** Most keys one run may write (puts and deletes). */
  readonly maxWriteKeys: number;
  /** Most bytes (keys + values) one run may write. */
  readonly maxWriteBytes: number;
}

export const STATE_LIMITS: StateLimits = {
  maxKeyBytes: 256,
  maxValueBytes: 64 * 1024,
  maxScanEntries: 1024,
  maxWriteKeys: 4096,
  maxWriteBytes: 8 * 1024 * 1024,
};
