/**
 * The error categories every layer uses: a rejected module, bad input that is not a module, and
 * our own bug. Each takes a registered code (errors/codes.ts); guest traps are the runtime's
 * (runtime/errors.ts), broker errors the broker's (broker/errors.ts).
 */
import { DocklockError } from './base.ts';
import type { ErrorLocation } from './base.ts';
import type { ErrorCode } from './codes.ts';

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

/** An impossible state inside docklock itself: our bug, not the caller's input. */
export class InternalError extends DocklockError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DL_ERR_INTERNAL', message, undefined, options);
    this.name = 'InternalError';
  }
}
