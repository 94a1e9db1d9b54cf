/**
 * The replay pool against hostile claims: a replay that never ends, a bundle whose decoding
 * outgrows its thread, absurd manifest limits, a claimer's endless claims ahead of another's,
 * claims past their deadline, and many claims at once with such ones among them. Every claim gets
 * exactly one answer, honest ones their true judgement, and the pool goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeClaim } from '../../p2p/audit.ts';
import type { Judgement } from '../../p2p/audit.ts';
import type { Claim } from '../../p2p/messages.ts';
import { MAX_FUEL } from '../../runtime/manifest/parse.ts';
import { Judges } from '../../p2p/judges.ts';
import { NodeMetrics } from '../../p2p/metrics.ts';
import { ReplayPool } from '../../p2p/replay-pool.ts';
import { ReplayQueue } from '../../p2p/replay-queue.ts';
import type { ReplayPoolOptions } from '../../p2p/replay-pool.ts';
import {
  claimOf,
  craftedBundle,
  editLimits,
  endlessBundle,
  hostileManifest,
  nestedArrays,
  recordBundle,
  witnessBomb,
} from './hostile.ts';

type Answer = Judgement | { error: string };

/** What a judgement comes to: a settled promise's value, or its error's code. */
const answer = (p: Promise<Judgement>): Promise<Answer> =>
  p.then(
    (j) => j,
    (e: unknown) => ({ error: (e as { code?: string }).code ?? String(e) }),
  );

const kind = (a: Answer): string =>
  'error' in a ? a.error : 'abstain' in a ? 'abstain' : (a.divergence?.kind ?? a.outcome);

let honest: Uint8Array[];
let claims: Claim[];
let expected: Judgement[];

beforeAll(async () => {
  // Short limits: the watchdog of a job that holds an endless replay is the sum of its items'.
  honest = await Promise.all(['a', 'b', 'c'].map((arg) => recordBundle(hostileManifest([arg], { wallClockMs: 2000 }))));
  claims = await Promise.all(honest.map(claimOf));
  expected = await Promise.all(honest.map((b, i) => judgeClaim(claims[i]!, b)));
  expect(expected.map(kind)).toEqual(['match', 'match', 'match']);
});

describe('the replay pool against hostile claims', () => {
  const pools: ReplayPool[] = [];
  const poolOf = (threads: number, options?: ReplayPoolOptions): ReplayPool => {
    const p = new ReplayPool(threads, options);
    pools.push(p);
    return p;
  };
  afterAll(() => Promise.all(pools.map((p) => p.close())));

  it('an endless replay sent with honest claims fails alone (watchdog); the others are judged, and so is the next claim', async () => {
    const pool = poolOf(1);
    const endless = await endlessBundle(500);
    // Three claimers: one job holds all three claims (at most one per claimer), each under its own watchdog.
    const endlessClaim = await claimOf(endless, 7);
    const other = await claimOf(honest[1]!, 8);
    const got = await Promise.all([
      answer(pool.judge(claims[0]!, honest[0]!)),
      answer(pool.judge(endlessClaim, endless)),
      answer(pool.judge(other, honest[1]!)),
    ]);
    expect(got).toEqual([expected[0], { error: 'DL_ERR_CAGE_WATCHDOG' }, expected[1]]);
    expect(await pool.judge(claims[2]!, honest[2]!)).toEqual(expected[2]);
  }, 180_000);

  it("one claimer's endless claims do not hold back another claimer's: claimers take turns, each replay under its own watchdog", async () => {
    const pool = poolOf(1);
    // Distinct limits: five manifests, as five claims of a hostile peer would have.
    const endless = await Promise.all([1500, 1501, 1502, 1503, 1504].map((ms) => endlessBundle(ms)));
    const endlessClaims = await Promise.all(endless.map((b) => claimOf(b, 7)));
    const other = await claimOf(honest[0]!, 8);
    const order: string[] = [];
    const tracked = (name: string, p: Promise<Judgement>): Promise<Answer> =>
      answer(p).then((a) => {
        order.push(name);
        return a;
      });
    const running = endless.map((b, i) => tracked(`endless${i}`, pool.judge(endlessClaims[i]!, b)));
    // A third claimer's claim, judged while they run: the honest one comes once the pool is busy with them.
    expect(await pool.judge(await claimOf(honest[1]!, 9), honest[1]!)).toEqual(expected[1]);
    order.push('sent');
    const got = await Promise.all([...running, tracked('honest', pool.judge(other, honest[0]!))]);
    const watchdog = { error: 'DL_ERR_CAGE_WATCHDOG' };
    expect(got).toEqual([watchdog, watchdog, watchdog, watchdog, watchdog, expected[0]]);
    // Once sent, it waited for at most the endless replay running then and the next in that claimer's
    // line (its turn), not for all of them.
    const waited = order.slice(order.indexOf('sent') + 1, order.indexOf('honest'));
    expect(waited.length).toBeLessThanOrEqual(2);
    expect(order.indexOf('honest')).toBeLessThan(order.length - 1);
  }, 180_000);

  it('a claim whose deadline passes before its turn, or while it replays, is dropped (DL_ERR_P2P_REPLAY_EXPIRED); one with time left is judged', async () => {
    const pool = poolOf(1);
    const endless = await endlessBundle(60_000);
    const got = await Promise.all([
      // Its own limit is a minute; its deadline cuts it after a few seconds.
      answer(pool.judge(await claimOf(endless), endless, Date.now() + 3000)),
      answer(pool.judge(claims[0]!, honest[0]!, Date.now() - 1)),
      answer(pool.judge(claims[1]!, honest[1]!, Date.now() + 600_000)),
    ]);
    const expired = { error: 'DL_ERR_P2P_REPLAY_EXPIRED' };
    expect(got).toEqual([expired, expired, expected[1]]);
    expect(await pool.judge(claims[2]!, honest[2]!)).toEqual(expected[2]);
  }, 120_000);

  it("a replay dropped at its claim's deadline is no judgement: a later re-check of a divergence replays the claim", async () => {
    const pool = poolOf(1);
    const metrics = new NodeMetrics();
    const judges = new Judges({
      fetch: async () => honest[0]!,
      judge: pool.judge,
      queue: new ReplayQueue(1, 16),
      metrics,
    });
    // As a replayer, too late: its quorum window ended before its turn.
    expect(await judges.judge('c0', claims[0]!, 'claimer', Date.now() - 1)).toBe('expired');
    // A divergence on it is still checked by a replay of this node's own, which matches: overruled.
    expect(await judges.recheck('c0', claims[0]!, 'claimer')).toBe('overruled');
    const outcomes = (await metrics.replays.get()).values.map((v) => [v.labels.outcome, v.value]);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ['expired', 1],
        ['match', 1],
      ]),
    );
  }, 60_000);

  it("a bundle whose decoding outgrows its thread's heap kills the thread, and fails alone; the others are judged, and so is the next claim", async () => {
    // A small heap, so that a bomb of a few megabytes is enough (the default is 2 GiB).
    const pool = poolOf(1, { heapMb: 256 });
    // Two million witness entries: a few megabytes of file, some 700 MB of heap once decoded.
    const bomb = witnessBomb(honest[0]!, 2_000_000);
    // Its claim is the honest one: the bundle's own facts are only known once it is decoded.
    const got = await Promise.all([
      answer(pool.judge(claims[1]!, honest[1]!)),
      answer(pool.judge(claims[0]!, bomb)),
      answer(pool.judge(claims[2]!, honest[2]!)),
    ]);
    expect(got[0]).toEqual(expected[1]);
    expect(got[2]).toEqual(expected[2]);
    // The thread dies (DL_ERR_INTERNAL); on a machine slow enough, its watchdog stops it first.
    expect(['DL_ERR_INTERNAL', 'DL_ERR_CAGE_WATCHDOG']).toContain(kind(got[1]!));
    expect(await pool.judge(claims[0]!, honest[0]!)).toEqual(expected[0]);
  }, 180_000);

  it('bundles that explode or recurse while decoding, need a thread of their own or ask for the most memory and fuel, are judged each on its own', async () => {
    const pool = poolOf(1);
    const deepStack = editLimits(honest[1]!, { stack: 1_000_000 });
    // The most a manifest may ask: memory is reserved, not taken, until the guest grows into it.
    const most = editLimits(honest[2]!, { memory: 2 ** 32, fuel: MAX_FUEL });
    // Recorded at the default stack budget, where the recursion traps; replayed with the largest.
    const deep = editLimits(await recordBundle(hostileManifest(['deep'])), { stack: 1_000_000 });
    const cases: [Claim, Uint8Array][] = [
      [claims[0]!, craftedBundle(nestedArrays(1_000_000))],
      [claims[0]!, honest[0]!],
      [claims[0]!, craftedBundle(new Uint8Array(64), 1n << 40n)],
      [claims[0]!, craftedBundle(new Uint8Array(64 << 20))],
      [await claimOf(deepStack), deepStack],
      [await claimOf(most), most],
      [await claimOf(deep), deep],
      [claims[1]!, honest[1]!],
    ];
    const got = await Promise.all(cases.map(([c, b]) => answer(pool.judge(c, b))));
    const viaCage = await Promise.all(cases.map(([c, b]) => judgeClaim(c, b)));
    expect(got).toEqual(viaCage);
    expect(got.map(kind)).toEqual(['bundle', 'match', 'bundle', 'bundle', 'match', 'match', 'result', 'match']);
  }, 120_000);

  it('a manifest with an absurd wall-clock limit cannot hold a thread: refused with a coded error, and the pool goes on', async () => {
    const pool = poolOf(1);
    // Both within what a manifest may say (at most 2^31 − 1 ms), both far past a claim's life.
    const days = await endlessBundle(1_000_000_000);
    const most = await endlessBundle(2 ** 31 - 1);
    const got = await Promise.all([
      answer(pool.judge(await claimOf(days), days)),
      answer(pool.judge(claims[0]!, honest[0]!)),
      answer(pool.judge(await claimOf(most), most)),
    ]);
    expect(got).toEqual([{ error: 'DL_ERR_P2P_REPLAY_LIMITS' }, expected[0], { error: 'DL_ERR_P2P_REPLAY_LIMITS' }]);
    // Known now by manifest: refused again without a thread.
    expect(await answer(pool.judge(await claimOf(days), days))).toEqual({ error: 'DL_ERR_P2P_REPLAY_LIMITS' });
    expect(await pool.judge(claims[1]!, honest[1]!)).toEqual(expected[1]);
  }, 120_000);

  it('a replay on a thread of its own stops when the pool closes', async () => {
    // Two threads: the one of its own takes the place of one of them, the honest claim has the other.
    const pool = poolOf(2);
    // Its stack budget needs a bigger thread than the pool's: it replays on one of its own, endlessly
    // (its watchdog, at its own limit, comes long after the close).
    const endless = editLimits(await endlessBundle(60_000), { stack: 1_000_000 });
    const running = answer(pool.judge(await claimOf(endless), endless));
    expect(await pool.judge(claims[0]!, honest[0]!)).toEqual(expected[0]);
    await pool.close();
    expect(await running).toEqual({ error: 'DL_ERR_CAGE_POOL_CLOSED' });
  }, 60_000);

  it('two hundred claims at once, hostile ones among them: each gets exactly one answer', async () => {
    const pool = poolOf(2);
    const garbage = honest[0]!.slice();
    garbage[garbage.length - 3]! ^= 0xff;
    const lying: Claim = { ...claims[2]!, score: 0.5 };
    const own = editLimits(honest[2]!, { stack: 1_000_000 });
    const ownClaim = await claimOf(own);
    const cases: { claim: Claim; bytes: Uint8Array; want: Answer | string }[] = [];
    for (let i = 0; i < 200; i++) {
      const h = i % 3;
      if (i % 25 === 7) cases.push({ claim: claims[h]!, bytes: garbage, want: 'bundle' });
      else if (i % 25 === 13) cases.push({ claim: lying, bytes: honest[2]!, want: 'bundle' });
      else if (i % 50 === 19) cases.push({ claim: ownClaim, bytes: own, want: 'match' });
      else if (i % 50 === 44)
        cases.push({ claim: claims[h]!, bytes: craftedBundle(nestedArrays(100_000)), want: 'bundle' });
      else cases.push({ claim: claims[h]!, bytes: honest[h]!, want: expected[h]! });
    }
    const settled = new Array<number>(cases.length).fill(0);
    const got = await Promise.all(
      cases.map(({ claim, bytes }, i) =>
        answer(pool.judge(claim, bytes)).then((a) => {
          settled[i]!++;
          return a;
        }),
      ),
    );
    expect(settled.every((n) => n === 1)).toBe(true);
    got.forEach((a, i) => {
      const want = cases[i]!.want;
      if (typeof want === 'string') expect(kind(a)).toBe(want);
      else expect(a).toEqual(want);
    });
    // Nothing arrives later: every claim had its one answer.
    expect(await pool.judge(claims[0]!, honest[0]!)).toEqual(expected[0]);
    expect(settled.every((n) => n === 1)).toBe(true);
  }, 180_000);
});
