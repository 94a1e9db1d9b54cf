/**
 * bench:p2p's process phase: five `docklock node start` processes on 127.0.0.1 (as a real network
 * runs, and as test/p2p/network.test.ts starts them), so the nodes' event loops spread over both
 * cores instead of sharing one thread. Claims are published through each node's API; states are
 * read from `/v1/status`; CPU is the five processes' own time from /proc (threads included).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { NodeClient } from '../p2p/client.ts';
import { apiToken } from '../p2p/daemon.ts';
import { generateKeyFile } from '../p2p/keys.ts';

interface Proc {
  proc: ChildProcess;
  api: NodeClient;
  address: string;
}

async function start(cli: string, bootstrap: string[]): Promise<Proc> {
  const dir = mkdtempSync(join(tmpdir(), 'dl-bench-proc-'));
  await generateKeyFile(join(dir, 'node.key'));
  const config = join(dir, 'node.yaml');
  writeFileSync(
    config,
    stringify({
      key: 'node.key',
      dataDir: 'data',
      bootstrap,
      quorum: { k: 3, expiryMs: 600_000 },
      replay: { concurrency: 1, queue: 100_000 },
      limits: { messagesPerSecond: 100_000, burst: 100_000 },
    }),
  );
  const proc = spawn(process.execPath, [cli, 'node', 'start', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = await new Promise<{ addresses: string[] }>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as { addresses: string[] });
    });
    proc.on('exit', (code) => reject(new Error(`node exited with ${code}`)));
  });
  const data = join(dir, 'data');
  return {
    proc,
    address: ready.addresses[0]!,
    api: new NodeClient({ socketPath: join(data, 'node.sock'), token: apiToken(data, false) }),
  };
}

/** utime + stime of a process (all its threads), in ms. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // fields 14, 15 of stat, in clock ticks (USER_HZ 100)
}

async function confirmedEverywhere(ps: Proc[], n: number, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await Promise.all(ps.map((p) => p.api.json<{ claims: { confirmed: number } }>('GET', '/v1/status')));
    if (s.every((x) => x.claims.confirmed >= n)) return;
    if (Date.now() > end) throw new Error(`confirmed: ${s.map((x) => x.claims.confirmed).join(', ')} of ${n}`);
    await new Promise((r) => setTimeout(r, 200)); // each poll costs the nodes an API call: keep it rare
  }
}

export async function processThroughput(cli: string, warm: Uint8Array[], claims: Uint8Array[]): Promise<void> {
  const ps: Proc[] = [];
  try {
    for (let i = 0; i < 5; i++)
      ps.push(
        await start(
          cli,
          ps.map((p) => p.address),
        ),
      );
    const end = Date.now() + 60_000;
    while (
      (await Promise.all(ps.map((p) => p.api.json<{ peers: number }>('GET', '/v1/status')))).some((s) => s.peers < 4)
    ) {
      if (Date.now() > end) throw new Error('the five processes did not connect in 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1500)); // a gossipsub heartbeat spreads the subscriptions
    await Promise.all(warm.map((b, i) => ps[i % 5]!.api.json('POST', '/v1/claims', b)));
    await confirmedEverywhere(ps, warm.length, 120_000);
    const cpu0 = ps.map((p) => cpuMs(p.proc.pid!));
    const t0 = performance.now();
    await Promise.all(claims.map((b, i) => ps[i % 5]!.api.json('POST', '/v1/claims', b)));
    await confirmedEverywhere(ps, warm.length + claims.length, 600_000);
    const s = (performance.now() - t0) / 1000;
    const cpu = ps.reduce((a, p, i) => a + cpuMs(p.proc.pid!) - cpu0[i]!, 0);
    console.log(
      `throughput, 5 processes: ${claims.length} claims confirmed on all 5 in ${s.toFixed(2)} s = ${(claims.length / s).toFixed(1)} claims/s; CPU ${(cpu / claims.length).toFixed(0)} ms per confirmed claim (the five processes, /proc)`,
    );
    if (process.env.BENCH_PROC_METRICS === '1')
      for (const p of ps)
        console.log(
          (await p.api.call('GET', '/metrics')).bytes
            .toString()
            .split('\n')
            .filter((l) =>
              /^docklock_p2p_(replays_total|replay_seconds_(sum|count)|messages_total|penalties_total)/.test(l),
            )
            .join('\n'),
        );
  } finally {
    await Promise.all(
      ps.map(
        (p) =>
          new Promise<void>((r) => {
            if (p.proc.exitCode !== null) return r();
            p.proc.once('exit', () => r());
            p.proc.kill('SIGTERM');
          }),
      ),
    );
  }
}
