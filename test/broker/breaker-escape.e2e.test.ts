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

  it('keeps the per-service cap across a recreate and a broker restart, and caps each owner apart', async () => {
    const config = makeConfig(p, dir);
    config.breaker = parseBreakerConfig({
      enabled: true,
      mode: 'enforce',
      interval: '500ms',
      grace: '0s',
      cooldown: '1s',
      maxActionsPerHour: { perService: 1, perOwner: 1, total: 10 },
      rules: { always: { when: 'pids > 0 for 500ms', action: 'kill' } },
    });
    let broker = await suite.start(config);
    const client = (token: string) => new BrokerClient({ socketPath: config.socket, token });
    const alice = client(p.alice.token);
    const bob = client(p.bob.token);
    const after = (c: BrokerClient, service: string, since: string, pick: (e: BreakerEvent) => boolean) => () =>
      c.breakerHistory({ service }).then(
        (h) => h.events.find((e) => e.time > since && pick(e)),
        () => undefined,
      );
    const start = new Date(0).toISOString();

    await alice.deploy(spec('capped'));
    await waitFor(
      'the first action',
      20_000,
      after(alice, 'capped', start, (e) => e.outcome === 'acted'),
    );

    // Recreated under the same name: a new container, the same service, the same cap.
    await alice.remove('capped');
    const recreated = new Date().toISOString();
    await alice.deploy(spec('capped'));
    const capped = await waitFor(
      'a trip on the recreated service',
      20_000,
      after(alice, 'capped', recreated, () => true),
    );
    expect(capped).toMatchObject({ outcome: 'suppressed', reason: 'service_hourly_cap' });
    expect((await alice.inspect('capped')).state).toBe('running');

    // Alice's share of the total is used up; Bob's is not.
    await alice.deploy(spec('second'));
    const second = await waitFor(
      'a trip on alice/second',
      20_000,
      after(alice, 'second', start, () => true),
    );
    expect(second).toMatchObject({ outcome: 'suppressed', reason: 'owner_hourly_cap' });
    await bob.deploy(spec('other'));
    const other = await waitFor(
      'a trip on bob/other',
      20_000,
      after(bob, 'other', start, () => true),
    );
    expect(other).toMatchObject({ outcome: 'acted', reason: 'ok' });

    // A broker restart rebuilds the caps from the audit log.
    await suite.stop(broker);
    const restarted = new Date().toISOString();
    broker = await suite.start(config);
    const again = await waitFor(
      'a trip after the broker restart',
      20_000,
      after(alice, 'capped', restarted, () => true),
    );
    expect(again).toMatchObject({ outcome: 'suppressed', reason: 'service_hourly_cap' });
    expect((await alice.inspect('capped')).state).toBe('running');
    expect(verifyAuditFile(broker.audit.path).ok).toBe(true);
  }, 150_000);
});
