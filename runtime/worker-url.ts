/**
 * Where a worker's entry module is: the `.ts` source under the test runner; in the built package,
 * the single-file bundle `scripts/bundle-workers.ts` writes beside it when present (a worker that
 * loads one file instead of ~100 modules starts sooner: bench:cli), else the plain `.js`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * @param base - the `import.meta.url` of the module that starts the worker
 * @param name - the worker module's file name without extension, in the same folder
 */
export function workerUrl(base: string, name: string): URL {
  if (base.endsWith('.ts')) return new URL(`./${name}.ts`, base);
  const bundle = new URL(`./${name}.bundle.js`, base);
  return existsSync(fileURLToPath(bundle)) ? bundle : new URL(`./${name}.js`, base);
}
