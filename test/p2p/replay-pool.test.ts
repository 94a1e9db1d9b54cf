import { afterAll, describe, expect, it } from 'vitest';
import { claimFieldsOf, judgeClaim } from '../../p2p/audit.ts';
import { keyFromSeed } from '../../p2p/keys.ts';
import { ReplayPool } from '../../p2p/replay-pool.ts';
import type { Claim } from '../../p2p/messages.ts';
import { editOutput, editWitness, guessBundles, guessSubmission } from './helpers.ts';

const pool = new ReplayPool(1);
afterAll(() => pool.close());

const claimOf = async (bytes: Uint8Array): Promise<Claim> => ({
  ...claimFieldsOf(bytes),
  claimer: (await keyFromSeed(new Uint8Array(32).fill(5))).publicKey,
  issuedAt: 1,
});

describe('the replay pool', () => {
  it('judges as runCage does: match, result divergence, witness divergence', async () => {
    const [good] = (await guessBundles([guessSubmission('good')])) as [Uint8Array];
    for (const [bytes, want] of [
      [good, null],
      [editOutput(good), 'result'],
      [editWitness(good, 0), 'witness'],
    ] as const) {
      const claim = await claimOf(bytes);
      const viaPool = await pool.judge(claim, bytes);
      const viaCage = await judgeClaim(claim, bytes);
      expect(viaPool).toEqual(viaCage);
      expect('divergence' in viaPool && (viaPool.divergence?.kind ?? null)).toBe(want);
    }
  });

  it('judges claims sent together each on its own: a garbage or lying bundle among them fails alone', async () => {
    const two = await guessBundles([guessSubmission('good'), guessSubmission('mediocre')]);
    const [good, mediocre] = two as [Uint8Array, Uint8Array];
    const edited = editOutput(mediocre);
    const garbage = good.slice();
    garbage[good.length - 3]! ^= 0xff;
    const goodClaim = await claimOf(good);
    const cases: [Claim, Uint8Array][] = [
      [goodClaim, good],
      [await claimOf(edited), edited],
      [goodClaim, garbage],
      [{ ...(await claimOf(mediocre)), score: 1 }, mediocre],
      [await claimOf(mediocre), mediocre],
      [goodClaim, new Uint8Array(0)],
      [goodClaim, good],
    ];
    const kept = cases.map(([, b]) => b.slice());
    // All at once: the pool sends its thread the claims that wait together in one job.
    const viaPool = await Promise.all(cases.map(([c, b]) => pool.judge(c, b)));
    const viaCage = await Promise.all(cases.map(([c, b]) => judgeClaim(c, b)));
    expect(viaPool).toEqual(viaCage);
    expect(viaPool.map((j) => ('outcome' in j ? (j.divergence?.kind ?? j.outcome) : 'abstain'))).toEqual([
      'match',
      'result',
      'bundle',
      'bundle',
      'match',
      'bundle',
      'match',
    ]);
    // The caller's bytes are copied, never moved away from it.
    cases.forEach(([, b], i) => expect(b).toEqual(kept[i]));
  });

  it('refuses judgements once closed', async () => {
    const closed = new ReplayPool(1);
    await closed.close();
    const [good] = (await guessBundles([guessSubmission('good')])) as [Uint8Array];
    await expect(closed.judge(await claimOf(good), good)).rejects.toMatchObject({ code: 'DL_ERR_CAGE_POOL_CLOSED' });
  });
});
