/**
 * Five `docklock node start` processes on 127.0.0.1 (k = 3): honest claims confirm everywhere; a
 * dishonest claimer's false score and edited output end `disputed` everywhere, and the dispute file
 * verifies in a fresh process that never replayed; a node stopped during publication catches up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseNodeConfig } from '../../p2p/config.ts';
import { keyFromSeed } from '../../p2p/keys.ts';
import { signClaim } from '../../p2p/messages.ts';
import { claimFieldsOf } from '../../p2p/audit.ts';
import { P2PNode, TOPIC } from '../../p2p/node.ts';
import { editOutput, GUESS, guessBundles, guessSubmission } from './helpers.ts';
import { cli, prepareNode, startProc, stateOn, stopProc, waitStates, writeConfig, type NodeProc } from './procs.ts';
import { waitFor } from './cluster.ts';

let procs: NodeProc[] = [];
let good: Uint8Array;
let mediocre: Uint8Array;
let bundleDir: string;

beforeAll(async () => {
  [good, mediocre] = (await guessBundles([guessSubmission('good'), guessSubmission('mediocre')])) as [
    Uint8Array,
    Uint8Array,
  ];
  bundleDir = mkdtempSync(join(tmpdir(), 'dl-p2p-b-'));
  writeFileSync(join(bundleDir, 'good.dlb'), good);
  for (let i = 0; i < 5; i++) {
    const n = await prepareNode();
    writeConfig(n, { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: procs.map((p) => `${p.address}`) });
    procs.push(await startProc(n));
  }
  await waitFor(() => true, 0, '');
  // Everyone sees the four others on the topic before the first claim.
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    const peers = await Promise.all(procs.map((p) => p.api.json<{ peers: number }>('GET', '/v1/status')));
    if (peers.every((s) => s.peers >= 4)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1500)); // a gossipsub heartbeat spreads the subscriptions
});

afterAll(async () => {
  await Promise.all(procs.map(stopProc));
});

describe('five node processes', () => {
  it('confirm an honest claim published with `docklock node publish` on every node', async () => {
    const r = cli(['node', 'publish', join(bundleDir, 'good.dlb'), '--config', procs[0]!.config]);
    expect(r.stderr).toBe('');
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await waitStates(procs, id, 'confirmed', 60_000)).toHaveLength(5);
    const verdicts = (await procs[3]!.api.json<{ verdicts: { outcome: string }[] }>('GET', `/v1/claims/${id}`))
      .verdicts;
    expect(verdicts.filter((v) => v.outcome === 'match').length).toBeGreaterThanOrEqual(3);
  });

  it('confirm the claims `docklock evaluate --publish` makes', async () => {
    const r = cli([
      'evaluate',
      GUESS,
      join(GUESS, 'submissions', 'broken.txt'),
      '--json',
      '--publish',
      procs[2]!.config,
    ]);
    expect(r.status).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { claim?: string; score?: number });
    const claim = lines.find((l) => l.claim !== undefined)!.claim!;
    await waitStates(procs, claim, 'confirmed', 60_000);
  });

  it('dispute a false score and an edited output everywhere; the dispute file verifies in a fresh process', async () => {
    // The dishonest claimer: a real libp2p node in this process, on the same loopback network.
    const dir = mkdtempSync(join(tmpdir(), 'dl-p2p-liar-'));
    const liar = await P2PNode.start(
      parseNodeConfig(
        { key: 'unused', dataDir: dir, bootstrap: procs.map((p) => p.address), quorum: { k: 3, expiryMs: 60_000 } },
        dir,
      ),
      await keyFromSeed(new Uint8Array(32).fill(99)),
    );
    try {
      await waitFor(() => liar.libp2p.services.pubsub.getSubscribers(TOPIC).length >= 5, 30_000, 'liar on the topic');
      await new Promise((r) => setTimeout(r, 1500));
      const falseScore = await liar.publishSigned(
        await signClaim(liar.key, { ...claimFieldsOf(mediocre), score: 1, issuedAt: Date.now() }),
        mediocre,
      );
      const edited = await liar.publish(editOutput(mediocre, 1));
      await waitStates(procs, falseScore, 'disputed', 60_000);
      await waitStates(procs, edited, 'disputed', 60_000);

      const file = join(dir, 'false-score.dld');
      const shown = cli(['node', 'claim', falseScore, '--dispute', file, '--config', procs[2]!.config]);
      expect(shown.status).toBe(0);
      const v = cli(['node', 'verify-dispute', file, '--json']);
      expect(v.status).toBe(0);
      expect(JSON.parse(v.stdout)).toMatchObject({
        valid: true,
        kind: 'bundle',
        strength: 'proof',
        claimId: falseScore,
      });

      const file2 = join(dir, 'edited.dld');
      expect(cli(['node', 'claim', edited, '--dispute', file2, '--config', procs[4]!.config]).status).toBe(0);
      expect(JSON.parse(cli(['node', 'verify-dispute', file2, '--json']).stdout)).toMatchObject({
        valid: true,
        kind: 'result',
      });
    } finally {
      await liar.stop();
    }
  });

  it('a node stopped during publication restarts and catches up to the same states', async () => {
    const down = procs[4]!;
    const stopped = stopProc(down);
    const r = cli(['node', 'publish', join(bundleDir, 'good.dlb'), '--config', procs[1]!.config]);
    // The same bundle from another claimer is another claim.
    const id = r.stdout.trim();
    await stopped;
    await waitStates(procs.slice(0, 4), id, 'confirmed', 60_000);
    expect(await stateOn(down, id)).toBeUndefined();
    procs[4] = await startProc(down);
    // It redials its bootstrap peers; their connection triggers /docklock/sync/1.
    await waitStates(procs, id, 'confirmed', 60_000);
    const all = await Promise.all(
      procs.map((p) => p.api.json<{ claims: { id: string; state: string }[] }>('GET', '/v1/claims?limit=100')),
    );
    const view = (i: number): string[] => all[i]!.claims.map((c) => `${c.id}:${c.state}`).sort();
    for (let i = 1; i < 5; i++) expect(view(i)).toEqual(view(0));
  });
});
