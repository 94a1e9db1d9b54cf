/**
 * Public entry `docklock/cage`: run a module in the cage from a manifest. A lean door (no
 * evaluation pool, no broker) for programs such as `docklock run` that only run; `docklock` (index.ts)
 * exports the same functions among everything else.
 */
export { CagePool, prestartCage, runCage } from '../cage/cage.ts';
export { canRunInline, prepareRunOnce, runOnce } from '../cage/inline.ts';
export type { RunOnceOptions, RunPlace } from '../cage/inline.ts';
export { Engine } from '../engine.ts';
export { instrumentCacheDir } from '../instrument-cache.ts';
export type { CageOptions, CagePoolOptions, CageRunOptions } from '../cage/cage.ts';
export type { RunOutcome, RunRequest } from '../cage/run.ts';
export { loadManifest, applyManifestOverrides, readManifestFile } from '../manifest/load.ts';
export type { LoadedManifest, ManifestOverrides } from '../manifest/load.ts';
export { parseManifest } from '../manifest/parse.ts';
export type { CageManifest } from '../manifest/parse.ts';
export { readManifestInputs } from '../inputs.ts';
export { resultHash, resultToJson } from '../result.ts';
export type { RunResult, RunStatus } from '../result.ts';
export { encodeBundle } from '../bundle.ts';
export { writeFileAtomic } from '../write-atomic.ts';
export { writeOutputs } from '../extract.ts';
export { DocklockError, InputError } from '../errors.ts';
