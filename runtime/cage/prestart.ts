/**
 * Early start of the first cage thread: a program that will run a guest (the `docklock run`
 * command) calls {@link prestartCage} before it reads the module, manifest and inputs, so the
 * thread boots and loads the runtime on the other core meanwhile; `runCage` then takes that
 * thread instead of starting one. An unused thread never keeps the process alive.
 */
import { CagePool, workerStackMb } from './cage-pool.ts';

let warm: CagePool | undefined;

/** Starts one cage thread for the next `runCage` (sized for the default stack budget); idempotent. */
export function prestartCage(): void {
  warm ??= new CagePool({ size: 1, unref: true });
}

/**
 * The prestarted pool if it fits a manifest's stack budget (taken: the next call gets none).
 * One that does not fit is closed; the caller starts its own.
 */
export function takePrestarted(stackBudget: number): CagePool | undefined {
  const pool = warm;
  warm = undefined;
  if (pool === undefined) return undefined;
  if (workerStackMb(stackBudget) <= workerStackMb(pool.stackBudget)) return pool;
  void pool.close();
  return undefined;
}
