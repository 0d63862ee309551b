import { looksLikeJwt } from './jwt.js'
import { RateLimiter } from './rate-limit.js'

/** Characters of a secret that name its "prefix" for the per-prefix failure limit. */
const PREFIX_LENGTH = 12

/**
 * The part of a secret failures are counted under: its first characters, or for a JWT the start of
 * its signature (every JWT starts with the same header).
 */
export function secretPrefix(secret: string): string {
  if (looksLikeJwt(secret)) return `jwt:${secret.slice(secret.lastIndexOf('.') + 1, secret.lastIndexOf('.') + 1 + PREFIX_LENGTH)}`
  return secret.slice(0, PREFIX_LENGTH)
}

/** What the limiter says of an authentication attempt before it is tried. */
export type AttemptDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number; readonly by: 'address' | 'prefix' }

/**
 * Failed authentications per client address and per secret prefix: token buckets that only failures
 * drain (`perMinute` refilled per minute, `burst` at once). An address or prefix that has used them up
 * is refused before its secret is even looked up, so guessing costs the guesser time and the store
 * nothing. Memory follows the keys that failed recently (full buckets are forgotten).
 */
export class AuthFailureLimiter {
  private readonly byAddress: RateLimiter
  private readonly byPrefix: RateLimiter

  constructor(
    perMinute: number,
    burst: number,
    now: () => number = () => performance.now(),
  ) {
    this.byAddress = new RateLimiter(perMinute / 60, burst, now)
    this.byPrefix = new RateLimiter(perMinute / 60, burst, now)
  }

  get enabled(): boolean {
    return this.byAddress.enabled
  }

  /** Whether an attempt from `address` with `secret` may be tried at all. */
  check(address: string, secret: string): AttemptDecision {
    const a = this.byAddress.peek(address)
    if (!a.allowed) return { allowed: false, retryAfterMs: a.retryAfterMs, by: 'address' }
    const p = this.byPrefix.peek(secretPrefix(secret))
    if (!p.allowed) return { allowed: false, retryAfterMs: p.retryAfterMs, by: 'prefix' }
    return { allowed: true }
  }

  /** Counts a failed attempt. */
  fail(address: string, secret: string): void {
    this.byAddress.take(address)
    this.byPrefix.take(secretPrefix(secret))
  }

  /** Keys held (addresses and prefixes with recent failures). */
  get size(): number {
    return this.byAddress.size + this.byPrefix.size
  }
}
