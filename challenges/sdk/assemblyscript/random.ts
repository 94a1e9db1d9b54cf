// Seeded randomness: WASI random_get, a ChaCha20 stream from the manifest's seed (spec/wasi.md).
import { random_get } from "./wasi";

/** Fills a new buffer with `n` bytes from the run's seeded stream. */
export function randomBytes(n: i32): Uint8Array {
  const out = new Uint8Array(n);
  if (n > 0) random_get(out.dataStart, n);
  return out;
}

/**
 * A fast generator seeded once from the run's stream (one host call), for challenges that need many
 * numbers: xoshiro128** (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c).
 */
export class Rng {
  private s0: u32;
  private s1: u32;
  private s2: u32;
  private s3: u32;

  constructor() {
    const seed = randomBytes(16);
    const p = seed.dataStart;
    this.s0 = load<u32>(p) | 1;
    this.s1 = load<u32>(p, 4);
    this.s2 = load<u32>(p, 8);
    this.s3 = load<u32>(p, 12);
  }

  nextU32(): u32 {
    const result = rotl<u32>(this.s1 * 5, 7) * 9;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl<u32>(this.s3, 11);
    return result;
  }

  /** Uniform in [0, bound) (bound > 0), without modulo bias. */
  below(bound: u32): u32 {
    const limit: u32 = (<u32>0 - bound) % bound;
    while (true) {
      const r = this.nextU32();
      if (r >= limit) return r % bound;
    }
  }
}
