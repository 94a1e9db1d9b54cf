/**
 * Runs the official WASI preview1 test suite (WebAssembly/wasi-testsuite, prebuilt, at
 * ../shared/corpora/wasi-testsuite; its README says how) through docklock and through node:wasi.
 * Each test is `NAME.wasm` with an optional `NAME.json` (`args`, `env`, `root`, `stdout`,
 * `exit_code`); it passes when the exit code, and stdout where given, match.
 *
 * docklock maps `root` as the writable root through the manifest (`files.writable`) and the same
 * loader the CLI uses, so the corpus on disk is only read. node:wasi works on real files, so it
 * gets a fresh copy of `root` per test.
 */
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WASI } from 'node:wasi';
import { parseManifest } from '../../../runtime/manifest/parse.ts';
import { readManifestInputs } from '../../../runtime/inputs.ts';
import { runGuest } from '../../../runtime/cage/run.ts';
import { ROOT, tempDir } from '../helpers.ts';

/** Where the corpus is: DOCKLOCK_WASI_TESTSUITE, else ../shared/corpora/wasi-testsuite beside the checkout. */
export const SUITE_DIR = process.env.DOCKLOCK_WASI_TESTSUITE ?? resolve(ROOT, '../shared/corpora/wasi-testsuite');
export const SUITES = ['assemblyscript', 'c', 'rust'] as const;

export interface TestSpec {
  suite: string;
  name: string;
  wasm: string;
  args: string[];
  env: Record<string, string>;
  root: string | undefined;
  stdout: string | undefined;
  exitCode: number;
}

export interface Outcome {
  pass: boolean;
  detail: string;
}

export function listTests(dir = SUITE_DIR): TestSpec[] {
  const out: TestSpec[] = [];
  for (const suite of SUITES) {
    const sdir = join(dir, suite);
    for (const f of readdirSync(sdir)
      .filter((n) => n.endsWith('.wasm'))
      .sort()) {
      const name = f.slice(0, -5);
      const jsonPath = join(sdir, `${name}.json`);
      const j = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>) : {};
      out.push({
        suite,
        name,
        wasm: join(sdir, f),
        args: (j.args as string[] | undefined) ?? [],
        env: (j.env as Record<string, string> | undefined) ?? {},
        root: typeof j.root === 'string' ? join(sdir, j.root) : undefined,
        stdout: j.stdout as string | undefined,
        exitCode: (j.exit_code as number | undefined) ?? 0,
      });
    }
  }
  return out;
}

function judge(t: TestSpec, exit: number | null, stdout: string, why: string): Outcome {
  if (exit === null) return { pass: false, detail: why };
  if (exit !== t.exitCode)
    return { pass: false, detail: `exit ${exit}, expected ${t.exitCode}${why ? `; ${why}` : ''}` };
  if (t.stdout !== undefined && stdout !== t.stdout)
    return { pass: false, detail: `stdout ${JSON.stringify(stdout.slice(0, 80))}` };
  return { pass: true, detail: '' };
}

/** The test under docklock: its root as the writable `/`, args and env through the manifest. */
export async function underDocklock(t: TestSpec): Promise<Outcome> {
  const raw: Record<string, unknown> = {
    apiVersion: 'docklock/v1',
    kind: 'Cage',
    module: t.wasm,
    args: t.args,
    env: t.env,
  };
  if (t.root !== undefined) raw.files = { writable: [{ host: t.root, guest: '/' }] };
  const manifest = parseManifest(raw);
  const inputs = readManifestInputs(manifest, ROOT);
  const out = await runGuest({
    manifest,
    module: new Uint8Array(readFileSync(t.wasm)),
    stdin: new Uint8Array(0),
    inputs,
    mode: 'record',
  });
  const r = out.result;
  const stderr = new TextDecoder().decode(r.stderr).trim().split('\n').slice(-2).join(' | ');
  if (r.status !== 'exited')
    return {
      pass: false,
      detail: `${r.status}${r.trap ? ` (${r.trap})` : ''}${out.error ? ` ${out.error.code}` : ''} ${stderr}`,
    };
  return judge(t, r.exitCode, new TextDecoder().decode(r.stdout), stderr);
}

/** The same test under node:wasi, on a fresh copy of its root. */
export async function underNodeWasi(t: TestSpec): Promise<Outcome> {
  const work = tempDir('docklock-wasi-testsuite-');
  const root = join(work, 'root');
  if (t.root !== undefined) cpSync(t.root, root, { recursive: true });
  else mkdirSync(root);
  const outPath = join(work, 'stdout');
  const fd = openSync(outPath, 'w');
  let exit: number | null = null;
  let why = '';
  try {
    const wasi = new WASI({
      version: 'preview1',
      args: [t.name, ...t.args],
      env: t.env,
      preopens: { '/': root },
      returnOnExit: true,
      stdout: fd,
    });
    const inst = await WebAssembly.instantiate(
      await WebAssembly.compile(readFileSync(t.wasm)),
      wasi.getImportObject() as WebAssembly.Imports,
    );
    exit = wasi.start(inst);
  } catch (e) {
    why = (e as Error).message;
  } finally {
    closeSync(fd);
  }
  return judge(t, exit, readFileSync(outPath, 'utf8'), why);
}
