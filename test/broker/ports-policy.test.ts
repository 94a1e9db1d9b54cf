/**
 * Host-port policy against a real broker on its Unix socket and the real engine: ports outside the
 * configured range or inside another principal's reservation are refused, a stopped service keeps
 * its port (another owner cannot take it while it is down), and each owner publishes at most its
 * share of host ports. Every refusal creates nothing.
 */
import { describe, expect, it } from 'vitest';
import { BrokerClient } from '../../broker/client.ts';
import { parseBrokerConfig } from '../../broker/config.ts';
import type { ServiceSpec } from '../../broker/policy.ts';
import { TEST_IMAGE, brokerSuite, dockerReady, makeConfig, tokenEntries } from './helpers.ts';

const ready = dockerReady();

describe('host port config', () => {
  const base = {
    tokens: [
      { sha256: 'a'.repeat(64), principal: 'alice', role: 'client' },
      { sha256: 'b'.repeat(64), principal: 'bob', role: 'client' },
    ],
    policy: { images: { strict: false, allow: [] } },
  };
  const parse = (hostPorts: unknown) => parseBrokerConfig({ ...base, policy: { ...base.policy, hostPorts } });
  it('defaults to 1024-65535, 32 per owner, nothing reserved', () => {
    expect(parse(undefined).policy.hostPorts).toEqual({ min: 1024, max: 65535, perOwner: 32, reserved: {} });
  });
  it.each([
    [{ min: 80 }, 'config.policy.hostPorts'],
    [{ min: 30000, max: 20000 }, 'config.policy.hostPorts'],
    [{ reserved: { carol: { min: 20000, max: 20010 } } }, 'config.policy.hostPorts.reserved.carol'],
    [
      { min: 20000, max: 30000, reserved: { alice: { min: 19000, max: 20010 } } },
      'config.policy.hostPorts.reserved.alice',
    ],
    [
      { reserved: { alice: { min: 20000, max: 20010 }, bob: { min: 20010, max: 20020 } } },
      'config.policy.hostPorts.reserved.bob',
    ],
    [{ perOwner: 2.5 }, 'config.policy.hostPorts.perOwner'],
    [{ ranges: [] }, 'config.policy.hostPorts.ranges'],
  ])('refuses %j', (hostPorts, field) => {
    expect(() => parse(hostPorts)).toThrow(expect.objectContaining({ code: 'DL_ERR_BROKER_CONFIG', field }));
  });
});

describe.skipIf(!ready)('host port policy against a real broker', () => {
  const suite = brokerSuite();
  const { p, dir, tag } = suite;
  const carol = suite.principal('carol');
  // A range of 100 ports unlikely to be held on this host by anything else.
  const lo = 21000 + (parseInt(tag.slice(1, 5), 16) % 400) * 100;

  it('enforces the range, reservations, stopped services and the per-owner share', async () => {
    const config = makeConfig(p, dir);
    config.tokens.push(...tokenEntries([carol]));
    config.policy.hostPorts = {
      min: lo,
      max: lo + 99,
      perOwner: 2,
      reserved: { [p.bob.name]: { min: lo + 50, max: lo + 59 } },
    };
    const broker = await suite.start(config);
    const client = (token: string) => new BrokerClient({ socketPath: broker.socket, token });
    const alice = client(p.alice.token);
    const bob = client(p.bob.token);
    const carolC = client(carol.token);
    const svc = (name: string, ...hosts: number[]): ServiceSpec => ({
      name,
      image: TEST_IMAGE,
      command: ['sleep', '300'],
      network: 'bridge',
      ports: hosts.map((host, i) => ({ container: 8080 + i, host })),
    });
    const refusal = (c: BrokerClient, spec: ServiceSpec) =>
      c.deploy(spec).then(
        () => undefined,
        (e: { code?: string; field?: string; message?: string }) => ({
          code: e.code,
          field: e.field,
          message: e.message,
        }),
      );

    // Outside the range, below and above.
    expect(await refusal(alice, svc('low', lo - 1))).toMatchObject({
      code: 'DL_ERR_POLICY_PORT_NOT_ALLOWED',
      field: 'ports[0].host',
    });
    expect(await refusal(alice, svc('high', lo + 100))).toMatchObject({ code: 'DL_ERR_POLICY_PORT_NOT_ALLOWED' });
    // Inside Bob's reservation: refused to Alice, without naming Bob.
    const squat = await refusal(alice, svc('squat', lo + 55));
    expect(squat).toMatchObject({ code: 'DL_ERR_POLICY_PORT_NOT_ALLOWED', field: 'ports[0].host' });
    expect(squat?.message).not.toContain(p.bob.name);
    // Bob publishes only in his reservation.
    expect(await refusal(bob, svc('out', lo + 10))).toMatchObject({ code: 'DL_ERR_POLICY_PORT_NOT_ALLOWED' });
    expect((await bob.deploy(svc('mine', lo + 55))).ports).toEqual([{ container: 8080, host: lo + 55 }]);

    // Alice's stopped service keeps its port: Carol cannot take it meanwhile.
    await alice.deploy(svc('web', lo + 1));
    await alice.act('web', 'stop');
    expect(await refusal(carolC, svc('web', lo + 1))).toMatchObject({
      code: 'DL_ERR_POLICY_PORT_IN_USE',
      field: 'ports[0].host',
    });
    expect((await alice.act('web', 'start')).state).toBe('running');

    // Alice holds 1 of her 2 host ports (stopped or not): 2 more are refused, 1 more is not.
    await alice.act('web', 'stop');
    expect(await refusal(alice, svc('more', lo + 2, lo + 3))).toMatchObject({
      code: 'DL_ERR_POLICY_QUOTA_EXCEEDED',
      field: 'ports',
    });
    await alice.deploy(svc('one', lo + 2));
    expect(await refusal(alice, svc('third', lo + 3))).toMatchObject({ code: 'DL_ERR_POLICY_QUOTA_EXCEEDED' });
    // Carol is not held back by Alice's share.
    await carolC.deploy(svc('web', lo + 3));

    // Nothing was created by a refusal.
    const names = async (c: BrokerClient) => (await c.list()).map((v) => v.name).sort();
    expect(await names(alice)).toEqual(['one', 'web']);
    expect(await names(bob)).toEqual(['mine']);
    expect(await names(carolC)).toEqual(['web']);
  }, 120_000);
});
