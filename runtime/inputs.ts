/** Reads the host files a manifest lists as inputs (paths relative to the manifest's folder). */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError } from './errors.ts';
import type { CageManifest } from './manifest/parse.ts';

/** Largest single input file read from the host: 1 GiB. */
export const MAX_INPUT_BYTES = 2 ** 30;

export function readManifestInputs(m: CageManifest, baseDir: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  m.files.inputs.forEach((input, i) => {
    if (input.host === undefined) {
      throw new InputError('DL_ERR_MANIFEST_INPUT_SOURCE', `files.inputs[${i}] (${input.guest}) has no host path to read`, { field: `files.inputs[${i}].host` });
    }
    const path = resolve(baseDir, input.host);
    try {
      if (statSync(path).size > MAX_INPUT_BYTES) throw new Error('larger than 1 GiB');
      out.set(input.guest, new Uint8Array(readFileSync(path)));
    } catch (e) {
      throw new InputError('DL_ERR_MANIFEST_INPUT_READ', `cannot read input ${path} for ${input.guest}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { field: `files.inputs[${i}].host` });
    }
  });
  return out;
}
