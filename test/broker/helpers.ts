/**
 * Shared set-up for the broker's end-to-end tests: brings Docker up through scripts/docker-up.sh,
 * gives each test file unique principals (so parallel files never collide) and removes every
 * container and network those principals own afterwards.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import Docker from 'dockerode';
import { AuditLog } from '../../broker/audit.ts';
import { hashToken } from '../../broker/auth.ts';
import { buildBrokerApp } from '../../broker/app.ts';
import { parseBrokerConfig } from '../../broker/config.ts';
import type { BrokerConfig } from '../../broker/config.ts';
import { connectDocker } from '../../broker/docker.ts';
import { LABEL_MANAGED, LABEL_OWNER } from '../../broker/labels.ts';
import { ServiceManager } from '../../broker/services.ts';
import type { FastifyInstance } from 'fastify';

export const TEST_IMAGE = 'docklock-test/busybox:latest';
export const TEST_REPOSITORY = 'docker.io/docklock-test/busybox';
const REPO_ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Makes sure the engine is up. With CI=true a failure throws (the e2e tests must run); otherwise
 * it returns false so the suite can skip on a machine without Docker.
 */
export function dockerReady(): boolean {
  try {
    execFileSync('bash', [join(REPO_ROOT, 'scripts/docker-up.sh')], { stdio: 'pipe', timeout: 600_000 });
    return true;
  } catch (err) {
    if (process.env.CI === 'true')
      throw new Error(
        `docker-up.sh failed under CI: ${(err as { stderr?: Buffer }).stderr?.toString() ?? String(err)}`,
      );
    return false;
  }
}

/** Runs the Debian docker client (never /usr/local/bin/docker, which may be another version). */
export function dockerCli(args: string[]): string {
  return execFileSync('/usr/bin/docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** The test image's ID, for digest pinning. */
export function testImageId(): string {
  return dockerCli(['image', 'inspect', '-f', '{{.Id}}', TEST_IMAGE]);
}

/** A unique lowercase tag for this test run and file. */
export function runTag(): string {
  return 't' + randomBytes(4).toString('hex');
}

/** Principals (and their tokens) for one test file. */
export interface TestPrincipals {
  alice: { name: string; token: string };
  bob: { name: string; token: string };
  admin: { name: string; token: string };
}

export function makePrincipals(tag: string): TestPrincipals {
  const mk = (who: string): { name: string; token: string } => ({
    name: `${tag}-${who}`,
    token: randomBytes(24).toString('hex'),
  });
  return { alice: mk('alice'), bob: mk('bob'), admin: mk('admin') };
}

/** A config for tests: strict, the busybox image pinned by ID, a temp audit log and socket. */
export function makeConfig(
  p: TestPrincipals,
  dir: string,
  extra: { mountPrefixes?: string[]; quota?: number; omitBob?: boolean; instance?: string } = {},
): BrokerConfig {
  return parseBrokerConfig({
    socket: join(dir, 'broker.sock'),
    auditPath: join(dir, 'audit.jsonl'),
    // Request lines at info would bury the test output; 5xx are logged at error and stay visible.
    log: { level: 'warn' },
    // Each test file is its own broker instance: a reconcile in one never touches another's containers.
    instance: extra.instance ?? p.alice.name.split('-')[0]!,
    tokens: [
      { sha256: hashToken(p.alice.token), principal: p.alice.name, role: 'client' },
      ...(extra.omitBob ? [] : [{ sha256: hashToken(p.bob.token), principal: p.bob.name, role: 'client' }]),
      { sha256: hashToken(p.admin.token), principal: p.admin.name, role: 'admin' },
    ],
    policy: {
      images: { strict: true, allow: [{ repository: TEST_REPOSITORY, digests: [testImageId()] }] },
      mountPrefixes: extra.mountPrefixes ?? [],
      quotaPerOwner: extra.quota ?? 5,
      memory: { default: 64 * 1024 * 1024, min: 16 * 1024 * 1024, max: 512 * 1024 * 1024 },
      pids: { default: 128, min: 64, max: 512 },
      cpus: { default: 0.5, min: 0.1, max: 2 },
    },
  });
}

/** A temp directory removed by `cleanupDir`. */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `docklock-broker-${tag}-`));
}

export function cleanupDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** An app under test with its parts. */
export interface TestBroker {
  app: FastifyInstance;
  audit: AuditLog;
  docker: Docker;
  config: BrokerConfig;
  close(): Promise<void>;
}

export async function buildTestBroker(config: BrokerConfig, logStream?: Writable): Promise<TestBroker> {
  const { docker, apiVersion } = await connectDocker(config.dockerSocket);
  const audit = await AuditLog.open(config.auditPath);
  const app = await buildBrokerApp({
    config,
    services: new ServiceManager(docker, apiVersion, config, audit),
    audit,
    ...(logStream !== undefined ? { logStream } : {}),
  });
  return {
    app,
    audit,
    docker,
    config,
    async close() {
      await app.close();
      await audit.close();
    },
  };
}

/** Containers the broker manages for an owner. */
export async function ownedContainers(docker: Docker, owner: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}`, `${LABEL_OWNER}=${owner}`] } });
}

/** Removes every container and network labelled with one of these owners. Never throws. */
export async function removeOwned(owners: string[]): Promise<void> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  for (const owner of owners) {
    try {
      const cs = await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner}`] } });
      for (const c of cs)
        await docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined);
      const ns = await docker.listNetworks({ filters: { label: [`${LABEL_OWNER}=${owner}`] } });
      for (const n of ns)
        await docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => undefined);
    } catch {
      // cleanup is best effort; a leak shows in the next run's listing
    }
  }
}

/** Bearer header for a token. */
export function auth(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
