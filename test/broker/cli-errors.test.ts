/**
 * Every failure of a `docklock broker` command is one coded line on stderr and an exit code:
 * 2 when the command, its flags or its files are wrong, 1 when the broker refused or failed the
 * operation. Run as child processes of the real CLI entry point, so a stray stack trace or an
 * uncaught rejection would show exactly as an operator would see it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_IMAGE, brokerSuite, cliChild as docklock, cliEnv, dockerReady, sharedBroker } from './helpers.ts';

const ready = dockerReady();
const ONE_CODED_LINE = /^docklock: DL_ERR_[A-Z0-9_]+: [^\n]+\n$/;

describe.skipIf(!ready)('docklock broker: coded errors and exit codes', () => {
  const suite = brokerSuite();
  const { p, dir } = suite;
  const broker = sharedBroker(suite);
  const env = (): Record<string, string> => cliEnv(broker(), p.alice.token);

  const expectCoded = (r: { code: number; stderr: string }, exit: number, code: string): void => {
    expect(r.stderr, r.stderr).toMatch(ONE_CODED_LINE);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect([r.code, r.stderr.split(':')[1]!.trim()]).toEqual([exit, code]);
  };

  it('config: an unknown key, a missing file, bad YAML (exit 2)', async () => {
    writeFileSync(join(dir, 'unknown.yaml'), 'tokens: []\nsurprise: 1\n');
    expectCoded(await docklock(['broker', 'serve', '-c', join(dir, 'unknown.yaml')]), 2, 'DL_ERR_BROKER_CONFIG');
    expectCoded(await docklock(['broker', 'serve', '-c', join(dir, 'absent.yaml')]), 2, 'DL_ERR_BROKER_CONFIG');
    writeFileSync(join(dir, 'bad.yaml'), 'a: [\n');
    expectCoded(await docklock(['broker', 'serve', '-c', join(dir, 'bad.yaml')]), 2, 'DL_ERR_BROKER_CONFIG');
  });

  it('serve: an unreachable Docker Engine (exit 1)', async () => {
    const cfg = join(dir, 'nodocker.yaml');
    writeFileSync(
      cfg,
      `dockerSocket: ${join(dir, 'no-docker.sock')}\nsocket: ${join(dir, 'x.sock')}\nauditPath: ${join(dir, 'x.jsonl')}\ntokens:\n  - { sha256: "${'a'.repeat(64)}", principal: x }\npolicy: { images: { strict: false, allow: [] } }\n`,
    );
    expectCoded(await docklock(['broker', 'serve', '-c', cfg]), 1, 'DL_ERR_BROKER_DOCKER');
  });

  it('tokens: none, an unreadable token file, a wrong one (2, 2, 1)', async () => {
    expectCoded(
      await docklock(['broker', 'ps'], { DOCKLOCK_BROKER_SOCKET: broker().socket }),
      2,
      'DL_ERR_BROKER_NO_TOKEN',
    );
    expectCoded(
      await docklock(['broker', 'ps', '--token-file', join(dir, 'nope')], { DOCKLOCK_BROKER_SOCKET: broker().socket }),
      2,
      'DL_ERR_CLI_READ',
    );
    expectCoded(await docklock(['broker', 'ps'], cliEnv(broker(), 'wrong')), 1, 'DL_ERR_AUTH_UNAUTHENTICATED');
    expectCoded(await docklock(['broker', 'hash-token']), 2, 'DL_ERR_BROKER_NO_TOKEN');
  });

  it('the broker is not running (exit 1)', async () => {
    expectCoded(
      await docklock(['broker', 'ps'], { DOCKLOCK_BROKER_SOCKET: join(dir, 'absent.sock'), DOCKLOCK_TOKEN: 't' }),
      1,
      'DL_ERR_BROKER_UNREACHABLE',
    );
  });

  it('malformed flags and spec files (exit 2)', async () => {
    for (const flags of [
      ['--memory', 'lots'],
      ['--cpus', 'x'],
      ['--port', '80'],
      ['--env', 'NOEQUALS'],
      ['--mount', 'a'],
    ]) {
      expectCoded(
        await docklock(['broker', 'deploy', '--name', 'x', '--image', TEST_IMAGE, ...flags], env()),
        2,
        'DL_ERR_BROKER_USAGE',
      );
    }
    expectCoded(await docklock(['broker', 'deploy'], env()), 2, 'DL_ERR_BROKER_USAGE');
    writeFileSync(join(dir, 'spec.json'), '{not json');
    expectCoded(
      await docklock(['broker', 'deploy', '--file', join(dir, 'spec.json')], env()),
      2,
      'DL_ERR_BROKER_USAGE',
    );
    expectCoded(await docklock(['broker', 'logs', 'x', '--tail', 'all'], env()), 2, 'DL_ERR_BROKER_USAGE');
    expectCoded(await docklock(['broker', 'history', '--limit', '-1'], env()), 2, 'DL_ERR_BROKER_USAGE');
  });

  it('refusals: an image off the allowlist, a name taken, an unknown service (exit 1)', async () => {
    expectCoded(
      await docklock(['broker', 'deploy', '--name', 'x', '--image', 'busybox:latest'], env()),
      1,
      'DL_ERR_POLICY_IMAGE_NOT_ALLOWED',
    );
    const ok = await docklock(['broker', 'deploy', '--name', 'dup', '--image', TEST_IMAGE, '--', 'sleep', '60'], env());
    expect(ok.code, ok.stderr).toBe(0);
    expectCoded(
      await docklock(['broker', 'deploy', '--name', 'dup', '--image', TEST_IMAGE, '--', 'sleep', '60'], env()),
      1,
      'DL_ERR_BROKER_CONFLICT',
    );
    expectCoded(await docklock(['broker', 'inspect', 'ghost'], env()), 1, 'DL_ERR_BROKER_NOT_FOUND');
    expectCoded(
      await docklock(['broker', 'deploy', '--name', 'root', '--image', TEST_IMAGE, '--user', '0:0'], env()),
      1,
      'DL_ERR_POLICY_USER_NOT_ALLOWED',
    );
  });

  it('audit verify: a missing file (2), a broken chain (1)', async () => {
    expectCoded(await docklock(['broker', 'audit', 'verify', join(dir, 'missing.jsonl')]), 2, 'DL_ERR_AUDIT_READ');
    writeFileSync(join(dir, 'broken.jsonl'), 'not an audit line\n');
    expectCoded(
      await docklock(['broker', 'audit', 'verify', join(dir, 'broken.jsonl')]),
      1,
      'DL_ERR_AUDIT_CHAIN_BROKEN',
    );
  });

  it('unknown options and commands stay commander usage errors (exit 2)', async () => {
    const r = await docklock(['broker', 'ps', '--bogus'], env());
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
