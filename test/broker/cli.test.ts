/**
 * The `docklock broker` command group, driven through commander exactly as cli/main.ts will
 * register it, against a broker on a real Unix socket.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../broker/server.ts';
import type { RunningBroker } from '../../broker/server.ts';
import { registerBrokerCommands } from '../../cli/broker/index.ts';
import {
  TEST_IMAGE,
  cleanupDir,
  dockerReady,
  makeConfig,
  makePrincipals,
  removeOwned,
  runTag,
  tempDir,
} from './helpers.ts';

const ready = dockerReady();

/** Runs `docklock <args>` in-process and captures its output. */
async function docklock(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string; error?: unknown }> {
  const program = new Command('docklock').exitOverride();
  registerBrokerCommands(program);
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  const saved = { ...process.env };
  Object.assign(process.env, env);
  process.stdout.write = ((c: string) => ((stdout += c), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => ((stderr += c), true)) as typeof process.stderr.write;
  process.exitCode = 0;
  try {
    await program.parseAsync(['node', 'docklock', ...args]);
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } catch (error) {
    return { code: 1, stdout, stderr, error };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.env = saved;
    process.exitCode = 0;
  }
}

describe.skipIf(!ready)('docklock broker CLI', () => {
  const tag = runTag();
  const p = makePrincipals(tag);
  const dir = tempDir(tag);
  let broker: RunningBroker;
  let env: Record<string, string>;

  beforeAll(async () => {
    broker = await startBroker(makeConfig(p, dir));
    env = { DOCKLOCK_BROKER_SOCKET: broker.socket, DOCKLOCK_TOKEN: p.alice.token };
  });
  afterAll(async () => {
    await broker?.close();
    await removeOwned([p.alice.name, p.bob.name]);
    cleanupDir(dir);
  });

  it('deploys, lists, inspects, reads logs, stops, starts and removes', async () => {
    const dep = await docklock(
      [
        'broker',
        'deploy',
        '--name',
        'cli',
        '--image',
        TEST_IMAGE,
        '-e',
        'WHO=cli',
        '--',
        'sh',
        '-c',
        'echo "hello $WHO"; sleep 120',
      ],
      env,
    );
    expect(dep.error).toBeUndefined();
    const svc = JSON.parse(dep.stdout) as { id: string; state: string };
    expect(svc.state).toBe('running');
    const ps = await docklock(['broker', 'ps'], env);
    expect(ps.stdout).toMatch(new RegExp(`^${svc.id.slice(0, 12)}\\s+cli\\s+running`, 'm'));
    expect(JSON.parse((await docklock(['broker', 'inspect', 'cli'], env)).stdout).id).toBe(svc.id);
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('hello'); i++) {
      logs = (await docklock(['broker', 'logs', 'cli', '--tail', '5'], env)).stdout;
      if (!logs.includes('hello')) await new Promise((r) => setTimeout(r, 200));
    }
    expect(logs).toBe('hello cli\n');
    expect(JSON.parse((await docklock(['broker', 'stop', 'cli'], env)).stdout).state).toBe('exited');
    expect(JSON.parse((await docklock(['broker', 'start', 'cli'], env)).stdout).state).toBe('running');
    expect(JSON.parse((await docklock(['broker', 'rm', svc.id], env)).stdout).state).toBe('removed');
    expect((await docklock(['broker', 'ps', '--json'], env)).stdout.trim()).toBe('[]');
  });

  it('deploys from a spec file and reports policy refusals with their code', async () => {
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ name: 'bad', image: 'busybox:latest' }));
    const res = await docklock(['broker', 'deploy', '--file', spec], env);
    expect(res.error).toBeUndefined();
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /^docklock: DL_ERR_POLICY_IMAGE_NOT_ALLOWED: image repository "docker\.io\/library\/busybox" is not on the broker's allowlist[^\n]*\n$/,
    );
  });

  it('fails without a token', async () => {
    const res = await docklock(['broker', 'ps'], { DOCKLOCK_BROKER_SOCKET: broker.socket, DOCKLOCK_TOKEN: '' });
    expect([res.code, res.stderr]).toEqual([
      2,
      'docklock: DL_ERR_BROKER_NO_TOKEN: no token: set DOCKLOCK_TOKEN or pass --token-file <file>\n',
    ]);
    const wrong = await docklock(['broker', 'ps'], { DOCKLOCK_BROKER_SOCKET: broker.socket, DOCKLOCK_TOKEN: 'wrong' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^docklock: DL_ERR_AUTH_UNAUTHENTICATED: .+\n$/);
  });

  it('prints the OpenAPI document', async () => {
    const res = await docklock(['broker', 'openapi'], {});
    expect(JSON.parse(res.stdout).paths['/v1/services'].post.operationId).toBe('create');
  });
});
