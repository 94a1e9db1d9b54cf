/**
 * Broker errors: a `DocklockError` that also carries the HTTP status it maps to and the request
 * field it points at. Built from one factory (fastify `lib/errors.js` `createError`) so every
 * code has exactly one status.
 */
import { DocklockError } from '../errors/index.ts';
import type { ErrorCode } from '../errors/index.ts';

/** A broker, policy, auth or audit error with the HTTP status the API answers with. */
export class BrokerError extends DocklockError {
  readonly statusCode: number;
  readonly field: string | undefined;

  /** `code` is a string: the broker client rebuilds errors from codes the server sent. */
  constructor(code: string, message: string, statusCode: number, field?: string, options?: { cause?: unknown }) {
    super(code as ErrorCode, message, field === undefined ? undefined : { field }, options);
    this.name = 'BrokerError';
    this.statusCode = statusCode;
    this.field = field;
  }
}

/** The constructor shape the factory returns: message and optional field, status fixed per code. */
export type BrokerErrorFactory = (message: string, field?: string, options?: { cause?: unknown }) => BrokerError;

/**
 * Creates a factory for one error code with a fixed HTTP status.
 * @param code - stable `DL_ERR_<AREA>_<WHAT>` code
 * @param statusCode - HTTP status the API answers with
 * @returns a function building the error
 * @example
 * const NotFound = createBrokerError('DL_ERR_BROKER_NOT_FOUND', 404);
 * throw NotFound('no such service', 'id');
 */
export function createBrokerError(code: ErrorCode, statusCode: number): BrokerErrorFactory {
  return (message, field, options) => new BrokerError(code, message, statusCode, field, options);
}

/** Every error code the broker emits, with its status. */
export const Errors = {
  badRequest: createBrokerError('DL_ERR_BROKER_BAD_REQUEST', 400),
  malformedJson: createBrokerError('DL_ERR_BROKER_MALFORMED_JSON', 400),
  duplicateKey: createBrokerError('DL_ERR_BROKER_DUPLICATE_KEY', 400),
  bodyTooLarge: createBrokerError('DL_ERR_BROKER_BODY_TOO_LARGE', 400),
  unknownField: createBrokerError('DL_ERR_BROKER_UNKNOWN_FIELD', 400),
  invalidField: createBrokerError('DL_ERR_BROKER_INVALID_FIELD', 400),
  unexpectedBody: createBrokerError('DL_ERR_BROKER_UNEXPECTED_BODY', 400),
  notFound: createBrokerError('DL_ERR_BROKER_NOT_FOUND', 404),
  conflict: createBrokerError('DL_ERR_BROKER_CONFLICT', 409),
  docker: createBrokerError('DL_ERR_BROKER_DOCKER', 502),
  config: createBrokerError('DL_ERR_BROKER_CONFIG', 500),
  internal: createBrokerError('DL_ERR_INTERNAL', 500),
  unauthenticated: createBrokerError('DL_ERR_AUTH_UNAUTHENTICATED', 401),
  forbidden: createBrokerError('DL_ERR_AUTH_FORBIDDEN', 403),
  imageNotAllowed: createBrokerError('DL_ERR_POLICY_IMAGE_NOT_ALLOWED', 403),
  imageNotPinned: createBrokerError('DL_ERR_POLICY_IMAGE_NOT_PINNED', 403),
  imageNotPresent: createBrokerError('DL_ERR_POLICY_IMAGE_NOT_PRESENT', 422),
  mountNotAllowed: createBrokerError('DL_ERR_POLICY_MOUNT_NOT_ALLOWED', 403),
  userNotAllowed: createBrokerError('DL_ERR_POLICY_USER_NOT_ALLOWED', 403),
  portNotAllowed: createBrokerError('DL_ERR_POLICY_PORT_NOT_ALLOWED', 403),
  limitOutOfRange: createBrokerError('DL_ERR_POLICY_LIMIT_OUT_OF_RANGE', 422),
  quotaExceeded: createBrokerError('DL_ERR_POLICY_QUOTA_EXCEEDED', 409),
  rateLimited: createBrokerError('DL_ERR_BROKER_RATE_LIMITED', 429),
  auditChainBroken: createBrokerError('DL_ERR_AUDIT_CHAIN_BROKEN', 500),
  auditWrite: createBrokerError('DL_ERR_AUDIT_WRITE', 500),
  auditInsecure: createBrokerError('DL_ERR_AUDIT_INSECURE', 500),
  breakerRule: createBrokerError('DL_ERR_BREAKER_RULE', 500),
  breakerAction: createBrokerError('DL_ERR_BREAKER_ACTION', 502),
  breakerOpen: createBrokerError('DL_ERR_BREAKER_OPEN', 409),
  seccompMissing: createBrokerError('DL_ERR_BROKER_SECCOMP_MISSING', 500),
  portInUse: createBrokerError('DL_ERR_POLICY_PORT_IN_USE', 409),
  unreachable: createBrokerError('DL_ERR_BROKER_UNREACHABLE', 503),
  noToken: createBrokerError('DL_ERR_BROKER_NO_TOKEN', 400),
  usage: createBrokerError('DL_ERR_BROKER_USAGE', 400),
  auditRead: createBrokerError('DL_ERR_AUDIT_READ', 400),
} as const;
