/** Nodes as separate `docklock node start` processes on 127.0.0.1, driven through their API sockets. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { NodeClient } from '../../p2p/client.ts';
import { apiToken } from '../../p2p/daemon.ts';
import { generateKeyFile } from '../../p2p/keys.ts';
import { ROOT } from './helpers.ts';

export const CLI = join(ROOT, 'cli', 'main.ts');

export interface NodeProc {
  dir: string;
  config: string;
  peerId: string;
  address: string;
  proc: ChildProcess;
  api: NodeClient;
}

export function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes a node folder (key, node.yaml) without starting it. */
export async function prepareNode(extra: Record<string, unknown> = {}): Promise<{ dir: string; config: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dl-p2p-proc-'));
  await generateKeyFile(join(dir, 'node.key'));
  const config = join(dir, 'node.yaml');
  writeFileSync(
    config,
    stringify({
      key: 'node.key',
      dataDir: 'data',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      quorum: { k: 3, expiryMs: 60_000 },
      ...extra,
    }),
  );
  return { dir, config };
}

export function writeConfig(n: { config: string }, values: Record<string, unknown>): void {
  writeFileSync(
    n.config,
    stringify({ key: 'node.key', dataDir: 'data', quorum: { k: 3, expiryMs: 60_000 }, ...values }),
  );
}

/** Starts `docklock node start` and waits for its ready line. */
export async function startProc(n: { dir: string; config: string }): Promise<NodeProc> {
  const proc = spawn(process.execPath, [CLI, 'node', 'start', '--config', n.config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const ready = await new Promise<{ peerId: string; addresses: string[] }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`node did not start: ${err}`)), 60_000);
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n')[0]!;
      if (out.includes('\n')) {
        clearTimeout(t);
        try {
          resolve(JSON.parse(line) as { peerId: string; addresses: string[] });
        } catch {
          reject(new Error(`bad ready line: ${line} ${err}`));
        }
      }
    });
    proc.on('exit', (code) => reject(new Error(`node exited with ${code}: ${err}`)));
  });
  const api = new NodeClient({
    socketPath: join(n.dir, 'data', 'node.sock'),
    token: apiToken(join(n.dir, 'data'), false),
  });
  return { ...n, peerId: ready.peerId, address: `${ready.addresses[0]!}`, proc, api };
}

export async function stopProc(p: NodeProc): Promise<number | null> {
  if (p.proc.exitCode !== null) return p.proc.exitCode;
  const done = new Promise<number | null>((r) => p.proc.once('exit', (code) => r(code)));
  p.proc.kill('SIGTERM');
  const t = setTimeout(() => p.proc.kill('SIGKILL'), 15_000);
  const code = await done;
  clearTimeout(t);
  return code;
}

export async function stateOn(p: NodeProc, id: string): Promise<string | undefined> {
  try {
    return (await p.api.json<{ claim: { state: string } }>('GET', `/v1/claims/${id}`)).claim.state;
  } catch {
    return undefined;
  }
}

export async function waitStates(ps: NodeProc[], id: string, want: string, timeoutMs: number): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await Promise.all(ps.map((p) => stateOn(p, id)));
    if (s.every((x) => x === want)) return s as string[];
    if (Date.now() > end) throw new Error(`claim ${id}: states ${JSON.stringify(s)}, waiting for ${want}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
