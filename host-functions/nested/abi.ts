/**
 * The `nested` host group's ABI constants (spec: spec/nested.md). Stable: both SDKs
 * (challenges/sdk/assemblyscript/nested.ts, challenges/sdk/c/docklock.h) hard-code them, and a
 * test checks they agree with this file.
 */

/** Import names in module `docklock`, granted by `nested`. */
export const NESTED_IMPORTS = ['nested_load', 'nested_call'] as const;

/** Negative results of `nested_load` and `nested_call`: the call itself was wrong. */
export const NESTED_ERR = {
  /** Over a limit: too many loaded modules, a memory or stack limit out of range, a negative fuel budget. */
  LIMIT: -2,
  /** The bytes are not a valid WebAssembly module docklock accepts (malformed, unsupported feature, over a module limit). */
  INVALID: -4,
  /** A pointer or length outside the challenge's memory. */
  FAULT: -5,
  /** Unknown module handle. */
  BAD_HANDLE: -6,
  /** The module imports something (WASI files, the network, anything): submissions get no imports. */
  FORBIDDEN_IMPORT: -7,
} as const;

/** Non-negative results of `nested_call`: how the submission's call ended. */
export const NESTED_STATUS = {
  OK: 0,
  OUT_OF_FUEL: 1,
  STACK_EXHAUSTED: 2,
  /** Trapped (or failed the ABI) with its memory at the limit: a refused `memory.grow` stopped it. */
  MEMORY_LIMIT: 3,
  /** Any other trap; the info block's `trap` field says which. */
  TRAPPED: 4,
  /** No `memory`/`alloc`/named export of the right type, or a pointer outside the submission's memory. */
  BAD_ABI: 5,
  /** The output is longer than the challenge's buffer; nothing was copied, `out_len` says how long it was. */
  OUTPUT_TOO_LARGE: 6,
} as const;

/** Status names, by status code (for JSON details and logs). */
export const NESTED_STATUS_NAMES = [
  'ok',
  'out_of_fuel',
  'stack_exhausted',
  'memory_limit',
  'trapped',
  'bad_abi',
  'output_too_large',
] as const;

/** Size of the info block `nested_call` writes: fuel_used u64, out_len u32, trap u32. */
export const NESTED_INFO_SIZE = 16;

/** At most this many modules loaded per run. */
export const NESTED_MAX_MODULES = 16;

/** Default memory limit of a submission when `nested_load` is passed 0 pages: 16 MiB. */
export const NESTED_DEFAULT_MEMORY_PAGES = 256;
/** Default stack budget (frame-weight units) when `nested_load` is passed 0. */
export const NESTED_DEFAULT_STACK = 16_384;
