/**
 * Builds the example challenges, their miner submissions and the SDK self-tests from source
 * (`npm run build:challenges`):
 *
 * | source                                                  | compiler                 | output                         |
 * |---------------------------------------------------------|--------------------------|--------------------------------|
 * | challenges/examples/<c>/assembly/index.ts               | asc (WASI command)       | challenges/examples/<c>/challenge.wasm |
 * | challenges/examples/<c>/challenge.c                     | clang + wasi-libc        | challenges/examples/<c>/challenge.wasm |
 * | challenges/examples/<c>/submissions/src/<s>.ts          | asc (no imports)         | …/submissions/<s>.wasm         |
 * | challenges/examples/<c>/submissions/src/<s>.c           | clang, library module    | …/submissions/<s>.wasm         |
 * | challenges/examples/<c>/submissions/src/<s>.wat         | wabt                     | …/submissions/<s>.wasm         |
 * | challenges/sdk/{assemblyscript,c}/test/selftest.{ts,c}  | asc / clang (command)    | next to the source             |
 *
 * Reproducible: assemblyscript and wabt come pinned from package-lock.json, clang from Debian
 * (scripts/setup-toolchain.sh); fixed flags, no debug info, sources compiled from their own
 * directory by relative name, the clang link step without `-O` (no wasm-opt from PATH, see
 * scripts/build-fixtures.ts). The .wasm outputs are checked in; `--check` rebuilds everything into
 * a temporary directory and fails if any byte differs (test/challenges/build.test.ts runs it).
 *
 * Usage: npx node scripts/build-challenges.ts [--check]
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
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';
import wabtInit from 'wabt';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CHALLENGES_DIR = join(ROOT, 'challenges');
export const EXAMPLES_DIR = join(CHALLENGES_DIR, 'examples');

/** asc flags for a challenge (a WASI command exporting `_start`); abort prints and exits 134. */
const ASC_CHALLENGE = [
  '-O3',
  '--runtime',
  'stub',
  '--noAssert',
  '--use',
  'abort=challenges/sdk/assemblyscript/io/dlAbort',
];
/** asc flags for a submission: no imports at all (abort becomes a trap), `memory` exported. */
const ASC_SUBMISSION = ['-O3', '--runtime', 'stub', '--noAssert', '--use', 'abort='];
const CLANG_COMPILE = ['--target=wasm32-wasi', '-O2', '-std=c11', '-Wall', '-Wextra', '-Werror'];
const CLANG_LINK_COMMAND = ['--target=wasm32-wasi', '-Wl,--strip-debug', '-mexec-model=command'];
const CLANG_LINK_LIBRARY = ['--target=wasm32-wasi', '-Wl,--strip-debug', '-nostartfiles', '-Wl,--no-entry'];

/** One build step: a source and the .wasm it produces. */
export interface Target {
  source: string;
  output: string;
  kind: 'as-command' | 'as-module' | 'c-command' | 'c-module' | 'wat';
}

function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Every build target, in a fixed order. */
export function targets(): Target[] {
  const out: Target[] = [];
  for (const name of listDir(EXAMPLES_DIR)) {
    const dir = join(EXAMPLES_DIR, name);
    if (existsSync(join(dir, 'assembly', 'index.ts')))
      out.push({ source: join(dir, 'assembly', 'index.ts'), output: join(dir, 'challenge.wasm'), kind: 'as-command' });
    else if (existsSync(join(dir, 'challenge.c')))
      out.push({ source: join(dir, 'challenge.c'), output: join(dir, 'challenge.wasm'), kind: 'c-command' });
    const src = join(dir, 'submissions', 'src');
    for (const f of listDir(src)) {
      const m = /^(.+)\.(ts|c|wat)$/.exec(f);
      if (m === null) continue;
      const kind = m[2] === 'ts' ? 'as-module' : m[2] === 'c' ? 'c-module' : 'wat';
      out.push({ source: join(src, f), output: join(dir, 'submissions', `${m[1]}.wasm`), kind });
    }
  }
  const asTest = join(CHALLENGES_DIR, 'sdk', 'assemblyscript', 'test', 'selftest.ts');
  if (existsSync(asTest))
    out.push({ source: asTest, output: join(dirname(asTest), 'selftest.wasm'), kind: 'as-command' });
  const cTest = join(CHALLENGES_DIR, 'sdk', 'c', 'test', 'selftest.c');
  if (existsSync(cTest)) out.push({ source: cTest, output: join(dirname(cTest), 'selftest.wasm'), kind: 'c-command' });
  return out;
}

async function buildAs(t: Target, outFile: string): Promise<void> {
  const flags = t.kind === 'as-command' ? ASC_CHALLENGE : ASC_SUBMISSION;
  const errors: string[] = [];
  const sink = {
    write: (s: string | Uint8Array): void => void errors.push(typeof s === 'string' ? s : new TextDecoder().decode(s)),
  };
  // Paths relative to the repository root, so internal names (and the abort alias) never depend on
  // where the checkout lives.
  const r = await asc.main([relative(ROOT, t.source), '-o', relative(ROOT, outFile), '--baseDir', ROOT, ...flags], {
    stdout: sink,
    stderr: sink,
  });
  if (r.error !== null)
    throw new Error(`asc failed on ${relative(ROOT, t.source)}: ${errors.join('')}${r.error.message}`);
}

function clang(t: Target, args: string[]): void {
  try {
    execFileSync('clang', args, { cwd: dirname(t.source), stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`clang failed on ${relative(ROOT, t.source)}: ${err.stderr?.toString() || err.message}`, {
      cause: e,
    });
  }
}

function buildC(t: Target, outFile: string): void {
  const include = relative(dirname(t.source), join(CHALLENGES_DIR, 'sdk', 'c'));
  const obj = `${outFile}.o`;
  try {
    clang(t, [...CLANG_COMPILE, `-I${include}`, '-c', basename(t.source), '-o', obj]);
    clang(t, [...(t.kind === 'c-command' ? CLANG_LINK_COMMAND : CLANG_LINK_LIBRARY), obj, '-o', outFile]);
  } finally {
    rmSync(obj, { force: true });
  }
}

let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;

async function buildWat(t: Target, outFile: string): Promise<void> {
  wabt ??= await wabtInit();
  const mod = wabt.parseWat(basename(t.source), readFileSync(t.source, 'utf8'));
  try {
    mod.validate();
    writeFileSync(outFile, mod.toBinary({ log: false, write_debug_names: false }).buffer);
  } finally {
    mod.destroy();
  }
}

async function buildTo(t: Target, outFile: string): Promise<void> {
  if (t.kind === 'as-command' || t.kind === 'as-module') await buildAs(t, outFile);
  else if (t.kind === 'wat') await buildWat(t, outFile);
  else buildC(t, outFile);
}

/** Builds every target in place (atomically: temp file + rename). Returns the outputs written. */
export async function buildChallenges(): Promise<string[]> {
  const written: string[] = [];
  for (const t of targets()) {
    mkdirSync(dirname(t.output), { recursive: true });
    const tmp = `${t.output}.${process.pid}.tmp.wasm`;
    try {
      await buildTo(t, tmp);
      renameSync(tmp, t.output);
    } finally {
      rmSync(tmp, { force: true });
    }
    written.push(relative(ROOT, t.output));
  }
  return written;
}

/**
 * Rebuilds every target into a temporary directory and compares it with the checked-in .wasm.
 * @returns the outputs (relative paths) that are missing or differ; empty when reproducible
 */
export async function checkChallenges(): Promise<string[]> {
  const differ: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'docklock-ch-'));
  try {
    let i = 0;
    for (const t of targets()) {
      const f = join(dir, `${i++}.wasm`);
      await buildTo(t, f);
      if (!existsSync(t.output) || !readFileSync(t.output).equals(readFileSync(f)))
        differ.push(relative(ROOT, t.output));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return differ;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const differ = await checkChallenges();
    if (differ.length > 0) {
      console.error(`not reproducible (rebuild with npm run build:challenges and commit): ${differ.join(', ')}`);
      process.exit(1);
    }
    console.log(`reproducible: ${targets().length} challenge modules rebuild byte-identically`);
  } else {
    const written = await buildChallenges();
    console.log(`built ${written.length} modules:\n  ${written.join('\n  ')}`);
  }
}
