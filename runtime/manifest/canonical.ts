/**
 * The canonical form of a checked manifest: the bytes that are hashed into a run's result and
 * stored in bundles. The layout is versioned ({@link CANONICAL_MANIFEST_VERSION}); changing a byte
 * of it changes every manifest hash, so it changes only with a new version.
 */
import { canonicalPackr } from '../msgpack.ts';
import { InputError } from '../errors.ts';
import { blake3 } from '../hash.ts';
import { parseManifest } from './parse.ts';
import type { CageManifest, Obj } from './parse.ts';

/** Version tag of the canonical manifest layout; bump, never reuse. */
export const CANONICAL_MANIFEST_VERSION = 1;

/**
 * Deterministic bytes of a manifest, for hashing and for bundles: the same manifest gives the same
 * bytes whatever the key order, formatting or YAML/JSON choice of its source, because it is packed
 * from the checked, defaulted {@link CageManifest} as a fixed-order MessagePack array (env sorted
 * by key; inputs, allow-list and grants already sorted).
 *
 * Host-local paths (`module` and each input's `host`) are left out: the module and input bytes are
 * covered by their own hashes in the result, and a run must hash the same on every node wherever
 * its files sit.
 *
 * @param m - a manifest from {@link parseManifest}.
 * @returns the canonical encoding; {@link decodeCanonicalManifest} reads it back.
 * @example
 * ```ts
 * manifestHash(parseManifest(yamlText)); // equals manifestHash(parseManifest(sameAsJson))
 * ```
 */
export function canonicalManifestBytes(m: CageManifest): Uint8Array {
  const l = m.limits;
  const n = m.network;
  return canonicalPackr.pack([
    CANONICAL_MANIFEST_VERSION,
    m.apiVersion,
    m.kind,
    m.entry,
    [l.fuel, l.memory, l.stack, l.stdout, l.stderr, l.output, l.wallClockMs],
    [m.determinism.seed, m.determinism.clock.start, m.determinism.clock.step],
    [m.files.inputs.map((i) => i.guest), m.files.output, m.files.scratch],
    Object.keys(m.env)
      .sort()
      .map((k) => [k, m.env[k]]),
    m.args,
    [n.mode, n.allow, n.limits.maxRequests, n.limits.maxRequestBytes, n.limits.maxResponseBytes, n.limits.timeoutMs],
    m.grants,
    // Only manifests with writable directories carry a 12th element: every other manifest keeps
    // the bytes, and so the hash, it had before writable directories existed.
    ...(m.files.writable.length > 0 ? [m.files.writable.map((w) => w.guest)] : []),
  ]);
}

/**
 * BLAKE3 of {@link canonicalManifestBytes}: the manifest hash in a run's result.
 *
 * @param m - a checked manifest.
 * @returns 32-byte hash.
 * @example
 * ```ts
 * toHex(manifestHash(m));
 * ```
 */
export function manifestHash(m: CageManifest): Uint8Array {
  return blake3(canonicalManifestBytes(m));
}

/**
 * Reads canonical manifest bytes (from a bundle) back into a checked manifest. `module` is set to
 * the empty string and inputs carry no `host`, as those are not in the canonical form.
 *
 * @param bytes - untrusted canonical bytes.
 * @returns the manifest; `canonicalManifestBytes` of it gives `bytes` back.
 * @throws {InputError} `DL_ERR_MANIFEST_CANONICAL` if the bytes are not a canonical manifest, or any
 *   `DL_ERR_MANIFEST_*` code if a field is invalid.
 * @example
 * ```ts
 * decodeCanonicalManifest(canonicalManifestBytes(m)).limits; // deep-equals m.limits
 * ```
 */
export function decodeCanonicalManifest(bytes: Uint8Array): CageManifest {
  const bad = (why: string, cause?: unknown): InputError =>
    new InputError(
      'DL_ERR_MANIFEST_CANONICAL',
      `canonical manifest bytes are invalid: ${why}`,
      undefined,
      cause === undefined ? undefined : { cause },
    );
  let raw: unknown;
  try {
    raw = canonicalPackr.unpack(bytes);
  } catch (cause) {
    throw bad((cause as Error).message, cause);
  }
  if (!Array.isArray(raw) || (raw.length !== 11 && raw.length !== 12) || raw[0] !== CANONICAL_MANIFEST_VERSION)
    throw bad(`expected an array of 11 or 12 starting with version ${CANONICAL_MANIFEST_VERSION}`);
  const [, apiVersion, kind, entry, lim, det, files, env, args, net, grants, writable] = raw as unknown[];
  if (writable !== undefined && !Array.isArray(writable)) throw bad('writable must be an array');
  const arr = (v: unknown, len: number, what: string): unknown[] => {
    if (!Array.isArray(v) || v.length !== len) throw bad(`${what} must be an array of ${len}`);
    return v;
  };
  const [fuel, memory, stack, stdout, stderr, output, wallClockMs] = arr(lim, 7, 'limits');
  const [seed, start, step] = arr(det, 3, 'determinism');
  const [inputs, outputDir, scratch] = arr(files, 3, 'files');
  const [mode, allow, maxRequests, maxRequestBytes, maxResponseBytes, timeoutMs] = arr(net, 6, 'network');
  if (!(seed instanceof Uint8Array)) throw bad('seed must be bytes');
  if (!Array.isArray(inputs) || !Array.isArray(env)) throw bad('inputs and env must be arrays');
  const envObj: Obj = {};
  for (const kv of env) {
    if (!Array.isArray(kv) || kv.length !== 2 || typeof kv[0] !== 'string')
      throw bad('env entries must be [key, value]');
    envObj[kv[0]] = kv[1];
  }
  const m = parseManifest({
    apiVersion,
    kind,
    module: '-',
    entry,
    limits: { fuel, memory, stack, stdout, stderr, output, wallClockMs },
    determinism: { seed: Buffer.from(seed).toString('hex'), clock: { start, step } },
    files: {
      inputs: inputs.map((guest: unknown) => ({ guest })),
      output: outputDir,
      scratch,
      ...(writable === undefined ? {} : { writable: (writable as unknown[]).map((guest) => ({ guest })) }),
    },
    env: envObj,
    args,
    network: { mode, allow, limits: { maxRequests, maxRequestBytes, maxResponseBytes, timeoutMs } },
    grants,
  } as Obj);
  m.module = '';
  if (!Buffer.from(canonicalManifestBytes(m)).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))) {
    throw bad('not in canonical form (fields out of order, unsorted, or non-minimal encoding)');
  }
  return m;
}
