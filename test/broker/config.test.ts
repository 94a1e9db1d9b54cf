import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBrokerConfig, parseBrokerConfig } from '../../broker/config.ts';

const H = 'a'.repeat(64);
const base = {
  tokens: [{ sha256: H, principal: 'alice', role: 'client' }],
  policy: { images: { strict: false, allow: [{ repository: 'ghcr.io/org/app' }] } },
};

function codeAndField(raw: unknown): [string | undefined, string | undefined] {
  try {
    parseBrokerConfig(raw);
  } catch (e) {
    return [(e as { code?: string }).code, (e as { where?: { field?: string } }).where?.field];
  }
  return [undefined, undefined];
}

describe('broker config', () => {
  it('fills documented defaults', () => {
    const c = parseBrokerConfig(base);
    expect(c.socket).toBe('/run/docklock/broker.sock');
    expect(c.policy.defaultUser).toBe('65534:65534');
    expect(c.policy.pids.default).toBeGreaterThan(0);
    // v1: the managed label every earlier version wrote, so an upgraded broker keeps its containers.
    expect(c.instance).toBe('v1');
    expect(c.log.level).toBe('info');
    expect(c.breaker.pidsIntervalMs).toBe(250);
    expect(c.breaker.persistHistory).toBe(true);
  });

  it.each([
    ['unknown top-level key', { ...base, privileged: true }, 'config.privileged'],
    [
      'unknown policy key',
      { ...base, policy: { ...base.policy, allowPrivileged: true } },
      'config.policy.allowPrivileged',
    ],
    [
      'bad token hash',
      { ...base, tokens: [{ sha256: 'xyz', principal: 'alice', role: 'client' }] },
      'config.tokens[0].sha256',
    ],
    ['bad role', { ...base, tokens: [{ sha256: H, principal: 'alice', role: 'root' }] }, 'config.tokens[0].role'],
    [
      'bad principal',
      { ...base, tokens: [{ sha256: H, principal: 'Alice!', role: 'client' }] },
      'config.tokens[0].principal',
    ],
    [
      'strict without digests',
      { ...base, policy: { images: { strict: true, allow: [{ repository: 'ghcr.io/org/app' }] } } },
      'config.policy.images.allow[0].digests',
    ],
    [
      'unqualified repository',
      { ...base, policy: { images: { strict: false, allow: [{ repository: 'nginx' }] } } },
      'config.policy.images.allow[0].repository',
    ],
    [
      'min above max',
      { ...base, policy: { ...base.policy, pids: { default: 10, min: 20, max: 30 } } },
      'config.policy.pids',
    ],
    [
      'zero limit',
      { ...base, policy: { ...base.policy, memory: { default: 0, min: 0, max: 0 } } },
      'config.policy.memory.default',
    ],
    ['root default user', { ...base, policy: { ...base.policy, defaultUser: '0:0' } }, 'config.policy.defaultUser'],
    ['mount prefix /', { ...base, policy: { ...base.policy, mountPrefixes: ['/'] } }, 'config.policy.mountPrefixes'],
    [
      'default user above 2^31 - 1',
      { ...base, policy: { ...base.policy, defaultUser: '2147483648:1' } },
      'config.policy.defaultUser',
    ],
    ['instance with a dot (names use it as separator)', { ...base, instance: 'a.b' }, 'config.instance'],
    ['instance too long', { ...base, instance: 'x'.repeat(17) }, 'config.instance'],
    ['unknown log level', { ...base, log: { level: 'verbose' } }, 'config.log.level'],
    ['unknown log key', { ...base, log: { file: '/tmp/x' } }, 'config.log.file'],
  ])('rejects %s', (_label, raw, field) => {
    expect(codeAndField(raw)).toEqual(['DL_ERR_BROKER_CONFIG', field]);
  });

  it('rejects duplicate keys in the YAML file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'docklock-config-'));
    try {
      const file = join(dir, 'broker.yaml');
      writeFileSync(file, `tokens: []\ntokens: []\n`);
      expect(() => loadBrokerConfig(file)).toThrow(/not valid YAML/);
      writeFileSync(
        file,
        `tokens:\n  - sha256: ${H}\n    principal: alice\n    role: admin\npolicy:\n  images:\n    strict: false\n    allow:\n      - repository: ghcr.io/org/app\n`,
      );
      expect(loadBrokerConfig(file).tokens[0]!.role).toBe('admin');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
