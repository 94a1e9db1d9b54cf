/**
 * Hostile peers: thousands of mutated gossip messages and bundle streams are rejected with coded
 * errors and the sender penalised, down to a disconnect; the node keeps working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { gossipsub, type GossipSub } from '@libp2p/gossipsub';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { blake3 } from '../../index.ts';
import { claimFieldsOf } from '../../p2p/audit.ts';
import { BUNDLE_PROTOCOL, BUNDLES_PROTOCOL, fetchBundleOver, fetchBundlesOver } from '../../p2p/bundle-protocol.ts';
import { keyFromSeed } from '../../p2p/keys.ts';
import { openEnvelope, signClaim, signVerdict } from '../../p2p/messages.ts';
import { MAX_ORPHAN_BYTES, TOPIC, type P2PNode } from '../../p2p/node.ts';
import { DISCONNECT_SCORE } from '../../p2p/peers.ts';
import { startCluster, waitFor } from './cluster.ts';
import { guessBundles, guessSubmission } from './helpers.ts';

let victim: P2PNode;
let attacker: Libp2p<{ pubsub: GossipSub }>;
let bundle: Uint8Array;
let claimEnv: Uint8Array;

beforeAll(async () => {
  [bundle] = (await guessBundles([guessSubmission('good')])) as [Uint8Array];
  [victim] = await startCluster(1, { quorum: { k: 1, expiryMs: 60_000 } }, 80);
  claimEnv = await signClaim(await keyFromSeed(new Uint8Array(32).fill(81)), {
    ...claimFieldsOf(bundle),
    issuedAt: Date.now(),
  });
  attacker = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      pubsub: gossipsub({
        globalSignaturePolicy: 'StrictSign',
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
      }),
    },
  });
});
afterAll(async () => {
  await attacker?.stop();
  await victim?.stop();
});

function mutate(env: Uint8Array, at: number, x: number): Uint8Array {
  const m = env.slice();
  m[at % m.length]! ^= x;
  return m;
}

describe('fuzzed gossip', () => {
  it('rejects thousands of mutated and random messages with coded errors, penalising each sender', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, x]) => mutate(claimEnv, at, x)),
          fc.uint8Array({ maxLength: 2048 }),
        ),
        async (m) => {
          const peer = `fuzz-${n++ % 50}`;
          const r = await victim.ingest(m, peer);
          expect(r.result).toBe('reject');
          if (r.result === 'reject') expect(r.code).toMatch(/^DL_ERR_P2P_/);
        },
      ),
      { numRuns: 3000 },
    );
    expect(victim.peers.score('fuzz-0')).toBeLessThanOrEqual(DISCONNECT_SCORE);
    // Replays of a valid message are ignored, not re-processed; a verdict on an unknown claim is held, not forwarded.
    expect((await victim.ingest(claimEnv, 'honest')).result).toBe('accept');
    expect((await victim.ingest(claimEnv, 'honest')).result).toBe('ignore');
    // A held message is dropped by id before its signature is checked: a copy with another signature is a duplicate.
    expect((await victim.ingest(mutate(claimEnv, claimEnv.length - 1, 1), 'honest')).result).toBe('ignore');
    const stray = await signVerdict(await keyFromSeed(new Uint8Array(32).fill(82)), {
      issuedAt: 1,
      claimId: new Uint8Array(32),
      outcome: 'match',
      resultHash: new Uint8Array(32),
      divergence: null,
    });
    expect((await victim.ingest(stray, 'honest')).result).toBe('ignore');
    expect(victim.peers.score('honest')).toBe(0);
  });

  it('disconnects and refuses a real peer that gossips invalid messages', async () => {
    await attacker.dial(victim.libp2p.getMultiaddrs()[0]!);
    attacker.services.pubsub.subscribe(TOPIC);
    const me = attacker.peerId.toString();
    await waitFor(
      () => victim.libp2p.services.pubsub.getSubscribers(TOPIC).some((p) => p.toString() === me),
      20_000,
      'attacker on the topic',
    );
    for (let i = 0; i < 200 && !victim.peers.banned(me); i++) {
      await attacker.services.pubsub.publish(TOPIC, mutate(claimEnv, 40 + i, 1 + (i % 254))).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor(
      () => victim.peers.banned(me) && victim.libp2p.getConnections(attacker.peerId).length === 0,
      20_000,
      'attacker banned and disconnected',
    );
    // The gater refuses it: a redial never leaves a connection on the victim's side.
    await attacker.dial(victim.libp2p.getMultiaddrs()[0]!).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    expect(victim.libp2p.getConnections(attacker.peerId).length).toBe(0);
  });
});

describe('a hostile peer flooding verdicts on made-up claims', () => {
  it('holds at most MAX_ORPHAN_BYTES of them, oldest dropped first, and still counts an honest late claim', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, (_, i) => keyFromSeed(new Uint8Array(32).fill(100 + i))));
    // The largest verdict the schema allows: a witness divergence with a 64-hash proof path (~2.4 KiB).
    const big = (i: number): Promise<Uint8Array> =>
      signVerdict(keys[i % keys.length]!, {
        issuedAt: i,
        claimId: blake3(Uint8Array.of(i & 255, (i >> 8) & 255, 7)),
        outcome: 'diverge',
        resultHash: null,
        divergence: {
          kind: 'witness',
          index: i,
          treeSize: i + 1,
          claimedLeaf: new Uint8Array(32).fill(1),
          actualLeaf: new Uint8Array(32).fill(2),
          path: Array.from({ length: 64 }, () => new Uint8Array(32).fill(i & 255)),
          field: 'result',
        },
      });
    const size = (await big(0)).length;
    const n = Math.ceil((2 * MAX_ORPHAN_BYTES) / size); // twice the cap
    for (let i = 0; i < n; i++) {
      expect((await victim.ingest(await big(i), 'flooder')).result).toBe('ignore');
      expect(victim.orphanBytes).toBeLessThanOrEqual(MAX_ORPHAN_BYTES);
    }
    expect(victim.orphanBytes).toBeGreaterThan(MAX_ORPHAN_BYTES - 2 * size);
    // An honest verdict arriving before its claim, after the flood, is still held and counted when the claim comes.
    const claimer = await keyFromSeed(new Uint8Array(32).fill(120));
    const late = await signClaim(claimer, { ...claimFieldsOf(bundle), issuedAt: Date.now() });
    const c = await openEnvelope(late);
    const verdict = await signVerdict(keys[0]!, {
      issuedAt: Date.now(),
      claimId: c.id,
      outcome: 'match',
      resultHash: c.kind === 'docklock/claim' ? c.claim.resultHash : null,
      divergence: null,
    });
    expect((await victim.ingest(verdict, 'honest-2')).result).toBe('ignore');
    expect((await victim.ingest(verdict, 'honest-2')).result).toBe('ignore'); // a duplicate is held once
    expect((await victim.ingest(late, 'honest-2')).result).toBe('accept');
    expect(victim.store.verdictsOf(c.idHex).map((v) => v.id)).toContain((await openEnvelope(verdict)).idHex);
    expect(victim.peers.score('honest-2')).toBe(0);
    await victim.idle();
  });
});

describe('fuzzed bundle streams', () => {
  it('rejects mutated, truncated, overlong and oversized responses with coded errors, holding at most the cap', async () => {
    const server = await createLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    });
    const client = await createLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    });
    const hash = blake3(bundle);
    const good = new Uint8Array(9 + bundle.length);
    new DataView(good.buffer).setBigUint64(1, BigInt(bundle.length));
    good.set(bundle, 9);
    let reply: Uint8Array = good;
    await server.handle(
      BUNDLE_PROTOCOL,
      async (stream: Stream) => {
        for await (const _ of stream) break; // the 32-byte request
        stream.send(reply);
        await stream.close().catch(() => undefined);
      },
      { maxInboundStreams: 64 },
    );
    try {
      const fetch = async (): Promise<string> => {
        const s = await client.dialProtocol(server.peerId, BUNDLE_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
        try {
          await fetchBundleOver(s, hash, 64 * 1024);
          return 'ok';
        } catch (e) {
          return (e as { code?: string }).code ?? `uncoded: ${(e as Error).message}`;
        }
      };
      await client.dial(server.getMultiaddrs()[0]!);
      expect(await fetch()).toBe('ok');
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc
              .tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 }))
              .map(([at, x]) => mutate(good, at, x)),
            fc.nat({ max: good.length - 1 }).map((n) => good.subarray(0, n)),
            fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => Uint8Array.of(...good, ...extra)),
          ),
          async (m) => {
            runs++;
            reply = m;
            expect(await fetch()).toMatch(/^DL_ERR_P2P_/);
          },
        ),
        { numRuns: 400 },
      );
      expect(runs).toBe(400);
      // A size announced over the cap is refused before a byte of the body is read.
      const huge = good.slice(0, 9);
      new DataView(huge.buffer).setBigUint64(1, 2n ** 40n);
      reply = huge;
      expect(await fetch()).toBe('DL_ERR_P2P_BUNDLE_TOO_LARGE');

      // /docklock/bundles/1: two answers in one stream; any mutation is junk or a refusal, never two good bundles.
      const two = Uint8Array.of(...good, ...good);
      let replyMany: Uint8Array = two;
      await server.handle(
        BUNDLES_PROTOCOL,
        async (stream: Stream) => {
          for await (const _ of stream) break;
          stream.send(replyMany);
          await stream.close().catch(() => undefined);
        },
        { maxInboundStreams: 64 },
      );
      const wants = [
        { hash, size: bundle.length },
        { hash, size: bundle.length },
      ];
      const fetchMany = async (): Promise<string> => {
        const s = await client.dialProtocol(server.peerId, BUNDLES_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
        try {
          const got = await fetchBundlesOver(s, wants, 64 * 1024);
          return got.every((g) => g instanceof Uint8Array) ? 'ok' : 'refused';
        } catch (e) {
          return (e as { code?: string }).code ?? `uncoded: ${(e as Error).message}`;
        }
      };
      expect(await fetchMany()).toBe('ok');
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc
              .tuple(fc.nat({ max: two.length - 1 }), fc.integer({ min: 1, max: 255 }))
              .map(([at, x]) => mutate(two, at, x)),
            fc.nat({ max: two.length - 1 }).map((n) => two.subarray(0, n)),
            fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => Uint8Array.of(...two, ...extra)),
          ),
          async (m) => {
            replyMany = m;
            expect(await fetchMany()).toMatch(/^(DL_ERR_P2P_|refused$)/);
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      await client.stop();
      await server.stop();
    }
  });

  it('survives junk requests to its own bundle protocol and still serves', async () => {
    await victim.bundles.put(bundle);
    const client = await createLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
    });
    try {
      await client.dial(victim.libp2p.getMultiaddrs()[0]!);
      for (const junk of [new Uint8Array(0), new Uint8Array(31), new Uint8Array(33), new Uint8Array(100_000).fill(7)]) {
        const s = await client.dialProtocol(victim.libp2p.peerId, BUNDLE_PROTOCOL);
        if (junk.length > 0) s.send(junk);
        await s.close().catch(() => undefined);
        // The victim answers or resets the stream; either way it stays up.
        try {
          for await (const _ of s) void _;
        } catch (e) {
          expect((e as Error).name).toBe('StreamResetError');
        }
      }
      const s = await client.dialProtocol(victim.libp2p.peerId, BUNDLE_PROTOCOL);
      expect(await fetchBundleOver(s, blake3(bundle), 1 << 20)).toEqual(bundle);
    } finally {
      await client.stop();
    }
  });
});
