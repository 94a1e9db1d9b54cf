/**
 * The broker's configuration file (YAML), validated strictly at load: unknown keys, wrong types and
 * contradictory limits are errors, never ignored (wasmtime `config.rs` rejects contradictions at
 * construction). Every field documents its default.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseBreakerConfig } from './breaker/config.ts';
import type { BreakerConfig } from './breaker/config.ts';
import { Errors } from './errors.ts';
import { LOG_LEVELS } from './logging.ts';
import type { LogLevel } from './logging.ts';
import type { RateLimitConfig } from './rate-limit.ts';

/** A principal's role: clients manage their own services; admins may also read the audit log. */
export type Role = 'client' | 'admin';

/** One accepted token: only its SHA-256 (hex) is stored. */
export interface TokenEntry {
  sha256: string;
  principal: string;
  role: Role;
}

/** One allowed image repository; `digests` pins it to these image IDs or repo digests. */
export interface ImageRule {
  /** Normalised `registry/repository`, e.g. `docker.io/library/nginx` or `ghcr.io/org/app`. */
  repository: string;
  digests: string[] | undefined;
}

/** Default, minimum and maximum of one resource limit. */
export interface LimitRange {
  default: number;
  min: number;
  max: number;
}

/** An inclusive range of host ports. */
export interface PortRange {
  min: number;
  max: number;
}

/** Which host ports services may publish. */
export interface HostPortPolicy extends PortRange {
  /** Host ports one principal's services may publish in all (running or stopped). Default 32. */
  perOwner: number;
  /**
   * Ranges reserved for one principal: only it may publish there, and it publishes only there.
   * Default none.
   */
  reserved: Record<string, PortRange>;
}

/** The validated configuration. */
export interface BrokerConfig {
  /** Unix socket path the API listens on. Default `/run/docklock/broker.sock`. */
  socket: string;
  /** Docker Engine socket. Default `/var/run/docker.sock`. */
  dockerSocket: string;
  /** Audit log (JSONL) path. Default `/var/lib/docklock/audit.jsonl`. */
  auditPath: string;
  /** Largest accepted request body in bytes. Default 65536. */
  bodyLimit: number;
  /**
   * This broker's instance id: the value of its managed label (`io.docklock.broker=<instance>`)
   * and part of its container and network names. Brokers sharing one engine need different ids;
   * each reconciles and guards only its own containers. Default `v1` (the label earlier versions set).
   */
  instance: string;
  /** Server log (JSON lines on stderr). */
  log: { level: LogLevel };
  /** Per-principal request rate limit (`rateLimit:`): on by default, burst 60, 10 per second. */
  rateLimit: RateLimitConfig;
  tokens: TokenEntry[];
  policy: {
    images: {
      /** Strict: every allowed image must be digest-pinned. Default true. */
      strict: boolean;
      allow: ImageRule[];
    };
    /** Host directories that bind mounts may come from (symlinks resolved). Default none. */
    mountPrefixes: string[];
    memory: LimitRange;
    cpus: LimitRange;
    pids: LimitRange;
    /** Containers one principal may own at once. Default 10. */
    quotaPerOwner: number;
    /** Host ports: range (default 1024-65535), per-owner total, per-principal reservations. */
    hostPorts: HostPortPolicy;
    /** Numeric `uid:gid` when the request names none. Default `65534:65534`. */
    defaultUser: string;
    /** Size of the writable, noexec `/tmp` tmpfs in bytes. Default 64 MiB. */
    tmpfsBytes: number;
  };
  /** The circuit breaker (`breaker:`); disabled by default. See docs/broker.md "Circuit breaker". */
  breaker: BreakerConfig;
}

const MiB = 1024 * 1024;

/** Principal names become Docker labels and container names, so they are kept to a safe charset. */
export const PRINCIPAL_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Instance ids become label values and name parts: short, and without the `.` names use as separator. */
export const INSTANCE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,15}$/;

type Obj = Record<string, unknown>;

function fail(message: string, field: string): never {
  throw Errors.config(message, field);
}

function assertObject(value: unknown, field: string, allowed: readonly string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(`expected a mapping, received ${typeof value}`, field);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(`unknown key "${key}" (allowed: ${allowed.join(', ')})`, `${field}.${key}`);
  }
  return value as Obj;
}

function str(o: Obj, key: string, field: string, dflt?: string): string {
  const v = o[key] ?? dflt;
  if (typeof v !== 'string' || v.length === 0)
    fail(`expected a non-empty string, received ${JSON.stringify(v)}`, `${field}.${key}`);
  return v;
}

function num(o: Obj, key: string, field: string, dflt?: number): number {
  const v = o[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    fail(`expected a positive number, received ${JSON.stringify(v)}`, `${field}.${key}`);
  return v;
}

function absPath(o: Obj, key: string, field: string, dflt?: string): string {
  const v = str(o, key, field, dflt);
  if (!isAbsolute(v)) fail(`expected an absolute path, received "${v}"`, `${field}.${key}`);
  return v;
}

function limit(value: unknown, field: string, dflt: LimitRange, integer: boolean): LimitRange {
  const o = assertObject(value ?? {}, field, ['default', 'min', 'max']);
  const r = {
    default: num(o, 'default', field, dflt.default),
    min: num(o, 'min', field, dflt.min),
    max: num(o, 'max', field, dflt.max),
  };
  if (integer && !(Number.isInteger(r.default) && Number.isInteger(r.min) && Number.isInteger(r.max)))
    fail('expected integers', field);
  if (!(r.min <= r.default && r.default <= r.max))
    fail(`expected min <= default <= max, received ${r.min} / ${r.default} / ${r.max}`, field);
  return r;
}

/** Digests are image IDs or repo digests: `sha256:` and 64 hex digits. */
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Validates a parsed configuration object and fills in defaults.
 * @param raw - the parsed YAML/JSON document
 * @returns the validated configuration
 * @throws {BrokerError} `DL_ERR_BROKER_CONFIG` naming the offending key
 * @example
 * const config = parseBrokerConfig({ tokens: [{ sha256: '…', principal: 'alice', role: 'client' }], policy: { images: { strict: false, allow: [{ repository: 'ghcr.io/org/app' }] } } });
 */
export function parseBrokerConfig(raw: unknown): BrokerConfig {
  const top = assertObject(raw, 'config', [
    'socket',
    'dockerSocket',
    'auditPath',
    'bodyLimit',
    'instance',
    'log',
    'rateLimit',
    'tokens',
    'policy',
    'breaker',
  ]);
  const tokensRaw = top.tokens;
  if (!Array.isArray(tokensRaw) || tokensRaw.length === 0) fail('expected at least one token entry', 'config.tokens');
  const tokens = tokensRaw.map((t, i): TokenEntry => {
    const f = `config.tokens[${i}]`;
    const o = assertObject(t, f, ['sha256', 'principal', 'role']);
    const sha256 = str(o, 'sha256', f).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(sha256)) fail('expected 64 hex digits (sha256 of the token)', `${f}.sha256`);
    const principal = str(o, 'principal', f);
    if (!PRINCIPAL_PATTERN.test(principal))
      fail(`expected a principal matching ${PRINCIPAL_PATTERN}, received "${principal}"`, `${f}.principal`);
    const role = str(o, 'role', f, 'client');
    if (role !== 'client' && role !== 'admin') fail(`expected "client" or "admin", received "${role}"`, `${f}.role`);
    return { sha256, principal, role };
  });
  const seen = new Set<string>();
  for (const t of tokens) {
    if (seen.has(t.sha256)) fail('the same token hash appears twice', 'config.tokens');
    seen.add(t.sha256);
  }

  const pol = assertObject(top.policy ?? {}, 'config.policy', [
    'images',
    'mountPrefixes',
    'memory',
    'cpus',
    'pids',
    'quotaPerOwner',
    'hostPorts',
    'defaultUser',
    'tmpfsBytes',
  ]);
  const img = assertObject(pol.images ?? {}, 'config.policy.images', ['strict', 'allow']);
  const strict = img.strict ?? true;
  if (typeof strict !== 'boolean') fail('expected true or false', 'config.policy.images.strict');
  if (!Array.isArray(img.allow)) fail('expected a list of allowed repositories', 'config.policy.images.allow');
  const allow = img.allow.map((r, i): ImageRule => {
    const f = `config.policy.images.allow[${i}]`;
    const o = assertObject(r, f, ['repository', 'digests']);
    const repository = str(o, 'repository', f);
    if (
      !/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9]+(?:[._-][a-z0-9]+)*)+$/.test(repository) ||
      !repository.split('/')[0]!.includes('.')
    ) {
      fail(
        `expected a fully qualified "registry/repository" (e.g. docker.io/library/nginx), received "${repository}"`,
        `${f}.repository`,
      );
    }
    let digests: string[] | undefined;
    if (o.digests !== undefined) {
      if (
        !Array.isArray(o.digests) ||
        o.digests.length === 0 ||
        !o.digests.every((d) => typeof d === 'string' && DIGEST.test(d))
      ) {
        fail('expected a non-empty list of "sha256:<64 hex>" digests', `${f}.digests`);
      }
      digests = o.digests as string[];
    }
    if (strict && digests === undefined)
      fail('strict mode requires every allowed repository to list its digests', `${f}.digests`);
    return { repository, digests };
  });

  const prefixesRaw = pol.mountPrefixes ?? [];
  if (!Array.isArray(prefixesRaw) || !prefixesRaw.every((p) => typeof p === 'string' && isAbsolute(p) && p !== '/')) {
    fail('expected a list of absolute directories other than "/"', 'config.policy.mountPrefixes');
  }
  const defaultUser = str(pol, 'defaultUser', 'config.policy', '65534:65534');
  if (
    !/^[1-9][0-9]{0,9}:[1-9][0-9]{0,9}$/.test(defaultUser) ||
    defaultUser.split(':').some((n) => Number(n) > 2_147_483_647)
  ) {
    fail('expected a non-root numeric "uid:gid", each at most 2147483647', 'config.policy.defaultUser');
  }
  const quota = num(pol, 'quotaPerOwner', 'config.policy', 10);
  if (!Number.isInteger(quota)) fail('expected an integer', 'config.policy.quotaPerOwner');
  const hostPorts = parseHostPorts(pol.hostPorts, tokens);
  const bodyLimit = num(top, 'bodyLimit', 'config', 64 * 1024);
  const instance = str(top, 'instance', 'config', 'v1');
  if (!INSTANCE_PATTERN.test(instance))
    fail(`expected an instance id matching ${INSTANCE_PATTERN}, received "${instance}"`, 'config.instance');
  const rlRaw = assertObject(top.rateLimit ?? {}, 'config.rateLimit', ['enabled', 'burst', 'perSecond']);
  const rlEnabled = rlRaw.enabled ?? true;
  if (typeof rlEnabled !== 'boolean') fail('expected true or false', 'config.rateLimit.enabled');
  const burst = num(rlRaw, 'burst', 'config.rateLimit', 60);
  // A bucket smaller than one request would refuse everything.
  if (!Number.isInteger(burst) || burst < 1) fail('expected an integer of at least 1', 'config.rateLimit.burst');
  const perSecond = num(rlRaw, 'perSecond', 'config.rateLimit', 10);
  const logRaw = assertObject(top.log ?? {}, 'config.log', ['level']);
  const level = str(logRaw, 'level', 'config.log', 'info');
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    fail(`expected one of ${LOG_LEVELS.join(', ')}, received "${level}"`, 'config.log.level');

  return {
    socket: absPath(top, 'socket', 'config', '/run/docklock/broker.sock'),
    dockerSocket: absPath(top, 'dockerSocket', 'config', '/var/run/docker.sock'),
    auditPath: absPath(top, 'auditPath', 'config', '/var/lib/docklock/audit.jsonl'),
    bodyLimit,
    instance,
    log: { level: level as LogLevel },
    rateLimit: { enabled: rlEnabled, burst, perSecond },
    tokens,
    policy: {
      images: { strict, allow },
      mountPrefixes: prefixesRaw as string[],
      memory: limit(pol.memory, 'config.policy.memory', { default: 256 * MiB, min: 16 * MiB, max: 4096 * MiB }, true),
      cpus: limit(pol.cpus, 'config.policy.cpus', { default: 1, min: 0.05, max: 4 }, false),
      // Under runsc the sandbox's own threads count against the PID limit: below ~64 it cannot start.
      pids: limit(pol.pids, 'config.policy.pids', { default: 256, min: 64, max: 4096 }, true),
      quotaPerOwner: quota,
      hostPorts,
      defaultUser,
      tmpfsBytes: num(pol, 'tmpfsBytes', 'config.policy', 64 * MiB),
    },
    breaker: parseBreakerConfig(top.breaker),
  };
}

function portRange(value: unknown, field: string, dflt: PortRange, within: PortRange): PortRange {
  const o = assertObject(value ?? {}, field, ['min', 'max']);
  const r = { min: num(o, 'min', field, dflt.min), max: num(o, 'max', field, dflt.max) };
  if (!Number.isInteger(r.min) || !Number.isInteger(r.max)) fail('expected integer ports', field);
  if (!(within.min <= r.min && r.min <= r.max && r.max <= within.max))
    fail(`expected ${within.min} <= min <= max <= ${within.max}, received ${r.min} / ${r.max}`, field);
  return r;
}

function parseHostPorts(value: unknown, tokens: readonly TokenEntry[]): HostPortPolicy {
  const f = 'config.policy.hostPorts';
  const o = assertObject(value ?? {}, f, ['min', 'max', 'perOwner', 'reserved']);
  // Below 1024 are the host's privileged ports: never a service's.
  const range = portRange({ min: o.min, max: o.max }, f, { min: 1024, max: 65535 }, { min: 1024, max: 65535 });
  const perOwner = num(o, 'perOwner', f, 32);
  if (!Number.isInteger(perOwner)) fail('expected an integer', `${f}.perOwner`);
  const reservedRaw = o.reserved ?? {};
  if (typeof reservedRaw !== 'object' || reservedRaw === null || Array.isArray(reservedRaw))
    fail('expected a mapping of principal to { min, max }', `${f}.reserved`);
  const principals = new Set(tokens.map((t) => t.principal));
  const reserved: Record<string, PortRange> = {};
  for (const [who, r] of Object.entries(reservedRaw)) {
    if (!principals.has(who)) fail(`"${who}" is not a configured principal`, `${f}.reserved.${who}`);
    reserved[who] = portRange(r, `${f}.reserved.${who}`, range, range);
  }
  const sorted = Object.entries(reserved).sort((a, b) => a[1].min - b[1].min);
  for (let i = 1; i < sorted.length; i++) {
    const [prevWho, prev] = sorted[i - 1]!;
    const [who, r] = sorted[i]!;
    if (r.min <= prev.max) fail(`overlaps the range reserved for "${prevWho}"`, `${f}.reserved.${who}`);
  }
  return { ...range, perOwner, reserved };
}

/**
 * Reads and validates a YAML configuration file.
 * @param path - path to broker.yaml
 * @returns the validated configuration
 * @throws {BrokerError} `DL_ERR_BROKER_CONFIG` when the file is unreadable or invalid
 * @example
 * const config = loadBrokerConfig('/etc/docklock/broker.yaml');
 */
export function loadBrokerConfig(path: string): BrokerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw Errors.config(`cannot read config file ${path}: ${(cause as Error).message}`, 'config', { cause });
  }
  let doc: unknown;
  try {
    // uniqueKeys: a repeated key in the config is an error, as in request bodies.
    doc = parseYaml(text, { uniqueKeys: true, prettyErrors: true });
  } catch (cause) {
    throw Errors.config(
      `config file ${path} is not valid YAML: ${(cause as Error).message.split('\n')[0]!.replace(/:$/, '')}`,
      'config',
      { cause },
    );
  }
  return parseBrokerConfig(doc);
}
