/**
 * Broker benchmark: deploy-to-running latency through the broker (real Unix socket, auth, strict
 * parsing, policy, fsync'd audit) against calling Docker directly with the same create body, for
 * runsc and runc, measured side by side in one run (iterations interleaved so drift hits all
 * three equally). Prints p50/p95 and the broker's added latency (median of paired differences).
 *
 * Run: npm run bench:broker   (needs Docker + runsc: bash scripts/docker-up.sh)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashToken } from '../broker/auth.ts';
import { BrokerClient } from '../broker/client.ts';
import { parseBrokerConfig } from '../broker/config.ts';
import { buildCreateBody } from '../broker/create-body.ts';
import { connectDocker } from '../broker/docker.ts';
import { LABEL_OWNER } from '../broker/labels.ts';
import { buildBrokerApp } from '../broker/app.ts';
import { AuditLog } from '../broker/audit.ts';
import { ServiceManager } from '../broker/services.ts';

const ITERATIONS = Number(process.env.DOCKLOCK_BENCH_ITERATIONS ?? 12);
const IMAGE = 'docklock-test/busybox:latest';
const MiB = 1024 * 1024;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const ms = (x: number): string => `${x.toFixed(1)} ms`;

execFileSync('bash', [new URL('../scripts/docker-up.sh', import.meta.url).pathname], { stdio: 'inherit' });
const imageId = execFileSync('/usr/bin/docker', ['image', 'inspect', '-f', '{{.Id}}', IMAGE], {
  encoding: 'utf8',
}).trim();
const dir = mkdtempSync(join(tmpdir(), 'docklock-bench-'));
const owner = `bench${randomBytes(3).toString('hex')}`;
const token = randomBytes(24).toString('hex');
const config = parseBrokerConfig({
  socket: join(dir, 'broker.sock'),
  auditPath: join(dir, 'audit.jsonl'),
  tokens: [{ sha256: hashToken(token), principal: owner, role: 'client' }],
  policy: {
    images: { strict: true, allow: [{ repository: 'docker.io/docklock-test/busybox', digests: [imageId] }] },
    quotaPerOwner: 100,
  },
});
const { docker, apiVersion } = await connectDocker(config.dockerSocket);

// The broker gets its own client whose every Engine call is timed at the modem, so each deploy's
// own create + start time can be subtracted from its end-to-end time: the difference is what the
// broker adds, free of runsc's start-up variance (which swamps a comparison of two separate runs).
const brokerDocker = (await connectDocker(config.dockerSocket)).docker;
interface Dial {
  dial(options: { path?: string; method?: string }, cb: (err: unknown, data: unknown) => void): void;
}
const modem = brokerDocker.modem as unknown as Dial;
const originalDial = modem.dial.bind(modem);
let createStartMs = 0;
let otherDockerMs = 0;
modem.dial = (options, cb) => {
  const t0 = performance.now();
  const isCreateOrStart =
    options.method === 'POST' && /\/containers\/(create|[0-9a-f]+\/start)/.test(options.path ?? '');
  originalDial(options, (err, data) => {
    if (isCreateOrStart) createStartMs += performance.now() - t0;
    else otherDockerMs += performance.now() - t0;
    cb(err, data);
  });
};
const audit = await AuditLog.open(config.auditPath);
const app = await buildBrokerApp({
  config,
  services: new ServiceManager(brokerDocker, apiVersion, config, audit),
  audit,
});
await app.listen({ path: config.socket });
const broker = {
  async close() {
    await app.close();
    await audit.close();
  },
};
const client = new BrokerClient({ socketPath: config.socket, token });

const command = ['sleep', '300'];
const direct = async (runtime: 'runsc' | 'runc', name: string): Promise<number> => {
  const body = buildCreateBody({
    instance: config.instance,
    owner,
    name,
    imageRef: IMAGE,
    imageId,
    command,
    env: undefined,
    user: config.policy.defaultUser,
    limits: {
      memoryBytes: config.policy.memory.default,
      nanoCpus: Math.round(config.policy.cpus.default * 1e9),
      pids: config.policy.pids.default,
    },
    network: 'none',
    mounts: [],
    ports: [],
    tmpfsBytes: config.policy.tmpfsBytes,
    apiVersion,
    runtime,
  });
  const t0 = performance.now();
  const c = await docker.createContainer(body);
  await c.start();
  const dt = performance.now() - t0;
  await c.remove({ force: true });
  return dt;
};
const ownTime = { added: [] as number[], extraDocker: [] as number[] };
const viaBroker = async (name: string): Promise<number> => {
  createStartMs = 0;
  otherDockerMs = 0;
  const t0 = performance.now();
  const svc = await client.deploy({ name, image: IMAGE, command });
  const dt = performance.now() - t0;
  ownTime.added.push(dt - createStartMs);
  ownTime.extraDocker.push(otherDockerMs);
  if (svc.state !== 'running') throw new Error(`service ${name} is ${svc.state}, expected running`);
  await client.remove(svc.id);
  return dt;
};

const results = { broker: [] as number[], runsc: [] as number[], runc: [] as number[] };
try {
  // One warm-up of each path (image layers, first sandbox) is not counted.
  await viaBroker('warm-b');
  ownTime.added.length = 0;
  ownTime.extraDocker.length = 0;
  await direct('runsc', 'warm-s');
  await direct('runc', 'warm-c');
  for (let i = 0; i < ITERATIONS; i++) {
    results.broker.push(await viaBroker(`b${i}`));
    results.runsc.push(await direct('runsc', `s${i}`));
    results.runc.push(await direct('runc', `c${i}`));
  }
} finally {
  await broker.close();
  for (const c of await docker.listContainers({ all: true, filters: { label: [`${LABEL_OWNER}=${owner}`] } }))
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}

const paired = results.broker.map((b, i) => b - results.runsc[i]!);
const cpuModel =
  /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
const dockerVersion = execFileSync('/usr/bin/docker', ['version', '--format', '{{.Server.Version}}'], {
  encoding: 'utf8',
}).trim();
const lines = [
  `deploy-to-running, ${ITERATIONS} deploys each (create + start; busybox \`sleep\`, network none):`,
  `  broker (runsc)  p50 ${ms(pct(results.broker, 50))}  p95 ${ms(pct(results.broker, 95))}`,
  `  docker  runsc   p50 ${ms(pct(results.runsc, 50))}  p95 ${ms(pct(results.runsc, 95))}`,
  `  docker  runc    p50 ${ms(pct(results.runc, 50))}  p95 ${ms(pct(results.runc, 95))}`,
  `  broker added latency (end-to-end minus the same request's own Docker create + start): p50 ${ms(pct(ownTime.added, 50))}  p95 ${ms(pct(ownTime.added, 95))}  (target <= 10 ms p50)`,
  `    of which further Docker calls (quota list, image inspect, final inspect): p50 ${ms(pct(ownTime.extraDocker, 50))}`,
  `  paired difference broker - direct runsc per iteration (noisy: two separate sandbox starts): p50 ${ms(pct(paired, 50))}`,
  `  runsc / runc start ratio (p50): ${(pct(results.runsc, 50) / pct(results.runc, 50)).toFixed(2)}x`,
  `machine: nproc ${cpus().length}, ${cpuModel}, Node ${process.version}, Docker Engine ${dockerVersion} (API ${apiVersion})`,
];
process.stdout.write(lines.join('\n') + '\n');
