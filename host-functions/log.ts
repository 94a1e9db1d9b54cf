/**
 * `docklock.log(level, ptr, len) -> i32`: a structured log line for challenge authors. Lines go to
 * the guest's stderr as `[level] message\n` (level 0 debug, 1 info, 2 warn, 3 error), so they are
 * part of the result and capped like any other output. Returns 0, or -5 for a bad pointer.
 */
import type { HostValue, Store } from '../runtime/store.ts';
import type { OutputCapture } from './wasi/output.ts';

export const LOG_IMPORTS = ['log'] as const;
const LEVELS = ['debug', 'info', 'warn', 'error'];
const utf8 = new TextEncoder();

export function createLog(
  store: Store,
  stderr: OutputCapture,
): Record<string, (...a: HostValue[]) => HostValue | undefined> {
  const calls = store.calls;
  return {
    log: calls.wrap(
      'docklock.log',
      (level: number, ptr: number, len: number) => {
        const text = calls.mem.bytes(ptr, len);
        stderr.push(utf8.encode(`[${LEVELS[level] ?? 'info'}] `));
        stderr.push(text);
        stderr.push(utf8.encode('\n'));
        return 0;
      },
      -5,
    ),
  };
}
