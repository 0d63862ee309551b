import { Counter, Gauge, type Registry } from 'prom-client'
import type { ReadCache } from './read-cache.js'

/**
 * The read cache's Prometheus metrics on `registry`, read from the cache at each scrape: hits, misses and
 * bypassed reads, answers evicted (by reason: a write to a table they read, the size bound, the TTL), and
 * the answers kept now with their serialised size.
 */
export function registerReadCacheMetrics(registry: Registry, cache: ReadCache): void {
  const registers = [registry]
  // Counters follow the cache's own counts: each scrape adds what happened since the previous one.
  const counter = (name: string, help: string, read: () => number) => {
    let reported = 0
    return new Counter({
      name,
      help,
      registers,
      collect() {
        const now = read()
        if (now > reported) this.inc(now - reported)
        reported = now
      },
    })
  }
  counter('sightline_read_cache_hits_total', 'Cacheable GraphQL reads answered from the read cache', () => cache.stats.hits)
  counter('sightline_read_cache_misses_total', 'Cacheable GraphQL reads computed by the store (then kept unless a write crossed them)', () => cache.stats.misses)
  counter(
    'sightline_read_cache_bypassed_total',
    'Cacheable GraphQL reads run without the cache (its poll late or failing, or a write being checked)',
    () => cache.stats.bypassed,
  )
  const reported = { write: 0, size: 0, expired: 0 }
  new Counter({
    name: 'sightline_read_cache_evictions_total',
    help: 'Answers dropped from the read cache, by reason (write: a table they read changed; size; expired: TTL)',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      for (const reason of ['write', 'size', 'expired'] as const) {
        const now = cache.stats.evictions[reason]
        if (now > reported[reason]) this.inc({ reason }, now - reported[reason])
        reported[reason] = now
      }
    },
  })
  new Gauge({
    name: 'sightline_read_cache_entries',
    help: 'Answers kept in the read cache',
    registers,
    collect() {
      this.set(cache.size.entries)
    },
  })
  new Gauge({
    name: 'sightline_read_cache_bytes',
    help: 'Serialised (JSON) size of the answers kept in the read cache',
    registers,
    collect() {
      this.set(cache.size.bytes)
    },
  })
}
