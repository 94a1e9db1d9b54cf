/**
 * Builds the broker's fastify app without binding it (fastify `docs/Guides/Testing.md`: build
 * apart from listen), so tests drive it with `app.inject()` and server.ts binds the Unix socket.
 *
 * Request pipeline: strict JSON body parser (duplicate keys, size) → onRequest authentication →
 * schema validation (Ajv with removeAdditional/coercion/defaults off: nothing is silently fixed) →
 * handler → onSend audit append (fsync'd before the answer leaves) → response schema serialisation.
 */
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog } from './audit.ts';
import type { CircuitBreaker } from './breaker/breaker.ts';
import { authenticate } from './auth.ts';
import type { Principal } from './auth.ts';
import type { BrokerConfig } from './config.ts';
import { BrokerError, Errors } from './errors.ts';
import { loggerOptions, pathOnly } from './logging.ts';
import { createMetrics } from './metrics.ts';
import type { BrokerMetrics } from './metrics.ts';
import { buildOpenApiDocument } from './openapi.ts';
import type { ServiceSpec } from './policy.ts';
import { ROUTES } from './routes.ts';
import type { RouteSpec } from './routes.ts';
import type { ServiceAction, ServiceManager } from './services.ts';
import { parseStrictJson } from './strict-json.ts';
import { TokenBuckets } from './rate-limit.ts';

/** What the app needs; the caller owns their lifecycles. */
export interface BrokerAppDeps {
  config: BrokerConfig;
  services: ServiceManager;
  audit: AuditLog;
  metrics?: BrokerMetrics;
  /** The circuit breaker, when enabled; its history backs `GET /v1/breaker/history`. */
  breaker?: Pick<CircuitBreaker, 'history' | 'config'>;
  /** Where the JSON log lines go (default stderr). */
  logStream?: Writable;
}

/**
 * What a client is told for a server-side failure. The detail (an engine's text, a path, a stack)
 * goes to the log under the request id; the client gets the code, this text and the id.
 */
const PUBLIC_5XX: Record<string, string> = {
  DL_ERR_BROKER_DOCKER: 'the Docker Engine failed the operation',
  DL_ERR_AUDIT_WRITE: 'the audit log could not be written; the request outcome is unrecorded',
  DL_ERR_BROKER_SECCOMP_MISSING: 'the broker installation is incomplete (seccomp profile)',
};

interface RequestState {
  principal: Principal | null;
  route: RouteSpec | undefined;
  target: string | undefined;
  reason: string | undefined;
  action: string | undefined;
}

const state = new WeakMap<FastifyRequest, RequestState>();

function stateOf(req: FastifyRequest): RequestState {
  let s = state.get(req);
  if (s === undefined) {
    s = { principal: null, route: undefined, target: undefined, reason: undefined, action: undefined };
    state.set(req, s);
  }
  return s;
}

function principalOf(req: FastifyRequest): Principal {
  const p = stateOf(req).principal;
  // onRequest authenticated every non-public route; reaching here without one is our bug.
  if (p === null) throw Errors.internal('handler reached without an authenticated principal');
  return p;
}

/** Converts any thrown value into the API's error shape, never leaking a stack or engine text. */
function toBrokerError(err: unknown): BrokerError {
  if (err instanceof BrokerError) return err;
  const fe = err as FastifyError & {
    validation?: { keyword: string; instancePath: string; params: Record<string, unknown>; message?: string }[];
    validationContext?: string;
  };
  if (Array.isArray(fe.validation) && fe.validation.length > 0) {
    const v = fe.validation[0]!;
    const base = (fe.validationContext ?? 'body') + v.instancePath.replace(/\//g, '.');
    if (v.keyword === 'additionalProperties') {
      const extra = String(v.params.additionalProperty);
      return Errors.unknownField(
        `unknown field "${extra}" in ${base}: it is rejected, not ignored`,
        `${base}.${extra}`,
      );
    }
    if (v.keyword === 'propertyNames') return Errors.invalidField(`invalid key in ${base}: ${v.message ?? ''}`, base);
    return Errors.invalidField(`${base} ${v.message ?? 'is invalid'}`, base);
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return Errors.bodyTooLarge('request body is larger than the broker accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return Errors.badRequest('request bodies must be application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return Errors.malformedJson('empty JSON body');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return Errors.badRequest('content-length does not match the body');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
    return Errors.badRequest('bad request');
  return Errors.internal('internal error', undefined, { cause: err });
}

/** The API's error body for a refusal (4xx): code, message, field and request id. */
function refusalBody(e: BrokerError, requestId: string): object {
  return {
    error: {
      code: e.code,
      message: e.message,
      ...(e.field !== undefined ? { field: e.field } : {}),
      requestId,
    },
  };
}

function decisionOf(status: number): 'allowed' | 'denied' | 'error' {
  if (status < 400) return 'allowed';
  if (status < 500) return 'denied';
  return 'error';
}

/**
 * Builds the broker app.
 * @param deps - configuration, service manager and open audit log
 * @returns a ready-to-inject fastify instance (not listening)
 * @example
 * const app = await buildBrokerApp({ config, services, audit });
 * const res = await app.inject({ method: 'GET', url: '/healthz' });
 */
export async function buildBrokerApp(deps: BrokerAppDeps): Promise<FastifyInstance> {
  const { config, services, audit } = deps;
  const metrics = deps.metrics ?? createMetrics();
  const buckets = new TokenBuckets(config.rateLimit);
  /**
   * Requests Node's HTTP parser refuses (a bad request line, oversized or malformed headers,
   * conflicting framing) never reach a route or a hook: fastify's default answers them with an
   * uncoded body and no audit entry. They are refusals like any other, so they are audited first
   * and answered in the API's error shape.
   */
  const onClientError = (err: NodeJS.ErrnoException, socket: Socket): void => {
    // A reset connection is nobody's request; there is no one left to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const requestId = randomUUID();
    const e =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? Errors.badRequest('the request headers are larger than the broker accepts')
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? Errors.badRequest('the request was not received in time')
          : Errors.badRequest('malformed HTTP request');
    const answer = (status: number, body: object): void => {
      if (socket.writable) {
        const text = JSON.stringify(body);
        socket.write(
          `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : 'Internal Server Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nx-request-id: ${requestId}\r\nConnection: close\r\n\r\n${text}`,
        );
      }
      socket.destroy();
    };
    metrics.requests.inc({ method: 'unparsed', route: 'unmatched', status: String(e.statusCode) });
    metrics.decisions.inc({ decision: 'denied' });
    audit
      .append({
        action: 'http.malformed',
        principal: null,
        decision: 'denied',
        reason: e.code,
        status: e.statusCode,
        requestId,
      })
      .then(
        () => answer(e.statusCode, refusalBody(e, requestId)),
        (auditErr: unknown) => {
          app.log.error({ err: auditErr, code: 'DL_ERR_AUDIT_WRITE', reqId: requestId }, 'audit append failed');
          answer(500, { error: { code: 'DL_ERR_AUDIT_WRITE', message: PUBLIC_5XX.DL_ERR_AUDIT_WRITE, requestId } });
        },
      );
  };
  const app = Fastify({
    ...loggerOptions(config.log.level, deps.logStream),
    bodyLimit: config.bodyLimit,
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // Implicit HEAD routes would bypass the route table (and with it the admin check).
    exposeHeadRoutes: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
    clientErrorHandler: onClientError,
    // A URL the router cannot decode or a parameter over its length: fastify answers these past
    // every hook (so onSend never audits them) and, by default, uncoded. Audited here, then coded.
    frameworkErrors: (err, request, rawReply) => {
      const req = request as FastifyRequest;
      const reply = rawReply as FastifyReply;
      const e =
        err.code === 'FST_ERR_BAD_URL'
          ? Errors.badRequest('the request path is not valid percent-encoding')
          : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? Errors.badRequest('a path parameter is longer than any service ID or name')
            : toBrokerError(err);
      reply.header('x-request-id', req.id);
      metrics.requests.inc({ method: req.method, route: 'unmatched', status: String(e.statusCode) });
      metrics.decisions.inc({ decision: 'denied' });
      audit
        .append({
          action: 'http.malformed',
          principal: null,
          decision: 'denied',
          reason: e.code,
          status: e.statusCode,
          method: req.method,
          url: pathOnly(req.url),
          requestId: req.id,
        })
        .then(
          () => reply.code(e.statusCode).send(refusalBody(e, req.id)),
          (auditErr: unknown) => {
            req.log.error({ err: auditErr, code: 'DL_ERR_AUDIT_WRITE' }, 'audit append failed; answering 500');
            reply.code(500).send({
              error: { code: 'DL_ERR_AUDIT_WRITE', message: PUBLIC_5XX.DL_ERR_AUDIT_WRITE, requestId: req.id },
            });
          },
        );
    },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: config.bodyLimit },
    (_req, body, done) => {
      try {
        done(null, parseStrictJson(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    },
  );

  app.addHook('onRequest', async (req, reply) => {
    const s = stateOf(req);
    const route = ROUTES.find((r) => r.method === req.method && r.url === req.routeOptions.url);
    s.route = route;
    if (route?.access === 'public') return;
    // Unknown routes authenticate too, so a 404 never tells an anonymous caller what exists.
    s.principal = authenticate(req.headers.authorization, config.tokens);
    // Before anything else is done for the request: a flood costs a token check and an audit line,
    // never a Docker call.
    const verdict = buckets.take(s.principal.name);
    if (!verdict.ok) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))));
      throw Errors.rateLimited(
        `principal "${s.principal.name}" exceeded its request rate (${config.rateLimit.perSecond}/s, burst ${config.rateLimit.burst}); retry in ${verdict.retryAfterMs} ms`,
      );
    }
    if (route?.access === 'admin' && s.principal.role !== 'admin')
      throw Errors.forbidden('this route requires the admin role');
  });

  app.addHook('preValidation', async (req) => {
    const route = stateOf(req).route;
    // fastify does not parse a GET's body, so `req.body` alone would let one through unread.
    const sentBody =
      req.body !== undefined ||
      req.headers['transfer-encoding'] !== undefined ||
      Number(req.headers['content-length'] ?? '0') > 0;
    if (route !== undefined && route.schema.body === undefined && sentBody) {
      throw Errors.unexpectedBody(`${route.method} ${route.url} takes no request body`);
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const s = stateOf(req);
    reply.header('x-request-id', req.id);
    if (s.route?.key === 'health') return payload;
    const status = reply.statusCode;
    const decision = decisionOf(status);
    metrics.requests.inc({ method: req.method, route: s.route?.url ?? 'unmatched', status: String(status) });
    metrics.decisions.inc({ decision });
    try {
      await audit.append({
        action: s.action ?? s.route?.action ?? 'http.unmatched',
        principal: s.principal?.name ?? null,
        decision,
        reason: s.reason ?? (decision === 'allowed' ? 'ok' : `http ${status}`),
        ...(s.target !== undefined ? { target: s.target } : {}),
        status,
        method: req.method,
        url: pathOnly(req.url),
        requestId: req.id,
      });
    } catch (err) {
      // Fail closed: an action we could not record is reported as failed.
      req.log.error({ err, code: 'DL_ERR_AUDIT_WRITE', status }, 'audit append failed; answering 500');
      reply.code(500).header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify({
        error: { code: 'DL_ERR_AUDIT_WRITE', message: PUBLIC_5XX.DL_ERR_AUDIT_WRITE, requestId: req.id },
      });
    }
    return payload;
  });

  app.setErrorHandler(async (err, req, reply) => {
    const e = toBrokerError(err);
    stateOf(req).reason = e.code;
    if (e.statusCode >= 500) {
      // The whole story (message, engine text, cause chain with stacks) goes to the log only.
      req.log.error({ err: e, cause: e.cause, code: e.code, status: e.statusCode }, e.message);
      const body = {
        error: {
          code: e.code,
          message: `${PUBLIC_5XX[e.code] ?? 'internal error'}; the broker log has the cause under request id ${req.id}`,
          requestId: req.id,
        },
      };
      return reply.code(e.statusCode).send(body);
    }
    return reply.code(e.statusCode).send(refusalBody(e, req.id));
  });

  app.setNotFoundHandler(async (req, reply) => {
    const e = Errors.notFound(`no route ${req.method} ${pathOnly(req.url)}`);
    stateOf(req).reason = e.code;
    return reply.code(404).send({ error: { code: e.code, message: e.message, requestId: req.id } });
  });

  const handlers: Record<RouteSpec['key'], (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>> = {
    health: async () => ({ status: 'ok' }),
    metrics: async (_req, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    },
    openapi: async () => buildOpenApiDocument(),
    create: async (req, reply) => {
      const spec = req.body as ServiceSpec;
      stateOf(req).target = spec.name;
      const end = metrics.deploySeconds.startTimer();
      const view = await services.deploy(principalOf(req).name, spec, req.id);
      end();
      stateOf(req).target = view.id;
      return reply.code(201).send(view);
    },
    list: async (req) => ({ services: await services.list(principalOf(req).name) }),
    get: async (req) => {
      const { id } = req.params as { id: string };
      stateOf(req).target = id;
      return services.get(principalOf(req).name, id);
    },
    act: async (req) => {
      const { id, action } = req.params as { id: string; action: ServiceAction };
      stateOf(req).target = id;
      stateOf(req).action = `service.${action}`;
      return services.act(principalOf(req).name, id, action);
    },
    remove: async (req) => {
      const { id } = req.params as { id: string };
      stateOf(req).target = id;
      return services.remove(principalOf(req).name, id);
    },
    logs: async (req) => {
      const { id } = req.params as { id: string };
      const { tail } = req.query as { tail?: string };
      stateOf(req).target = id;
      return services.logs(principalOf(req).name, id, Math.min(Number(tail ?? '100'), 10_000));
    },
    breakerHistory: async (req) => {
      const { limit, service } = req.query as { limit?: string; service?: string };
      const p = principalOf(req);
      if (service !== undefined) stateOf(req).target = service;
      const b = deps.breaker;
      // Owners see their own services only; admins see every service.
      const events =
        b === undefined
          ? []
          : b.history.list({
              ...(p.role === 'admin' ? {} : { owner: p.name }),
              ...(service !== undefined ? { service } : {}),
              limit: Number(limit ?? '100'),
            });
      return { enabled: b !== undefined && config.breaker.enabled, mode: config.breaker.mode, events };
    },
    audit: async (req) => {
      const { limit } = req.query as { limit?: string };
      const all = await audit.entries();
      const n = Number(limit ?? '1000');
      // slice(-0) is the whole array: limit=0 asks for none.
      return { entries: n === 0 ? [] : all.slice(-n), head: audit.head };
    },
  };

  for (const r of ROUTES) {
    app.route({ method: r.method, url: r.url, schema: r.schema, handler: handlers[r.key] });
  }
  await app.ready();
  return app;
}
