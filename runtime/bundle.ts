/**
 * A replay bundle: one self-contained file holding everything needed to re-run and check a run
 * on another node, with no network, clock or host files.
 *
 * Layout (all integers big-endian):
 *
 * | offset | size | field                                                         |
 * |--------|------|---------------------------------------------------------------|
 * | 0      | 8    | magic `89 44 4C 42 0D 0A 1A 0A` ("\x89DLB\r\n\x1a\n")         |
 * | 8      | 4    | format version, {@link BUNDLE_FORMAT_VERSION}                  |
 * | 12     | 8    | payload length before compression                             |
 * | 20     | 32   | BLAKE3 of bytes 8..20 ‖ bytes 52.. (version, length, payload)  |
 * | 52     | …    | payload, Brotli-compressed (RFC 7932)                          |
 *
 * The magic follows PNG's (PNG spec §5.2): a high first byte and CR LF / EOF / LF catch text-mode
 * transfers. Brotli has no checksum of its own and ignores the padding bits of its last byte, so
 * the hash covers the compressed bytes and the header fields: any changed byte is a coded decode
 * error, and no two different files decode to the same bundle. The declared length lets a decoder
 * refuse an oversized bundle before inflating anything, and `maxOutputLength` stops a lying one
 * mid-stream.
 *
 * The payload is one MessagePack array in fixed order:
 * `[manifest (canonical bytes), module, stdin, [[guest path, bytes]…] sorted, witness, result tuple,
 *   result hash, WASI ABI level]`, where `witness` is one bin holding each entry's canonical encoding back to back
 *   (`witness/encoding.ts` `encodeEntries`): the stored bytes are the Merkle leaf data, and a long
 *   witness costs one buffer instead of a million nested arrays to pack and unpack.
 *
 * Format 2 added the last field, the WASI ABI level the run saw (spec/wasi.md#W6): the WASI fixes
 * of issue 12 change what a guest observes (isatty, directory rights, links, timestamps), so a
 * replay must answer as the recording did. Format 1 bundles (7 fields) replay at level 0. The
 * level is not in the result hash: the witness already commits to every answer the guest saw.
 *
 * @module
 */
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { canonicalPackr } from './msgpack.ts';
import { DocklockError, InputError } from './errors.ts';
import { blake3, blake3Parts, bytesEqual, HASH_BYTES, toHex } from './hash.ts';
import { type CageManifest } from './manifest/parse.ts';
import { canonicalManifestBytes, decodeCanonicalManifest } from './manifest/canonical.ts';
import {
  compareUtf8,
  inputHash,
  RESULT_FORMAT_VERSION,
  resultHash,
  RUN_STATUSES,
  type RunResult,
  type RunStatus,
} from './result.ts';
import type { WitnessEntry } from './witness/entry.ts';
import { decodeEntries, encodeEntries } from './witness/encoding.ts';
import { commitEntries } from './witness/log.ts';
import { WASI_LEVEL } from './cage/capabilities.ts';

/** File signature (module header). */
export const BUNDLE_MAGIC = /* @__PURE__ */ Uint8Array.of(0x89, 0x44, 0x4c, 0x42, 0x0d, 0x0a, 0x1a, 0x0a);
/** Version of the layout above; bump, never reuse. */
export const BUNDLE_FORMAT_VERSION = 2;
/** Older layouts this build still reads (format 1: no WASI level, meaning level 0). */
const READABLE_VERSIONS = [1, 2];
/** Bytes before the compressed payload. */
export const BUNDLE_HEADER_BYTES = 52;
/** Default cap on the decompressed payload: 1 GiB. */
export const DEFAULT_MAX_BUNDLE_BYTES = 2 ** 30;

/** What a bundle holds, as handed to {@link encodeBundle}. */
export interface BundleContents {
  manifest: CageManifest;
  module: Uint8Array;
  stdin: Uint8Array;
  /** Guest path → contents of each input file. */
  inputs: ReadonlyMap<string, Uint8Array>;
  /**
   * The witness entries, or their canonical encodings back to back (`RunOutcome.witnessBytes`,
   * `WitnessLog.finalize({ encode: true })`), which a run produces without building objects.
   */
  witness: readonly WitnessEntry[] | Uint8Array;
  result: RunResult;
  /** WASI ABI level the run saw; default the current one (spec/wasi.md#W6). */
  wasiLevel?: number;
}

/** A decoded bundle: the contents plus the stored canonical manifest bytes and result hash. */
export interface Bundle extends BundleContents {
  /** The manifest exactly as stored (canonical bytes); `manifest` is decoded from it. */
  manifestBytes: Uint8Array;
  inputs: Map<string, Uint8Array>;
  witness: WitnessEntry[];
  /** The witness as stored: every entry's canonical encoding back to back (a replay sends this to its worker). */
  witnessBytes: Uint8Array;
  /** The result hash the recording node computed. */
  resultHash: Uint8Array;
  /** WASI ABI level to replay at: 0 for format 1 bundles. */
  wasiLevel: number;
}

/** Options of {@link decodeBundle}. */
export interface DecodeBundleOptions {
  /** Largest decompressed payload accepted, in bytes. Default {@link DEFAULT_MAX_BUNDLE_BYTES} (1 GiB). */
  maxBytes?: number;
  /**
   * Decode the witness entries only when `witness` is first read (a decoding error is thrown
   * then). For a replay, which sends `witnessBytes` to its worker, where they are checked as they
   * are read into a log: decoding a million entries here as well cost ~2 s of a 1M-call replay.
   */
  lazyWitness?: boolean;
}

/** Options of {@link encodeBundle}. */
export interface EncodeBundleOptions {
  /** Brotli quality 0..11 (RFC 7932 encoders' scale). Default 5: most of the ratio of 11 at a fraction of the time. */
  quality?: number;
}

const packr = canonicalPackr;
const PAYLOAD_FIELDS_V1 = 7;
const PAYLOAD_FIELDS = 8;
const RESULT_FIELDS = 16;

/**
 * Encodes a bundle.
 *
 * @param b - what to store; the result hash is computed here from `b.result`.
 * @param options - compression settings.
 * @returns the bundle file's bytes.
 * @throws {TypeError|RangeError} if a witness entry holds an impossible value (our bug).
 * @example
 * ```ts
 * await writeFile('run.dlb', encodeBundle({ manifest, module, stdin, inputs, witness: log.entries(), result }));
 * ```
 */
export function encodeBundle(b: BundleContents, options: EncodeBundleOptions = {}): Uint8Array {
  const quality = options.quality ?? 5;
  const inputs = [...b.inputs.keys()].sort(compareUtf8).map((p) => [p, b.inputs.get(p) as Uint8Array]);
  const payload = packr.pack([
    canonicalManifestBytes(b.manifest),
    b.module,
    b.stdin,
    inputs,
    b.witness instanceof Uint8Array ? b.witness : encodeEntries(b.witness),
    resultTuple(b.result),
    resultHash(b.result),
    b.wasiLevel ?? WASI_LEVEL,
  ]);
  const compressed = brotliCompressSync(payload, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: quality,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: payload.length,
    },
  });
  const out = new Uint8Array(BUNDLE_HEADER_BYTES + compressed.length);
  const view = new DataView(out.buffer);
  out.set(BUNDLE_MAGIC, 0);
  view.setUint32(8, BUNDLE_FORMAT_VERSION);
  view.setBigUint64(12, BigInt(payload.length));
  out.set(compressed, BUNDLE_HEADER_BYTES);
  out.set(bundleDigest(out), 20);
  return out;
}

/**
 * Decodes bundle bytes, trusting nothing: sizes are capped before and during decompression, the
 * payload hash is checked, and every field's type and size is validated.
 *
 * @param bytes - untrusted bundle bytes.
 * @param options - decompression cap.
 * @returns the bundle (byte fields are views into one decompressed buffer).
 * @throws {InputError} `DL_ERR_BUNDLE_BAD_MAGIC` (not a bundle), `DL_ERR_BUNDLE_UNSUPPORTED_VERSION`,
 *   `DL_ERR_BUNDLE_TOO_LARGE` (over `maxBytes`), `DL_ERR_BUNDLE_CORRUPT` (truncated, bad compression,
 *   hash or length mismatch, not MessagePack), `DL_ERR_BUNDLE_SCHEMA` (a field of the wrong shape).
 * @example
 * ```ts
 * const b = decodeBundle(await readFile('run.dlb'), { maxBytes: 256 * 2 ** 20 });
 * ```
 */
export function decodeBundle(bytes: Uint8Array, options: DecodeBundleOptions = {}): Bundle {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BUNDLE_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
    throw new RangeError(`maxBytes must be a non-negative safe integer, got ${maxBytes}`);
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bundle must be a Uint8Array');
  if (bytes.length < BUNDLE_MAGIC.length || !bytesEqual(bytes.subarray(0, BUNDLE_MAGIC.length), BUNDLE_MAGIC)) {
    throw new InputError(
      'DL_ERR_BUNDLE_BAD_MAGIC',
      'not a docklock bundle: the file does not start with the bundle signature 89 44 4C 42 0D 0A 1A 0A',
      { offset: 0 },
    );
  }
  if (bytes.length < BUNDLE_HEADER_BYTES)
    throw corrupt(`the file ends inside the ${BUNDLE_HEADER_BYTES}-byte header (${bytes.length} bytes)`, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8);
  if (!READABLE_VERSIONS.includes(version)) {
    throw new InputError(
      'DL_ERR_BUNDLE_UNSUPPORTED_VERSION',
      `bundle format version ${version} is not supported; this build reads versions ${READABLE_VERSIONS.join(' and ')}`,
      { offset: 8 },
    );
  }
  if (!bytesEqual(bundleDigest(bytes), bytes.subarray(20, 20 + HASH_BYTES))) {
    throw corrupt('the contents do not match the BLAKE3 hash in the header (damaged or truncated file)', 20);
  }
  const declared = view.getBigUint64(12);
  if (declared > BigInt(maxBytes)) {
    throw new InputError(
      'DL_ERR_BUNDLE_TOO_LARGE',
      `bundle payload declares ${declared} bytes, over the limit of ${maxBytes} (raise maxBytes to accept it)`,
      { offset: 12 },
    );
  }
  let payload: Uint8Array;
  try {
    // maxOutputLength stops inflation at the declared size: a payload that grows past it is lying.
    payload = brotliDecompressSync(bytes.subarray(BUNDLE_HEADER_BYTES), {
      maxOutputLength: Math.max(1, Number(declared)),
    });
  } catch (cause) {
    const code = (cause as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE')
      throw corrupt(`the payload inflates past its declared ${declared} bytes`, BUNDLE_HEADER_BYTES, cause);
    throw corrupt(
      `the compressed payload is damaged or truncated (${(cause as Error).message})`,
      BUNDLE_HEADER_BYTES,
      cause,
    );
  }
  if (payload.length !== Number(declared))
    throw corrupt(`the payload is ${payload.length} bytes, the header declares ${declared}`, 12);

  let raw: unknown;
  try {
    raw = packr.unpack(payload);
  } catch (cause) {
    throw corrupt(`the payload is not one MessagePack value (${(cause as Error).message})`, BUNDLE_HEADER_BYTES, cause);
  }
  return bundleFromPayload(raw, version, options);
}

/** A problem {@link verifyBundle} found, with a stable code. */
export interface BundleProblem {
  code: string;
  message: string;
}

/** What {@link verifyBundle} recomputed and how it compares with what the bundle stores. */
export interface BundleVerification {
  ok: boolean;
  /** Merkle root recomputed from the witness entries. */
  witnessRoot: Uint8Array;
  /** The root the result claims. */
  expectedWitnessRoot: Uint8Array;
  /** Result hash recomputed from the bundle's contents. */
  resultHash: Uint8Array;
  /** The result hash stored in the bundle. */
  expectedResultHash: Uint8Array;
  problems: BundleProblem[];
}

/**
 * Checks a bundle's internal consistency without running anything: the witness root, entry count
 * and module, manifest and input hashes are recomputed from the stored bytes and compared with the
 * result, and the result hash is recomputed over those recomputed values and compared with the
 * stored one.
 *
 * @param b - a decoded bundle.
 * @returns the verdict; `ok` is true exactly when `problems` is empty. Never throws for bad data.
 * @example
 * ```ts
 * const v = verifyBundle(decodeBundle(bytes));
 * if (!v.ok) console.error(v.problems.map((p) => p.message).join('\n'));
 * ```
 */
export function verifyBundle(b: Bundle): BundleVerification {
  const problems: BundleProblem[] = [];
  const r = b.result;
  const mismatch = (code: string, what: string, got: Uint8Array, want: Uint8Array): void => {
    if (!bytesEqual(got, want))
      problems.push({ code, message: `${what}: recomputed ${toHex(got)}, bundle says ${toHex(want)}` });
  };

  let witnessRoot: Uint8Array;
  try {
    witnessRoot = commitEntries(b.witness).root;
  } catch (cause) {
    witnessRoot = new Uint8Array(HASH_BYTES);
    problems.push({
      code: 'DL_ERR_BUNDLE_WITNESS_INVALID',
      message: `witness entries cannot be committed: ${(cause as Error).message}`,
    });
  }
  mismatch('DL_ERR_BUNDLE_WITNESS_ROOT_MISMATCH', 'witness root', witnessRoot, r.witnessRoot);
  if (r.witnessEntries !== b.witness.length) {
    problems.push({
      code: 'DL_ERR_BUNDLE_WITNESS_COUNT_MISMATCH',
      message: `result counts ${r.witnessEntries} witness entries, the bundle holds ${b.witness.length}`,
    });
  }
  const moduleHash = blake3(b.module);
  mismatch('DL_ERR_BUNDLE_MODULE_HASH_MISMATCH', 'module hash', moduleHash, r.moduleHash);
  const manifestHash = blake3(b.manifestBytes);
  mismatch('DL_ERR_BUNDLE_MANIFEST_HASH_MISMATCH', 'manifest hash', manifestHash, r.manifestHash);
  const inHash = inputHash(b.stdin, b.inputs);
  mismatch('DL_ERR_BUNDLE_INPUT_HASH_MISMATCH', 'input hash', inHash, r.inputHash);

  // A declared input is a file (its path) or a directory (its path + "/", then what is below it);
  // a writable directory's initial content lies below its path.
  const declared = b.manifest.files.inputs.map((i) => i.guest);
  const writable = b.manifest.files.writable.map((w) => w.guest);
  const below = (p: string, dir: string): boolean => p.startsWith(dir === '/' ? '/' : `${dir}/`);
  const held = [...b.inputs.keys()];
  const missing = declared.filter((p) => !b.inputs.has(p) && !b.inputs.has(`${p}/`));
  const extra = held.filter(
    (p) =>
      !declared.includes(p) &&
      !declared.some((d) => b.inputs.has(`${d}/`) && below(p, d)) &&
      !writable.some((w) => below(p, w)),
  );
  if (missing.length > 0 || extra.length > 0) {
    problems.push({
      code: 'DL_ERR_BUNDLE_INPUTS_MISMATCH',
      message: `input files differ from the manifest: missing [${missing.join(', ')}], undeclared [${extra.join(', ')}]`,
    });
  }
  if (r.fuelLimit !== b.manifest.limits.fuel) {
    problems.push({
      code: 'DL_ERR_BUNDLE_FUEL_LIMIT_MISMATCH',
      message: `result fuel limit ${r.fuelLimit} differs from the manifest's ${b.manifest.limits.fuel}`,
    });
  }
  if (r.fuelUsed > r.fuelLimit)
    problems.push({
      code: 'DL_ERR_BUNDLE_FUEL_OVER_LIMIT',
      message: `fuel used ${r.fuelUsed} exceeds the limit ${r.fuelLimit}`,
    });

  // The hash a correct recording would carry: the result's own fields with every recomputable
  // hash replaced by its recomputed value.
  const recomputed = resultHash({ ...r, witnessRoot, moduleHash, manifestHash, inputHash: inHash });
  mismatch('DL_ERR_BUNDLE_RESULT_HASH_MISMATCH', 'result hash', recomputed, b.resultHash);

  return {
    ok: problems.length === 0,
    witnessRoot,
    expectedWitnessRoot: r.witnessRoot,
    resultHash: recomputed,
    expectedResultHash: b.resultHash,
    problems,
  };
}

/** The header hash: everything but the magic and the hash field itself. */
function bundleDigest(file: Uint8Array): Uint8Array {
  return blake3Parts([file.subarray(8, 20), file.subarray(BUNDLE_HEADER_BYTES)]);
}

function resultTuple(r: RunResult): unknown[] {
  const outputs = [...r.outputs.keys()].sort(compareUtf8).map((p) => [p, r.outputs.get(p) as Uint8Array]);
  return [
    r.formatVersion,
    r.status,
    r.exitCode,
    r.trap,
    r.fuelUsed,
    r.fuelLimit,
    r.stdout,
    r.stderr,
    outputs,
    r.witnessEntries,
    r.witnessRoot,
    r.moduleHash,
    r.manifestHash,
    r.inputHash,
    r.instrumenterVersion,
    r.costTableVersion,
  ];
}

const U64_MAX = (1n << 64n) - 1n;

function bundleFromPayload(raw: unknown, version: number, options: DecodeBundleOptions): Bundle {
  const p = tuple(raw, version === 1 ? PAYLOAD_FIELDS_V1 : PAYLOAD_FIELDS, 'payload');
  const wasiLevel = version === 1 ? 0 : p[7];
  if (typeof wasiLevel !== 'number' || !Number.isInteger(wasiLevel) || wasiLevel < 0 || wasiLevel > WASI_LEVEL) {
    throw new InputError(
      'DL_ERR_BUNDLE_SCHEMA',
      `bundle WASI level must be an integer 0..${WASI_LEVEL} (a newer docklock recorded it?), got ${String(wasiLevel)}`,
      { field: 'wasiLevel' },
    );
  }
  const manifestBytes = bin(p[0], 'manifest');
  let manifest: CageManifest;
  try {
    manifest = decodeCanonicalManifest(manifestBytes);
  } catch (cause) {
    if (!(cause instanceof DocklockError)) throw cause;
    throw new InputError(
      'DL_ERR_BUNDLE_SCHEMA',
      `bundle manifest is invalid: ${cause.message}`,
      { field: 'manifest' },
      { cause },
    );
  }
  const module = bin(p[1], 'module');
  const stdin = bin(p[2], 'stdin');
  const inputs = pathMap(p[3], 'inputs');
  const witnessBytes = bin(p[4], 'witness');
  const result = resultFromTuple(p[5]);
  const storedHash = hash(p[6], 'resultHash');
  const bundle = {
    manifest,
    manifestBytes,
    module,
    stdin,
    inputs,
    witnessBytes,
    result,
    resultHash: storedHash,
    wasiLevel,
  };
  if (options.lazyWitness !== true) return { ...bundle, witness: decodeBundleWitness(witnessBytes) };
  let witness: WitnessEntry[] | undefined;
  return Object.defineProperty(bundle, 'witness', {
    get: () => (witness ??= decodeBundleWitness(witnessBytes)),
    enumerable: true,
  }) as Bundle;
}

/** The witness entries of a bundle, with decoding errors reported as bundle errors. */
function decodeBundleWitness(bytes: Uint8Array): WitnessEntry[] {
  try {
    return decodeEntries(bytes);
  } catch (cause) {
    if (!(cause instanceof DocklockError) || cause.code === 'DL_ERR_BUNDLE_SCHEMA') throw cause;
    const entry = cause.where?.entry;
    const where = entry === undefined ? { field: 'witness' } : { field: `witness.${entry}`, entry };
    throw new InputError('DL_ERR_BUNDLE_SCHEMA', `bundle witness is invalid: ${cause.message}`, where, { cause });
  }
}

function resultFromTuple(raw: unknown): RunResult {
  const t = tuple(raw, RESULT_FIELDS, 'result');
  if (t[0] !== RESULT_FORMAT_VERSION) throw schema('result.formatVersion', `${RESULT_FORMAT_VERSION}`, t[0]);
  if (typeof t[1] !== 'string' || !(RUN_STATUSES as readonly string[]).includes(t[1]))
    throw schema('result.status', `one of ${RUN_STATUSES.join(', ')}`, t[1]);
  if (t[2] !== null && !(typeof t[2] === 'number' && Number.isInteger(t[2]) && t[2] >= -(2 ** 31) && t[2] < 2 ** 32))
    throw schema('result.exitCode', 'a 32-bit integer or nil', t[2]);
  if (t[3] !== null && typeof t[3] !== 'string') throw schema('result.trap', 'a string or nil', t[3]);
  const u64 = (v: unknown, field: string): bigint => {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) throw schema(field, 'a u64', v);
    return v;
  };
  if (!(typeof t[9] === 'number' && Number.isSafeInteger(t[9]) && t[9] >= 0))
    throw schema('result.witnessEntries', 'a non-negative integer', t[9]);
  if (typeof t[14] !== 'string' || typeof t[15] !== 'string')
    throw schema('result.instrumenterVersion', 'strings for both versions', typeof t[14] === 'string' ? t[15] : t[14]);
  return {
    formatVersion: RESULT_FORMAT_VERSION,
    status: t[1] as RunStatus,
    exitCode: t[2] as number | null,
    trap: t[3] as string | null,
    fuelUsed: u64(t[4], 'result.fuelUsed'),
    fuelLimit: u64(t[5], 'result.fuelLimit'),
    stdout: bin(t[6], 'result.stdout'),
    stderr: bin(t[7], 'result.stderr'),
    outputs: pathMap(t[8], 'result.outputs'),
    witnessEntries: t[9],
    witnessRoot: hash(t[10], 'result.witnessRoot'),
    moduleHash: hash(t[11], 'result.moduleHash'),
    manifestHash: hash(t[12], 'result.manifestHash'),
    inputHash: hash(t[13], 'result.inputHash'),
    instrumenterVersion: t[14],
    costTableVersion: t[15],
  };
}

function tuple(v: unknown, n: number, field: string): unknown[] {
  if (!Array.isArray(v) || v.length !== n) throw schema(field, `an array of ${n} fields`, v);
  return v;
}

function bin(v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw schema(field, 'bytes', v);
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function hash(v: unknown, field: string): Uint8Array {
  const b = bin(v, field);
  if (b.length !== HASH_BYTES) throw schema(field, `${HASH_BYTES} bytes`, v);
  return b;
}

/** `[[path, bytes]…]` with strictly increasing paths (so each path appears once, in canonical order). */
function pathMap(v: unknown, field: string): Map<string, Uint8Array> {
  if (!Array.isArray(v)) throw schema(field, 'an array of [path, bytes]', v);
  const out = new Map<string, Uint8Array>();
  let prev: string | undefined;
  for (let i = 0; i < v.length; i++) {
    const pair: unknown = v[i];
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || !pair[0].startsWith('/'))
      throw schema(`${field}.${i}`, '[absolute path, bytes]', pair);
    if (prev !== undefined && compareUtf8(prev, pair[0]) >= 0)
      throw schema(`${field}.${i}`, 'paths in strictly increasing order', pair[0]);
    // Normal paths only (an input directory is its path with one trailing "/"): a crafted bundle
    // must not give the guest's tree a component named "..".
    const body = field === 'inputs' && pair[0].length > 1 && pair[0].endsWith('/') ? pair[0].slice(0, -1) : pair[0];
    if (
      body
        .split('/')
        .slice(1)
        .some((seg: string) => seg === '' || seg === '.' || seg === '..' || seg.includes('\0'))
    )
      throw schema(`${field}.${i}`, 'a normal absolute path (no empty, "." or ".." segments)', pair[0]);
    prev = pair[0];
    out.set(pair[0], bin(pair[1], `${field}.${i}`));
  }
  // No file may sit where another path needs a directory ("/a" and "/a/b").
  let i = 0;
  for (const p of out.keys()) {
    const segs = p.split('/');
    for (let k = 2; k < segs.length; k++) {
      const up = segs.slice(0, k).join('/');
      if (out.has(up)) throw schema(`${field}.${i}`, `a path whose parent ${up} is not a file`, p);
    }
    i++;
  }
  return out;
}

function corrupt(why: string, offset: number, cause?: unknown): InputError {
  return new InputError(
    'DL_ERR_BUNDLE_CORRUPT',
    `bundle is corrupt: ${why}`,
    { offset },
    cause === undefined ? undefined : { cause },
  );
}

function schema(field: string, expected: string, got: unknown): InputError {
  let desc: string;
  if (got === null || got === undefined) desc = String(got);
  else if (got instanceof Uint8Array) desc = `${got.length} bytes`;
  else if (Array.isArray(got)) desc = `an array of ${got.length}`;
  else if (typeof got === 'string') desc = JSON.stringify(got.slice(0, 60));
  else if (typeof got === 'object') desc = 'an object';
  else desc = `${typeof got} ${String(got)}`;
  return new InputError('DL_ERR_BUNDLE_SCHEMA', `bundle field ${field} must be ${expected}, got ${desc}`, { field });
}
