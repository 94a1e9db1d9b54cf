/**
 * The broker's policy: everything a request may ask for is checked here against the operator's
 * configuration, and turned into resolved values the create-body builder uses. Nothing a client
 * sends reaches Docker without passing one of these functions.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, posix, sep } from 'node:path';
import type { BrokerConfig, ImageRule, LimitRange } from './config.ts';
import { Errors } from './errors.ts';
import { parseImageReference } from './image-ref.ts';
import type { ImageReference } from './image-ref.ts';

/** A deploy request after schema validation (see schemas.ts). */
export interface ServiceSpec {
  name: string;
  image: string;
  command?: string[];
  env?: Record<string, string>;
  memory?: number;
  cpus?: number;
  pids?: number;
  network?: NetworkChoice;
  mounts?: { source: string; target: string; readOnly?: boolean }[];
  ports?: { container: number; host: number }[];
  user?: string;
}

/** The three network choices: no network, an internal (no egress) network per owner, or Docker's bridge. */
export type NetworkChoice = 'none' | 'isolated' | 'bridge';

/** A bind mount after symlink resolution and prefix checks. */
export interface ResolvedMount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** What policy allows, ready for the create-body builder. */
export interface ResolvedLimits {
  memoryBytes: number;
  nanoCpus: number;
  pids: number;
}

/**
 * Finds the allowlist rule for an image by exact `registry/repository` equality, so an entry
 * `ghcr.io/org/app` never admits `ghcr.io/org/app-evil` or `ghcr.io/org/app/sub`.
 * @param image - the requested reference
 * @param rules - the configured allowlist
 * @returns the parsed reference and its rule
 * @throws {BrokerError} `DL_ERR_POLICY_IMAGE_NOT_ALLOWED` when no rule matches
 * @example
 * checkImageAllowed('ghcr.io/org/app:1', [{ repository: 'ghcr.io/org/app', digests: undefined }]);
 */
export function checkImageAllowed(
  image: string,
  rules: readonly ImageRule[],
): { ref: ImageReference; rule: ImageRule } {
  const ref = parseImageReference(image);
  const rule = rules.find((r) => r.repository === ref.repository);
  if (rule === undefined)
    throw Errors.imageNotAllowed(`image repository "${ref.repository}" is not on the broker's allowlist`, 'image');
  if (rule.digests !== undefined && ref.digest !== undefined && !rule.digests.includes(ref.digest)) {
    throw Errors.imageNotPinned(`digest ${ref.digest} is not pinned for ${ref.repository}`, 'image');
  }
  return { ref, rule };
}

/**
 * Checks that the image Docker resolved is one the rule pins (image ID or a repo digest).
 * @param rule - the matching allowlist rule
 * @param imageId - the local image ID (`sha256:…`)
 * @param repoDigests - the image's `RepoDigests` (`name@sha256:…`)
 * @throws {BrokerError} `DL_ERR_POLICY_IMAGE_NOT_PINNED` when pinned and neither matches
 */
export function checkImagePinned(rule: ImageRule, imageId: string, repoDigests: readonly string[]): void {
  if (rule.digests === undefined) return;
  const candidates = [imageId, ...repoDigests.map((d) => d.slice(d.indexOf('@') + 1))];
  if (!candidates.some((d) => rule.digests!.includes(d))) {
    throw Errors.imageNotPinned(
      `the local image for ${rule.repository} (${imageId}) matches none of its pinned digests`,
      'image',
    );
  }
}

function inRange(value: number | undefined, range: LimitRange, field: string, unit: string): number {
  const v = value ?? range.default;
  // 0 and -1 mean "unlimited" to Docker; they are never a valid request here.
  if (!(v >= range.min && v <= range.max)) {
    throw Errors.limitOutOfRange(
      `${field} must be between ${range.min} and ${range.max} ${unit}, received ${v}`,
      field,
    );
  }
  return v;
}

/**
 * Resolves memory, CPU and PID limits from the request and the configured ranges.
 * @throws {BrokerError} `DL_ERR_POLICY_LIMIT_OUT_OF_RANGE` for a value outside [min, max] (including 0 and -1)
 */
export function resolveLimits(spec: ServiceSpec, policy: BrokerConfig['policy']): ResolvedLimits {
  const memory = inRange(spec.memory, policy.memory, 'memory', 'bytes');
  const cpus = inRange(spec.cpus, policy.cpus, 'cpus', 'CPUs');
  const pids = inRange(spec.pids, policy.pids, 'pids', 'processes');
  return { memoryBytes: Math.floor(memory), nanoCpus: Math.round(cpus * 1e9), pids };
}

/** The largest uid/gid the engine accepts (Linux's are 32-bit, Docker refuses 2^31 and above). */
export const MAX_ID = 2_147_483_647;

/**
 * Resolves the container user: numeric only (a name would be looked up inside the image, which
 * the image controls), never root, and within the range the engine accepts, so Docker never sees
 * a user it would refuse after creating the container.
 * @throws {BrokerError} `DL_ERR_POLICY_USER_NOT_ALLOWED` for uid or gid 0 or above 2147483647
 */
export function resolveUser(spec: ServiceSpec, policy: BrokerConfig['policy']): string {
  const user = spec.user ?? policy.defaultUser;
  const [uid, gid = uid] = user.split(':');
  if (Number(uid) === 0 || Number(gid) === 0)
    throw Errors.userNotAllowed('containers never run as root (uid or gid 0)', 'user');
  if (!(Number(uid) <= MAX_ID && Number(gid) <= MAX_ID))
    throw Errors.userNotAllowed(`uid and gid must be between 1 and ${MAX_ID}, received "${user}"`, 'user');
  return `${Number(uid)}:${Number(gid)}`;
}

const FORBIDDEN_TARGETS = ['/proc', '/sys', '/dev', '/tmp'];
const CONTROL = /[\u0000-\u001f\u007f]/;

function hasDotDot(p: string): boolean {
  return p.split('/').some((c) => c === '..' || c === '.');
}

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith(sep) ? prefix : prefix + sep);
}

/**
 * Resolves bind mounts: sources must be absolute, free of `.`/`..`, and, after resolving every
 * symlink, inside one of the configured prefixes (also resolved); sockets (docker.sock and the
 * like) are never mountable. Read-only unless the request says otherwise.
 * @throws {BrokerError} `DL_ERR_POLICY_MOUNT_NOT_ALLOWED` naming the mount
 */
export async function resolveMounts(spec: ServiceSpec, policy: BrokerConfig['policy']): Promise<ResolvedMount[]> {
  const out: ResolvedMount[] = [];
  const prefixes: string[] = [];
  for (const p of policy.mountPrefixes) {
    try {
      prefixes.push(await realpath(p));
    } catch {
      // A configured prefix that does not exist admits nothing.
    }
  }
  const targets = new Set<string>();
  for (const [i, m] of (spec.mounts ?? []).entries()) {
    const field = `mounts[${i}]`;
    const deny = (why: string): never => {
      throw Errors.mountNotAllowed(`mount ${m.source} -> ${m.target}: ${why}`, field);
    };
    // The engine refuses a NUL after creating nothing, or creates a mount point it cannot start with.
    if (CONTROL.test(m.source) || CONTROL.test(m.target)) deny('paths may not contain control characters');
    if (!isAbsolute(m.source) || hasDotDot(m.source))
      deny('source must be an absolute path without "." or ".." components');
    if (!posix.isAbsolute(m.target) || hasDotDot(m.target) || m.target === '/')
      deny('target must be an absolute path other than "/" without "." or ".." components');
    // `/data/` and `/data` are one mount point to the engine, which refuses the pair.
    const target = posix.normalize(m.target).replace(/\/+$/, '');
    if (FORBIDDEN_TARGETS.some((f) => isUnder(target, f)))
      deny(`target may not be under ${FORBIDDEN_TARGETS.join(', ')}`);
    if (targets.has(target)) deny('target is mounted twice');
    targets.add(target);
    if (/docker\.sock|containerd\.sock|\.sock$/.test(m.source)) deny('sockets are never mountable');
    let resolved: string;
    try {
      resolved = await realpath(m.source);
    } catch {
      return deny('source does not exist');
    }
    if (!prefixes.some((p) => isUnder(resolved, p)))
      deny(`source resolves to ${resolved}, outside the allowed prefixes`);
    const st = await stat(resolved);
    if (!st.isDirectory() && !st.isFile()) deny('source must be a regular file or directory');
    out.push({ source: resolved, target, readOnly: m.readOnly ?? true });
  }
  return out;
}

/**
 * Checks published ports: only with the bridge network, no duplicates, host ports inside the
 * policy's range (`hostPorts`, default 1024–65535) and, when ranges are reserved, only in the
 * owner's own reservation and never in another principal's. Binding to 127.0.0.1 is done by the
 * create-body builder, never chosen by the client.
 * @throws {BrokerError} `DL_ERR_POLICY_PORT_NOT_ALLOWED`
 */
export function resolvePorts(
  spec: ServiceSpec,
  network: NetworkChoice,
  owner: string,
  policy: BrokerConfig['policy'],
): { container: number; host: number }[] {
  const ports = spec.ports ?? [];
  if (ports.length > 0 && network !== 'bridge')
    throw Errors.portNotAllowed('ports can only be published with network "bridge"', 'ports');
  const { min, max, reserved } = policy.hostPorts;
  const mine = reserved[owner];
  const hosts = new Set<number>();
  const containers = new Set<number>();
  for (const [i, p] of ports.entries()) {
    const field = `ports[${i}].host`;
    if (p.host < 1024) throw Errors.portNotAllowed(`host port ${p.host} is privileged; use ${min}-${max}`, field);
    if (p.host < min || p.host > max)
      throw Errors.portNotAllowed(`host port ${p.host} is outside the allowed range ${min}-${max}`, field);
    if (mine !== undefined && (p.host < mine.min || p.host > mine.max))
      throw Errors.portNotAllowed(`host port ${p.host} is outside your reserved range ${mine.min}-${mine.max}`, field);
    // Whose reservation it is stays unsaid: principals' names are not for other clients.
    if (mine === undefined && Object.values(reserved).some((r) => p.host >= r.min && p.host <= r.max))
      throw Errors.portNotAllowed(`host port ${p.host} is reserved for another principal`, field);
    if (hosts.has(p.host)) throw Errors.portNotAllowed(`host port ${p.host} is listed twice`, field);
    // One binding per container port: a second entry would otherwise silently replace the first.
    if (containers.has(p.container))
      throw Errors.portNotAllowed(`container port ${p.container} is listed twice`, `ports[${i}].container`);
    hosts.add(p.host);
    containers.add(p.container);
  }
  return ports;
}
