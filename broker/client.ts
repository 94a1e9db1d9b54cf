/**
 * Typed client for the broker API over its Unix socket (HTTP/1.1 + JSON, node:http). Errors the
 * broker returns are rethrown as `BrokerError` with the same code, status and field.
 */
import { request } from 'node:http';
import type { AuditEntry } from './audit.ts';
import type { BreakerEvent } from './breaker/history.ts';
import { BrokerError, Errors } from './errors.ts';
import type { ServiceSpec } from './policy.ts';
import type { ServiceAction, ServiceView } from './services.ts';

export type { ServiceSpec, ServiceView, ServiceAction, AuditEntry, BreakerEvent };

/** Client options. */
export interface BrokerClientOptions {
  /** The broker's Unix socket. */
  socketPath: string;
  /** The bearer token (the secret, not its hash). */
  token: string;
  /** Per-request timeout in ms. Default 60000. */
  timeoutMs?: number;
}

/** Talks to a broker. */
export class BrokerClient {
  #opts: Required<BrokerClientOptions>;

  /**
   * @param opts - socket, token and timeout
   * @example
   * const client = new BrokerClient({ socketPath: '/run/docklock/broker.sock', token: process.env.DOCKLOCK_TOKEN! });
   * const svc = await client.deploy({ name: 'web', image: 'ghcr.io/org/web:1', network: 'bridge', ports: [{ container: 8080, host: 18080 }] });
   */
  constructor(opts: BrokerClientOptions) {
    if (typeof opts.socketPath !== 'string' || opts.socketPath.length === 0)
      throw new TypeError('socketPath: expected a non-empty string');
    if (typeof opts.token !== 'string' || opts.token.length === 0)
      throw new TypeError('token: expected a non-empty string');
    this.#opts = { timeoutMs: 60_000, ...opts };
  }

  /** Sends one request and returns the decoded answer; non-2xx becomes a `BrokerError`. */
  async #call<T>(method: string, path: string, body?: unknown, raw = false): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.#opts.socketPath,
          method,
          path,
          headers: {
            authorization: `Bearer ${this.#opts.token}`,
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
          },
          timeout: this.#opts.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              try {
                resolve((raw ? text : JSON.parse(text)) as T);
              } catch (cause) {
                reject(
                  new BrokerError(
                    'DL_ERR_BROKER_HTTP',
                    `the broker answered ${status} with a body that is not JSON`,
                    status,
                    undefined,
                    { cause },
                  ),
                );
              }
              return;
            }
            let code = 'DL_ERR_BROKER_HTTP';
            let message = `broker answered ${status}`;
            let field: string | undefined;
            try {
              const e = (JSON.parse(text) as { error?: { code?: string; message?: string; field?: string } }).error;
              if (e?.code) code = e.code;
              if (e?.message) message = e.message;
              field = e?.field;
            } catch {
              // not JSON: keep the generic error
            }
            reject(new BrokerError(code, message, status, field));
          });
          res.on('error', (cause) =>
            reject(
              Errors.unreachable(`the connection to the broker failed mid-answer: ${cause.message}`, undefined, {
                cause,
              }),
            ),
          );
        },
      );
      req.on('timeout', () =>
        req.destroy(
          new BrokerError('DL_ERR_BROKER_TIMEOUT', `no answer from the broker within ${this.#opts.timeoutMs} ms`, 504),
        ),
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof BrokerError) return reject(err);
        // The socket is missing, refuses or resets: a coded error, never the bare errno.
        reject(
          Errors.unreachable(
            `cannot reach the broker at ${this.#opts.socketPath} (${err.code ?? err.message}); is \`docklock broker serve\` running, and may you open its socket?`,
            undefined,
            { cause: err },
          ),
        );
      });
      req.end(payload);
    });
  }

  /** Deploys a service; resolves when it runs. */
  deploy(spec: ServiceSpec): Promise<ServiceView> {
    return this.#call('POST', '/v1/services', spec);
  }
  /** Lists the caller's services. */
  async list(): Promise<ServiceView[]> {
    return (await this.#call<{ services: ServiceView[] }>('GET', '/v1/services')).services;
  }
  /** Inspects a service by ID or name. */
  inspect(idOrName: string): Promise<ServiceView> {
    return this.#call('GET', `/v1/services/${encodeURIComponent(idOrName)}`);
  }
  /** Applies a lifecycle action. */
  act(idOrName: string, action: ServiceAction): Promise<ServiceView> {
    return this.#call('POST', `/v1/services/${encodeURIComponent(idOrName)}/${action}`);
  }
  /** Removes a service. */
  remove(idOrName: string): Promise<ServiceView> {
    return this.#call('DELETE', `/v1/services/${encodeURIComponent(idOrName)}`);
  }
  /** Recent output of a service. */
  logs(idOrName: string, tail = 100): Promise<{ stdout: string; stderr: string }> {
    return this.#call('GET', `/v1/services/${encodeURIComponent(idOrName)}/logs?tail=${tail}`);
  }
  /** Audit entries (admin only). */
  audit(limit = 1000): Promise<{ entries: AuditEntry[]; head: string }> {
    return this.#call('GET', `/v1/audit?limit=${limit}`);
  }
  /** Circuit-breaker events on the caller's services (every service for admins), oldest first. */
  breakerHistory(
    opts: { service?: string; limit?: number } = {},
  ): Promise<{ enabled: boolean; mode: 'enforce' | 'monitor'; events: BreakerEvent[] }> {
    const q = new URLSearchParams();
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.service !== undefined) q.set('service', opts.service);
    const qs = q.toString();
    return this.#call('GET', `/v1/breaker/history${qs === '' ? '' : `?${qs}`}`);
  }
  /** Liveness. */
  health(): Promise<{ status: string }> {
    return this.#call('GET', '/healthz');
  }
  /** Prometheus metrics text. */
  metrics(): Promise<string> {
    return this.#call('GET', '/metrics', undefined, true);
  }
  /** The OpenAPI document. */
  openapi(): Promise<Record<string, unknown>> {
    return this.#call('GET', '/v1/openapi.json');
  }
}
