/**
 * `runCage`: runs or replays one guest on a cage thread with a fixed stack size, serves its
 * network requests (record mode), mirrors its output if asked, and enforces the wall-clock
 * watchdog, which is an infrastructure failure, never a result (spec: DESIGN.md). A single run is
 * a {@link CagePool} of one, sized for the manifest's stack budget.
 */
import { CagePool, workerStackMb } from './cage-pool.ts';
import type { CageOptions, CagePoolOptions } from './cage-pool.ts';
import type { RunOutcome } from './run.ts';
import { prestartCage, takePrestarted } from './prestart.ts';

export { CagePool, prestartCage, workerStackMb };
export type { CageOptions };
export type { CagePoolOptions, CageRunOptions } from './cage-pool.ts';

/**
 * Runs a guest in an isolated worker thread (`pool.cacheDir`: keep instrumented modules there).
 * @throws {InternalError} `DL_ERR_CAGE_WATCHDOG` when the wall-clock watchdog fires, or an internal failure
 */
export async function runCage(options: CageOptions, pool: Pick<CagePoolOptions, 'cacheDir'> = {}): Promise<RunOutcome> {
  // The thread starts first (or was prestarted): it boots and loads the runtime on the other core
  // while this thread compiles (bench:cli, "docklock run nop.wasm").
  const cage =
    takePrestarted(options.manifest.limits.stack, pool.cacheDir) ??
    new CagePool({ size: 1, stackBudget: options.manifest.limits.stack, ...pool });
  try {
    return await cage.run(options);
  } finally {
    // After a result the idle thread is asked to end by itself (not awaited); after a watchdog
    // or a failure it is already gone.
    void cage.close();
  }
}
