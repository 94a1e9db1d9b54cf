/**
 * `runOnce`: one run for a program that runs one guest and exits (`docklock run`). Starting a cage
 * thread costs about as much as starting the whole process (bench:cli), so the run is first tried
 * on the calling thread, and the result is the one a cage thread gives (`runCage`):
 *
 * - the wall-clock watchdog is V8's script timeout (node:vm), which terminates wasm as well;
 * - V8's own stack is never what ends the run. A main thread's stack (984 KiB) is smaller than a
 *   cage thread's, which is sized for the stack budget (`workerStackMb`), so a guest that recurses
 *   deep enough can overflow V8's stack here before its budget runs out. That run is given up,
 *   nothing of it kept, and run again on a cage thread. Its output already mirrored is not written
 *   twice: the second run is deterministic, so its first bytes are the ones already written.
 *
 * Runs that cannot take this path go straight to a cage thread: components (their glue
 * instantiates asynchronously) and recorded networking (a request blocks a cage thread while the
 * main thread performs it, spec/network.md#R1).
 */
import vm from 'node:vm';
import type { CageOptions } from './cage-pool.ts';
import { runGuest } from './run.ts';
import type { RunOutcome } from './run.ts';
import { isComponent } from '../component/detect.ts';
import { WatchdogError } from '../errors.ts';
import type { Engine } from '../engine.ts';

/** Where the run happened, for a caller that reports it (tests, `--json`'s diagnostics). */
export type RunPlace = 'inline' | 'thread' | 'thread-after-overflow';

/** Whether a run can be tried on the calling thread (see the module comment). */
export function canRunInline(options: Pick<CageOptions, 'manifest' | 'module'>): boolean {
  return options.manifest.network.mode === 'deny' && !isComponent(options.module);
}

/**
 * For a caller that reads its inputs between knowing the run and starting it (`docklock run`): a
 * run that will need a cage thread starts one now, so it boots meanwhile (runtime/cage/prestart.ts).
 */
export function prepareRunOnce(
  options: Pick<CageOptions, 'manifest' | 'module'>,
  { engine }: Pick<RunOnceOptions, 'engine'> = {},
): void {
  if (!canRunInline(options)) void import('./prestart.ts').then((m) => m.prestartCage(threadOptions(engine)));
}

/** A cage thread keeps the engine's instrumented-module cache too (components compile there). */
function threadOptions(engine: Engine | undefined): { cacheDir?: string } {
  const dir = engine?.config.cacheDir;
  return typeof dir === 'string' ? { cacheDir: dir } : {};
}

/** V8's native stack overflow, however deep in causes it was wrapped (traps.ts wraps it). */
function isStackOverflow(e: unknown): boolean {
  for (let c = e, i = 0; c instanceof Error && i < 8; c = c.cause, i++)
    if (c instanceof RangeError && /call stack size/i.test(c.message)) return true;
  return false;
}

const CALL = new vm.Script('__docklockInline()', { filename: 'docklock-inline-watchdog' });
const G = globalThis as { __docklockInline?: () => void };

/** Calls `fn` under V8's script timeout; a timeout is the cage's watchdog error. */
function underWatchdog(fn: () => void, ms: number, what: string): void {
  G.__docklockInline = fn;
  try {
    CALL.runInThisContext({ timeout: ms });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw new WatchdogError([what, ms]);
    throw e;
  } finally {
    G.__docklockInline = undefined;
  }
}

/** A mirror that drops the first bytes it is given, as many as `written` says, then passes the rest. */
function skipping(write: ((b: Uint8Array) => void) | undefined, skip: number): ((b: Uint8Array) => void) | undefined {
  if (write === undefined) return undefined;
  let left = skip;
  return (b) => {
    if (left >= b.byteLength) {
      left -= b.byteLength;
      return;
    }
    const rest = left > 0 ? b.subarray(left) : b;
    left = 0;
    write(rest);
  };
}

export interface RunOnceOptions {
  /** Told where the run happened. */
  onPlace?: (place: RunPlace) => void;
  /**
   * The engine for a run on this thread (default `Engine.default`): e.g. one with a disk cache,
   * which a run on a cage thread then uses too.
   */
  engine?: Engine;
}

/**
 * Runs (or replays) one guest, on this thread when it can, else on a cage thread.
 * @throws {DocklockError} `DL_ERR_CAGE_WATCHDOG`, or an internal failure, as `runCage`
 */
export async function runOnce(options: CageOptions, { onPlace, engine }: RunOnceOptions = {}): Promise<RunOutcome> {
  if (!canRunInline(options)) {
    onPlace?.('thread');
    return (await import('./cage.ts')).runCage(options, threadOptions(engine));
  }
  const { tee, ...request } = options;
  const written = { stdout: 0, stderr: 0 };
  const counting =
    tee === undefined
      ? undefined
      : {
          stdout: (b: Uint8Array) => {
            written.stdout += b.byteLength;
            tee.stdout?.(b);
          },
          stderr: (b: Uint8Array) => {
            written.stderr += b.byteLength;
            tee.stderr?.(b);
          },
        };
  const what = request.mode === 'replay' ? 'the replay' : 'the run';
  try {
    const out = await runGuest({
      ...request,
      tee: counting,
      ...(engine === undefined ? {} : { engine }),
      execute: (fn) => underWatchdog(fn, request.manifest.limits.wallClockMs, what),
    });
    onPlace?.('inline');
    return out;
  } catch (e) {
    if (!isStackOverflow(e)) throw e;
  }
  onPlace?.('thread-after-overflow');
  // Loaded only now: a run on this thread never initialises the thread pool (bench:cli).
  const { runCage } = await import('./cage.ts');
  return runCage(
    {
      ...request,
      ...(tee === undefined
        ? {}
        : { tee: { stdout: skipping(tee.stdout, written.stdout), stderr: skipping(tee.stderr, written.stderr) } }),
    },
    threadOptions(engine),
  );
}
