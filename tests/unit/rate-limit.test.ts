import { describe, expect, it } from 'vitest'
import { RateLimiter, type RateDecision } from '../../src/auth/rate-limit.js'

/** A limiter on a clock the test moves by hand. */
function limiter(rate: number, burst: number) {
  let now = 10_000
  const l = new RateLimiter(rate, burst, () => now)
  return {
    l,
    advance: (ms: number) => {
      now += ms
    },
  }
}

const allowed = (d: RateDecision) => d.allowed
const retryAfter = (d: RateDecision) => (d.allowed ? 0 : d.retryAfterMs)

describe('RateLimiter (token bucket per key)', () => {
  it('allows a burst, then refuses with the time until the next token', () => {
    const { l } = limiter(5, 5)
    for (let i = 0; i < 5; i++) expect(allowed(l.take('a')), `request ${i}`).toBe(true)
    const refused = l.take('a')
    expect(refused.allowed).toBe(false)
    // 5/s: one token every 200 ms, and the bucket is empty.
    expect(retryAfter(refused)).toBe(200)
  })

  it('refills at the rate, never above the burst', () => {
    const { l, advance } = limiter(5, 5)
    for (let i = 0; i < 5; i++) l.take('a')
    advance(100)
    const early = l.take('a')
    expect(early.allowed).toBe(false)
    expect(retryAfter(early)).toBe(100)
    advance(100)
    expect(allowed(l.take('a'))).toBe(true)
    expect(allowed(l.take('a'))).toBe(false)
    advance(60_000) // a long idle refills to the burst, not to 300,000 tokens
    for (let i = 0; i < 5; i++) expect(allowed(l.take('a'))).toBe(true)
    expect(allowed(l.take('a'))).toBe(false)
  })

  it('the retry hint is honest: waiting exactly that long is enough', () => {
    const { l, advance } = limiter(3, 2)
    l.take('a')
    l.take('a')
    for (let i = 0; i < 20; i++) {
      const d = l.take('a')
      expect(d.allowed).toBe(false)
      advance(retryAfter(d))
      expect(allowed(l.take('a')), `round ${i}`).toBe(true)
    }
  })

  it('keeps one bucket per key: one token over its limit does not slow another', () => {
    const { l } = limiter(1, 2)
    expect(allowed(l.take('a'))).toBe(true)
    expect(allowed(l.take('a'))).toBe(true)
    expect(allowed(l.take('a'))).toBe(false)
    expect(allowed(l.take('b'))).toBe(true)
    expect(allowed(l.take('b'))).toBe(true)
    expect(allowed(l.take('b'))).toBe(false)
  })

  it('with rate 0 is off: everything is allowed and nothing is kept', () => {
    const { l } = limiter(0, 1)
    expect(l.enabled).toBe(false)
    for (let i = 0; i < 10_000; i++) expect(allowed(l.take(`k${i % 7}`))).toBe(true)
    expect(l.size).toBe(0)
  })

  it('supports fractional rates (one request every 2 s)', () => {
    const { l, advance } = limiter(0.5, 1)
    expect(allowed(l.take('a'))).toBe(true)
    const d = l.take('a')
    expect(retryAfter(d)).toBe(2000)
    advance(1999)
    expect(allowed(l.take('a'))).toBe(false)
    advance(1)
    expect(allowed(l.take('a'))).toBe(true)
  })

  it('forgets idle buckets, so memory follows the active keys only', () => {
    const { l, advance } = limiter(10, 10)
    for (let i = 0; i < 5000; i++) l.take(`key${i}`)
    expect(l.size).toBe(5000)
    // Long enough for every bucket to refill; the next take sweeps them.
    advance(2000)
    l.take('active')
    expect(l.size).toBe(1)
  })

  it('keeps buckets that are still refilling, so a sweep cannot reset a limit', () => {
    const { l, advance } = limiter(1, 5)
    for (let i = 0; i < 5; i++) l.take('busy')
    expect(l.take('busy').allowed).toBe(false)
    // Past the sweep interval (5 s refill) but busy keeps asking: its bucket never fills up.
    for (let t = 0; t < 12; t++) {
      advance(1000)
      expect(allowed(l.take('busy')), `second ${t}`).toBe(true)
      expect(allowed(l.take('busy'))).toBe(false)
    }
    expect(l.size).toBe(1)
  })

  it('costs little per decision, so it is never the bottleneck (200,000 decisions over 1,000 keys)', () => {
    const l = new RateLimiter(1000, 2000)
    const keys = Array.from({ length: 1000 }, (_, i) => `token-${i}`)
    const started = performance.now()
    for (let i = 0; i < 200_000; i++) l.take(keys[i % 1000]!)
    // Typically ~30 ms; the bound only catches an accidental O(keys) per request.
    expect(performance.now() - started).toBeLessThan(2000)
  })

  it('sweeps at most once per refill period (the per-request cost stays a map lookup)', () => {
    const { l, advance } = limiter(100, 100)
    for (let i = 0; i < 1000; i++) l.take(`k${i}`)
    advance(999)
    l.take('x')
    // 999 ms after the first take: under the 1 s minimum sweep interval, nothing swept yet.
    expect(l.size).toBe(1001)
    advance(2)
    l.take('x')
    expect(l.size).toBe(1)
  })
})
