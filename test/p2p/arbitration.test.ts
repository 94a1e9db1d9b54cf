/**
 * Re-checking disputes: a divergence another node signs is re-checked against this node's own
 * replay before it disputes a claim. False `result`, `bundle` and `witness` divergences (the last
 * with a valid inclusion proof of the claimed entry) on an honest claim are rejected on every node
 * and their signer and relayer penalised; a true one on a dishonest claim is accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBundle, encodeEntry, inclusionProof, leafHash } from '../../index.ts';
import { keyFromSeed, peerIdOf, type NodeKey } from '../../p2p/keys.ts';
import { openEnvelope, signVerdict, type Divergence } from '../../p2p/messages.ts';
import type { P2PNode } from '../../p2p/node.ts';
import { startCluster, states, waitFor } from './cluster.ts';
import { editOutput, guessBundles, guessSubmission } from './helpers.ts';

let nodes: P2PNode[] = [];
let good: Uint8Array;
let edited: Uint8Array;
let liar: NodeKey;

beforeAll(async () => {
  const [g, m] = (await guessBundles([guessSubmission('good'), guessSubmission('mediocre')])) as [
    Uint8Array,
    Uint8Array,
  ];
  good = g;
  edited = editOutput(m, 1);
  liar = await keyFromSeed(new Uint8Array(32).fill(150));
  nodes = await startCluster(3, { quorum: { k: 1, expiryMs: 60_000 } }, 140);
});
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

async function divergence(claimId: string, d: Divergence, resultHash: Uint8Array | null): Promise<Uint8Array> {
  return signVerdict(liar, {
    issuedAt: Date.now(),
    claimId: Buffer.from(claimId, 'hex'),
    outcome: 'diverge',
    resultHash,
    divergence: d,
  });
}

describe('re-checking divergences', () => {
  it('rejects false divergences on an honest claim everywhere and penalises their signer and relayer', async () => {
    const id = await nodes[0]!.publish(good);
    await waitFor(() => states(nodes, id).every((s) => s === 'confirmed'), 60_000, 'honest claim confirmed');
    const b = decodeBundle(good);
    const leaves = b.witness.map((e) => leafHash(encodeEntry(e)));
    expect(leaves.length).toBeGreaterThan(0);
    const proof = inclusionProof(leaves, leaves.length - 1);
    const lies = [
      await divergence(id, { kind: 'result' }, new Uint8Array(32).fill(7)),
      await divergence(id, { kind: 'bundle', field: 'score', claimed: '1', actual: '0.5' }, null),
      // A valid proof that the claimed entry is in the claimed root says nothing about the replay.
      await divergence(
        id,
        {
          kind: 'witness',
          index: leaves.length - 1,
          treeSize: leaves.length,
          claimedLeaf: proof.leafHash,
          actualLeaf: new Uint8Array(32).fill(9),
          path: proof.path,
          field: 'result',
        },
        null,
      ),
    ];
    for (const [i, n] of nodes.entries())
      for (const lie of lies) {
        const r = await n.ingest(lie, `relay-${i}`);
        expect(r).toMatchObject({ result: 'reject', code: 'DL_ERR_P2P_DISPUTE_INVALID' });
      }
    expect(states(nodes, id)).toEqual(['confirmed', 'confirmed', 'confirmed']);
    for (const [i, n] of nodes.entries()) {
      expect(n.peers.score(`relay-${i}`)).toBeLessThan(0);
      expect(n.peers.score(peerIdOf(liar.publicKey))).toBeLessThan(0);
      expect(n.store.verdictsOf(id).every((v) => v.outcome === 'match')).toBe(true);
    }
  });

  it('accepts a true divergence on a dishonest claim (the re-check agrees)', async () => {
    const id = await nodes[1]!.publish(edited);
    await waitFor(() => states(nodes, id).every((s) => s === 'disputed'), 60_000, 'edited claim disputed');
    const c = await openEnvelope(nodes[1]!.store.claim(id)!.envelope);
    expect(c.kind).toBe('docklock/claim');
    const other = await keyFromSeed(new Uint8Array(32).fill(151));
    const truth = await signVerdict(other, {
      issuedAt: Date.now(),
      claimId: c.id,
      outcome: 'diverge',
      resultHash: new Uint8Array(32).fill(3),
      divergence: { kind: 'result' },
    });
    for (const [i, n] of nodes.entries()) {
      expect((await n.ingest(truth, `relay-ok-${i}`)).result).toBe('accept');
      expect(n.peers.score(`relay-ok-${i}`)).toBe(0);
    }
  });
});
