/**
 * Reads a service's counters straight from its cgroup (kernel `Documentation/admin-guide/cgroup-v2.rst`,
 * and `cgroup-v1/{memory,pids,cpuacct}.rst` for hosts still on v1).
 *
 * Finding the cgroup. Under gVisor the container's processes are the sandbox's (runsc-sandbox and
 * the gofer), and Docker reports the sandbox's PID as the container's `State.Pid`; runsc puts them
 * in the container's cgroup, so `/proc/<State.Pid>/cgroup` names it:
 *
 * | host | `/proc/<pid>/cgroup` | directory read |
 * |---|---|---|
 * | cgroup v2, cgroupfs driver | `0::/docker/<id>` | `/sys/fs/cgroup/docker/<id>` |
 * | cgroup v2, systemd driver | `0::/system.slice/docker-<id>.scope` | `/sys/fs/cgroup/system.slice/docker-<id>.scope` |
 * | cgroup v1 (or hybrid), cgroupfs | `4:memory:/docker/<id>`, … | `/sys/fs/cgroup/<controller>/docker/<id>` |
 *
 * When the PID is unknown the default locations above are tried. A cgroup path is only accepted
 * when it names the container ID: a hybrid host leaves the sandbox at `0::/` of the unified
 * hierarchy, and the root's pressure is the whole host's, never one service's.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { parsePsi } from './psi.ts';
import type { Psi } from './psi.ts';
import type { RawSample } from './sample.ts';

/** Reads a text file, or undefined when it does not exist or cannot be read. */
export type ReadText = (path: string) => Promise<string | undefined>;

/**
 * Reads cgroup files through descriptors kept open and re-read at offset 0 (`pread`): the kernel
 * regenerates a cgroup file on every read from offset 0, and this avoids an open/fstat/close per
 * file per sample (the breaker reads ~5 files per service per interval). The reads are
 * synchronous: cgroup files are generated in memory and never block on a device. A descriptor
 * whose cgroup is gone fails (ENODEV) and is closed.
 */
class FdCache {
  #fds = new Map<string, number>();
  #buf = Buffer.allocUnsafe(64 * 1024);

  read(path: string): string | undefined {
    let fd = this.#fds.get(path);
    try {
      if (fd === undefined) {
        fd = openSync(path, 'r');
        this.#fds.set(path, fd);
      }
      const n = readSync(fd, this.#buf, 0, this.#buf.length, 0);
      return this.#buf.toString('utf8', 0, n);
    } catch {
      this.close(path);
      return undefined;
    }
  }

  close(path: string): void {
    const fd = this.#fds.get(path);
    if (fd === undefined) return;
    this.#fds.delete(path);
    try {
      closeSync(fd);
    } catch {
      // already gone
    }
  }

  /** Closes every descriptor under a directory. */
  closeUnder(dir: string): void {
    for (const p of [...this.#fds.keys()]) if (p.startsWith(dir + '/')) this.close(p);
  }

  closeAll(): void {
    for (const p of [...this.#fds.keys()]) this.close(p);
  }
}

/** Where one container's cgroup files are. */
export type CgroupLocation =
  | { version: 2; dir: string }
  | {
      version: 1;
      pids?: string;
      memory?: string;
      cpuacct?: string;
      cpu?: string /** v2 directory for PSI on a hybrid host. */;
      unified?: string;
    };

/** Options of the cgroup reader; tests point both roots at fixture trees. */
export interface CgroupReaderOptions {
  /** Default `/sys/fs/cgroup`. */
  cgroupRoot?: string;
  /** Default `/proc`. */
  procRoot?: string;
  readText?: ReadText;
}

const V1_CONTROLLERS = ['pids', 'memory', 'cpuacct', 'cpu'] as const;

function int(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return /^[0-9]+$/.test(t) ? Number(t) : undefined;
}

function statField(text: string | undefined, key: string): number | undefined {
  if (text === undefined) return undefined;
  // Keys are matched at line starts: "inactive_file" must not match "total_inactive_file".
  const at = text.startsWith(`${key} `) ? 0 : text.indexOf(`\n${key} `) + 1;
  if (at === 0 && !text.startsWith(`${key} `)) return undefined;
  const end = text.indexOf('\n', at);
  const v = text.slice(at + key.length + 1, end === -1 ? undefined : end);
  return /^[0-9]+$/.test(v) ? Number(v) : undefined;
}

/** Reads counters from cgroup files; locations are found once per container and cached. */
export class CgroupReader {
  #root: string;
  #proc: string;
  #read: ReadText;
  #v2: boolean | undefined;
  #fds: FdCache | undefined;
  /** Limits change rarely: read once per location, refreshed every `LIMITS_TTL_MS`. */
  #limits = new Map<CgroupLocation, { at: number; pidsLimit?: number; memoryLimit?: number; cpuLimitCores?: number }>();

  constructor(opts: CgroupReaderOptions = {}) {
    this.#root = opts.cgroupRoot ?? '/sys/fs/cgroup';
    this.#proc = opts.procRoot ?? '/proc';
    if (opts.readText !== undefined) this.#read = opts.readText;
    else {
      const fds = new FdCache();
      this.#fds = fds;
      this.#read = async (path) => fds.read(path);
    }
  }

  /** Closes the descriptors kept for a location (its container is gone or no longer watched). */
  release(loc: CgroupLocation): void {
    this.#limits.delete(loc);
    if (this.#fds === undefined) return;
    const dirs = loc.version === 2 ? [loc.dir] : [loc.pids, loc.memory, loc.cpuacct, loc.cpu, loc.unified];
    for (const d of dirs) if (d !== undefined) this.#fds.closeUnder(d);
  }

  /** Closes every descriptor. */
  close(): void {
    this.#limits.clear();
    this.#fds?.closeAll();
  }

  async #isV2(): Promise<boolean> {
    this.#v2 ??= (await this.#read(join(this.#root, 'cgroup.controllers'))) !== undefined;
    return this.#v2;
  }

  /**
   * Finds a container's cgroup.
   * @param id - the full container ID
   * @param pid - the container's `State.Pid` (under runsc: the sandbox process), if known
   * @returns where its files are, or undefined when this host exposes no cgroup for it
   */
  async locate(id: string, pid?: number): Promise<CgroupLocation | undefined> {
    const v2 = await this.#isV2();
    const paths = new Map<string, string>();
    if (pid !== undefined && pid > 0) {
      const text = await this.#read(join(this.#proc, String(pid), 'cgroup'));
      for (const line of text?.split('\n') ?? []) {
        const m = /^([0-9]+):([^:]*):(.*)$/.exec(line);
        if (m === null || !m[3]!.includes(id)) continue;
        if (m[1] === '0' && m[2] === '') paths.set('', m[3]!);
        for (const c of m[2]!.split(',')) if (c !== '') paths.set(c, m[3]!);
      }
    }
    if (v2) {
      const rel = paths.get('');
      const candidates = rel !== undefined ? [rel] : [`/docker/${id}`, `/system.slice/docker-${id}.scope`];
      for (const c of candidates) {
        const dir = join(this.#root, c);
        if ((await this.#read(join(dir, 'cgroup.procs'))) !== undefined) return { version: 2, dir };
      }
      return undefined;
    }
    const loc: CgroupLocation = { version: 1 };
    for (const c of V1_CONTROLLERS) {
      const rel = paths.get(c);
      const candidates = rel !== undefined ? [rel] : [`/docker/${id}`, `/system.slice/docker-${id}.scope`];
      for (const cand of candidates) {
        // Controllers may be co-mounted (cpu,cpuacct); try the single name, then the pair.
        for (const mount of [c, 'cpu,cpuacct']) {
          const dir = join(this.#root, mount, cand);
          if (loc[c] === undefined && (await this.#read(join(dir, 'cgroup.procs'))) !== undefined) loc[c] = dir;
        }
      }
    }
    const unifiedRel = paths.get('') ?? `/docker/${id}`;
    const unified = join(this.#root, 'unified', unifiedRel);
    if ((await this.#read(join(unified, 'cgroup.procs'))) !== undefined) loc.unified = unified;
    if (loc.pids === undefined && loc.memory === undefined && loc.cpuacct === undefined) return undefined;
    return loc;
  }

  async #psi(dir: string | undefined): Promise<{ cpu?: Psi; memory?: Psi; io?: Psi }> {
    if (dir === undefined) return {};
    const [cpu, memory, io] = await Promise.all(
      ['cpu', 'memory', 'io'].map((r) => this.#read(join(dir, `${r}.pressure`))),
    );
    const out: { cpu?: Psi; memory?: Psi; io?: Psi } = {};
    const c = cpu === undefined ? undefined : parsePsi(cpu);
    const m = memory === undefined ? undefined : parsePsi(memory);
    const i = io === undefined ? undefined : parsePsi(io);
    if (c !== undefined) out.cpu = c;
    if (m !== undefined) out.memory = m;
    if (i !== undefined) out.io = i;
    return out;
  }

  /**
   * Reads only the task count (`pids.current`, one `pread`): the fast sampler's reading.
   * @param loc - from `locate`
   * @returns the count, or undefined when the host has no pids controller for it or it is gone
   */
  async readPids(loc: CgroupLocation): Promise<number | undefined> {
    const dir = loc.version === 2 ? loc.dir : loc.pids;
    if (dir === undefined) return undefined;
    const text = await this.#read(join(dir, 'pids.current'));
    if (text === undefined) return undefined;
    const n = Number.parseInt(text, 10);
    return Number.isFinite(n) ? n : undefined;
  }

  /**
   * Reads a full sample.
   * @param loc - from `locate`
   * @param at - the breaker's clock time to stamp the sample with
   * @returns the sample, or undefined when the cgroup is gone (container stopped or removed)
   */
  async read(loc: CgroupLocation, at: number): Promise<RawSample | undefined> {
    const lim = this.#limits.get(loc);
    const fresh = lim !== undefined && at - lim.at < LIMITS_TTL_MS && at >= lim.at;
    if (loc.version === 2) {
      const d = loc.dir;
      const [pids, memCur, memStat, cpuStat, psi] = await Promise.all([
        this.#read(join(d, 'pids.current')),
        this.#read(join(d, 'memory.current')),
        this.#read(join(d, 'memory.stat')),
        this.#read(join(d, 'cpu.stat')),
        this.#psi(d),
      ]);
      if (pids === undefined && memCur === undefined && cpuStat === undefined) return undefined;
      const s: RawSample = { at, source: 'cgroup-v2', psi };
      assign(s, 'pids', int(pids));
      assign(s, 'memoryUsage', int(memCur));
      assign(s, 'memoryInactiveFile', statField(memStat, 'inactive_file'));
      const usec = statField(cpuStat, 'usage_usec');
      if (usec !== undefined) s.cpuUsageNs = usec * 1000;
      let l = fresh ? lim : undefined;
      if (l === undefined) {
        const [pidsMax, memMax, cpuMax] = await Promise.all([
          this.#read(join(d, 'pids.max')),
          this.#read(join(d, 'memory.max')),
          this.#read(join(d, 'cpu.max')),
        ]);
        l = { at };
        assignLimit(l, 'pidsLimit', int(pidsMax));
        assignLimit(l, 'memoryLimit', int(memMax));
        const q = /^([0-9]+) ([0-9]+)$/.exec(cpuMax?.trim() ?? '');
        if (q !== null && Number(q[2]) > 0) l.cpuLimitCores = Number(q[1]) / Number(q[2]);
        this.#limits.set(loc, l);
      }
      applyLimits(s, l);
      return s;
    }
    const [pids, memUsage, memStat, cpuUsage, psi] = await Promise.all([
      loc.pids === undefined ? undefined : this.#read(join(loc.pids, 'pids.current')),
      loc.memory === undefined ? undefined : this.#read(join(loc.memory, 'memory.usage_in_bytes')),
      loc.memory === undefined ? undefined : this.#read(join(loc.memory, 'memory.stat')),
      loc.cpuacct === undefined ? undefined : this.#read(join(loc.cpuacct, 'cpuacct.usage')),
      this.#psi(loc.unified),
    ]);
    if (pids === undefined && memUsage === undefined && cpuUsage === undefined) return undefined;
    const s: RawSample = { at, source: 'cgroup-v1', psi };
    assign(s, 'pids', int(pids));
    assign(s, 'memoryUsage', int(memUsage));
    assign(s, 'memoryInactiveFile', statField(memStat, 'total_inactive_file'));
    assign(s, 'cpuUsageNs', int(cpuUsage));
    let l = fresh ? lim : undefined;
    if (l === undefined) {
      const [pidsMax, memLimit, quota, period] = await Promise.all([
        loc.pids === undefined ? undefined : this.#read(join(loc.pids, 'pids.max')),
        loc.memory === undefined ? undefined : this.#read(join(loc.memory, 'memory.limit_in_bytes')),
        loc.cpu === undefined ? undefined : this.#read(join(loc.cpu, 'cpu.cfs_quota_us')),
        loc.cpu === undefined ? undefined : this.#read(join(loc.cpu, 'cpu.cfs_period_us')),
      ]);
      l = { at };
      assignLimit(l, 'pidsLimit', int(pidsMax));
      assignLimit(l, 'memoryLimit', int(memLimit));
      const qv = int(quota);
      const pv = int(period);
      // cfs_quota_us is -1 (not matched by int) when unlimited.
      if (qv !== undefined && pv !== undefined && pv > 0) l.cpuLimitCores = qv / pv;
      this.#limits.set(loc, l);
    }
    applyLimits(s, l);
    return s;
  }
}

/** How long cached limits are trusted (Docker can update limits of a running container). */
const LIMITS_TTL_MS = 30_000;

type Limits = { at: number; pidsLimit?: number; memoryLimit?: number; cpuLimitCores?: number };

function assignLimit(l: Limits, key: 'pidsLimit' | 'memoryLimit', v: number | undefined): void {
  if (v !== undefined) l[key] = v;
}

function applyLimits(s: RawSample, l: Limits): void {
  if (l.pidsLimit !== undefined) s.pidsLimit = l.pidsLimit;
  if (l.memoryLimit !== undefined) s.memoryLimit = l.memoryLimit;
  if (l.cpuLimitCores !== undefined) s.cpuLimitCores = l.cpuLimitCores;
}

function assign<K extends 'pids' | 'pidsLimit' | 'memoryUsage' | 'memoryLimit' | 'memoryInactiveFile' | 'cpuUsageNs'>(
  s: RawSample,
  key: K,
  v: number | undefined,
): void {
  if (v !== undefined) s[key] = v;
}
