/**
 * docklock's library entry. Each export is documented where it is defined.
 */
export * from './runtime/errors.ts';
export { createError, ERROR_CODES, isErrorCode, httpStatusOf } from './errors/index.ts';
export type { CreatedError, CodeInfo } from './errors/index.ts';
export {
  instrument,
  INSTRUMENTER_VERSION,
  DEFAULT_STACK_LIMIT,
  DEFAULT_MEMORY_LIMIT,
} from './runtime/instrument/instrument.ts';
export type { InstrumentOptions } from './runtime/instrument/instrument.ts';
export { DEFAULT_COST_TABLE } from './runtime/instrument/cost-table.ts';
export type { CostTable } from './runtime/instrument/cost-table.ts';
export { Engine, ENGINE_DEFAULTS, compile, compileSync } from './runtime/engine.ts';
export type { EngineConfig, EngineOptions, CompileOptions } from './runtime/engine.ts';
export { CompiledModule, CompiledModule as Module } from './runtime/compiled-module.ts';
export type { InstantiateOptions } from './runtime/compiled-module.ts';
export { Instance } from './runtime/instance.ts';
export { validateModule, DEFAULT_MODULE_LIMITS } from './runtime/validate.ts';
export type { ModuleLimits, ValidateOptions, ImportGrants } from './runtime/validate.ts';
export { runCage } from './runtime/cage/cage.ts';
export { canRunInline, runOnce } from './runtime/cage/inline.ts';
export type { RunOnceOptions, RunPlace } from './runtime/cage/inline.ts';
export { InstrumentCache, instrumentCacheDir } from './runtime/instrument-cache.ts';
export type { CageOptions } from './runtime/cage/cage.ts';
export type { RunOutcome, RunRequest } from './runtime/cage/run.ts';
export { Store } from './runtime/store.ts';
export { grantedImports, CAPABILITIES } from './runtime/cage/capabilities.ts';
export type { Capability } from './runtime/cage/capabilities.ts';
export { readManifestInputs } from './runtime/inputs.ts';
export { replayBundle, replayDecoded, summarizeEntry, verifyBundleBytes } from './runtime/replay.ts';
export type { ReplayReport } from './runtime/replay.ts';
export { parseManifest, parseManifestText, MANIFEST_DEFAULTS, GRANTS } from './runtime/manifest/parse.ts';
export type { CageManifest, Grant, ManifestInput } from './runtime/manifest/parse.ts';
export { loadManifest, applyManifestOverrides, readManifestFile } from './runtime/manifest/load.ts';
export type { ManifestOverrides, LoadedManifest } from './runtime/manifest/load.ts';
export { canonicalManifestBytes, manifestHash, decodeCanonicalManifest } from './runtime/manifest/canonical.ts';
export { encodeBundle, decodeBundle } from './runtime/bundle.ts';
export { writeFileAtomic } from './runtime/write-atomic.ts';
export { commitEntries } from './runtime/witness/log.ts';
export type { WitnessEntry } from './runtime/witness/entry.ts';
export { loadChallenge } from './runtime/evaluate/challenge.ts';
export type { Challenge, LoadChallengeOptions } from './runtime/evaluate/challenge.ts';
export { evaluateSubmissions } from './runtime/evaluate/batch.ts';
export type { Evaluation } from './runtime/evaluate/evaluation.ts';
export { resultHash, resultToJson } from './runtime/result.ts';
export type { RunResult, RunStatus } from './runtime/result.ts';
// For p2p/ (claims, verdicts, disputes): hashes, Merkle proofs, witness leaf encoding, the score contract.
export { blake3, toHex } from './runtime/hash.ts';
export { leafHash, inclusionProof, verifyInclusion } from './runtime/witness/merkle.ts';
export type { InclusionProof } from './runtime/witness/merkle.ts';
export { encodeEntry, decodeEntries } from './runtime/witness/encoding.ts';
export { verdictOf } from './runtime/evaluate/evaluation.ts';
export { runGuest } from './runtime/cage/run.ts';
// For p2p/'s replay threads (p2p/replay-pool.ts, p2p/replay-worker.ts): a pool of its own on the one
// worker pool, judging whole claims on the thread.
export { compileOptionsFor } from './runtime/cage/run.ts';
export { WorkerPool } from './runtime/cage/worker-pool.ts';
export { serveJobs } from './runtime/cage/worker-loop.ts';
export type { JobContext, JobResult } from './runtime/cage/worker-loop.ts';
export { errorFromWire, errorToWire } from './runtime/cage/transport.ts';
export { workerStackMb } from './runtime/cage/cage-pool.ts';
export { workerUrl } from './runtime/worker-url.ts';
