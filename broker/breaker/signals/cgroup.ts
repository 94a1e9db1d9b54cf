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
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePsi } from './psi.ts';
import type { Psi } from './psi.ts';
import type { RawSample } from './sample.ts';

/** Reads a text file, or undefined when it does not exist or cannot be read. */
export type ReadText = (path: string) => Promise<string | undefined>;

const defaultRead: ReadText = (path) => readFile(path, 'utf8').then(
  (t) => t,
  () => undefined,
);

/** Where one container's cgroup files are. */
export type CgroupLocation =
  | { version: 2; dir: string }
  | { version: 1; pids?: string; memory?: string; cpuacct?: string; cpu?: string; /** v2 directory for PSI on a hybrid host. */ unified?: string };

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
  const m = new RegExp(`^${key} ([0-9]+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** Reads counters from cgroup files; locations are found once per container and cached. */
export class CgroupReader {
  #root: string;
  #proc: string;
  #read: ReadText;
  #v2: boolean | undefined;

  constructor(opts: CgroupReaderOptions = {}) {
    this.#root = opts.cgroupRoot ?? '/sys/fs/cgroup';
    this.#proc = opts.procRoot ?? '/proc';
    this.#read = opts.readText ?? defaultRead;
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
    const [cpu, memory, io] = await Promise.all(['cpu', 'memory', 'io'].map((r) => this.#read(join(dir, `${r}.pressure`))));
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
   * Reads one sample.
   * @param loc - from `locate`
   * @param at - the breaker clock's time of the reading
   * @returns the sample, or undefined when the cgroup is gone (container stopped or removed)
   */
  async read(loc: CgroupLocation, at: number): Promise<RawSample | undefined> {
    if (loc.version === 2) {
      const d = loc.dir;
      const [pids, pidsMax, memCur, memMax, memStat, cpuStat, cpuMax, psi] = await Promise.all([
        this.#read(join(d, 'pids.current')),
        this.#read(join(d, 'pids.max')),
        this.#read(join(d, 'memory.current')),
        this.#read(join(d, 'memory.max')),
        this.#read(join(d, 'memory.stat')),
        this.#read(join(d, 'cpu.stat')),
        this.#read(join(d, 'cpu.max')),
        this.#psi(d),
      ]);
      if (pids === undefined && memCur === undefined && cpuStat === undefined) return undefined;
      const s: RawSample = { at, source: 'cgroup-v2', psi };
      assign(s, 'pids', int(pids));
      assign(s, 'pidsLimit', int(pidsMax));
      assign(s, 'memoryUsage', int(memCur));
      assign(s, 'memoryLimit', int(memMax));
      assign(s, 'memoryInactiveFile', statField(memStat, 'inactive_file'));
      const usec = statField(cpuStat, 'usage_usec');
      if (usec !== undefined) s.cpuUsageNs = usec * 1000;
      const q = /^([0-9]+) ([0-9]+)$/.exec(cpuMax?.trim() ?? '');
      if (q !== null && Number(q[2]) > 0) s.cpuLimitCores = Number(q[1]) / Number(q[2]);
      return s;
    }
    const [pids, pidsMax, memUsage, memLimit, memStat, cpuUsage, quota, period, psi] = await Promise.all([
      loc.pids === undefined ? undefined : this.#read(join(loc.pids, 'pids.current')),
      loc.pids === undefined ? undefined : this.#read(join(loc.pids, 'pids.max')),
      loc.memory === undefined ? undefined : this.#read(join(loc.memory, 'memory.usage_in_bytes')),
      loc.memory === undefined ? undefined : this.#read(join(loc.memory, 'memory.limit_in_bytes')),
      loc.memory === undefined ? undefined : this.#read(join(loc.memory, 'memory.stat')),
      loc.cpuacct === undefined ? undefined : this.#read(join(loc.cpuacct, 'cpuacct.usage')),
      loc.cpu === undefined ? undefined : this.#read(join(loc.cpu, 'cpu.cfs_quota_us')),
      loc.cpu === undefined ? undefined : this.#read(join(loc.cpu, 'cpu.cfs_period_us')),
      this.#psi(loc.unified),
    ]);
    if (pids === undefined && memUsage === undefined && cpuUsage === undefined) return undefined;
    const s: RawSample = { at, source: 'cgroup-v1', psi };
    assign(s, 'pids', int(pids));
    assign(s, 'pidsLimit', int(pidsMax));
    assign(s, 'memoryUsage', int(memUsage));
    assign(s, 'memoryLimit', int(memLimit));
    assign(s, 'memoryInactiveFile', statField(memStat, 'total_inactive_file'));
    assign(s, 'cpuUsageNs', int(cpuUsage));
    const qv = int(quota);
    const pv = int(period);
    // cfs_quota_us is -1 (not matched by int) when unlimited.
    if (qv !== undefined && pv !== undefined && pv > 0) s.cpuLimitCores = qv / pv;
    return s;
  }
}

function assign<K extends 'pids' | 'pidsLimit' | 'memoryUsage' | 'memoryLimit' | 'memoryInactiveFile' | 'cpuUsageNs'>(s: RawSample, key: K, v: number | undefined): void {
  if (v !== undefined) s[key] = v;
}
