import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { keyFromSeed, type NodeKey } from '../../p2p/keys.ts';
import { openEnvelope, signClaim, signVerdict } from '../../p2p/messages.ts';
import { claimFieldsOf, judgeClaim } from '../../p2p/audit.ts';
import { decodeBundle, encodeBundle } from '../../runtime/bundle.ts';
import { WASI_LEVEL } from '../../runtime/cage/capabilities.ts';
import { encodeDispute, verifyDispute } from '../../p2p/dispute.ts';
import { editOutput, editWitness, guessBundles, guessSubmission } from './helpers.ts';

let honest: Uint8Array;
let claimer: NodeKey;
let replayer: NodeKey;

beforeAll(async () => {
  [honest] = (await guessBundles([guessSubmission('good')])) as [Uint8Array];
  claimer = await keyFromSeed(new Uint8Array(32).fill(9));
  replayer = await keyFromSeed(new Uint8Array(32).fill(10));
});

async function judgeAndFile(
  claimEnv: Uint8Array,
  bundle: Uint8Array,
): Promise<{ outcome: string; file: Uint8Array | null; kind: string | null }> {
  const c = await openEnvelope(claimEnv);
  if (c.kind !== 'docklock/claim') throw new Error('not a claim');
  const j = await judgeClaim(c.claim, bundle);
  if ('abstain' in j) throw new Error(j.abstain);
  const v = await signVerdict(replayer, { ...j, issuedAt: 1, claimId: c.id });
  return {
    outcome: j.outcome,
    kind: j.divergence?.kind ?? null,
    file: j.outcome === 'diverge' ? encodeDispute(claimEnv, v, j.divergence?.kind === 'bundle' ? bundle : null) : null,
  };
}

describe('judging claims against their bundles', () => {
  it('an honest claim replays to a match', async () => {
    const env = await signClaim(claimer, { ...claimFieldsOf(honest), issuedAt: 1 });
    expect((await judgeAndFile(env, honest)).outcome).toBe('match');
  });

  it('a claim whose score its bundle contradicts is disputed, and the dispute proves it offline', async () => {
    const env = await signClaim(claimer, { ...claimFieldsOf(honest), score: 0.999, issuedAt: 2 });
    const r = await judgeAndFile(env, honest);
    expect(r).toMatchObject({ outcome: 'diverge', kind: 'bundle' });
    const report = await verifyDispute(r.file!);
    expect(report).toMatchObject({ kind: 'bundle', strength: 'proof' });
    expect(report.finding).toContain('score');
  });

  it('a bundle from a newer docklock (a higher WASI level) is abstained from, never disputed', async () => {
    const b = decodeBundle(honest);
    const newer = encodeBundle({ ...b, witness: b.witness, wasiLevel: WASI_LEVEL + 1 });
    // Claim fields come from the bytes this node can read; the newer bytes are what it is sent.
    const env = await signClaim(claimer, { ...claimFieldsOf(honest), issuedAt: 5 });
    const c = await openEnvelope(env);
    if (c.kind !== 'docklock/claim') throw new Error('not a claim');
    expect(await judgeClaim(c.claim, newer)).toEqual({ abstain: expect.stringContaining('newer docklock') });
  });

  it('an edited output replays to a result divergence', async () => {
    const edited = editOutput(honest, 1);
    const env = await signClaim(claimer, { ...claimFieldsOf(edited), issuedAt: 3 });
    const r = await judgeAndFile(env, edited);
    expect(r).toMatchObject({ outcome: 'diverge', kind: 'result' });
    expect(await verifyDispute(r.file!)).toMatchObject({ kind: 'result', strength: 'signed' });
  });

  it('an edited witness entry is pinned by an inclusion proof against the claimed root; a tampered proof is rejected', async () => {
    const edited = editWitness(honest, 0);
    const env = await signClaim(claimer, { ...claimFieldsOf(edited), issuedAt: 4 });
    const r = await judgeAndFile(env, edited);
    expect(r).toMatchObject({ outcome: 'diverge', kind: 'witness' });
    expect(await verifyDispute(r.file!)).toMatchObject({ kind: 'witness', strength: 'pinned' });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: r.file!.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, x) => {
        const m = r.file!.slice();
        m[at]! ^= x;
        let code = 'none';
        try {
          await verifyDispute(m);
        } catch (e) {
          code = (e as { code?: string }).code ?? 'uncoded';
        }
        expect(code).toMatch(/^DL_ERR_P2P_/);
      }),
      { numRuns: 300 },
    );
  });
});
