import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { StockFeed, type StockUpdate } from '../../src/live/stock-feed.js'
import type { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import type { Store } from '../../src/store/store.js'
import { uid } from '../helpers/factories.js'
import { openTestStore } from '../helpers/store.js'
import { Changes } from '../helpers/wait.js'

/** Every update a reader takes notifies it; generous, since the machine may be busy. */
const changes = new Changes()
const until = (condition: () => boolean, what: string, ms = 15_000) => changes.until(condition, what, ms)

/** Reads an iterator in the background, as a subscriber that keeps up. */
function read(updates: AsyncIterableIterator<StockUpdate>) {
  const got: StockUpdate[] = []
  const done = (async () => {
    for await (const u of updates) {
      got.push(u)
      changes.notify()
    }
  })()
  return { got, done }
}

/** The next `n` updates of a subscriber that has them waiting. */
async function take(updates: AsyncIterableIterator<StockUpdate>, n: number): Promise<StockUpdate[]> {
  const out: StockUpdate[] = []
  for (let i = 0; i < n; i++) {
    const r = await updates.next()
    if (r.done) throw new Error(`the subscription ended after ${i} of ${n} updates`)
    out.push(r.value)
  }
  return out
}

const brief = (u: StockUpdate) => ({ product: u.product, available: u.available, delta: u.delta })

describe('StockFeed on the real store', () => {
  let store: ClickHouseStore
  const feeds: StockFeed[] = []

  beforeAll(async () => {
    store = await openTestStore()
  })
  afterAll(async () => {
    for (const f of feeds) f.close()
    await store?.close()
  })

  /** A feed that polls only when nudged, so every poll is one the test asked for. */
  const feedOf = (queueLimit: number, over: { pollMs?: number; store?: Store; levelsMaxAgeMs?: number } = {}) => {
    const feed = new StockFeed(over.store ?? store, { pollMs: over.pollMs ?? 3_600_000, lowStockThreshold: 100, queueLimit, levelsMaxAgeMs: over.levelsMaxAgeMs })
    feeds.push(feed)
    return feed
  }

  /** A direct write plus the nudge a gateway write would give; resolves once the feed has delivered. */
  const write = async (feed: StockFeed, product: string, amount: number) => {
    await store.ingestWarehouseStock([{ product, store: 'main', amount, timestamp: new Date() }])
    await feed.nudge()
  }

  it('a subscriber that never reads holds up no one, stays within its limit and then gets the latest per product', async () => {
    const limit = 4
    const feed = feedOf(limit)
    const products = [uid('p'), uid('p'), uid('p')]
    const reader = read(await feed.subscribe({}))
    const stalled = await feed.subscribe({})

    const stock = new Map(products.map((p) => [p, 0]))
    const seen = new Map(products.map((p) => [p, new Set<number>()]))
    const expected: Array<ReturnType<typeof brief>> = []
    // 30 writes, interleaving the products unevenly.
    for (let i = 0; i < 30; i++) {
      const product = products[[0, 0, 1, 2, 1, 0, 2, 2, 1, 0][i % 10]!]!
      const amount = i + 1
      await write(feed, product, amount)
      stock.set(product, stock.get(product)! + amount)
      seen.get(product)!.add(stock.get(product)!)
      expected.push({ product, available: stock.get(product)!, delta: amount })
      // The reader has this write before the next one is made: the stalled subscriber holds up nothing.
      await until(() => reader.got.length === expected.length, `update ${i + 1} at the reader`)
      expect(feed.backlog).toBeLessThanOrEqual(limit)
    }
    expect(reader.got.map(brief)).toEqual(expected)
    expect(reader.got.map((u) => u.status)).toEqual(expected.map((e) => (e.available > 100 ? 'IN_STOCK' : 'LOW_STOCK')))
    const times = reader.got.map((u) => u.at.getTime())
    expect(times).toEqual([...times].sort((a, b) => a - b))
    expect(feed.backlog).toBe(limit)

    // The stalled subscriber reads at last: at most `limit` updates, each a stock level that existed,
    // rising per product (every amount is positive), ending at today's stock, deltas adding up to it.
    const late = await take(stalled, limit)
    expect(feed.backlog).toBe(0)
    for (const p of products) {
      const mine = late.filter((u) => u.product === p)
      expect(mine.length).toBeGreaterThan(0)
      for (const u of mine) expect(seen.get(p)!.has(u.available)).toBe(true)
      const levels = mine.map((u) => u.available)
      expect(levels).toEqual([...levels].sort((a, b) => a - b))
      expect(new Set(levels).size).toBe(levels.length)
      expect(levels.at(-1)).toBe(stock.get(p))
      expect(mine.reduce((sum, u) => sum + u.delta, 0)).toBe(stock.get(p))
    }

    // Caught up, it is live again: the next write reaches both at once.
    await write(feed, products[1]!, 5)
    const [next] = await take(stalled, 1)
    expect(brief(next!)).toEqual({ product: products[1], available: stock.get(products[1]!)! + 5, delta: 5 })
    await until(() => reader.got.length === expected.length + 1, 'the last update at the reader')
    expect(brief(reader.got.at(-1)!)).toEqual(brief(next!))

    await stalled.return?.()
    expect(feed.subscriberCount).toBe(1)
    feed.close()
    await reader.done
    expect(feed.subscriberCount).toBe(0)
  })

  it('merges into the latest waiting update of a product, never an earlier one', async () => {
    const feed = feedOf(3)
    const [a, b] = [uid('a'), uid('b')]
    const slow = await feed.subscribe({})
    await write(feed, a, 1)
    await write(feed, a, 2)
    await write(feed, b, 3) // full: a@1, a@3, b@3
    await write(feed, a, 4) // merges into a@3, not into a@1 (which would put a@7 before a@3)
    await write(feed, b, 5)
    expect(feed.backlog).toBe(3)
    expect((await take(slow, 3)).map(brief)).toEqual([
      { product: a, available: 1, delta: 1 },
      { product: a, available: 7, delta: 6 },
      { product: b, available: 8, delta: 8 },
    ])
    await slow.return?.()
  })

  it('makes room for a new product by merging each product into its latest update', async () => {
    const feed = feedOf(3)
    const [a, b, c] = [uid('a'), uid('b'), uid('c')]
    const slow = await feed.subscribe({})
    await write(feed, a, 1)
    await write(feed, a, 2)
    await write(feed, a, 3) // full of a
    await write(feed, b, 4) // a@1, a@3, a@6 become a@6 (delta 6); b@4 joins
    await write(feed, c, 5)
    await write(feed, a, 6) // merges into a@6
    expect(feed.backlog).toBe(3)
    expect((await take(slow, 3)).map(brief)).toEqual([
      { product: a, available: 12, delta: 12 },
      { product: b, available: 4, delta: 4 },
      { product: c, available: 5, delta: 5 },
    ])
    await slow.return?.()
  })

  it('keeps one update per product when more products than the limit are waiting: none is lost', async () => {
    const limit = 2
    const feed = feedOf(limit)
    const products = Array.from({ length: 5 }, () => uid('p'))
    const slow = await feed.subscribe({})
    for (let round = 1; round <= 3; round++) {
      for (const p of products) {
        await write(feed, p, round)
        expect(feed.backlog).toBeLessThanOrEqual(products.length)
      }
    }
    expect(feed.backlog).toBe(products.length)
    expect((await take(slow, products.length)).map(brief)).toEqual(products.map((product) => ({ product, available: 6, delta: 6 })))
    await slow.return?.()
  })

  it('delivers only what each filter asks for, to a slow and a fast subscriber alike', async () => {
    const feed = feedOf(1000)
    const cat = uid('cat')
    const [p1, p2, p3] = [uid('p'), uid('p'), uid('p')]
    await store.upsertProducts([
      { id: p1, category: cat, name: 'one', photo: '', price: 1 },
      { id: p2, category: cat, name: 'two', photo: '', price: 1 },
      { id: p3, category: uid('other'), name: 'three', photo: '', price: 1 },
    ])
    const filters = [{}, { products: [p1] }, { category: cat }, { products: [p2, p3], category: cat }, { category: 'all' }, { products: [uid('none')] }]
    const subs = await Promise.all(filters.map((f) => feed.subscribe(f)))
    const writes: Array<[string, number]> = [[p1, 1], [p3, 2], [p2, 3], [p1, 4], [p3, 5], [p2, 6]]
    for (const [p, n] of writes) await write(feed, p, n)
    const want = (ps: string[]) => writes.filter(([p]) => ps.includes(p)).map(([p]) => p)
    const expected = [want([p1, p2, p3]), want([p1]), want([p1, p2]), want([p2]), want([p1, p2, p3]), []]
    for (const [i, sub] of subs.entries()) {
      expect((await take(sub, expected[i]!.length)).map((u) => u.product)).toEqual(expected[i])
      await sub.return?.()
    }
    expect(feed.subscriberCount).toBe(0)
  })

  it('sends a new subscriber no change made before the poller started, however old', async () => {
    const overlapMs = 1000
    const feed = new StockFeed(store, { pollMs: 3_600_000, lowStockThreshold: 100, overlapMs })
    feeds.push(feed)
    const before = uid('before')
    await store.ingestWarehouseStock([{ product: before, store: 'main', amount: 1, timestamp: new Date() }])
    // Older than one overlap but within the window a poll looks back over.
    await new Promise((r) => setTimeout(r, overlapMs + 100))
    const sub = read(await feed.subscribe({}))
    const after = uid('after')
    await write(feed, after, 2)
    await until(() => sub.got.length > 0, 'the new change')
    await feed.nudge()
    expect(sub.got.map(brief)).toEqual([{ product: after, available: 2, delta: 2 }])
    feed.close()
    await sub.done
  })

  it('lets the next subscriber start the poller again after a start that failed', async () => {
    let down = true
    // The real store, with its change log unreachable until `down` turns false.
    const flaky = new Proxy(store, {
      get(target, key) {
        if (key === 'stockChangesSince' && down) return () => Promise.reject(new Error('store down'))
        const value: unknown = Reflect.get(target, key, target)
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
      },
    })
    const feed = feedOf(1000, { store: flaky, pollMs: 50 })
    await expect(feed.subscribe({})).rejects.toThrow('store down')
    expect(feed.subscriberCount).toBe(0)
    down = false
    const sub = await feed.subscribe({})
    const product = uid('p')
    // No nudge: only a running poller can deliver this.
    await store.ingestWarehouseStock([{ product, store: 'direct', amount: 3, timestamp: new Date() }])
    const [u] = await take(sub, 1)
    expect(brief(u!)).toEqual({ product, available: 3, delta: 3 })
    await sub.return?.()
  })

  it("keeps each product's stock as the store has it through nudged and polled writes, a re-read of the levels, a truncate and a delete", async () => {
    // Re-read every 300 ms: some writes are taken with levels just read, others with levels advanced.
    const feed = feedOf(1000, { pollMs: 40, levelsMaxAgeMs: 300 })
    const [a, b, c] = [uid('a'), uid('b'), uid('c')]
    // Stock from before the feed started: the levels it reads at start.
    await store.ingestWarehouseStock([{ product: a, store: 'main', amount: 40, timestamp: new Date() }])
    const sub = read(await feed.subscribe({}))
    const ours = () => sub.got.filter((u) => [a, b, c].includes(u.product))
    const stock = new Map([[a, 40], [b, 0], [c, 0]])
    const expected: Array<ReturnType<typeof brief>> = []
    const steps: Array<[string, number, 'nudged' | 'polled']> = [
      [a, 5, 'nudged'], [b, 7, 'polled'], [a, -1, 'polled'], [c, 3, 'nudged'], [b, -1, 'nudged'],
      [a, 2, 'polled'], [c, -1, 'polled'], [b, 11, 'nudged'], [a, -1, 'nudged'], [c, 6, 'polled'],
    ]
    for (const [i, [product, delta, how]] of steps.entries()) {
      // A delta of -1 is a sale, any other a stock movement; a polled write is found by the poller alone.
      if (delta === -1) await store.ingestEcommEvents([{ event: 'sale', product, timestamp: new Date() }])
      else await store.ingestWarehouseStock([{ product, store: 'main', amount: delta, timestamp: new Date() }])
      if (how === 'nudged') await feed.nudge()
      else await until(() => ours().length > expected.length, `polled write ${i}`)
      stock.set(product, stock.get(product)! + delta)
      expected.push({ product, available: stock.get(product)!, delta })
      if (i === 4) await new Promise((r) => setTimeout(r, 350)) // the levels are read again
    }
    await until(() => ours().length >= expected.length, 'every write')
    expect(ours().map(brief)).toEqual(expected)
    const inStore = new Map((await store.stock([a, b, c])).map((s) => [s.product, s.available]))
    const inFeed = feed.stockLevels()
    for (const p of [a, b, c]) {
      expect(inStore.get(p)).toBe(stock.get(p))
      expect(inFeed.get(p) ?? 0).toBe(inStore.get(p))
    }

    // A truncate of the stock logs every level's reset; the levels are read again at once.
    const levels = await store.datasources.stockLevels()
    await store.datasources.truncate('mv_latest_availability')
    await store.datasources.logStockChanges(levels.map((l) => ({ product: l.product, delta: -l.delta })))
    await feed.resync()
    expect([a, b, c].map((p) => feed.stockLevels().get(p) ?? 0)).toEqual([0, 0, 0])
    await until(() => ours().length >= expected.length + 3, 'the resets')
    // One insert logs the resets, in no particular order between products.
    const resets = ours().slice(expected.length).map(brief)
    expect(resets.sort((x, y) => x.product.localeCompare(y.product))).toEqual(
      [a, b, c].sort().map((p) => ({ product: p, available: 0, delta: -stock.get(p)! })),
    )

    // A delete moves a level without a logged change: after `resync`, the next change counts from the store's level.
    await store.ingestWarehouseStock([{ product: a, store: 'main', amount: 9, timestamp: new Date() }])
    await feed.nudge()
    await store.datasources.delete('mv_latest_availability', 'product = {p:String}', { p: a })
    await feed.resync()
    await store.ingestWarehouseStock([{ product: a, store: 'main', amount: 2, timestamp: new Date() }])
    await feed.nudge()
    await until(() => ours().length >= expected.length + 5, 'the changes after the delete')
    const [after] = await store.stock([a])
    expect(after?.available ?? 0).toBe(2)
    expect(ours().slice(-2).map(brief)).toEqual([
      { product: a, available: 9, delta: 9 },
      { product: a, available: 2, delta: 2 },
    ])
    expect(feed.stockLevels().get(a)).toBe(2)
    feed.close()
    await sub.done
  })

  it('sends a stored write at once and once: whether the log shows it before or after, across a re-read of the levels, in parts', async () => {
    const feed = feedOf(1000)
    const [a, b] = [uid('a'), uid('b')]
    const sub = read(await feed.subscribe({}))
    const ours = () => sub.got.filter((u) => [a, b].includes(u.product)).map(brief)
    const restock = (product: string, amount: number, timestamp = new Date(), key?: string) =>
      store.ingestWarehouseStock([{ product, store: 'main', amount, timestamp }], key === undefined ? { withWriteId: true } : { idempotencyKey: key })

    // Sent with no read of the log; the log's read then takes it unsent.
    const first = await restock(a, 5)
    expect(first.writeId).toMatch(/^w[0-9a-f]{16}$/)
    await feed.stored(first.writeId, first.stockChanges)
    await until(() => ours().length === 1, 'the stored write, sent')
    expect(ours()).toEqual([{ product: a, available: 5, delta: 5 }])
    await feed.nudge()
    // The log read before the write is sent (its rows found first): sent by the read, not again after.
    const sale = await store.ingestEcommEvents([{ event: 'sale', product: a, timestamp: new Date() }], { withWriteId: true })
    expect(sale.writeId).toMatch(/^w/)
    // Not asked for (nobody subscribed), an unkeyed write has none: the feed reads the log for it.
    expect((await store.ingestEcommEvents([{ event: 'sale', product: uid('c'), timestamp: new Date() }])).writeId).toBeUndefined()
    await feed.nudge()
    await feed.stored(sale.writeId, sale.stockChanges)
    // Sent, then the levels read again before the log shows it: the level still counts it once.
    const other = await restock(b, 7)
    await feed.stored(other.writeId, other.stockChanges)
    await feed.resync()
    await feed.nudge()
    // A keyed batch over two months: two changes in the log (one per slice), one update sent.
    const key = uid('key')
    const lastMonth = new Date(Date.now() - 35 * 86_400_000)
    const both = await store.ingestWarehouseStock(
      [{ product: a, store: 'main', amount: 3, timestamp: lastMonth }, { product: a, store: 'main', amount: 2, timestamp: new Date() }],
      { idempotencyKey: key },
    )
    expect((await store.stockChangesSince(new Date(Date.now() - 60_000))).filter((c) => c.write === both.writeId)).toHaveLength(2)
    await feed.stored(both.writeId, both.stockChanges)
    await feed.nudge()
    // Without an id (a retry that completed an earlier attempt), the log is read for it.
    await restock(b, 4)
    await feed.stored(undefined, [{ product: b, delta: 4 }])
    await until(() => ours().length === 5, 'five updates')
    await feed.nudge()
    expect(ours()).toEqual([
      { product: a, available: 5, delta: 5 },
      { product: a, available: 4, delta: -1 },
      { product: b, available: 7, delta: 7 },
      { product: a, available: 9, delta: 5 },
      { product: b, available: 11, delta: 4 },
    ])
    const inStore = new Map((await store.stock([a, b])).map((s) => [s.product, s.available]))
    expect([inStore.get(a), inStore.get(b)]).toEqual([9, 11])
    expect([feed.stockLevels().get(a), feed.stockLevels().get(b)]).toEqual([9, 11])
    feed.close()
    await sub.done
  })

  it('ends every subscription on close, waiting or not, and refuses new ones', async () => {
    const feed = feedOf(1000)
    const idle = await feed.subscribe({})
    const backlogged = await feed.subscribe({})
    const pending = idle.next()
    await write(feed, uid('p'), 1)
    await expect(pending).resolves.toMatchObject({ done: false })
    const waiting = idle.next()
    feed.close()
    await expect(waiting).resolves.toEqual({ value: undefined, done: true })
    await expect(backlogged.next()).resolves.toEqual({ value: undefined, done: true })
    expect(feed.subscriberCount).toBe(0)
    await expect(feed.subscribe({})).rejects.toThrow('closed')
  })
})
