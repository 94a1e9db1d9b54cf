/**
 * Public entry `docklock/escrow`: versioned challenge state, the escrow book, the gate and its
 * jurors (docs/escrow.md).
 */
export { Escrow, ESCROW_DEFAULTS } from './escrow.ts';
export type { EscrowAuditEvent, EscrowConfig, RecordedRun, Reevaluate, SpeculativeResult } from './escrow.ts';
export { EscrowBook, MAX_TTL_MS } from './book.ts';
export type { CommitOutcome, EscrowInput, EscrowRecord, EscrowStatus } from './book.ts';
export { ESCROW_API_DEFAULTS, loadEscrowConfig, parseEscrowConfig } from './config.ts';
export type { EscrowApiConfig, EscrowApiToken, LoadedEscrowConfig } from './config.ts';
export { GATE_DEFAULTS, decide, requiredJurors } from './gate.ts';
export type { GateDecision, GateInput, GateOutcome, GateRules, JurorVerdict } from './gate.ts';
export { ProcessJuror, judgeLocally, localJury, summonJury } from './jury.ts';
export { rerunFromBundle } from './rerun.ts';
export { bytesJson, recordJson } from './json.ts';
export { buildEscrowApp } from './api.ts';
export type { EscrowApiOptions } from './api.ts';
export { EscrowMetrics } from './metrics.ts';
export type { Juror } from './jury.ts';
export { readEntropy, shannonEntropy } from './entropy.ts';
export type { EntropyBand, EntropyReading } from './entropy.ts';
export { REPUTATION_DEFAULTS, Reputations } from './reputation.ts';
export type { ReputationConfig } from './reputation.ts';
export { SqliteStateStore, compareKeys } from '../state/store.ts';
export type {
  ApplyOutcome,
  StateChange,
  StateConflict,
  StateEntry,
  StateRead,
  StateStore,
  StateWrite,
} from '../state/store.ts';
export { STATE_LIMITS } from '../state/limits.ts';
export type { StateLimits } from '../state/limits.ts';
export { decodeChange, encodeChange, writeSetHash } from '../state/change-codec.ts';
export { EscrowError } from './errors.ts';
export { StateError } from '../state/errors.ts';
export { verifyAuditFile } from '../audit/chain-log.ts';
