/**
 * The virtual clock (spec: spec/wasi.md#W2). Time starts at the manifest's instant and moves only
 * when the guest looks at it (each read advances it by `step`) or sleeps (`poll_oneoff` jumps to
 * the deadline). It never consults the host's clock, so every node reads the same times.
 */
export class VirtualClock {
  readonly start: bigint;
  readonly step: bigint;
  /** Nanoseconds elapsed since the start. */
  elapsed = 0n;

  constructor(start: bigint, step: bigint) {
    this.start = start;
    this.step = step;
  }

  /** Reads clock `id` (0 realtime, 1 monotonic, 2/3 cpu time) and advances; `undefined` for an unknown id. */
  read(id: number): bigint | undefined {
    if (id < 0 || id > 3) return undefined;
    const now = id === 0 ? this.start + this.elapsed : this.elapsed;
    this.elapsed += this.step;
    return now;
  }

  /** The value `read(id)` would return now, without advancing. */
  peek(id: number): bigint {
    return id === 0 ? this.start + this.elapsed : this.elapsed;
  }

  /** Sleeps: moves time forward to at least `elapsed + ns`. */
  advance(ns: bigint): void {
    if (ns > 0n) this.elapsed += ns;
  }
}
