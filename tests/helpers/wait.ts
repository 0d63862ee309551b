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
