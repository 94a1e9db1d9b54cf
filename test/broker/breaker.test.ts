/**
 * The circuit breaker without Docker: recorded signal sequences (cgroup fixture trees with PSI
 * files, and sample lists) through injectable sources, a manual clock and a fake actuator. Every
 * rule, cooldown, the hourly caps, grace, monitor mode and the ownership check.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../broker/breaker/breaker.ts';
import { parseBreakerConfig } from '../../broker/breaker/config.ts';
import type { BreakerConfig } from '../../broker/breaker/config.ts';
import { Evaluator } from '../../broker/breaker/evaluator.ts';
import { createBreakerMetrics } from '../../broker/breaker/metrics.ts';
import { parseRule, ruleMatches } from '../../broker/breaker/rules.ts';
import type { BreakerAction } from '../../broker/breaker/rules.ts';
import { SafetyGate } from '../../broker/breaker/safety.ts';
import { CgroupReader } from '../../broker/breaker/signals/cgroup.ts';
import { JsonObjectSplitter, sampleFromDockerStats } from '../../broker/breaker/signals/docker-stats.ts';
import { parsePsi } from '../../broker/breaker/signals/psi.ts';
import { deriveSignals } from '../../broker/breaker/signals/sample.ts';
import type { RawSample } from '../../broker/breaker/signals/sample.ts';
import type { Actuator, Inventory, SignalSource, WatchedService } from '../../broker/breaker/sources.ts';
import type { AuditEvent } from '../../broker/audit.ts';
import { parseBrokerConfig } from '../../broker/config.ts';

const ID = 'a'.repeat(64);
const ID2 = 'b'.repeat(64);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'docklock-breaker-'));
  dirs.push(d);
  return d;
}
function write(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}
const psi = (someAvg10: number, fullAvg10: number, someTotal = 0, fullTotal = 0): string =>
  `some avg10=${someAvg10.toFixed(2)} avg60=0.00 avg300=0.00 total=${someTotal}\nfull avg10=${fullAvg10.toFixed(2)} avg60=0.00 avg300=0.00 total=${fullTotal}\n`;

function errOf(fn: () => unknown): { code?: string; field?: string; message?: string } {
  try {
    fn();
  } catch (e) {
    return {
      code: (e as { code?: string }).code,
      field: (e as { field?: string }).field,
      message: (e as Error).message,
    };
  }
  return {};
}

describe('PSI parser', () => {
  it('reads some and full lines', () => {
    const p = parsePsi(psi(12.5, 3.25, 1000, 400));
    expect(p?.some).toEqual({ avg10: 12.5, avg60: 0, avg300: 0, total: 1000 });
    expect(p?.full?.avg10).toBe(3.25);
  });
  it('accepts cpu.pressure without a full line and refuses non-PSI text', () => {
    expect(parsePsi('some avg10=0.10 avg60=0.00 avg300=0.00 total=5\n')?.full).toBeUndefined();
    expect(parsePsi('max 100000\n')).toBeUndefined();
  });
});

describe('Docker stats stream splitter', () => {
  const obj = (n: number) =>
    JSON.stringify({
      pids_stats: { current: n, limit: 512 },
      name: '/x{"}\\\\',
      cpu_stats: { cpu_usage: { total_usage: n * 1000 } },
    });
  it('splits several objects per chunk and objects across chunks', () => {
    const text = obj(1) + '\n' + obj(2) + obj(3) + '\n';
    for (const cut of [1, 7, 40, text.length - 3]) {
      const sp = new JsonObjectSplitter();
      const got = [...sp.push(text.slice(0, cut)), ...sp.push(text.slice(cut))] as {
        pids_stats: { current: number };
      }[];
      expect(got.map((o) => o.pids_stats.current)).toEqual([1, 2, 3]);
    }
  });
  it('survives byte-at-a-time delivery, braces inside strings and garbage', () => {
    const sp = new JsonObjectSplitter();
    const out: unknown[] = [];
    for (const ch of 'garbage ' + obj(7) + ' ' + obj(8)) out.push(...sp.push(ch));
    expect(out).toHaveLength(2);
    expect(sampleFromDockerStats(out[1], 5, 0.5)).toMatchObject({
      at: 5,
      source: 'docker-stats',
      pids: 8,
      pidsLimit: 512,
      cpuUsageNs: 8000,
      cpuLimitCores: 0.5,
    });
  });
  it('derives the working set from v1 total_inactive_file and v2 inactive_file', () => {
    const v1 = sampleFromDockerStats(
      { memory_stats: { usage: 100, limit: 1000, stats: { total_inactive_file: 40 } } },
      1,
      undefined,
    );
    const v2 = sampleFromDockerStats(
      { memory_stats: { usage: 100, limit: 1000, stats: { inactive_file: 30 } } },
      1,
      undefined,
    );
    expect(deriveSignals(v1, undefined, 1).memory_bytes).toBe(60);
    expect(deriveSignals(v2, undefined, 1).memory).toBe(7);
  });
});

describe('cgroup reader on fixture trees', () => {
  it('finds a cgroup v2 container through /proc/<pid>/cgroup and reads PSI', async () => {
    const root = tmp();
    const cg = join(root, 'sys');
    const proc = join(root, 'proc');
    const dir = join(cg, 'system.slice', `docker-${ID}.scope`);
    write(join(cg, 'cgroup.controllers'), 'cpu memory pids io\n');
    write(join(proc, '4242', 'cgroup'), `0::/system.slice/docker-${ID}.scope\n`);
    write(join(dir, 'cgroup.procs'), '4242\n');
    write(join(dir, 'pids.current'), '40\n');
    write(join(dir, 'pids.max'), '512\n');
    write(join(dir, 'memory.current'), '80000000\n');
    write(join(dir, 'memory.max'), '100000000\n');
    write(join(dir, 'memory.stat'), 'anon 70000000\nfile 10000000\ninactive_file 5000000\nactive_file 5000000\n');
    write(join(dir, 'cpu.stat'), 'usage_usec 1000000\nuser_usec 600000\nsystem_usec 400000\n');
    write(join(dir, 'cpu.max'), '50000 100000\n');
    write(join(dir, 'cpu.pressure'), psi(45, 0, 100, 0));
    write(join(dir, 'memory.pressure'), psi(50, 35, 2000, 1000));
    write(join(dir, 'io.pressure'), psi(0, 0));
    const r = new CgroupReader({ cgroupRoot: cg, procRoot: proc });
    const loc = await r.locate(ID, 4242);
    expect(loc).toEqual({ version: 2, dir });
    const a = (await r.read(loc!, 1000))!;
    write(join(dir, 'cpu.stat'), 'usage_usec 1500000\n');
    write(join(dir, 'pids.current'), '140\n');
    write(join(dir, 'memory.pressure'), psi(50, 35, 502000, 301000));
    const b = (await r.read(loc!, 2000))!;
    const s = deriveSignals(b, a, 2);
    expect(s).toMatchObject({
      pids: 140,
      pids_per_sec: 100,
      memory: 75,
      memory_bytes: 75_000_000,
      cpu: 100,
      'memory.pressure.full.avg10': 35,
      'cpu.pressure.some.avg10': 45,
    });
    expect(s['memory.pressure.some.total']).toBeCloseTo(50);
    expect(s['memory.pressure.full.total']).toBeCloseTo(30);
  });

  it('falls back to /docker/<id> without a pid', async () => {
    const cg = join(tmp(), 'sys');
    write(join(cg, 'cgroup.controllers'), 'pids\n');
    write(join(cg, 'docker', ID, 'cgroup.procs'), '');
    write(join(cg, 'docker', ID, 'pids.current'), '3\n');
    const r = new CgroupReader({ cgroupRoot: cg, procRoot: join(cg, 'none') });
    expect(await r.locate(ID)).toEqual({ version: 2, dir: join(cg, 'docker', ID) });
    expect(await r.locate(ID2)).toBeUndefined();
  });

  it('reads a cgroup v1 host and never takes the unified root for the service (hybrid, as under runsc here)', async () => {
    const root = tmp();
    const cg = join(root, 'sys');
    const proc = join(root, 'proc');
    const lines = ['9:name=systemd', '8:pids', '4:memory', '2:cpuacct', '1:cpu'].map((p) => `${p}:/docker/${ID}`);
    write(join(proc, '77', 'cgroup'), [...lines, '0::/'].join('\n') + '\n');
    for (const c of ['pids', 'memory', 'cpuacct', 'cpu']) write(join(cg, c, 'docker', ID, 'cgroup.procs'), '77\n');
    write(join(cg, 'unified', 'cgroup.procs'), '1\n');
    write(join(cg, 'unified', 'memory.pressure'), psi(99, 99));
    write(join(cg, 'pids', 'docker', ID, 'pids.current'), '49\n');
    write(join(cg, 'pids', 'docker', ID, 'pids.max'), '128\n');
    write(join(cg, 'memory', 'docker', ID, 'memory.usage_in_bytes'), '81354752\n');
    write(join(cg, 'memory', 'docker', ID, 'memory.limit_in_bytes'), '100663296\n');
    write(join(cg, 'memory', 'docker', ID, 'memory.stat'), 'cache 0\ninactive_file 7\ntotal_inactive_file 1354752\n');
    write(join(cg, 'cpuacct', 'docker', ID, 'cpuacct.usage'), '90192237\n');
    write(join(cg, 'cpu', 'docker', ID, 'cpu.cfs_quota_us'), '50000\n');
    write(join(cg, 'cpu', 'docker', ID, 'cpu.cfs_period_us'), '100000\n');
    const r = new CgroupReader({ cgroupRoot: cg, procRoot: proc });
    const loc = await r.locate(ID, 77);
    expect(loc).toMatchObject({ version: 1, pids: join(cg, 'pids', 'docker', ID) });
    expect(loc).not.toHaveProperty('unified');
    const s = (await r.read(loc!, 0))!;
    expect(s).toMatchObject({
      source: 'cgroup-v1',
      pids: 49,
      pidsLimit: 128,
      memoryUsage: 81354752,
      memoryInactiveFile: 1354752,
      cpuLimitCores: 0.5,
      psi: {},
    });
    expect(deriveSignals(s, undefined, 2).memory).toBeCloseTo(79.47, 1);
  });
});

describe('rule language', () => {
  const f = 'config.breaker.rules.r';
  it('parses the issue examples', () => {
    expect(parseRule('fork_storm', 'pids_per_sec > 50 for 2s', 'pause', f)).toMatchObject({
      forMs: 2000,
      anyOf: [[{ signal: 'pids_per_sec', op: '>', value: 50 }]],
    });
    const m = parseRule('memory_thrash', 'memory > 90% and memory.pressure.full.avg10 > 30 for 10s', 'restart', f);
    expect(m.anyOf).toEqual([
      [
        { signal: 'memory', op: '>', value: 90 },
        { signal: 'memory.pressure.full.avg10', op: '>', value: 30 },
      ],
    ]);
    expect(parseRule('c', 'cpu > 95% and cpu.pressure.some.avg10 > 40 for 15s', 'stop', f).forMs).toBe(15_000);
  });
  it('binds and tighter than or; a missing signal never matches', () => {
    const r = parseRule('x', 'pids > 10 and memory > 50% or cpu >= 90 for 500ms', 'kill', f);
    expect(r.anyOf).toHaveLength(2);
    expect(ruleMatches(r, { pids: 11, memory: 60 })).toBe(true);
    expect(ruleMatches(r, { pids: 11 })).toBe(false);
    expect(ruleMatches(r, { cpu: 90 })).toBe(true);
  });
  it.each([
    ['pids_per_second > 5', /unknown signal "pids_per_second"/],
    ['pids_per_sec 5', /expected a comparison .* column 14, found "5"/],
    ['pids_per_sec > fast', /expected a number/],
    ['pids > 5%', /not a percentage/],
    ['pids > 5 for 2 seconds', /expected a duration/],
    ['pids > 5 for 2s and cpu > 1', /expected the end of the rule/],
    ['pids > 5 xor cpu > 1', /expected "and", "or" or "for"/],
    ['pids > 5 and', /expected a signal name at the end/],
    ['pids > 5 ; rm -rf /', /unexpected character ";"/],
  ])('refuses %s with a coded error naming the field', (text, msg) => {
    const e = errOf(() => parseRule('r', text, 'pause', f));
    expect(e.code).toBe('DL_ERR_BREAKER_RULE');
    expect(e.field).toBe(f);
    expect(e.message).toMatch(msg);
  });
});

describe('breaker config', () => {
  it('defaults to disabled monitor mode and fills defaults', () => {
    const c = parseBreakerConfig(undefined);
    expect(c).toMatchObject({
      enabled: false,
      mode: 'monitor',
      intervalMs: 1000,
      graceMs: 30_000,
      cooldownMs: 60_000,
      maxActionsPerHour: { perService: 6, perOwner: 10, total: 30 },
      defaultAction: 'pause',
      source: 'auto',
    });
  });
  it('takes shorthand and mapping rules with per-rule actions', () => {
    const c = parseBreakerConfig({
      enabled: true,
      defaultAction: 'stop',
      rules: { fork_storm: 'pids_per_sec > 50 for 2s', hog: { when: 'memory > 90% for 1s', action: 'restart' } },
    });
    expect(c.rules.map((r) => [r.name, r.action])).toEqual([
      ['fork_storm', 'stop'],
      ['hog', 'restart'],
    ]);
  });
  it.each([
    ['unknown key', { enable: true }, 'DL_ERR_BROKER_CONFIG', 'config.breaker.enable'],
    [
      'unknown rule key',
      { rules: { r: { when: 'pids > 1', actoin: 'kill' } } },
      'DL_ERR_BROKER_CONFIG',
      'config.breaker.rules.r.actoin',
    ],
    [
      'bad action',
      { rules: { r: { when: 'pids > 1', action: 'reboot' } } },
      'DL_ERR_BREAKER_RULE',
      'config.breaker.rules.r.action',
    ],
    ['bad default action', { defaultAction: 'delete' }, 'DL_ERR_BREAKER_RULE', 'config.breaker.defaultAction'],
    ['bad expression', { rules: { r: 'pids >' } }, 'DL_ERR_BREAKER_RULE', 'config.breaker.rules.r'],
    ['bad interval', { interval: '1 second' }, 'DL_ERR_BREAKER_RULE', 'config.breaker.interval'],
    ['too short interval', { interval: '10ms' }, 'DL_ERR_BREAKER_RULE', 'config.breaker.interval'],
    ['bad mode', { mode: 'dry-run' }, 'DL_ERR_BROKER_CONFIG', 'config.breaker.mode'],
    [
      'caps',
      { maxActionsPerHour: { perService: 5, total: 2 } },
      'DL_ERR_BROKER_CONFIG',
      'config.breaker.maxActionsPerHour',
    ],
    [
      'per-owner cap above the total',
      { maxActionsPerHour: { perService: 2, perOwner: 40, total: 30 } },
      'DL_ERR_BROKER_CONFIG',
      'config.breaker.maxActionsPerHour.perOwner',
    ],
    [
      'per-owner cap below the per-service cap',
      { maxActionsPerHour: { perService: 6, perOwner: 3 } },
      'DL_ERR_BROKER_CONFIG',
      'config.breaker.maxActionsPerHour.perOwner',
    ],
    ['enabled without rules', { enabled: true }, 'DL_ERR_BREAKER_RULE', 'config.breaker.rules'],
    [
      'bad rule name',
      { rules: { 'Fork-Storm': 'pids > 1' } },
      'DL_ERR_BREAKER_RULE',
      'config.breaker.rules.Fork-Storm',
    ],
  ])('refuses %s', (_l, raw, code, field) => {
    expect(errOf(() => parseBreakerConfig(raw))).toMatchObject({ code, field });
  });
  it('is part of the broker config (unknown keys refused there too)', () => {
    const base = {
      tokens: [{ sha256: 'a'.repeat(64), principal: 'alice', role: 'client' }],
      policy: { images: { strict: false, allow: [{ repository: 'ghcr.io/org/app' }] } },
    };
    expect(parseBrokerConfig({ ...base, breaker: { enabled: true, rules: { f: 'pids > 1' } } }).breaker.enabled).toBe(
      true,
    );
    expect(errOf(() => parseBrokerConfig({ ...base, breaker: { rules: { f: 'pids > 1' }, x: 1 } }))).toMatchObject({
      code: 'DL_ERR_BROKER_CONFIG',
      field: 'config.breaker.x',
    });
  });
});

describe('evaluator', () => {
  it('trips after the condition held for the duration, re-arms, and resets on a miss', () => {
    const ev = new Evaluator([parseRule('fork_storm', 'pids_per_sec > 50 for 2s', 'pause', 'f')]);
    const seq: [number, number][] = [
      [0, 80],
      [1000, 90],
      [2000, 85],
      [3000, 70],
      [4000, 10],
      [5000, 60],
      [6000, 60],
      [7000, 60],
    ];
    const trips = seq.map(([t, v]) => ev.step(ID, { pids_per_sec: v }, t).map((x) => [x.at, x.since]));
    expect(trips).toEqual([[], [], [[2000, 0]], [], [], [], [], [[7000, 5000]]]);
  });
  it('keeps services apart', () => {
    const ev = new Evaluator([parseRule('r', 'pids > 5', 'kill', 'f')]);
    expect(ev.step(ID, { pids: 6 }, 0)).toHaveLength(1);
    expect(ev.step(ID2, { pids: 1 }, 0)).toHaveLength(0);
  });
});

describe('safety gate', () => {
  const gate = (over: Partial<ConstructorParameters<typeof SafetyGate>[0]> = {}) =>
    new SafetyGate({
      mode: 'enforce',
      graceMs: 10_000,
      cooldownMs: 60_000,
      maxPerServicePerHour: 3,
      maxTotalPerHour: 4,
      ...over,
    });
  const at = (name: string, startedAt = 0, owner = 'alice', owned = true) => ({ owner, name, owned, startedAt });
  it('applies not_owned, grace, cooldown, the hourly caps and monitor in order', () => {
    const g = gate();
    expect(g.check(at('a', 0, 'alice', false), 100_000)).toBe('not_owned');
    expect(g.check(at('a', 95_000), 100_000)).toBe('grace');
    expect(g.check(at('a'), 100_000)).toBeUndefined();
    g.record(at('a'), 100_000);
    expect(g.check(at('a'), 159_999)).toBe('cooldown');
    expect(g.check(at('a'), 160_000)).toBeUndefined();
    g.record(at('a'), 160_000);
    g.record(at('a'), 220_000);
    expect(g.check(at('a'), 400_000)).toBe('service_hourly_cap');
    expect(g.check(at('b'), 400_000)).toBeUndefined();
    g.record(at('b'), 400_000);
    expect(g.check(at('c'), 500_000)).toBe('total_hourly_cap');
    // An hour after the first action the window has room again.
    expect(g.check(at('a'), 100_000 + 3_600_000)).toBeUndefined();
    expect(gate({ mode: 'monitor' }).check(at('a'), 100_000)).toBe('monitor');
  });
  it('keys by owner and service name: the same name of another owner is another service', () => {
    const g = gate({ maxPerServicePerHour: 1 });
    g.record(at('a', 0, 'alice'), 100_000);
    expect(g.check(at('a', 0, 'alice'), 200_000)).toBe('service_hourly_cap');
    expect(g.check(at('a', 0, 'bob'), 200_000)).toBeUndefined();
  });
  it('a restart after a strike buys no fresh grace; an hour without strikes does', () => {
    const g = gate();
    expect(g.check(at('a', 100_000), 105_000)).toBe('grace');
    g.strike(at('a', 100_000), 105_000);
    // Restarted at 108 s: the grace still counts from 100 s.
    expect(g.check(at('a', 108_000), 109_000)).toBe('grace');
    expect(g.check(at('a', 108_000), 110_000)).toBeUndefined();
    // Another service's strikes change nothing here.
    expect(g.check(at('b', 108_000), 110_000)).toBe('grace');
    // The strike is an hour old: a restart starts a grace again.
    expect(g.check(at('a', 3_800_000), 3_801_000)).toBe('grace');
  });
  it('caps each owner at its share of the total', () => {
    const g = gate({ maxPerServicePerHour: 2, maxPerOwnerPerHour: 2, maxTotalPerHour: 4 });
    g.record(at('a', 0, 'alice'), 100_000);
    g.record(at('b', 0, 'alice'), 100_000);
    expect(g.check(at('c', 0, 'alice'), 200_000)).toBe('owner_hourly_cap');
    expect(g.check(at('c', 0, 'bob'), 200_000)).toBeUndefined();
  });
  it('opens the circuit of a service or owner at its cap, in enforce mode only, for the rest of the hour', () => {
    const g = gate({ maxPerServicePerHour: 1, maxPerOwnerPerHour: 2 });
    expect(g.open('alice', 'a', 100_000)).toBeUndefined();
    g.record(at('a'), 100_000);
    expect(g.open('alice', 'a', 200_000)).toEqual({ cap: 'service_hourly_cap', actions: 1, until: 3_700_000 });
    expect(g.open('alice', 'b', 200_000)).toBeUndefined();
    g.record(at('b'), 300_000);
    expect(g.open('alice', 'c', 400_000)).toEqual({ cap: 'owner_hourly_cap', actions: 2, until: 3_700_000 });
    expect(g.open('bob', 'a', 400_000)).toBeUndefined();
    expect(g.open('alice', 'a', 3_700_000)).toBeUndefined();
    const m = gate({ mode: 'monitor', maxPerServicePerHour: 1 });
    m.record(at('a'), 100_000);
    expect(m.open('alice', 'a', 200_000)).toBeUndefined();
  });
  it('rebuilds strikes and actions of the last hour from past events', () => {
    const g = gate({ maxPerServicePerHour: 1 });
    const t = (ms: number) => new Date(ms).toISOString();
    g.restore(
      [
        { owner: 'alice', service: 'old', time: t(0), outcome: 'acted', reason: 'ok' },
        { owner: 'alice', service: 'a', time: t(3_000_000), outcome: 'suppressed', reason: 'grace' },
        { owner: 'alice', service: 'b', time: t(3_100_000), outcome: 'acted', reason: 'ok' },
      ],
      3_700_000,
    );
    expect(g.check(at('old'), 3_700_000)).toBeUndefined();
    // Restarted just now, but it tripped 700 s ago: no fresh grace.
    expect(g.check(at('a', 3_699_000), 3_700_000)).toBeUndefined();
    expect(g.check(at('b'), 3_700_000)).toBe('service_hourly_cap');
  });
});

/** A breaker fed from recorded sample sequences. */
function harness(
  config: BreakerConfig,
  services: WatchedService[],
  sequences: Record<string, (Partial<RawSample> | undefined)[]>,
) {
  let now = 0;
  let tickNo = 0;
  const acted: [string, BreakerAction][] = [];
  const audited: AuditEvent[] = [];
  let failNext = false;
  const inventory: Inventory = { list: async () => services, invalidate: () => undefined };
  const source: SignalSource = {
    read: async (svc) => {
      const s = sequences[svc.id]?.[tickNo];
      return s === undefined ? undefined : { at: now, source: 'fixture', psi: {}, ...s };
    },
    kind: () => 'fixture',
    forget: () => undefined,
    close: () => undefined,
  };
  const actuator: Actuator = {
    act: async (svc, action) => {
      if (failNext) {
        failNext = false;
        throw new Error('conflict: container is not running');
      }
      acted.push([svc.id, action]);
    },
  };
  const metrics = createBreakerMetrics();
  const breaker = new CircuitBreaker({
    config,
    inventory,
    source,
    actuator,
    audit: { append: async (e) => void audited.push(e) },
    metrics,
    now: () => now,
    hostCores: 2,
  });
  return {
    breaker,
    acted,
    audited,
    metrics,
    failNextAction: () => void (failNext = true),
    /** Runs ticks at `stepMs` until the sequences end. */
    async run(stepMs: number, ticks: number) {
      for (let k = 0; k < ticks; k++) {
        await breaker.tick();
        tickNo++;
        now += stepMs;
      }
    },
  };
}

const svc = (id: string, over: Partial<WatchedService> = {}): WatchedService => ({
  id,
  name: `svc-${id[0]}`,
  owner: 'alice',
  owned: true,
  startedAt: -3_600_000,
  ...over,
});
const cfg = (over: Record<string, unknown>) =>
  parseBreakerConfig({
    enabled: true,
    mode: 'enforce',
    interval: '1s',
    grace: '0s',
    cooldown: '60s',
    rules: {
      fork_storm: { when: 'pids_per_sec > 50 for 2s', action: 'kill' },
      memory_thrash: { when: 'memory > 90% and memory.pressure.full.avg10 > 30 for 2s', action: 'restart' },
      cpu_spin: { when: 'cpu > 95% and cpu.pressure.some.avg10 > 40 for 3s', action: 'pause' },
    },
    ...over,
  });
const forkStorm = (start: number, n: number, rate: number): Partial<RawSample>[] =>
  Array.from({ length: n }, (_, k) => ({ pids: start + k * rate, pidsLimit: 512 }));
const quiet = (n: number): Partial<RawSample>[] =>
  Array.from({ length: n }, () => ({ pids: 3, pidsLimit: 512, memoryUsage: 10e6, memoryLimit: 100e6, cpuUsageNs: 0 }));

describe('circuit breaker on recorded sequences', () => {
  it('fork_storm: kills within the duration plus one interval; the quiet service is untouched', async () => {
    const h = harness(cfg({}), [svc(ID), svc(ID2)], { [ID]: forkStorm(3, 6, 80), [ID2]: quiet(6) });
    await h.run(1000, 6);
    // rate is known from the 2nd sample (t=1s); held 2 s at t=3s.
    expect(h.acted).toEqual([[ID, 'kill']]);
    const e = h.breaker.history.list();
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({
      id: ID,
      rule: 'fork_storm',
      action: 'kill',
      outcome: 'acted',
      reason: 'ok',
      heldMs: 2000,
      signals: { pids_per_sec: 80 },
      time: new Date(3000).toISOString(),
    });
    expect(h.audited.filter((a) => a.action === 'breaker.action')).toHaveLength(1);
    expect(
      h.audited
        .filter((a) => a.action === 'breaker.watch')
        .map((a) => a.target)
        .sort(),
    ).toEqual([ID, ID2]);
    expect((await h.metrics.actions.get()).values).toEqual([
      expect.objectContaining({ labels: { rule: 'fork_storm', action: 'kill' }, value: 1 }),
    ]);
  });

  it('memory_thrash: reads memory.pressure from fixture PSI files and restarts', async () => {
    const root = tmp();
    const cg = join(root, 'sys');
    const dir = join(cg, 'docker', ID);
    write(join(cg, 'cgroup.controllers'), 'memory\n');
    write(join(dir, 'cgroup.procs'), '1\n');
    write(join(dir, 'memory.max'), '100000000\n');
    write(join(dir, 'memory.stat'), 'inactive_file 0\n');
    const reader = new CgroupReader({ cgroupRoot: cg, procRoot: join(root, 'proc') });
    const loc = (await reader.locate(ID))!;
    // Recorded: memory climbs to 95 %, full pressure rises past 30 and stays.
    const recorded: [number, number][] = [
      [50e6, 0],
      [92e6, 10],
      [95e6, 35],
      [95e6, 40],
      [96e6, 45],
      [96e6, 45],
    ];
    let now = 0;
    const acted: string[] = [];
    const b = new CircuitBreaker({
      config: cfg({}),
      inventory: { list: async () => [svc(ID)], invalidate: () => undefined },
      source: {
        read: (_s, t) => reader.read(loc, t),
        kind: () => 'cgroup-v2',
        forget: () => undefined,
        close: () => undefined,
      },
      actuator: { act: async (_s, a) => void acted.push(a) },
      audit: { append: async () => undefined },
      metrics: createBreakerMetrics(),
      now: () => now,
      hostCores: 2,
    });
    for (const [mem, full] of recorded) {
      write(join(dir, 'memory.current'), `${mem}\n`);
      write(join(dir, 'memory.pressure'), psi(full, full));
      await b.tick();
      now += 1000;
    }
    expect(acted).toEqual(['restart']);
    expect(b.history.list()[0]).toMatchObject({
      rule: 'memory_thrash',
      time: new Date(4000).toISOString(),
      signals: { memory: 96, 'memory.pressure.full.avg10': 45 },
    });
  });

  it('cpu_spin: needs both CPU use and CPU pressure for the whole duration', async () => {
    const ns = (k: number) => k * 0.98e9; // 98 % of one core per second, limit 1 core
    const spin = (k: number, p: number): Partial<RawSample> => ({
      cpuUsageNs: ns(k),
      cpuLimitCores: 1,
      psi: { cpu: { some: { avg10: p, avg60: 0, avg300: 0, total: 0 }, full: undefined } },
    });
    // Pressure dips at t=2 s: the 3 s window restarts from t=3 s and completes at t=6 s.
    const seq = [
      spin(0, 50),
      spin(1, 50),
      spin(2, 10),
      spin(3, 50),
      spin(4, 50),
      spin(5, 50),
      spin(6, 50),
      spin(7, 50),
    ];
    const h = harness(cfg({}), [svc(ID)], { [ID]: seq });
    await h.run(1000, seq.length);
    expect(h.acted).toEqual([[ID, 'pause']]);
    expect(h.breaker.history.list()[0]).toMatchObject({
      rule: 'cpu_spin',
      time: new Date(6000).toISOString(),
      heldMs: 3000,
    });
  });

  it('grace: a freshly started service is not acted on until its grace ends', async () => {
    const h = harness(cfg({ grace: '5s' }), [svc(ID, { startedAt: 0 })], { [ID]: forkStorm(3, 8, 80) });
    await h.run(1000, 8);
    const e = h.breaker.history.list();
    expect(e.map((x) => [x.time, x.outcome, x.reason])).toEqual([
      [new Date(3000).toISOString(), 'suppressed', 'grace'],
      [new Date(5000).toISOString(), 'acted', 'ok'],
    ]);
    expect((await h.metrics.suppressed.get()).values).toEqual([
      expect.objectContaining({ labels: { rule: 'fork_storm', reason: 'grace' }, value: 1 }),
    ]);
  });

  it('cooldown: a second trip on the same service within the cooldown is suppressed and folded', async () => {
    const h = harness(cfg({ cooldown: '10s', rules: { fork_storm: 'pids_per_sec > 50 for 1s' } }), [svc(ID)], {
      [ID]: forkStorm(3, 14, 80),
    });
    await h.run(1000, 14);
    // t=2 act (evidence restarts); rate again from t=4; trips at t=5..11 fall in the cooldown; t=12 acts.
    expect(h.acted).toEqual([
      [ID, 'pause'],
      [ID, 'pause'],
    ]);
    const e = h.breaker.history.list();
    expect(e.map((x) => [x.time, x.outcome, x.reason])).toEqual([
      [new Date(2000).toISOString(), 'acted', 'ok'],
      [new Date(5000).toISOString(), 'suppressed', 'cooldown'],
      [new Date(12_000).toISOString(), 'acted', 'ok'],
    ]);
    expect((await h.metrics.suppressed.get()).values[0]!.value).toBe(7);
  });

  it('service hourly cap, then the total hourly cap', async () => {
    const config = cfg({
      cooldown: '1s',
      maxActionsPerHour: { perService: 2, perOwner: 3, total: 3 },
      rules: { fork_storm: 'pids_per_sec > 50 for 1s' },
    });
    const ID3 = 'c'.repeat(64);
    const h = harness(config, [svc(ID), svc(ID2), svc(ID3)], {
      [ID]: forkStorm(3, 14, 80),
      [ID2]: [...quiet(8), ...forkStorm(3, 6, 80)],
      [ID3]: [...quiet(10), ...forkStorm(3, 4, 80)],
    });
    await h.run(1000, 14);
    // ID acts at t=2 and t=5, then hits its own cap; ID2 takes the last slot of the total at t=10; ID3 finds it full.
    expect(h.acted).toEqual([
      [ID, 'pause'],
      [ID, 'pause'],
      [ID2, 'pause'],
    ]);
    const first = (id: string) => h.breaker.history.list().find((e) => e.id === id && e.outcome === 'suppressed');
    expect(first(ID)).toMatchObject({ reason: 'service_hourly_cap', time: new Date(8000).toISOString() });
    expect(first('c'.repeat(64))).toMatchObject({ reason: 'total_hourly_cap', time: new Date(12_000).toISOString() });
  });

  it('monitor mode reports what it would do, cooldown included, and never acts', async () => {
    const h = harness(
      cfg({ mode: 'monitor', cooldown: '5s', rules: { fork_storm: 'pids_per_sec > 50 for 1s' } }),
      [svc(ID)],
      { [ID]: forkStorm(3, 10, 80) },
    );
    await h.run(1000, 10);
    expect(h.acted).toEqual([]);
    const e = h.breaker.history.list();
    // would act at t=2; evidence restarts; t=5 in the simulated cooldown; would act again at t=7.
    expect(e.map((x) => [x.time, x.reason])).toEqual([
      [new Date(2000).toISOString(), 'monitor'],
      [new Date(5000).toISOString(), 'cooldown'],
      [new Date(7000).toISOString(), 'monitor'],
    ]);
    expect(e.every((x) => x.outcome === 'suppressed' && x.mode === 'monitor')).toBe(true);
    expect(
      h.audited
        .filter((a) => a.action === 'breaker.suppressed')
        .every((a) => a.decision === 'denied' && /suppressed: (monitor|cooldown)/.test(a.reason ?? '')),
    ).toBe(true);
  });

  it('never acts on a container the broker does not own', async () => {
    const h = harness(cfg({}), [svc(ID, { owned: false })], { [ID]: forkStorm(3, 6, 80) });
    await h.run(1000, 6);
    expect(h.acted).toEqual([]);
    expect(h.breaker.history.list()[0]).toMatchObject({ outcome: 'suppressed', reason: 'not_owned' });
  });

  it('records a refused action as failed with DL_ERR_BREAKER_ACTION', async () => {
    const h = harness(cfg({}), [svc(ID)], { [ID]: forkStorm(3, 4, 80) });
    h.failNextAction();
    await h.run(1000, 4);
    expect(h.breaker.history.list()[0]).toMatchObject({
      outcome: 'failed',
      reason: 'DL_ERR_BREAKER_ACTION',
      detail: expect.stringMatching(/not running/),
    });
    expect(h.audited.find((a) => a.action === 'breaker.failed')).toMatchObject({ decision: 'error' });
  });

  it('exports current signals as gauges and drops them when a service goes away', async () => {
    const services = [svc(ID)];
    const h = harness(cfg({}), services, { [ID]: quiet(3) });
    await h.run(1000, 2);
    const g = (await h.metrics.signal.get()).values;
    expect(g).toContainEqual(
      expect.objectContaining({ labels: { owner: 'alice', service: 'svc-a', signal: 'memory' }, value: 10 }),
    );
    services.length = 0;
    await h.run(1000, 1);
    expect((await h.metrics.signal.get()).values).toEqual([]);
  });
});

describe('the fast task-count sampler and the persisted history', () => {
  /** A source whose full samples are quiet and whose task counts follow `pids(now)`. */
  function fastHarness(config: BreakerConfig, pids: (now: number) => number) {
    let now = 0;
    const acted: [string, BreakerAction][] = [];
    const audited: AuditEvent[] = [];
    const source: SignalSource = {
      read: async () => ({
        at: now,
        source: 'fixture',
        psi: {},
        pids: pids(now),
        pidsLimit: 512,
        memoryUsage: 95e6,
        memoryLimit: 100e6,
      }),
      readPids: async () => ({ at: now, source: 'fixture', psi: {}, pids: pids(now) }),
      kind: () => 'fixture',
      forget: () => undefined,
      close: () => undefined,
    };
    const breaker = new CircuitBreaker({
      config,
      inventory: { list: async () => [svc(ID)], invalidate: () => undefined },
      source,
      actuator: { act: async (s, a) => void acted.push([s.id, a]) },
      audit: { append: async (e) => void audited.push(e) },
      metrics: createBreakerMetrics(),
      now: () => now,
      hostCores: 2,
    });
    return { breaker, acted, audited, advance: (ms: number) => void (now += ms), at: () => now };
  }

  it('trips a task-only rule on 250 ms readings between full samples, leaving the other rules to them', async () => {
    const config = cfg({
      pidsInterval: '250ms',
      rules: {
        fork_storm: { when: 'pids_per_sec > 50 for 500ms', action: 'kill' },
        mem: { when: 'memory > 90% for 3s', action: 'stop' },
      },
    });
    expect(config.pidsIntervalMs).toBe(250);
    // Quiet until t = 1100 ms, then 150 tasks/s.
    const h = fastHarness(config, (t) => 3 + Math.max(0, Math.floor(((t - 1100) * 150) / 1000)));
    await h.breaker.tick(); // t = 0: full sample, service listed
    let tripAt: number | undefined;
    for (let k = 0; k < 12 && tripAt === undefined; k++) {
      h.advance(250);
      if (h.at() % 1000 === 0) await h.breaker.tick();
      else await h.breaker.fastTick();
      if (h.acted.length > 0) tripAt = h.at();
    }
    expect(h.acted).toEqual([[ID, 'kill']]);
    // First reading above 50/s at 1250 (88/s over 1000..1250), held 500 ms at 1750;
    // a full-sample-only breaker at 1 s would have needed until 3000.
    expect(tripAt).toBe(1750);
    // The memory rule keeps its own clock across fast readings (they never reset it): with quiet
    // tasks and memory at 95 % from t = 0, it trips on the full sample at 3 s.
    const q = fastHarness(config, () => 3);
    await q.breaker.tick();
    for (let k = 0; k < 12 && q.acted.length === 0; k++) {
      q.advance(250);
      if (q.at() % 1000 === 0) await q.breaker.tick();
      else await q.breaker.fastTick();
    }
    expect([q.acted, q.at()]).toEqual([[[ID, 'stop']], 3000]);
  });

  it('bridges one low window of a storm (its rate over two readings), so the `for` clock keeps running', async () => {
    const config = cfg({
      pidsInterval: '250ms',
      rules: { fork_storm: { when: 'pids_per_sec > 50 for 500ms', action: 'kill' } },
    });
    // Tasks added per 250 ms window after t = 1000: 40, then a dip of 4 (16/s), then 20, 20, …
    const table: Record<number, number> = { 1250: 43, 1500: 47, 1750: 67, 2000: 87, 2250: 107, 2500: 127 };
    const h = fastHarness(config, (t) => table[t] ?? 3);
    await h.breaker.tick();
    let tripAt: number | undefined;
    for (let k = 0; k < 10 && tripAt === undefined; k++) {
      h.advance(250);
      await h.breaker.fastTick();
      if (h.acted.length > 0) tripAt = h.at();
    }
    // Held from 1250 (160/s) through 1500 (16/s alone, 88/s over two readings) to 1750.
    expect(tripAt).toBe(1750);
    expect(h.breaker.history.list()[0]!.signals.pids_per_sec).toBe(80);
  });

  it('rebuilds its history from the audit entries after a restart', async () => {
    const config = cfg({
      pidsInterval: '1s',
      rules: { fork_storm: { when: 'pids_per_sec > 50 for 1s', action: 'kill' } },
    });
    const h = fastHarness(config, (t) => 3 + Math.floor(t / 10));
    for (let k = 0; k < 4; k++) {
      await h.breaker.tick();
      h.advance(1000);
    }
    const before = h.breaker.history.list();
    expect(before.length).toBeGreaterThan(0);
    const again = fastHarness(config, () => 3);
    expect(again.breaker.history.restore(h.audited)).toBe(before.length);
    expect(again.breaker.history.list()).toEqual(before);
    expect(again.breaker.history.list({ owner: 'bob' })).toEqual([]);
  });

  it('refuses a pidsInterval outside 50 ms .. interval', () => {
    expect(errOf(() => cfg({ pidsInterval: '2s' }))).toMatchObject({
      code: 'DL_ERR_BREAKER_RULE',
      field: 'config.breaker.pidsInterval',
    });
    expect(errOf(() => cfg({ pidsInterval: '10ms' }))).toMatchObject({
      code: 'DL_ERR_BREAKER_RULE',
      field: 'config.breaker.pidsInterval',
    });
  });
});
