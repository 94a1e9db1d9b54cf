/**
 * The escrow's HTTP API (fastify): what `docklock escrow …` does, for programs. Every request
 * carries `Authorization: Bearer <token>`; escrow.yaml's `api.tokens` keeps only their SHA-256.
 * A `client` opens escrows, reads, and withdraws its own with the revert token; an `operator` also
 * records verdicts (remote jurors: a P2P node's replays count like local ones), summons the local
 * jury, commits and holds. Errors are `{ error: { code, message, where } }` with the code's HTTP
 * status (docs/errors.md); a 5xx never carries internals.
 *
 *   GET  /v1/escrows[?status=S]            GET  /v1/escrows/:id      (record, verdicts, gate now)
 *   POST /v1/escrows?miner=M               body: the run's bundle (application/octet-stream)
 *   POST /v1/escrows/:id/verdicts          {"juror", "resultHash" | null, "detail"?}    operator
 *   POST /v1/escrows/:id/jury              {"jurors"?}                                  operator
 *   POST /v1/escrows/:id/commit|hold       {"reason"}                                   operator
 *   POST /v1/escrows/:id/revert            {"reason", "token"?}   token: as the miner; else operator
 *   GET  /v1/state/:name[?at=V&from=K&limit=N]
 *   GET  /metrics                          Prometheus text (no token: bind to a private address)
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { bearerToken, matchToken } from '../auth/bearer.ts';
import { DocklockError, httpStatusOf, isErrorCode } from '../index.ts';
import type { EscrowRecord, EscrowStatus } from './book.ts';
import type { EscrowApiToken } from './config.ts';
import { EscrowError } from './errors.ts';
import type { Escrow } from './escrow.ts';
import { judgeLocally } from './jury.ts';
import { rerunFromBundle } from './rerun.ts';
import { bytesJson, recordJson } from './json.ts';

export interface EscrowApiOptions {
  readonly tokens: readonly EscrowApiToken[];
  /** Largest bundle accepted, bytes (default 64 MiB). */
  readonly maxBundleBytes?: number;
}

const STATUSES: readonly EscrowStatus[] = ['pending', 'held', 'committed', 'reverted', 'expired'];
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const apiError = (
  code: 'DL_ERR_ESCROW_API_AUTH' | 'DL_ERR_ESCROW_API_FORBIDDEN' | 'DL_ERR_ESCROW_API_REQUEST',
  message: string,
  field?: string,
) => new EscrowError(code, message, field === undefined ? undefined : { field });

/** The caller's token entry; every configured hash is compared, in constant time. */
function authenticate(header: string | undefined, tokens: readonly EscrowApiToken[]): EscrowApiToken {
  const token = bearerToken(header);
  if (token === undefined) throw apiError('DL_ERR_ESCROW_API_AUTH', 'send "Authorization: Bearer <token>"');
  const found = matchToken(token, tokens);
  if (found === undefined)
    throw apiError('DL_ERR_ESCROW_API_AUTH', 'the token is not one of api.tokens in escrow.yaml');
  return found;
}

function body(req: FastifyRequest): Record<string, unknown> {
  const b = req.body ?? {};
  if (typeof b !== 'object' || Array.isArray(b) || b instanceof Buffer)
    throw apiError('DL_ERR_ESCROW_API_REQUEST', 'the body must be a JSON object');
  return b as Record<string, unknown>;
}

function text(b: Record<string, unknown>, field: string, required: boolean): string | undefined {
  const v = b[field];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 4096)
    throw apiError('DL_ERR_ESCROW_API_REQUEST', `"${field}" must be a string of 1 to 4096 characters`, field);
  return v;
}

/**
 * The API over an open escrow. Decisions that change state are made one at a time, in arrival
 * order, so two requests never race inside the escrow.
 */
export function buildEscrowApp(escrow: Escrow, options: EscrowApiOptions): FastifyInstance {
  const maxBundle = options.maxBundleBytes ?? 64 * 1024 * 1024;
  const app = Fastify({ logger: false, bodyLimit: maxBundle });
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: maxBundle }, (_r, b, done) =>
    done(null, b),
  );
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => undefined);
    return p;
  };
  const who = (req: FastifyRequest): EscrowApiToken => authenticate(req.headers.authorization, options.tokens);
  const operator = (req: FastifyRequest): EscrowApiToken => {
    const t = who(req);
    if (t.role !== 'operator')
      throw apiError('DL_ERR_ESCROW_API_FORBIDDEN', `token "${t.name}" is a client; this needs an operator token`);
    return t;
  };

  app.setErrorHandler(async (err, _req, reply) => {
    if (err instanceof DocklockError) {
      const status = isErrorCode(err.code) ? (httpStatusOf(err.code) ?? 500) : 500;
      const message = status >= 500 ? 'the escrow failed; its process log has the cause' : err.message;
      return reply.code(status).send({
        error: { code: err.code, message, ...(err.where === undefined || status >= 500 ? {} : { where: err.where }) },
      });
    }
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status < 500)
      return reply.code(status).send({ error: { code: 'DL_ERR_ESCROW_API_REQUEST', message: (err as Error).message } });
    return reply
      .code(500)
      .send({ error: { code: 'DL_ERR_INTERNAL', message: 'the escrow failed; its process log has the cause' } });
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(escrow.metrics.registry.contentType);
    return escrow.metrics.registry.metrics();
  });

  app.get('/v1/escrows', async (req) => {
    who(req);
    const status = (req.query as { status?: string }).status;
    if (status !== undefined && !STATUSES.includes(status as EscrowStatus))
      throw apiError('DL_ERR_ESCROW_API_REQUEST', `status must be one of ${STATUSES.join(', ')}`, 'status');
    return escrow.book.list(status === undefined ? {} : { status: status as EscrowStatus }).map(recordJson);
  });

  app.get('/v1/escrows/:id', async (req) => {
    who(req);
    const r = escrow.book.get((req.params as { id: string }).id);
    return { escrow: recordJson(r), verdicts: escrow.verdicts(r.id), gate: escrow.gateDecision(r) };
  });

  app.post('/v1/escrows', async (req, reply) => {
    who(req);
    if (!(req.body instanceof Buffer))
      throw apiError('DL_ERR_ESCROW_API_REQUEST', 'send the bundle as Content-Type: application/octet-stream');
    const miner = (req.query as { miner?: string }).miner;
    if (miner === undefined || !/^[A-Za-z0-9._@-]{1,128}$/.test(miner))
      throw apiError(
        'DL_ERR_ESCROW_API_REQUEST',
        'miner (query) must be 1 to 128 letters, digits, ".", "_", "@" or "-"',
        'miner',
      );
    const bundle = new Uint8Array(req.body);
    const { record, revertToken } = await serial(() => escrow.escrowRun({ bundle, miner }));
    return reply.code(201).send({ escrow: recordJson(record), revertToken });
  });

  app.post('/v1/escrows/:id/verdicts', async (req) => {
    operator(req);
    const id = (req.params as { id: string }).id;
    const b = body(req);
    const juror = text(b, 'juror', true)!;
    const resultHash = b.resultHash;
    if (resultHash !== null && (typeof resultHash !== 'string' || !/^[0-9a-f]{64}$/.test(resultHash)))
      throw apiError(
        'DL_ERR_ESCROW_API_REQUEST',
        '"resultHash" must be 64 lowercase hex digits, or null for a failed replay',
        'resultHash',
      );
    const detail = text(b, 'detail', false);
    const d = await serial(() =>
      escrow.addVerdict(
        id,
        { juror, resultHash, ...(detail === undefined ? {} : { detail }) },
        { reevaluate: rerunFromBundle(escrow) },
      ),
    );
    return { escrow: recordJson(escrow.book.get(id)), decision: d };
  });

  app.post('/v1/escrows/:id/jury', async (req) => {
    operator(req);
    const id = (req.params as { id: string }).id;
    const k = body(req).jurors;
    if (k !== undefined && (!Number.isSafeInteger(k) || (k as number) < 1 || (k as number) > 16))
      throw apiError('DL_ERR_ESCROW_API_REQUEST', '"jurors" must be 1 to 16', 'jurors');
    const d = await serial(() => judgeLocally(escrow, id, k as number | undefined));
    return { escrow: recordJson(escrow.book.get(id)), decision: d };
  });

  for (const action of ['commit', 'hold'] as const)
    app.post(`/v1/escrows/:id/${action}`, async (req) => {
      const t = operator(req);
      const id = (req.params as { id: string }).id;
      const reason = text(body(req), 'reason', true)!;
      const r = await serial(() =>
        action === 'commit'
          ? escrow.commitByOperator(id, t.name, reason)
          : escrow.hold(id, `operator:${t.name}`, reason),
      );
      return recordJson(r);
    });

  app.post('/v1/escrows/:id/revert', async (req) => {
    const t = who(req);
    const id = (req.params as { id: string }).id;
    const b = body(req);
    const reason = text(b, 'reason', true)!;
    const token = text(b, 'token', false);
    if (token === undefined && t.role !== 'operator')
      throw apiError('DL_ERR_ESCROW_API_FORBIDDEN', 'a client reverts with the revert token ("token") it was given');
    const r = await serial(() =>
      escrow.revert(id, token === undefined ? { by: `operator:${t.name}` } : { token }, reason),
    );
    return recordJson(r);
  });

  app.get('/v1/state/:name', async (req) => {
    who(req);
    const name = (req.params as { name: string }).name;
    const q = req.query as { at?: string; from?: string; limit?: string };
    const head = escrow.state.head(name);
    const at = q.at === undefined ? head : Number(q.at);
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isSafeInteger(at) || at < 0 || at > head)
      throw apiError('DL_ERR_ESCROW_API_REQUEST', `at must be a version from 0 to ${head}`, 'at');
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1024)
      throw apiError('DL_ERR_ESCROW_API_REQUEST', 'limit must be 1 to 1024', 'limit');
    const rows = escrow.state.scan(name, new TextEncoder().encode(q.from ?? ''), limit, at);
    return {
      state: name,
      version: at,
      head,
      entries: rows.map((r) => ({ key: bytesJson(r.key), value: bytesJson(r.value), version: r.version })),
    };
  });

  return app;
}
