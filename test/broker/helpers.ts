/**
 * Shared set-up for the broker's end-to-end tests: brings Docker up through scripts/docker-up.sh,
 * gives each test file unique principals (so parallel files never collide), builds their tokens and
 * pinned-image config, starts brokers, runs the CLI, and removes every broker, container, network
 * and temp file a test file made afterwards.
 */
import { execFileSync, spawn } from 'node:child_process';
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
import { startBroker } from '../../broker/server.ts';
import type { RunningBroker } from '../../broker/server.ts';
import { registerBrokerCommands } from '../../cli/broker/index.ts';
import { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';

export const TEST_IMAGE = 'docklock-test/busybox:latest';
export const TEST_REPOSITORY = 'docker.io/docklock-test/busybox';
const REPO_ROOT = new URL('../../', import.meta.url).pathname;
/** The real CLI entry point, for tests that run it as a child process. */
export const CLI = join(REPO_ROOT, 'cli/main.ts');

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

/** A principal: a name unique to its test file's tag, and a random token. */
export interface TestPrincipal {
  name: string;
  token: string;
}

export function makePrincipal(tag: string, who: string): TestPrincipal {
  return { name: `${tag}-${who}`, token: randomBytes(24).toString('hex') };
}

/** Principals (and their tokens) for one test file. */
export interface TestPrincipals {
  alice: TestPrincipal;
  bob: TestPrincipal;
  admin: TestPrincipal;
}

export function makePrincipals(tag: string): TestPrincipals {
  return { alice: makePrincipal(tag, 'alice'), bob: makePrincipal(tag, 'bob'), admin: makePrincipal(tag, 'admin') };
}

/** Config `tokens` entries for principals: only the token's SHA-256 is configured. */
export function tokenEntries(
  principals: TestPrincipal[],
  role: 'client' | 'admin' = 'client',
): { sha256: string; principal: string; role: 'client' | 'admin' }[] {
  return principals.map((p) => ({ sha256: hashToken(p.token), principal: p.name, role }));
}

/** Strict images: only the busybox test image, pinned by its ID. */
export function pinnedImages(): { strict: true; allow: { repository: string; digests: string[] }[] } {
  return { strict: true, allow: [{ repository: TEST_REPOSITORY, digests: [testImageId()] }] };
}

/** Memory and pids ranges of every test config: small services, room for the fork-storm test. */
export const TEST_LIMITS = {
  memory: { default: 64 * 1024 * 1024, min: 16 * 1024 * 1024, max: 512 * 1024 * 1024 },
  pids: { default: 128, min: 64, max: 512 },
} as const;

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
    // The limiter runs, but with room for the bursts of requests a policy test fires through
    // inject(); test/broker/rate-limit.test.ts sets a tight one.
    rateLimit: { burst: 10_000, perSecond: 1000 },
    // Each test file is its own broker instance: a reconcile in one never touches another's containers.
    instance: extra.instance ?? p.alice.name.split('-')[0]!,
    tokens: [...tokenEntries(extra.omitBob ? [p.alice] : [p.alice, p.bob]), ...tokenEntries([p.admin], 'admin')],
    policy: {
      images: pinnedImages(),
      mountPrefixes: extra.mountPrefixes ?? [],
      quotaPerOwner: extra.quota ?? 5,
      ...TEST_LIMITS,
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

/** One test file's broker fixtures; everything it made is removed by an `afterAll` it registers. */
export interface BrokerSuite {
  tag: string;
  /** alice, bob (clients) and admin, as `makeConfig` configures them. */
  p: TestPrincipals;
  /** A temp directory for sockets, audit logs and files, removed afterwards. */
  dir: string;
  /** Another principal under this file's tag, whose containers are removed afterwards too. */
  principal(who: string): TestPrincipal;
  /** Starts a broker on a real Unix socket (default config: `makeConfig(p, dir)`), closed afterwards unless stopped. */
  start(config?: BrokerConfig): Promise<RunningBroker>;
  /** Closes a broker `start` gave (a restart test's first life). */
  stop(broker: RunningBroker): Promise<void>;
}

/**
 * The set-up every end-to-end broker file repeats: a tag, principals, a temp directory, and
 * after the file its brokers closed, its principals' containers and networks removed, the directory
 * deleted. Call at the top of a `describe`.
 */
export function brokerSuite(): BrokerSuite {
  const tag = runTag();
  const p = makePrincipals(tag);
  const dir = tempDir(tag);
  const owners = [p.alice.name, p.bob.name, p.admin.name];
  const running = new Set<RunningBroker>();
  afterAll(async () => {
    for (const b of running) await b.close().catch(() => undefined);
    running.clear();
    await removeOwned(owners);
    cleanupDir(dir);
  });
  return {
    tag,
    p,
    dir,
    principal(who) {
      const made = makePrincipal(tag, who);
      owners.push(made.name);
      return made;
    },
    async start(config = makeConfig(p, dir)) {
      const b = await startBroker(config);
      running.add(b);
      return b;
    },
    async stop(broker) {
      running.delete(broker);
      await broker.close();
    },
  };
}

/**
 * One broker for the whole file, started in `beforeAll` (default config: `makeConfig`, then
 * `configure`); the getter gives it to the tests.
 */
export function sharedBroker(suite: BrokerSuite, configure?: (config: BrokerConfig) => void): () => RunningBroker {
  let broker: RunningBroker | undefined;
  beforeAll(async () => {
    const config = makeConfig(suite.p, suite.dir);
    configure?.(config);
    broker = await suite.start(config);
  });
  return () => {
    if (broker === undefined) throw new Error('the shared broker is not started (used outside a test?)');
    return broker;
  };
}

/** The environment the CLI reads: which broker, with whose token. */
export function cliEnv(broker: RunningBroker, token: string): Record<string, string> {
  return { DOCKLOCK_BROKER_SOCKET: broker.socket, DOCKLOCK_TOKEN: token };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** What commander threw (usage errors), in process only. */
  error?: unknown;
}

/**
 * Runs `docklock <args>` in this process, through commander exactly as cli/main.ts registers the
 * broker commands, with `env` added to the environment, and captures its output.
 */
export async function cliInProcess(args: string[], env: Record<string, string>): Promise<CliResult> {
  const program = new Command('docklock').exitOverride();
  registerBrokerCommands(program);
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  const saved = { ...process.env };
  Object.assign(process.env, env);
  process.stdout.write = ((c: string) => ((stdout += c), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string) => ((stderr += c), true)) as typeof process.stderr.write;
  process.exitCode = 0;
  try {
    await program.parseAsync(['node', 'docklock', ...args]);
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } catch (error) {
    return { code: 1, stdout, stderr, error };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.env = saved;
    process.exitCode = 0;
  }
}

/**
 * Runs the real CLI as a child process (only PATH and `env` in its environment), without blocking
 * this process, whose event loop serves the broker.
 */
export function cliChild(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end();
  });
}
