/**
 * The node's local API (fastify, built apart from listening, like broker/app.ts): bearer-token
 * authentication on every route but `/healthz` and `/openapi.json`, schema-checked params and
 * responses (the response schema is the allowlist of what leaves), `/metrics` for Prometheus, and
 * an OpenAPI 3.1 document generated from the same route table.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { DocklockError } from '../index.ts';
import { claimJson, openEnvelope, verdictJson } from './messages.ts';
import type { P2PNode } from './node.ts';
import { P2PError } from './errors.ts';
import type { P2PErrorCode } from './errors.ts';
import type { ClaimRow } from './store.ts';

const STATES = ['pending', 'confirmed', 'disputed', 'expired'];
const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' };
const anyObject = { type: 'object', additionalProperties: true };
const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
};
const limitQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 10_000 }, state: { type: 'string', enum: STATES } },
};
const claimSummary = {
  type: 'object',
  additionalProperties: false,
  properties: {
    id: hex64,
    state: { type: 'string' },
    claimer: { type: 'string' },
    issuedAt: { type: 'integer' },
    stateAt: { type: 'integer' },
    disputedBy: { type: ['string', 'null'] },
    claim: anyObject,
  },
};

interface Route {
  method: 'GET' | 'POST';
  url: string;
  public?: true;
  summary: string;
  schema: { params?: object; querystring?: object; response: Record<number, object> };
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

function hashToken(t: string): Buffer {
  return createHash('sha256').update(t, 'utf8').digest();
}

function apiError(code: P2PErrorCode, message: string, status: number): P2PError & { statusCode: number } {
  return Object.assign(new P2PError(code, message), { statusCode: status });
}

async function summary(row: ClaimRow): Promise<Record<string, unknown>> {
  const o = await openEnvelope(row.envelope);
  return {
    id: row.id,
    state: row.state,
    claimer: row.claimer,
    issuedAt: row.issuedAt,
    stateAt: row.stateAt,
    disputedBy: row.disputedBy,
    claim: o.kind === 'docklock/claim' ? claimJson(o.claim) : {},
  };
}

function routes(node: P2PNode): Route[] {
  return [
    {
      method: 'GET',
      url: '/healthz',
      public: true,
      summary: 'liveness',
      schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
      handler: async () => ({ status: 'ok' }),
    },
    {
      method: 'GET',
      url: '/openapi.json',
      public: true,
      summary: 'this document',
      schema: { response: { 200: anyObject } },
      handler: async () => openApi(node),
    },
    {
      method: 'GET',
      url: '/metrics',
      summary: 'Prometheus metrics (text exposition format)',
      schema: { response: {} },
      handler: async (_req, reply) => {
        reply.header('content-type', node.metrics.registry.contentType);
        return node.metrics.registry.metrics();
      },
    },
    {
      method: 'GET',
      url: '/v1/status',
      summary: 'identity, addresses, claim counts, replay queue',
      schema: {
        response: {
          200: {
            type: 'object',
            additionalProperties: false,
            properties: {
              peerId: { type: 'string' },
              addresses: { type: 'array', items: { type: 'string' } },
              peers: { type: 'integer' },
              claims: anyObject,
              replays: anyObject,
              uptimeMs: { type: 'integer' },
            },
          },
        },
      },
      handler: async () => ({
        peerId: node.peerId,
        addresses: node.libp2p.getMultiaddrs().map(String),
        peers: node.libp2p.getPeers().length,
        claims: node.store.stateCounts(),
        replays: node.replayLoad(),
        uptimeMs: Date.now() - node.startedAt,
      }),
    },
    {
      method: 'GET',
      url: '/v1/peers',
      summary: 'connected peers with their scores',
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              peers: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  properties: {
                    peerId: { type: 'string' },
                    connected: { type: 'boolean' },
                    score: { type: 'number' },
                    addresses: { type: 'array', items: { type: 'string' } },
                  },
                },
              },
            },
          },
        },
      },
      handler: async () => {
        const connected = new Map(
          node.libp2p.getConnections().map((c) => [c.remotePeer.toString(), c.remoteAddr.toString()]),
        );
        const ids = new Set([...connected.keys(), ...node.store.peers().map((p) => p.peerId)]);
        return {
          peers: [...ids].sort().map((p) => ({
            peerId: p,
            connected: connected.has(p),
            score: node.peers.score(p),
            addresses: connected.has(p) ? [connected.get(p)!] : [],
          })),
        };
      },
    },
    {
      method: 'GET',
      url: '/v1/claims',
      summary: 'claims, newest first',
      schema: {
        querystring: limitQuery,
        response: { 200: { type: 'object', properties: { claims: { type: 'array', items: claimSummary } } } },
      },
      handler: async (req) => {
        const q = req.query as { limit?: number; state?: ClaimRow['state'] };
        return { claims: await Promise.all(node.store.claims(q.limit ?? 100, q.state).map(summary)) };
      },
    },
    {
      method: 'POST',
      url: '/v1/claims',
      summary: 'publish a claim for a bundle (body: the bundle file, application/octet-stream)',
      schema: { response: { 201: { type: 'object', properties: { id: hex64 } } } },
      handler: async (req, reply) => {
        if (!(req.body instanceof Uint8Array))
          throw apiError(
            'DL_ERR_P2P_API_BAD_REQUEST',
            'POST /v1/claims takes the bundle bytes as application/octet-stream',
            400,
          );
        const id = await node.publish(new Uint8Array(req.body));
        return reply.code(201).send({ id });
      },
    },
    {
      method: 'GET',
      url: '/v1/claims/:id',
      summary: 'one claim with its state and verdicts',
      schema: {
        params: { type: 'object', properties: { id: hex64 }, required: ['id'] },
        response: {
          200: { type: 'object', properties: { claim: claimSummary, verdicts: { type: 'array', items: anyObject } } },
        },
      },
      handler: async (req) => {
        const row = node.store.claim((req.params as { id: string }).id);
        if (row === undefined) throw apiError('DL_ERR_P2P_API_NOT_FOUND', 'no such claim on this node', 404);
        const verdicts = await Promise.all(
          node.store.verdictsOf(row.id).map(async (v) => {
            const o = await openEnvelope(v.envelope);
            return { id: v.id, replayer: v.replayer, ...(o.kind === 'docklock/verdict' ? verdictJson(o.verdict) : {}) };
          }),
        );
        return { claim: await summary(row), verdicts };
      },
    },
    {
      method: 'GET',
      url: '/v1/claims/:id/dispute',
      summary: 'the dispute file of a disputed claim (application/octet-stream)',
      schema: { params: { type: 'object', properties: { id: hex64 }, required: ['id'] }, response: {} },
      handler: async (req, reply) => {
        const file = await node.dispute((req.params as { id: string }).id);
        if (file === undefined)
          throw apiError('DL_ERR_P2P_API_NOT_FOUND', 'no disputed claim with this id on this node', 404);
        reply.header('content-type', 'application/octet-stream');
        return reply.send(Buffer.from(file.buffer, file.byteOffset, file.length));
      },
    },
    {
      method: 'GET',
      url: '/v1/verdicts',
      summary: 'verdicts, most recently received first',
      schema: {
        querystring: limitQuery,
        response: { 200: { type: 'object', properties: { verdicts: { type: 'array', items: anyObject } } } },
      },
      handler: async (req) => {
        const q = req.query as { limit?: number };
        return {
          verdicts: await Promise.all(
            node.store.verdicts(q.limit ?? 100).map(async (v) => {
              const o = await openEnvelope(v.envelope);
              return { id: v.id, ...(o.kind === 'docklock/verdict' ? verdictJson(o.verdict) : {}) };
            }),
          ),
        };
      },
    },
  ];
}

function openApi(node: P2PNode): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes(node)) {
    const path = r.url.replace(/:([a-z]+)/g, '{$1}');
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      ...(r.public ? { security: [] } : {}),
      responses: Object.fromEntries(
        Object.entries(r.schema.response).map(([s, schema]) => [
          s,
          { description: r.summary, content: { 'application/json': { schema } } },
        ]),
      ),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'docklock node API', version: '1' },
    paths,
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  };
}

/**
 * Builds the API app for a started node.
 * @param token - the bearer token callers must present (its SHA-256 is kept, not the token)
 */
export async function buildNodeApp(node: P2PNode, token: string, bodyLimit: number): Promise<FastifyInstance> {
  const want = hashToken(token);
  const app = Fastify({
    logger: false,
    bodyLimit,
    return503OnClosing: true,
    exposeHeadRoutes: false,
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: false } },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit }, (_req, body, done) =>
    done(null, body),
  );
  const table = routes(node);
  const publicUrls = new Set(table.filter((r) => r.public).map((r) => r.url));
  app.addHook('onRequest', async (req) => {
    if (publicUrls.has(req.routeOptions.url ?? '')) return;
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(req.headers.authorization ?? '');
    if (m === null || !timingSafeEqual(hashToken(m[1]!), want))
      throw apiError(
        'DL_ERR_P2P_API_UNAUTHENTICATED',
        'missing or unknown bearer token (the node writes it to <dataDir>/api.token)',
        401,
      );
  });
  app.setErrorHandler(async (err: FastifyError, _req, reply) => {
    const status = typeof err.statusCode === 'number' ? err.statusCode : err instanceof DocklockError ? 400 : 500;
    const code =
      err instanceof DocklockError
        ? err.code
        : status === 413
          ? 'DL_ERR_P2P_API_TOO_LARGE'
          : status < 500
            ? 'DL_ERR_P2P_API_BAD_REQUEST'
            : 'DL_ERR_INTERNAL';
    return reply.code(status).send({
      error: { code, message: status >= 500 && !(err instanceof DocklockError) ? 'internal error' : err.message },
    });
  });
  app.setNotFoundHandler(async (req, reply) =>
    reply.code(404).send({
      error: { code: 'DL_ERR_P2P_API_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` },
    }),
  );
  for (const r of table)
    app.route({
      method: r.method,
      url: r.url,
      schema: { ...r.schema, response: { ...r.schema.response, '4xx': errorSchema } },
      handler: r.handler,
    });
  return app;
}
