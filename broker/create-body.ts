/**
 * Builds the Docker `ContainerCreate` body from resolved policy values. This is the only place a
 * container's configuration is written, and every security-relevant field is set explicitly so an
 * engine default can never loosen it. No client JSON is copied in: only validated scalars.
 */
import type { ContainerCreateOptions } from 'dockerode';
import {
  LABEL_IMAGE,
  LABEL_MANAGED,
  LABEL_NETWORK,
  LABEL_OWNER,
  LABEL_SERVICE,
  containerName,
  ownerNetworkName,
} from './labels.ts';
import type { NetworkChoice, ResolvedLimits, ResolvedMount } from './policy.ts';
import { seccompProfileJson } from './seccomp.ts';

/** Everything the builder needs, already checked by policy.ts. */
export interface CreateInput {
  /** The broker's instance id: the managed label's value and part of every name. */
  instance: string;
  owner: string;
  name: string;
  /** The image reference as requested (kept as a label for display). */
  imageRef: string;
  /** The resolved image ID, so a retagged image cannot swap in after the policy check. */
  imageId: string;
  command: string[] | undefined;
  env: Record<string, string> | undefined;
  user: string;
  limits: ResolvedLimits;
  network: NetworkChoice;
  mounts: ResolvedMount[];
  ports: { container: number; host: number }[];
  tmpfsBytes: number;
  /**
   * The image's declared volumes (`Config.Volumes`). Left to the engine, each becomes a writable,
   * exec-able anonymous volume on the host's disk with no size limit, under a read-only root. The
   * engine refuses read-only anonymous volumes and this one has no `tmpcopyup`, so each is a tmpfs
   * like `/tmp` instead: bounded, noexec, and empty (what the image keeps there is not copied in).
   */
  imageVolumes?: readonly string[];
  /** Negotiated Docker API version, e.g. `1.41`, to gate newer fields. */
  apiVersion: string;
  /** OCI runtime; the broker always passes `runsc` (the bench compares with `runc`). */
  runtime?: string;
}

/**
 * Compares two `major.minor` API versions.
 * @returns true when `have` >= `want`
 */
export function apiAtLeast(have: string, want: string): boolean {
  const [hm = 0, hn = 0] = have.split('.').map(Number);
  const [wm = 0, wn = 0] = want.split('.').map(Number);
  return hm > wm || (hm === wm && hn >= wn);
}

/** Image volume paths other than `/tmp` and the requested mounts' targets (which cover them). */
function imageVolumeTargets(input: CreateInput): string[] {
  const taken = new Set(['/tmp', ...input.mounts.map((m) => m.target)]);
  const out: string[] = [];
  for (const v of input.imageVolumes ?? []) {
    const target = v.length > 1 ? v.replace(/\/+$/, '') : v;
    if (!taken.has(target)) out.push(target);
    taken.add(target);
  }
  return out;
}

/**
 * Builds the create body.
 * @param input - resolved, policy-checked values
 * @returns the body for `POST /containers/create` (name included)
 * @example
 * const body = buildCreateBody({ owner: 'alice', name: 'web', ... });
 */
export function buildCreateBody(input: CreateInput): ContainerCreateOptions {
  const networkMode = input.network === 'none' ? 'none' : ownerNetworkName(input.instance, input.owner, input.network);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of input.ports) {
    exposed[`${p.container}/tcp`] = {};
    // Loopback only: services are reached through the host, never from other machines.
    bindings[`${p.container}/tcp`] = [{ HostIp: '127.0.0.1', HostPort: String(p.host) }];
  }
  const hostConfig: NonNullable<ContainerCreateOptions['HostConfig']> & { CgroupnsMode?: string } = {
    Runtime: input.runtime ?? 'runsc',
    Privileged: false,
    CapDrop: ['ALL'],
    CapAdd: [],
    SecurityOpt: ['no-new-privileges:true', `seccomp=${seccompProfileJson()}`],
    ReadonlyRootfs: true,
    Tmpfs: Object.fromEntries(
      ['/tmp', ...imageVolumeTargets(input)].map((t) => [t, `rw,noexec,nosuid,nodev,size=${input.tmpfsBytes}`]),
    ),
    Memory: input.limits.memoryBytes,
    // Equal to Memory: no swap on top of the limit.
    MemorySwap: input.limits.memoryBytes,
    NanoCpus: input.limits.nanoCpus,
    PidsLimit: input.limits.pids,
    NetworkMode: networkMode,
    PortBindings: bindings,
    PublishAllPorts: false,
    Mounts: input.mounts.map((m) => ({
      Type: 'bind' as const,
      Source: m.source,
      Target: m.target,
      ReadOnly: m.readOnly,
      BindOptions: { Propagation: 'rprivate' as const },
    })),
    Binds: [],
    VolumesFrom: [],
    Devices: [],
    DeviceCgroupRules: [],
    IpcMode: 'private',
    PidMode: '',
    UTSMode: '',
    UsernsMode: '',
    ExtraHosts: [],
    Dns: [],
    GroupAdd: [],
    OomKillDisable: false,
    Init: false,
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
  };
  if (apiAtLeast(input.apiVersion, '1.41')) hostConfig.CgroupnsMode = 'private';
  return {
    name: containerName(input.instance, input.owner, input.name),
    Image: input.imageId,
    Cmd: input.command,
    Env: Object.entries(input.env ?? {}).map(([k, v]) => `${k}=${v}`),
    User: input.user,
    Labels: {
      [LABEL_MANAGED]: input.instance,
      [LABEL_OWNER]: input.owner,
      [LABEL_SERVICE]: input.name,
      [LABEL_IMAGE]: input.imageRef,
      [LABEL_NETWORK]: input.network,
    },
    ExposedPorts: exposed,
    // An image's HEALTHCHECK runs through exec, which gVisor starts without the seccomp filter, with
    // the service's env (PATH included) and mounts: a service could steer it to its own binary.
    Healthcheck: { Test: ['NONE'] },
    NetworkDisabled: input.network === 'none',
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    HostConfig: hostConfig,
  };
}
