/**
 * The P2P node's errors: one class, `DL_ERR_P2P_*` codes (docs/errors.md, "P2P node"). Hostile
 * input from a peer becomes one of these, never a crash; the node scores the sender down for it.
 */
import { DocklockError } from '../index.ts';
import type { ErrorCode, ErrorLocation } from '../index.ts';

/** A registered `DL_ERR_P2P_*` code (errors/codes.ts). */
export type P2PErrorCode = Extract<ErrorCode, `DL_ERR_P2P_${string}`>;

/** Bad input on the P2P path: a message, a bundle stream, a config, a key file, a dispute file. */
export class P2PError extends DocklockError {
  constructor(code: P2PErrorCode, message: string, where?: ErrorLocation, options?: { cause?: unknown }) {
    super(code, message, where, options);
    this.name = 'P2PError';
  }
}
