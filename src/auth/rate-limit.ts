/** The answer of one `take`: allowed, or refused with when to retry. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number }

interface Bucket {
  tokens: number
  updated: number
}

/**
 * A token bucket per key (a token's name): `rate` requests per second on average, up to `burst` at
 * once. One map lookup and a little arithmetic per request, so it never becomes the bottleneck;
 * buckets that have refilled completely are forgotten, so memory follows the active keys only.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private lastSweep = 0

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get enabled(): boolean {
    return this.rate > 0
  }

  /** Buckets held: keys seen within about one refill period. */
  get size(): number {
    return this.buckets.size
  }

  /** What `take` would answer, without taking. */
  peek(key: string): RateDecision {
    if (this.rate <= 0) return { allowed: true }
    const bucket = this.buckets.get(key)
    if (!bucket) return { allowed: true }
    const tokens = Math.min(this.burst, bucket.tokens + ((this.now() - bucket.updated) / 1000) * this.rate)
    if (tokens >= 1) return { allowed: true }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - tokens) / this.rate) * 1000) }
  }

  take(key: string): RateDecision {
    if (this.rate <= 0) return { allowed: true }
    const now = this.now()
    this.sweep(now)
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updated: now }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updated) / 1000) * this.rate)
    bucket.updated = now
    this.buckets.set(key, bucket)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { allowed: true }
    }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) / this.rate) * 1000) }
  }

  /** Drops, at most once per refill period, the buckets that are full again. */
  private sweep(now: number): void {
    const refillMs = (this.burst / this.rate) * 1000
    if (now - this.lastSweep < Math.max(refillMs, 1000)) return
    this.lastSweep = now
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updated) / 1000) * this.rate >= this.burst) this.buckets.delete(key)
    }
  }
}
