/**
 * The broker's server log: fastify's own pino logger, one JSON object a line, at the configured
 * level. Every 5xx is logged with its cause (app.ts), under the request id the response carries
 * in `x-request-id` and in its error body, so an operator can go from a client's report to the
 * cause. The log never holds a secret: requests are logged as method + path (no query string, no
 * headers), and anything that looks like a token or an authorization header is censored by
 * pino's `redact` should a future log call carry one.
 */
import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { FastifyServerOptions } from 'fastify';

/** Levels an operator can choose (`log.level` in broker.yaml). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Paths pino censors wherever they occur in a log object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'err.token',
];

/** Drops the query string: a secret sent as `?token=` must reach neither the log nor the audit trail. */
export function pathOnly(url: string): string {
  const q = url.indexOf('?');
  return (q === -1 ? url : url.slice(0, q)).slice(0, 512);
}

/**
 * Fastify options for the broker's logger and request ids.
 * @param level - the configured level
 * @param stream - where the JSON lines go (default stderr; tests pass a capture stream)
 */
export function loggerOptions(
  level: LogLevel,
  stream?: Writable,
): Pick<FastifyServerOptions, 'logger' | 'genReqId' | 'requestIdHeader'> {
  return {
    logger: {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      stream: stream ?? process.stderr,
      serializers: {
        req: (req: { method?: string; url?: string; id?: string }) => ({
          method: req.method,
          url: pathOnly(req.url ?? ''),
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
    },
    // A client-chosen id could forge or collide with another request's log lines: always ours.
    requestIdHeader: false,
    genReqId: () => randomUUID(),
  };
}
