import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { P2PNode } from '../../p2p/node.ts';
import { startCluster, states, waitFor } from './cluster.ts';
import { guessBundles, guessSubmission } from './helpers.ts';

let nodes: P2PNode[] = [];
let bundles: Uint8Array[];

beforeAll(async () => {
  bundles = await guessBundles([guessSubmission('good'), guessSubmission('mediocre')]);
  nodes = await startCluster(4, {}, 40);
});
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

describe('an in-process cluster of 4 nodes (k = 3)', () => {
  it('confirms an honest claim on every node', async () => {
    const id = await nodes[0]!.publish(bundles[0]!);
    await waitFor(() => states(nodes, id).every((s) => s === 'confirmed'), 30_000, 'confirmed everywhere');
    expect(nodes[1]!.store.verdictsOf(id).filter((v) => v.outcome === 'match').length).toBe(3);
  });
});
