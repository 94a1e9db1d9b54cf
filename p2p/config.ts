/**
 * `node.yaml`: the node's configuration, read strictly (unknown keys, duplicate keys, wrong types
 * and out-of-range values are errors that name the field). Relative paths are resolved against the
 * config file's folder. Every field's default is stated here and in docs/p2p.md.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { multiaddr } from '@multiformats/multiaddr';
import { MAX_BATCH_ITEMS } from './batch-proof.ts';
import { P2PError } from './errors.ts';

export interface NodeConfig {
  /** Ed25519 key file (`docklock node keygen`). Required. */
  key: string;
  /** Folder for node.db, bundles/ and the API token. Required. */
  dataDir: string;
  /** libp2p listen addresses. Default `['/ip4/127.0.0.1/tcp/0']`. */
  listen: string[];
  /** Peers to dial at start, `/ip4/…/tcp/…/p2p/<peer id>`. Default none. */
  bootstrap: string[];
  /** Unix socket of the local API. Default `<dataDir>/node.sock`. */
  socket: string;
  /** Challenge folders whose claims this node replays; empty (the default) replays any claim. */
  challenges: string[];
  /** k: matching verdicts from distinct peers that confirm a claim (default 3); expiryMs: time to reach them (default 120000). */
  quorum: { k: number; expiryMs: number };
  /** Replays at once (default 1) and waiting (default 256; more are dropped and counted). */
  replay: { concurrency: number; queue: number };
  /** Peer exchange over gossip: how often this node announces its addresses (default 10000 ms) and how many connections it keeps dialling discovered peers up to (default 50). */
  discovery: { intervalMs: number; maxPeers: number };
  /** Gossip batches: a message goes out at once unless more are known to be coming (replays queued, claims being stored); then it waits for them at most `maxDelayMs` (default 200) or until `maxItems` (default 64). */
  batch: { maxDelayMs: number; maxItems: number };
  /** bundleBytes: largest bundle fetched or served (default 64 MiB); gossip messages per peer per second (default 100) and burst (default 400); syncItems: most claims (and verdicts) one sync answers (default 10000). */
  limits: { bundleBytes: number; messagesPerSecond: number; burst: number; syncItems: number };
}

type Obj = Record<string, unknown>;

function bad(field: string, message: string): P2PError {
  return new P2PError('DL_ERR_P2P_CONFIG', `${field}: ${message}`, { field });
}

function object(v: unknown, field: string, keys: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(field, 'must be a mapping');
  for (const k of Object.keys(v))
    if (!keys.includes(k)) throw bad(`${field}.${k}`, `unknown key (known: ${keys.join(', ')})`);
  return v as Obj;
}

function int(v: unknown, field: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw bad(field, `must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function strings(v: unknown, field: string, check?: (s: string, f: string) => void): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw bad(field, 'must be a list of strings');
  v.forEach((s: string, i) => check?.(s, `${field}[${i}]`));
  return v as string[];
}

function addr(s: string, field: string, needPeer: boolean): void {
  try {
    const m = multiaddr(s);
    if (needPeer && m.getComponents().every((c) => c.name !== 'p2p')) throw new Error('it names no /p2p/<peer id>');
  } catch (e) {
    throw bad(field, `not a usable multiaddr "${s}": ${(e as Error).message}`);
  }
}

/**
 * Reads and checks a node config file.
 * @throws {P2PError} `DL_ERR_P2P_CONFIG`
 */
export function loadNodeConfig(path: string): NodeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw bad('config', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parse(text, { strict: true, uniqueKeys: true, prettyErrors: false });
  } catch (e) {
    throw bad('config', `${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseNodeConfig(raw, dirname(resolve(path)));
}

export function parseNodeConfig(raw: unknown, base: string): NodeConfig {
  const o = object(raw, 'config', [
    'key',
    'dataDir',
    'listen',
    'bootstrap',
    'socket',
    'challenges',
    'quorum',
    'replay',
    'discovery',
    'batch',
    'limits',
  ]);
  const path = (v: unknown, field: string): string => {
    if (typeof v !== 'string' || v.length === 0) throw bad(field, 'must be a path');
    return isAbsolute(v) ? v : join(base, v);
  };
  const key = path(o.key, 'key');
  const dataDir = path(o.dataDir, 'dataDir');
  const q = object(o.quorum ?? {}, 'quorum', ['k', 'expiryMs']);
  const r = object(o.replay ?? {}, 'replay', ['concurrency', 'queue']);
  const d = object(o.discovery ?? {}, 'discovery', ['intervalMs', 'maxPeers']);
  const b = object(o.batch ?? {}, 'batch', ['maxDelayMs', 'maxItems']);
  const l = object(o.limits ?? {}, 'limits', ['bundleBytes', 'messagesPerSecond', 'burst', 'syncItems']);
  const listen =
    o.listen === undefined ? ['/ip4/127.0.0.1/tcp/0'] : strings(o.listen, 'listen', (s, f) => addr(s, f, false));
  return {
    key,
    dataDir,
    listen,
    bootstrap: strings(o.bootstrap, 'bootstrap', (s, f) => addr(s, f, true)),
    socket: o.socket === undefined ? join(dataDir, 'node.sock') : path(o.socket, 'socket'),
    challenges: strings(o.challenges, 'challenges').map((c, i) => path(c, `challenges[${i}]`)),
    quorum: {
      k: int(q.k, 'quorum.k', 3, 1, 64),
      expiryMs: int(q.expiryMs, 'quorum.expiryMs', 120_000, 1000, 7 * 24 * 3600_000),
    },
    replay: {
      concurrency: int(r.concurrency, 'replay.concurrency', 1, 1, 64),
      queue: int(r.queue, 'replay.queue', 256, 1, 1_000_000),
    },
    discovery: {
      intervalMs: int(d.intervalMs, 'discovery.intervalMs', 10_000, 100, 3600_000),
      maxPeers: int(d.maxPeers, 'discovery.maxPeers', 50, 0, 10_000),
    },
    batch: {
      maxDelayMs: int(b.maxDelayMs, 'batch.maxDelayMs', 200, 0, 5000),
      maxItems: int(b.maxItems, 'batch.maxItems', MAX_BATCH_ITEMS, 1, MAX_BATCH_ITEMS),
    },
    limits: {
      bundleBytes: int(l.bundleBytes, 'limits.bundleBytes', 64 * 2 ** 20, 1024, 2 ** 32),
      messagesPerSecond: int(l.messagesPerSecond, 'limits.messagesPerSecond', 100, 1, 100_000),
      burst: int(l.burst, 'limits.burst', 400, 1, 1_000_000),
      syncItems: int(l.syncItems, 'limits.syncItems', 10_000, 1, 1_000_000),
    },
  };
}
