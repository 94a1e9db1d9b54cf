/**
 * Early start of the first cage thread: a program that will run a guest (the `docklock run`
 * command) calls {@link prestartCage} before it reads the module, manifest and inputs, so the
 * thread boots and loads the runtime on the other core meanwhile; `runCage` then takes that
 * thread instead of starting one. An unused thread never keeps the process alive.
 */
import { CagePool, workerStackMb } from './cage-pool.ts';
import type { CagePoolOptions } from './cage-pool.ts';

let warm: CagePool | undefined;
let warmCacheDir: string | undefined;

/**
 * Starts one cage thread for the next `runCage` (sized for the default stack budget, keeping
 * instrumented modules in `cacheDir` if given); idempotent.
 */
export function prestartCage(options: Pick<CagePoolOptions, 'cacheDir'> = {}): void {
  if (warm !== undefined) return;
  warm = new CagePool({ size: 1, unref: true, ...options });
  warmCacheDir = options.cacheDir;
}

/**
 * The prestarted pool if it fits a manifest's stack budget and cache (taken: the next call gets none).
 * One that does not fit is closed; the caller starts its own.
 */
export function takePrestarted(stackBudget: number, cacheDir?: string): CagePool | undefined {
  const pool = warm;
  warm = undefined;
  if (pool === undefined) return undefined;
  if (workerStackMb(stackBudget) <= workerStackMb(pool.stackBudget) && cacheDir === warmCacheDir) return pool;
  void pool.close();
  return undefined;
}
