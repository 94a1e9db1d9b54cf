/**
 * Generates the OpenAPI 3.1 document from the route table (routes.ts) and the very schemas that
 * validate requests, so documentation and enforcement are one source.
 */
import { ROUTES } from './routes.ts';

type Schema = Record<string, unknown>;

/** A deep copy, so the document never aliases the live validation schemas. */
function clean(schema: object): Schema {
  return JSON.parse(JSON.stringify(schema)) as Schema;
}

/**
 * Builds the OpenAPI document.
 * @returns an OpenAPI 3.1 object
 * @example
 * const doc = buildOpenApiDocument(); doc.paths['/v1/services'].post
 */
export function buildOpenApiDocument(): {
  openapi: string;
  info: object;
  paths: Record<string, Record<string, object>>;
  security: object[];
  components: object;
} {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of ROUTES) {
    const path = r.url.replace(/:([a-z]+)/g, '{$1}');
    const parameters: object[] = [];
    const params = r.schema.params as { properties?: Record<string, object> } | undefined;
    for (const [name, s] of Object.entries(params?.properties ?? {}))
      parameters.push({ name, in: 'path', required: true, schema: clean(s) });
    const query = r.schema.querystring as { properties?: Record<string, object> } | undefined;
    for (const [name, s] of Object.entries(query?.properties ?? {}))
      parameters.push({ name, in: 'query', required: false, schema: clean(s) });
    const responses: Record<string, object> = {};
    for (const [status, s] of Object.entries(r.schema.response)) {
      responses[status] = {
        description: Number(status) < 400 ? 'OK' : 'Error',
        content: { 'application/json': { schema: clean(s) } },
      };
    }
    if (r.key === 'metrics')
      responses['200'] = {
        description: 'Prometheus text exposition format',
        content: { 'text/plain': { schema: { type: 'string' } } },
      };
    if (r.key === 'openapi')
      responses['200'] = {
        description: 'This document',
        content: { 'application/json': { schema: { type: 'object' } } },
      };
    paths[path] ??= {};
    paths[path]![r.method.toLowerCase()] = {
      operationId: r.key,
      summary: r.summary,
      ...(r.access === 'public' ? { security: [] } : {}),
      ...(r.access === 'admin' ? { description: 'Requires a principal with role admin.' } : {}),
      parameters,
      ...(r.schema.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: clean(r.schema.body) } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'docklock broker',
      version: '1',
      description:
        'HTTP/1.1 + JSON over a Unix socket. Unknown fields, duplicate keys and key-case variants are rejected.',
    },
    paths,
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  };
}
