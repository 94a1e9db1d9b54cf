/**
 * The `docklock broker` command group, driven through commander exactly as cli/main.ts will
 * register it, against a broker on a real Unix socket.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_IMAGE, brokerSuite, cliEnv, cliInProcess as docklock, dockerReady, sharedBroker } from './helpers.ts';

const ready = dockerReady();

describe.skipIf(!ready)('docklock broker CLI', () => {
  const suite = brokerSuite();
  const { p, dir } = suite;
  const broker = sharedBroker(suite);
  const env = (): Record<string, string> => cliEnv(broker(), p.alice.token);

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
      env(),
    );
    expect(dep.error).toBeUndefined();
    const svc = JSON.parse(dep.stdout) as { id: string; state: string };
    expect(svc.state).toBe('running');
    const ps = await docklock(['broker', 'ps'], env());
    expect(ps.stdout).toMatch(new RegExp(`^${svc.id.slice(0, 12)}\\s+cli\\s+running`, 'm'));
    expect(JSON.parse((await docklock(['broker', 'inspect', 'cli'], env())).stdout).id).toBe(svc.id);
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('hello'); i++) {
      logs = (await docklock(['broker', 'logs', 'cli', '--tail', '5'], env())).stdout;
      if (!logs.includes('hello')) await new Promise((r) => setTimeout(r, 200));
    }
    expect(logs).toBe('hello cli\n');
    expect(JSON.parse((await docklock(['broker', 'stop', 'cli'], env())).stdout).state).toBe('exited');
    expect(JSON.parse((await docklock(['broker', 'start', 'cli'], env())).stdout).state).toBe('running');
    expect(JSON.parse((await docklock(['broker', 'rm', svc.id], env())).stdout).state).toBe('removed');
    expect((await docklock(['broker', 'ps', '--json'], env())).stdout.trim()).toBe('[]');
  });

  it('deploys from a spec file and reports policy refusals with their code', async () => {
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ name: 'bad', image: 'busybox:latest' }));
    const res = await docklock(['broker', 'deploy', '--file', spec], env());
    expect(res.error).toBeUndefined();
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /^docklock: DL_ERR_POLICY_IMAGE_NOT_ALLOWED: image repository "docker\.io\/library\/busybox" is not on the broker's allowlist[^\n]*\n$/,
    );
  });

  it('fails without a token', async () => {
    const res = await docklock(['broker', 'ps'], cliEnv(broker(), ''));
    expect([res.code, res.stderr]).toEqual([
      2,
      'docklock: DL_ERR_BROKER_NO_TOKEN: no token: set DOCKLOCK_TOKEN or pass --token-file <file>\n',
    ]);
    const wrong = await docklock(['broker', 'ps'], cliEnv(broker(), 'wrong'));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^docklock: DL_ERR_AUTH_UNAUTHENTICATED: .+\n$/);
  });

  it('prints the OpenAPI document', async () => {
    const res = await docklock(['broker', 'openapi'], {});
    expect(JSON.parse(res.stdout).paths['/v1/services'].post.operationId).toBe('create');
  });
});
