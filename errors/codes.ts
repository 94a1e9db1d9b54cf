/**
 * The registry of every error code docklock raises on purpose, runtime and broker alike. A code is
 * `DL_ERR_<AREA>_<WHAT>`, is documented under its own anchor in docs/errors.md (a test reads this
 * table, not the sources), and is never reused once retired (fastify `lib/warnings.js` header).
 * Codes that an HTTP API answers with carry their status here, so each code has exactly one.
 */

/**
 * Stable trap codes. The set is closed: a guest fault is always one of these, never an engine
 * message (spec/traps.md#T1). The ORDER is part of the nested-module ABI: a nested call reports
 * its trap as the index in this list (`TRAP_CODES.indexOf(trap) + 1`, host-functions/nested/submission.ts and the SDKs), so codes are only appended.
 */
export const TRAP_CODES = [
  'out_of_fuel',
  'stack_exhausted',
  'unreachable',
  'integer_divide_by_zero',
  'integer_overflow',
  'invalid_conversion',
  'out_of_bounds_memory',
  'out_of_bounds_table',
  'indirect_call_type_mismatch',
  'null_reference',
  'uninitialized_element',
  // Never produced today: V8 reports a data segment out of bounds as an out-of-bounds memory access,
  // which runtime/traps.ts classifies `out_of_bounds_memory`. Kept: removing it would shift the
  // codes after it, and the order is ABI (above).
  'out_of_bounds_data_segment',
  'host_error',
] as const;
export type TrapCode = (typeof TRAP_CODES)[number];

/** What the registry knows about a code besides its name. */
export interface CodeInfo {
  /** The HTTP status an API answers with (broker codes only). */
  readonly httpStatus?: number;
}

const module = {
  DL_ERR_MODULE_MALFORMED: {},
  DL_ERR_MODULE_INVALID: {},
  DL_ERR_MODULE_RESERVED_EXPORT: {},
  DL_ERR_FEATURE_UNSUPPORTED: {},
  DL_ERR_IMPORT_NOT_GRANTED: {},
  DL_ERR_LIMIT_MODULE_SIZE: {},
  DL_ERR_LIMIT_FUNCTION_COUNT: {},
  DL_ERR_LIMIT_TYPE_COUNT: {},
  DL_ERR_LIMIT_IMPORT_COUNT: {},
  DL_ERR_LIMIT_EXPORT_COUNT: {},
  DL_ERR_LIMIT_GLOBAL_COUNT: {},
  DL_ERR_LIMIT_LOCALS_PER_FUNCTION: {},
  DL_ERR_LIMIT_FUNCTION_BODY_SIZE: {},
  DL_ERR_LIMIT_TABLE_SIZE: {},
  DL_ERR_LIMIT_DATA_SIZE: {},
  DL_ERR_LIMIT_MEMORY: {},
  DL_ERR_LIMIT_FRAME: {},
} as const;

const traps = {
  DL_ERR_TRAP_OUT_OF_FUEL: {},
  DL_ERR_TRAP_STACK_EXHAUSTED: {},
  DL_ERR_TRAP_UNREACHABLE: {},
  DL_ERR_TRAP_INTEGER_DIVIDE_BY_ZERO: {},
  DL_ERR_TRAP_INTEGER_OVERFLOW: {},
  DL_ERR_TRAP_INVALID_CONVERSION: {},
  DL_ERR_TRAP_OUT_OF_BOUNDS_MEMORY: {},
  DL_ERR_TRAP_OUT_OF_BOUNDS_TABLE: {},
  DL_ERR_TRAP_INDIRECT_CALL_TYPE_MISMATCH: {},
  DL_ERR_TRAP_NULL_REFERENCE: {},
  DL_ERR_TRAP_UNINITIALIZED_ELEMENT: {},
  DL_ERR_TRAP_OUT_OF_BOUNDS_DATA_SEGMENT: {},
  DL_ERR_TRAP_HOST_ERROR: {},
} as const satisfies Record<`DL_ERR_TRAP_${Uppercase<TrapCode>}`, CodeInfo>;

const cage = {
  DL_ERR_CAGE_NO_ENTRY: {},
  DL_ERR_CAGE_WATCHDOG: {},
  DL_ERR_CAGE_POOL_CLOSED: {},
  DL_ERR_CAGE_POOL_FULL: {},
  DL_ERR_CAGE_POOL_SIZE: {},
  DL_ERR_COMPONENT_INVALID: {},
  DL_ERR_COMPONENT_UNSUPPORTED: {},
  DL_ERR_COMPONENT_IMPORT_DENIED: {},
  DL_ERR_COMPONENT_NO_RUN: {},
  DL_ERR_COMPONENT_CACHE: {},
  DL_ERR_INTERNAL: { httpStatus: 500 },
} as const;

const manifest = {
  DL_ERR_MANIFEST_SYNTAX: {},
  DL_ERR_MANIFEST_TYPE: {},
  DL_ERR_MANIFEST_MISSING_FIELD: {},
  DL_ERR_MANIFEST_UNKNOWN_FIELD: {},
  DL_ERR_MANIFEST_DUPLICATE: {},
  DL_ERR_MANIFEST_API_VERSION: {},
  DL_ERR_MANIFEST_KIND: {},
  DL_ERR_MANIFEST_RANGE: {},
  DL_ERR_MANIFEST_SIZE: {},
  DL_ERR_MANIFEST_SEED: {},
  DL_ERR_MANIFEST_PATH: {},
  DL_ERR_MANIFEST_PATH_OVERLAP: {},
  DL_ERR_MANIFEST_ENV: {},
  DL_ERR_MANIFEST_NETWORK_MODE: {},
  DL_ERR_MANIFEST_NETWORK_ALLOW: {},
  DL_ERR_MANIFEST_GRANT: {},
  DL_ERR_MANIFEST_CONFLICT: {},
  DL_ERR_MANIFEST_CANONICAL: {},
  DL_ERR_MANIFEST_INPUT_SOURCE: {},
  DL_ERR_MANIFEST_INPUT_READ: {},
  DL_ERR_MANIFEST_INPUT_NAME: {},
  DL_ERR_MANIFEST_INPUT_SYMLINK: {},
  DL_ERR_MANIFEST_INPUT_TYPE: {},
  DL_ERR_MANIFEST_INPUT_LIMIT: {},
} as const;

const bundle = {
  DL_ERR_BUNDLE_BAD_MAGIC: {},
  DL_ERR_BUNDLE_UNSUPPORTED_VERSION: {},
  DL_ERR_BUNDLE_CORRUPT: {},
  DL_ERR_BUNDLE_TOO_LARGE: {},
  DL_ERR_BUNDLE_SCHEMA: {},
  DL_ERR_BUNDLE_WITNESS_INVALID: {},
  DL_ERR_BUNDLE_WITNESS_ROOT_MISMATCH: {},
  DL_ERR_BUNDLE_WITNESS_COUNT_MISMATCH: {},
  DL_ERR_BUNDLE_MODULE_HASH_MISMATCH: {},
  DL_ERR_BUNDLE_MANIFEST_HASH_MISMATCH: {},
  DL_ERR_BUNDLE_INPUT_HASH_MISMATCH: {},
  DL_ERR_BUNDLE_INPUTS_MISMATCH: {},
  DL_ERR_BUNDLE_FUEL_LIMIT_MISMATCH: {},
  DL_ERR_BUNDLE_FUEL_OVER_LIMIT: {},
  DL_ERR_BUNDLE_RESULT_HASH_MISMATCH: {},
  DL_ERR_BUNDLE_ENGINE_MISMATCH: {},
  DL_ERR_BUNDLE_UNEXPECTED_HASH: {},
  DL_ERR_WITNESS_MALFORMED: {},
  DL_ERR_WITNESS_SCHEMA: {},
  DL_ERR_WITNESS_VERSION: {},
  DL_ERR_PROOF_SYNTAX: {},
  DL_ERR_PROOF_FIELD: {},
} as const;

const cli = {
  DL_ERR_CLI_READ: {},
  DL_ERR_CLI_TOO_LARGE: {},
  DL_ERR_CLI_WRITE: {},
  DL_ERR_CLI_ENV: {},
  DL_ERR_CLI_NET: {},
  DL_ERR_CLI_ENTRY: {},
  DL_ERR_CLI_JOBS: {},
  DL_ERR_CLI_USAGE: {},
  DL_ERR_CLI_OUTPUT_PATH: {},
  DL_ERR_CLI_OUTPUT_WRITE: {},
  DL_ERR_CLI_OUTPUT_EXISTS: {},
  DL_ERR_CLI_LIMIT: {},
  /** Printed by cli/main.ts before anything is imported (it cannot import this table on an old Node). */
  DL_ERR_CLI_NODE_VERSION: {},
  DL_ERR_EVALUATE_NO_MANIFEST: {},
  DL_ERR_EVALUATE_MODULE_READ: {},
  DL_ERR_EVALUATE_SUBMISSION_INPUT: {},
  DL_ERR_EVALUATE_JOBS: {},
  DL_ERR_EVALUATE_CLOSED: {},
  DL_ERR_PROFILE_FORMAT: {},
  DL_ERR_PROFILE_DIVERGED: {},
} as const;

const broker = {
  DL_ERR_BROKER_BAD_REQUEST: { httpStatus: 400 },
  DL_ERR_BROKER_MALFORMED_JSON: { httpStatus: 400 },
  DL_ERR_BROKER_DUPLICATE_KEY: { httpStatus: 400 },
  DL_ERR_BROKER_BODY_TOO_LARGE: { httpStatus: 400 },
  DL_ERR_BROKER_UNKNOWN_FIELD: { httpStatus: 400 },
  DL_ERR_BROKER_INVALID_FIELD: { httpStatus: 400 },
  DL_ERR_BROKER_UNEXPECTED_BODY: { httpStatus: 400 },
  DL_ERR_BROKER_NOT_FOUND: { httpStatus: 404 },
  DL_ERR_BROKER_CONFLICT: { httpStatus: 409 },
  DL_ERR_BROKER_DOCKER: { httpStatus: 502 },
  DL_ERR_BROKER_CONFIG: { httpStatus: 500 },
  /** Client side: the broker answered a non-2xx status without a coded error body. */
  DL_ERR_BROKER_HTTP: {},
  /** Client side: no answer within the client's timeout. */
  DL_ERR_BROKER_TIMEOUT: { httpStatus: 504 },
  DL_ERR_AUTH_UNAUTHENTICATED: { httpStatus: 401 },
  DL_ERR_AUTH_FORBIDDEN: { httpStatus: 403 },
  DL_ERR_POLICY_IMAGE_NOT_ALLOWED: { httpStatus: 403 },
  DL_ERR_POLICY_IMAGE_NOT_PINNED: { httpStatus: 403 },
  DL_ERR_POLICY_IMAGE_NOT_PRESENT: { httpStatus: 422 },
  DL_ERR_POLICY_MOUNT_NOT_ALLOWED: { httpStatus: 403 },
  DL_ERR_POLICY_USER_NOT_ALLOWED: { httpStatus: 403 },
  DL_ERR_POLICY_PORT_NOT_ALLOWED: { httpStatus: 403 },
  DL_ERR_POLICY_LIMIT_OUT_OF_RANGE: { httpStatus: 422 },
  DL_ERR_POLICY_QUOTA_EXCEEDED: { httpStatus: 409 },
  DL_ERR_BROKER_RATE_LIMITED: { httpStatus: 429 },
  DL_ERR_AUDIT_CHAIN_BROKEN: { httpStatus: 500 },
  DL_ERR_AUDIT_WRITE: { httpStatus: 500 },
  DL_ERR_AUDIT_INSECURE: { httpStatus: 500 },
  DL_ERR_BREAKER_RULE: { httpStatus: 500 },
  DL_ERR_BREAKER_ACTION: { httpStatus: 502 },
  DL_ERR_BREAKER_OPEN: { httpStatus: 409 },
  DL_ERR_BROKER_SECCOMP_MISSING: { httpStatus: 500 },
  DL_ERR_POLICY_PORT_IN_USE: { httpStatus: 409 },
  DL_ERR_BROKER_UNREACHABLE: { httpStatus: 503 },
  DL_ERR_BROKER_NO_TOKEN: { httpStatus: 400 },
  DL_ERR_BROKER_USAGE: { httpStatus: 400 },
  DL_ERR_AUDIT_READ: { httpStatus: 400 },
} as const;

/** The P2P node (p2p/, docs/p2p.md): hostile peers' input, keys, dispute files. */
const p2p = {
  DL_ERR_P2P_BAD_SIGNATURE: {},
  DL_ERR_P2P_BATCH: {},
  DL_ERR_P2P_BUNDLE_INVALID: {},
  DL_ERR_P2P_DISPUTE_INVALID: {},
  DL_ERR_P2P_KEY_EXISTS: {},
  DL_ERR_P2P_KEY_FILE: {},
  DL_ERR_P2P_KEY_PERMISSIONS: {},
  DL_ERR_P2P_MALFORMED: {},
  DL_ERR_P2P_SCHEMA: {},
  DL_ERR_P2P_TOO_LARGE: {},
  DL_ERR_P2P_VERSION: {},
  DL_ERR_P2P_API_BAD_REQUEST: { httpStatus: 400 },
  DL_ERR_P2P_API_NOT_FOUND: { httpStatus: 404 },
  DL_ERR_P2P_API_TOO_LARGE: { httpStatus: 413 },
  DL_ERR_P2P_API_UNAUTHENTICATED: { httpStatus: 401 },
  DL_ERR_P2P_API_UNREACHABLE: {},
  DL_ERR_P2P_BUNDLE_HASH: {},
  DL_ERR_P2P_BUNDLE_NOT_FOUND: {},
  DL_ERR_P2P_BUNDLE_TOO_LARGE: {},
  DL_ERR_P2P_REPLAY_LIMITS: {},
  DL_ERR_P2P_REPLAY_EXPIRED: {},
  DL_ERR_P2P_CLOCK: {},
  DL_ERR_P2P_CONFIG: {},
  DL_ERR_P2P_INTERNAL: {},
  DL_ERR_P2P_SELF_VERDICT: {},
  DL_ERR_P2P_START: {},
  DL_ERR_P2P_STORE: {},
  DL_ERR_P2P_STREAM: {},
} as const;

/** Challenge state and the escrow (escrow/, docs/escrow.md): sizes, snapshots, tokens, decisions. */
const escrow = {
  DL_ERR_STATE_KEY_SIZE: { httpStatus: 400 },
  DL_ERR_STATE_VALUE_SIZE: { httpStatus: 400 },
  DL_ERR_STATE_WRITE_SET: { httpStatus: 400 },
  DL_ERR_STATE_SCAN_LIMIT: { httpStatus: 400 },
  DL_ERR_STATE_SNAPSHOT: { httpStatus: 409 },
  DL_ERR_STATE_CHANGE_MALFORMED: { httpStatus: 400 },
  DL_ERR_STATE_SOURCE: { httpStatus: 400 },
  DL_ERR_ESCROW_STORE: { httpStatus: 500 },
  DL_ERR_ESCROW_CORRUPT: { httpStatus: 500 },
  DL_ERR_ESCROW_RUN: { httpStatus: 422 },
  DL_ERR_ESCROW_API_AUTH: { httpStatus: 401 },
  DL_ERR_ESCROW_API_FORBIDDEN: { httpStatus: 403 },
  DL_ERR_ESCROW_API_REQUEST: { httpStatus: 400 },
  DL_ERR_ESCROW_NOT_FOUND: { httpStatus: 404 },
  DL_ERR_ESCROW_DECIDED: { httpStatus: 409 },
  DL_ERR_ESCROW_TOKEN: { httpStatus: 403 },
  DL_ERR_ESCROW_TTL: { httpStatus: 400 },
  DL_ERR_ESCROW_AUDIT: { httpStatus: 500 },
  DL_ERR_ESCROW_BUSY: { httpStatus: 409 },
  DL_ERR_ESCROW_CONFIG: { httpStatus: 400 },
} as const;

/** Every registered code. docs/errors.md has an anchor for each (test/errors/registry.test.ts). */
export const ERROR_CODES = {
  ...module,
  ...traps,
  ...cage,
  ...manifest,
  ...bundle,
  ...cli,
  ...broker,
  ...p2p,
  ...escrow,
} as const satisfies Record<`DL_ERR_${string}`, CodeInfo>;

/** A registered error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Whether a string (for example one read off the wire) is a registered code. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** The HTTP status registered for a code, if it has one. */
export function httpStatusOf(code: ErrorCode): number | undefined {
  return (ERROR_CODES[code] as CodeInfo | undefined)?.httpStatus;
}
