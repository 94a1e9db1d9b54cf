/**
 * A command loads only what it needs: `docklock run` and `--help` never load the broker (dockerode,
 * fastify, prom-client) nor the evaluation pool. Checked by recording every module the process and
 * its cage worker resolve.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { CLI, ROOT, fixturePath, tempDir } from '../run/helpers.ts';

function loadedBy(args: string[]): { code: number; urls: string[] } {
  const log = join(tempDir(), 'loads.txt');
  const r = spawnSync(process.execPath, ['--import', join(ROOT, 'test', 'e2e', 'record-loads.mjs'), CLI, ...args], {
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
