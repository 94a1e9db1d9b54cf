/** A small client of the node's local API over its Unix socket (what the CLI and tests use). */
import { request } from 'node:http';
import { P2PError } from './errors.ts';
import type { P2PErrorCode } from './errors.ts';

export interface NodeClientOptions {
  socketPath: string;
  token: string;
}

export class NodeClient {
  readonly #o: NodeClientOptions;
  constructor(o: NodeClientOptions) {
    this.#o = o;
  }

  /** Sends a request; a non-2xx answer becomes a P2PError with the node's code. */
  async call(
    method: 'GET' | 'POST',
    path: string,
    body?: Uint8Array,
  ): Promise<{ status: number; type: string; bytes: Buffer }> {
    const r = await new Promise<{ status: number; type: string; bytes: Buffer }>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.#o.socketPath,
          method,
          path,
          headers: {
            authorization: `Bearer ${this.#o.token}`,
            ...(body !== undefined
              ? { 'content-type': 'application/octet-stream', 'content-length': body.length }
              : {}),
          },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              type: String(res.headers['content-type'] ?? ''),
              bytes: Buffer.concat(parts),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) =>
        reject(
          new P2PError(
            'DL_ERR_P2P_API_UNREACHABLE',
            `cannot reach the node at ${this.#o.socketPath}: ${e.code ?? e.message} (is docklock node start running?)`,
            { field: 'socket' },
          ),
        ),
      );
      req.end(body);
    });
    if (r.status >= 300) {
      let err: { code?: string; message?: string } = {};
      try {
        err = (JSON.parse(r.bytes.toString('utf8')) as { error: typeof err }).error;
      } catch {
        // not JSON
      }
      throw new P2PError(
        (err.code?.startsWith('DL_ERR_P2P_') ? err.code : 'DL_ERR_P2P_API_BAD_REQUEST') as P2PErrorCode,
        err.message ?? `HTTP ${r.status}`,
        { field: path },
      );
    }
    return r;
  }

  async json<T = Record<string, unknown>>(method: 'GET' | 'POST', path: string, body?: Uint8Array): Promise<T> {
    return JSON.parse((await this.call(method, path, body)).bytes.toString('utf8')) as T;
  }
}
