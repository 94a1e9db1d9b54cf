/**
 * The outcome of one run and its result hash: the value validators compare across nodes.
 *
 * The hash covers exactly what DESIGN.md "Hashing and encoding" lists, packed as one fixed-order
 * MessagePack array (version {@link RESULT_FORMAT_VERSION}):
 *
 * | # | field                                   |
 * |---|-----------------------------------------|
 * | 0 | format version                          |
 * | 1 | module hash                             |
 * | 2 | instrumenter version                    |
 * | 3 | cost table version                      |
 * | 4 | manifest hash                           |
 * | 5 | input hash                              |
 * | 6 | status                                  |
 * | 7 | exit code (or nil)                      |
 * | 8 | trap code (or nil)                      |
 * | 9 | stdout bytes                            |
 * | 10 | stderr bytes                           |
 * | 11 | [[guest path, BLAKE3(contents)], …] sorted by the paths' UTF-8 bytes |
 * | 12 | fuel used (u64)                        |
 * | 13 | witness root                           |
 *
 * Never wall-clock time: elapsed time differs on every node, and a hash over it could never be
 * verified. The fuel limit and entry count are not hashed: the manifest hash and the witness root
 * already fix them.
 *
 * @module
 */
import { canonicalPackr } from './msgpack.ts';
import { blake3, toHex } from './hash.ts';

/** Version of {@link RunResult} and of the hashed layout above; bump, never reuse. */
export const RESULT_FORMAT_VERSION = 1;

/** How a run ended. `rejected`: the module never ran (validation or grant failure). */
export const RUN_STATUSES = [
  'exited',
  'trapped',
  'out_of_fuel',
  'stack_exhausted',
  'memory_limit',
  'output_limit',
  'rejected',
] as const;
/** How a run ended. */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Everything a run produced, plus the hashes of what it ran. */
export interface RunResult {
  formatVersion: typeof RESULT_FORMAT_VERSION;
  status: RunStatus;
  /** `proc_exit` code, or null if the guest did not exit. */
  exitCode: number | null;
  /** Stable trap code (errors.ts `TRAP_CODES`), or null. */
  trap: string | null;
  fuelUsed: bigint;
  fuelLimit: bigint;
  stdout: Uint8Array;
  stderr: Uint8Array;
  /** Guest path → contents of every file left under /output. */
  outputs: Map<string, Uint8Array>;
  witnessEntries: number;
  witnessRoot: Uint8Array;
  moduleHash: Uint8Array;
  manifestHash: Uint8Array;
  inputHash: Uint8Array;
  instrumenterVersion: string;
  costTableVersion: string;
}

/** The CLI's JSON view of a result: u64 as decimal strings, bytes as text or hex. */
export interface RunResultJson {
  status: RunStatus;
  exitCode: number | null;
  trap: string | null;
  fuelUsed: string;
  fuelLimit: string;
  /** The guest's stdout as UTF-8 text; invalid bytes read as U+FFFD (see `stdoutBase64`). */
  stdout: string;
  stderr: string;
  /** The exact bytes, present only when `stdout` is not valid UTF-8 (its text then lost bytes). */
  stdoutBase64?: string;
  stderrBase64?: string;
  /** Guest path → BLAKE3 hex of the contents, keys in sorted order. */
  outputs: Record<string, string>;
  witnessEntries: number;
  witnessRoot: string;
  moduleHash: string;
  resultHash: string;
}

const packr = canonicalPackr;
const utf8 = new TextEncoder();

/**
 * Compares strings by their UTF-8 bytes, the order every node agrees on (JS `<` compares UTF-16
 * code units, which orders some characters differently).
 *
 * @param a - first string.
 * @param b - second string.
 * @returns negative, zero or positive.
 * @example
 * ```ts
 * ['/output/b', '/output/a'].sort(compareUtf8); // ['/output/a', '/output/b']
 * ```
 */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(utf8.encode(a), utf8.encode(b));
}

/**
 * Output files as `[path, BLAKE3(contents)]`, sorted by path bytes.
 *
 * @param outputs - guest path → contents.
 * @returns the sorted list.
 * @example
 * ```ts
 * outputDigests(r.outputs)[0]; // ['/output/a.txt', <32 bytes>]
 * ```
 */
export function outputDigests(outputs: ReadonlyMap<string, Uint8Array>): [string, Uint8Array][] {
  return [...outputs.keys()].sort(compareUtf8).map((p) => [p, blake3(outputs.get(p) as Uint8Array)]);
}

/**
 * The canonical bytes the result hash is taken over (layout in the module header).
 *
 * @param r - the result.
 * @returns MessagePack bytes.
 * @example
 * ```ts
 * blake3(canonicalResultBytes(r)); // equals resultHash(r)
 * ```
 */
export function canonicalResultBytes(r: RunResult): Uint8Array {
  return packr.pack([
    RESULT_FORMAT_VERSION,
    r.moduleHash,
    r.instrumenterVersion,
    r.costTableVersion,
    r.manifestHash,
    r.inputHash,
    r.status,
    r.exitCode,
    r.trap,
    r.stdout,
    r.stderr,
    outputDigests(r.outputs),
    r.fuelUsed,
    r.witnessRoot,
  ]);
}

/**
 * The result hash: BLAKE3-256 of {@link canonicalResultBytes}. Two nodes agree on a run exactly
 * when their result hashes are equal.
 *
 * @param r - the result.
 * @returns 32-byte hash.
 * @throws {TypeError} if `r.formatVersion` is not {@link RESULT_FORMAT_VERSION}.
 * @example
 * ```ts
 * toHex(resultHash(result));
 * ```
 */
export function resultHash(r: RunResult): Uint8Array {
  if (r.formatVersion !== RESULT_FORMAT_VERSION)
    throw new TypeError(`result formatVersion must be ${RESULT_FORMAT_VERSION}, got ${String(r.formatVersion)}`);
  return blake3(canonicalResultBytes(r));
}

/** Version tag of the input hash layout. */
export const INPUT_HASH_VERSION = 1;

/**
 * Hash of everything fed to the guest besides module and manifest: BLAKE3 over
 * `[version, BLAKE3(stdin), [[guest path, BLAKE3(contents)], …] sorted by path bytes]`.
 *
 * @param stdin - the guest's stdin bytes.
 * @param files - guest path → contents of each input file.
 * @returns 32-byte hash.
 * @example
 * ```ts
 * inputHash(new Uint8Array(0), new Map([['/input/a.txt', bytes]]));
 * ```
 */
export function inputHash(stdin: Uint8Array, files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  return blake3(packr.pack([INPUT_HASH_VERSION, blake3(stdin), outputDigests(files)]));
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The stream as text, and its bytes as base64 when the text cannot carry them all. */
function streamJson(bytes: Uint8Array): { text: string; base64?: string } {
  try {
    return { text: strictDecoder.decode(bytes) };
  } catch {
    return { text: textDecoder.decode(bytes), base64: Buffer.from(bytes).toString('base64') };
  }
}

/**
 * The JSON shape the CLI prints. Output text is decoded as UTF-8 with U+FFFD for invalid bytes;
 * a stream that is not valid UTF-8 also comes whole as `stdoutBase64` / `stderrBase64`, so a
 * binary stdout is never lost to `--json` (the hash covers the raw bytes, not the text).
 *
 * @param r - the result.
 * @returns a JSON-safe object (no bigint, no bytes).
 * @example
 * ```ts
 * console.log(JSON.stringify(resultToJson(r), null, 2));
 * ```
 */
export function resultToJson(r: RunResult): RunResultJson {
  const outputs: Record<string, string> = {};
  for (const [p, h] of outputDigests(r.outputs)) outputs[p] = toHex(h);
  const stdout = streamJson(r.stdout);
  const stderr = streamJson(r.stderr);
  return {
    status: r.status,
    exitCode: r.exitCode,
    trap: r.trap,
    fuelUsed: r.fuelUsed.toString(),
    fuelLimit: r.fuelLimit.toString(),
    stdout: stdout.text,
    stderr: stderr.text,
    ...(stdout.base64 === undefined ? {} : { stdoutBase64: stdout.base64 }),
    ...(stderr.base64 === undefined ? {} : { stderrBase64: stderr.base64 }),
    outputs,
    witnessEntries: r.witnessEntries,
    witnessRoot: toHex(r.witnessRoot),
    moduleHash: toHex(r.moduleHash),
    resultHash: toHex(resultHash(r)),
  };
}
