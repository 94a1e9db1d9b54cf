/**
 * Bundles each worker entry of the built package (dist/) into one file beside it
 * (`worker.bundle.js`), which runtime/worker-url.ts prefers: a worker thread then loads one module
 * instead of the ~100 of its import graph. Part of `npm run build`; the library's own modules stay
 * as tsc wrote them. Native addons stay external (msgpackr-extract is optional to msgpackr).
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const WORKERS = ['runtime/cage/worker', 'runtime/evaluate/worker'];

await Promise.all(
  WORKERS.map((w) =>
    build({
      entryPoints: [`${DIST}${w}.js`],
      outfile: `${DIST}${w}.bundle.js`,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      external: ['msgpackr-extract', '@bytecodealliance/jco-transpile'],
      // CommonJS dependencies inside an ES module bundle need a `require`.
      banner: {
        js: "import { createRequire as __dlCreateRequire } from 'node:module'; const require = __dlCreateRequire(import.meta.url);",
      },
      logLevel: 'warning',
    }),
  ),
);
