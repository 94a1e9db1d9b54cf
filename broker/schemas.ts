/**
 * JSON schemas for every route: request schemas validate (additionalProperties: false
 * everywhere a fixed shape is expected) and response schemas serialise, acting as allowlists
 * so no Docker inspect field can leak. The OpenAPI document is generated from these same objects.
 */

/**
 * Strings the engine passes to execve: a NUL would cut an argument short or fail the start after
 * the container was created, so it is refused here.
 */
const NO_NUL = '^[^\\u0000]*$';

/** Service names: they become a Docker label and part of a container name. */
export const SERVICE_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,30}$';

const idOrName = {
  type: 'string',
  pattern: `^(?:[0-9a-f]{64}|[a-z0-9][a-z0-9-]{0,30})$`,
  description: 'Full 64-hex service ID or service name',
} as const;

export const serviceCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'image'],
  properties: {
    name: { type: 'string', pattern: SERVICE_NAME_PATTERN },
    image: {
      type: 'string',
      minLength: 1,
      maxLength: 512,
      description: 'Image reference; its registry/repository must be on the allowlist',
    },
    command: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 4096, pattern: NO_NUL } },
    env: {
      type: 'object',
      maxProperties: 64,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' },
      additionalProperties: { type: 'string', maxLength: 4096, pattern: NO_NUL },
    },
    memory: { type: 'integer', description: 'Bytes; within the policy range' },
    cpus: { type: 'number', description: 'CPUs (fractional); within the policy range' },
    pids: { type: 'integer', description: 'Maximum processes; within the policy range' },
    network: { type: 'string', enum: ['none', 'isolated', 'bridge'], default: 'none' },
    mounts: {
      type: 'array',
      maxItems: 16,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['source', 'target'],
        properties: {
          source: { type: 'string', minLength: 1, maxLength: 4096 },
          target: { type: 'string', minLength: 1, maxLength: 4096 },
          readOnly: { type: 'boolean', default: true },
        },
      },
    },
    ports: {
      type: 'array',
      maxItems: 16,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['container', 'host'],
        properties: {
          container: { type: 'integer', minimum: 1, maximum: 65535 },
          host: { type: 'integer', minimum: 1, maximum: 65535, description: 'Published on 127.0.0.1 only' },
        },
      },
    },
    user: { type: 'string', pattern: '^[0-9]{1,10}(?::[0-9]{1,10})?$', description: 'Numeric uid[:gid], never 0' },
  },
} as const;

export const serviceViewSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'name',
    'owner',
    'image',
    'state',
    'network',
    'createdAt',
    'user',
    'memory',
    'cpus',
    'pids',
    'ports',
  ],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    owner: { type: 'string' },
    image: { type: 'string' },
    state: { type: 'string' },
    network: { type: 'string', enum: ['none', 'isolated', 'bridge'] },
    createdAt: { type: 'string' },
    user: { type: 'string' },
    memory: { type: 'integer' },
    cpus: { type: 'number' },
    pids: { type: 'integer' },
    ports: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['container', 'host'],
        properties: { container: { type: 'integer' }, host: { type: 'integer' } },
      },
    },
  },
} as const;

export const errorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        field: { type: 'string' },
        requestId: {
          type: 'string',
          description: 'The id the broker log has for this request (also in the x-request-id header)',
        },
      },
    },
  },
} as const;

export const idParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: idOrName },
} as const;
export const actionParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'action'],
  properties: { id: idOrName, action: { type: 'string', enum: ['start', 'stop', 'restart', 'pause', 'unpause'] } },
} as const;
export const logsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tail: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'Lines from the end (default 100, max 10000)' },
  },
} as const;
export const auditQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', pattern: '^[0-9]{1,6}$', description: 'Newest entries to return (default 1000)' },
  },
} as const;
export const breakerHistoryQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'Newest events to return (default 100)' },
    service: { ...idOrName, description: 'Only this service (name or full ID)' },
  },
} as const;
export const breakerEventSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'seq',
    'time',
    'id',
    'service',
    'owner',
    'rule',
    'expression',
    'action',
    'outcome',
    'reason',
    'mode',
    'heldMs',
    'signals',
    'repeats',
  ],
  properties: {
    seq: { type: 'integer' },
    time: { type: 'string' },
    id: { type: 'string' },
    service: { type: 'string' },
    owner: { type: 'string' },
    rule: { type: 'string' },
    expression: { type: 'string' },
    action: { type: 'string', enum: ['pause', 'stop', 'kill', 'restart'] },
    outcome: { type: 'string', enum: ['acted', 'suppressed', 'failed'] },
    reason: {
      type: 'string',
      description:
        'ok, a suppression reason (not_owned, grace, cooldown, service_hourly_cap, total_hourly_cap, owner_hourly_cap, monitor) or an error code',
    },
    mode: { type: 'string', enum: ['enforce', 'monitor'] },
    heldMs: { type: 'integer' },
    signals: { type: 'object', additionalProperties: { type: 'number' } },
    repeats: { type: 'integer' },
    detail: { type: 'string' },
  },
} as const;
export const breakerHistorySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled', 'mode', 'events'],
  properties: {
    enabled: { type: 'boolean' },
    mode: { type: 'string', enum: ['enforce', 'monitor'] },
    events: { type: 'array', items: breakerEventSchema },
  },
} as const;

/** Routes that take no query string still reject one. */
export const emptyQuerySchema = { type: 'object', additionalProperties: false, properties: {} } as const;

export const serviceListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['services'],
  properties: { services: { type: 'array', items: serviceViewSchema } },
} as const;
export const logsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['stdout', 'stderr'],
  properties: { stdout: { type: 'string' }, stderr: { type: 'string' } },
} as const;
export const healthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: { type: 'string' } },
} as const;

export const auditEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'time', 'prev', 'action', 'principal', 'decision'],
  properties: {
    seq: { type: 'integer' },
    time: { type: 'string' },
    prev: { type: 'string' },
    action: { type: 'string' },
    principal: { type: ['string', 'null'] },
    decision: { type: 'string' },
    reason: { type: 'string' },
    target: { type: 'string' },
    status: { type: 'integer' },
    method: { type: 'string' },
    url: { type: 'string' },
  },
} as const;
export const auditListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['entries', 'head'],
  properties: { entries: { type: 'array', items: auditEntrySchema }, head: { type: 'string' } },
} as const;

/** Error responses every authenticated route may give. */
export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  409: errorSchema,
  422: errorSchema,
  429: errorSchema,
  500: errorSchema,
  502: errorSchema,
  503: errorSchema,
} as const;
