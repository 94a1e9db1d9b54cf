/**
 * Service operations on behalf of an authenticated principal. Every lookup filters Docker by the
 * broker's managed label AND the caller's owner label, so another owner's container is simply
 * not found (404) rather than forbidden: its existence is not disclosed.
 */
import type Docker from 'dockerode';
import type { ContainerCreateOptions, ContainerInfo, ContainerInspectInfo } from 'dockerode';
import type { AuditEvent } from './audit.ts';
import type { BrokerConfig } from './config.ts';
import { buildCreateBody } from './create-body.ts';
import { dockerStatus } from './docker.ts';
import { Errors } from './errors.ts';
import {
  LABEL_IMAGE,
  LABEL_MANAGED,
  LABEL_NETWORK,
  LABEL_OWNER,
  LABEL_SERVICE,
  managedFilter,
  ownerNetworkName,
} from './labels.ts';
import { readLogTail } from './log-tail.ts';
import { checkPortsFree, hostPortsOf } from './ports.ts';
import {
  checkImageAllowed,
  checkImagePinned,
  resolveLimits,
  resolveMounts,
  resolvePorts,
  resolveUser,
} from './policy.ts';
import type { NetworkChoice, ServiceSpec } from './policy.ts';

/** What the API returns for a service: an allowlist, never Docker's inspect document. */
export interface ServiceView {
  id: string;
  name: string;
  owner: string;
  image: string;
  state: string;
  network: NetworkChoice;
  createdAt: string;
  user: string;
  memory: number;
  cpus: number;
  pids: number;
  ports: { container: number; host: number }[];
}

/** Lifecycle actions a client may request. */
export type ServiceAction = 'start' | 'stop' | 'restart' | 'pause' | 'unpause';

const ID = /^[0-9a-f]{64}$/;
/** The lock key of host-port allocation (a space never appears in a principal). */
const PORTS_LOCK = ' ports';

/** Where the service manager records intents and outcomes (the broker's AuditLog). */
export interface ServiceAudit {
  append(e: AuditEvent): Promise<unknown>;
}

/**
 * The circuit breaker's say on starting a service (broker/breaker/): when it could no longer act
 * on the service, the service must not run again until it can.
 */
export interface StartGate {
  circuitOpen(owner: string, name: string): { cap: string; actions: number; until: string } | undefined;
}

/** Seconds Docker waits after SIGTERM before SIGKILL on stop/restart. */
const STOP_TIMEOUT_S = 5;

function toView(c: ContainerInspectInfo): ServiceView {
  const labels = c.Config.Labels ?? {};
  const ports: { container: number; host: number }[] = [];
  for (const [key, bindings] of Object.entries(c.HostConfig.PortBindings ?? {})) {
    for (const b of (bindings as { HostPort?: string }[] | null) ?? [])
      ports.push({ container: parseInt(key, 10), host: Number(b.HostPort) });
  }
  return {
    id: c.Id,
    name: labels[LABEL_SERVICE] ?? '',
    owner: labels[LABEL_OWNER] ?? '',
    image: labels[LABEL_IMAGE] ?? '',
    state: c.State.Status,
    network: (labels[LABEL_NETWORK] ?? 'none') as NetworkChoice,
    createdAt: c.Created,
    user: c.Config.User,
    memory: c.HostConfig.Memory ?? 0,
    cpus: (c.HostConfig.NanoCpus ?? 0) / 1e9,
    pids: c.HostConfig.PidsLimit ?? 0,
    ports,
  };
}

/** Creates and manages containers for principals under one policy. */
export class ServiceManager {
  #docker: Docker;
  #config: BrokerConfig;
  #apiVersion: string;
  #audit: ServiceAudit;
  #ownerLocks = new Map<string, Promise<unknown>>();
  #gate: StartGate | undefined;

  constructor(docker: Docker, apiVersion: string, config: BrokerConfig, audit: ServiceAudit) {
    this.#docker = docker;
    this.#apiVersion = apiVersion;
    this.#config = config;
    this.#audit = audit;
  }

  /**
   * Lets the circuit breaker refuse starts (set once both exist: the breaker acts through this
   * manager, so it is built after it).
   */
  setStartGate(gate: StartGate): void {
    this.#gate = gate;
  }

  /** @throws {BrokerError} `DL_ERR_BREAKER_OPEN` when the breaker's cap for the service or its owner is used up */
  #checkGate(owner: string, name: string): void {
    const open = this.#gate?.circuitOpen(owner, name);
    if (open === undefined) return;
    const whose = open.cap === 'service_hourly_cap' ? `service "${name}"` : `your services`;
    throw Errors.breakerOpen(
      `the circuit breaker acted ${open.actions} times in the last hour on ${whose}, its hourly cap: "${name}" cannot be started before ${open.until}`,
    );
  }

  /** Runs `fn` with the owner's lock held, so quota checks and creates do not race. */
  async #withOwnerLock<T>(owner: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#ownerLocks.get(owner) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#ownerLocks.set(owner, tail);
    try {
      return await next;
    } finally {
      if (this.#ownerLocks.get(owner) === tail) this.#ownerLocks.delete(owner);
    }
  }

  async #listOwned(owner: string): Promise<ContainerInfo[]> {
    return this.#docker.listContainers({
      all: true,
      filters: { label: [managedFilter(this.#config.instance), `${LABEL_OWNER}=${owner}`] },
    });
  }

  /** Finds the caller's container by full ID or service name; anything else is 404. */
  async #find(owner: string, idOrName: string): Promise<ContainerInspectInfo> {
    const isId = ID.test(idOrName);
    const labels = [managedFilter(this.#config.instance), `${LABEL_OWNER}=${owner}`];
    if (!isId) labels.push(`${LABEL_SERVICE}=${idOrName}`);
    const found = await this.#docker.listContainers({
      all: true,
      filters: isId ? { label: labels, id: [idOrName] } : { label: labels },
    });
    const hit = found.find((c) => (isId ? c.Id === idOrName : true));
    if (hit === undefined) throw Errors.notFound(`no service "${idOrName}"`, 'id');
    const info = await this.#docker.getContainer(hit.Id).inspect();
    // Re-check on the inspected document: the label filter is the engine's, this is ours.
    if (info.Config.Labels?.[LABEL_OWNER] !== owner || info.Config.Labels?.[LABEL_MANAGED] !== this.#config.instance) {
      throw Errors.notFound(`no service "${idOrName}"`, 'id');
    }
    return info;
  }

  async #ensureOwnerNetwork(owner: string, network: 'isolated' | 'bridge'): Promise<void> {
    const name = ownerNetworkName(this.#config.instance, owner, network);
    const existing = await this.#docker.listNetworks({ filters: { name: [name] } });
    if (existing.some((n) => n.Name === name)) return;
    try {
      await this.#docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        // Internal: no route out of the host. Either kind is the owner's alone: the engine keeps
        // user-defined bridges apart, so another owner's services cannot reach these.
        Internal: network === 'isolated',
        CheckDuplicate: true,
        Labels: { [LABEL_MANAGED]: this.#config.instance, [LABEL_OWNER]: owner, [LABEL_NETWORK]: network },
      });
    } catch (err) {
      if (dockerStatus(err) !== 409) throw err;
    }
  }

  /** Removes the owner's networks (under this or an earlier name) that no container of theirs uses. */
  async #dropOwnerNetworksIfUnused(owner: string): Promise<void> {
    const owned = await this.#listOwned(owner);
    const inUse = new Set(owned.map((c) => c.Labels[LABEL_NETWORK] ?? 'none'));
    const nets = await this.#docker.listNetworks({
      filters: { label: [managedFilter(this.#config.instance), `${LABEL_OWNER}=${owner}`] },
    });
    // Networks made before the bridge kind existed carry no kind label: all were isolated.
    for (const n of nets.filter((n) => !inUse.has(n.Labels?.[LABEL_NETWORK] ?? 'isolated')))
      await this.#docker
        .getNetwork(n.Id)
        .remove()
        .catch(() => undefined);
  }

  /**
   * Deploys a service: policy checks, quota, host ports, then an intent record, create with the
   * broker's own body, start, and an outcome record. A container exists only with both records:
   * when the outcome cannot be written the container is removed again and the request fails
   * (fail closed); when the broker dies in between, reconcile finds the intent without an outcome
   * at the next start and removes what it created (reconcile.ts).
   * @param requestId - the API request's id, linking intent, outcome and the HTTP record
   * @throws {BrokerError} `DL_ERR_POLICY_*` when policy refuses, `DL_ERR_BROKER_CONFLICT` when the name is taken
   */
  async deploy(owner: string, spec: ServiceSpec, requestId: string): Promise<ServiceView> {
    const policy = this.#config.policy;
    const { ref, rule } = checkImageAllowed(spec.image, policy.images.allow);
    const limits = resolveLimits(spec, policy);
    const user = resolveUser(spec, policy);
    const network = spec.network ?? 'none';
    const ports = resolvePorts(spec, network, owner, policy);
    const mounts = await resolveMounts(spec, policy);
    return this.#withOwnerLock(owner, async () => {
      const owned = await this.#listOwned(owner);
      if (owned.length >= policy.quotaPerOwner) {
        throw Errors.quotaExceeded(
          `owner "${owner}" already has ${owned.length} of ${policy.quotaPerOwner} allowed services`,
        );
      }
      if (owned.some((c) => c.Labels[LABEL_SERVICE] === spec.name))
        throw Errors.conflict(`service "${spec.name}" already exists`, 'name');
      // Removing and deploying again under the same name is a restart, as far as the breaker goes.
      this.#checkGate(owner, spec.name);
      if (ports.length > 0) {
        // Stopped services count: their ports are theirs again at the next start.
        const held = (await hostPortsOf(this.#docker, owned)).length;
        if (held + ports.length > policy.hostPorts.perOwner)
          throw Errors.quotaExceeded(
            `owner "${owner}" already publishes ${held} of ${policy.hostPorts.perOwner} allowed host ports; this service asks for ${ports.length} more`,
            'ports',
          );
      }
      let image;
      try {
        // The image the policy allowed, not the engine's reading of the client's spelling.
        image = await this.#docker.getImage(ref.canonical).inspect();
      } catch (err) {
        if (dockerStatus(err) === 404)
          throw Errors.imageNotPresent(`image ${spec.image} is not present on this host`, 'image');
        throw err;
      }
      checkImagePinned(rule, image.Id, image.RepoDigests ?? []);
      const body = buildCreateBody({
        instance: this.#config.instance,
        owner,
        name: spec.name,
        imageRef: spec.image,
        imageId: image.Id,
        command: spec.command,
        env: spec.env,
        user,
        limits,
        network,
        mounts,
        ports,
        tmpfsBytes: policy.tmpfsBytes,
        imageVolumes: Object.keys(image.Config?.Volumes ?? {}),
        apiVersion: this.#apiVersion,
      });
      // Host ports are host-wide: one lock for every owner while they are checked and taken.
      const create = (): Promise<ServiceView> => this.#create(owner, spec.name, network, body, ports, requestId);
      return ports.length > 0 ? this.#withOwnerLock(PORTS_LOCK, create) : create();
    });
  }

  async #create(
    owner: string,
    name: string,
    network: NetworkChoice,
    body: ContainerCreateOptions,
    ports: { host: number; container: number }[],
    requestId: string,
  ): Promise<ServiceView> {
    await checkPortsFree(this.#docker, ports);
    // Written (and fsync'd) before Docker creates anything: nothing can exist unaudited.
    await this.#audit.append({
      action: 'service.create.intent',
      principal: owner,
      decision: 'info',
      target: body.name!,
      reason: `create ${owner}/${name}`,
      requestId,
    });
    let container: Docker.Container | undefined;
    try {
      if (network !== 'none') await this.#ensureOwnerNetwork(owner, network);
      try {
        container = await this.#docker.createContainer(body);
      } catch (err) {
        if (dockerStatus(err) === 409) throw Errors.conflict(`service "${name}" already exists`, 'name');
        throw Errors.docker(`creating service "${name}" failed: ${(err as Error).message}`, undefined, { cause: err });
      }
      try {
        await container.start();
      } catch (err) {
        throw Errors.docker(`service "${name}" was created but failed to start: ${(err as Error).message}`, undefined, {
          cause: err,
        });
      }
      const view = toView(await container.inspect());
      await this.#audit.append({
        action: 'service.create.outcome',
        principal: owner,
        decision: 'allowed',
        target: view.id,
        reason: `created ${body.name!}`,
        requestId,
      });
      return view;
    } catch (err) {
      // Undo everything this request made, then record the outcome; the error still reaches the caller.
      if (container !== undefined) await container.remove({ force: true, v: true }).catch(() => undefined);
      if (network !== 'none') await this.#dropOwnerNetworksIfUnused(owner).catch(() => undefined);
      const code = (err as { code?: unknown }).code;
      await this.#audit
        .append({
          action: 'service.create.outcome',
          principal: owner,
          decision: 'error',
          target: body.name!,
          reason: `${typeof code === 'string' ? code : 'DL_ERR_INTERNAL'}: nothing kept`,
          requestId,
        })
        .catch(() => undefined);
      throw err;
    }
  }

  /** Lists the caller's services. */
  async list(owner: string): Promise<ServiceView[]> {
    const owned = await this.#listOwned(owner);
    const views = await Promise.all(
      owned.map((c) =>
        this.#docker
          .getContainer(c.Id)
          .inspect()
          .then(toView, () => undefined),
      ),
    );
    return views.filter((v): v is ServiceView => v !== undefined && v.owner === owner);
  }

  /** Returns one of the caller's services. @throws {BrokerError} 404 when not the caller's */
  async get(owner: string, idOrName: string): Promise<ServiceView> {
    return toView(await this.#find(owner, idOrName));
  }

  /**
   * Applies a lifecycle action.
   * @throws {BrokerError} 404 when not the caller's, 409 when the state forbids it or the breaker's circuit is open
   */
  async act(owner: string, idOrName: string, action: ServiceAction): Promise<ServiceView> {
    const info = await this.#find(owner, idOrName);
    if (action === 'start' || action === 'restart' || action === 'unpause')
      this.#checkGate(owner, info.Config.Labels?.[LABEL_SERVICE] ?? '');
    const c = this.#docker.getContainer(info.Id);
    try {
      if (action === 'start') await c.start();
      else if (action === 'stop') await c.stop({ t: STOP_TIMEOUT_S });
      else if (action === 'restart') await c.restart({ t: STOP_TIMEOUT_S });
      else if (action === 'pause') await c.pause();
      else await c.unpause();
    } catch (err) {
      const s = dockerStatus(err);
      // 304: already in the requested state; the action is idempotent.
      if (s !== 304) {
        if (s === 409) throw Errors.conflict(`cannot ${action} service "${idOrName}" in state ${info.State.Status}`);
        throw err;
      }
    }
    return toView(await c.inspect());
  }

  /**
   * Applies a circuit-breaker action (broker/breaker/) to one of an owner's services. The API never
   * reaches this: only the breaker calls it, with the owner read from the container's labels, and
   * the lookup re-checks the broker's managed and owner labels on the inspected document, so a
   * container the broker does not own is a 404 and is never touched.
   * @param owner - the owner label of the container
   * @param id - full container ID
   * @param action - pause, stop (SIGTERM, then SIGKILL after 5 s), kill (SIGKILL) or restart
   * @throws {BrokerError} 404 when not a broker-owned container of `owner`
   */
  async enforce(
    owner: string,
    id: string,
    action: 'pause' | 'stop' | 'kill' | 'restart',
    opts: { inspected?: { owner: string; managed: string } } = {},
  ): Promise<void> {
    if (!ID.test(id)) throw Errors.notFound(`no service "${id}"`, 'id');
    // The breaker acts within ~1 s of a storm and every engine round trip counts: it passes the
    // labels its inventory read on this container's inspect document. A container's labels never
    // change and its 64-hex ID is never reused, so that check is as good as a fresh inspect.
    let labels = opts.inspected;
    if (labels === undefined) {
      let info: ContainerInspectInfo;
      try {
        info = await this.#docker.getContainer(id).inspect();
      } catch (err) {
        if (dockerStatus(err) === 404) throw Errors.notFound(`no service "${id}"`, 'id');
        throw err;
      }
      if (info.Id !== id) throw Errors.notFound(`no service "${id}"`, 'id');
      labels = { owner: info.Config.Labels?.[LABEL_OWNER] ?? '', managed: info.Config.Labels?.[LABEL_MANAGED] ?? '' };
    }
    if (labels.owner !== owner || labels.managed !== this.#config.instance)
      throw Errors.notFound(`no service "${id}"`, 'id');
    const c = this.#docker.getContainer(id);
    try {
      if (action === 'pause') await c.pause();
      else if (action === 'stop') await c.stop({ t: STOP_TIMEOUT_S });
      else if (action === 'kill') await c.kill({ signal: 'SIGKILL' });
      else await c.restart({ t: STOP_TIMEOUT_S });
    } catch (err) {
      // 304: already stopped; 409: not running (e.g. it died meanwhile) — nothing left to stop.
      const s = dockerStatus(err);
      if (s !== 304 && !(s === 409 && action !== 'restart')) throw err;
    }
  }

  /** Removes a service (stopping it first). @throws {BrokerError} 404 when not the caller's */
  async remove(owner: string, idOrName: string): Promise<ServiceView> {
    const info = await this.#find(owner, idOrName);
    await this.#docker.getContainer(info.Id).remove({ force: true, v: true });
    if ((info.Config.Labels?.[LABEL_NETWORK] ?? 'none') !== 'none') await this.#dropOwnerNetworksIfUnused(owner);
    return { ...toView(info), state: 'removed' };
  }

  /** Returns the last `tail` lines of stdout and stderr, demultiplexed, at most `LOG_BYTES_MAX` of each. */
  async logs(owner: string, idOrName: string, tail: number): Promise<{ stdout: string; stderr: string }> {
    const info = await this.#find(owner, idOrName);
    return readLogTail(this.#docker.getContainer(info.Id), tail);
  }
}
