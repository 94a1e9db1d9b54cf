/**
 * The error layer: the bottom of docklock's import graph. The runtime, the host functions and the
 * broker all build their errors from here; it imports nothing of docklock's.
 */
export { DocklockError } from './base.ts';
export { InputError, InternalError, ValidationError } from './categories.ts';
export type { ErrorJson, ErrorLocation } from './base.ts';
export { ERROR_CODES, TRAP_CODES, httpStatusOf, isErrorCode } from './codes.ts';
export type { CodeInfo, ErrorCode, TrapCode } from './codes.ts';
export { createError } from './create.ts';
export type { CreatedError, CreatedErrorOptions, ErrorBase } from './create.ts';
