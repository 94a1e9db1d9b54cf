/**
 * Signed batches (docs/p2p.md, "Batches"): every message of a batch verifies offline on its own;
 * mutated, oversized, duplicated, mixed-signer and over-rate batches are refused whole, with coded
 * errors and the sender penalised, and nothing of them is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { blake3 } from '../../index.ts';
import { claimFieldsOf } from '../../p2p/audit.ts';
import { BUNDLES_PROTOCOL, fetchBundlesOver } from '../../p2p/bundle-protocol.ts';
import { decodeBatch, MAX_BATCH_BYTES, MAX_BATCH_ITEMS, openBatch, signBatch } from '../../p2p/batch.ts';
import { merkleLevels, pathOf, rootOf } from '../../p2p/batch-proof.ts';
import { keyFromSeed, type NodeKey } from '../../p2p/keys.ts';
import { CLAIM_KIND, claimBody, openEnvelope, signClaim, VERDICT_KIND, verdictBody } from '../../p2p/messages.ts';
import type { P2PNode } from '../../p2p/node.ts';
import { DISCONNECT_SCORE } from '../../p2p/peers.ts';
import { leafHash, merkleRoot, inclusionProof } from '../../runtime/witness/merkle.ts';
import { pack, unpackCanonical } from '../../p2p/wire.ts';
import { startCluster, waitFor } from './cluster.ts';
import { guessBundles, guessSubmission } from './helpers.ts';

let bundle: Uint8Array;
let a: NodeKey;
let b: NodeKey;
let victim: P2PNode;
let strict: P2PNode;

const claimOf = (key: NodeKey, issuedAt: number): Uint8Array =>
  claimBody({ ...claimFieldsOf(bundle), issuedAt, claimer: key.publicKey });

const same = (x: Uint8Array, y: Uint8Array): boolean => Buffer.from(x).equals(Buffer.from(y));

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? `uncoded: ${(e as Error).message}`;
  }
}

beforeAll(async () => {
  [bundle] = (await guessBundles([guessSubmission('good')])) as [Uint8Array];
  a = await keyFromSeed(new Uint8Array(32).fill(141));
  b = await keyFromSeed(new Uint8Array(32).fill(142));
  [victim] = await startCluster(1, { quorum: { k: 1, expiryMs: 60_000 } }, 150);
  [strict] = await startCluster(
    1,
    {
      quorum: { k: 1, expiryMs: 60_000 },
      limits: { bundleBytes: 1 << 20, messagesPerSecond: 1, burst: 10, syncItems: 100 },
    },
    160,
  );
});
afterAll(async () => {
  await victim?.stop();
  await strict?.stop();
});

describe('the batch format', () => {
  it('builds the same tree and proofs as the witness Merkle tree', () => {
    for (const n of [1, 2, 3, 5, 8, 13, 64]) {
      const leaves = Array.from({ length: n }, (_, i) => Uint8Array.of(i, n));
      const levels = merkleLevels(leaves.map(leafHash));
      expect(rootOf(levels)).toEqual(merkleRoot(leaves));
      for (let i = 0; i < n; i++) expect(pathOf(levels, i)).toEqual(inclusionProof(leaves.map(leafHash), i).path);
    }
  });

  it('signs once, and each message of the batch verifies offline on its own with the same id', async () => {
    const bodies = Array.from({ length: 5 }, (_, i) => claimOf(a, 1000 + i));
    const { batch, envelopes } = await signBatch(a, CLAIM_KIND, bodies);
    const opened = await openBatch(decodeBatch(batch));
    for (let i = 0; i < bodies.length; i++) {
      const o = await openEnvelope(envelopes[i]!);
      expect(o.idHex).toBe(Buffer.from(blake3(bodies[i]!)).toString('hex'));
      expect(same(o.envelope, opened[i]!.envelope)).toBe(true);
      expect(o.kind === CLAIM_KIND && o.claim.issuedAt).toBe(1000 + i);
    }
    // A message taken out of its batch and altered anywhere fails with a coded error, never verifies.
    const env = envelopes[3]!;
    for (let at = 0; at < env.length; at += 3) {
      const m = env.slice();
      m[at]! ^= 0x41;
      expect(await codeOf(openEnvelope(m))).toMatch(/^DL_ERR_P2P_/);
    }
    // A proof for another index, or a message of another batch with this batch's root, does not verify.
    const other = await signBatch(a, CLAIM_KIND, [claimOf(a, 7)]);
    const swapped = pack([CLAIM_KIND, bodies[0], ...(fieldsOf(envelopes[1]!).slice(2) as unknown[])]);
    expect(await codeOf(openEnvelope(swapped))).toBe('DL_ERR_P2P_BAD_SIGNATURE');
    const foreign = pack([CLAIM_KIND, bodies[0], ...(fieldsOf(other.envelopes[0]!).slice(2) as unknown[])]);
    expect(await codeOf(openEnvelope(foreign))).toBe('DL_ERR_P2P_BAD_SIGNATURE');
  });

  it('refuses inconsistent batches whole with coded errors', async () => {
    const one = claimOf(a, 1);
    // The same message twice.
    expect(
      await codeOf(() =>
        decodeBatch(pack(['docklock/batch', 1, CLAIM_KIND, a.publicKey, [one, one], new Uint8Array(64)])),
      ),
    ).toBe('DL_ERR_P2P_BATCH');
    // Empty, too many, oversized, another version, a single message where a batch belongs.
    expect(
      await codeOf(() => decodeBatch(pack(['docklock/batch', 1, CLAIM_KIND, a.publicKey, [], new Uint8Array(64)]))),
    ).toBe('DL_ERR_P2P_BATCH');
    const many = Array.from({ length: MAX_BATCH_ITEMS + 1 }, (_, i) => claimOf(a, i));
    expect(
      await codeOf(() => decodeBatch(pack(['docklock/batch', 1, CLAIM_KIND, a.publicKey, many, new Uint8Array(64)]))),
    ).toBe('DL_ERR_P2P_SCHEMA');
    expect(await codeOf(() => decodeBatch(new Uint8Array(MAX_BATCH_BYTES + 1)))).toBe('DL_ERR_P2P_TOO_LARGE');
    expect(
      await codeOf(() => decodeBatch(pack(['docklock/batch', 2, CLAIM_KIND, a.publicKey, [one], new Uint8Array(64)]))),
    ).toBe('DL_ERR_P2P_VERSION');
    expect(await codeOf(async () => decodeBatch(await signClaim(a, { ...claimFieldsOf(bundle), issuedAt: 1 })))).toBe(
      'DL_ERR_P2P_VERSION',
    );
    // A message signed by someone else inside a's batch: the batch is refused.
    const mixed = await signBatch(a, CLAIM_KIND, [one, claimOf(b, 2)]);
    expect(await codeOf(openBatch(decodeBatch(mixed.batch)))).toBe('DL_ERR_P2P_BATCH');
    // A verdict body in a claim batch.
    const verdict = verdictBody({
      replayer: a.publicKey,
      issuedAt: 1,
      claimId: new Uint8Array(32),
      outcome: 'match',
      resultHash: new Uint8Array(32),
      divergence: null,
    });
    const wrongKind = await signBatch(a, CLAIM_KIND, [one, verdict]);
    expect(await codeOf(openBatch(decodeBatch(wrongKind.batch)))).toMatch(/^DL_ERR_P2P_(SCHEMA|VERSION)$/);
    // Signed by b but naming a: bad signature.
    const forged = await signBatch(b, CLAIM_KIND, [one]);
    const asA = pack(['docklock/batch', 1, CLAIM_KIND, a.publicKey, [one], decodeBatch(forged.batch).signature]);
    expect(await codeOf(openBatch(decodeBatch(asA)))).toBe('DL_ERR_P2P_BAD_SIGNATURE');
  });
});

/** The fields of a message envelope (tests splice proofs between messages). */
const fieldsOf = (env: Uint8Array): unknown[] => unpackCanonical(env, 'test') as unknown[];

describe('a node receiving batches', () => {
  it('accepts a valid batch once and stores every message with its own envelope', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => claimOf(a, Date.now() - 1000 + i));
    const { batch } = await signBatch(a, CLAIM_KIND, bodies);
    expect(await victim.ingestBatch(batch, 'honest')).toEqual({ result: 'accept' });
    expect(await victim.ingestBatch(batch, 'honest')).toEqual({ result: 'ignore' });
    for (const body of bodies) {
      const row = victim.store.claim(Buffer.from(blake3(body)).toString('hex'))!;
      expect(same((await openEnvelope(row.envelope)).body, body)).toBe(true);
    }
    // A message already held, sent again alone, is a duplicate.
    const { envelopes } = await signBatch(a, CLAIM_KIND, bodies.slice(0, 1));
    expect((await victim.ingest(envelopes[0]!, 'honest')).result).toBe('ignore');
    expect(victim.peers.score('honest')).toBe(0);
  });

  it('publishes the same claim twice at once as one message of one batch', async () => {
    const env = await signClaim(victim.key, { ...claimFieldsOf(bundle), issuedAt: Date.now() });
    const [x, y] = await Promise.all([victim.publishSigned(env, bundle), victim.publishSigned(env, bundle)]);
    expect(x).toBe(y);
    expect(victim.store.claim(x)?.claimer).toBe(victim.peerId);
  });

  it('refuses a batch with one bad message whole: nothing stored, sender penalised', async () => {
    const good = claimOf(a, Date.now() - 500);
    const future = claimOf(a, Date.now() + 3_600_000);
    const { batch } = await signBatch(a, CLAIM_KIND, [good, future]);
    const r = await victim.ingestBatch(batch, 'mixer');
    expect(r.result === 'reject' && r.code).toBe('DL_ERR_P2P_CLOCK');
    expect(victim.store.has('claim', Buffer.from(blake3(good)).toString('hex'))).toBe(false);
    expect(victim.peers.score('mixer')).toBeLessThan(0);
    // Another key's message inside the batch.
    const mixed = await signBatch(a, CLAIM_KIND, [good, claimOf(b, Date.now())]);
    const m = await victim.ingestBatch(mixed.batch, 'mixer-2');
    expect(m.result === 'reject' && m.code).toBe('DL_ERR_P2P_BATCH');
    expect(victim.store.has('claim', Buffer.from(blake3(good)).toString('hex'))).toBe(false);
    expect(victim.peers.score('mixer-2')).toBeLessThan(0);
    // The same message twice, and a batch over the size cap: refused, sender penalised, nothing stored.
    const twice = await signBatch(a, CLAIM_KIND, [good, good]);
    const d = await victim.ingestBatch(twice.batch, 'doubler');
    expect(d.result === 'reject' && d.code).toBe('DL_ERR_P2P_BATCH');
    const huge = await victim.ingestBatch(new Uint8Array(MAX_BATCH_BYTES + 1), 'bloater');
    expect(huge.result === 'reject' && huge.code).toBe('DL_ERR_P2P_TOO_LARGE');
    expect(victim.store.has('claim', Buffer.from(blake3(good)).toString('hex'))).toBe(false);
    for (const p of ['doubler', 'bloater']) expect(victim.peers.score(p)).toBeLessThan(0);
  });

  it('runs every cheap check of a batch before any re-check replay', async () => {
    const claim = claimOf(a, Date.now() - 100);
    expect((await victim.ingestBatch((await signBatch(a, CLAIM_KIND, [claim])).batch, 'honest-4')).result).toBe(
      'accept',
    );
    const claimId = blake3(claim);
    const diverge = verdictBody({
      replayer: b.publicKey,
      issuedAt: Date.now(),
      claimId,
      outcome: 'diverge',
      resultHash: new Uint8Array(32).fill(9),
      divergence: { kind: 'result' },
    });
    const badMatch = verdictBody({
      replayer: b.publicKey,
      issuedAt: Date.now(),
      claimId,
      outcome: 'match',
      resultHash: new Uint8Array(32).fill(8),
      divergence: null,
    });
    const rechecks = async (): Promise<number> =>
      (await victim.metrics.rechecks.get()).values.reduce((n, v) => n + v.value, 0);
    const before = await rechecks();
    const r = await victim.ingestBatch((await signBatch(b, VERDICT_KIND, [diverge, badMatch])).batch, 'liar-4');
    expect(r.result === 'reject' && r.code).toBe('DL_ERR_P2P_SCHEMA');
    expect(await rechecks()).toBe(before);
    expect(victim.store.verdictsOf(Buffer.from(claimId).toString('hex'))).toEqual([]);
  });

  it('rejects thousands of mutated batches with coded errors and penalises each sender, without a crash', async () => {
    const { batch } = await signBatch(
      a,
      CLAIM_KIND,
      Array.from({ length: 4 }, (_, i) => claimOf(a, 5000 + i)),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
            const m = batch.slice();
            m[at % m.length]! ^= x;
            return m;
          }),
          fc.nat({ max: batch.length - 1 }).map((k) => batch.subarray(0, k)),
          fc.uint8Array({ maxLength: 4096 }),
        ),
        async (m) => {
          const peer = `batch-fuzz-${n++ % 40}`;
          const r = await victim.ingestBatch(m, peer);
          expect(r.result).toBe('reject');
          if (r.result === 'reject') expect(r.code).toMatch(/^DL_ERR_P2P_/);
        },
      ),
      { numRuns: 2000 },
    );
    expect(victim.peers.score('batch-fuzz-0')).toBeLessThanOrEqual(DISCONNECT_SCORE);
    // The intact batch is still accepted afterwards.
    expect((await victim.ingestBatch(batch, 'honest-3')).result).toBe('accept');
  });

  it('counts the rate limit per message, not per batch', async () => {
    const now = Date.now();
    const over = await signBatch(
      a,
      CLAIM_KIND,
      Array.from({ length: 11 }, (_, i) => claimOf(a, now - 100 + i)),
    );
    expect((await strict.ingestBatch(over.batch, 'busy')).result).toBe('ignore');
    expect(strict.store.has('claim', Buffer.from(blake3(claimOf(a, now - 100))).toString('hex'))).toBe(false);
    expect(strict.peers.score('busy')).toBeLessThan(0);
    const within = await signBatch(
      a,
      CLAIM_KIND,
      Array.from({ length: 10 }, (_, i) => claimOf(a, now - 200 + i)),
    );
    expect((await strict.ingestBatch(within.batch, 'calm')).result).toBe('accept');
    await victim.idle();
    await strict.idle();
  });
});

describe('a burst of claims', () => {
  it('goes out in batches, its bundles fetched several per stream, and confirms everywhere', async () => {
    const subs = ['10', '20', '30', '40', '50'].map((t) => new TextEncoder().encode(t));
    const bundles = await guessBundles(subs);
    const nodes = await startCluster(3, { quorum: { k: 2, expiryMs: 120_000 } }, 170);
    try {
      const ids = await Promise.all(bundles.map((x) => nodes[0]!.publish(x)));
      await waitFor(
        () => ids.every((id) => nodes.every((n) => n.store.claim(id)?.state === 'confirmed')),
        120_000,
        'every claim confirmed on every node',
      );
      const batches = async (field: '_sum' | '_count'): Promise<number | undefined> =>
        (await nodes[0]!.metrics.batchItems.get()).values.find(
          (v) => v.metricName?.endsWith(field) && v.labels.kind === 'claim',
        )?.value;
      const multiStreams = async (n: P2PNode): Promise<number> =>
        (await n.metrics.bundleStreams.get()).values.find((v) => v.labels.protocol === 'bundles')?.value ?? 0;
      // Five claims in fewer than five gossip messages; each replayer fetched some in one stream.
      expect(await batches('_sum')).toBe(5);
      expect(await batches('_count')).toBeLessThan(5);
      for (const n of nodes.slice(1)) expect(await multiStreams(n)).toBeGreaterThan(0);
    } finally {
      await Promise.all(nodes.map((n) => n.stop()));
    }
  });
});

describe('/docklock/bundles/1', () => {
  it('serves one request at most the size cap in all: a bundle past it is refused in place, the rest still served', async () => {
    // strict's cap is 1 MiB: two bundles of 600 KB fit one each, not both in one request.
    const one = new Uint8Array(600_000).fill(1);
    const two = new Uint8Array(600_000).fill(2);
    const three = new Uint8Array(1000).fill(3);
    for (const x of [one, two, three]) await strict.bundles.put(x);
    const s = await victim.libp2p.dialProtocol(strict.libp2p.getMultiaddrs()[0]!, BUNDLES_PROTOCOL);
    const got = await fetchBundlesOver(
      s,
      [one, two, three, new Uint8Array(7)].map((x) => ({ hash: blake3(x), size: x.length })),
      1 << 20,
    );
    expect(got[0] instanceof Uint8Array && same(got[0], one)).toBe(true);
    expect((got[1] as { code?: string }).code).toBe('DL_ERR_P2P_BUNDLE_TOO_LARGE');
    expect(got[2] instanceof Uint8Array && same(got[2], three)).toBe(true);
    expect((got[3] as { code?: string }).code).toBe('DL_ERR_P2P_BUNDLE_NOT_FOUND');
  });
});
