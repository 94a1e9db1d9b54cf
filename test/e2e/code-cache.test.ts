/**
 * The built command's V8 code cache (cli/script-bundle.ts): written once after a command that
 * succeeded, named for the exact bundle and Node, used by the next start, rewritten when V8
 * refuses it, and never read from a folder another user could write.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, fixturePath, tempDir } from '../run/helpers.ts';

const BUILT = join(ROOT, 'dist', 'cli', 'main.js');
const RUN_BUNDLE = join(ROOT, 'dist', 'cli', 'program.run.bundle.cjs');

function docklock(
  cache: string,
  args: string[],
  env: Record<string, string> = {},
): { code: number; stdout: string; stderr: string } {
  if (!existsSync(RUN_BUNDLE)) throw new Error('dist/ has no program.run.bundle.cjs: run `npm run build` first');
  const r = spawnSync(process.execPath, [BUILT, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DOCKLOCK_CODE_CACHE: cache, ...env },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function privateDir(): string {
  const dir = join(tempDir(), 'code');
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

const entries = (dir: string): string[] => readdirSync(dir).sort();
const resultHash = (stdout: string): string => (JSON.parse(stdout) as { resultHash: string }).resultHash;

describe('the CLI bundles’ code cache', () => {
  it('is written once, after the first run, for exactly this bundle and Node, and the next run uses it', () => {
    const dir = privateDir();
    const first = docklock(dir, ['run', fixturePath('hello'), '--json']);
    expect(first.code).toBe(0);
    const [entry, ...more] = entries(dir);
    expect(more).toEqual([]);
    const build = readFileSync(RUN_BUNDLE, 'latin1').split('\n', 1)[0]!.split(' ')[1]!;
    expect(entry).toContain(build.slice(0, 32));
    expect(entry).toContain(`${process.version}-${process.arch}.v8`);
    expect(statSync(join(dir, entry!)).mode & 0o077).toBe(0);
    const bytes = readFileSync(join(dir, entry!));

    const second = docklock(dir, ['run', fixturePath('hello'), '--json']);
    expect(second.code).toBe(0);
    expect(resultHash(second.stdout)).toBe(resultHash(first.stdout));
    // Accepted by V8, so not written again.
    expect(entries(dir)).toEqual([entry]);
    expect(readFileSync(join(dir, entry!)).equals(bytes)).toBe(true);
  });

  it('a damaged entry is refused by V8, the run is the same, and the entry is written again', () => {
    const dir = privateDir();
    const clean = docklock(dir, ['run', fixturePath('hello'), '--json']);
    const [entry] = entries(dir);
    const path = join(dir, entry!);
    const whole = readFileSync(path);
    for (const damaged of [whole.subarray(0, whole.length >> 1), Buffer.alloc(whole.length, 0x5a)]) {
      writeFileSync(path, damaged);
      const r = docklock(dir, ['run', fixturePath('hello'), '--json']);
      expect(r.code).toBe(0);
      expect(resultHash(r.stdout)).toBe(resultHash(clean.stdout));
      expect(readFileSync(path).length).toBeGreaterThan(damaged.length >> 1);
      expect(readFileSync(path).equals(damaged)).toBe(false);
    }
  });

  it('a command that fails writes nothing (it compiled less than a run does)', () => {
    const dir = privateDir();
    const r = docklock(dir, ['run', join(dir, 'missing.wasm')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^docklock: DL_ERR_[A-Z_]+: /);
    expect(entries(dir)).toEqual([]);
  });

  it('is neither read nor written in a folder others may write, nor with DOCKLOCK_CODE_CACHE=off', () => {
    const shared = privateDir();
    chmodSync(shared, 0o777);
    // What another user left there is not loaded: the run is the same and nothing is added.
    writeFileSync(join(shared, 'planted.v8'), 'not code');
    const r = docklock(shared, ['run', fixturePath('hello'), '--json']);
    expect(r.code).toBe(0);
    expect(entries(shared)).toEqual(['planted.v8']);

    // Off: not even the default folder under XDG_CACHE_HOME.
    const home = tempDir();
    const off = docklock('off', ['run', fixturePath('hello')], { XDG_CACHE_HOME: home });
    expect(off.code).toBe(0);
    expect(existsSync(join(home, 'docklock', 'code'))).toBe(false);
    // The control: with the variable unset, that folder is where the entry goes.
    expect(docklock('', ['run', fixturePath('hello')], { XDG_CACHE_HOME: home }).code).toBe(0);
    expect(readdirSync(join(home, 'docklock', 'code')).length).toBe(1);
  });

  it('each bundle and command has its own entry (a command compiles its own functions)', () => {
    const dir = privateDir();
    const bundle = join(tempDir(), 'hello.dlb');
    expect(docklock(dir, ['--help']).code).toBe(0);
    expect(docklock(dir, ['run', fixturePath('hello'), '--bundle', bundle]).code).toBe(0);
    expect(docklock(dir, ['verify', bundle]).code).toBe(0);
    expect(docklock(dir, ['replay', bundle]).code).toBe(0);
    expect(entries(dir).map((f) => f.split('-')[0])).toEqual([
      'program_cage_bundle_cjs_replay',
      'program_cage_bundle_cjs_verify',
      'program_help_bundle_cjs_help',
      'program_run_bundle_cjs_run',
    ]);
  });
});
