/**
 * Errors of challenge state: `DL_ERR_STATE_*` codes (docs/errors.md, "Escrow and challenge
 * state"). Hostile sizes and malformed changes end here, with nothing written.
 */
import { DocklockError } from '../errors/index.ts';
import type { ErrorCode, ErrorLocation } from '../errors/index.ts';

/** A registered `DL_ERR_STATE_*` code (errors/codes.ts). */
export type StateErrorCode = Extract<ErrorCode, `DL_ERR_STATE_${string}`>;

export class StateError extends DocklockError {
  constructor(code: StateErrorCode, message: string, where?: ErrorLocation, options?: { cause?: unknown }) {
    super(code, message, where, options);
    this.name = 'StateError';
  }
}
