/**
 * What a signal source reads (raw counters) and what the evaluator sees (derived signals). Raw
 * counters are cumulative or instantaneous as the kernel gives them; `deriveSignals` turns two
 * consecutive samples into rates and percentages of the service's own limits.
 *
 * | signal | meaning | needs |
 * |---|---|---|
 * | `pids` | tasks in the service's cgroup | pids controller |
 * | `pids_per_sec` | growth of `pids` since the previous sample, per second | two samples |
 * | `pids_pct` | `pids` as % of the PID limit | pids limit |
 * | `memory` | working set (usage − inactive file) as % of the memory limit | memory controller |
 * | `memory_bytes` | working set in bytes | memory controller |
 * | `cpu` | CPU time used since the previous sample as % of the CPU limit (cores) | cpu accounting, two samples |
 * | `<cpu\|memory\|io>.pressure.<some\|full>.<avg10\|avg60\|avg300>` | PSI averages, % | cgroup v2 PSI of the service's own cgroup |
 * | `<cpu\|memory\|io>.pressure.<some\|full>.total` | stall time since the previous sample as % of the elapsed time (from the `total` delta) | PSI, two samples |
 */
import type { Psi } from './psi.ts';

/** Where a sample came from. */
export type SampleSource = 'cgroup-v2' | 'cgroup-v1' | 'docker-stats' | 'fixture';

/** One reading of a service's counters. Absent fields: the host does not expose them. */
export interface RawSample {
  /** Milliseconds on the breaker's clock when read. */
  at: number;
  source: SampleSource;
  pids?: number;
  pidsLimit?: number;
  memoryUsage?: number;
  /** Subtracted from usage for the working set (cgroup v2 `inactive_file`, v1 `total_inactive_file`). */
  memoryInactiveFile?: number;
  memoryLimit?: number;
  /** Cumulative CPU time, nanoseconds. */
  cpuUsageNs?: number;
  /** CPU limit in cores (quota / period); absent when unlimited. */
  cpuLimitCores?: number;
  psi: { cpu?: Psi; memory?: Psi; io?: Psi };
}

/** PSI resources, kinds and fields, for the signal names. */
export const PSI_RESOURCES = ['cpu', 'memory', 'io'] as const;
export const PSI_KINDS = ['some', 'full'] as const;
export const PSI_FIELDS = ['avg10', 'avg60', 'avg300', 'total'] as const;

/** Every signal name a rule may use; `percent` ones accept a `%` suffix on the threshold. */
export const SIGNALS: ReadonlyMap<string, { percent: boolean }> = /* @__PURE__ */ (() => {
  const m = new Map<string, { percent: boolean }>([
    ['pids', { percent: false }],
    ['pids_per_sec', { percent: false }],
    ['pids_pct', { percent: true }],
    ['memory', { percent: true }],
    ['memory_bytes', { percent: false }],
    ['cpu', { percent: true }],
  ]);
  for (const r of PSI_RESOURCES)
    for (const k of PSI_KINDS) for (const f of PSI_FIELDS) m.set(`${r}.pressure.${k}.${f}`, { percent: true });
  return m;
})();

/** Derived signal values by name; a missing name means "not available on this host". */
export type Signals = Record<string, number>;

/** An unlimited cgroup v1 memory limit is reported as a page-rounded 2^63 − 1. */
const UNLIMITED = 2 ** 60;

/**
 * Derives signals from the current sample and the previous one (rates need both).
 * @param cur - the newest sample
 * @param prev - the previous sample of the same service, if any
 * @param hostCores - cores to measure CPU against when the service has no CPU limit
 * @returns the signals this pair supports
 * @example
 * deriveSignals({ at: 2000, source: 'fixture', pids: 60, psi: {} }, { at: 1000, source: 'fixture', pids: 10, psi: {} }, 2).pids_per_sec === 50
 */
export function deriveSignals(cur: RawSample, prev: RawSample | undefined, hostCores: number): Signals {
  const s: Signals = {};
  const dtMs = prev === undefined ? 0 : cur.at - prev.at;
  if (cur.pids !== undefined) {
    s.pids = cur.pids;
    if (cur.pidsLimit !== undefined && cur.pidsLimit > 0) s.pids_pct = (100 * cur.pids) / cur.pidsLimit;
    if (prev?.pids !== undefined && dtMs > 0) s.pids_per_sec = ((cur.pids - prev.pids) * 1000) / dtMs;
  }
  if (cur.memoryUsage !== undefined) {
    const ws = Math.max(0, cur.memoryUsage - (cur.memoryInactiveFile ?? 0));
    s.memory_bytes = ws;
    if (cur.memoryLimit !== undefined && cur.memoryLimit > 0 && cur.memoryLimit < UNLIMITED)
      s.memory = (100 * ws) / cur.memoryLimit;
  }
  if (cur.cpuUsageNs !== undefined && prev?.cpuUsageNs !== undefined && dtMs > 0 && cur.cpuUsageNs >= prev.cpuUsageNs) {
    const cores = cur.cpuLimitCores ?? hostCores;
    s.cpu = (100 * (cur.cpuUsageNs - prev.cpuUsageNs)) / (dtMs * 1e6 * cores);
  }
  for (const r of PSI_RESOURCES) {
    const p = cur.psi[r];
    if (p === undefined) continue;
    const pp = prev?.psi[r];
    for (const k of PSI_KINDS) {
      const line = p[k];
      if (line === undefined) continue;
      const base = `${r}.pressure.${k}`;
      s[`${base}.avg10`] = line.avg10;
      s[`${base}.avg60`] = line.avg60;
      s[`${base}.avg300`] = line.avg300;
      const pl = pp?.[k];
      // total is in microseconds: delta µs / (dt ms × 1000) × 100 = % of the interval stalled.
      if (pl !== undefined && dtMs > 0 && line.total >= pl.total)
        s[`${base}.total`] = (line.total - pl.total) / (dtMs * 10);
    }
  }
  return s;
}
