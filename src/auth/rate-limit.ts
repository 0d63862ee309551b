/** The answer of one `take`: allowed, or refused with when to retry. */
export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number }

interface Bucket {
  tokens: number
  updated: number
  rate: number
  burst: number
}

/** A key's own rate, overriding the limiter's (a Tinybird JWT's `limits.rps`). */
export interface KeyRate {
  readonly rate: number
  readonly burst: number
}

/** Tinybird's X-RateLimit-* headers: the burst, what is left of it, seconds until it is full again. */
export interface RateState {
  readonly limit: number
  readonly remaining: number
  readonly resetSeconds: number
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
  peek(key: string, own?: KeyRate): RateDecision {
    const rate = own?.rate ?? this.rate
    if (rate <= 0) return { allowed: true }
    const bucket = this.buckets.get(key)
    if (!bucket) return { allowed: true }
    const tokens = Math.min(bucket.burst, bucket.tokens + ((this.now() - bucket.updated) / 1000) * bucket.rate)
    if (tokens >= 1) return { allowed: true }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - tokens) / bucket.rate) * 1000) }
  }

  take(key: string, own?: KeyRate): RateDecision {
    const rate = own?.rate ?? this.rate
    if (rate <= 0) return { allowed: true }
    const bucket = this.refill(key, own)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return { allowed: true }
    }
    return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) / rate) * 1000) }
  }

  /** Where a key stands, without taking anything; undefined when no limit applies to it. */
  state(key: string, own?: KeyRate): RateState | undefined {
    const rate = own?.rate ?? this.rate
    if (rate <= 0) return undefined
    const bucket = this.refill(key, own)
    return { limit: bucket.burst, remaining: Math.floor(bucket.tokens), resetSeconds: Math.ceil((bucket.burst - bucket.tokens) / rate) }
  }

  private refill(key: string, own: KeyRate | undefined): Bucket {
    const now = this.now()
    this.sweep(now)
    const rate = own?.rate ?? this.rate
    const burst = own?.burst ?? this.burst
    const bucket = this.buckets.get(key) ?? { tokens: burst, updated: now, rate, burst }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updated) / 1000) * rate)
    bucket.updated = now
    bucket.rate = rate
    bucket.burst = burst
    this.buckets.set(key, bucket)
    return bucket
  }

  /** Drops, at most once per refill period, the buckets that are full again. */
  private sweep(now: number): void {
    const refillMs = this.rate > 0 ? (this.burst / this.rate) * 1000 : 0
    if (now - this.lastSweep < Math.max(refillMs, 1000)) return
    this.lastSweep = now
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updated) / 1000) * bucket.rate >= bucket.burst) this.buckets.delete(key)
    }
  }
}
