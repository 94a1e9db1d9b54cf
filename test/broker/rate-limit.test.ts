/**
 * Per-client rate limiting on a real broker's Unix socket: a client that floods the API is refused
 * with 429 `DL_ERR_BROKER_RATE_LIMITED` and a `retry-after`, every refusal is audited, and other
 * clients are not slowed by it.
 */
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BrokerClient } from '../../broker/client.ts';
import { parseBrokerConfig } from '../../broker/config.ts';
import { TokenBuckets } from '../../broker/rate-limit.ts';
import { brokerSuite, dockerReady, makeConfig, sharedBroker } from './helpers.ts';

const ready = dockerReady();

/** One GET over the socket: status, headers and the parsed body. */
function get(
  socketPath: string,
  path: string,
  token: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('token buckets', () => {
  it('allow a burst, then refill at the rate, per key, never above the burst', () => {
    let now = 0;
    const b = new TokenBuckets({ enabled: true, burst: 2, perSecond: 4 }, () => now);
    expect([b.take('a'), b.take('a'), b.take('a')]).toEqual([
      { ok: true },
      { ok: true },
      { ok: false, retryAfterMs: 250 },
    ]);
    expect(b.take('b')).toEqual({ ok: true });
    now = 250;
    expect([b.take('a'), b.take('a')]).toEqual([{ ok: true }, { ok: false, retryAfterMs: 250 }]);
    now = 60_000;
    expect([b.take('a'), b.take('a'), b.take('a').ok]).toEqual([{ ok: true }, { ok: true }, false]);
    // A clock stepping back refills nothing.
    now = 0;
    expect(b.take('a').ok).toBe(false);
  });
});

describe('rate limit config', () => {
  const base = {
    tokens: [{ sha256: 'a'.repeat(64), principal: 'alice', role: 'client' }],
    policy: { images: { strict: false, allow: [] } },
  };
  it('is on by default', () => {
    expect(parseBrokerConfig(base).rateLimit).toEqual({ enabled: true, burst: 60, perSecond: 10 });
  });
  it.each([
    [{ burst: 0.5 }, 'config.rateLimit.burst'],
    [{ perSecond: 0 }, 'config.rateLimit.perSecond'],
    [{ enabled: 'no' }, 'config.rateLimit.enabled'],
    [{ burts: 5 }, 'config.rateLimit.burts'],
  ])('refuses %j', (rateLimit, field) => {
    expect(() => parseBrokerConfig({ ...base, rateLimit })).toThrow(
      expect.objectContaining({ code: 'DL_ERR_BROKER_CONFIG', field }),
    );
  });
});

describe.skipIf(!ready)('per-client rate limit against a real broker', () => {
  const suite = brokerSuite();
  const { p } = suite;
  // A refill slow enough that the burst alone decides what a quick run of requests gets.
  const broker = sharedBroker(suite, (config) => {
    config.rateLimit = { enabled: true, burst: 3, perSecond: 0.05 };
  });

  it('refuses a flooding client with 429 and a retry-after, audits each refusal, and leaves other clients alone', async () => {
    const socket = broker().socket;
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await get(socket, '/v1/services', p.alice.token));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429, 429]);
    const refused = answers[3]!;
    expect(refused.body).toMatchObject({ error: { code: 'DL_ERR_BROKER_RATE_LIMITED' } });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The typed client reports it with its code.
    const alice = new BrokerClient({ socketPath: socket, token: p.alice.token });
    await expect(alice.list()).rejects.toMatchObject({ code: 'DL_ERR_BROKER_RATE_LIMITED', statusCode: 429 });
    // Bob has his own bucket.
    expect((await get(socket, '/v1/services', p.bob.token)).status).toBe(200);
    // Every refusal is in the audit log, with who and why (read by the admin, within the admin's own budget).
    const admin = new BrokerClient({ socketPath: socket, token: p.admin.token });
    const entries = (await admin.audit(1000)).entries.filter((e) => e.reason === 'DL_ERR_BROKER_RATE_LIMITED');
    expect(entries).toHaveLength(4);
    expect(entries.every((e) => e.principal === p.alice.name && e.decision === 'denied' && e.status === 429)).toBe(
      true,
    );
  });

  it('can be turned off', async () => {
    const config = makeConfig(p, suite.dir, { instance: `${suite.tag}off` });
    config.socket = `${suite.dir}/off.sock`;
    config.auditPath = `${suite.dir}/off.jsonl`;
    config.rateLimit = { enabled: false, burst: 1, perSecond: 0.05 };
    const b = await suite.start(config);
    for (let i = 0; i < 5; i++) expect((await get(b.socket, '/v1/services', p.alice.token)).status).toBe(200);
    await suite.stop(b);
  });
});
