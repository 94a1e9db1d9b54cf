/**
 * The cage manifest: what a run may use, and every value that makes it reproducible.
 *
 * A manifest is YAML or JSON (JSON is YAML 1.2). {@link parseManifest} checks it completely and
 * returns a {@link CageManifest} with every default filled in, so the rest of the cage never
 * looks at optional fields. Unknown keys are errors (a typo must not silently fall back to a
 * default). Every error is an `InputError` with code `DL_ERR_MANIFEST_<WHAT>` and `where.field`
 * set to the dotted path of the offending field (`limits.memory`, `files.inputs.2.guest`).
 *
 * ```yaml
 * apiVersion: docklock/v1
 * kind: Cage
 * module: ./challenge.wasm
 * limits: { fuel: "20000000000", memory: 64MiB }
 * determinism: { seed: "00…(64 hex digits)…00" }
 * files: { inputs: [{ host: ./data/case1.txt, guest: /input/case.txt }] }
 * grants: [wasi, random, clock, log]
 * ```
 *
 * @module
 */
import { createRequire } from 'node:module';
import { InputError } from '../errors.ts';

/**
 * The `yaml` package, loaded on the first manifest text: `docklock run` without `--manifest`
 * builds its manifest from flags and never parses YAML, and `yaml` is ~80 modules to resolve at
 * start (bench:cli). A synchronous `require`, since parsing is synchronous.
 */
let yaml: typeof import('yaml') | undefined;
const loadYaml = (): typeof import('yaml') =>
  (yaml ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));

/** The only API version this build reads. */
export const MANIFEST_API_VERSION = 'docklock/v1';
/** The only manifest kind the cage reads. */
export const MANIFEST_KIND = 'Cage';
/** WebAssembly page size (WebAssembly core spec §4.2.8, "page size"): memory limits are whole pages. */
export const WASM_PAGE_BYTES = 65536;
/** 32-bit memories address at most 2^32 bytes (WebAssembly core spec §2.3.8, memory types). */
export const MAX_MEMORY_BYTES = 2 ** 32;
/** Fuel lives in an i64 global counting down (spec: fuel): at most 2^63 − 1. */
export const MAX_FUEL = (1n << 63n) - 1n;
const U64_MAX = (1n << 64n) - 1n;

/** Host-function groups a manifest can grant (one folder or file each under host-functions/). */
export const GRANTS = ['wasi', 'random', 'clock', 'net', 'log', 'nested', 'state'] as const;
/** A host-function group. */
export type Grant = (typeof GRANTS)[number];

/** Defaults for every optional field. Documented values; the engine may tune them. */
export const MANIFEST_DEFAULTS = {
  /** Export called to run the guest: the WASI command entry point. */
  entry: '_start',
  /** 10^10 fuel units (roughly that many merged basic-block costs). */
  fuel: 10_000_000_000n,
  /** 256 MiB of linear memory. */
  memory: 256 * 1024 * 1024,
  /** Frame-weight budget of the deterministic stack counter. */
  stack: 65_536,
  /** 1 MiB of stdout and of stderr. */
  stdout: 1024 * 1024,
  stderr: 1024 * 1024,
  /** 16 MiB in total across all /output files. */
  output: 16 * 1024 * 1024,
  /** 60 s watchdog: an infrastructure failure, never a result. */
  wallClockMs: 60_000,
  /**
   * 32 zero bytes. A default seed keeps small manifests valid; it is public either way (it is in
   * the manifest), and every run of the same manifest must see the same stream.
   */
  seed: '0'.repeat(64),
  /** 2023-11-14T22:13:20Z in nanoseconds since the Unix epoch. */
  clockStart: 1_700_000_000_000_000_000n,
  /** Each clock read advances the virtual clock by 1 ms. */
  clockStep: 1_000_000n,
  /** Writable output directory. */
  outputDir: '/output',
  /** Read-write scratch directory, discarded after the run. */
  scratchDir: '/tmp',
  networkMode: 'deny',
  maxRequests: 16,
  maxRequestBytes: 1024 * 1024,
  maxResponseBytes: 16 * 1024 * 1024,
  timeoutMs: 10_000,
  /** Everything deterministic; `net` and `nested` must be asked for. */
  grants: ['wasi', 'random', 'clock', 'log'] as readonly Grant[],
} as const;

/** A read-only input file: `host` is where to read it (relative to the manifest), `guest` where the guest sees it. */
export interface ManifestInput {
  /** Host path; absent when the caller provides the bytes (e.g. from a bundle). */
  host?: string;
  /** Absolute, normalised guest path. */
  guest: string;
}

/** A fully checked manifest with every default applied. */
export interface CageManifest {
  apiVersion: typeof MANIFEST_API_VERSION;
  kind: typeof MANIFEST_KIND;
  /** Path of the .wasm module (host-local; not part of {@link canonicalManifestBytes}). */
  module: string;
  /** Export to call. Default `_start`. */
  entry: string;
  limits: {
    /** Fuel budget, 1..2^63−1. Default 10_000_000_000. */
    fuel: bigint;
    /** Linear memory maximum in bytes, whole 64 KiB pages, ≤ 4 GiB. Default 256 MiB. */
    memory: number;
    /** Frame-weight budget, 1024..1_000_000. Default 65536. */
    stack: number;
    /** Bytes of stdout kept. Default 1 MiB. */
    stdout: number;
    /** Bytes of stderr kept. Default 1 MiB. */
    stderr: number;
    /** Total bytes of /output files. Default 16 MiB. */
    output: number;
    /** Wall-clock watchdog. Default 60000. */
    wallClockMs: number;
  };
  determinism: {
    /** 32-byte ChaCha20 key. Default 32 zero bytes. */
    seed: Uint8Array;
    clock: {
      /** First clock reading, ns since the Unix epoch (u64). Default 1_700_000_000_000_000_000. */
      start: bigint;
      /** Advance per clock read, ns (≥ 1). Default 1_000_000. */
      step: bigint;
    };
  };
  files: {
    /** Read-only inputs (files or directory trees), sorted by guest path. Default none. */
    inputs: ManifestInput[];
    /**
     * Writable directories (`/` allowed), sorted by guest path: each starts with a host
     * directory's content and its final content is an output (spec/wasi.md#W3). Default none.
     */
    writable: ManifestInput[];
    /** Writable output directory. Default `/output`. */
    output: string;
    /** Read-write scratch directory. Default `/tmp`. */
    scratch: string;
  };
  /** Environment variables the guest sees (nothing else). Default none. */
  env: Record<string, string>;
  /** argv after the program name. Default none. */
  args: string[];
  network: {
    /** `deny` (default): no requests. `record`: live allow-listed requests, recorded in the witness. */
    mode: 'deny' | 'record';
    /** Exact `host:port` pairs, lower-case, sorted. Default none. */
    allow: string[];
    limits: {
      /** Default 16. */
      maxRequests: number;
      /** Default 1 MiB. */
      maxRequestBytes: number;
      /** Default 16 MiB. */
      maxResponseBytes: number;
      /** Default 10000. */
      timeoutMs: number;
    };
  };
  /** Granted host-function groups, sorted. Default wasi, random, clock, log. */
  grants: Grant[];
}

/** A manifest (or part of one) before it is checked: what YAML/JSON parsing gives. */
export type Obj = Record<string, unknown>;

/**
 * The strict YAML/JSON reader every manifest goes through (the library, `docklock run --manifest`
 * and challenge folders): YAML 1.2 core schema, integers as bigint so u64 fields keep full
 * precision, no merge keys, duplicate keys refused, and warnings (an unknown `!tag`) are errors
 * too: a manifest means one thing or is rejected.
 *
 * @param text - YAML or JSON text.
 * @param source - what the text came from, for the message (a file name).
 * @returns the top-level mapping, not yet checked field by field ({@link parseManifest} does that).
 * @throws {InputError} `DL_ERR_MANIFEST_SYNTAX`, or `DL_ERR_MANIFEST_TYPE` when the top level is not a mapping.
 */
export function parseManifestText(text: string, source = 'manifest'): Obj {
  let doc: unknown;
  try {
    const parsed = loadYaml().parseDocument(text, {
      intAsBigInt: true,
      schema: 'core',
      merge: false,
      uniqueKeys: true,
      logLevel: 'silent',
    });
    const problem = parsed.errors[0] ?? parsed.warnings[0];
    if (problem !== undefined) throw problem;
    doc = parsed.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    throw new InputError(
      'DL_ERR_MANIFEST_SYNTAX',
      `${source} is not valid YAML or JSON: ${(cause as Error).message}`,
      undefined,
      { cause },
    );
  }
  return object(doc, '');
}

/**
 * Parses and checks a manifest from YAML or JSON text, or from an already parsed object.
 *
 * @param source - YAML/JSON text, or a plain object (integers may be numbers or bigints).
 * @returns the manifest with every default applied.
 * @throws {InputError} `DL_ERR_MANIFEST_*` naming the field and what it accepts.
 * @example
 * ```ts
 * const m = parseManifest('apiVersion: docklock/v1\nkind: Cage\nmodule: a.wasm\n');
 * m.limits.memory; // 268435456
 * ```
 */
export function parseManifest(source: string | Obj): CageManifest {
  const root = typeof source === 'string' ? parseManifestText(source) : object(source, '');
  only(root, '', [
    'apiVersion',
    'kind',
    'module',
    'entry',
    'limits',
    'determinism',
    'files',
    'env',
    'args',
    'network',
    'grants',
  ]);

  const apiVersion = requiredString(root, 'apiVersion', '');
  if (apiVersion !== MANIFEST_API_VERSION) {
    throw new InputError(
      'DL_ERR_MANIFEST_API_VERSION',
      `apiVersion must be "${MANIFEST_API_VERSION}", got "${apiVersion}"`,
      { field: 'apiVersion' },
    );
  }
  const kind = requiredString(root, 'kind', '');
  if (kind !== MANIFEST_KIND)
    throw new InputError('DL_ERR_MANIFEST_KIND', `kind must be "${MANIFEST_KIND}", got "${kind}"`, { field: 'kind' });
  const module = requiredString(root, 'module', '');
  if (module.length === 0 || module.includes('\0'))
    throw new InputError('DL_ERR_MANIFEST_TYPE', 'module must be a non-empty path without NUL bytes', {
      field: 'module',
    });
  const entry = optionalString(root, 'entry', '') ?? MANIFEST_DEFAULTS.entry;
  if (entry.length === 0)
    throw new InputError('DL_ERR_MANIFEST_TYPE', 'entry must name an export, got an empty string', { field: 'entry' });

  const lim = optionalObject(root, 'limits', '');
  only(lim, 'limits', ['fuel', 'memory', 'stack', 'stdout', 'stderr', 'output', 'wallClockMs']);
  const fuel = lim.fuel === undefined ? MANIFEST_DEFAULTS.fuel : bigIntField(lim.fuel, 'limits.fuel', 1n, MAX_FUEL);
  const memory =
    lim.memory === undefined ? MANIFEST_DEFAULTS.memory : sizeField(lim.memory, 'limits.memory', MAX_MEMORY_BYTES);
  if (memory % WASM_PAGE_BYTES !== 0) {
    throw new InputError(
      'DL_ERR_MANIFEST_RANGE',
      `limits.memory must be a whole number of 64 KiB WebAssembly pages, got ${memory} bytes`,
      { field: 'limits.memory' },
    );
  }
  const limits: CageManifest['limits'] = {
    fuel,
    memory,
    stack: lim.stack === undefined ? MANIFEST_DEFAULTS.stack : intField(lim.stack, 'limits.stack', 1024, 1_000_000),
    stdout:
      lim.stdout === undefined ? MANIFEST_DEFAULTS.stdout : sizeField(lim.stdout, 'limits.stdout', MAX_MEMORY_BYTES),
    stderr:
      lim.stderr === undefined ? MANIFEST_DEFAULTS.stderr : sizeField(lim.stderr, 'limits.stderr', MAX_MEMORY_BYTES),
    output:
      lim.output === undefined ? MANIFEST_DEFAULTS.output : sizeField(lim.output, 'limits.output', MAX_MEMORY_BYTES),
    wallClockMs:
      lim.wallClockMs === undefined
        ? MANIFEST_DEFAULTS.wallClockMs
        : intField(lim.wallClockMs, 'limits.wallClockMs', 1, 2 ** 31 - 1),
  };

  const det = optionalObject(root, 'determinism', '');
  only(det, 'determinism', ['seed', 'clock']);
  const seedHex = optionalString(det, 'seed', 'determinism') ?? MANIFEST_DEFAULTS.seed;
  if (!/^[0-9a-fA-F]{64}$/.test(seedHex)) {
    throw new InputError(
      'DL_ERR_MANIFEST_SEED',
      `determinism.seed must be 64 hex digits (32 bytes), got ${seedHex.length} characters`,
      { field: 'determinism.seed' },
    );
  }
  const clk = optionalObject(det, 'clock', 'determinism');
  only(clk, 'determinism.clock', ['start', 'step']);
  const determinism: CageManifest['determinism'] = {
    seed: Uint8Array.from(Buffer.from(seedHex, 'hex')),
    clock: {
      start:
        clk.start === undefined
          ? MANIFEST_DEFAULTS.clockStart
          : bigIntField(clk.start, 'determinism.clock.start', 0n, U64_MAX),
      step:
        clk.step === undefined
          ? MANIFEST_DEFAULTS.clockStep
          : bigIntField(clk.step, 'determinism.clock.step', 1n, U64_MAX),
    },
  };

  const files = parseFiles(optionalObject(root, 'files', ''));
  const env = parseEnv(optionalObject(root, 'env', ''));
  const args = root.args === undefined ? [] : stringArray(root.args, 'args');
  const network = parseNetwork(optionalObject(root, 'network', ''));
  const grants = parseGrants(root.grants);

  // Contradictions are errors, not silent precedence (STYLE.md §4).
  if (network.mode === 'record' && !grants.includes('net')) {
    throw new InputError(
      'DL_ERR_MANIFEST_CONFLICT',
      'network.mode "record" needs the "net" grant; add net to grants or set network.mode to deny',
      { field: 'grants' },
    );
  }
  if (grants.includes('net') && network.mode === 'deny') {
    throw new InputError(
      'DL_ERR_MANIFEST_CONFLICT',
      'the "net" grant needs network.mode "record"; with mode deny every request would fail',
      { field: 'network.mode' },
    );
  }

  return {
    apiVersion: MANIFEST_API_VERSION,
    kind: MANIFEST_KIND,
    module,
    entry,
    limits,
    determinism,
    files,
    env,
    args,
    network,
    grants,
  };
}

/**
 * Parses a byte size: a non-negative integer number of bytes, or a string with an optional unit:
 * `B`, binary `KiB` `MiB` `GiB` `TiB` (powers of 1024), decimal `KB` `MB` `GB` `TB` (powers of 1000).
 * `"64MiB"`, `"1 GiB"`, `"65536"` and `65536` are all accepted.
 *
 * @param value - a number, bigint or string.
 * @param field - dotted field path for errors.
 * @returns the size in bytes (a safe integer).
 * @throws {InputError} `DL_ERR_MANIFEST_SIZE` if it is not such a size.
 * @example
 * ```ts
 * parseSize('64MiB'); // 67108864
 * ```
 */
export function parseSize(value: unknown, field = 'size'): number {
  let bytes: number | undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) bytes = value;
  else if (typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) bytes = Number(value);
  else if (typeof value === 'string') {
    const m = /^\s*(\d+)\s*(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?\s*$/.exec(value);
    if (m !== null) {
      const n = Number(m[1]) * SIZE_UNITS[m[2] ?? 'B'];
      if (Number.isSafeInteger(n)) bytes = n;
    }
  }
  if (bytes === undefined) {
    throw new InputError(
      'DL_ERR_MANIFEST_SIZE',
      `${field} must be a byte size such as 65536, "64MiB" or "1GiB" (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), got ${show(value)}`,
      { field },
    );
  }
  return bytes;
}

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
};

function parseFiles(f: Obj): CageManifest['files'] {
  only(f, 'files', ['inputs', 'output', 'scratch', 'writable']);
  const output = f.output === undefined ? MANIFEST_DEFAULTS.outputDir : guestPath(f.output, 'files.output');
  const scratch = f.scratch === undefined ? MANIFEST_DEFAULTS.scratchDir : guestPath(f.scratch, 'files.scratch');
  const inputs = mappings(f.inputs, 'files.inputs', false);
  const writable = mappings(f.writable, 'files.writable', true);
  // Inputs are read-only, /output write-only, scratch read-write: no path may sit inside another's
  // area, or one guest path would have two meanings (DESIGN.md: inputs ∩ outputs = ∅). A writable
  // root is the one exception: it holds everything else, each keeping its own meaning.
  const areas: [string, string][] = [
    [output, 'files.output'],
    [scratch, 'files.scratch'],
    ...inputs.map((inp, i): [string, string] => [inp.guest, `files.inputs.${i}.guest`]),
    ...writable.filter((w) => w.guest !== '/').map((w, i): [string, string] => [w.guest, `files.writable.${i}.guest`]),
  ];
  if (writable.length > 1 && writable.some((w) => w.guest === '/')) {
    throw new InputError(
      'DL_ERR_MANIFEST_PATH_OVERLAP',
      'files.writable maps / and another directory: a writable root already holds every other writable directory',
      { field: 'files.writable' },
    );
  }
  for (let a = 0; a < areas.length; a++) {
    for (let b = a + 1; b < areas.length; b++) {
      const [pa, fa] = areas[a];
      const [pb, fb] = areas[b];
      if (within(pa, pb) || within(pb, pa)) {
        throw new InputError(
          'DL_ERR_MANIFEST_PATH_OVERLAP',
          `${fb} (${pb}) overlaps ${fa} (${pa}): inputs, writable directories, the output directory and scratch must be disjoint, none inside another`,
          { field: fb },
        );
      }
    }
  }
  writable.sort((x, y) => (x.guest < y.guest ? -1 : x.guest > y.guest ? 1 : 0));
  inputs.sort((x, y) => (x.guest < y.guest ? -1 : x.guest > y.guest ? 1 : 0));
  return { inputs, output, scratch, writable };
}

/** `files.inputs` / `files.writable`: `{host?, guest}` mappings; only a writable one may be `/`. */
function mappings(v: unknown, at: string, rootAllowed: boolean): ManifestInput[] {
  const list = v === undefined ? [] : array(v, at);
  return list.map((item, i) => {
    const here = `${at}.${i}`;
    const o = object(item, here);
    only(o, here, ['host', 'guest']);
    const g = requiredField(o, 'guest', here);
    const guest = rootAllowed && g === '/' ? '/' : guestPath(g, `${here}.guest`);
    const host = optionalString(o, 'host', here);
    if (host !== undefined && (host.length === 0 || host.includes('\0'))) {
      throw new InputError('DL_ERR_MANIFEST_PATH', `${here}.host must be a non-empty path without NUL bytes`, {
        field: `${here}.host`,
      });
    }
    return host === undefined ? { guest } : { host, guest };
  });
}

function parseEnv(e: Obj): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(e).sort()) {
    const field = `env.${k}`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      throw new InputError(
        'DL_ERR_MANIFEST_ENV',
        `environment variable names must match [A-Za-z_][A-Za-z0-9_]*, got "${k}"`,
        { field },
      );
    }
    const v = e[k];
    if (typeof v !== 'string' || v.includes('\0')) {
      throw new InputError(
        'DL_ERR_MANIFEST_ENV',
        `${field} must be a string without NUL bytes (quote numbers in YAML), got ${show(v)}`,
        { field },
      );
    }
    out[k] = v;
  }
  return out;
}

function parseNetwork(n: Obj): CageManifest['network'] {
  only(n, 'network', ['mode', 'allow', 'limits']);
  const mode = optionalString(n, 'mode', 'network') ?? MANIFEST_DEFAULTS.networkMode;
  if (mode !== 'deny' && mode !== 'record') {
    throw new InputError('DL_ERR_MANIFEST_NETWORK_MODE', `network.mode must be "deny" or "record", got "${mode}"`, {
      field: 'network.mode',
    });
  }
  const allowRaw = n.allow === undefined ? [] : stringArray(n.allow, 'network.allow');
  const allow = allowRaw.map((a, i) => hostPort(a, `network.allow.${i}`));
  if (new Set(allow).size !== allow.length) {
    throw new InputError('DL_ERR_MANIFEST_DUPLICATE', 'network.allow lists the same host:port twice', {
      field: 'network.allow',
    });
  }
  allow.sort();
  if (mode === 'deny' && allow.length > 0) {
    throw new InputError(
      'DL_ERR_MANIFEST_CONFLICT',
      'network.allow is set but network.mode is "deny"; set mode to record or remove the allow-list',
      { field: 'network.allow' },
    );
  }
  const l = optionalObject(n, 'limits', 'network');
  only(l, 'network.limits', ['maxRequests', 'maxRequestBytes', 'maxResponseBytes', 'timeoutMs']);
  const d = MANIFEST_DEFAULTS;
  return {
    mode,
    allow,
    limits: {
      maxRequests:
        l.maxRequests === undefined
          ? d.maxRequests
          : intField(l.maxRequests, 'network.limits.maxRequests', 0, 2 ** 31 - 1),
      maxRequestBytes:
        l.maxRequestBytes === undefined
          ? d.maxRequestBytes
          : sizeField(l.maxRequestBytes, 'network.limits.maxRequestBytes', MAX_MEMORY_BYTES),
      maxResponseBytes:
        l.maxResponseBytes === undefined
          ? d.maxResponseBytes
          : sizeField(l.maxResponseBytes, 'network.limits.maxResponseBytes', MAX_MEMORY_BYTES),
      timeoutMs:
        l.timeoutMs === undefined ? d.timeoutMs : intField(l.timeoutMs, 'network.limits.timeoutMs', 1, 2 ** 31 - 1),
    },
  };
}

function parseGrants(v: unknown): Grant[] {
  if (v === undefined) return [...MANIFEST_DEFAULTS.grants].sort();
  const list = stringArray(v, 'grants');
  const out: Grant[] = [];
  list.forEach((g, i) => {
    if (!(GRANTS as readonly string[]).includes(g)) {
      throw new InputError('DL_ERR_MANIFEST_GRANT', `grants.${i} must be one of ${GRANTS.join(', ')}, got "${g}"`, {
        field: `grants.${i}`,
      });
    }
    if (out.includes(g as Grant))
      throw new InputError('DL_ERR_MANIFEST_DUPLICATE', `grants lists "${g}" twice`, { field: `grants.${i}` });
    out.push(g as Grant);
  });
  return out.sort();
}

/** Lower-case DNS name, IPv4 or [IPv6], then a port 1..65535; compared exactly, never as a prefix. */
function hostPort(s: string, field: string): string {
  const m =
    /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*):(\d{1,5})$/.exec(
      s,
    );
  const port = m === null ? 0 : Number(m[2]);
  if (m === null || port < 1 || port > 65535 || m[1].length > 255 || String(port) !== m[2]) {
    throw new InputError(
      'DL_ERR_MANIFEST_NETWORK_ALLOW',
      `${field} must be an exact "host:port" (DNS name, IPv4 or [IPv6], port 1-65535, no wildcards or schemes), got "${s}"`,
      { field },
    );
  }
  return `${m[1].toLowerCase()}:${port}`;
}

/** An absolute guest path in normal form: no `.`/`..`/empty segments, no trailing slash, no NUL. */
function guestPath(v: unknown, field: string): string {
  if (typeof v !== 'string') throw typeError(field, 'an absolute path string', v);
  const segs = v.split('/');
  const ok =
    v.length > 1 &&
    v.length <= 4096 &&
    v.startsWith('/') &&
    !v.includes('\0') &&
    segs.slice(1).every((s) => s !== '' && s !== '.' && s !== '..');
  if (!ok) {
    throw new InputError(
      'DL_ERR_MANIFEST_PATH',
      `${field} must be an absolute guest path like /input/data.txt (not /, no ".", ".." or empty segments, no trailing slash), got "${v}"`,
      { field },
    );
  }
  return v;
}

function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer + '/');
}

function object(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array || v instanceof Map)
    throw typeError(field || 'manifest', 'a mapping', v);
  return v as Obj;
}

function optionalObject(o: Obj, key: string, at: string): Obj {
  const v = o[key];
  return v === undefined || v === null ? {} : object(v, join(at, key));
}

function array(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw typeError(field, 'a list', v);
  return v;
}

function stringArray(v: unknown, field: string): string[] {
  return array(v, field).map((s, i) => {
    if (typeof s !== 'string' || s.includes('\0')) throw typeError(`${field}.${i}`, 'a string without NUL bytes', s);
    return s;
  });
}

function only(o: Obj, at: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) {
      throw new InputError(
        'DL_ERR_MANIFEST_UNKNOWN_FIELD',
        `unknown field ${join(at, k)}; ${at || 'the manifest'} accepts ${keys.join(', ')}`,
        { field: join(at, k) },
      );
    }
  }
}

function requiredField(o: Obj, key: string, at: string): unknown {
  const v = o[key];
  if (v === undefined || v === null)
    throw new InputError('DL_ERR_MANIFEST_MISSING_FIELD', `${join(at, key)} is required`, { field: join(at, key) });
  return v;
}

function requiredString(o: Obj, key: string, at: string): string {
  const v = requiredField(o, key, at);
  if (typeof v !== 'string') throw typeError(join(at, key), 'a string', v);
  return v;
}

function optionalString(o: Obj, key: string, at: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw typeError(join(at, key), 'a string', v);
  return v;
}

function bigIntField(v: unknown, field: string, min: bigint, max: bigint): bigint {
  let n: bigint | undefined;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^\d+$/.test(v.replaceAll('_', '')) && !v.startsWith('_'))
    n = BigInt(v.replaceAll('_', ''));
  if (n === undefined) throw typeError(field, 'an integer or a decimal string', v);
  if (n < min || n > max)
    throw new InputError('DL_ERR_MANIFEST_RANGE', `${field} must be between ${min} and ${max}, got ${n}`, { field });
  return n;
}

function intField(v: unknown, field: string, min: number, max: number): number {
  // A whole number too large for a double (YAML reads it as a bigint) is out of range, not of the wrong type.
  const whole = typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
  if (!whole) throw typeError(field, 'an integer', v);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new InputError('DL_ERR_MANIFEST_RANGE', `${field} must be between ${min} and ${max}, got ${String(v)}`, {
      field,
    });
  return n;
}

function sizeField(v: unknown, field: string, max: number): number {
  const n = parseSize(v, field);
  if (n > max)
    throw new InputError('DL_ERR_MANIFEST_RANGE', `${field} must be at most ${max} bytes, got ${n}`, { field });
  return n;
}

function typeError(field: string, expected: string, got: unknown): InputError {
  return new InputError('DL_ERR_MANIFEST_TYPE', `${field} must be ${expected}, got ${show(got)}`, { field });
}

function join(at: string, key: string): string {
  return at === '' ? key : `${at}.${key}`;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v);
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return Array.isArray(v) ? 'a list' : 'a mapping';
}
