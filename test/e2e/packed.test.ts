/**
 * Tests what ships: `npm pack`s this checkout, installs the tarball into an empty project and runs
 * the installed `docklock` (its `dist/`, its `files`, its dependencies as npm resolves them for a
 * user) through a broker deploy, ps, logs, stop and rm on the real engine under gVisor, and through
 * `run` and `evaluate`. The source tests import `.ts` files and never see the installed layout,
 * which is how a build that forgot a run-time asset (the seccomp profile) went unnoticed.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../broker/auth.ts';
import {
  TEST_IMAGE,
  TEST_REPOSITORY,
  cleanupDir,
  dockerReady,
  removeOwned,
  runTag,
  tempDir,
  testImageId,
} from '../broker/helpers.ts';

const REPO = new URL('../../', import.meta.url).pathname;
// The installed bin starts with `#!/usr/bin/env node`: put the project's Node 24 first on PATH,
// as `npx` does for the project's own scripts.
const NODE_DIR = dirname(process.execPath);
const ready = dockerReady();

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(!ready)('the packed package, installed', () => {
  const tag = runTag();
  const owner = `${tag}-op`;
  const token = randomBytes(24).toString('hex');
  const dir = tempDir(tag);
  const project = join(dir, 'project');
  const env = {
    ...process.env,
    PATH: `${NODE_DIR}:${process.env.PATH ?? ''}`,
    DOCKLOCK_BROKER_SOCKET: join(dir, 'broker.sock'),
  };
  let bin = '';
  let serve: ChildProcess | undefined;
  let serveLog = '';

  const docklock = (args: string[], input?: string): Ran => {
    const r = spawnSync(bin, args, {
      cwd: project,
      env,
      encoding: 'utf8',
      timeout: 120_000,
      ...(input !== undefined ? { input } : {}),
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(async () => {
    const pack = spawnSync('npm', ['pack', '--silent', '--pack-destination', dir], {
      cwd: REPO,
      env,
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(pack.status, pack.stderr).toBe(0);
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    expect(tgz).toBeDefined();
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'packed-check', private: true, type: 'module' }),
    );
    // --prefer-offline: the CI cache from `npm ci` already holds every dependency.
    const install = spawnSync(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(dir, tgz!)],
      { cwd: project, env, encoding: 'utf8', timeout: 480_000 },
    );
    expect(install.status, install.stderr).toBe(0);
    bin = join(project, 'node_modules/.bin/docklock');
    expect(existsSync(bin)).toBe(true);
  }, 720_000);

  afterAll(async () => {
    if (serve !== undefined && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await new Promise((r) => serve!.once('exit', r));
    }
    await removeOwned([owner]);
    cleanupDir(dir);
  });

  it('runs a module and evaluates a challenge', () => {
    const run = docklock(['run', join(REPO, 'test/fixtures/wasm/hello.wasm'), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as { status: string; resultHash: string };
    expect(result.status).toBe('exited');
    expect(result.resultHash).toMatch(/^[0-9a-f]{64}$/);
    const guess = join(REPO, 'challenges/examples/guess');
    const ev = docklock(['evaluate', guess, join(guess, 'submissions/good.txt'), '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout.trim()) as { status: string; score: number }).toMatchObject({ status: 'ok' });
  });

  it('keeps a leaderboard through the escrow: run with state, open, a jury of installed jurors, commit', () => {
    const lb = join(REPO, 'challenges/examples/leaderboard');
    const runAlice = (stateDb: string): Ran =>
      docklock([
        'run',
        join(lb, 'challenge.wasm'),
        '--manifest',
        join(lb, 'challenge.yaml'),
        '--input',
        `${join(lb, 'submissions/loop.wasm')}:/input/submission`,
        '--env',
        'MINER=alice',
        '--state',
        'board',
        '--state-db',
        stateDb,
        '--bundle',
        'alice.dlb',
      ]);
    // No escrow database yet: a coded error, then the same run once `escrow state` has made it.
    expect(runAlice(join(project, 'escrow-data/escrow.db')).stderr).toContain('DL_ERR_STATE_SOURCE');
    expect(docklock(['escrow', 'state', 'board']).code).toBe(0);
    const again = runAlice('escrow-data/escrow.db');
    expect(again.code, again.stderr).toBe(0);
    const open = docklock(['escrow', 'open', '--bundle', 'alice.dlb', '--miner', 'alice', '--json']);
    expect(open.code, open.stderr).toBe(0);
    const id = (JSON.parse(open.stdout) as { escrow: { id: string } }).escrow.id;
    const jury = docklock(['escrow', 'jury', id, '--json']);
    expect(jury.code, jury.stderr).toBe(0);
    expect(JSON.parse(jury.stdout)).toMatchObject({ escrow: { status: 'committed' } });
    const state = JSON.parse(docklock(['escrow', 'state', 'board', '--json']).stdout) as {
      entries: { key: string; value: string }[];
    };
    expect(state.entries.find((e) => e.key === 'board')?.value).toBe('alice 1.000000\n');
  });

  it('serves a broker that deploys, lists, reads logs, stops and removes under gVisor', async () => {
    writeFileSync(join(dir, 'token'), token + '\n', { mode: 0o600 });
    // The config an operator writes: the fully qualified repository, pinned to the local image.
    writeFileSync(
      join(dir, 'broker.yaml'),
      [
        `socket: ${join(dir, 'broker.sock')}`,
        `auditPath: ${join(dir, 'audit.jsonl')}`,
        `instance: ${tag}`,
        'tokens:',
        `  - { sha256: ${hashToken(token)}, principal: ${owner}, role: client }`,
        'policy:',
        '  images:',
        '    allow:',
        `      - { repository: ${TEST_REPOSITORY}, digests: ["${testImageId()}"] }`,
        '',
      ].join('\n'),
    );
    serve = spawn(bin, ['broker', 'serve', '-c', join(dir, 'broker.yaml')], {
      cwd: project,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    serve.stderr!.setEncoding('utf8').on('data', (c: string) => (serveLog += c));
    for (let i = 0; i < 300 && !serveLog.includes('listening on'); i++) {
      expect(serve.exitCode, serveLog).toBeNull();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(serveLog).toContain('listening on');

    const conn = ['--token-file', join(dir, 'token')];
    const dep = docklock([
      'broker',
      'deploy',
      ...conn,
      '--name',
      'web',
      '--image',
      TEST_IMAGE,
      '--',
      'sh',
      '-c',
      'echo packed-hello; sleep 120',
    ]);
    expect(dep.code, dep.stderr + serveLog).toBe(0);
    const svc = JSON.parse(dep.stdout) as { id: string; state: string };
    expect(svc.state).toBe('running');
    const ps = docklock(['broker', 'ps', ...conn]);
    expect(ps.stdout).toMatch(new RegExp(`^${svc.id.slice(0, 12)}\\s+web\\s+running`, 'm'));
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('packed-hello'); i++) {
      logs = docklock(['broker', 'logs', 'web', ...conn]).stdout;
      if (!logs.includes('packed-hello')) await new Promise((r) => setTimeout(r, 200));
    }
    expect(logs).toBe('packed-hello\n');
    expect(JSON.parse(docklock(['broker', 'stop', 'web', ...conn]).stdout).state).toBe('exited');
    expect(JSON.parse(docklock(['broker', 'rm', 'web', ...conn]).stdout).state).toBe('removed');
    expect(docklock(['broker', 'ps', ...conn, '--json']).stdout.trim()).toBe('[]');

    // A refusal from the installed command: one coded line, exit 1.
    const refused = docklock(['broker', 'deploy', ...conn, '--name', 'bad', '--image', 'busybox:latest']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^docklock: DL_ERR_POLICY_IMAGE_NOT_ALLOWED: image repository "docker\.io\/library\/busybox" is not on the broker's allowlist[^\n]*\n$/,
    );

    serve.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => serve!.once('exit', r));
    expect(code, serveLog).toBe(0);
    // The server log is JSON lines (after the one human start line) and never held a 5xx.
    const json = serveLog.split('\n').filter((l) => l.startsWith('{'));
    expect(json.length).toBeGreaterThan(0);
    for (const l of json) expect((JSON.parse(l) as { level: number }).level, l).toBeLessThan(50);
    const verify = docklock(['broker', 'audit', 'verify', join(dir, 'audit.jsonl')]);
    expect(verify.code, verify.stderr).toBe(0);
  }, 240_000);
});
