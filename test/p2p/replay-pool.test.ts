import { afterAll, describe, expect, it } from 'vitest';
import { claimFieldsOf, judgeClaim } from '../../p2p/audit.ts';
import { keyFromSeed } from '../../p2p/keys.ts';
import { ReplayPool } from '../../p2p/replay-pool.ts';
import { editOutput, editWitness, guessBundles, guessSubmission } from './helpers.ts';

const pool = new ReplayPool(1);
afterAll(() => pool.close());

describe('the replay pool', () => {
  it('judges as runCage does: match, result divergence, witness divergence', async () => {
    const [good] = (await guessBundles([guessSubmission('good')])) as [Uint8Array];
    const key = await keyFromSeed(new Uint8Array(32).fill(5));
    for (const [bytes, want] of [
      [good, null],
      [editOutput(good), 'result'],
      [editWitness(good, 0), 'witness'],
    ] as const) {
      const claim = { ...claimFieldsOf(bytes), claimer: key.publicKey, issuedAt: 1 };
      const viaPool = await judgeClaim(claim, bytes, pool.replay);
      const viaCage = await judgeClaim(claim, bytes);
      expect(viaPool).toEqual(viaCage);
      expect('divergence' in viaPool && (viaPool.divergence?.kind ?? null)).toBe(want);
    }
  });
});
