/**
 * The API's route table: method, path, schemas and who may call it. app.ts attaches handlers to
 * these entries and openapi.ts documents them, so the document and the validation cannot drift.
 */
import {
  actionParamsSchema,
  auditListSchema,
  auditQuerySchema,
  breakerHistoryQuerySchema,
  breakerHistorySchema,
  emptyQuerySchema,
  errorResponses,
  healthSchema,
  idParamsSchema,
  logsQuerySchema,
  logsSchema,
  serviceCreateSchema,
  serviceListSchema,
  serviceViewSchema,
} from './schemas.ts';

/** Who may call a route. */
export type Access = 'public' | 'principal' | 'admin';

/** One route. `action` is the audit event type. */
export interface RouteSpec {
  key:
    | 'health'
    | 'metrics'
    | 'openapi'
    | 'create'
    | 'list'
    | 'get'
    | 'act'
    | 'remove'
    | 'logs'
    | 'audit'
    | 'breakerHistory';
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  access: Access;
  action: string;
  summary: string;
  schema: {
    body?: object;
    params?: object;
    querystring?: object;
    response: Record<number, object>;
  };
}

export const ROUTES: readonly RouteSpec[] = [
  {
    key: 'health',
    method: 'GET',
    url: '/healthz',
    access: 'public',
    action: 'health',
    summary: 'Liveness',
    schema: { querystring: emptyQuerySchema, response: { 200: healthSchema } },
  },
  {
    key: 'metrics',
    method: 'GET',
    url: '/metrics',
    access: 'admin',
    action: 'metrics.read',
    summary: "Prometheus metrics (text format; admin: they name every owner's services)",
    schema: { querystring: emptyQuerySchema, response: { ...errorResponses } },
  },
  {
    key: 'openapi',
    method: 'GET',
    url: '/v1/openapi.json',
    access: 'principal',
    action: 'openapi.read',
    summary: 'This OpenAPI document',
    schema: { querystring: emptyQuerySchema, response: { ...errorResponses } },
  },
  {
    key: 'create',
    method: 'POST',
    url: '/v1/services',
    access: 'principal',
    action: 'service.create',
    summary: 'Deploy a service (created and started under the broker policy)',
    schema: {
      querystring: emptyQuerySchema,
      body: serviceCreateSchema,
      response: { 201: serviceViewSchema, ...errorResponses },
    },
  },
  {
    key: 'list',
    method: 'GET',
    url: '/v1/services',
    access: 'principal',
    action: 'service.list',
    summary: "List the caller's services",
    schema: { querystring: emptyQuerySchema, response: { 200: serviceListSchema, ...errorResponses } },
  },
  {
    key: 'get',
    method: 'GET',
    url: '/v1/services/:id',
    access: 'principal',
    action: 'service.inspect',
    summary: "Inspect one of the caller's services",
    schema: {
      querystring: emptyQuerySchema,
      params: idParamsSchema,
      response: { 200: serviceViewSchema, ...errorResponses },
    },
  },
  {
    key: 'act',
    method: 'POST',
    url: '/v1/services/:id/:action',
    access: 'principal',
    action: 'service.action',
    summary: 'start, stop, restart, pause or unpause a service',
    schema: {
      querystring: emptyQuerySchema,
      params: actionParamsSchema,
      response: { 200: serviceViewSchema, ...errorResponses },
    },
  },
  {
    key: 'remove',
    method: 'DELETE',
    url: '/v1/services/:id',
    access: 'principal',
    action: 'service.remove',
    summary: 'Remove a service',
    schema: {
      querystring: emptyQuerySchema,
      params: idParamsSchema,
      response: { 200: serviceViewSchema, ...errorResponses },
    },
  },
  {
    key: 'logs',
    method: 'GET',
    url: '/v1/services/:id/logs',
    access: 'principal',
    action: 'service.logs',
    summary: "A service's recent output",
    schema: { querystring: logsQuerySchema, params: idParamsSchema, response: { 200: logsSchema, ...errorResponses } },
  },
  {
    key: 'breakerHistory',
    method: 'GET',
    url: '/v1/breaker/history',
    access: 'principal',
    action: 'breaker.history',
    summary: "Circuit-breaker trips and actions on the caller's services (all services for admins)",
    schema: { querystring: breakerHistoryQuerySchema, response: { 200: breakerHistorySchema, ...errorResponses } },
  },
  {
    key: 'audit',
    method: 'GET',
    url: '/v1/audit',
    access: 'admin',
    action: 'audit.read',
    summary: 'Audit log entries (admin)',
    schema: { querystring: auditQuerySchema, response: { 200: auditListSchema, ...errorResponses } },
  },
];
