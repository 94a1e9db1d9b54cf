/**
 * Public entry `docklock/bundle`: read, verify, replay and prove bundles (the witness's Merkle
 * proofs included) without loading the evaluation pool or the broker.
 */
export { decodeBundle, encodeBundle } from '../bundle.ts';
export { replayBundle, replayDecoded, summarizeEntry, verifyBundleBytes } from '../replay.ts';
export type { ReplayOptions, ReplayReport } from '../replay.ts';
export { commitEntries } from '../witness/log.ts';
export { inclusionProof, leafHash, nodeHash, verifyInclusion } from '../witness/merkle.ts';
export type { InclusionProof } from '../witness/merkle.ts';
export { canonicalManifestBytes } from '../manifest/canonical.ts';
export { resultHash, resultToJson } from '../result.ts';
export { bytesEqual, toHex } from '../hash.ts';
export { decodeEntry, encodeEntry } from '../witness/encoding.ts';
export { DocklockError, InputError } from '../errors.ts';
export { STATE_CHANGE_ENTRY, stateChangeOf } from '../state-change.ts';
export { writeSetHash as writeSetHashOf } from '../../state/change-codec.ts';
export type { RunStateChange } from '../state-change.ts';
