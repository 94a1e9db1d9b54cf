/**
 * Per-principal request rate limit: a token bucket per authenticated principal. A bucket holds at
 * most `burst` tokens, refills at `perSecond`, and each request takes one; an empty bucket refuses
 * the request (429 `DL_ERR_BROKER_RATE_LIMITED`) before any handler reaches Docker. Buckets exist
 * only for configured principals, so their number is bounded by the config.
 *
 * Written here rather than taken from `@fastify/rate-limit`: the limit keys on the principal the
 * broker's own authentication found (not an address: the socket is a Unix socket), and refusals
 * must go through the broker's error and audit path like every other refusal.
 */

/** The `rateLimit:` config. */
export interface RateLimitConfig {
  /** Default true. */
  enabled: boolean;
  /** Requests a principal may make at once after being idle. Default 60. */
  burst: number;
  /** Sustained requests per second per principal. Default 10. */
  perSecond: number;
}

/** What `take` answers. */
export type RateVerdict = { ok: true } | { ok: false; retryAfterMs: number };

/** One bucket per key, refilled lazily from the clock. */
export class TokenBuckets {
  readonly config: RateLimitConfig;
  #now: () => number;
  #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(config: RateLimitConfig, now: () => number = Date.now) {
    this.config = config;
    this.#now = now;
  }

  /** Takes one token from `key`'s bucket, or says how long until one is there. */
  take(key: string): RateVerdict {
    if (!this.config.enabled) return { ok: true };
    const now = this.#now();
    const b = this.#buckets.get(key) ?? { tokens: this.config.burst, at: now };
    // A clock that steps back refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - b.at) / 1000;
    b.tokens = Math.min(this.config.burst, b.tokens + elapsed * this.config.perSecond);
    b.at = now;
    this.#buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - b.tokens) / this.config.perSecond) * 1000) };
  }
}
