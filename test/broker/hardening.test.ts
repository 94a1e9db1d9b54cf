/**
 * Issue 13's refusals and invariants against the real engine: names that cannot collide across
 * owners, conditions the engine would reject refused by the policy before Docker sees them
 * (nothing created), engine text kept from clients but logged with the request id, no network
 * left by a failed deploy, no query string in the audit trail.
 */
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerConfig } from '../../broker/config.ts';
import { LABEL_OWNER } from '../../broker/labels.ts';
import {
  TEST_IMAGE,
  TEST_LIMITS,
  auth,
  brokerSuite,
  buildTestBroker,
  dockerReady,
  pinnedImages,
  tokenEntries,
} from './helpers.ts';
import type { TestBroker } from './helpers.ts';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const ready = dockerReady();

describe.skipIf(!ready)('broker hardening (issue 13)', () => {
  const suite = brokerSuite();
  const { tag, dir } = suite;
  // The colliding pair: under the old `docklock-<owner>-<service>` both were docklock-<tag>-a-b-c.
  const ab = suite.principal('a-b');
  const a = suite.principal('a');
  const { admin } = suite.p;
  const log = new PassThrough();
  let logText = '';
  log.on('data', (c: Buffer) => (logText += c.toString()));
  let broker: TestBroker;
  let squatter: Server | undefined;

  beforeAll(async () => {
    const config = parseBrokerConfig({
      socket: join(dir, 'broker.sock'),
      auditPath: join(dir, 'audit.jsonl'),
      instance: tag,
      log: { level: 'info' },
      tokens: [...tokenEntries([ab, a]), ...tokenEntries([admin], 'admin')],
      policy: { images: pinnedImages(), ...TEST_LIMITS },
    });
    broker = await buildTestBroker(config, log);
  });
  // Runs before the suite's own clean-up (after-hooks run last registered first).
  afterAll(async () => {
    squatter?.close();
    await broker?.close();
  });

  const deploy = (token: string, body: object) =>
    broker.app.inject({
      method: 'POST',
      url: '/v1/services',
      headers: { ...auth(token), 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
  const containersOf = async (owner: string) =>
    broker.docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner}`] } });

  it('gives owner a-b + service c and owner a + service b-c different containers', async () => {
    const first = await deploy(ab.token, { name: 'c', image: TEST_IMAGE, command: ['sleep', '120'] });
    expect(first.statusCode, first.body).toBe(201);
    const second = await deploy(a.token, { name: 'b-c', image: TEST_IMAGE, command: ['sleep', '120'] });
    expect(second.statusCode, second.body).toBe(201);
    expect(second.json().id).not.toBe(first.json().id);
    const names = [(await containersOf(ab.name))[0]!.Names[0], (await containersOf(a.name))[0]!.Names[0]];
    expect(names).toEqual([`/docklock.${tag}.${ab.name}.c`, `/docklock.${tag}.${a.name}.b-c`]);
    // Each sees only its own.
    const list = await broker.app.inject({ method: 'GET', url: '/v1/services', headers: auth(a.token) });
    expect(list.json().services.map((s: { name: string }) => s.name)).toEqual(['b-c']);
    expect((await broker.app.inject({ method: 'GET', url: '/v1/services/c', headers: auth(a.token) })).statusCode).toBe(
      404,
    );
  });

  it('refuses a uid or gid the engine would reject (2^31 and above), creating nothing', async () => {
    const before = (await containersOf(a.name)).length;
    for (const user of ['2147483648:1', '1:2147483648', '4294967295', '9999999999:9999999999']) {
      const res = await deploy(a.token, { name: 'uid', image: TEST_IMAGE, command: ['sleep', '60'], user });
      expect([res.statusCode, res.json().error.code], user).toEqual([403, 'DL_ERR_POLICY_USER_NOT_ALLOWED']);
    }
    expect((await containersOf(a.name)).length).toBe(before);
    const top = await deploy(a.token, {
      name: 'uid',
      image: TEST_IMAGE,
      command: ['sleep', '60'],
      user: '2147483647:2147483647',
    });
    expect(top.statusCode, top.body).toBe(201);
    expect(top.json().user).toBe('2147483647:2147483647');
  });

  it("refuses a host port another owner's service or a host process holds, creating nothing", async () => {
    const port = 20000 + (parseInt(tag.slice(1, 5), 16) % 20000);
    const held = await deploy(ab.token, {
      name: 'web',
      image: TEST_IMAGE,
      command: ['sleep', '120'],
      network: 'bridge',
      ports: [{ container: 8080, host: port }],
    });
    expect(held.statusCode, held.body).toBe(201);
    const before = (await containersOf(a.name)).length;
    const res = await deploy(a.token, {
      name: 'web',
      image: TEST_IMAGE,
      command: ['sleep', '120'],
      network: 'bridge',
      ports: [{ container: 8080, host: port }],
    });
    expect([res.statusCode, res.json().error.code, res.json().error.field]).toEqual([
      409,
      'DL_ERR_POLICY_PORT_IN_USE',
      'ports[0].host',
    ]);
    expect(res.json().error.message).not.toContain(ab.name);
    squatter = createServer();
    await new Promise<void>((r) => squatter!.listen(port + 1, '127.0.0.1', r));
    const res2 = await deploy(a.token, {
      name: 'web',
      image: TEST_IMAGE,
      command: ['sleep', '120'],
      network: 'bridge',
      ports: [{ container: 8080, host: port + 1 }],
    });
    expect([res2.statusCode, res2.json().error.code]).toEqual([409, 'DL_ERR_POLICY_PORT_IN_USE']);
    expect((await containersOf(a.name)).length).toBe(before);
  });

  it('a deploy the engine fails: a coded 502 without engine text, the cause in the log under the request id, no network left', async () => {
    const res = await deploy(a.token, {
      name: 'broken',
      image: TEST_IMAGE,
      command: ['/nonexistent'],
      network: 'isolated',
    });
    expect(res.statusCode).toBe(502);
    const err = res.json().error as { code: string; message: string; requestId: string };
    expect(err.code).toBe('DL_ERR_BROKER_DOCKER');
    expect(err.requestId).toBe(res.headers['x-request-id']);
    expect(err.message).not.toMatch(/nonexistent|OCI|runsc|sandbox|daemon/i);
    const lines = logText
      .split('\n')
      .filter((l) => l.length > 0)
      .map(
        (l) =>
          JSON.parse(l) as {
            level: number;
            reqId?: string;
            code?: string;
            msg: string;
            cause?: unknown;
            err?: unknown;
          },
      );
    const logged = lines.find((l) => l.reqId === err.requestId && l.level === 50);
    expect(logged, logText.slice(-2000)).toBeDefined();
    expect(logged!.code).toBe('DL_ERR_BROKER_DOCKER');
    expect(JSON.stringify(logged)).toMatch(/nonexistent/);
    expect(await containersOf(a.name)).not.toContainEqual(
      expect.objectContaining({ Labels: expect.objectContaining({ 'io.docklock.service': 'broken' }) }),
    );
    const nets = await broker.docker.listNetworks({ filters: { label: [`${LABEL_OWNER}=${a.name}`] } });
    expect(nets).toEqual([]);
    // The audit trail has the intent and the error outcome, linked by the request id.
    const trail = (await broker.audit.entries())
      .filter((e) => e.requestId === err.requestId)
      .map((e) => [e.action, e.decision]);
    expect(trail).toEqual([
      ['service.create.intent', 'info'],
      ['service.create.outcome', 'error'],
      ['service.create', 'error'],
    ]);
  });

  it('audits paths without query strings and logs no secret', async () => {
    const secret = randomBytes(16).toString('hex');
    const res = await broker.app.inject({ method: 'GET', url: `/v1/services?token=${secret}`, headers: auth(a.token) });
    expect(res.statusCode).toBe(400);
    await broker.app.inject({ method: 'GET', url: `/nowhere?token=${secret}`, headers: auth(a.token) });
    const audit = readFileSync(broker.config.auditPath, 'utf8');
    expect(audit).not.toContain(secret);
    expect(audit).toContain('"url":"/v1/services"');
    expect(logText).not.toContain(secret);
    expect(logText).not.toContain(a.token);
    expect(logText).not.toContain(ab.token);
  });

  it('answers every request with an x-request-id that the log and the audit entry share', async () => {
    const res = await broker.app.inject({ method: 'GET', url: '/v1/services', headers: auth(a.token) });
    const id = res.headers['x-request-id'] as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    // A client cannot choose it.
    const forged = await broker.app.inject({
      method: 'GET',
      url: '/v1/services',
      headers: { ...auth(a.token), 'x-request-id': 'forged', 'request-id': 'forged' },
    });
    expect(forged.headers['x-request-id']).not.toBe('forged');
    expect(logText).toContain(`"reqId":"${id}"`);
    expect((await broker.audit.entries()).some((e) => e.requestId === id && e.action === 'service.list')).toBe(true);
  });
});
