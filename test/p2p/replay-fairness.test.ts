/**
 * Fairness of a node's replays against a peer that publishes endless claims: three real nodes on
 * 127.0.0.1 (k = 2, so the replayer R replays every claim of the other two), one replay thread on
 * each. A hostile peer publishes claims whose replays never end (each within the longest wall-clock
 * limit a node replays for); an honest peer then publishes one claim. R must judge the honest claim
 * in time for its verdict to count, while the endless replays are still running or waiting.
 * The test prints how long the honest claim waited; DL_FAIRNESS_ENDLESS, DL_FAIRNESS_LIMIT_MS and
 * DL_FAIRNESS_EXPIRY_MS change the load it measures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { P2PNode } from '../../p2p/node.ts';
import { startCluster, waitFor } from './cluster.ts';
import { endlessBundle, hostileManifest, recordBundle } from './hostile.ts';

/** Endless claims the hostile peer publishes, and each one's wall-clock limit. */
const ENDLESS = Number(process.env.DL_FAIRNESS_ENDLESS ?? 6);
const ENDLESS_MS = Number(process.env.DL_FAIRNESS_LIMIT_MS ?? 5000);
const EXPIRY_MS = Number(process.env.DL_FAIRNESS_EXPIRY_MS ?? 60_000);

let nodes: P2PNode[];
let endless: Uint8Array[];
let honest: Uint8Array;

beforeAll(async () => {
  // Each endless bundle has its own limit, so each is a claim (and a manifest) of its own.
  endless = await Promise.all(Array.from({ length: ENDLESS }, (_, i) => endlessBundle(ENDLESS_MS - i)));
  honest = await recordBundle(hostileManifest(['honest'], { wallClockMs: 2000 }));
  nodes = await startCluster(3, {
    quorum: { k: 2, expiryMs: EXPIRY_MS },
    replay: { concurrency: 1, queue: 256 },
  });
}, 120_000);

// A node stops once the replays it has started end: the endless ones end at their watchdogs.
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
}, 300_000);

describe('replay fairness', () => {
  it("an honest claim published after a peer's endless ones is judged in time, while they still run or wait", async () => {
    const [hostile, claimer, replayer] = nodes as [P2PNode, P2PNode, P2PNode];
    const bad = await Promise.all(endless.map((b) => hostile.publish(b)));
    await waitFor(() => bad.every((id) => replayer.store.has('claim', id)), 20_000, 'the endless claims at R');
    // R has started on them before the honest claim arrives.
    await waitFor(() => replayer.replayLoad().running > 0, 20_000, 'R replaying');
    const t0 = Date.now();
    const id = await claimer.publish(honest);
    const mine = () => replayer.store.verdictsOf(id).find((v) => v.replayer === replayer.peerId);
    await waitFor(() => mine() !== undefined, EXPIRY_MS * 5, "R's verdict on the honest claim");
    const waited = Date.now() - t0;
    const load = replayer.replayLoad();
    console.log(
      `honest claim behind ${ENDLESS} endless claims of ${ENDLESS_MS} ms: R's verdict after ${waited} ms (expiry ${EXPIRY_MS} ms); R still has ${load.running} running, ${load.waiting} waiting`,
    );
    const v = mine()!;
    expect(v.outcome).toBe('match');
    const claim = replayer.store.claim(id)!;
    // Its verdict counts: issued within the claim's quorum window, and the claim is confirmed.
    expect(v.issuedAt).toBeLessThanOrEqual(claim.issuedAt + EXPIRY_MS);
    await waitFor(() => replayer.store.claim(id)?.state === 'confirmed', 10_000, 'the honest claim confirmed at R');
    // It did not wait for the endless replays: they are still running or waiting.
    expect(load.running + load.waiting).toBeGreaterThan(0);
    // No endless claim got a verdict from R (a replay stopped by its watchdog is no evidence).
    for (const b of bad) expect(replayer.store.verdictsOf(b).some((x) => x.replayer === replayer.peerId)).toBe(false);
  }, 600_000);
});
