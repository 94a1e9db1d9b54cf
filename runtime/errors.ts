/**
 * The runtime's error classes, built on the shared error layer (errors/: the `DocklockError` base,
 * the code registry and the `createError` factory, which the broker uses too). Codes follow
 * `DL_ERR_<AREA>_<WHAT>`; a code must be registered in errors/codes.ts to compile here.
 */

export { DocklockError, TRAP_CODES } from '../errors/index.ts';
export type { ErrorCode, ErrorJson, ErrorLocation, TrapCode } from '../errors/index.ts';
import { DocklockError, createError } from '../errors/index.ts';
import type { ErrorCode, ErrorLocation, TrapCode } from '../errors/index.ts';

/** The module was rejected before it ran (malformed, unsupported feature, over a limit, import not granted). */
export class ValidationError extends DocklockError {
  constructor(code: ErrorCode, message: string, where?: ErrorLocation, options?: { cause?: unknown }) {
    super(code, message, where, options);
    this.name = 'ValidationError';
  }
}

/** Bad input that is not a module: manifests, bundles, CLI flags, options. */
export class InputError extends DocklockError {
  constructor(code: ErrorCode, message: string, where?: ErrorLocation, options?: { cause?: unknown }) {
    super(code, message, where, options);
    this.name = 'InputError';
  }
}

/** A deterministic fault of the guest: same module, input and fuel give the same trap everywhere. */
export class DeterministicTrap extends DocklockError {
  readonly trap: TrapCode;
  constructor(trap: TrapCode, message: string, options?: { cause?: unknown }) {
    super(`DL_ERR_TRAP_${trap.toUpperCase() as Uppercase<TrapCode>}`, message, undefined, options);
    this.name = 'DeterministicTrap';
    this.trap = trap;
  }
}

/** The guest used up its fuel budget. */
export class OutOfFuel extends DeterministicTrap {
  constructor() {
    super('out_of_fuel', 'all fuel consumed: the guest ran longer than its fuel budget allows (raise the fuel limit)');
    this.name = 'OutOfFuel';
  }
}

/** The guest's call depth went over its deterministic stack budget. */
export class StackExhausted extends DeterministicTrap {
  constructor() {
    super('stack_exhausted', 'call stack budget exhausted: the guest recursed deeper than its stack budget allows');
    this.name = 'StackExhausted';
  }
}

/** Any other guest trap, with a stable `trap` code. */
export class Trap extends DeterministicTrap {
  constructor(trap: TrapCode, message: string, options?: { cause?: unknown }) {
    super(trap, message, options);
    this.name = 'Trap';
  }
}

/** An impossible state inside docklock itself: our bug, not the caller's input. */
export class InternalError extends DocklockError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DL_ERR_INTERNAL', message, undefined, options);
    this.name = 'InternalError';
  }
}

/** The wall-clock watchdog fired: an infrastructure failure, never a result. `%s`: what ran, the limit. */
export const WatchdogError = createError(
  'DL_ERR_CAGE_WATCHDOG',
  '%s exceeded its wall-clock watchdog of %s ms; this is an infrastructure failure, not a result (raise limits.wallClockMs or lower the fuel)',
);

/** An evaluation pool was used after `close()`. */
export const PoolClosedError = createError('DL_ERR_EVALUATE_CLOSED', 'the evaluation pool %s closed');
