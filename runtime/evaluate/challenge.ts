/**
 * A challenge on disk (challenges/README.md, "The contract"): a folder holding a cage manifest
 * (`challenge.yaml` or `challenge.json`) and the module it names. `loadChallenge` reads both,
 * declares the submission input `/input/submission`, reads the challenge's own inputs and compiles
 * the module once; the pool then shares the compiled module with its workers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compile } from '../engine.ts';
import { isComponent } from '../component/detect.ts';
import type { CompiledModule } from '../compiled-module.ts';
import { InputError } from '../errors.ts';
import { readManifestInputs } from '../inputs.ts';
import { parseManifest } from '../manifest/parse.ts';
import { applyManifestOverrides, readManifestFile } from '../manifest/load.ts';
import type { CageManifest } from '../manifest/parse.ts';
import { compileOptionsFor } from '../cage/run.ts';

/** Where the challenge contract puts the submission's bytes (read-only; they are also stdin). */
export const SUBMISSION_PATH = '/input/submission';
/** Where a challenge writes its score. */
export const SCORE_PATH = '/output/score.json';
/** Manifest file names looked for in a challenge folder, in order. */
export const CHALLENGE_MANIFESTS = ['challenge.yaml', 'challenge.yml', 'challenge.json'] as const;

export interface Challenge {
  /** Absolute path of the folder. */
  dir: string;
  /** The manifest with `/input/submission` declared among its inputs. */
  manifest: CageManifest;
  /** The challenge module's original bytes. */
  module: Uint8Array;
  /** The challenge's own read-only inputs (guest path → bytes), without the submission. */
  inputs: ReadonlyMap<string, Uint8Array>;
  /** Validated, instrumented and compiled once; shared with every worker. A component: none (each run transpiles it from the cache). */
  compiled: CompiledModule | undefined;
}

export interface LoadChallengeOptions {
  /** Environment variables set on top of the manifest's (e.g. a ground-truth URL). */
  env?: Record<string, string>;
  /** `host:port` entries added to `network.allow` (record mode). */
  allowHosts?: string[];
}

/**
 * Reads and compiles a challenge folder.
 * @throws {InputError} `DL_ERR_EVALUATE_NO_MANIFEST`, `DL_ERR_MANIFEST_*`, `DL_ERR_CLI_READ`-like read errors
 * @throws {ValidationError} when the challenge module is rejected
 * @example
 * const ch = await loadChallenge('challenges/examples/sort');
 */
export async function loadChallenge(dir: string, options: LoadChallengeOptions = {}): Promise<Challenge> {
  const root = resolve(dir);
  const file = CHALLENGE_MANIFESTS.map((n) => join(root, n)).find((p) => existsSync(p));
  if (file === undefined) {
    throw new InputError(
      'DL_ERR_EVALUATE_NO_MANIFEST',
      `${root} holds no challenge manifest; expected one of ${CHALLENGE_MANIFESTS.join(', ')}`,
      { field: 'challenge' },
    );
  }
  const raw = readManifestFile(file);
  const files = raw.files;
  const declared =
    typeof files === 'object' && files !== null && Array.isArray((files as Record<string, unknown>).inputs)
      ? ((files as Record<string, unknown>).inputs as unknown[])
      : [];
  if (
    declared.some(
      (i) => typeof i === 'object' && i !== null && (i as Record<string, unknown>).guest === SUBMISSION_PATH,
    )
  ) {
    throw new InputError(
      'DL_ERR_EVALUATE_SUBMISSION_INPUT',
      `${file} declares ${SUBMISSION_PATH} itself; the evaluator provides it, remove it from files.inputs`,
      { field: 'files.inputs' },
    );
  }
  const manifest = parseManifest(
    applyManifestOverrides(raw, {
      inputs: [{ guest: SUBMISSION_PATH }],
      env: options.env,
      allowHosts: options.allowHosts,
    }),
  );
  const modulePath = resolve(root, manifest.module);
  let module: Uint8Array;
  try {
    module = new Uint8Array(readFileSync(modulePath));
  } catch (e) {
    throw new InputError(
      'DL_ERR_EVALUATE_MODULE_READ',
      `cannot read the challenge module ${modulePath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (build it with npm run build:challenges?)`,
      { field: 'module' },
    );
  }
  const own = {
    ...manifest,
    files: { ...manifest.files, inputs: manifest.files.inputs.filter((i) => i.guest !== SUBMISSION_PATH) },
  };
  const inputs = readManifestInputs(own, root);
  const compiled = isComponent(module) ? undefined : await compile(module, compileOptionsFor(manifest));
  return { dir: root, manifest, module, inputs, compiled };
}
