/**
 * Restarting the broker over a real Unix socket: it adopts its own services, removes containers of
 * owners no longer configured and containers that drifted from policy, and audits each decision.
 */
import { statSync } from 'node:fs';
import type Docker from 'dockerode';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditFile } from '../../broker/audit.ts';
import { BrokerClient } from '../../broker/client.ts';
import { buildCreateBody } from '../../broker/create-body.ts';
import { connectDocker } from '../../broker/docker.ts';
import type { RunningBroker } from '../../broker/server.ts';
import { TEST_IMAGE, brokerSuite, dockerReady, makeConfig, testImageId } from './helpers.ts';

const ready = dockerReady();

describe.skipIf(!ready)('broker restart and reconciliation (real Unix socket)', () => {
  const suite = brokerSuite();
  const { p, dir } = suite;
  let second: RunningBroker | undefined;
  let docker: Docker;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    docker = (await connectDocker('/var/run/docker.sock')).docker;
    const first = await suite.start();
    const alice = new BrokerClient({ socketPath: first.socket, token: p.alice.token });
    const bob = new BrokerClient({ socketPath: first.socket, token: p.bob.token });
    ids.keep = (await alice.deploy({ name: 'keep', image: TEST_IMAGE, command: ['sleep', '120'] })).id;
    ids.orphan = (await bob.deploy({ name: 'orphan', image: TEST_IMAGE, command: ['sleep', '120'] })).id;
    // A container with the broker's labels but not the broker's policy (runc): must not be adopted.
    const drifted = buildCreateBody({
      instance: first.config.instance,
      owner: p.alice.name,
      name: 'drift',
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
      apiVersion: '1.41',
      runtime: 'runc',
    });
    ids.drift = (await docker.createContainer(drifted)).id;
    await suite.stop(first);
    second = await suite.start(makeConfig(p, dir, { omitBob: true }));
  });

  it('binds its socket with mode 0660', () => {
    expect(statSync(second!.socket).mode & 0o777).toBe(0o660);
  });

  it('adopts its own service of a configured owner', async () => {
    expect(second!.reconcile.adopted).toContain(ids.keep);
    const alice = new BrokerClient({ socketPath: second!.socket, token: p.alice.token });
    expect(await alice.inspect('keep')).toMatchObject({ id: ids.keep, state: 'running', owner: p.alice.name });
    expect((await alice.list()).map((s) => s.name)).toEqual(['keep']);
  });

  it('removes the orphan of an owner no longer configured, and the drifted container', async () => {
    expect(second!.reconcile.removed).toEqual(expect.arrayContaining([ids.orphan, ids.drift]));
    for (const id of [ids.orphan!, ids.drift!])
      await expect(docker.getContainer(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("the removed owner's token no longer works", async () => {
    const bob = new BrokerClient({ socketPath: second!.socket, token: p.bob.token });
    await expect(bob.list()).rejects.toMatchObject({ code: 'DL_ERR_AUTH_UNAUTHENTICATED', statusCode: 401 });
  });

  it('audits what it did, in the same verified chain across restarts', async () => {
    const admin = new BrokerClient({ socketPath: second!.socket, token: p.admin.token });
    const { entries } = await admin.audit();
    const rec = entries.filter((e) => e.action.startsWith('reconcile.'));
    expect(rec).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'reconcile.adopt', target: ids.keep }),
        expect.objectContaining({
          action: 'reconcile.remove',
          target: ids.orphan,
          reason: expect.stringContaining('not configured'),
        }),
        expect.objectContaining({
          action: 'reconcile.remove',
          target: ids.drift,
          reason: expect.stringContaining('drifted'),
        }),
      ]),
    );
    expect(entries.filter((e) => e.action === 'broker.start').length).toBe(2);
    expect(verifyAuditFile(second!.audit.path)).toMatchObject({ ok: true });
  });
});
