/** Two groups of real libp2p nodes on 127.0.0.1, each with claims of its own, heal and converge (k = 2). */
import { afterAll, describe, expect, it } from 'vitest';
import type { P2PNode } from '../../p2p/node.ts';
import { startCluster, states, waitFor } from './cluster.ts';
import { guessBundles, guessSubmission } from './helpers.ts';

let nodes: P2PNode[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

describe('a partition', () => {
  it('heals: claims of both sides reach the same states on every node', async () => {
    const [a, b] = (await guessBundles([guessSubmission('good'), guessSubmission('mediocre')])) as [
      Uint8Array,
      Uint8Array,
    ];
    const quorum = { k: 2, expiryMs: 60_000 };
    const left = await startCluster(3, { quorum }, 60);
    const right = await startCluster(2, { quorum }, 70);
    nodes = [...left, ...right];
    const idA = await left[0]!.publish(a);
    const idB = await right[0]!.publish(b);
    await waitFor(() => states(left, idA).every((s) => s === 'confirmed'), 30_000, 'A confirmed on the left');
    // The right side has one possible replayer for its own claim: it cannot reach k = 2 alone.
    await right[1]!.idle();
    expect(states(right, idB)).toEqual(['pending', 'pending']);
    expect(states(right, idA)).toEqual([undefined, undefined]);

    for (const l of left) for (const r of right) await l.libp2p.dial(r.libp2p.getMultiaddrs()[0]!);
    await waitFor(
      () => states(nodes, idA).every((s) => s === 'confirmed') && states(nodes, idB).every((s) => s === 'confirmed'),
      45_000,
      'both claims confirmed everywhere',
    );
    const view = (n: P2PNode): string[] =>
      n.store
        .claims(100)
        .map((c) => `${c.id}:${c.state}`)
        .sort();
    for (const n of nodes) expect(view(n)).toEqual(view(nodes[0]!));
  });
});
