import type { StockFeed } from '../../src/live/stock-feed.js'

/**
 * Resolves once the feed's subscriber count satisfies `ok`: checked now, then at each change the feed
 * reports (no polling). Rejects after `ms`, saying what it saw.
 */
export function subscribers(feed: Pick<StockFeed, 'subscriberCount' | 'watchSubscribers'>, ok: (count: number) => boolean, ms = 60_000): Promise<void> {
  if (ok(feed.subscriberCount)) return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    const stop = feed.watchSubscribers((count) => {
      if (!ok(count)) return
      clearTimeout(timer)
      stop()
      resolve()
    })
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`the feed's subscriber count is still ${feed.subscriberCount} after ${ms} ms`))
    }, ms)
  })
}

/**
 * Something a test watches changing (updates arriving, sockets closing, the feed's subscriber count):
 * whoever changes it calls `notify()`, and `until` re-checks its condition then, never on a timer.
 */
export class Changes {
  private readonly checks = new Set<() => void>()

  notify = (): void => {
    for (const check of this.checks) check()
  }

  /** Resolves once `condition` holds (checked now and at each `notify`); rejects after `ms`, naming `what`. */
  until(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
    if (condition()) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!condition()) return
        this.checks.delete(check)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        this.checks.delete(check)
        reject(new Error(`timed out waiting for ${what}`))
      }, ms)
      this.checks.add(check)
    })
  }
}
