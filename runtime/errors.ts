/**
 * The runtime's error classes, built on the shared error layer (errors/: the `DocklockError` base,
 * the code registry and the `createError` factory, which the broker uses too). Codes follow
 * `DL_ERR_<AREA>_<WHAT>`; a code must be registered in errors/codes.ts to compile here.
 */

export { DocklockError, InputError, InternalError, TRAP_CODES, ValidationError } from '../errors/index.ts';
export type { ErrorCode, ErrorJson, ErrorLocation, TrapCode } from '../errors/index.ts';
import { DocklockError, createError } from '../errors/index.ts';
import type { TrapCode } from '../errors/index.ts';

/**
 * A deterministic fault of the guest: same module, input and fuel give the same trap everywhere.
 * Every guest fault is a `Trap` with a stable `trap` code, running out of fuel and exhausting the
 * stack included (as in wasmtime, where `Trap::OutOfFuel` is one of the trap codes): so
 * `e instanceof Trap` is the one test for "the guest faulted", and `OutOfFuel` /
 * `StackExhausted` are the subclasses for the two budget traps (docs/errors.md, "Guest traps").
 */
export class Trap extends DocklockError {
  readonly trap: TrapCode;
  constructor(trap: TrapCode, message: string, options?: { cause?: unknown }) {
    super(`DL_ERR_TRAP_${trap.toUpperCase() as Uppercase<TrapCode>}`, message, undefined, options);
    this.name = 'Trap';
    this.trap = trap;
  }
}

/** The former name of the traps' base class, now the same class as {@link Trap}; kept so `instanceof DeterministicTrap` still works. */
export const DeterministicTrap = Trap;
export type DeterministicTrap = Trap;

/** The guest used up its fuel budget. A `Trap` with code `out_of_fuel`. */
export class OutOfFuel extends Trap {
  constructor() {
    super('out_of_fuel', 'all fuel consumed: the guest ran longer than its fuel budget allows (raise the fuel limit)');
    this.name = 'OutOfFuel';
  }
}

/** The guest's call depth went over its deterministic stack budget. A `Trap` with code `stack_exhausted`. */
export class StackExhausted extends Trap {
  constructor() {
    super('stack_exhausted', 'call stack budget exhausted: the guest recursed deeper than its stack budget allows');
    this.name = 'StackExhausted';
  }
}

/** The wall-clock watchdog fired: an infrastructure failure, never a result. `%s`: what ran, the limit. */
export const WatchdogError = createError(
  'DL_ERR_CAGE_WATCHDOG',
  '%s exceeded its wall-clock watchdog of %s ms; this is an infrastructure failure, not a result (raise limits.wallClockMs or lower the fuel)',
);

/** An evaluation pool was used after `close()`. */
export const PoolClosedError = createError('DL_ERR_EVALUATE_CLOSED', 'the evaluation pool %s closed');

/** A cage worker pool was used after `close()`, or closed with the job still waiting or running. `%s`: is / was. */
export const CagePoolClosedError = createError('DL_ERR_CAGE_POOL_CLOSED', 'the worker pool %s closed');

/** A cage worker pool's queue is at its bound. `%s`: the bound. */
export const PoolFullError = createError(
  'DL_ERR_CAGE_POOL_FULL',
  'the worker pool already has %s jobs waiting; wait for results before queueing more',
);
