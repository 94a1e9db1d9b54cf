/**
 * A hostile validator against a real broker on its Unix socket and the real engine with gVisor:
 * each case is a hole an audit found, checked through the public API and on what Docker made.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { BrokerClient } from '../../broker/client.ts';
import { BrokerError } from '../../broker/errors.ts';
import { LOG_BYTES_MAX } from '../../broker/log-tail.ts';
import { LABEL_OWNER, bridgeNetworkName } from '../../broker/labels.ts';
import { parseBrokerConfig } from '../../broker/config.ts';
import { TEST_IMAGE, TEST_LIMITS, brokerSuite, dockerCli, dockerReady, sharedBroker, tokenEntries } from './helpers.ts';

const ready = dockerReady();

/** Polls a service's output until `done` matches it (the service decides when it has answered). */
async function outputOf(client: BrokerClient, name: string, done: RegExp): Promise<string> {
  for (;;) {
    const { stdout } = await client.logs(name);
    if (done.test(stdout)) return stdout;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Writes raw bytes to the broker's socket and returns the whole answer (the broker closes the connection). */
function rawRequest(socket: string, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let answer = '';
    conn.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    conn.on('close', () => resolve(answer));
    conn.on('error', reject);
    conn.on('connect', () => conn.write(bytes));
  });
}

describe.skipIf(!ready)('a hostile client against the broker', () => {
  const suite = brokerSuite();
  const allowed = join(suite.dir, 'allowed');
  mkdirSync(join(allowed, 'data'), { recursive: true });
  const broker = sharedBroker(suite, (config) => {
    config.policy.mountPrefixes = [allowed];
  });
  const { alice, bob } = suite.p;
  const client = (token: string) => new BrokerClient({ socketPath: broker().socket, token });
  const engine = new Docker({ socketPath: '/var/run/docker.sock' });

  it("cannot reach another owner's bridge service on its unpublished port", async () => {
    const a = client(alice.token);
    const b = client(bob.token);
    const server = await a.deploy({
      name: 'srv',
      image: TEST_IMAGE,
      network: 'bridge',
      command: ['sh', '-c', 'while true; do echo owner-only | nc -l -p 8080; done'],
    });
    const info = await engine.getContainer(server.id).inspect();
    const net = bridgeNetworkName(broker().config.instance, alice.name);
    expect(info.HostConfig.NetworkMode).toBe(net);
    const ip = info.NetworkSettings.Networks[net]!.IPAddress;
    // The owner's own second service on the bridge reaches it: the network is shared within an owner.
    await a.deploy({
      name: 'peer',
      image: TEST_IMAGE,
      network: 'bridge',
      command: ['sh', '-c', `until echo | nc -w 2 ${ip} 8080; do sleep 0.5; done; echo rc=0; sleep 300`],
    });
    expect(await outputOf(a, 'peer', /rc=0/)).toContain('owner-only');
    // Another owner's bridge service does not, though the server answers.
    await b.deploy({
      name: 'probe',
      image: TEST_IMAGE,
      network: 'bridge',
      command: ['sh', '-c', `echo | nc -w 3 ${ip} 8080; echo rc=$?; sleep 300`],
    });
    const probe = await outputOf(b, 'probe', /rc=\d+/);
    expect(probe).not.toContain('owner-only');
    expect(probe).toMatch(/rc=1/);
    // The owner's bridge network goes away with its last service.
    await a.remove('srv');
    await a.remove('peer');
    await b.remove('probe');
    expect((await engine.listNetworks({ filters: { name: [net] } })).filter((n) => n.Name === net)).toEqual([]);
  });

  it('audits and answers in the API shape the requests that never reach a route', async () => {
    const admin = client(suite.p.admin.token);
    const before = (await admin.audit(100_000)).entries.filter((e) => e.action === 'http.malformed').length;
    const requests: [string, string | Buffer, RegExp][] = [
      [
        'bad percent-encoding',
        'GET /v1/services/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        /percent-encoding/,
      ],
      [
        'an over-long id',
        `GET /v1/services/${'a'.repeat(200)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        /longer than/,
      ],
      ['no request line', 'GARBAGE\r\n\r\n', /malformed HTTP/],
      [
        'oversized headers',
        `GET /v1/services HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`,
        /headers/,
      ],
      [
        'Content-Length with Transfer-Encoding (smuggling)',
        'POST /v1/services HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        /malformed HTTP/,
      ],
      [
        'control bytes in the path',
        Buffer.concat([
          Buffer.from('GET /v1/\x1b['),
          Buffer.from([0x9b]),
          Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
        ]),
        /malformed HTTP/,
      ],
    ];
    for (const [label, bytes, message] of requests) {
      const answer = await rawRequest(broker().socket, bytes);
      expect(answer.split('\r\n')[0], label).toBe('HTTP/1.1 400 Bad Request');
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
        error: { code: string; message: string };
      };
      expect(body.error.code, label).toBe('DL_ERR_BROKER_BAD_REQUEST');
      expect(body.error.message, label).toMatch(message);
    }
    const malformed = (await admin.audit(100_000)).entries.filter((e) => e.action === 'http.malformed');
    expect(malformed.length - before).toBe(requests.length);
    expect(malformed.every((e) => e.decision === 'denied' && e.reason === 'DL_ERR_BROKER_BAD_REQUEST')).toBe(true);
    expect(malformed.map((e) => e.url)).toContain('/v1/services/%E0%A4%A');
  });

  it('refuses, before the engine sees them, mounts and arguments the engine would fail on', async () => {
    const a = client(alice.token);
    const data = join(allowed, 'data');
    const cases: [string, Record<string, unknown>, string][] = [
      [
        'one mount point written twice (/x and /x/)',
        {
          mounts: [
            { source: data, target: '/x' },
            { source: data, target: '/x/' },
          ],
        },
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      [
        'a NUL in a mount target',
        { mounts: [{ source: data, target: '/x\u0000y' }] },
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      [
        'a newline in a mount target',
        { mounts: [{ source: data, target: '/x\n' }] },
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      ['a NUL in a command argument', { command: ['sleep\u0000x', '5'] }, 'DL_ERR_BROKER_INVALID_FIELD'],
      [
        'a NUL in an environment value',
        { command: ['sleep', '5'], env: { A: 'b\u0000c' } },
        'DL_ERR_BROKER_INVALID_FIELD',
      ],
    ];
    for (const [label, extra, code] of cases) {
      const err = await a.deploy({ name: 'nul', image: TEST_IMAGE, ...extra } as never).catch((e: unknown) => e);
      expect(err, label).toBeInstanceOf(BrokerError);
      expect((err as BrokerError).code, label).toBe(code);
      expect(await engine.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${alice.name}`] } })).toEqual(
        [],
      );
    }
    // The trailing slash is dropped from the mount point Docker gets.
    const ok = await a.deploy({
      name: 'slash',
      image: TEST_IMAGE,
      command: ['sleep', '60'],
      mounts: [{ source: data, target: '/x/' }],
    });
    expect((await engine.getContainer(ok.id).inspect()).Mounts.map((m) => m.Destination)).toEqual(['/x']);
    await a.remove('slash');
  });

  it("answers a logs request with at most the newest LOG_BYTES_MAX of each stream, whatever the lines' length", async () => {
    const a = client(alice.token);
    // 200 lines of 12 000 bytes: 2.4 MB within the last 10 000 lines.
    await a.deploy({
      name: 'flood',
      image: TEST_IMAGE,
      command: [
        'sh',
        '-c',
        'echo err-first >&2; l=$(head -c 12000 /dev/zero | tr "\\0" a); i=0; while [ $i -lt 200 ]; do echo $l; i=$((i+1)); done; echo last-line; sleep 300',
      ],
    });
    await outputOf(a, 'flood', /last-line/);
    const { stdout, stderr } = await a.logs('flood', 10_000);
    expect(stdout.length).toBeLessThanOrEqual(LOG_BYTES_MAX);
    expect(stdout.length).toBeGreaterThan(LOG_BYTES_MAX - 13_000);
    expect(stdout.endsWith(`${'a'.repeat(100)}\nlast-line\n`)).toBe(true);
    expect(stderr).toBe('err-first\n');
    await a.remove('flood');
  });

  it('refuses a body on a route that takes none, GET included, rather than ignoring it', async () => {
    const requests = [
      'GET /v1/services HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n',
      'GET /v1/services HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n',
      'GET /v1/services HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n',
    ];
    const bodies = ['{}', 'hello', '2\r\n{}\r\n0\r\n\r\n'];
    for (const [i, head] of requests.entries()) {
      const answer = await rawRequest(
        broker().socket,
        `${head}Authorization: Bearer ${alice.token}\r\nConnection: close\r\n\r\n${bodies[i]}`,
      );
      expect(answer.split('\r\n')[0], head).toBe('HTTP/1.1 400 Bad Request');
      expect(answer, head).toContain('"code":"DL_ERR_BROKER_UNEXPECTED_BODY"');
    }
    // Without a body the same request is answered.
    expect(await client(alice.token).list()).toBeInstanceOf(Array);
  });

  it('answers limit=0 with no audit entries, not the whole log', async () => {
    const admin = client(suite.p.admin.token);
    expect((await admin.audit(0)).entries).toEqual([]);
    expect((await admin.audit(1)).entries).toHaveLength(1);
  });

  it('runs the image the allowlist names, not another the engine files under an upper-case registry', async () => {
    // The engine keeps DOCKLOCK.TEST/… and docklock.test/… apart; the policy reads both as the latter.
    const allowedRepo = `docklock.test/${suite.tag}/app`;
    const other = `DOCKLOCK.TEST/${suite.tag}/app:1`;
    dockerCli(['tag', TEST_IMAGE, other]);
    try {
      const owner = suite.principal('case');
      const unpinned = await suite.start(
        parseBrokerConfig({
          socket: join(suite.dir, 'case.sock'),
          auditPath: join(suite.dir, 'case.jsonl'),
          instance: `${suite.tag}c`,
          log: { level: 'warn' },
          tokens: tokenEntries([owner]),
          policy: { images: { strict: false, allow: [{ repository: allowedRepo }] }, ...TEST_LIMITS },
        }),
      );
      const c = new BrokerClient({ socketPath: unpinned.socket, token: owner.token });
      const err = await c.deploy({ name: 'case', image: other, command: ['sleep', '60'] }).catch((e: unknown) => e);
      expect((err as BrokerError).code).toBe('DL_ERR_POLICY_IMAGE_NOT_PRESENT');
      expect(await engine.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner.name}`] } })).toEqual(
        [],
      );
      // Under the allowed spelling the same image is the allowed repository's, and runs.
      dockerCli(['tag', TEST_IMAGE, `${allowedRepo}:1`]);
      const ok = await c.deploy({ name: 'case', image: other, command: ['sleep', '60'] });
      expect((await engine.getContainer(ok.id).inspect()).Image).toBe(
        (await engine.getImage(`${allowedRepo}:1`).inspect()).Id,
      );
      await c.remove('case');
    } finally {
      dockerCli(['rmi', '-f', other]);
      try {
        dockerCli(['rmi', '-f', `${allowedRepo}:1`]);
      } catch {
        // not tagged (the refusal failed first)
      }
    }
  });

  it("mounts an image's declared VOLUME as a bounded noexec tmpfs, not a writable volume on the host's disk", async () => {
    // An allowed image that declares a world-writable volume (as many data images do).
    const image = `docklock.test/${suite.tag}/vol:1`;
    execFileSync('/usr/bin/docker', ['build', '-q', '-t', image, '-'], {
      input: `FROM ${TEST_IMAGE}\nRUN mkdir -p /data && chmod 1777 /data\nVOLUME /data\n`,
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    try {
      const owner = suite.principal('vol');
      const b = await suite.start(
        parseBrokerConfig({
          socket: join(suite.dir, 'vol.sock'),
          auditPath: join(suite.dir, 'vol.jsonl'),
          instance: `${suite.tag}v`,
          log: { level: 'warn' },
          tokens: tokenEntries([owner]),
          policy: {
            images: { strict: false, allow: [{ repository: `docklock.test/${suite.tag}/vol` }] },
            ...TEST_LIMITS,
          },
        }),
      );
      const c = new BrokerClient({ socketPath: b.socket, token: owner.token });
      const svc = await c.deploy({
        name: 'vol',
        image,
        command: ['sh', '-c', 'cp /bin/busybox /data/bb; /data/bb echo ran; echo rc=$?; sleep 60'],
      });
      const info = await engine.getContainer(svc.id).inspect();
      expect(info.Mounts.filter((m) => m.Type === 'volume')).toEqual([]);
      expect(info.HostConfig.Tmpfs?.['/data']).toMatch(/noexec.*size=\d+/);
      const out = await outputOf(c, 'vol', /rc=\d+/);
      expect(out).not.toContain('ran');
      await c.remove('vol');
    } finally {
      dockerCli(['rmi', '-f', image]);
    }
  });

  it("turns an image's HEALTHCHECK off: the engine would exec it in the sandbox, where seccomp does not apply", async () => {
    const image = `docklock.test/${suite.tag}/hc:1`;
    execFileSync('/usr/bin/docker', ['build', '-q', '-t', image, '-'], {
      input: `FROM ${TEST_IMAGE}\nHEALTHCHECK --interval=1s CMD ["true"]\n`,
      env: { ...process.env, DOCKER_BUILDKIT: '0' },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    try {
      const owner = suite.principal('hc');
      const b = await suite.start(
        parseBrokerConfig({
          socket: join(suite.dir, 'hc.sock'),
          auditPath: join(suite.dir, 'hc.jsonl'),
          instance: `${suite.tag}h`,
          log: { level: 'warn' },
          tokens: tokenEntries([owner]),
          policy: {
            images: { strict: false, allow: [{ repository: `docklock.test/${suite.tag}/hc` }] },
            ...TEST_LIMITS,
          },
        }),
      );
      const c = new BrokerClient({ socketPath: b.socket, token: owner.token });
      const svc = await c.deploy({ name: 'hc', image, command: ['sleep', '60'] });
      const info = await engine.getContainer(svc.id).inspect();
      expect(info.Config.Healthcheck?.Test).toEqual(['NONE']);
      expect(info.State.Health).toBeUndefined();
      await c.remove('hc');
    } finally {
      dockerCli(['rmi', '-f', image]);
    }
  });
});
