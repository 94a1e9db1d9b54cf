/**
 * Docker's stats API (`GET /containers/{id}/stats?stream=1`) as a fallback source where the
 * service's cgroup files are not readable. The stream is a sequence of JSON objects, usually one
 * per line, but a chunk may carry several objects or end in the middle of one, so it is split by
 * tracking object depth outside strings, never by chunk or newline.
 */
import type { Readable } from 'node:stream';
import type { RawSample } from './sample.ts';

/** Largest object the splitter buffers; a longer one is dropped (a stats object is ~2 KiB). */
const MAX_OBJECT_BYTES = 1 << 20;

/**
 * Splits a byte stream of concatenated JSON objects into objects.
 * @example
 * const p = new JsonObjectSplitter();
 * p.push('{"a":1}{"b"'); p.push(':2}\n'); // → [{a:1}], then [{b:2}]
 */
export class JsonObjectSplitter {
  #buf = '';
  #depth = 0;
  #inString = false;
  #escape = false;
  /** Objects dropped because they did not parse or were too long. */
  dropped = 0;

  /**
   * Feeds a chunk.
   * @param chunk - the next bytes (decoded as UTF-8 by the caller, or a string)
   * @returns the complete objects the chunk finished, in order
   */
  push(chunk: string): unknown[] {
    const out: unknown[] = [];
    let start = this.#depth > 0 ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk.charCodeAt(i);
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (ch === 0x5c) this.#escape = true;
        else if (ch === 0x22) this.#inString = false;
        continue;
      }
      if (ch === 0x22 && this.#depth > 0) this.#inString = true;
      else if (ch === 0x7b) {
        if (this.#depth === 0) start = i;
        this.#depth++;
      } else if (ch === 0x7d && this.#depth > 0) {
        this.#depth--;
        if (this.#depth === 0) {
          const text = this.#buf + chunk.slice(start, i + 1);
          this.#buf = '';
          start = -1;
          try {
            out.push(JSON.parse(text));
          } catch {
            this.dropped++;
          }
        }
      }
    }
    if (this.#depth > 0) {
      this.#buf += chunk.slice(Math.max(start, 0));
      if (this.#buf.length > MAX_OBJECT_BYTES) {
        this.#buf = '';
        this.#depth = 0;
        this.#inString = false;
        this.#escape = false;
        this.dropped++;
      }
    }
    return out;
  }
}

/** The parts of a Docker stats object the breaker reads (cgroup v1 and v2 engines). */
interface DockerStats {
  pids_stats?: { current?: number; limit?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
}

/**
 * Turns one stats object into a sample.
 * @param obj - a decoded stats object
 * @param at - breaker clock time of its arrival
 * @param cpuLimitCores - the container's CPU limit (stats do not carry it), if any
 */
export function sampleFromDockerStats(obj: unknown, at: number, cpuLimitCores: number | undefined): RawSample {
  const st = (typeof obj === 'object' && obj !== null ? obj : {}) as DockerStats;
  const s: RawSample = { at, source: 'docker-stats', psi: {} };
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const pids = num(st.pids_stats?.current);
  if (pids !== undefined) s.pids = pids;
  const pl = num(st.pids_stats?.limit);
  if (pl !== undefined && pl > 0) s.pidsLimit = pl;
  const usage = num(st.memory_stats?.usage);
  if (usage !== undefined) s.memoryUsage = usage;
  const ml = num(st.memory_stats?.limit);
  if (ml !== undefined) s.memoryLimit = ml;
  // Working set as `docker stats` computes it: v1 total_inactive_file, v2 inactive_file.
  const inactive = num(st.memory_stats?.stats?.total_inactive_file) ?? num(st.memory_stats?.stats?.inactive_file);
  if (inactive !== undefined) s.memoryInactiveFile = inactive;
  const cpu = num(st.cpu_stats?.cpu_usage?.total_usage);
  if (cpu !== undefined) s.cpuUsageNs = cpu;
  if (cpuLimitCores !== undefined) s.cpuLimitCores = cpuLimitCores;
  return s;
}

/** Opens a container's stats stream. */
export type OpenStatsStream = (id: string) => Promise<Readable>;

/**
 * Keeps one stats stream per watched container and hands out the newest sample. Docker produces
 * one object per second per stream, whatever the breaker's interval.
 */
export class DockerStatsSource {
  #open: OpenStatsStream;
  #now: () => number;
  #streams = new Map<
    string,
    { stream: Readable | undefined; latest: RawSample | undefined; cores: number | undefined; closed: boolean }
  >();

  constructor(open: OpenStatsStream, now: () => number) {
    this.#open = open;
    this.#now = now;
  }

  /**
   * The newest sample of a container, opening its stream on first use.
   * @returns undefined until the first object arrives
   */
  latest(id: string, cpuLimitCores: number | undefined): RawSample | undefined {
    let entry = this.#streams.get(id);
    if (entry === undefined) {
      const e = {
        stream: undefined as Readable | undefined,
        latest: undefined as RawSample | undefined,
        cores: cpuLimitCores,
        closed: false,
      };
      entry = e;
      this.#streams.set(id, e);
      const splitter = new JsonObjectSplitter();
      this.#open(id).then(
        (stream) => {
          if (e.closed) {
            stream.destroy();
            return;
          }
          e.stream = stream;
          stream.setEncoding('utf8');
          stream.on('data', (chunk: string) => {
            const objs = splitter.push(chunk);
            if (objs.length > 0) e.latest = sampleFromDockerStats(objs[objs.length - 1], this.#now(), e.cores);
          });
          const drop = (): void => {
            if (this.#streams.get(id) === e) this.#streams.delete(id);
          };
          stream.on('error', drop);
          stream.on('end', drop);
        },
        () => {
          if (this.#streams.get(id) === e) this.#streams.delete(id);
        },
      );
    }
    return entry.latest;
  }

  /** Stops watching a container. */
  forget(id: string): void {
    const e = this.#streams.get(id);
    if (e === undefined) return;
    e.closed = true;
    e.stream?.destroy();
    this.#streams.delete(id);
  }

  /** Closes every stream. */
  close(): void {
    for (const id of [...this.#streams.keys()]) this.forget(id);
  }
}
