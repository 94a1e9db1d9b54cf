/**
 * The P2P node on this machine (`npm run bench:p2p`): five real libp2p nodes on 127.0.0.1 (TCP,
 * Noise, Yamux, gossipsub), in one process so one clock and one CPU counter see them all; k = 3.
 *
 *   1. latency: one claim at a time (a fresh `guess` bundle each), publish → `confirmed` on all five; p50/p99
 *   2. throughput: BENCH_CLAIMS claims published at once, round-robin over the nodes; claims/s
 *      confirmed on all five, and process CPU time per confirmed claim
 *   3. transfer: a 10 MiB bundle over `/docklock/bundle/1` with the BLAKE3 check, MiB/s;
 *      baseline in the same run: BLAKE3 of the same 10 MiB alone (runtime/hash.ts, what the check uses)
 *
 *   4. (BENCH_PROC_CLAIMS=n) throughput again with the five nodes as `docklock node start` processes;
 *      BENCH_PROC_METRICS=1 also prints each process's replay and message counters
 *
 *   BENCH_LATENCY=30 BENCH_CLAIMS=60 npm run bench:p2p      (BENCH_TRANSFER_ONLY=1: phase 3 alone)
 *
 * BENCH_PROFILE=1 also profiles the main thread during the throughput phase (node:inspector) and
 * prints where its CPU time goes, by component, per confirmed claim.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { loadChallenge } from '../runtime/evaluate/challenge.ts';
import { evaluateSubmissions } from '../runtime/evaluate/batch.ts';
import { blake3 } from '../index.ts';
import { parseNodeConfig } from '../p2p/config.ts';
import { keyFromSeed } from '../p2p/keys.ts';
import { P2PNode, TOPIC } from '../p2p/node.ts';
import { BUNDLE_PROTOCOL, fetchBundleOver } from '../p2p/bundle-protocol.ts';
import { processThroughput } from './p2p-procs.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const GUESS = join(ROOT, 'challenges', 'examples', 'guess');
const LATENCY_N = Number(process.env.BENCH_LATENCY ?? 30);
const CLAIMS_N = Number(process.env.BENCH_CLAIMS ?? 60);
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 5);
const PROC_CLAIMS = Number(process.env.BENCH_PROC_CLAIMS ?? 0);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function bundles(n: number): Promise<Uint8Array[]> {
  const dir = mkdtempSync(join(tmpdir(), 'dl-bench-p2p-'));
  const ch = await loadChallenge(GUESS);
  const subs = Array.from({ length: n }, (_, i) => ({
    label: `s${i}`,
    bytes: new TextEncoder().encode(String(100 + i)),
  }));
  const evals = await evaluateSubmissions(ch, subs, { jobs: 2, bundles: dir });
  return evals.map((e) => new Uint8Array(readFileSync(e.bundle!)));
}

async function cluster(n: number): Promise<P2PNode[]> {
  const nodes: P2PNode[] = [];
  for (let i = 0; i < n; i++) {
    const dir = mkdtempSync(join(tmpdir(), `dl-bench-node${i}-`));
    const bootstrap = nodes.map((m) => m.libp2p.getMultiaddrs()[0]!.toString());
    const config = parseNodeConfig(
      {
        key: 'unused',
        dataDir: dir,
        bootstrap,
        quorum: { k: 3, expiryMs: 600_000 },
        // BENCH_REPLAY_THREADS: each node's replay threads (default: the node's own, 1, what a
        // node started from a config without `replay.concurrency` runs; 2 until stop 22).
        replay: {
          ...(process.env.BENCH_REPLAY_THREADS !== undefined
            ? { concurrency: Number(process.env.BENCH_REPLAY_THREADS) }
            : {}),
          queue: 100_000,
        },
        limits: { messagesPerSecond: 100_000, burst: 100_000 },
        // BENCH_BATCH_MS: the longest a gossip batch waits for more messages (default: the node's own).
        ...(process.env.BENCH_BATCH_MS !== undefined
          ? { batch: { maxDelayMs: Number(process.env.BENCH_BATCH_MS) } }
          : {}),
      },
      dir,
    );
    nodes.push(await P2PNode.start(config, await keyFromSeed(new Uint8Array(32).fill(200 + i))));
  }
  const end = Date.now() + 60_000;
  while (!nodes.every((m) => m.libp2p.services.pubsub.getSubscribers(TOPIC).length >= n - 1)) {
    if (Date.now() > end) throw new Error('the topic mesh did not form in 60 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 1500));
  return nodes;
}

/** Resolves when every id is confirmed on every node (state events, no polling of the stores). */
async function waitAll(nodes: P2PNode[], ids: string[], timeoutMs: number): Promise<void> {
  const missing = new Set(
    ids.flatMap((id) => nodes.map((n, i) => (n.store.claim(id)?.state === 'confirmed' ? [] : [`${i}:${id}`])).flat()),
  );
  if (missing.size === 0) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not confirmed in ${timeoutMs} ms: ${missing.size} (node, claim) pairs left`)),
      timeoutMs,
    );
    const listeners = nodes.map((n, i) => {
      const l = (id: string, state: string): void => {
        if (state === 'confirmed') missing.delete(`${i}:${id}`);
        if (missing.size === 0) {
          clearTimeout(timer);
          nodes.forEach((m, j) => m.events.off('state', listeners[j]!));
          resolve();
        }
      };
      n.events.on('state', l);
      return l;
    });
    // A state reached between the check above and the listeners: look once more.
    for (const id of ids)
      nodes.forEach((n, i) => n.store.claim(id)?.state === 'confirmed' && listeners[i]!(id, 'confirmed'));
  });
}

/** Components of the main thread's time, by the first matching script URL or function name. */
const BUCKETS: [string, RegExp][] = [
  ['idle', /^\(idle\)$/],
  ['garbage collection', /^\(garbage collector\)$/],
  // Node's key-slot helpers are left to their caller: Noise's createCipheriv uses them too.
  ['Ed25519 verify (ours and StrictSign)', /verifyOneShot|createPublicKey|ed25519|hashAndVerify/],
  ['Ed25519 sign', /signOneShot|sign\b/],
  ['sqlite (store.ts)', /store\.ts/],
  ['bundle decode, verify, hashing', /bundle\.ts|verify-bundle|witness|merkle|hash\.ts|blake3|msgpackr|cbor|encoding/],
  ['replay thread round trip (postMessage)', /postMessage|replay-pool/],
  ['bundle files (fs)', /bundles\.ts|^(open|close|fsync|read|write|rename|stat)$/],
  ['Noise (encrypt/decrypt)', /noise|chacha|cipher|poly1305/],
  ['Yamux, streams, multistream', /yamux|muxer|abstract-.*stream|multistream|it-|byte-stream|uint8arraylist/],
  ['TCP sockets', /writeBuffer|writev|socket|net:|stream_base|readable|writable/],
  ['gossipsub', /gossipsub|protobuf|protons|rpc/],
  ['libp2p other', /libp2p|multiaddr|peer-store|datastore|interface/],
  ['docklock p2p (node, messages, audit)', /\/p2p\/[\w-]+\.ts$/],
];

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

function printProfile(
  profile: { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] },
  claims: number,
): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  (profile.samples ?? []).forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0)));
  // A sample counts for the innermost frame that names a component (native frames take their caller's).
  const bucketOf = (id: number): string => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      for (const [name, re] of BUCKETS) if (re.test(f.functionName) || re.test(f.url)) return name;
    }
    return 'other (microtasks, timers, Node internals)';
  };
  const total = new Map<string, number>();
  for (const [id, us] of self) total.set(bucketOf(id), (total.get(bucketOf(id)) ?? 0) + us);
  const busy = [...total].filter(([k]) => k !== 'idle').reduce((a, [, v]) => a + v, 0);
  console.log(`  main thread, per confirmed claim: ${(busy / 1000 / claims).toFixed(1)} ms busy`);
  for (const [k, us] of [...total].sort((a, b) => b[1] - a[1]))
    if (k !== 'idle') console.log(`    ${(us / 1000 / claims).toFixed(2).padStart(6)} ms  ${k}`);
}

async function network(): Promise<void> {
  const WARM = 5;
  const all = await bundles(2 * WARM + LATENCY_N + CLAIMS_N + PROC_CLAIMS);
  const forProcs = all.splice(all.length - WARM - PROC_CLAIMS);
  const nodes = await cluster(5);
  try {
    // Warm-up (not measured): every node's replay threads start and compile the challenge once.
    await waitAll(nodes, await Promise.all(all.splice(0, WARM).map((b, i) => nodes[i % 5]!.publish(b))), 120_000);

    // 1. latency
    const lat: number[] = [];
    for (let i = 0; i < LATENCY_N; i++) {
      const t0 = performance.now();
      const id = await nodes[i % 5]!.publish(all[i]!);
      await waitAll(nodes, [id], 60_000);
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    console.log(
      `latency publish → confirmed on all 5 (k = 3), ${LATENCY_N} claims: p50 ${pct(lat, 50).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms, max ${lat[lat.length - 1]!.toFixed(0)} ms`,
    );

    // 2. throughput
    const profiler = process.env.BENCH_PROFILE === '1' ? new Session() : undefined;
    if (profiler !== undefined) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
    }
    const cpu0 = process.cpuUsage();
    const main0 = process.threadCpuUsage();
    const t0 = performance.now();
    const ids = await Promise.all(all.slice(LATENCY_N).map((b, i) => nodes[i % 5]!.publish(b)));
    await waitAll(nodes, ids, 600_000);
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const main = process.threadCpuUsage(main0);
    // The main thread runs all five nodes' event loops: its CPU per claim bounds claims/s here,
    // and depends less on other work on the machine than wall time does.
    console.log(
      `throughput: ${CLAIMS_N} claims confirmed on all 5 in ${s.toFixed(2)} s = ${(CLAIMS_N / s).toFixed(1)} claims/s; CPU ${((cpu.user + cpu.system) / 1000 / CLAIMS_N).toFixed(1)} ms per confirmed claim (all five nodes and their replays), main thread ${((main.user + main.system) / 1000 / CLAIMS_N).toFixed(2)} ms`,
    );
    if ('batchItems' in nodes[0]!.metrics) {
      const sum: Record<string, number> = {};
      const count: Record<string, number> = {};
      for (const n of nodes)
        for (const v of (await n.metrics.batchItems.get()).values) {
          const k = String(v.labels.kind);
          if (v.metricName?.endsWith('_sum')) sum[k] = (sum[k] ?? 0) + v.value;
          if (v.metricName?.endsWith('_count')) count[k] = (count[k] ?? 0) + v.value;
        }
      const line = Object.keys(count).map((k) => `${k} ${count[k]} × ${(sum[k]! / count[k]!).toFixed(1)}`);
      console.log(`  gossip batches (whole run, batches × messages each): ${line.join(', ')}`);
    }
    if (profiler !== undefined) {
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      printProfile(profile, CLAIMS_N);
      if (process.env.BENCH_PROFILE_OUT) writeFileSync(process.env.BENCH_PROFILE_OUT, JSON.stringify(profile));
    }
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
  // 4. the same throughput with the five nodes as separate processes
  if (PROC_CLAIMS > 0)
    await processThroughput(join(ROOT, 'cli', 'main.ts'), forProcs.slice(0, WARM), forProcs.slice(WARM));
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}`);
  if (process.env.BENCH_TRANSFER_ONLY !== '1') await network();

  // 3. transfer: the bundle protocol with its hash check, against a raw libp2p stream
  // of the same 10 MiB on the same connection (baseline), and BLAKE3 alone.
  const pair = await cluster(2);
  try {
    const RAW = '/docklock/bench-raw/1';
    const big0 = new Uint8Array(randomBytes(10 * 2 ** 20));
    await pair[0]!.libp2p.handle(RAW, async (s) => {
      for await (const _ of s) break;
      for (let i = 0; i < big0.length; i += 256 * 1024)
        if (!s.send(big0.subarray(i, i + 256 * 1024))) await s.onDrain();
      await s.close();
    });
    const rows: { raw: number; proto: number; stored: number; hash: number }[] = [];
    for (let i = 0; i < TRANSFERS; i++) {
      const big = new Uint8Array(randomBytes(10 * 2 ** 20));
      const hash = blake3(big);
      await pair[0]!.bundles.put(big);
      let t = performance.now();
      blake3(big);
      const hashRate = 10 / ((performance.now() - t) / 1000);
      t = performance.now();
      const rs = await pair[1]!.libp2p.dialProtocol(pair[0]!.libp2p.peerId, RAW);
      rs.send(new Uint8Array(1));
      await rs.close();
      let n = 0;
      for await (const c of rs) n += c.byteLength;
      const raw = 10 / ((performance.now() - t) / 1000);
      if (n !== big0.length) throw new Error('raw transfer short');
      t = performance.now();
      const s = await pair[1]!.libp2p.dialProtocol(pair[0]!.libp2p.peerId, BUNDLE_PROTOCOL);
      const got = await fetchBundleOver(s, hash, 64 * 2 ** 20, big.length);
      const proto = 10 / ((performance.now() - t) / 1000);
      t = performance.now();
      await pair[1]!.fetchBundle(hash, big.length, pair[0]!.peerId);
      const stored = 10 / ((performance.now() - t) / 1000);
      if (got.length !== big.length || !pair[1]!.bundles.has(Buffer.from(hash).toString('hex')))
        throw new Error('transfer failed');
      rows.push({ raw, proto, stored, hash: hashRate });
    }
    const med = (k: keyof (typeof rows)[0]): string =>
      pct(
        rows.map((r) => r[k]).sort((a, b) => a - b),
        50,
      ).toFixed(0);
    console.log(
      `10 MiB, median of ${TRANSFERS}: /docklock/bundle/1 with the hash check ${med('proto')} MiB/s; the same through the node (fetch, check, cache file) ${med('stored')} MiB/s; raw libp2p stream (TCP+Noise+Yamux, baseline) ${med('raw')} MiB/s; BLAKE3 alone ${med('hash')} MiB/s`,
    );
    console.log(`  per run proto/raw: ${rows.map((r) => (r.proto / r.raw).toFixed(2)).join(', ')}`);
  } finally {
    await Promise.all(pair.map((n) => n.stop()));
  }
}

await main();
