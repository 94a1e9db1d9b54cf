/**
 * Restarts and neighbours, against the real engine: a broker SIGKILLed between Docker's create
 * and the audit outcome leaves an intent that the next start reconciles; earlier versions'
 * container names are adopted under the injective name; two brokers (two instance ids) on one
 * engine never touch each other's containers.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../broker/audit.ts';
import { verifyAuditFile } from '../../broker/audit.ts';
import { DockerInventory } from '../../broker/breaker/sources.ts';
import { BrokerClient } from '../../broker/client.ts';
import { parseBrokerConfig } from '../../broker/config.ts';
import type { BrokerConfig } from '../../broker/config.ts';
import { buildCreateBody } from '../../broker/create-body.ts';
import { connectDocker } from '../../broker/docker.ts';
import { legacyContainerName } from '../../broker/labels.ts';
import {
  CLI,
  TEST_IMAGE,
  TEST_LIMITS,
  brokerSuite,
  dockerReady,
  pinnedImages,
  testImageId,
  tokenEntries,
} from './helpers.ts';
import type { TestPrincipal } from './helpers.ts';

const ready = dockerReady();

/** A config of its own for each broker instance: its socket, audit log and client principals. */
function configFor(
  dir: string,
  instance: string,
  principals: TestPrincipal[],
  dockerSocket = '/var/run/docker.sock',
): Record<string, unknown> {
  return {
    socket: join(dir, `${instance}.sock`),
    auditPath: join(dir, `${instance}.jsonl`),
    dockerSocket,
    instance,
    log: { level: 'warn' },
    tokens: tokenEntries(principals),
    policy: { images: pinnedImages(), ...TEST_LIMITS },
  };
}

/**
 * A Docker socket proxy that forwards everything to the real engine except a container start,
 * which it holds (never forwards) and reports: the broker is then exactly between Docker's create
 * and its audit outcome, and the test can kill it there.
 */
function holdingProxy(path: string): { server: Server; held: Promise<void> } {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const server = createServer((client: Socket) => {
    const upstream = createConnection('/var/run/docker.sock');
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      if (/^POST \/v[0-9.]+\/containers\/[0-9a-f]{64}\/start/m.test(chunk.toString('latin1'))) return release();
      upstream.write(chunk);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  server.listen(path);
  return { server, held };
}

describe.skipIf(!ready)('broker restarts and neighbours', () => {
  const suite = brokerSuite();
  const { tag, dir } = suite;
  const { alice, bob } = suite.p;
  let child: ChildProcess | undefined;
  let proxy: Server | undefined;

  // Runs before the suite's own clean-up (after-hooks run last registered first).
  afterAll(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    proxy?.close();
  });

  it('a broker killed between create and the audit outcome: the next start removes what it created, audited', async () => {
    const instance = `${tag}k`;
    const proxySock = join(dir, 'docker-proxy.sock');
    const p = holdingProxy(proxySock);
    proxy = p.server;
    const cfgPath = join(dir, 'kill.yaml');
    writeFileSync(cfgPath, JSON.stringify(configFor(dir, instance, [alice], proxySock)));
    child = spawn(process.execPath, [CLI, 'broker', 'serve', '-c', cfgPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    for (let i = 0; i < 300 && !err.includes('listening on'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(err).toContain('listening on');

    const client = new BrokerClient({ socketPath: join(dir, `${instance}.sock`), token: alice.token });
    const answer = client.deploy({ name: 'web', image: TEST_IMAGE, command: ['sleep', '120'] }).then(
      () => 'answered',
      (e: { code?: string }) => e.code,
    );
    await p.held;
    const { docker } = await connectDocker('/var/run/docker.sock');
    const name = `docklock.${instance}.${alice.name}.web`;
    const created = await docker.getContainer(name).inspect();
    expect(created.State.Status).toBe('created');
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    expect(await answer).toBe('DL_ERR_BROKER_UNREACHABLE');

    const before = readFileSync(join(dir, `${instance}.jsonl`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { entry: AuditEntry }).entry);
    const intent = before.find((e) => e.action === 'service.create.intent');
    expect(intent).toMatchObject({ target: name, principal: alice.name });
    expect(before.filter((e) => e.requestId === intent!.requestId).map((e) => e.action)).toEqual([
      'service.create.intent',
    ]);

    const restarted = await suite.start(parseBrokerConfig(configFor(dir, instance, [alice])));
    expect(restarted.reconcile.unfinished).toEqual([intent!.requestId]);
    expect(restarted.reconcile.removed).toContain(created.Id);
    await expect(docker.getContainer(created.Id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const after = await restarted.audit.entries();
    expect(after.find((e) => e.action === 'reconcile.unfinished')).toMatchObject({
      requestId: intent!.requestId,
      target: name,
      reason: expect.stringContaining(`removed container ${created.Id}`),
    });
    expect(verifyAuditFile(join(dir, `${instance}.jsonl`))).toMatchObject({ ok: true });
    // A second start finds nothing left to do.
    await suite.stop(restarted);
    const third = await suite.start(parseBrokerConfig(configFor(dir, instance, [alice])));
    expect(third.reconcile.unfinished).toEqual([]);
  });

  it('adopts a container an earlier version named docklock-<owner>-<service> under the injective name', async () => {
    const instance = `${tag}l`;
    const { docker, apiVersion } = await connectDocker('/var/run/docker.sock');
    const body = buildCreateBody({
      instance,
      owner: alice.name,
      name: 'old',
      imageRef: TEST_IMAGE,
      imageId: testImageId(),
      command: ['sleep', '120'],
      env: undefined,
      user: '65534:65534',
      limits: { memoryBytes: 64 * 1024 * 1024, nanoCpus: 5e8, pids: 128 },
      network: 'none',
      mounts: [],
      ports: [],
      tmpfsBytes: 1024 * 1024,
      apiVersion,
    });
    body.name = legacyContainerName(alice.name, 'old');
    const legacy = await docker.createContainer(body);
    await legacy.start();
    const b = await suite.start(parseBrokerConfig(configFor(dir, instance, [alice])));
    expect(b.reconcile.adopted).toContain(legacy.id);
    expect(b.reconcile.renamed).toEqual([legacy.id]);
    expect((await legacy.inspect()).Name).toBe(`/docklock.${instance}.${alice.name}.old`);
    const client = new BrokerClient({ socketPath: b.socket, token: alice.token });
    expect(await client.inspect('old')).toMatchObject({ id: legacy.id, state: 'running' });
    expect((await b.audit.entries()).find((e) => e.action === 'reconcile.rename')).toMatchObject({
      target: legacy.id,
      reason: `${legacyContainerName(alice.name, 'old')} -> docklock.${instance}.${alice.name}.old`,
    });
  });

  it('two brokers on one engine: same owner and service names, each sees, reconciles and watches only its own', async () => {
    const configA: BrokerConfig = parseBrokerConfig(configFor(dir, `${tag}a`, [alice]));
    const configB: BrokerConfig = parseBrokerConfig(configFor(dir, `${tag}b`, [alice, bob]));
    const a = await suite.start(configA);
    let b = await suite.start(configB);
    const ca = new BrokerClient({ socketPath: a.socket, token: alice.token });
    const cb = new BrokerClient({ socketPath: b.socket, token: alice.token });
    const wa = await ca.deploy({ name: 'web', image: TEST_IMAGE, command: ['sleep', '120'] });
    const wb = await cb.deploy({ name: 'web', image: TEST_IMAGE, command: ['sleep', '120'] });
    expect(wa.id).not.toBe(wb.id);
    expect((await ca.list()).map((s) => s.id)).toEqual([wa.id]);
    expect((await cb.list()).map((s) => s.id)).toEqual([wb.id]);
    await expect(cb.inspect(wa.id)).rejects.toMatchObject({ code: 'DL_ERR_BROKER_NOT_FOUND' });
    const { docker } = await connectDocker('/var/run/docker.sock');
    // B's breaker inventory lists B's container and never A's.
    const watched = (await new DockerInventory(docker, Date.now, configB.instance).list()).map((s) => s.id);
    expect(watched).toContain(wb.id);
    expect(watched).not.toContain(wa.id);
    // B restarts without alice: it removes its own alice container; A's keeps running.
    await suite.stop(b);
    b = await suite.start(parseBrokerConfig(configFor(dir, `${tag}b`, [bob])));
    expect(b.reconcile.removed).toEqual([wb.id]);
    expect((await docker.getContainer(wa.id).inspect()).State.Status).toBe('running');
    expect((await ca.inspect('web')).state).toBe('running');
  });
});
