/**
 * A service cannot escape the circuit breaker by being restarted or recreated, nor by the broker
 * restarting, and one owner cannot use up the breaker's hourly budget for everyone: the breaker's
 * grace, cooldown and caps follow the service (owner and name), not the container. Real broker,
 * real engine, gVisor; a rule that always holds (`pids > 0`) stands in for a runaway.
 */
import { describe, expect, it } from 'vitest';
import { verifyAuditFile } from '../../broker/audit.ts';
import { parseBreakerConfig } from '../../broker/breaker/config.ts';
import type { BreakerEvent } from '../../broker/breaker/history.ts';
import { BrokerClient } from '../../broker/client.ts';
import { TEST_IMAGE, brokerSuite, dockerReady, makeConfig } from './helpers.ts';

const ready = dockerReady();

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const spec = (name: string) => ({ name, image: TEST_IMAGE, command: ['sleep', '300'] });

describe.skipIf(!ready)('breaker grace across client restarts and recreates', () => {
  const suite = brokerSuite();
  const { p, dir } = suite;

  it('acts once the grace of the first strike is over, however often the client restarts or recreates', async () => {
    const config = makeConfig(p, dir);
    // The grace outlasts the inventory's re-inspect period (10 s), so a restart's new StartedAt is
    // always seen within the grace: before the fix every restart bought a fresh one.
    config.breaker = parseBreakerConfig({
      enabled: true,
      mode: 'enforce',
      interval: '500ms',
      grace: '15s',
      cooldown: '60s',
      rules: { always: { when: 'pids > 0 for 500ms', action: 'kill' } },
    });
    const broker = await suite.start(config);
    const alice = new BrokerClient({ socketPath: config.socket, token: p.alice.token });
    await alice.deploy(spec('runaway'));
    const events = async (): Promise<BreakerEvent[]> => (await alice.breakerHistory({ service: 'runaway' })).events;
    await waitFor('a trip suppressed by grace', 20_000, async () =>
      (await events()).some((e) => e.reason === 'grace') ? true : undefined,
    );
    // The client keeps restarting (and once recreates) the service, as an escape would.
    let rounds = 0;
    const acted = await waitFor('the breaker to act despite the restarts', 60_000, async () => {
      const e = (await events()).find((x) => x.outcome === 'acted');
      if (e !== undefined) return e;
      rounds++;
      if (rounds === 2) {
        await alice.remove('runaway');
        await alice.deploy(spec('runaway'));
      } else await alice.act('runaway', 'restart').catch(() => undefined);
      return undefined;
    });
    expect(rounds).toBeGreaterThan(1);
    expect(acted).toMatchObject({ rule: 'always', action: 'kill', owner: p.alice.name, reason: 'ok' });
    expect(verifyAuditFile(broker.audit.path).ok).toBe(true);
  }, 120_000);
});

describe.skipIf(!ready)('breaker caps across recreates and broker restarts, per owner', () => {
  const suite = brokerSuite();
  const { p, dir } = suite;

  it('keeps the caps across recreates and a broker restart, refuses to start what it can no longer act on, and caps each owner apart', async () => {
    const config = makeConfig(p, dir);
    config.breaker = parseBreakerConfig({
      enabled: true,
      mode: 'enforce',
      interval: '500ms',
      // Long enough that all three of Alice's services are deployed before the first can trip:
      // once her share is used up, a deploy is refused.
      grace: '15s',
      cooldown: '1s',
      maxActionsPerHour: { perService: 1, perOwner: 2, total: 10 },
      rules: { always: { when: 'pids > 0 for 500ms', action: 'kill' } },
    });
    let broker = await suite.start(config);
    const client = (token: string) => new BrokerClient({ socketPath: config.socket, token });
    const alice = client(p.alice.token);
    const bob = client(p.bob.token);
    /** The first trip past the grace after `since`. */
    const firstAfter = (c: BrokerClient, service: string, since: string) => () =>
      c.breakerHistory({ service }).then(
        (h) => h.events.find((e) => e.time > since && e.reason !== 'grace'),
        () => undefined,
      );
    const start = new Date(0).toISOString();
    const refused = (work: Promise<unknown>) =>
      work.then(
        () => undefined,
        (e: { code?: string; statusCode?: number }) => ({ code: e.code, statusCode: e.statusCode }),
      );
    const OPEN = { code: 'DL_ERR_BREAKER_OPEN', statusCode: 409 };

    // Three runaways at once: Alice's share of the hour (2) goes to two of them, the third is left alone.
    const names = ['one', 'two', 'three'];
    await Promise.all(names.map((n) => alice.deploy(spec(n))));
    const first = await Promise.all(names.map((n) => waitFor(`a trip on ${n}`, 40_000, firstAfter(alice, n, start))));
    const acted = first.filter((e) => e.outcome === 'acted').map((e) => e.service);
    const spared = first.filter((e) => e.outcome === 'suppressed');
    expect(acted).toHaveLength(2);
    expect(spared.map((e) => e.reason)).toEqual(['owner_hourly_cap']);
    const [k1, k2] = acted as [string, string];

    // The breaker can no longer act on them: starting, restarting or recreating them is refused.
    expect(await refused(alice.act(k1, 'start'))).toEqual(OPEN);
    await alice.remove(k1);
    expect(await refused(alice.deploy(spec(k1)))).toEqual(OPEN);
    // Nor can it act on anything of Alice's this hour: a fresh name is refused too.
    expect(await refused(alice.deploy(spec('fresh')))).toEqual(OPEN);
    expect(await refused(alice.act(spared[0]!.service, 'restart'))).toEqual(OPEN);
    expect((await alice.list()).map((v) => v.name).sort()).toEqual(names.filter((n) => n !== k1).sort());

    // Bob's share is his own.
    await bob.deploy(spec('other'));
    expect(await waitFor('a trip on bob/other', 40_000, firstAfter(bob, 'other', start))).toMatchObject({
      outcome: 'acted',
      reason: 'ok',
    });

    // A broker restart rebuilds it all from the audit log.
    await suite.stop(broker);
    const restarted = new Date().toISOString();
    broker = await suite.start(config);
    expect(await refused(alice.act(k2, 'start'))).toEqual(OPEN);
    const again = await waitFor(
      'a trip after the broker restart',
      20_000,
      firstAfter(alice, spared[0]!.service, restarted),
    );
    expect(again).toMatchObject({ outcome: 'suppressed', reason: 'owner_hourly_cap' });
    const audit = (await client(p.admin.token).audit(10_000)).entries;
    expect(audit.filter((e) => e.reason === 'DL_ERR_BREAKER_OPEN').map((e) => e.principal)).toEqual(
      Array(5).fill(p.alice.name),
    );
    expect(verifyAuditFile(broker.audit.path).ok).toBe(true);
  }, 180_000);
});
