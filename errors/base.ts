/**
 * Errors are values with a stable `code` a user can match on, an actionable `message`, and
 * structured fields saying where the problem is. Modelled on undici's `UND_ERR_*` and fastify's
 * `createError` factory; codes follow `DL_ERR_<AREA>_<WHAT>`, are registered in ./codes.ts and
 * are never reused once retired (docs/errors.md lists them).
 */
import type { ErrorCode } from './codes.ts';

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

/** What crosses a process or thread boundary for an error: never a stack. */
export interface ErrorJson {
  code: string;
  message: string;
  where?: ErrorLocation;
}

/** Base of every error docklock throws on purpose. `instanceof` survives duplicate package copies. */
export class DocklockError extends Error {
  /** A registered code, or (for an error rebuilt from the wire) the code the other side sent. */
  readonly code: string;
  readonly where: ErrorLocation | undefined;

  constructor(code: ErrorCode, message: string, where?: ErrorLocation, options?: { cause?: unknown }) {
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
  toJSON(): ErrorJson {
    return this.where
      ? { code: this.code, message: this.message, where: this.where }
      : { code: this.code, message: this.message };
  }

  /**
   * Rebuilds an error that crossed a thread or process boundary as {@link ErrorJson}. The code is
   * kept as sent, even when this side does not know it.
   */
  static fromJSON(json: ErrorJson): DocklockError {
    return new DocklockError(json.code as ErrorCode, json.message, json.where);
  }
}
