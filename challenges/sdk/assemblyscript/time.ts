// Virtual time: the clock starts at the manifest's instant and advances by a fixed step per read.
import { clock_time_get, CLOCK_MONOTONIC, CLOCK_REALTIME } from "./wasi";

/** Virtual wall-clock time, ns since the Unix epoch. */
export function nowNs(): u64 {
  const out = new ArrayBuffer(8);
  clock_time_get(CLOCK_REALTIME, 1, changetype<usize>(out));
  return load<u64>(changetype<usize>(out));
}

/** Virtual monotonic time, ns. */
export function monotonicNs(): u64 {
  const out = new ArrayBuffer(8);
  clock_time_get(CLOCK_MONOTONIC, 1, changetype<usize>(out));
  return load<u64>(changetype<usize>(out));
}
