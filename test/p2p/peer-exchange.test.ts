/**
 * Peer exchange on `docklock/peers/1`: nodes that bootstrap from one peer meet each other, and an
 * announcement that speaks for another peer is rejected with its sender penalised.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { gossipsub } from '@libp2p/gossipsub';
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys';
import { parseNodeConfig } from '../../p2p/config.ts';
import { keyFromSeed } from '../../p2p/keys.ts';
import { P2PNode, PEERS_TOPIC, TOPIC } from '../../p2p/node.ts';
import { waitFor } from './cluster.ts';

const nodes: P2PNode[] = [];
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all([...nodes.map((n) => n.stop()), ...stops.map((s) => s())]);
});

async function start(seed: number, bootstrap: string[]): Promise<P2PNode> {
  const dir = mkdtempSync(join(tmpdir(), 'dl-p2p-px-'));
  const config = parseNodeConfig({ key: 'unused', dataDir: dir, bootstrap, discovery: { intervalMs: 300 } }, dir);
  const n = await P2PNode.start(config, await keyFromSeed(new Uint8Array(32).fill(seed)));
  nodes.push(n);
  return n;
}

describe('peer exchange', () => {
  it('connects two nodes that only know a third', async () => {
    const hub = await start(160, []);
    const addr = [hub.libp2p.getMultiaddrs()[0]!.toString()];
    const a = await start(161, addr);
    const b = await start(162, addr);
    await waitFor(() => a.libp2p.getConnections(b.libp2p.peerId).length > 0, 30_000, 'a and b connected');
    await waitFor(
      () => a.libp2p.services.pubsub.getSubscribers(TOPIC).some((p) => p.equals(b.libp2p.peerId)),
      30_000,
      'b on a’s claim topic',
    );
  });

  it('rejects an announcement of another peer’s key and penalises its sender', async () => {
    const victim = nodes[0]!;
    const liar = await createLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) },
    });
    stops.push(async () => {
      await liar.stop();
    });
    await liar.dial(victim.libp2p.getMultiaddrs()[0]!);
    liar.services.pubsub.subscribe(PEERS_TOPIC);
    const me = liar.peerId.toString();
    await waitFor(
      () => victim.libp2p.services.pubsub.getSubscribers(PEERS_TOPIC).some((p) => p.toString() === me),
      20_000,
      'liar on the peers topic',
    );
    const other = publicKeyToProtobuf((await generateKeyPair('Ed25519')).publicKey);
    const forged = Uint8Array.of(0x0a, other.length, ...other);
    for (let i = 0; i < 20 && victim.peers.score(me) === 0; i++) {
      await liar.services.pubsub.publish(PEERS_TOPIC, forged).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
    await waitFor(() => victim.peers.score(me) < 0, 20_000, 'liar penalised');
  });
});
