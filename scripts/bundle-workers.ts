/**
 * Bundles the hot entries of the built package (dist/) into single files beside them, so a
 * process or thread loads one module instead of the hundreds of its import graph (bench:cli):
 *
 * - each worker entry → `worker.bundle.js`, which runtime/worker-url.ts prefers;
 * - the CLI: `cli/program.run.bundle.cjs` for `docklock run`, `cli/program.cage.bundle.cjs` for the
 *   cage's other commands, and `cli/program.help.bundle.cjs` (without the runtime) for `docklock
 *   --help`: CommonJS scripts that cli/main.ts runs through cli/script-bundle.ts for those
 *   commands. Every other command's module stays outside them (see {@link otherCommandsExternal}).
 *   cli/main.js itself becomes one file ({@link mainInOneFile}).
 *
 * Part of `npm run build`; the library's own modules stay as tsc wrote them.
 */
import { build } from 'esbuild';
import type { BuildOptions, Plugin } from 'esbuild';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_HEADER } from '../cli/script-bundle.ts';
import { blake3, toHex } from '../runtime/hash.ts';

const DIST = fileURLToPath(new URL('../dist/', import.meta.url));
const WORKERS = ['runtime/cage/worker', 'runtime/evaluate/worker', 'p2p/replay-worker'];

/**
 * `import.meta.url` keeps naming the module's original file, not the bundle: cage.ts finds its
 * worker beside itself, transpile.ts its cache, main.ts the checkout's Node. Each use becomes the
 * original file's URL computed from the bundle's own (both live in the installed package).
 */
function originalImportMetaUrl(outdir: string): Plugin {
  return {
    name: 'original-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.(m?js|cjs)$/ }, async (args) => {
        const text = await readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const rel = relative(outdir, args.path).split(sep).join('/');
        const url = `new URL(${JSON.stringify(rel.startsWith('.') ? rel : `./${rel}`)}, import.meta.url).href`;
        return { contents: text.replaceAll('import.meta.url', url), loader: 'js', resolveDir: dirname(args.path) };
      });
    },
  };
}

/**
 * The one-shot bundles (the CLI and the cage worker) take msgpackr's plain entry (`index.js`)
 * instead of its Node entry, which adds the optional native string decoder and the stream
 * classes. Loading the decoder (node-gyp-build, detect-libc probing the C library) costs every
 * process and thread tens of milliseconds at start, and the stream classes load `node:stream`
 * (≈6 ms of a `docklock run` that never makes a stream), while the decoder saves ~5 % of decoding
 * a 100 000-entry witness in full (≈35 ms; bench/RESULTS.md), which `docklock run` never does.
 * The evaluation pool's long-lived workers keep it. Both entries encode and decode byte for byte
 * the same.
 */
const plainMsgpackr: Plugin = {
  name: 'plain-msgpackr',
  setup(b) {
    const plain = join(dirname(fileURLToPath(import.meta.resolve('msgpackr'))), 'index.js');
    b.onResolve({ filter: /^msgpackr$/ }, () => ({ path: plain }));
  },
};

/** Which CLI bundle: `--help` alone, `docklock run`, or the other cage commands (cli/main.ts). */
type CliBundle = 'help' | 'run' | 'cage';

/** The modules of commands that stay outside the cage bundle: they reach Docker or the P2P node. */
const OUTSIDE_CAGE = new Set(['./broker/index.js', './cmd/escrow.js', './cmd/node.js']);

/**
 * The bundles hold program.ts and the commands they serve; the other commands' modules (broker,
 * escrow, p2p node, …) are imported from dist/cli as tsc wrote them, should a bundle ever load
 * one. cli/main.ts does not use the bundles for them: their errors would be instances of the
 * unbundled `DocklockError`, which the bundle's own copy would not recognise. `evaluate --publish`
 * (which reaches the P2P node through cmd/node.js) is not run from the cage bundle either.
 */
function otherCommandsExternal(which: CliBundle): Plugin {
  return {
    name: 'other-commands-external',
    setup(b) {
      b.onResolve({ filter: /^\.\/(cmd|broker)\/|^\.\/node\.js$/ }, (args) => {
        const fromProgram = args.importer === `${DIST}cli/program.js`;
        const external =
          which === 'help'
            ? fromProgram
            : which === 'run'
              ? fromProgram && args.path !== './cmd/run.js'
              : (fromProgram && OUTSIDE_CAGE.has(args.path)) ||
                (args.importer === `${DIST}cli/cmd/evaluate.js` && args.path === './node.js');
        return external ? { path: args.path, external: true } : undefined;
      });
    },
  };
}

/**
 * Built-ins that a `docklock run` imports at the top of a module but seldom uses, loaded at the
 * first read of one of their exports: commander's `child_process` (for executable subcommands,
 * which docklock has none of: ≈30 ms in a CPU profile), a bundle's `zlib`, the network's `net`,
 * and `worker_threads` (≈16 ms), which a run on the command's own thread never needs.
 */
const LAZY_BUILTINS = new Set(['node:child_process', 'node:zlib', 'node:net', 'node:worker_threads']);

/**
 * Node's built-in modules come from `process.getBuiltinModule` instead of an ES import. Importing
 * `node:fs` as an ES module builds a facade that reads every export, and reading
 * `fs.ReadStream` loads and compiles the whole fs streams machinery (≈35 ms of a 200 ms
 * `docklock run` in a CPU profile); the CommonJS object is used as it is, each property read when
 * the code reads it.
 */
const builtinsWithoutFacade: Plugin = {
  name: 'builtins-without-facade',
  setup(b) {
    const builtins = new Set(builtinModules);
    b.onResolve({ filter: /^[a-z_/]+$|^node:/ }, (args) => {
      const name = args.path.startsWith('node:') ? args.path : `node:${args.path}`;
      if (!builtins.has(name.slice(5)) && !args.path.startsWith('node:')) return undefined;
      // `require` gets the built-in object itself (a library may read any of its accessors).
      const cjs = args.kind === 'require-call' && !LAZY_BUILTINS.has(name);
      return { path: name, namespace: cjs ? 'dl-builtin-cjs' : 'dl-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'dl-builtin-cjs' }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
    b.onLoad({ filter: /.*/, namespace: 'dl-builtin' }, (args) => {
      const name = JSON.stringify(args.path);
      if (!LAZY_BUILTINS.has(args.path)) {
        // An ES module with the built-in's exports as bindings: as CommonJS, every module that
        // imported it got its own copy of a getter per export (esbuild's __toESM), a quarter of
        // the start's allocations. Accessors (fs.ReadStream, fs.promises, …) load on first read,
        // so they are left out: a bundle that imports one fails to build, not to start.
        const mod = process.getBuiltinModule(args.path) as Record<string, unknown>;
        const keys = Object.keys(mod).filter(
          (k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default' && 'value' in Object.getOwnPropertyDescriptor(mod, k)!,
        );
        return {
          contents: [
            `const m = process.getBuiltinModule(${name});`,
            'export default m;',
            keys.length === 0 ? '' : `export const { ${keys.join(', ')} } = m;`,
          ].join('\n'),
          loader: 'js',
        };
      }
      // One getter per export this Node has (the build's Node, which the sources are typed against).
      const keys = Object.keys(process.getBuiltinModule(args.path) as object);
      return {
        contents: [
          'let m;',
          `const load = () => (m ??= process.getBuiltinModule(${name}));`,
          ...keys.map(
            (k) =>
              `Object.defineProperty(exports, ${JSON.stringify(k)}, { enumerable: true, get: () => load()[${JSON.stringify(k)}] });`,
          ),
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  external: ['jco-1.13', 'msgpackr-extract'],
  // CommonJS dependencies inside an ES module bundle need a `require`.
  banner: {
    js: "const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);",
  },
  // Without comments and indentation a bundle is half the bytes to read and check against V8's
  // code cache, and pure ASCII: one non-ASCII character in a kept comment made Node decode the
  // whole file as UTF-8 into a two-byte string (≈9 ms of a `docklock run` in a CPU profile).
  // Names stay as they are, so stack traces still read.
  minifyWhitespace: true,
  charset: 'ascii',
  logLevel: 'warning',
};

/**
 * A CLI bundle: program.ts as one CommonJS script, which cli/script-bundle.ts compiles with a V8
 * code cache made after the command ran. Its first line names the build (BLAKE3 of the rest),
 * part of that cache's name: V8 checks only a source's length. `import.meta.url` becomes the
 * bundle's own URL (originalImportMetaUrl then names each module's original file from it); any
 * other use of `import.meta` fails the build, as it would be empty in a script.
 */
async function cliBundle(outfile: string, plugins: Plugin[]): Promise<void> {
  const result = await build({
    ...common,
    format: 'cjs',
    define: { 'import.meta.url': '__bundleUrl' },
    banner: { js: "var __bundleUrl=require('node:url').pathToFileURL(__filename).href;" },
    entryPoints: [`${DIST}cli/program.js`],
    outfile,
    write: false,
    plugins: [originalImportMetaUrl(`${DIST}cli`), ...plugins, builtinsWithoutFacade],
  });
  const meta = result.warnings.find((w) => w.id === 'empty-import-meta');
  if (meta !== undefined)
    throw new Error(
      `${meta.location?.file}:${meta.location?.line}: import.meta would be empty in the CLI's script bundle`,
    );
  const text = result.outputFiles[0]!.text;
  await writeFile(outfile, `${BUNDLE_HEADER}${toHex(blake3(new TextEncoder().encode(text)))}\n${text}`);
}

/**
 * `cli/main.js` and the two modules it imports (the script loader and the user's cache folders)
 * in one file, in place of tsc's: the command's first module, which every start resolves, reads
 * and links. It runs on any Node up to its version check, hence the older target.
 */
async function mainInOneFile(): Promise<void> {
  const main = `${DIST}cli/main.js`;
  const result = await build({
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    entryPoints: [main],
    write: false,
    outfile: main,
    minifyWhitespace: true,
    charset: 'ascii',
    logLevel: 'warning',
    plugins: [
      originalImportMetaUrl(`${DIST}cli`),
      {
        name: 'program-outside',
        setup(b) {
          b.onResolve({ filter: /^\.\/program\.js$/ }, (args) => ({ path: args.path, external: true }));
        },
      },
    ],
  });
  await writeFile(main, result.outputFiles[0]!.text);
}

// Earlier builds split the run bundle into chunks, and wrote the CLI's bundles as ES modules: drop them.
for (const f of await readdir(`${DIST}cli`))
  if (f.startsWith('program.run.chunk-') || /^program\.(run|help)\.bundle\.js$/.test(f)) await rm(`${DIST}cli/${f}`);

await Promise.all([
  ...WORKERS.map((w) =>
    build({
      ...common,
      entryPoints: [`${DIST}${w}.js`],
      outfile: `${DIST}${w}.bundle.js`,
      plugins: [
        originalImportMetaUrl(dirname(`${DIST}${w}`)),
        ...(w === 'runtime/cage/worker' ? [plainMsgpackr] : []),
        builtinsWithoutFacade,
      ],
    }),
  ),
  // Three bundles of program.ts, each one file (every module a process loads costs its own
  // resolve, read, cache check and link): `--help` reads program and commander alone, `run` holds
  // the cage runtime too, and the cage bundle every other command of the cage (replay, verify,
  // inspect, proof, extract, profile, evaluate). `run` has its own, smaller than the cage bundle:
  // scripts call it once per file. The files sit beside program.js, so one base serves
  // originalImportMetaUrl.
  cliBundle(`${DIST}cli/program.help.bundle.cjs`, [otherCommandsExternal('help')]),
  cliBundle(`${DIST}cli/program.run.bundle.cjs`, [plainMsgpackr, otherCommandsExternal('run')]),
  cliBundle(`${DIST}cli/program.cage.bundle.cjs`, [plainMsgpackr, otherCommandsExternal('cage')]),
  mainInOneFile(),
]);
