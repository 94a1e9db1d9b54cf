/**
 * Builds the C test fixtures (test/fixtures/c/*.c) into WebAssembly (test/fixtures/wasm/*.wasm)
 * with Debian's clang + wasi-libc (installed by scripts/setup-toolchain.sh).
 *
 * Reproducible: fixed flags, no debug info (`--strip-debug` keeps the `name` section for
 * readable disassembly), sources compiled from their own directory by relative name, outputs
 * written atomically (temp file + rename) so concurrent builders never see half a file. The same
 * clang gives byte-identical outputs; `--check` rebuilds everything into a temporary directory and
 * fails if any byte differs.
 *
 * A source that defines `int main(` is linked as a WASI command (crt1's `_start`); any other as a
 * library-style module (`-nostartfiles -Wl,--no-entry`: only its `export_name` functions).
 *
 * A fixture is rebuilt when its .wasm is missing or older than its .c, or when the recorded
 * toolchain/flags (test/fixtures/wasm/build.json) differ from the current ones.
 *
 * Usage: node scripts/build-fixtures.ts [--force] [--check]
 * (Node 24: `npx node scripts/build-fixtures.ts`; vitest's globalSetup calls `buildFixtures()`.)
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURE_SRC_DIR = join(ROOT, 'test', 'fixtures', 'c');
export const FIXTURE_WASM_DIR = join(ROOT, 'test', 'fixtures', 'wasm');
const MANIFEST = 'build.json';

/** Compile flags every fixture gets. No `-g`: without debug info no path or timestamp reaches the output. */
const COMPILE_FLAGS = ['--target=wasm32-wasi', '-O2', '-std=c11', '-Wall', '-Wextra', '-Werror'];
/**
 * Link flags every fixture gets. The link step has no `-O` on purpose: clang 14 runs `wasm-opt`
 * on the output whenever it finds one in PATH and the link command carries `-O` (and has no flag
 * to stop it), and `npx`/`npm run` put binaryen's wasm-opt from node_modules/.bin first in PATH.
 * The output would then depend on who ran the build.
 */
const LINK_FLAGS = ['--target=wasm32-wasi', '-Wl,--strip-debug'];
/** Library-style modules: exported functions only, no `_start`, no WASI imports unless used. */
const LIBRARY_FLAGS = ['-nostartfiles', '-Wl,--no-entry'];
/** WASI commands: crt1's `_start` calls `main` and exits through `proc_exit`. */
const COMMAND_FLAGS = ['-mexec-model=command'];

/** A source that defines `main` is a WASI command; any other is a library-style module. */
const DEFINES_MAIN = /^\s*int\s+main\s*\(/m;

function isCommand(name: string): boolean {
  return DEFINES_MAIN.test(readFileSync(join(FIXTURE_SRC_DIR, `${name}.c`), 'utf8'));
}

export interface BuildResult {
  /** Fixture names rebuilt by this call. */
  built: string[];
  /** Fixture names already up to date. */
  upToDate: string[];
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_SRC_DIR)
    .filter((f) => f.endsWith('.c'))
    .map((f) => basename(f, '.c'))
    .sort();
}

/** The compile and link command lines for a fixture (recorded in build.json). */
export function flagsFor(name: string): { compile: string[]; link: string[] } {
  return { compile: COMPILE_FLAGS, link: [...LINK_FLAGS, ...(isCommand(name) ? COMMAND_FLAGS : LIBRARY_FLAGS)] };
}

/** `clang --version`'s first line, or undefined when clang is not installed. */
export function clangVersion(): string | undefined {
  try {
    return execFileSync('clang', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]!
      .trim();
  } catch {
    return undefined;
  }
}

function clang(name: string, args: string[]): void {
  try {
    execFileSync('clang', args, { cwd: FIXTURE_SRC_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`clang failed on test/fixtures/c/${name}.c: ${err.stderr?.toString() || err.message}`, {
      cause: e,
    });
  }
}

/** Compiles (with -O2) and links (without -O, so no wasm-opt) one fixture into `outFile`. */
function compileTo(name: string, outFile: string): void {
  const { compile, link } = flagsFor(name);
  const obj = `${outFile}.o`;
  try {
    clang(name, [...compile, '-c', `${name}.c`, '-o', obj]);
    clang(name, [...link, obj, '-o', outFile]);
  } finally {
    rmSync(obj, { force: true });
  }
}

function manifestFor(version: string): Record<string, unknown> {
  const m: Record<string, unknown> = { clang: version };
  for (const name of fixtureNames()) m[name] = flagsFor(name);
  return m;
}

/**
 * Builds the fixtures that are missing or stale.
 * @param options.force rebuild everything
 * @returns which fixtures were built and which were already up to date
 * @throws {Error} when clang is missing (naming scripts/setup-toolchain.sh) or a compile fails
 */
export function buildFixtures(options: { force?: boolean } = {}): BuildResult {
  const version = clangVersion();
  if (version === undefined) {
    throw new Error(
      'clang is not installed: run `bash scripts/setup-toolchain.sh` (Debian clang, lld, wasi-libc, libclang-rt-14-dev-wasm32) to build the C fixtures',
    );
  }
  mkdirSync(FIXTURE_WASM_DIR, { recursive: true });
  const manifest = manifestFor(version);
  const manifestPath = join(FIXTURE_WASM_DIR, MANIFEST);
  let recorded: Record<string, unknown> = {};
  try {
    recorded = JSON.parse(readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
  } catch {
    // Missing or unreadable manifest: everything is stale.
  }
  const toolchainChanged = recorded['clang'] !== version;
  const result: BuildResult = { built: [], upToDate: [] };
  for (const name of fixtureNames()) {
    const src = join(FIXTURE_SRC_DIR, `${name}.c`);
    const out = join(FIXTURE_WASM_DIR, `${name}.wasm`);
    const stale =
      options.force === true ||
      toolchainChanged ||
      JSON.stringify(recorded[name]) !== JSON.stringify(manifest[name]) ||
      !existsSync(out) ||
      statSync(out).mtimeMs < statSync(src).mtimeMs;
    if (!stale) {
      result.upToDate.push(name);
      continue;
    }
    const tmp = `${out}.${process.pid}.tmp`;
    try {
      compileTo(name, tmp);
      renameSync(tmp, out);
    } finally {
      rmSync(tmp, { force: true });
    }
    result.built.push(name);
  }
  if (result.built.length > 0 || toolchainChanged) {
    const tmp = `${manifestPath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n');
    renameSync(tmp, manifestPath);
  }
  return result;
}

/**
 * Compiles every fixture twice into fresh directories and compares the bytes with each other and
 * with test/fixtures/wasm. Returns the names that differ (empty = reproducible).
 */
export function checkReproducible(): string[] {
  const differ: string[] = [];
  const dirs = [mkdtempSync(join(tmpdir(), 'docklock-fx-')), mkdtempSync(join(tmpdir(), 'docklock-fx-'))];
  try {
    for (const name of fixtureNames()) {
      const builds = dirs.map((d) => {
        const f = join(d, `${name}.wasm`);
        compileTo(name, f);
        return readFileSync(f);
      });
      const current = join(FIXTURE_WASM_DIR, `${name}.wasm`);
      const same = builds[0]!.equals(builds[1]!) && (!existsSync(current) || readFileSync(current).equals(builds[0]!));
      if (!same) differ.push(name);
    }
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  return differ;
}

/** The C fixtures as WASI 0.2 components (test/fixtures/wasm/components/<name>.wasm). */
export const COMPONENT_DIR = join(FIXTURE_WASM_DIR, 'components');

/**
 * Wraps every WASI command fixture that imports only `wasi_snapshot_preview1` into a component of
 * the `wasi:cli/command` world, with the preview1 → preview2 command adapter that ships inside the
 * @bytecodealliance/jco package (nothing is downloaded). A component is rebuilt when it is missing,
 * older than its core module, or made by another jco (recorded in components/build.json).
 * @returns the names built
 */
export async function buildComponentFixtures(): Promise<string[]> {
  const jco = await import('@bytecodealliance/jco');
  const adapterPath = fileURLToPath(jco.preview1AdapterCommandPath());
  const adapter = new Uint8Array(readFileSync(adapterPath));
  const stamp = {
    adapter: readFileSync(join(dirname(adapterPath), '..', 'package.json'), 'utf8').match(
      /"version":\s*"([^"]+)"/,
    )?.[1],
  };
  mkdirSync(COMPONENT_DIR, { recursive: true });
  const stampPath = join(COMPONENT_DIR, MANIFEST);
  let recorded = '';
  try {
    recorded = readFileSync(stampPath, 'utf8');
  } catch {
    // First build.
  }
  const fresh = recorded === `${JSON.stringify(stamp)}\n`;
  const built: string[] = [];
  for (const name of fixtureNames()) {
    if (!isCommand(name)) continue;
    const core = join(FIXTURE_WASM_DIR, `${name}.wasm`);
    const bytes = new Uint8Array(readFileSync(core));
    if (!WebAssembly.Module.imports(new WebAssembly.Module(bytes)).every((i) => i.module === 'wasi_snapshot_preview1'))
      continue;
    const out = join(COMPONENT_DIR, `${name}.wasm`);
    if (fresh && existsSync(out) && statSync(out).mtimeMs >= statSync(core).mtimeMs) continue;
    const component = await jco.componentNew(bytes, [['wasi_snapshot_preview1', adapter]]);
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, component);
    renameSync(tmp, out);
    built.push(name);
  }
  if (!fresh) writeFileSync(stampPath, `${JSON.stringify(stamp)}\n`);
  return [...built, ...(await buildJsComponentFixtures(jco.preview1AdapterCommandPath()))];
}

/** JavaScript test programs (test/fixtures/js/*.js), made components by ComponentizeJS. */
export const JS_FIXTURE_DIR = join(ROOT, 'test', 'fixtures', 'js');

/**
 * The world every JavaScript fixture targets: a command that may read its arguments. The engine
 * adds the WASI imports its features need (stdio, clocks, random, and wasi:http unless disabled).
 */
const JS_WORLD = `package docklock:fixtures;

world js-command {
  import wasi:cli/environment@0.2.12;
  export wasi:cli/run@0.2.12;
}
`;

/** A fixture's first line may say `// componentize-js disableFeatures: http, ...`. */
function disabledFeatures(source: string): string[] {
  const m = /^\/\/ componentize-js disableFeatures: (.*)$/m.exec(source.split('\n', 1)[0]!);
  return m === null ? [] : m[1]!.split(',').map((f) => f.trim());
}

/**
 * Builds each JavaScript fixture into components/<name>.wasm with ComponentizeJS
 * (@bytecodealliance/componentize-js, non-AOT: its engine and Wizer come from npm, nothing is
 * downloaded). The WASI WIT packages are those bundled in @bytecodealliance/jco. A component is
 * rebuilt when it is missing, older than its source, or made by another ComponentizeJS.
 * @param adapterUrl jco's command adapter, beside which jco keeps its WIT packages
 * @returns the names built
 */
async function buildJsComponentFixtures(adapterUrl: URL): Promise<string[]> {
  if (!existsSync(JS_FIXTURE_DIR)) return [];
  // Its declarations want `sourcePath` even in the source-text form its code takes.
  const componentize = (await import('@bytecodealliance/componentize-js')).componentize as unknown as (
    source: string,
    opts: { witPath: string; worldName: string; disableFeatures: string[] },
  ) => Promise<{ component: Uint8Array }>;
  // Read from the install (its exports list no package.json), as a devDependency at the top level.
  const version = (
    JSON.parse(
      readFileSync(join(ROOT, 'node_modules', '@bytecodealliance', 'componentize-js', 'package.json'), 'utf8'),
    ) as { version: string }
  ).version;
  const stampPath = join(COMPONENT_DIR, 'js-build.json');
  const stamp = `${JSON.stringify({ componentizeJs: version, world: JS_WORLD })}\n`;
  let fresh = false;
  try {
    fresh = readFileSync(stampPath, 'utf8') === stamp;
  } catch {
    // First build.
  }
  const built: string[] = [];
  const names = readdirSync(JS_FIXTURE_DIR)
    .filter((f) => f.endsWith('.js'))
    .map((f) => basename(f, '.js'))
    .sort();
  let wit: string | undefined;
  try {
    for (const name of names) {
      const src = join(JS_FIXTURE_DIR, `${name}.js`);
      const out = join(COMPONENT_DIR, `${name}.wasm`);
      if (fresh && existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) continue;
      if (wit === undefined) {
        wit = mkdtempSync(join(tmpdir(), 'docklock-js-wit-'));
        const deps = fileURLToPath(new URL('./wit/builtin/0.2.12/', adapterUrl));
        for (const pkg of readdirSync(deps)) {
          mkdirSync(join(wit, 'deps', pkg), { recursive: true });
          for (const f of readdirSync(join(deps, pkg)))
            writeFileSync(join(wit, 'deps', pkg, f), readFileSync(join(deps, pkg, f)));
        }
        writeFileSync(join(wit, 'world.wit'), JS_WORLD);
      }
      const source = readFileSync(src, 'utf8');
      // The source goes in as text, so no path of this machine reaches the component.
      const { component } = await componentize(source, {
        witPath: wit,
        worldName: 'js-command',
        disableFeatures: disabledFeatures(source),
      });
      const tmp = `${out}.${process.pid}.tmp`;
      writeFileSync(tmp, component);
      renameSync(tmp, out);
      built.push(name);
    }
  } finally {
    if (wit !== undefined) rmSync(wit, { recursive: true, force: true });
  }
  if (!fresh) writeFileSync(stampPath, stamp);
  return built;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = new Set(process.argv.slice(2));
  const r = buildFixtures({ force: args.has('--force') });
  console.log(`fixtures: built [${r.built.join(', ')}], up to date [${r.upToDate.join(', ')}] (${clangVersion()})`);
  console.log(`component fixtures: built [${(await buildComponentFixtures()).join(', ')}]`);
  if (args.has('--check')) {
    const differ = checkReproducible();
    if (differ.length > 0) {
      console.error(`not reproducible: ${differ.join(', ')}`);
      process.exit(1);
    }
    console.log('reproducible: two fresh builds are byte-identical to test/fixtures/wasm');
  }
}
