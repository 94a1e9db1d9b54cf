/**
 * When a failed run is reported as `memory_limit` (spec/wasi.md#W5). The status is in the result
 * hash, so the rule is versioned by the run's ABI level (spec/wasi.md#W6): a replay applies the
 * rule its bundle was recorded under.
 */

/** From this ABI level a failure after a refused `memory.grow` is `memory_limit`, whatever the size asked. */
export const GROW_REFUSED_LEVEL = 3;

const PAGE = 65536;

export interface MemoryAtEnd {
  /** The instance's flag: the limit refused one of its `memory.grow`s (instrumenter `markRefusedGrow`). */
  growRefused: boolean;
  /** The guest's memory, if it has one. */
  memory: WebAssembly.Memory | undefined;
  /** Pages the memory may reach. */
  limitPages: number;
}

/**
 * Whether a run that failed (trapped, or exited non-zero) failed on its memory limit. Below
 * {@link GROW_REFUSED_LEVEL}: its memory sat at the limit, which misses a large allocation the
 * limit refused while the memory was still below it (1 MiB blocks came out `trapped`, 4 KiB
 * blocks `memory_limit`).
 */
export function failedOnMemoryLimit(level: number, m: MemoryAtEnd): boolean {
  if (level >= GROW_REFUSED_LEVEL) return m.growRefused;
  return m.memory !== undefined && m.limitPages > 0 && m.memory.buffer.byteLength >= m.limitPages * PAGE;
}
