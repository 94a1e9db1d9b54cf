/**
 * The one manifest loader: a manifest file (or none) read through the strict reader, then
 * overrides applied on top, then checked by {@link parseManifest}. `docklock run` (flags) and
 * challenge folders (the evaluator's env, allow-list and submission input) both load manifests
 * here, so a `!tag`, a duplicate key or an unknown field is refused with the same coded error as
 * the library's `parseManifest`, and defaults (grants included) come from one table,
 * `MANIFEST_DEFAULTS`.
 */
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { readBounded } from '../read-bounded.ts';
import { MANIFEST_API_VERSION, MANIFEST_DEFAULTS, MANIFEST_KIND, parseManifest, parseManifestText } from './parse.ts';
import type { CageManifest, ManifestInput, Obj } from './parse.ts';

/** Values set on top of a manifest file. Lists are appended, maps merged, scalars replaced. */
export interface ManifestOverrides {
  /** Replaces `module`. */
  module?: string;
  /** Replaces `limits.fuel` (an integer or a decimal string). */
  fuel?: bigint | number | string;
  /** Replaces `limits.memory` (bytes, or a size such as `64MiB`). */
  memory?: number | string;
  /** Replaces `determinism.seed` (64 hex digits). */
  seed?: string;
  /** Replaces `determinism.clock.start` (ns). */
  clockStart?: bigint | number | string;
  /** Merged over `env`. */
  env?: Readonly<Record<string, string>>;
  /** Appended to `args`. */
  args?: readonly string[];
  /** Replaces `network.mode`, and grants `net` for `record` or withdraws it for `deny`. */
  network?: 'deny' | 'record';
  /** Appended to `network.allow`. */
  allowHosts?: readonly string[];
  /** Appended to `files.inputs`. */
  inputs?: readonly ManifestInput[];
  /** Appended to `files.writable`. */
  writable?: readonly ManifestInput[];
}

/** Largest manifest file read: far above any real one, far below what would strain memory. */
export const MAX_MANIFEST_BYTES = 64 * 2 ** 20;

/** A loaded manifest and the folder its relative host paths are resolved against. */
export interface LoadedManifest {
  manifest: CageManifest;
  /** The manifest file's folder, or the working directory when there is no file. */
  baseDir: string;
}

/**
 * Reads a manifest file through the strict reader, unchecked: the mapping a caller may inspect
 * before {@link applyManifestOverrides} and `parseManifest`.
 *
 * @param path - a YAML or JSON file.
 * @throws {InputError} `DL_ERR_CLI_READ` when the file cannot be read, `DL_ERR_CLI_TOO_LARGE` past
 *   {@link MAX_MANIFEST_BYTES} (a manifest from `/dev/zero` or an endless pipe),
 *   `DL_ERR_MANIFEST_SYNTAX` / `DL_ERR_MANIFEST_TYPE` when it is not one strict YAML/JSON mapping.
 */
export function readManifestFile(path: string): Obj {
  const text = Buffer.from(readBounded(path, 'manifest', MAX_MANIFEST_BYTES)).toString('utf8');
  return parseManifestText(text, `manifest ${path}`);
}

/**
 * Applies overrides to an unchecked manifest mapping, in place.
 *
 * @param raw - from {@link readManifestFile}, or a literal mapping.
 * @param o - the overrides.
 * @returns `raw`, for chaining into `parseManifest`.
 * @throws {InputError} `DL_ERR_MANIFEST_TYPE` when a section an override goes into is not a mapping.
 */
export function applyManifestOverrides(raw: Obj, o: ManifestOverrides): Obj {
  if (o.module !== undefined) raw.module = o.module;
  if (o.fuel !== undefined) section(raw, 'limits').fuel = o.fuel;
  if (o.memory !== undefined) section(raw, 'limits').memory = o.memory;
  if (o.seed !== undefined) section(raw, 'determinism').seed = o.seed;
  if (o.clockStart !== undefined) section(section(raw, 'determinism'), 'clock', 'determinism').start = o.clockStart;
  if (o.env !== undefined && Object.keys(o.env).length > 0) Object.assign(section(raw, 'env'), o.env);
  if (o.args !== undefined && o.args.length > 0) append(raw, 'args', o.args);
  if (o.network !== undefined) {
    section(raw, 'network').mode = o.network;
    const grants = new Set<unknown>(Array.isArray(raw.grants) ? raw.grants : MANIFEST_DEFAULTS.grants);
    if (o.network === 'record') grants.add('net');
    else grants.delete('net');
    raw.grants = [...grants];
  }
  if (o.allowHosts !== undefined && o.allowHosts.length > 0) {
    append(section(raw, 'network'), 'allow', o.allowHosts);
  }
  if (o.inputs !== undefined && o.inputs.length > 0) {
    append(
      section(raw, 'files'),
      'inputs',
      o.inputs.map((i) => ({ ...i })),
    );
  }
  if (o.writable !== undefined && o.writable.length > 0) {
    append(
      section(raw, 'files'),
      'writable',
      o.writable.map((i) => ({ ...i })),
    );
  }
  return raw;
}

/**
 * Loads a manifest: the file (or a minimal `apiVersion`/`kind` mapping when there is none), the
 * overrides on top, every field checked and defaulted.
 *
 * @param path - the manifest file, or undefined for flags only.
 * @param overrides - values set on top.
 * @returns the manifest and the folder relative input paths are read from.
 * @throws {InputError} any `DL_ERR_MANIFEST_*` code, exactly as `parseManifest` would.
 * @example
 * ```ts
 * const { manifest, baseDir } = loadManifest('cage.yaml', { fuel: '1000000', args: ['-v'] });
 * ```
 */
export function loadManifest(path: string | undefined, overrides: ManifestOverrides = {}): LoadedManifest {
  const raw: Obj =
    path === undefined ? { apiVersion: MANIFEST_API_VERSION, kind: MANIFEST_KIND } : readManifestFile(path);
  const manifest = parseManifest(applyManifestOverrides(raw, overrides));
  return { manifest, baseDir: path === undefined ? process.cwd() : dirname(resolve(path)) };
}

/** The mapping at `raw[key]`, created when absent. */
function section(raw: Obj, key: string, at = ''): Obj {
  const v = raw[key];
  if (v === undefined || v === null) return (raw[key] = {}) as Obj;
  if (typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    const field = at === '' ? key : `${at}.${key}`;
    throw new InputError('DL_ERR_MANIFEST_TYPE', `${field} must be a mapping`, { field });
  }
  return v as Obj;
}

/** Appends to the list at `o[key]`; a value that is not a list is left for `parseManifest` to report. */
function append(o: Obj, key: string, items: readonly unknown[]): void {
  const v = o[key];
  if (v === undefined || v === null) o[key] = [...items];
  else if (Array.isArray(v)) o[key] = [...v, ...items];
}
