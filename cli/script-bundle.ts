/**
 * Runs one of the CLI's bundles (scripts/bundle-workers.ts) as a CommonJS script, with V8's code
 * cache for it kept in the user's cache folder and written after the command has run.
 *
 * Node's compile cache (`module.enableCompileCache`) saves a module's code cache when the module
 * is compiled, before it runs: it holds the top level, and every start compiled again, lazily,
 * each function the command then called (a third of a `docklock run`'s own time; docs/cli.md).
 * V8 can make a script's cache at any time, with everything compiled so far; an ES module's only
 * behind an experimental flag. So the bundles are scripts, and their cache is made at exit.
 *
 * This file runs on any Node (cli/main.ts imports it before checking the version): nothing at
 * the top level needs a newer one.
 */
import module from 'node:module';
import { isPrivateDir, userCacheDir } from '../runtime/user-cache.ts';

const require = module.createRequire(import.meta.url);
const { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } =
  require('node:fs') as typeof import('node:fs');
const { basename, dirname, join } = require('node:path') as typeof import('node:path');
const { pathToFileURL } = require('node:url') as typeof import('node:url');
const vm = require('node:vm') as typeof import('node:vm');

/** The first line of a bundle: `//docklock-bundle <BLAKE3 of the rest, hex>` (scripts/bundle-workers.ts). */
export const BUNDLE_HEADER = '//docklock-bundle ';

/** What a CLI bundle exports (cli/program.ts). */
export interface ScriptBundle {
  main(argv: string[]): Promise<void>;
}

/**
 * `DOCKLOCK_CODE_CACHE` ("off" disables it), else `<user cache>/docklock/code`; only a private
 * folder (runtime/user-cache.ts), or none.
 */
function cacheDir(): string | undefined {
  const own = process.env.DOCKLOCK_CODE_CACHE;
  if (own === 'off') return undefined;
  const dir = own !== undefined && own !== '' ? own : userCacheDir('code');
  return isPrivateDir(dir) ? dir : undefined;
}

/**
 * The cache file for `file` with `source` run for `command`: one name per bundle, command, build,
 * file and Node, so that data V8 would accept (it checks only the source's length) is never the
 * data of other code, and each command of a bundle keeps the functions it compiles.
 */
function cacheFile(dir: string, file: string, source: string, command: string): string | undefined {
  const end = source.indexOf('\n');
  if (!source.startsWith(BUNDLE_HEADER) || end < 0) return undefined;
  const build = source.slice(BUNDLE_HEADER.length, end);
  if (!/^[0-9a-f]{64}$/.test(build)) return undefined;
  const s = statSync(file);
  const name = `${basename(file)}_${command}`.replace(/\W/g, '_');
  return join(
    dir,
    `${name}-${build.slice(0, 32)}-${s.size}-${Math.trunc(s.mtimeMs)}-${process.version}-${process.arch}.v8`,
  );
}

/** Entries kept per bundle and command: builds and Nodes side by side (a checkout and an installed package). */
const KEEP = 8;

/** Writes the cache atomically; beyond {@link KEEP} entries of this bundle, the oldest go. */
function save(path: string, data: Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
  const dir = dirname(path);
  const prefix = `${basename(path).split('-')[0]}-`;
  const entries = readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.v8'))
    .map((f) => ({ f, at: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  for (const { f } of entries.slice(KEEP)) rmSync(join(dir, f), { force: true });
}

/**
 * Compiles and runs the bundle at `file` (a CommonJS script) and returns its exports. Its code
 * cache is used if there is one for exactly this file, and written when the process exits with
 * status 0 if there was none or V8 refused it. A cache that cannot be read or written is left
 * alone: the command runs the same, compiling as it goes.
 *
 * @param file - absolute path of the bundle.
 * @param command - the command it runs for: each has its own cache (it compiles its own functions).
 * @returns the bundle's `module.exports`.
 * @example
 * ```ts
 * const { main } = loadScriptBundle('/…/dist/cli/program.run.bundle.cjs', 'run');
 * await main(process.argv);
 * ```
 */
export function loadScriptBundle(file: string, command: string): ScriptBundle {
  // ASCII (the bundler writes it so): read as Latin-1, no UTF-8 decoding.
  const source = readFileSync(file, 'latin1');
  let path: string | undefined;
  let cached: Buffer | undefined;
  try {
    const dir = cacheDir();
    path = dir === undefined ? undefined : cacheFile(dir, file, source, command);
    if (path !== undefined) cached = readFileSync(path);
  } catch {
    // No cache yet (or an unreadable one): compiled as it runs, saved at exit.
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname, __import) {${source}\n})`, {
    filename: file,
    cachedData: cached,
    // runtime/import-module.ts imports through `__import`; this is for an `import()` nothing expects.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (path !== undefined && (cached === undefined || script.cachedDataRejected === true)) {
    const target = path;
    process.once('exit', (code) => {
      if (code !== 0) return;
      try {
        save(target, script.createCachedData());
      } catch {
        // A full disk or a folder gone: the next start compiles again.
      }
    });
  }
  const base = pathToFileURL(file).href;
  const importFrom = (specifier: string): Promise<unknown> =>
    import(specifier.startsWith('.') ? new URL(specifier, base).href : specifier);
  const mod = { exports: {} as ScriptBundle };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper(mod.exports, module.createRequire(file), mod, file, dirname(file), importFrom);
  return mod.exports;
}
