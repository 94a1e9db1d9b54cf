import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { keyFromSeed } from '../../p2p/keys.ts';
import {
  CLAIM_KIND,
  claimBody,
  MAX_MESSAGE_BYTES,
  openEnvelope,
  seal,
  signClaim,
  signVerdict,
  type Claim,
} from '../../p2p/messages.ts';
import { pack } from '../../p2p/wire.ts';
import { claimFieldsOf } from '../../p2p/audit.ts';
import { guessBundles, guessSubmission } from './helpers.ts';

const seed = (n: number): Uint8Array => new Uint8Array(32).fill(n);
let fields: Omit<Claim, 'claimer' | 'issuedAt'>;

beforeAll(async () => {
  const [b] = await guessBundles([guessSubmission('good')]);
  fields = claimFieldsOf(b!);
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'none';
  } catch (e) {
    return (e as { code?: string }).code ?? 'uncoded';
  }
}

describe('claims and verdicts', () => {
  it('round-trip through a signed envelope, and the id is BLAKE3 of the body', async () => {
    const key = await keyFromSeed(seed(1));
    const env = await signClaim(key, { ...fields, issuedAt: 1_700_000_000_000 });
    const o = await openEnvelope(env);
    expect(o.kind).toBe(CLAIM_KIND);
    if (o.kind !== CLAIM_KIND) return;
    expect(o.claim).toEqual({ ...fields, issuedAt: 1_700_000_000_000, claimer: key.publicKey });
    expect(o.signer).toEqual(key.publicKey);
    const v = await openEnvelope(
      await signVerdict(await keyFromSeed(seed(2)), {
        issuedAt: 5,
        claimId: o.id,
        outcome: 'match',
        resultHash: fields.resultHash,
        divergence: null,
      }),
    );
    expect(v.kind).toBe('docklock/verdict');
  });

  it('rejects every mutated byte of an envelope (property)', async () => {
    const key = await keyFromSeed(seed(3));
    const env = await signClaim(key, { ...fields, issuedAt: 42 });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: env.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, x) => {
        const m = env.slice();
        m[at]! ^= x;
        expect(await codeOf(openEnvelope(m))).toMatch(/^DL_ERR_P2P_/);
      }),
      { numRuns: 400 },
    );
  });

  it('rejects truncations, appended bytes, random bytes and oversized messages with coded errors', async () => {
    const key = await keyFromSeed(seed(4));
    const env = await signClaim(key, { ...fields, issuedAt: 42 });
    for (let n = 0; n < env.length; n += 7)
      expect(await codeOf(openEnvelope(env.subarray(0, n)))).toMatch(/^DL_ERR_P2P_/);
    expect(await codeOf(openEnvelope(Uint8Array.of(...env, 0)))).toBe('DL_ERR_P2P_MALFORMED');
    expect(await codeOf(openEnvelope(new Uint8Array(MAX_MESSAGE_BYTES + 1)))).toBe('DL_ERR_P2P_TOO_LARGE');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (b) => {
        expect(await codeOf(openEnvelope(b))).toMatch(/^DL_ERR_P2P_/);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a message signed by someone other than its named signer', async () => {
    const a = await keyFromSeed(seed(5));
    const b = await keyFromSeed(seed(6));
    const forged = await seal(b, CLAIM_KIND, claimBody({ ...fields, issuedAt: 1, claimer: a.publicKey }));
    expect(await codeOf(openEnvelope(forged))).toBe('DL_ERR_P2P_BAD_SIGNATURE');
  });

  it('rejects another format version and non-canonical encodings', async () => {
    const key = await keyFromSeed(seed(7));
    const body = claimBody({ ...fields, issuedAt: 1, claimer: key.publicKey });
    const v2 = body.slice();
    expect(v2[18]).toBe(1); // array16 (3 bytes), fixstr of 14 (15 bytes), then the version
    v2[18] = 2;
    expect(await codeOf(openEnvelope(await seal(key, CLAIM_KIND, v2)))).toBe('DL_ERR_P2P_VERSION');
    // A uint8-encoded 1 (0xcc 0x01) where canonical MessagePack has a positive fixint.
    const wide = Uint8Array.of(...body.subarray(0, 18), 0xcc, 0x01, ...body.subarray(19));
    expect(await codeOf(openEnvelope(await seal(key, CLAIM_KIND, wide)))).toBe('DL_ERR_P2P_MALFORMED');
    expect(await codeOf(openEnvelope(pack(['docklock/claim', body])))).toBe('DL_ERR_P2P_SCHEMA');
  });
});

describe('regressions', () => {
  it('decodes the score of a claim that sits inside a larger buffer (a Buffer view, not a copy)', async () => {
    const key = await keyFromSeed(seed(8));
    const env = await signClaim(key, { ...fields, issuedAt: 42 });
    const big = Buffer.alloc(env.length + 100, 7);
    big.set(env, 50);
    const o = await openEnvelope(big.subarray(50, 50 + env.length));
    expect(o.kind === CLAIM_KIND && o.claim.score).toBe(fields.score);
  });
});
