/**
 * The error factory (fastify `lib/errors.js` `createError`): one call per code gives a class whose
 * code and HTTP status are fixed, so a code never maps to two statuses and no class is written by
 * hand per code.
 */
import { DocklockError } from './base.ts';
import type { ErrorLocation } from './base.ts';
import { ERROR_CODES, httpStatusOf } from './codes.ts';
import type { ErrorCode } from './codes.ts';

/** A base class the factory can extend: `DocklockError` or a subclass with the same constructor. */
export type ErrorBase<E extends DocklockError> = new (
  code: ErrorCode,
  message: string,
  where?: ErrorLocation,
  options?: { cause?: unknown },
) => E;

/** Structured fields a created error takes after its `%s` arguments. */
export interface CreatedErrorOptions {
  where?: ErrorLocation;
  cause?: unknown;
}

/** The class {@link createError} returns. */
export interface CreatedError<E extends DocklockError> {
  new (
    args?: readonly (string | number | bigint)[],
    options?: CreatedErrorOptions,
  ): E & { readonly httpStatus: number | undefined };
  readonly code: ErrorCode;
  readonly httpStatus: number | undefined;
}

/**
 * Creates the class of one error code.
 *
 * @param code - a registered `DL_ERR_<AREA>_<WHAT>` code (errors/codes.ts).
 * @param message - the message; each `%s` is replaced by the next constructor argument.
 * @param httpStatus - the status an API answers with; defaults to the registry's, and must agree with it.
 * @param Base - the class to extend (default `DocklockError`).
 * @returns a class: `new X([args], { where, cause })`.
 * @example
 * ```ts
 * const NoEntry = createError('DL_ERR_CAGE_NO_ENTRY', 'the module exports no function "%s"');
 * throw new NoEntry(['_start'], { where: { field: 'entry' } });
 * ```
 */
export function createError<E extends DocklockError = DocklockError>(
  code: ErrorCode,
  message: string,
  httpStatus: number | undefined = httpStatusOf(code),
  Base: ErrorBase<E> = DocklockError as unknown as ErrorBase<E>,
): CreatedError<E> {
  if (!Object.hasOwn(ERROR_CODES, code)) throw new TypeError(`createError: ${code} is not a registered error code`);
  const registered = httpStatusOf(code);
  if (registered !== undefined && httpStatus !== registered)
    throw new TypeError(`createError: ${code} is registered with HTTP status ${registered}, not ${httpStatus}`);
  const Created = class extends (Base as ErrorBase<DocklockError>) {
    static readonly code = code;
    static readonly httpStatus = httpStatus;
    readonly httpStatus = httpStatus;
    constructor(args: readonly (string | number | bigint)[] = [], options: CreatedErrorOptions = {}) {
      let i = 0;
      super(
        code,
        message.replace(/%s/g, () => (i < args.length ? String(args[i++]) : '%s')),
        options.where,
        options.cause === undefined ? undefined : { cause: options.cause },
      );
    }
  };
  return Created as unknown as CreatedError<E>;
}
