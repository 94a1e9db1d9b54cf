/**
 * The breaker's connections to the world, each behind a small interface so the unit tests feed
 * recorded sequences instead: which services to watch (`Inventory`), how to read their counters
 * (`SignalSource`) and how to act (`Actuator`). The Docker-backed implementations live here.
 */
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { LABEL_MANAGED, LABEL_OWNER, LABEL_SERVICE, managedFilter } from '../labels.ts';
import type { ServiceManager } from '../services.ts';
import type { SignalSourceKind } from './config.ts';
import { CgroupReader } from './signals/cgroup.ts';
import type { CgroupLocation } from './signals/cgroup.ts';
import { DockerStatsSource } from './signals/docker-stats.ts';
import type { RawSample } from './signals/sample.ts';
import type { BreakerAction } from './rules.ts';

/** A running service the breaker watches. */
export interface WatchedService {
  /** Full container ID. */
  id: string;
  name: string;
  owner: string;
  /** Carries the broker's managed label and an owner: the only containers it may act on. */
  owned: boolean;
  /** The managed label's value as read from the container's inspect document. */
  managed?: string;
  /** When it (re)started, on the breaker's clock (ms). */
  startedAt: number;
  /** Docker's `State.Pid` (under runsc: the sandbox process). */
  pid?: number;
  /** CPU limit in cores, from the container's `NanoCpus`. */
  cpuLimitCores?: number;
}

/** Lists the services to watch. */
export interface Inventory {
  list(): Promise<WatchedService[]>;
  /** Drops cached facts about a container (after a restart its start time changes). */
  invalidate(id: string): void;
}

/** Reads one service's counters. */
export interface SignalSource {
  /** @returns the newest sample, or undefined when none is available (yet) */
  read(svc: WatchedService, now: number): Promise<RawSample | undefined>;
  /**
   * Reads only the task count, cheaply, when this source can (a cgroup it already located);
   * undefined otherwise (the fast sampler then leaves the service to the full samples).
   */
  readPids?(svc: WatchedService, now: number): Promise<RawSample | undefined>;
  /** Which source serves a service (for reports), once known. */
  kind(id: string): string | undefined;
  forget(id: string): void;
  close(): void;
}

/** Acts on a service. */
export interface Actuator {
  act(svc: WatchedService, action: BreakerAction): Promise<void>;
}

/** How often cached inspect facts are refreshed (a restart through the API changes StartedAt). */
const REINSPECT_MS = 10_000;

/** Running containers with this broker instance's label, listed through the Docker API. */
export class DockerInventory implements Inventory {
  #docker: Docker;
  #now: () => number;
  #instance: string;
  #cache = new Map<string, { svc: WatchedService; at: number }>();

  /** @param instance - the broker's instance id: another instance's containers are never watched */
  constructor(docker: Docker, now: () => number, instance: string) {
    this.#docker = docker;
    this.#now = now;
    this.#instance = instance;
  }

  async list(): Promise<WatchedService[]> {
    const running = await this.#docker.listContainers({
      all: false,
      filters: { label: [managedFilter(this.#instance)], status: ['running'] },
    });
    const now = this.#now();
    const seen = new Set<string>();
    const out: WatchedService[] = [];
    for (const c of running) {
      seen.add(c.Id);
      let hit = this.#cache.get(c.Id);
      if (hit === undefined || now - hit.at >= REINSPECT_MS) {
        try {
          const info = await this.#docker.getContainer(c.Id).inspect();
          const labels = info.Config.Labels ?? {};
          const owner = labels[LABEL_OWNER] ?? '';
          const started = Date.parse(info.State.StartedAt);
          const svc: WatchedService = {
            id: info.Id,
            name: labels[LABEL_SERVICE] ?? '',
            owner,
            // Our own check on the inspected document; the label filter above is the engine's.
            owned: labels[LABEL_MANAGED] === this.#instance && owner !== '',
            managed: labels[LABEL_MANAGED] ?? '',
            startedAt: Number.isFinite(started) ? started : now,
          };
          if (info.State.Pid > 0) svc.pid = info.State.Pid;
          if ((info.HostConfig.NanoCpus ?? 0) > 0) svc.cpuLimitCores = info.HostConfig.NanoCpus! / 1e9;
          hit = { svc, at: now };
          this.#cache.set(c.Id, hit);
        } catch {
          continue; // gone between list and inspect
        }
      }
      out.push(hit.svc);
    }
    for (const id of [...this.#cache.keys()]) if (!seen.has(id)) this.#cache.delete(id);
    return out;
  }

  invalidate(id: string): void {
    this.#cache.delete(id);
  }
}

/**
 * `auto`: the service's cgroup files when this host exposes them, else Docker's stats stream;
 * `cgroup` or `docker-stats` force one.
 */
export class HostSignalSource implements SignalSource {
  #kind: SignalSourceKind;
  #cgroup: CgroupReader;
  #stats: DockerStatsSource;
  #where = new Map<string, CgroupLocation | 'stats' | 'none'>();

  constructor(opts: {
    kind: SignalSourceKind;
    cgroupRoot: string;
    procRoot?: string;
    openStats: (id: string) => Promise<Readable>;
    now: () => number;
  }) {
    this.#kind = opts.kind;
    this.#cgroup = new CgroupReader({
      cgroupRoot: opts.cgroupRoot,
      ...(opts.procRoot !== undefined ? { procRoot: opts.procRoot } : {}),
    });
    this.#stats = new DockerStatsSource(opts.openStats, opts.now);
  }

  async read(svc: WatchedService, now: number): Promise<RawSample | undefined> {
    let where = this.#where.get(svc.id);
    if (where === undefined) {
      where =
        this.#kind === 'docker-stats'
          ? 'stats'
          : ((await this.#cgroup.locate(svc.id, svc.pid)) ?? (this.#kind === 'auto' ? 'stats' : 'none'));
      this.#where.set(svc.id, where);
    }
    if (where === 'none') return undefined;
    if (where === 'stats') return this.#stats.latest(svc.id, svc.cpuLimitCores);
    const s = await this.#cgroup.read(where, now);
    if (s === undefined) {
      // gone: locate again next time (restart)
      this.#cgroup.release(where);
      this.#where.delete(svc.id);
    } else if (s.cpuLimitCores === undefined && svc.cpuLimitCores !== undefined) s.cpuLimitCores = svc.cpuLimitCores;
    return s;
  }

  async readPids(svc: WatchedService, now: number): Promise<RawSample | undefined> {
    const where = this.#where.get(svc.id);
    if (where === undefined || where === 'none' || where === 'stats') return undefined;
    const pids = await this.#cgroup.readPids(where);
    return pids === undefined
      ? undefined
      : { at: now, source: where.version === 2 ? 'cgroup-v2' : 'cgroup-v1', pids, psi: {} };
  }

  kind(id: string): string | undefined {
    const w = this.#where.get(id);
    if (w === undefined || w === 'none') return w;
    if (w === 'stats') return 'docker-stats';
    return w.version === 2 ? 'cgroup-v2' : w.unified !== undefined ? 'cgroup-v1+unified' : 'cgroup-v1';
  }

  forget(id: string): void {
    const w = this.#where.get(id);
    if (w !== undefined && w !== 'stats' && w !== 'none') this.#cgroup.release(w);
    this.#where.delete(id);
    this.#stats.forget(id);
  }

  close(): void {
    this.#stats.close();
    this.#cgroup.close();
  }
}

/** Acts through the broker's ServiceManager, which re-checks ownership on the inspected container. */
export class ServiceActuator implements Actuator {
  #services: Pick<ServiceManager, 'enforce'>;

  constructor(services: Pick<ServiceManager, 'enforce'>) {
    this.#services = services;
  }

  async act(svc: WatchedService, action: BreakerAction): Promise<void> {
    // The inventory read the labels from this container's inspect document; enforce re-checks them.
    await this.#services.enforce(
      svc.owner,
      svc.id,
      action,
      svc.managed !== undefined ? { inspected: { owner: svc.owner, managed: svc.managed } } : {},
    );
  }
}

/** Cores to measure CPU use against when a service has no CPU limit. */
export function hostCores(): number {
  return availableParallelism();
}
