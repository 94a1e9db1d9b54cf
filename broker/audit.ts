/**
 * The broker's audit trail: a hash-chained log (audit/chain-log.ts, the format and its
 * verification) of broker events. Every append is fsync'd before the request it describes is
 * answered.
 */
import { ChainLog, type ChainEntry, type ChainLogErrors } from '../audit/chain-log.ts';
import type { BreakerEvent } from './breaker/history.ts';
import { Errors } from './errors.ts';

export { AUDIT_GENESIS, verifyAuditFile, verifyAuditText } from '../audit/chain-log.ts';
export type { AuditVerifyResult } from '../audit/chain-log.ts';

/** What a caller records; `seq`, `time` and `prev` are added by the log. */
export interface AuditEvent {
  /** Stable event type, e.g. `service.create`, `reconcile.remove`. */
  action: string;
  principal: string | null;
  decision: 'allowed' | 'denied' | 'error' | 'info';
  /** Why: an error code, or a short reason. */
  reason?: string;
  target?: string;
  status?: number;
  method?: string;
  /** The request path, never its query string. */
  url?: string;
  /** The request id (response header `x-request-id`, server log `reqId`). */
  requestId?: string;
  /** A circuit-breaker event, whole (breaker/breaker.ts): the history is rebuilt from these at start. */
  breaker?: Omit<BreakerEvent, 'seq'>;
}

/** A stored entry. */
export type AuditEntry = ChainEntry<AuditEvent>;

const BROKER_AUDIT_ERRORS: ChainLogErrors = {
  chainBroken: (message) => Errors.auditChainBroken(message),
  write: (message, cause) => Errors.auditWrite(message, undefined, { cause }),
  insecure: (message) => Errors.auditInsecure(message, 'auditPath'),
};

/** The open broker audit log. */
export class AuditLog extends ChainLog<AuditEvent> {
  /**
   * Opens (or creates) the log, verifying the existing chain first: the broker refuses to extend a
   * log that has been tampered with.
   * A new file is created 0600 (its missing directories 0700): the log names clients and what
   * they asked for.
   * @throws {BrokerError} `DL_ERR_AUDIT_CHAIN_BROKEN` when the existing file does not verify
   * @throws {BrokerError} `DL_ERR_AUDIT_INSECURE` when the existing file is group- or world-writable,
   *   owned by another user, or not a regular file
   */
  static async open(path: string): Promise<AuditLog> {
    const { fh, seq, prev } = await ChainLog.openFile(path, BROKER_AUDIT_ERRORS);
    return new AuditLog(path, fh, seq, prev, BROKER_AUDIT_ERRORS);
  }
}
