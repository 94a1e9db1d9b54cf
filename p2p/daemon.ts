/**
 * `docklock node start`: the node as a long-lived process. Loads the config and key, starts the
 * libp2p node, binds the API on its Unix socket (mode 0600: the socket is the first gate, the
 * token the second) and writes `<dataDir>/node.json` (peer id, addresses, socket) for tools.
 */
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildNodeApp } from './api.ts';
import type { NodeConfig } from './config.ts';
import { loadKeyFile } from './keys.ts';
import { P2PNode } from './node.ts';
import { P2PError } from './errors.ts';

export interface RunningNode {
  node: P2PNode;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** The API token of a data directory, created (0600) on first start. */
export function apiToken(dataDir: string, create: boolean): string {
  const path = join(dataDir, 'api.token');
  if (!existsSync(path)) {
    if (!create)
      throw new P2PError('DL_ERR_P2P_API_UNAUTHENTICATED', `no API token at ${path}: has this node been started?`, {
        field: 'dataDir',
      });
    writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(path, 'utf8').trim();
}

export async function startDaemon(config: NodeConfig): Promise<RunningNode> {
  const key = await loadKeyFile(config.key);
  const node = await P2PNode.start(config, key);
  try {
    const app = await buildNodeApp(node, apiToken(config.dataDir, true), config.limits.bundleBytes);
    try {
      if (statSync(config.socket).isSocket()) rmSync(config.socket);
    } catch {
      // absent
    }
    const oldMask = process.umask(0o177);
    try {
      await app.listen({ path: config.socket });
    } finally {
      process.umask(oldMask);
    }
    chmodSync(config.socket, 0o600);
    writeFileSync(
      join(config.dataDir, 'node.json'),
      `${JSON.stringify({ peerId: node.peerId, addresses: node.libp2p.getMultiaddrs().map(String), socket: config.socket, pid: process.pid })}\n`,
    );
    return {
      node,
      app,
      async close() {
        await app.close();
        await node.stop();
      },
    };
  } catch (e) {
    await node.stop();
    throw e;
  }
}
