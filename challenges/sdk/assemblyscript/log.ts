// docklock.log (grant `log`): one structured line on stderr, `[level] message`.

@external("docklock", "log")
declare function dl_log(level: i32, ptr: usize, len: i32): i32;

export const DEBUG: i32 = 0;
export const INFO: i32 = 1;
export const WARN: i32 = 2;
export const ERROR: i32 = 3;

/** Logs one line at `level` (DEBUG, INFO, WARN, ERROR). */
export function log(level: i32, message: string): void {
  const b = String.UTF8.encode(message);
  dl_log(level, changetype<usize>(b), b.byteLength);
}
