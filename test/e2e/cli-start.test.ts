/**
 * A command loads only what it needs: `docklock run` and `--help` never load the broker (dockerode,
 * fastify, prom-client) nor the evaluation pool. Checked by recording every module the process and
 * its cage worker resolve.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { CLI, ROOT, fixturePath, tempDir } from '../run/helpers.ts';

function loadedBy(args: string[], cli = CLI): { code: number; stdout: string; urls: string[] } {
  const log = join(tempDir(), 'loads.txt');
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'test', 'e2e', 'record-loads.mjs'), cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DOCKLOCK_LOAD_LOG: log },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    // nothing resolved: the assertions below say so
  }
  // Only this checkout's own files and dependencies count (a checkout may itself sit under a folder named "broker").
  const root = pathToFileURL(ROOT).href;
  return {
    code: r.status ?? -1,
    stdout: r.stdout,
    urls: text
      .split('\n')
      .filter((u) => u.startsWith(root))
      .map((u) => u.slice(root.length - 1)),
  };
}

const HEAVY = [
  /^\/broker\//,
  /node_modules\/dockerode\//,
  /node_modules\/fastify\//,
  /node_modules\/prom-client\//,
  /\/evaluate\/pool\./,
  /node_modules\/cli-progress\//,
];

describe('CLI start-up', () => {
  it.each([
    ['--help', ['--help']],
    ['run', ['run', fixturePath('hello'), '--json']],
  ])('`docklock %s` loads neither the broker nor the evaluation pool', (_name, args) => {
    const { code, urls } = loadedBy(args);
    expect(code).toBe(0);
    // The recorder works: the command's own modules are in the list.
    expect(urls.some((u) => u.endsWith('/cli/program.ts'))).toBe(true);
    for (const heavy of HEAVY) expect(urls.filter((u) => heavy.test(u))).toEqual([]);
  });

  it('`docklock broker --help` does load the broker (the check above can fail)', () => {
    const { urls } = loadedBy(['broker', '--help']);
    expect(urls.some((u) => /^\/broker\//.test(u))).toBe(true);
  });
});

/** The built command (`npm run build`; CI's `npm ci` runs it): what `npm link` and the package run. */
const BUILT = join(ROOT, 'dist', 'cli', 'main.js');

/** What the built command resolves before it runs a bundle: main.js, built as one file with the script loader. */
const LOADER = ['/dist/cli/main.js'];

/** The distinct files loaded. */
const bundled = (urls: readonly string[]): string[] => [...new Set(urls)].sort();

describe('CLI start-up, built package', () => {
  const built = (): void => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'program.run.bundle.cjs')))
      throw new Error('dist/ has no program.run.bundle.cjs: run `npm run build` first');
  };

  it('`docklock run` loads the bundle, runs on its own thread and gives the same result as the sources', () => {
    built();
    const { code, stdout, urls } = loadedBy(['run', fixturePath('hello'), '--json'], BUILT);
    expect(code).toBe(0);
    // No resolution of the ~200 modules and packages behind it: main.js (whose script loader
    // reads the bundle as a file), the native BLAKE3 (runtime/hash.ts), and no cage thread
    // (runtime/cage/inline.ts), so no worker bundle.
    expect(bundled(urls).filter((u) => !/^\/node_modules\/@napi-rs\/blake-hash-[^/]+\/[^/]+\.node$/.test(u))).toEqual(
      LOADER,
    );
    const fromSources = JSON.parse(loadedBy(['run', fixturePath('hello'), '--json']).stdout) as { resultHash: string };
    expect((JSON.parse(stdout) as { resultHash: string }).resultHash).toBe(fromSources.resultHash);
  });

  it('`docklock --help` loads the bundle alone; other commands load their own modules and keep coded errors', () => {
    built();
    const help = loadedBy(['--help'], BUILT);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('broker');
    // The help bundle (program and commander, without the runtime), read by the script loader.
    expect(bundled(help.urls)).toEqual(LOADER);
    // Commands outside the bundles (the P2P node; evaluate --publish, which reaches it): their
    // DocklockError must still be recognised (coded line, exit 2, no stack).
    const missing = join(tempDir(), 'missing.yaml');
    for (const args of [
      ['node', 'status', '--config', missing],
      ['evaluate', join(ROOT, 'challenges', 'examples', 'sort'), fixturePath('hello'), '--publish', missing],
    ]) {
      const r = spawnSync(process.execPath, [BUILT, ...args], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^docklock: DL_ERR_P2P_CONFIG: /m);
      expect(r.stderr).not.toContain('    at ');
    }
  });

  it('the cage commands (replay, verify, inspect, …) load the cage bundle and answer as the sources do', () => {
    built();
    const dir = tempDir();
    const bundle = join(dir, 'hello.dlb');
    expect(spawnSync(process.execPath, [BUILT, 'run', fixturePath('hello'), '--bundle', bundle]).status).toBe(0);
    for (const args of [
      ['replay', bundle, '--json'],
      ['verify', bundle, '--json'],
      ['inspect', bundle],
    ]) {
      const built = loadedBy(args, BUILT);
      expect(built.code).toBe(0);
      expect(bundled(built.urls).filter((u) => !/\.node$/.test(u))).toEqual(LOADER);
      expect(built.stdout).toBe(loadedBy(args).stdout);
    }
    // A coded error from inside the cage bundle.
    const r = spawnSync(process.execPath, [BUILT, 'verify', join(dir, 'missing.dlb')], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^docklock: DL_ERR_CLI_READ: /);
    expect(r.stderr).not.toContain('    at ');
  });
});
