/**
 * A component, transpiled once by jco (`@bytecodealliance/jco` 1.13.0, installed as `jco-1.13`;
 * async instantiation mode, no WASI shim, minified by jco): its core modules and the generated
 * glue whose `instantiate(getCoreModule, imports, instantiateCore)` links them. The result is
 * cached on disk by the component's BLAKE3, the transpiler's version and the options, and in
 * memory per process. The glue is jco's output, loaded from the cache as it was generated, never
 * edited (docs/components.md).
 *
 * Why 1.13.0: it is the last jco whose glue calls a synchronous import directly. From 1.13.1 on,
 * the glue builds task objects around every host call (and from jco-transpile 0.3 on, a task and
 * a subtask plus debug-log argument objects), which made a small component run 3–5× as long as
 * the same program as a core module (bench/RESULTS.md, "Components: jco's glue").
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { blake3, toHex } from '../hash.ts';
import { importModule } from '../import-module.ts';
import { isPrivateDir, userCacheDir } from '../user-cache.ts';
import { InputError, InternalError, ValidationError } from '../errors.ts';

/** The glue's entry point (async instantiation mode): returns the component's exports. */
export type GlueInstantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: Record<string, unknown>,
  instantiateCore: (module: WebAssembly.Module, imports?: WebAssembly.Imports) => { exports: Record<string, unknown> },
) => Record<string, unknown>;

/** A transpiled component. */
export interface TranspiledComponent {
  /** BLAKE3 of the component bytes, hex. */
  hash: string;
  /** Core module file name (as the glue asks for it) → bytes, in the glue's order. */
  cores: ReadonlyMap<string, Uint8Array>;
  /** The interfaces the component imports, unversioned as the glue looks them up (`wasi:cli/stdout`). */
  imports: readonly string[];
  /** The glue's `instantiate`. */
  instantiate: GlueInstantiate;
}

/**
 * The pinned jco's version, as package.json installs it (under the npm alias `jco-1.13`): part of
 * the cache key, as jco's output changes with it. A constant rather than read from the installed
 * package, because resolving the package costs about 2 ms, which a cache hit in a fresh process
 * would pay for nothing (test/component/contract.test.ts checks the two agree).
 */
const TRANSPILER_VERSION = '1.13.0';

/** The transpiler's version: part of the cache key, as its output changes with it. */
export function transpilerVersion(): string {
  return TRANSPILER_VERSION;
}

/** The version of the jco actually installed as `jco-1.13` (read on a cache miss and by the tests). */
export function installedTranspilerVersion(): string {
  // The package exports no package.json; it sits beside src/ of the resolved entry. `require`'s
  // resolve, not `import.meta.resolve`: the CLI's bundle is a script (cli/script-bundle.ts).
  const entry = createRequire(import.meta.url).resolve('jco-1.13');
  return (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** Where transpiled components are kept: `DOCKLOCK_COMPONENT_CACHE`, else the user's cache folder. */
export function componentCacheDir(): string {
  const own = process.env.DOCKLOCK_COMPONENT_CACHE;
  if (own !== undefined && own !== '') return own;
  return userCacheDir('components');
}

/**
 * The options docklock gives jco, as a tag in the cache key: other options, other glue. `m`: jco's
 * own minifier (terser), which shrinks the glue to about 40 % and so the time to import it on a
 * cache hit.
 */
const OPTIONS_TAG = 'm';

/** The cache folder's name for this transpiler and these options: `jco-<version>-<tag>`. */
export function transpileCacheKey(): string {
  return `jco-${transpilerVersion()}-${OPTIONS_TAG}`;
}

const GLUE = 'component.mjs';
const INDEX = 'index.json';
const memory = new Map<string, Promise<TranspiledComponent>>();

/**
 * Transpiles a component (or takes it from the cache).
 * @param hash the component's BLAKE3 when the caller has it already (a run hashes its module anyway)
 * @throws {ValidationError} `DL_ERR_COMPONENT_INVALID` when jco cannot transpile it
 */
export function transpileComponent(
  bytes: Uint8Array,
  cacheDir = componentCacheDir(),
  hash: Uint8Array = blake3(bytes),
): Promise<TranspiledComponent> {
  const dir = join(cacheDir, transpileCacheKey(), toHex(hash));
  const key = dir;
  let p = memory.get(key);
  if (p === undefined) {
    // The cache holds code this process imports (the glue) and runs (the core modules).
    if (!isPrivateDir(cacheDir))
      return Promise.reject(
        new InputError(
          'DL_ERR_COMPONENT_CACHE',
          `the component cache ${cacheDir} is not a folder of this user's that only this user may write (a symbolic link, another owner, or group/other write permission): what it holds would decide the code a run executes. Set DOCKLOCK_COMPONENT_CACHE to a private folder (mode 0700)`,
          { path: cacheDir },
        ),
      );
    p = load(bytes, toHex(hash), dir);
    memory.set(key, p);
    p.catch(() => memory.delete(key));
  }
  return p;
}

interface Index {
  cores: string[];
  imports: string[];
}

async function load(bytes: Uint8Array, hash: string, dir: string): Promise<TranspiledComponent> {
  let index: Index | undefined;
  try {
    index = JSON.parse(readFileSync(join(dir, INDEX), 'utf8')) as Index;
  } catch {
    index = undefined;
  }
  if (index === undefined) index = await generate(bytes, dir);
  const cores = new Map(index.cores.map((n) => [n, new Uint8Array(readFileSync(join(dir, n)))] as const));
  const glue = (await importModule(pathToFileURL(join(dir, GLUE)).href)) as { instantiate?: GlueInstantiate };
  if (typeof glue.instantiate !== 'function')
    throw new ValidationError('DL_ERR_COMPONENT_INVALID', 'jco generated no instantiate function for this component');
  return { hash, cores, imports: index.imports, instantiate: glue.instantiate };
}

/** Runs jco and writes the result into `dir` atomically (a whole folder renamed into place). */
async function generate(bytes: Uint8Array, dir: string): Promise<Index> {
  const installed = installedTranspilerVersion();
  if (installed !== TRANSPILER_VERSION)
    throw new InternalError(
      `jco ${installed} is installed as jco-1.13 where docklock pins ${TRANSPILER_VERSION}; its glue would be cached under the wrong key (run npm ci)`,
    );
  const { transpile } = (await importModule('jco-1.13')) as typeof import('jco-1.13');
  // jco 1.13 reads `typescript`, which its declarations leave out.
  const options = {
    name: 'component',
    instantiation: 'async',
    typescript: false,
    nodejsCompat: false,
    minify: true,
  } as const;
  let files: Record<string, Uint8Array | string>;
  let imports: string[];
  try {
    ({ files, imports } = await transpile(bytes, options));
  } catch (e) {
    throw new ValidationError(
      'DL_ERR_COMPONENT_INVALID',
      `jco could not transpile the component: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  const glue = files['component.js'];
  if (glue === undefined)
    throw new ValidationError('DL_ERR_COMPONENT_INVALID', 'jco produced no glue for the component');
  const cores = Object.keys(files)
    .filter((n) => n.endsWith('.wasm'))
    .sort((a, b) => coreOrder(a) - coreOrder(b));
  const index: Index = { cores, imports: imports.map((i) => i.replace(/@[^/]*$/, '')) };
  const parent = join(dir, '..');
  let tmp: string | undefined;
  try {
    mkdirSync(parent, { recursive: true });
    tmp = mkdtempSync(join(parent, '.tmp-'));
    for (const n of cores) writeFileSync(join(tmp, n), files[n]!);
    writeFileSync(join(tmp, GLUE), glue);
    writeFileSync(join(tmp, INDEX), JSON.stringify(index));
  } catch (e) {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    throw new InputError(
      'DL_ERR_COMPONENT_CACHE',
      `cannot write the component cache at ${parent} (${e instanceof Error ? e.message : String(e)}); set DOCKLOCK_COMPONENT_CACHE to a writable folder`,
      { path: parent },
    );
  }
  try {
    renameSync(tmp, dir);
  } catch {
    // Another process put the same transpilation there first: theirs is as good as ours.
    rmSync(tmp, { recursive: true, force: true });
  }
  return index;
}

/** `component.core.wasm` is 1, `component.core2.wasm` 2, … */
function coreOrder(name: string): number {
  const m = /\.core(\d*)\.wasm$/.exec(name);
  return m === null ? 0 : m[1] === '' ? 1 : Number(m[1]);
}
