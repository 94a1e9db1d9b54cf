/**
 * The escrow's errors: one class, `DL_ERR_ESCROW_*` codes (state's own are in state/errors.ts) (docs/errors.md,
 * "Escrow and challenge state"). Hostile sizes, stale tokens and unknown ids end here, with
 * nothing written.
 */
import { DocklockError } from '../index.ts';
import type { ErrorCode, ErrorLocation } from '../index.ts';

/** A registered `DL_ERR_ESCROW_*` code (errors/codes.ts). */
export type EscrowErrorCode = Extract<ErrorCode, `DL_ERR_ESCROW_${string}`>;

export class EscrowError extends DocklockError {
  constructor(code: EscrowErrorCode, message: string, where?: ErrorLocation, options?: { cause?: unknown }) {
    super(code, message, where, options);
    this.name = 'EscrowError';
  }
}
