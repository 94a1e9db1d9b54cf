/**
 * Errors are values with a stable `code` a user can match on, an actionable `message`, and
 * structured fields saying where the problem is. Modelled on undici's `UND_ERR_*` and fastify's
 * `createError` factory; codes follow `DL_ERR_<AREA>_<WHAT>` and are never reused once retired
 * (docs/errors.md lists them).
 */

const kDocklockError = Symbol.for('docklock.error');

/** Where an error points: any of a section, function index, byte offset, field path, entry. */
export interface ErrorLocation {
  section?: string;
  func?: number;
  offset?: number;
  field?: string;
  entry?: number;
  [key: string]: string | number | undefined;
}

/** Base of every error docklock throws on purpose. `instanceof` survives duplicate package copies. */
export class DocklockError extends Error {
  readonly code: string;
  readonly where: ErrorLocation | undefined;

  constructor(code: string, message: string, where?: ErrorLocation, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DocklockError';
    this.code = code;
    this.where = where;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== DocklockError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kDocklockError] === true;
  }

  get [kDocklockError](): true {
    return true;
  }

  /** A plain object for JSON output: code, message and location, never a stack. */
  toJSON(): { code: string; message: string; where?: ErrorLocation } {
    return this.where ? { code: this.code, message: this.message, where: this.where } : { code: this.code, message: this.message };
  }
}

/** The module was rejected before it ran (malformed, unsupported feature, over a limit, import not granted). */
export class ValidationError extends DocklockError {
  constructor(code: string, message: string, where?: ErrorLocation, options?: { cause?: unknown }) {
    super(code, message, where, options);
    this.name = 'ValidationError';
  }
}

/** Bad input that is not a module: manifests, bundles, CLI flags, options. */
export class InputError extends DocklockError {
  constructor(code: string, message: string, where?: ErrorLocation, options?: { cause?: unknown }) {
    super(code, message, where, options);
    this.name = 'InputError';
  }
}

/**
 * Stable trap codes. The set is closed: a guest fault is always one of these, never an engine
 * message (spec: spec/traps.md#T1).
 */
export const TRAP_CODES = [
  'out_of_fuel',
  'stack_exhausted',
  'unreachable',
  'integer_divide_by_zero',
  'integer_overflow',
  'invalid_conversion',
  'out_of_bounds_memory',
  'out_of_bounds_table',
  'indirect_call_type_mismatch',
  'null_reference',
  'uninitialized_element',
  'out_of_bounds_data_segment',
  'host_error',
] as const;
export type TrapCode = (typeof TRAP_CODES)[number];

/** A deterministic fault of the guest: same module, input and fuel give the same trap everywhere. */
export class DeterministicTrap extends DocklockError {
  readonly trap: TrapCode;
  constructor(trap: TrapCode, message: string, options?: { cause?: unknown }) {
    super(`DL_ERR_TRAP_${trap.toUpperCase()}`, message, undefined, options);
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
