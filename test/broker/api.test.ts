/**
 * The broker API end to end through `app.inject()`, against the real Docker Engine with gVisor:
 * a deployed service really runs under runsc with the shipped seccomp profile and the policy's
 * limits, and every bypass vector is refused with nothing created.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditFile } from '../../broker/audit.ts';
import { bridgeNetworkName, isolatedNetworkName } from '../../broker/labels.ts';
import { serviceCreateSchema } from '../../broker/schemas.ts';
import { seccompProfileJson } from '../../broker/seccomp.ts';
import type { ServiceView } from '../../broker/services.ts';
import {
  TEST_IMAGE,
  auth,
  buildTestBroker,
  cleanupDir,
  dockerCli,
  dockerReady,
  makeConfig,
  makePrincipals,
  ownedContainers,
  removeOwned,
  runTag,
  tempDir,
} from './helpers.ts';
import type { TestBroker, TestPrincipals } from './helpers.ts';

const ready = dockerReady();

describe.skipIf(!ready)('broker API against Docker + gVisor', () => {
  const tag = runTag();
  const p: TestPrincipals = makePrincipals(tag);
  const dir = tempDir(tag);
  const allowed = join(dir, 'allowed');
  const outside = join(dir, 'outside');
  let broker: TestBroker;
  let docker: Docker;
  const hostPort = 20000 + Math.floor(Math.random() * 20000);

  beforeAll(async () => {
    mkdirSync(join(allowed, 'data'), { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(allowed, 'data', 'hello.txt'), 'from the host\n');
    writeFileSync(join(outside, 'secret.txt'), 'secret\n');
    symlinkSync(outside, join(allowed, 'escape'));
    symlinkSync('/', join(allowed, 'root'));
    symlinkSync('/var/run/docker.sock', join(allowed, 'dsock'));
    broker = await buildTestBroker(makeConfig(p, dir, { mountPrefixes: [allowed] }));
    docker = broker.docker;
  });

  afterAll(async () => {
    await broker?.close();
    await removeOwned([p.alice.name, p.bob.name, p.admin.name]);
    try {
      dockerCli(['rm', '-f', `${tag}-control`]);
    } catch {
      // absent
    }
    cleanupDir(dir);
  });

  const deploy = (token: string, body: unknown) =>
    broker.app.inject({ method: 'POST', url: '/v1/services', headers: auth(token), payload: body as object });
  const rawDeploy = (token: string, text: string, contentType = 'application/json') =>
    broker.app.inject({
      method: 'POST',
      url: '/v1/services',
      headers: { ...auth(token), 'content-type': contentType },
      payload: text,
    });

  describe('authentication', () => {
    it.each([
      ['no header', {}],
      ['wrong token', auth('not-a-token')],
      ['not bearer', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
      ['empty bearer', { authorization: 'Bearer ' }],
    ])('refuses %s with 401', async (_label, headers) => {
      const res = await broker.app.inject({
        method: 'POST',
        url: '/v1/services',
        headers,
        payload: { name: 'x', image: TEST_IMAGE },
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('DL_ERR_AUTH_UNAUTHENTICATED');
      expect(await ownedContainers(docker, p.alice.name)).toEqual([]);
    });

    it('keeps the audit log for admins', async () => {
      expect(
        (await broker.app.inject({ method: 'GET', url: '/v1/audit', headers: auth(p.alice.token) })).statusCode,
      ).toBe(403);
      const res = await broker.app.inject({ method: 'GET', url: '/v1/audit', headers: auth(p.admin.token) });
      expect(res.statusCode).toBe(200);
      expect(
        res
          .json()
          .entries.some(
            (e: { decision: string; reason: string }) =>
              e.decision === 'denied' && e.reason === 'DL_ERR_AUTH_UNAUTHENTICATED',
          ),
      ).toBe(true);
    });

    it('has no implicit HEAD routes that could skip the admin check', async () => {
      const res = await broker.app.inject({ method: 'HEAD', url: '/v1/audit', headers: auth(p.alice.token) });
      expect(res.statusCode).toBe(404);
    });

    it('answers /healthz without a token and unknown routes with 401 before 404', async () => {
      expect((await broker.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
      expect((await broker.app.inject({ method: 'GET', url: '/v1/secret' })).statusCode).toBe(401);
      expect(
        (await broker.app.inject({ method: 'GET', url: '/v1/secret', headers: auth(p.alice.token) })).statusCode,
      ).toBe(404);
    });
  });

  describe('bypass vectors are refused and nothing is created', () => {
    const base = { name: 'evil', image: TEST_IMAGE, command: ['sleep', '30'] };
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['privileged', { ...base, privileged: true }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['Privileged (Docker casing)', { ...base, Privileged: true }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['capability add', { ...base, capAdd: ['SYS_ADMIN'] }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['CapAdd', { ...base, CapAdd: ['ALL'] }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['raw HostConfig', { ...base, HostConfig: { Privileged: true } }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['pidMode host', { ...base, pidMode: 'host' }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['PidMode host', { ...base, PidMode: 'host' }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['networkMode host', { ...base, networkMode: 'host' }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['ipcMode host', { ...base, ipcMode: 'host' }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['utsMode host', { ...base, utsMode: 'host' }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['usernsMode host', { ...base, usernsMode: 'host' }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['cgroupnsMode host', { ...base, cgroupnsMode: 'host' }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['network host', { ...base, network: 'host' }, 400, 'DL_ERR_BROKER_INVALID_FIELD'],
      ['network container:', { ...base, network: 'container:abc' }, 400, 'DL_ERR_BROKER_INVALID_FIELD'],
      ['devices', { ...base, devices: ['/dev/kmsg'] }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['sysctls', { ...base, sysctls: { 'kernel.shm_rmid_forced': '1' } }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['cgroupParent', { ...base, cgroupParent: '/' }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['extraHosts', { ...base, extraHosts: ['x:1.2.3.4'] }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['securityOpt', { ...base, securityOpt: ['seccomp=unconfined'] }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['runtime runc', { ...base, runtime: 'runc' }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      ['owner label', { ...base, labels: { 'io.docklock.owner': p.bob.name } }, 400, 'DL_ERR_BROKER_UNKNOWN_FIELD'],
      [
        'unknown mount field',
        { ...base, mounts: [{ source: join(allowed, 'data'), target: '/data', propagation: 'shared' }] },
        400,
        'DL_ERR_BROKER_UNKNOWN_FIELD',
      ],
      [
        'docker.sock mount',
        { ...base, mounts: [{ source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] },
        403,
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      [
        '/run docker.sock mount',
        { ...base, mounts: [{ source: '/run/docker.sock', target: '/d' }] },
        403,
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      [
        'symlink to docker.sock',
        { ...base, mounts: [{ source: join(allowed, 'dsock'), target: '/d' }] },
        403,
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      [
        'host /etc mount',
        { ...base, mounts: [{ source: '/etc', target: '/etc-host' }] },
        403,
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      ['host / mount', { ...base, mounts: [{ source: '/', target: '/host' }] }, 403, 'DL_ERR_POLICY_MOUNT_NOT_ALLOWED'],
      [
        '.. traversal',
        { ...base, mounts: [{ source: `${allowed}/../outside`, target: '/o' }] },
        403,
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      [
        'symlink escaping the prefix',
        { ...base, mounts: [{ source: join(allowed, 'escape'), target: '/o' }] },
        403,
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      [
        'symlink to /',
        { ...base, mounts: [{ source: join(allowed, 'root'), target: '/o' }] },
        403,
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      [
        'look-alike prefix directory',
        { ...base, mounts: [{ source: `${allowed}-evil`, target: '/o' }] },
        403,
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      [
        'relative source',
        { ...base, mounts: [{ source: 'allowed/data', target: '/o' }] },
        403,
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      [
        'mount over /proc',
        { ...base, mounts: [{ source: join(allowed, 'data'), target: '/proc/x' }] },
        403,
        'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
      ],
      ['image off the allowlist', { ...base, image: 'busybox:latest' }, 403, 'DL_ERR_POLICY_IMAGE_NOT_ALLOWED'],
      [
        'look-alike image repository',
        { ...base, image: 'docklock-test/busybox-evil:latest' },
        403,
        'DL_ERR_POLICY_IMAGE_NOT_ALLOWED',
      ],
      ['image namespace only', { ...base, image: 'docklock-test:latest' }, 403, 'DL_ERR_POLICY_IMAGE_NOT_ALLOWED'],
      [
        'image below the allowed repository',
        { ...base, image: 'docklock-test/busybox/sub:latest' },
        403,
        'DL_ERR_POLICY_IMAGE_NOT_ALLOWED',
      ],
      [
        'other registry, same path',
        { ...base, image: 'ghcr.io/docklock-test/busybox:latest' },
        403,
        'DL_ERR_POLICY_IMAGE_NOT_ALLOWED',
      ],
      [
        'unpinned digest',
        { ...base, image: `docklock-test/busybox@sha256:${'0'.repeat(64)}` },
        403,
        'DL_ERR_POLICY_IMAGE_NOT_PINNED',
      ],
      ['unlimited memory 0', { ...base, memory: 0 }, 422, 'DL_ERR_POLICY_LIMIT_OUT_OF_RANGE'],
      ['unlimited memory -1', { ...base, memory: -1 }, 422, 'DL_ERR_POLICY_LIMIT_OUT_OF_RANGE'],
      ['unlimited pids -1', { ...base, pids: -1 }, 422, 'DL_ERR_POLICY_LIMIT_OUT_OF_RANGE'],
      ['unlimited pids 0', { ...base, pids: 0 }, 422, 'DL_ERR_POLICY_LIMIT_OUT_OF_RANGE'],
      ['unlimited cpus 0', { ...base, cpus: 0 }, 422, 'DL_ERR_POLICY_LIMIT_OUT_OF_RANGE'],
      ['memory above the maximum', { ...base, memory: 64 * 1024 ** 3 }, 422, 'DL_ERR_POLICY_LIMIT_OUT_OF_RANGE'],
      ['memory as a string', { ...base, memory: '1g' }, 400, 'DL_ERR_BROKER_INVALID_FIELD'],
      ['root user', { ...base, user: '0:0' }, 403, 'DL_ERR_POLICY_USER_NOT_ALLOWED'],
      ['named user', { ...base, user: 'root' }, 400, 'DL_ERR_BROKER_INVALID_FIELD'],
      [
        'ports without bridge',
        { ...base, ports: [{ container: 80, host: 18080 }] },
        403,
        'DL_ERR_POLICY_PORT_NOT_ALLOWED',
      ],
      [
        'privileged host port',
        { ...base, network: 'bridge', ports: [{ container: 80, host: 80 }] },
        403,
        'DL_ERR_POLICY_PORT_NOT_ALLOWED',
      ],
      [
        'container port published twice',
        {
          ...base,
          network: 'bridge',
          ports: [
            { container: 80, host: 18080 },
            { container: 80, host: 18081 },
          ],
        },
        403,
        'DL_ERR_POLICY_PORT_NOT_ALLOWED',
      ],
      [
        'host ip chosen by client',
        { ...base, network: 'bridge', ports: [{ container: 80, host: 18080, hostIp: '0.0.0.0' }] },
        400,
        'DL_ERR_BROKER_UNKNOWN_FIELD',
      ],
      ['name with a slash', { ...base, name: '../x' }, 400, 'DL_ERR_BROKER_INVALID_FIELD'],
      ['env name injection', { ...base, env: { 'A=B C': 'x' } }, 400, 'DL_ERR_BROKER_INVALID_FIELD'],
    ];
    it.each(cases)('%s', async (_label, body, status, code) => {
      const res = await deploy(p.alice.token, body);
      expect(res.statusCode).toBe(status);
      expect(res.json().error.code).toBe(code);
      expect(await ownedContainers(docker, p.alice.name)).toEqual([]);
    });

    const raw: [string, string, string][] = [
      ['duplicate key', `{"name":"evil","image":"${TEST_IMAGE}","image":"busybox"}`, 'DL_ERR_BROKER_DUPLICATE_KEY'],
      ['case variant key', `{"name":"evil","image":"${TEST_IMAGE}","Image":"busybox"}`, 'DL_ERR_BROKER_DUPLICATE_KEY'],
      [
        '"privileged " with a space',
        `{"name":"evil","image":"${TEST_IMAGE}","privileged ":true}`,
        'DL_ERR_BROKER_UNKNOWN_FIELD',
      ],
      ['"Name" instead of "name"', `{"Name":"evil","image":"${TEST_IMAGE}"}`, 'DL_ERR_BROKER_INVALID_FIELD'],
      [
        '__proto__',
        `{"name":"evil","image":"${TEST_IMAGE}","__proto__":{"privileged":true}}`,
        'DL_ERR_BROKER_MALFORMED_JSON',
      ],
      ['malformed JSON', `{"name":"evil",`, 'DL_ERR_BROKER_MALFORMED_JSON'],
      [
        'oversized body',
        JSON.stringify({ name: 'evil', image: TEST_IMAGE, command: ['x'.repeat(70_000)] }),
        'DL_ERR_BROKER_BODY_TOO_LARGE',
      ],
      ['not an object', '[]', 'DL_ERR_BROKER_INVALID_FIELD'],
    ];
    it.each(raw)('raw body: %s', async (_label, text, code) => {
      const res = await rawDeploy(p.alice.token, text);
      expect(res.statusCode).toBe(400);
      // "Name" is both unknown and a missing "name": either report is a refusal; pin the code we give.
      if (code === 'DL_ERR_BROKER_INVALID_FIELD' && text.includes('"Name"'))
        expect(['DL_ERR_BROKER_INVALID_FIELD', 'DL_ERR_BROKER_UNKNOWN_FIELD']).toContain(res.json().error.code);
      else expect(res.json().error.code).toBe(code);
      expect(await ownedContainers(docker, p.alice.name)).toEqual([]);
    });

    it('refuses a non-JSON content type and a query string', async () => {
      expect((await rawDeploy(p.alice.token, `{"name":"evil","image":"${TEST_IMAGE}"}`, 'text/plain')).statusCode).toBe(
        400,
      );
      const q = await broker.app.inject({
        method: 'POST',
        url: '/v1/services?privileged=true',
        headers: auth(p.alice.token),
        payload: { name: 'evil', image: TEST_IMAGE },
      });
      expect(q.statusCode).toBe(400);
      expect(q.json().error.code).toBe('DL_ERR_BROKER_UNKNOWN_FIELD');
      expect(await ownedContainers(docker, p.alice.name)).toEqual([]);
    });
  });

  describe('a deployed service', () => {
    let svc: ServiceView;

    beforeAll(async () => {
      // Checks run as the service's own process (docker exec'd processes are not seccomp-filtered by runsc), then it serves HTTP.
      const script = [
        'grep -E "^(Cap|Seccomp)" /proc/self/status',
        'id -u; id -g',
        'grep MemTotal /proc/meminfo',
        'unshare -U true; echo "unshare=$?"',
        'mount -t tmpfs none /tmp 2>&1; echo "mount=$?"',
        'touch /rootfs-write 2>&1; echo "rootfs=$?"',
        'echo hello > /tmp/index.html; echo "tmp=$?"',
        'printf "#!/bin/sh\\necho ran\\n" > /tmp/run.sh; chmod +x /tmp/run.sh; /tmp/run.sh; echo "noexec=$?"',
        'echo ready',
        'exec httpd -f -p 8080 -h /tmp',
      ].join('\n');
      const res = await deploy(p.alice.token, {
        name: 'web',
        image: TEST_IMAGE,
        command: ['sh', '-c', script],
        network: 'bridge',
        ports: [{ container: 8080, host: hostPort }],
        memory: 96 * 1024 * 1024,
        pids: 100,
        cpus: 0.5,
        env: { GREETING: 'hi' },
      });
      expect(res.statusCode, res.body).toBe(201);
      svc = res.json();
      for (let i = 0; i < 50; i++) {
        const logs = await broker.app.inject({
          method: 'GET',
          url: `/v1/services/${svc.id}/logs?tail=100`,
          headers: auth(p.alice.token),
        });
        if (logs.json().stdout.includes('ready')) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    });

    it('is created by the broker policy (docker inspect)', async () => {
      expect(svc).toMatchObject({
        name: 'web',
        owner: p.alice.name,
        state: 'running',
        network: 'bridge',
        user: '65534:65534',
        memory: 96 * 1024 * 1024,
        pids: 100,
        cpus: 0.5,
        ports: [{ container: 8080, host: hostPort }],
      });
      const info = await docker.getContainer(svc.id).inspect();
      const h = info.HostConfig;
      expect(h.Runtime).toBe('runsc');
      expect(h.Privileged).toBe(false);
      expect(h.CapDrop).toEqual(['ALL']);
      expect(h.CapAdd ?? []).toEqual([]);
      expect(h.SecurityOpt).toContain('no-new-privileges:true');
      expect(h.SecurityOpt).toContain(`seccomp=${seccompProfileJson()}`);
      expect(h.ReadonlyRootfs).toBe(true);
      expect(h.Tmpfs).toEqual({ '/tmp': expect.stringContaining('noexec') });
      expect(h.Memory).toBe(96 * 1024 * 1024);
      expect(h.MemorySwap).toBe(96 * 1024 * 1024);
      expect(h.NanoCpus).toBe(5e8);
      expect(h.PidsLimit).toBe(100);
      expect(h.NetworkMode).toBe(bridgeNetworkName(broker.config.instance, p.alice.name));
      expect(h.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(hostPort) }] });
      expect(h.PidMode ?? '').toBe('');
      expect(h.IpcMode).toBe('private');
      expect(h.UsernsMode ?? '').toBe('');
      expect(h.Devices ?? []).toEqual([]);
      expect(h.Binds ?? []).toEqual([]);
      expect(info.Config.User).toBe('65534:65534');
      expect(info.Config.Labels['io.docklock.owner']).toBe(p.alice.name);
      expect(info.Config.Env).toContain('GREETING=hi');
    });

    it('runs confined: no capabilities, seccomp on, non-root, read-only root, noexec /tmp, memory limit', async () => {
      const res = await broker.app.inject({
        method: 'GET',
        url: `/v1/services/web/logs?tail=100`,
        headers: auth(p.alice.token),
      });
      const out: string = res.json().stdout;
      expect(out).toMatch(/CapEff:\s+0000000000000000/);
      expect(out).toMatch(/CapBnd:\s+0000000000000000/);
      expect(out).toMatch(/Seccomp:\s+2/);
      expect(out).toContain('65534\n65534\n');
      expect(out).toMatch(/MemTotal:\s+98304 kB/);
      expect(out).toContain('unshare=1');
      expect(out).toContain('mount=1');
      expect(out).toContain('rootfs=1');
      expect(out).toContain('tmp=0');
      expect(out).not.toContain('\nran\n');
      expect(out).toContain('noexec=126');
      expect(res.json().stderr).toContain('unshare(0x10000000): Operation not permitted');
    });

    it('the unshare it refused works without the profile, so the profile is what blocks it', () => {
      const out = dockerCli([
        'run',
        '--rm',
        '--name',
        `${tag}-control`,
        '--runtime=runsc',
        '--security-opt',
        'seccomp=unconfined',
        '--user',
        '65534:65534',
        TEST_IMAGE,
        'sh',
        '-c',
        'unshare -U true; echo "unshare=$?"',
      ]);
      expect(out).toContain('unshare=0');
    });

    it('is reachable on its 127.0.0.1 port', async () => {
      // "ready" is printed just before httpd binds: poll until it answers.
      let body = '';
      for (let i = 0; i < 50 && body === ''; i++) {
        body = await fetch(`http://127.0.0.1:${hostPort}/index.html`).then(
          (r) => r.text(),
          () => '',
        );
        if (body === '') await new Promise((r) => setTimeout(r, 200));
      }
      expect(body).toBe('hello\n');
    });

    it('is listed and inspectable by its owner, by id and by name', async () => {
      const list = (
        await broker.app.inject({ method: 'GET', url: '/v1/services', headers: auth(p.alice.token) })
      ).json();
      expect(list.services.map((s: ServiceView) => s.id)).toEqual([svc.id]);
      const byName = await broker.app.inject({ method: 'GET', url: '/v1/services/web', headers: auth(p.alice.token) });
      expect(byName.json()).toEqual({ ...svc, state: 'running' });
      // The response schema is an allowlist: nothing from docker inspect beyond it.
      expect(Object.keys(byName.json()).sort()).toEqual([
        'cpus',
        'createdAt',
        'id',
        'image',
        'memory',
        'name',
        'network',
        'owner',
        'pids',
        'ports',
        'state',
        'user',
      ]);
    });

    it('is invisible to someone else: 404 for every operation, and it keeps running', async () => {
      for (const [method, url] of [
        ['GET', `/v1/services/${svc.id}`],
        ['GET', '/v1/services/web'],
        ['GET', `/v1/services/${svc.id}/logs`],
        ['POST', `/v1/services/${svc.id}/stop`],
        ['POST', `/v1/services/${svc.id}/pause`],
        ['DELETE', `/v1/services/${svc.id}`],
      ] as const) {
        const res = await broker.app.inject({ method, url, headers: auth(p.bob.token) });
        expect(res.statusCode, `${method} ${url}`).toBe(404);
        expect(res.json().error.code).toBe('DL_ERR_BROKER_NOT_FOUND');
      }
      expect(
        (await broker.app.inject({ method: 'GET', url: '/v1/services', headers: auth(p.bob.token) })).json(),
      ).toEqual({ services: [] });
      expect((await docker.getContainer(svc.id).inspect()).State.Status).toBe('running');
    });

    it('refuses a second service of the same name', async () => {
      const res = await deploy(p.alice.token, { name: 'web', image: TEST_IMAGE });
      expect(res.statusCode).toBe(409);
      expect(res.json().error.code).toBe('DL_ERR_BROKER_CONFLICT');
    });

    it('goes through its lifecycle', async () => {
      const act = async (action: string): Promise<string> => {
        const res = await broker.app.inject({
          method: 'POST',
          url: `/v1/services/${svc.id}/${action}`,
          headers: auth(p.alice.token),
        });
        expect(res.statusCode, action).toBe(200);
        return res.json().state;
      };
      expect(await act('pause')).toBe('paused');
      expect(await act('unpause')).toBe('running');
      expect(await act('stop')).toBe('exited');
      expect(await act('start')).toBe('running');
      expect(await act('restart')).toBe('running');
      const bad = await broker.app.inject({
        method: 'POST',
        url: `/v1/services/${svc.id}/kill`,
        headers: auth(p.alice.token),
      });
      expect(bad.statusCode).toBe(400);
      const body = await broker.app.inject({
        method: 'POST',
        url: `/v1/services/${svc.id}/stop`,
        headers: { ...auth(p.alice.token), 'content-type': 'application/json' },
        payload: '{"t":0}',
      });
      expect(body.json().error.code).toBe('DL_ERR_BROKER_UNEXPECTED_BODY');
    });

    it('is removed by its owner', async () => {
      const res = await broker.app.inject({
        method: 'DELETE',
        url: `/v1/services/${svc.id}`,
        headers: auth(p.alice.token),
      });
      expect(res.statusCode).toBe(200);
      expect(
        (await broker.app.inject({ method: 'GET', url: `/v1/services/${svc.id}`, headers: auth(p.alice.token) }))
          .statusCode,
      ).toBe(404);
      expect(await ownedContainers(docker, p.alice.name)).toEqual([]);
    });
  });

  describe('networks, mounts and quota', () => {
    it('"isolated" uses an internal network that goes away with the last service', async () => {
      const res = await deploy(p.alice.token, {
        name: 'iso',
        image: TEST_IMAGE,
        command: ['sleep', '60'],
        network: 'isolated',
      });
      expect(res.statusCode).toBe(201);
      const net = await docker.getNetwork(isolatedNetworkName(broker.config.instance, p.alice.name)).inspect();
      expect(net.Internal).toBe(true);
      expect((await docker.getContainer(res.json().id).inspect()).HostConfig.NetworkMode).toBe(
        isolatedNetworkName(broker.config.instance, p.alice.name),
      );
      await broker.app.inject({ method: 'DELETE', url: '/v1/services/iso', headers: auth(p.alice.token) });
      expect(
        (
          await docker.listNetworks({ filters: { name: [isolatedNetworkName(broker.config.instance, p.alice.name)] } })
        ).filter((n) => n.Name === isolatedNetworkName(broker.config.instance, p.alice.name)),
      ).toEqual([]);
    });

    it('mounts an allowed directory read-only by default', async () => {
      const script = 'cat /data/hello.txt; touch /data/new 2>&1; echo "write=$?"; echo done; sleep 60';
      const res = await deploy(p.alice.token, {
        name: 'mnt',
        image: TEST_IMAGE,
        command: ['sh', '-c', script],
        mounts: [{ source: join(allowed, 'data'), target: '/data' }],
      });
      expect(res.statusCode).toBe(201);
      const info = await docker.getContainer(res.json().id).inspect();
      expect(info.HostConfig.Mounts).toEqual([
        expect.objectContaining({ Type: 'bind', Source: join(allowed, 'data'), Target: '/data', ReadOnly: true }),
      ]);
      let out = '';
      for (let i = 0; i < 50 && !out.includes('done'); i++) {
        out = (
          await broker.app.inject({ method: 'GET', url: '/v1/services/mnt/logs', headers: auth(p.alice.token) })
        ).json().stdout;
        if (!out.includes('done')) await new Promise((r) => setTimeout(r, 200));
      }
      expect(out).toContain('from the host');
      expect(out).toMatch(/write=1/);
      await broker.app.inject({ method: 'DELETE', url: '/v1/services/mnt', headers: auth(p.alice.token) });
    });

    it('enforces the per-owner quota', async () => {
      const tight = await buildTestBroker({
        ...broker.config,
        auditPath: join(dir, 'quota-audit.jsonl'),
        policy: { ...broker.config.policy, quotaPerOwner: 1 },
      });
      try {
        const first = await tight.app.inject({
          method: 'POST',
          url: '/v1/services',
          headers: auth(p.bob.token),
          payload: { name: 'q1', image: TEST_IMAGE, command: ['sleep', '60'] },
        });
        expect(first.statusCode).toBe(201);
        const second = await tight.app.inject({
          method: 'POST',
          url: '/v1/services',
          headers: auth(p.bob.token),
          payload: { name: 'q2', image: TEST_IMAGE, command: ['sleep', '60'] },
        });
        expect(second.statusCode).toBe(409);
        expect(second.json().error.code).toBe('DL_ERR_POLICY_QUOTA_EXCEEDED');
        expect((await ownedContainers(docker, p.bob.name)).length).toBe(1);
      } finally {
        await tight.close();
      }
    });
  });

  describe('documents and audit', () => {
    it('serves an OpenAPI document generated from the validating schemas', async () => {
      const doc = (
        await broker.app.inject({ method: 'GET', url: '/v1/openapi.json', headers: auth(p.alice.token) })
      ).json();
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.paths['/v1/services'].post.requestBody.content['application/json'].schema).toEqual(
        JSON.parse(JSON.stringify(serviceCreateSchema)),
      );
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/v1/services/{id}',
          '/v1/services/{id}/{action}',
          '/v1/services/{id}/logs',
          '/v1/audit',
          '/healthz',
          '/metrics',
        ]),
      );
    });

    it("exposes Prometheus metrics to admins only (they name every owner's services)", async () => {
      const denied = await broker.app.inject({ method: 'GET', url: '/metrics', headers: auth(p.alice.token) });
      expect([denied.statusCode, denied.json().error.code]).toEqual([403, 'DL_ERR_AUTH_FORBIDDEN']);
      const res = await broker.app.inject({ method: 'GET', url: '/metrics', headers: auth(p.admin.token) });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('docklock_broker_requests_total');
      expect(res.body).toMatch(/docklock_broker_decisions_total\{decision="denied"\} [1-9]/);
    });

    it('recorded every decision in a chain that verifies', async () => {
      const entries = (
        await broker.app.inject({ method: 'GET', url: '/v1/audit?limit=100000', headers: auth(p.admin.token) })
      ).json().entries as { action: string; decision: string; reason: string; principal: string | null }[];
      expect(
        entries.some((e) => e.action === 'service.create' && e.decision === 'allowed' && e.principal === p.alice.name),
      ).toBe(true);
      expect(
        entries.some(
          (e) =>
            e.action === 'service.create' && e.decision === 'denied' && e.reason === 'DL_ERR_POLICY_MOUNT_NOT_ALLOWED',
        ),
      ).toBe(true);
      expect(
        entries.some(
          (e) => e.action === 'service.create' && e.decision === 'denied' && e.reason === 'DL_ERR_BROKER_DUPLICATE_KEY',
        ),
      ).toBe(true);
      expect(
        entries.some((e) => e.action === 'service.stop' && e.decision === 'denied' && e.principal === p.bob.name),
      ).toBe(true);
      expect(verifyAuditFile(broker.config.auditPath)).toMatchObject({ ok: true });
    });
  });
});
