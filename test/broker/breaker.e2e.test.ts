/**
 * The circuit breaker on the real engine under gVisor: a broker started with `startBroker` and
 * the breaker enabled (enforce mode, 500 ms interval) watches three services deployed through its
 * API: a busybox fork storm (killed), a memory hog filling its tmpfs (stopped) and a quiet
 * service (never touched). Owners see only their own history; the CLI prints it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditFile } from '../../broker/audit.ts';
import { parseBreakerConfig } from '../../broker/breaker/config.ts';
import type { BreakerEvent } from '../../broker/breaker/history.ts';
import { BrokerClient } from '../../broker/client.ts';
import type { RunningBroker } from '../../broker/server.ts';
import { TEST_IMAGE, brokerSuite, cliEnv, cliInProcess, dockerReady, makeConfig } from './helpers.ts';

const ready = dockerReady();
const MiB = 1024 * 1024;

/** Runs `docklock <args>` in-process; its stdout, having succeeded. */
async function docklock(args: string[], env: Record<string, string>): Promise<string> {
  const r = await cliInProcess(args, env);
  if (r.error !== undefined) throw r.error;
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(!ready)('circuit breaker against Docker + gVisor', () => {
  const suite = brokerSuite();
  const { p, dir } = suite;
  let broker: RunningBroker;
  let alice: BrokerClient;
  let bob: BrokerClient;
  let admin: BrokerClient;

  beforeAll(async () => {
    const config = makeConfig(p, dir);
    config.breaker = parseBreakerConfig({
      enabled: true,
      mode: 'enforce',
      interval: '500ms',
      grace: '1s',
      cooldown: '60s',
      maxActionsPerHour: { perService: 2, total: 10 },
      rules: {
        fork_storm: { when: 'pids_per_sec > 50 for 1s', action: 'kill' },
        memory_hog: { when: 'memory > 70% for 1s', action: 'stop' },
        // Holds only where per-service PSI exists; never true on a host without it.
        memory_thrash: { when: 'memory > 90% and memory.pressure.full.avg10 > 30 for 2s', action: 'restart' },
      },
    });
    broker = await suite.start(config);
    alice = new BrokerClient({ socketPath: config.socket, token: p.alice.token });
    bob = new BrokerClient({ socketPath: config.socket, token: p.bob.token });
    admin = new BrokerClient({ socketPath: config.socket, token: p.admin.token });
    // Bounded in time and size: 400 iterations at most, PID limit 512, children exit after 30 s,
    // tmpfs 64 MiB; brokerSuite's afterAll removes every container.
    // Under runsc each guest task costs the sandbox several host threads: this loop grows the
    // cgroup's task count by ~160/s and reaches the 512 limit in ~3 s (then the sandbox dies).
    const storm = 'sleep 2; i=0; while [ $i -lt 400 ]; do sleep 30 & sleep 30 & i=$((i+1)); sleep 0.1; done; sleep 60';
    const hog = 'sleep 2; cat /dev/zero > /tmp/fill; sleep 60';
    const specs: [BrokerClient, string, string, number, number][] = [
      [alice, 'quiet', 'sleep 120', 64 * MiB, 128],
      [alice, 'storm', storm, 256 * MiB, 512],
      [bob, 'hog', hog, 96 * MiB, 128],
    ];
    await Promise.all(
      specs.map(async ([c, name, cmd, memory, pids]) => {
        const v = await c.deploy({ name, image: TEST_IMAGE, command: ['sh', '-c', cmd], memory, pids });
        expect(v.state).toBe('running');
      }),
    );
  }, 120_000);

  const acted = (c: BrokerClient, service: string) => async (): Promise<BreakerEvent | undefined> =>
    (await c.breakerHistory({ service })).events.find((e) => e.outcome === 'acted');

  it('kills the fork storm within the configured time', async () => {
    const e = await waitFor('the fork storm action', 20_000, acted(alice, 'storm'));
    expect(e).toMatchObject({ rule: 'fork_storm', action: 'kill', owner: p.alice.name, reason: 'ok', mode: 'enforce' });
    expect(e.signals.pids_per_sec).toBeGreaterThan(50);
    // Acted on evidence held for the rule's whole duration. How fast is bench:breaker's
    // question: a test on a shared machine asserts no timing.
    expect(e.heldMs).toBeGreaterThanOrEqual(1000);
    await waitFor('the storm container to exit', 10_000, async () =>
      (await alice.inspect('storm')).state === 'exited' ? true : undefined,
    );
  });

  it('stops the memory hog within the configured time', async () => {
    const e = await waitFor('the memory hog action', 20_000, acted(bob, 'hog'));
    expect(e).toMatchObject({ rule: 'memory_hog', action: 'stop', owner: p.bob.name });
    expect(e.signals.memory).toBeGreaterThan(70);
    expect(e.heldMs).toBeGreaterThanOrEqual(1000);
    await waitFor('the hog container to stop', 15_000, async () =>
      (await bob.inspect('hog')).state === 'exited' ? true : undefined,
    );
  });

  it('never touches the quiet service', async () => {
    expect((await alice.inspect('quiet')).state).toBe('running');
    expect((await admin.breakerHistory({ limit: 1000 })).events.filter((e) => e.service === 'quiet')).toEqual([]);
  });

  it('shows owners their own history and admins everything; metrics and audit carry it', async () => {
    const mine = await alice.breakerHistory();
    expect(mine.enabled).toBe(true);
    expect(mine.events.length).toBeGreaterThan(0);
    expect(mine.events.every((e) => e.owner === p.alice.name)).toBe(true);
    expect((await bob.breakerHistory({ service: 'storm' })).events).toEqual([]);
    const all = (await admin.breakerHistory()).events;
    expect(new Set(all.filter((e) => e.outcome === 'acted').map((e) => e.service))).toEqual(new Set(['storm', 'hog']));
    const metrics = await admin.metrics();
    expect(metrics).toMatch(/docklock_breaker_actions_total\{rule="fork_storm",action="kill"\} 1/);
    expect(metrics).toMatch(/docklock_breaker_actions_total\{rule="memory_hog",action="stop"\} 1/);
    expect(metrics).toMatch(
      new RegExp(`docklock_breaker_signal\\{owner="${p.alice.name}",service="quiet",signal="pids"\\} \\d+`),
    );
    const audit = (await admin.audit(10_000)).entries;
    expect(audit.filter((a) => a.action === 'breaker.action').map((a) => a.decision)).toEqual(['allowed', 'allowed']);
    const watch = audit.filter((a) => a.action === 'breaker.watch');
    expect(watch.length).toBeGreaterThanOrEqual(3);
    // Which signals hold is reported per service (here: cgroup files, PSI only where the host has it per service).
    expect(watch[0]!.reason).toMatch(/source (cgroup-v1|cgroup-v1\+unified|cgroup-v2|docker-stats); signals .*pids/);
    expect(verifyAuditFile(broker.audit.path).ok).toBe(true);
  });

  it('prints the history with `docklock broker history`', async () => {
    const env = cliEnv(broker, p.alice.token);
    const table = await docklock(['broker', 'history'], env);
    expect(table.split('\n')[0]).toMatch(/^TIME\s+SERVICE\s+RULE\s+ACTION\s+OUTCOME\s+REASON\s+SIGNALS$/);
    expect(table).toMatch(new RegExp(`${p.alice.name}/storm\\s+fork_storm\\s+kill\\s+acted\\s+ok\\s+pids_per_sec=`));
    const json = JSON.parse(await docklock(['broker', 'history', '--json', '--service', 'storm'], env)) as {
      events: BreakerEvent[];
    };
    expect(json.events.every((e) => e.service === 'storm')).toBe(true);
  });
});

describe.skipIf(!ready)('circuit breaker history across a restart', () => {
  const suite = brokerSuite();
  const { p, dir } = suite;

  it('answers GET /v1/breaker/history with the events of before the restart', async () => {
    const config = makeConfig(p, dir);
    config.breaker = parseBreakerConfig({
      enabled: true,
      mode: 'enforce',
      interval: '500ms',
      grace: '1s',
      cooldown: '60s',
      rules: { fork_storm: { when: 'pids_per_sec > 50 for 500ms', action: 'kill' } },
    });
    const broker = await suite.start(config);
    const alice = new BrokerClient({ socketPath: config.socket, token: p.alice.token });
    await alice.deploy({
      name: 'storm',
      image: TEST_IMAGE,
      command: [
        'sh',
        '-c',
        'sleep 2; i=0; while [ $i -lt 400 ]; do sleep 30 & sleep 30 & i=$((i+1)); sleep 0.1; done; sleep 60',
      ],
      pids: 512,
      memory: 128 * MiB,
    });
    const before = await waitFor('the storm to be killed', 30_000, async () => {
      const h = await alice.breakerHistory();
      return h.events.some((e) => e.outcome === 'acted') ? h.events : undefined;
    });
    await suite.stop(broker);
    await suite.start(config);
    const after = await alice.breakerHistory();
    expect(after.events.map(({ seq: _s, ...e }) => e)).toEqual(before.map(({ seq: _s, ...e }) => e));
    const bob = new BrokerClient({ socketPath: config.socket, token: p.bob.token });
    expect((await bob.breakerHistory()).events).toEqual([]);
  });
});
