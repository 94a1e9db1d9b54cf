/** In-process clusters of real libp2p nodes on 127.0.0.1 (each with its own key, store and port). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNodeConfig, type NodeConfig } from '../../p2p/config.ts';
import { keyFromSeed } from '../../p2p/keys.ts';
import { P2PNode, TOPIC } from '../../p2p/node.ts';
import type { ClaimState } from '../../p2p/store.ts';

export async function startCluster(n: number, overrides: Partial<NodeConfig> = {}, seedBase = 1): Promise<P2PNode[]> {
  const nodes: P2PNode[] = [];
  for (let i = 0; i < n; i++) {
    const dir = mkdtempSync(join(tmpdir(), `dl-p2p-node${i}-`));
    const bootstrap = nodes.map((m) => m.libp2p.getMultiaddrs()[0]!.toString());
    const config: NodeConfig = { ...parseNodeConfig({ key: 'unused', dataDir: dir, bootstrap }, dir), ...overrides };
    nodes.push(await P2PNode.start(config, await keyFromSeed(new Uint8Array(32).fill(seedBase + i))));
  }
  await waitFor(
    () => nodes.every((m) => m.libp2p.services.pubsub.getSubscribers(TOPIC).length >= n - 1),
    20_000,
    'topic mesh',
  );
  return nodes;
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function states(nodes: P2PNode[], claimId: string): (ClaimState | undefined)[] {
  return nodes.map((m) => m.store.claim(claimId)?.state);
}
