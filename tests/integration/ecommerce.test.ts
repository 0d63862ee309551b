import { randomBytes } from 'node:crypto'
import { DateTime } from 'luxon'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { createConnection } from '../../src/store/connection.js'
import { StoreInputError } from '../../src/store/errors.js'
import type { IngestOutcome } from '../../src/store/store.js'
import type {
  EcommEventRow,
  EcommEventType,
  GridItem,
  GridQuery,
  GridRanking,
  ProductRow,
  StockStatus,
  TrendPoint,
  TrendQuery,
  WarehouseStockRow,
} from '../../src/store/types.js'
import { makeEcommEvent, makeProduct, makeStock, minutesAgo, uid } from '../helpers/factories.js'
import { openTestStore, testStoreConfig } from '../helpers/store.js'
import { prng } from '../../src/random.js'

const HOUR = 3600_000
const DAY = 24 * HOUR
const RANKINGS: readonly GridRanking[] = ['TRENDING', 'PRICE']
const STATUS_RANK: Readonly<Record<StockStatus, number>> = { IN_STOCK: 0, LOW_STOCK: 1, OUT_OF_STOCK: 2 }

/** ClickHouse compares strings as bytes; so must the expectations. */
const byteCmp = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

// ---- the spec (§3), written independently of the store ----------------------------------------

function statusOf(stock: number, threshold: number): StockStatus {
  if (stock > threshold) return 'IN_STOCK'
  if (stock > 0) return 'LOW_STOCK'
  return 'OUT_OF_STOCK'
}

interface ProductModel {
  readonly id: string
  readonly category: string
  readonly name: string
  readonly photo: string
  readonly price: number
  readonly stock: number
  readonly hits: number
}

function expectedGrid(models: readonly ProductModel[], q: GridQuery, threshold: number): GridItem[] {
  const graded = models
    .filter((m) => q.category === 'all' || m.category === q.category)
    .map((m) => ({ ...m, stockStatus: statusOf(m.stock, threshold) }))
  const trendOrder = [...graded].sort(
    (a, b) => STATUS_RANK[a.stockStatus] - STATUS_RANK[b.stockStatus] || b.hits - a.hits || byteCmp(a.id, b.id),
  )
  const trending = new Set(
    trendOrder
      .filter((g) => g.stockStatus !== 'OUT_OF_STOCK')
      .slice(0, 3)
      .map((g) => g.id),
  )
  const ordered = q.ranking === 'TRENDING' ? trendOrder : [...graded].sort((a, b) => b.price - a.price || byteCmp(a.id, b.id))
  return ordered
    .filter((g) => q.showOutOfStock || g.stockStatus !== 'OUT_OF_STOCK')
    .map((g) => ({
      id: g.id,
      category: g.category,
      name: g.name,
      photo: g.photo,
      price: g.price,
      stock: g.stock,
      stockExact: String(g.stock),
      stockStatus: g.stockStatus,
      hits: g.hits,
      trending: trending.has(g.id),
      rankStatus: trending.has(g.id) ? 'Trending 🔥' : null,
    }))
}

interface TimedEvent {
  readonly product: string
  readonly event: EcommEventType
  readonly at: Date
}

/** Sums per bucket; `bounds` holds every bucket start followed by the end of the last bucket. */
function expectedTrend(
  events: readonly TimedEvent[],
  prices: ReadonlyMap<string, number>,
  bounds: readonly Date[],
  include: (product: string) => boolean,
): TrendPoint[] {
  return bounds.slice(0, -1).map((start, i) => {
    const end = bounds[i + 1]!
    const inside = events.filter((e) => include(e.product) && e.at >= start && e.at < end)
    const count = (type: EcommEventType) => inside.filter((e) => e.event === type).length
    const revenue = inside.filter((e) => e.event === 'sale').reduce((sum, e) => sum + (prices.get(e.product) ?? 0), 0)
    return { start, views: count('view'), carts: count('cart'), sales: count('sale'), revenue }
  })
}

// ---- helpers ------------------------------------------------------------------------------------

function expectClean(outcome: IngestOutcome): IngestOutcome {
  expect(outcome.errors).toEqual([])
  expect(outcome.quarantined).toBe(0)
  expect(outcome.deduplicated).toBe(false)
  return outcome
}

const events = (product: string, event: EcommEventType, n: number, at: Date = minutesAgo(1)): EcommEventRow[] =>
  Array.from({ length: n }, () => makeEcommEvent({ product, event, timestamp: at }))


describe('ecommerce store', () => {
  let store: ClickHouseStore

  beforeAll(async () => {
    store = await openTestStore()
  })
  afterAll(() => store?.close())

  /** Upserts products, adds warehouse amounts and recent sales; returns the product rows. */
  async function seed(
    items: ReadonlyArray<{ product: ProductRow; amounts?: number[]; sales?: number }>,
  ): Promise<ProductRow[]> {
    expectClean(await store.upsertProducts(items.map((i) => i.product)))
    const stock = items.flatMap((i) => (i.amounts ?? []).map((amount) => makeStock({ product: i.product.id, amount })))
    if (stock.length > 0) expectClean(await store.ingestWarehouseStock(stock))
    const sales = items.flatMap((i) => events(i.product.id, 'sale', i.sales ?? 0))
    if (sales.length > 0) expectClean(await store.ingestEcommEvents(sales))
    return items.map((i) => i.product)
  }

  const summary = (rows: readonly GridItem[]) =>
    Object.fromEntries(rows.map((r) => [r.id, { stock: r.stock, stockStatus: r.stockStatus }]))

  // ---- stock -------------------------------------------------------------------------------------

  describe('stock status', () => {
    const category = uid('boundary')
    const base = uid('b')
    const ids = {
      hundred: `${base}_100`,
      hundredOne: `${base}_101`,
      one: `${base}_1`,
      zeroBySales: `${base}_0s`,
      zeroByAmounts: `${base}_0a`,
      negative: `${base}_neg`,
      never: `${base}_never`,
    }

    beforeAll(async () => {
      await seed([
        { product: makeProduct({ id: ids.hundred, category, price: 1 }), amounts: [60, 40] },
        { product: makeProduct({ id: ids.hundredOne, category, price: 2 }), amounts: [150, -49] },
        { product: makeProduct({ id: ids.one, category, price: 3 }), amounts: [4], sales: 3 },
        { product: makeProduct({ id: ids.zeroBySales, category, price: 4 }), amounts: [10], sales: 10 },
        { product: makeProduct({ id: ids.zeroByAmounts, category, price: 5 }), amounts: [25, -25] },
        { product: makeProduct({ id: ids.negative, category, price: 6 }), amounts: [2, -7], sales: 1 },
        { product: makeProduct({ id: ids.never, category, price: 7 }) },
      ])
    })

    it('grades 100 as LOW_STOCK, 101 as IN_STOCK, 0 and below as OUT_OF_STOCK (default threshold)', async () => {
      const grid = await store.productGrid({ category, showOutOfStock: true, ranking: 'PRICE' }, 100)
      expect(summary(grid)).toEqual({
        [ids.hundred]: { stock: 100, stockStatus: 'LOW_STOCK' },
        [ids.hundredOne]: { stock: 101, stockStatus: 'IN_STOCK' },
        [ids.one]: { stock: 1, stockStatus: 'LOW_STOCK' },
        [ids.zeroBySales]: { stock: 0, stockStatus: 'OUT_OF_STOCK' },
        [ids.zeroByAmounts]: { stock: 0, stockStatus: 'OUT_OF_STOCK' },
        [ids.negative]: { stock: -6, stockStatus: 'OUT_OF_STOCK' },
        [ids.never]: { stock: 0, stockStatus: 'OUT_OF_STOCK' },
      })
      expect(grid).toHaveLength(7)
    })

    it('drops every out-of-stock product, the never-stocked one too, unless showOutOfStock', async () => {
      for (const ranking of RANKINGS) {
        const grid = await store.productGrid({ category, showOutOfStock: false, ranking }, 100)
        expect(grid.map((r) => r.id).sort()).toEqual([ids.hundred, ids.hundredOne, ids.one].sort())
      }
    })

    it('lists a never-stocked product with stock 0 and its catalog fields', async () => {
      const grid = await store.productGrid({ category, showOutOfStock: true, ranking: 'TRENDING' }, 100)
      const never = grid.find((r) => r.id === ids.never)
      expect(never).toEqual({
        id: ids.never,
        category,
        name: expect.any(String),
        photo: 'https://img.example/p.jpg',
        price: 7,
        stock: 0,
        stockExact: '0',
        stockStatus: 'OUT_OF_STOCK',
        hits: 0,
        trending: false,
        rankStatus: null,
      })
    })

    it('honours the threshold argument', async () => {
      const at = async (threshold: number) =>
        summary(await store.productGrid({ category, showOutOfStock: true, ranking: 'PRICE' }, threshold))
      const t0 = await at(0)
      expect(t0[ids.one]).toEqual({ stock: 1, stockStatus: 'IN_STOCK' })
      expect(t0[ids.hundred]?.stockStatus).toBe('IN_STOCK')
      expect(t0[ids.zeroBySales]?.stockStatus).toBe('OUT_OF_STOCK')
      expect(t0[ids.negative]?.stockStatus).toBe('OUT_OF_STOCK')

      const t99 = await at(99)
      expect(t99[ids.hundred]?.stockStatus).toBe('IN_STOCK')
      expect(t99[ids.one]?.stockStatus).toBe('LOW_STOCK')

      const t101 = await at(101)
      expect(t101[ids.hundredOne]?.stockStatus).toBe('LOW_STOCK')
      expect(t101[ids.hundred]?.stockStatus).toBe('LOW_STOCK')

      const t1000 = await at(1000)
      expect(Object.values(t1000).filter((s) => s.stockStatus === 'IN_STOCK')).toEqual([])
      // The threshold moves what is hidden only through IN/LOW; stock 0 stays out at any threshold.
      const hidden = await store.productGrid({ category, showOutOfStock: false, ranking: 'PRICE' }, 1000)
      expect(hidden).toHaveLength(3)
    })

    it('stock(ids) agrees with the grid, including never-stocked and unknown products', async () => {
      const levels = await store.stock([ids.hundred, ids.never, ids.negative, 'no-such-product', ids.zeroBySales])
      expect(levels).toEqual([
        { product: ids.hundred, available: 100 },
        { product: ids.never, available: 0 },
        { product: ids.negative, available: -6 },
        { product: 'no-such-product', available: 0 },
        { product: ids.zeroBySales, available: 0 },
      ])
    })
  })

  // ---- hits --------------------------------------------------------------------------------------

  describe('hits', () => {
    it('counts sales of the last hour only: 59 minutes ago counts, 61 does not; views and carts never', async () => {
      const category = uid('hits')
      const [p] = await seed([{ product: makeProduct({ category }), amounts: [500] }])
      const id = p!.id
      expectClean(
        await store.ingestEcommEvents([
          makeEcommEvent({ product: id, event: 'sale', timestamp: minutesAgo(59) }),
          makeEcommEvent({ product: id, event: 'sale', timestamp: minutesAgo(61) }),
          makeEcommEvent({ product: id, event: 'sale', timestamp: minutesAgo(600) }),
          ...events(id, 'view', 4),
          ...events(id, 'cart', 3),
        ]),
      )
      const [row] = await store.productGrid({ category, showOutOfStock: true, ranking: 'TRENDING' }, 100)
      expect(row).toMatchObject({ id, hits: 1, stock: 497, stockStatus: 'IN_STOCK' })
      expect(await store.recentSales([id])).toEqual([1])
    })
  })

  // ---- ordering ------------------------------------------------------------------------------------

  describe('ordering', () => {
    it('breaks price ties by id ascending', async () => {
      const category = uid('pricetie')
      const base = uid('t')
      await seed([
        { product: makeProduct({ id: `${base}_c`, category, price: 50 }), amounts: [500] },
        { product: makeProduct({ id: `${base}_a`, category, price: 50 }), amounts: [5] },
        { product: makeProduct({ id: `${base}_e`, category, price: 40 }), amounts: [500] },
        { product: makeProduct({ id: `${base}_b`, category, price: 50 }), amounts: [500] },
        { product: makeProduct({ id: `${base}_d`, category, price: 60 }), amounts: [500] },
        { product: makeProduct({ id: `${base}_f`, category, price: 50 }) },
      ])
      const grid = await store.productGrid({ category, showOutOfStock: true, ranking: 'PRICE' }, 100)
      expect(grid.map((r) => r.id)).toEqual(['d', 'a', 'b', 'c', 'f', 'e'].map((s) => `${base}_${s}`))
    })

    it('breaks status and hits ties by id ascending in TRENDING order, ignoring price', async () => {
      const category = uid('hittie')
      const base = uid('t')
      await seed([
        { product: makeProduct({ id: `${base}_c`, category, price: 1 }), amounts: [502], sales: 2 },
        { product: makeProduct({ id: `${base}_a`, category, price: 2 }), amounts: [502], sales: 2 },
        { product: makeProduct({ id: `${base}_d`, category, price: 3 }), amounts: [503], sales: 3 },
        { product: makeProduct({ id: `${base}_b`, category, price: 900 }), amounts: [502], sales: 2 },
        { product: makeProduct({ id: `${base}_e`, category, price: 5 }), amounts: [500] },
        { product: makeProduct({ id: `${base}_0`, category, price: 5 }), amounts: [50], sales: 9 },
      ])
      const grid = await store.productGrid({ category, showOutOfStock: true, ranking: 'TRENDING' }, 100)
      expect(grid.map((r) => [r.id, r.hits])).toEqual([
        [`${base}_d`, 3],
        [`${base}_a`, 2],
        [`${base}_b`, 2],
        [`${base}_c`, 2],
        [`${base}_e`, 0],
        [`${base}_0`, 9],
      ])
    })
  })

  // ---- categories with quotes ----------------------------------------------------------------------

  describe('a category with quotes and a backslash', () => {
    const category = `it's "x" \\ ${uid('q')}`
    let rows: ProductRow[]

    beforeAll(async () => {
      const base = uid('q')
      rows = await seed([
        { product: makeProduct({ id: `${base}_1`, category, name: `O'Neil "one"`, price: 10 }), amounts: [200] },
        { product: makeProduct({ id: `${base}_2`, category, name: 'plain', price: 20 }), amounts: [5] },
      ])
      // A neighbour whose category differs only after the quote must stay out.
      await seed([{ product: makeProduct({ category: `it's`, price: 30 }), amounts: [200] }])
    })

    it('works in productGrid', async () => {
      const grid = await store.productGrid({ category, showOutOfStock: false, ranking: 'PRICE' }, 100)
      expect(grid.map((r) => [r.id, r.category, r.stockStatus])).toEqual([
        [rows[1]!.id, category, 'LOW_STOCK'],
        [rows[0]!.id, category, 'IN_STOCK'],
      ])
    })

    it('works in productFilterOptions', async () => {
      expect(await store.productFilterOptions(category)).toEqual([
        { id: rows[0]!.id, value: `O'Neil "one"` },
        { id: rows[1]!.id, value: 'plain' },
      ])
    })

    it('works in products and productsByIds', async () => {
      const listed = await store.products(category, 10, 0)
      expect(listed.map((p) => p.id)).toEqual([rows[0]!.id, rows[1]!.id])
      expect(listed.every((p) => p.category === category)).toBe(true)
      const [byId] = await store.productsByIds([rows[0]!.id])
      expect(byId).toMatchObject({ id: rows[0]!.id, category, name: `O'Neil "one"` })
    })
  })

  // ---- showOutOfStock × ranking --------------------------------------------------------------------

  describe('showOutOfStock × ranking', () => {
    const category = uid('combo')
    const base = uid('c')
    const id = (n: number) => `${base}_${n}`

    beforeAll(async () => {
      await seed([
        { product: makeProduct({ id: id(1), category, price: 10 }), amounts: [500] }, // IN, 0 hits
        { product: makeProduct({ id: id(2), category, price: 40 }), amounts: [53], sales: 3 }, // LOW 50, 3 hits
        { product: makeProduct({ id: id(3), category, price: 30 }), amounts: [201], sales: 1 }, // IN 200, 1 hit
        { product: makeProduct({ id: id(4), category, price: 50 }), amounts: [2], sales: 2 }, // OUT 0, 2 hits
        { product: makeProduct({ id: id(5), category, price: 20 }) }, // OUT, never stocked
        { product: makeProduct({ id: id(6), category, price: 25 }), amounts: [155], sales: 5 }, // IN 150, 5 hits
      ])
    })

    const cases: Array<[boolean, GridRanking, number[]]> = [
      [true, 'TRENDING', [6, 3, 1, 2, 4, 5]],
      [true, 'PRICE', [4, 2, 3, 6, 5, 1]],
      [false, 'TRENDING', [6, 3, 1, 2]],
      [false, 'PRICE', [2, 3, 6, 1]],
    ]
    it.each(cases)('showOutOfStock=%s ranking=%s', async (showOutOfStock, ranking, order) => {
      const grid = await store.productGrid({ category, showOutOfStock, ranking }, 100)
      expect(grid.map((r) => r.id)).toEqual(order.map(id))
      expect(grid.filter((r) => r.trending).map((r) => r.id).sort()).toEqual([id(1), id(3), id(6)].sort())
      const hits = Object.fromEntries(grid.map((r) => [r.id, r.hits]))
      expect(hits[id(6)]).toBe(5)
      expect(hits[id(2)]).toBe(3)
      if (showOutOfStock) expect(hits[id(4)]).toBe(2)
    })

    it("'all' contains the category's rows in the same relative order", async () => {
      for (const [showOutOfStock, ranking, order] of cases) {
        const all = await store.productGrid({ category: 'all', showOutOfStock, ranking }, 100)
        expect(all.filter((r) => r.category === category).map((r) => r.id)).toEqual(order.map(id))
      }
    })
  })

  // ---- trending ------------------------------------------------------------------------------------

  describe('trending', () => {
    it('marks the first three non-out-of-stock rows of the TRENDING order, whatever the ranking', async () => {
      const category = uid('trend')
      const base = uid('tr')
      const id = (s: string) => `${base}_${s}`
      await seed([
        { product: makeProduct({ id: id('in_hit1'), category, price: 1 }), amounts: [501], sales: 1 },
        { product: makeProduct({ id: id('in_hit0'), category, price: 2 }), amounts: [500] },
        { product: makeProduct({ id: id('low_hit10'), category, price: 3 }), amounts: [60], sales: 10 },
        { product: makeProduct({ id: id('low_hit4'), category, price: 400 }), amounts: [54], sales: 4 },
        { product: makeProduct({ id: id('out_hit20'), category, price: 500 }), amounts: [5], sales: 20 },
      ])
      const expected = [id('in_hit0'), id('in_hit1'), id('low_hit10')]
      for (const showOutOfStock of [true, false]) {
        for (const ranking of RANKINGS) {
          const grid = await store.productGrid({ category, showOutOfStock, ranking }, 100)
          expect(grid.filter((r) => r.trending).map((r) => r.id).sort()).toEqual(expected)
          expect(grid.find((r) => r.id === id('low_hit4'))?.trending).toBe(false)
        }
      }
      const trendingOrder = await store.productGrid({ category, showOutOfStock: true, ranking: 'TRENDING' }, 100)
      expect(trendingOrder.map((r) => r.id)).toEqual([
        id('in_hit1'),
        id('in_hit0'),
        id('low_hit10'),
        id('low_hit4'),
        id('out_hit20'),
      ])
      expect(trendingOrder.map((r) => r.trending)).toEqual([true, true, true, false, false])
      // A lower threshold makes the low-stock rows IN_STOCK; the ranking within the status is by hits.
      const t0 = await store.productGrid({ category, showOutOfStock: true, ranking: 'TRENDING' }, 0)
      expect(t0.filter((r) => r.trending).map((r) => r.id)).toEqual([id('low_hit10'), id('low_hit4'), id('in_hit1')])
    })

    it('marks fewer than three when fewer are in stock, never an out-of-stock one', async () => {
      const category = uid('few')
      const [a, b, c] = await seed([
        { product: makeProduct({ category, price: 1 }), amounts: [10] },
        { product: makeProduct({ category, price: 2 }), amounts: [1], sales: 3 },
        { product: makeProduct({ category, price: 3 }) },
      ])
      const grid = await store.productGrid({ category, showOutOfStock: true, ranking: 'PRICE' }, 100)
      expect(grid.map((r) => [r.id, r.trending])).toEqual([
        [c!.id, false],
        [b!.id, false],
        [a!.id, true],
      ])
    })
  })

  // ---- randomized comparison against the spec ------------------------------------------------------

  describe('randomized grid', () => {
    let own: ClickHouseStore
    beforeAll(async () => {
      // Its own database, so 'all' holds exactly the generated products.
      own = ClickHouseStore.open(testStoreConfig())
      await own.migrate()
    })
    afterAll(() => own?.close())

    it('matches an independent computation for every category × showOutOfStock × ranking', async () => {
      const seedValue = Number(process.env.SIGHTLINE_TEST_SEED ?? randomBytes(4).readUInt32LE(0))
      const rng = prng(seedValue)
      const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1))
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!
      const now = Date.now()
      // Ages in minutes, away from the one-hour edge so the test's own runtime cannot move a sale across it.
      const age = () => {
        for (;;) {
          const m = rng() * 120
          if (m < 55 || m > 65) return m
        }
      }
      const at = (minutes: number) => new Date(now - minutes * 60_000)

      const prefix = uid('rnd')
      const categories = [`${prefix} A`, `${prefix} b's`, `${prefix} "C"`]
      const prices = [5, 9.99, 10, 10, 25.5, 42, 99.99, 100, 250]
      const usedIds = new Set<string>()
      const models: ProductModel[] = []
      const stale: ProductRow[] = []
      const finals: ProductRow[] = []
      const stock: WarehouseStockRow[] = []
      const evs: EcommEventRow[] = []

      for (let i = 0; i < 40; i++) {
        let id: string
        do {
          id = `${prefix}_${int(0, 0xfff).toString(16).padStart(3, '0')}`
        } while (usedIds.has(id))
        usedIds.add(id)
        const product = {
          id,
          category: pick(categories),
          name: `n${int(0, 99)}`,
          photo: `https://img.example/${i}.jpg`,
          price: pick(prices),
        }
        // Some products were first written with another category and price; the later write wins.
        if (rng() < 0.2) stale.push({ ...product, category: pick(categories), price: pick(prices) + 1, name: 'stale' })
        if (rng() < 0.1) finals.push({ ...product, name: 'overwritten in the same batch', price: 1 })
        finals.push(product)

        const saleAges = Array.from({ length: int(0, 5) }, age)
        for (const m of saleAges) evs.push({ product: id, event: 'sale', timestamp: at(m) })
        for (let k = int(0, 3); k > 0; k--) evs.push({ product: id, event: pick(['view', 'cart'] as const), timestamp: at(age()) })

        const mode = rng()
        let amounts: number[]
        if (mode < 0.15) {
          amounts = [] // never stocked (stock is minus its sales, if any)
        } else if (mode < 0.45) {
          // Land exactly on a boundary.
          const target = pick([100, 101, 0, 1, -1, 99, 102])
          const total = target + saleAges.length
          const first = int(-20, 200)
          amounts = rng() < 0.5 ? [total] : [first, total - first]
        } else {
          amounts = Array.from({ length: int(1, 3) }, () => int(-30, 200))
        }
        for (const amount of amounts) stock.push({ product: id, store: pick(['north', 'south']), amount, timestamp: at(rng() * 600) })

        const stockLevel = amounts.reduce((s, a) => s + a, 0) - saleAges.length
        const hits = saleAges.filter((m) => m < 60).length
        models.push({ ...product, stock: stockLevel, hits })
      }

      if (stale.length > 0) expectClean(await own.upsertProducts(stale))
      expectClean(await own.upsertProducts(finals))
      const half = Math.floor(stock.length / 2)
      expectClean(await own.ingestWarehouseStock(stock.slice(0, half)))
      expectClean(await own.ingestWarehouseStock(stock.slice(half)))
      expectClean(await own.ingestEcommEvents(evs))

      const context = `seed ${seedValue} (rerun with SIGHTLINE_TEST_SEED=${seedValue})`
      for (const category of [...categories, 'all']) {
        for (const showOutOfStock of [true, false]) {
          for (const ranking of RANKINGS) {
            const q = { category, showOutOfStock, ranking }
            const actual = await own.productGrid(q, 100)
            expect(actual, `${context} ${JSON.stringify(q)}`).toEqual(expectedGrid(models, q, 100))
          }
        }
      }
      for (const threshold of [0, 50, 101]) {
        const q = { category: 'all', showOutOfStock: true, ranking: 'TRENDING' as const }
        expect(await own.productGrid(q, threshold), `${context} threshold ${threshold}`).toEqual(
          expectedGrid(models, q, threshold),
        )
      }

      const ids = models.map((m) => m.id)
      expect(await own.stock(ids), context).toEqual(models.map((m) => ({ product: m.id, available: m.stock })))
      expect(await own.recentSales(ids), context).toEqual(models.map((m) => m.hits))
      const byId = await own.productsByIds(ids)
      expect(byId.map((p) => p && [p.category, p.name, p.price]), context).toEqual(
        models.map((m) => [m.category, m.name, m.price]),
      )
    })
  })

  // ---- upserts -------------------------------------------------------------------------------------

  describe('product upserts', () => {
    it('a later upsert replaces name, price and category everywhere', async () => {
      const [from, to] = [uid('from'), uid('to')]
      const product = makeProduct({ category: from, name: 'before', price: 10 })
      expectClean(await store.upsertProducts([product]))
      expectClean(await store.ingestWarehouseStock([makeStock({ product: product.id, amount: 500 })]))
      expectClean(await store.upsertProducts([{ ...product, category: to, name: 'after', price: 20, photo: null }]))

      const latest = { id: product.id, category: to, name: 'after', photo: '', price: 20 }
      expect(await store.productsByIds([product.id])).toEqual([latest])
      expect(await store.products(from, 100, 0)).toEqual([])
      expect(await store.products(to, 100, 0)).toEqual([latest])
      const everything = await store.products(undefined, 100_000, 0)
      expect(everything.filter((p) => p.id === product.id)).toEqual([latest])
      expect(await store.productGrid({ category: from, showOutOfStock: true, ranking: 'PRICE' }, 100)).toEqual([])
      expect(await store.productGrid({ category: to, showOutOfStock: true, ranking: 'PRICE' }, 100)).toEqual([
        { ...latest, stock: 500, stockExact: '500', stockStatus: 'IN_STOCK', hits: 0, trending: true, rankStatus: 'Trending 🔥' },
      ])
      expect(await store.productFilterOptions(from)).toEqual([])
      expect(await store.productFilterOptions(to)).toEqual([{ id: product.id, value: 'after' }])
    })

    it('a batch holding the same id twice keeps the later row', async () => {
      const category = uid('dup')
      const first = makeProduct({ category, name: 'first', price: 1 })
      const second = { ...first, name: 'second', price: 2 }
      const other = makeProduct({ category, name: 'other' })
      const outcome = expectClean(await store.upsertProducts([first, other, second]))
      expect(outcome.accepted).toBe(3)
      expect((await store.productsByIds([first.id]))[0]).toMatchObject({ name: 'second', price: 2 })
      expect((await store.products(category, 10, 0)).map((p) => p.id).sort()).toEqual([first.id, other.id].sort())
      // And a later batch replaces it again, even though its version came from the same process.
      expectClean(await store.upsertProducts([{ ...first, name: 'third' }]))
      expect((await store.productsByIds([first.id]))[0]).toMatchObject({ name: 'third', price: 1 })
    })

    it('products pages by category then id', async () => {
      const category = uid('page')
      const base = uid('pg')
      const ids = ['d', 'b', 'e', 'a', 'c'].map((s) => `${base}_${s}`)
      expectClean(await store.upsertProducts(ids.map((id) => makeProduct({ id, category }))))
      const sorted = [...ids].sort(byteCmp)
      expect((await store.products(category, 2, 0)).map((p) => p.id)).toEqual(sorted.slice(0, 2))
      expect((await store.products(category, 2, 2)).map((p) => p.id)).toEqual(sorted.slice(2, 4))
      expect((await store.products(category, 2, 4)).map((p) => p.id)).toEqual(sorted.slice(4))
      expect(await store.products(category, 2, 6)).toEqual([])
    })
  })

  // ---- filter options ------------------------------------------------------------------------------

  describe('productFilterOptions', () => {
    it('orders a category by name, then id', async () => {
      const category = uid('filters')
      const base = uid('f')
      const rows = [
        { id: `${base}_3`, name: 'banana' },
        { id: `${base}_2`, name: 'apple' },
        { id: `${base}_1`, name: 'cherry' },
        { id: `${base}_0`, name: 'apple' },
      ]
      expectClean(await store.upsertProducts(rows.map((r) => makeProduct({ ...r, category }))))
      expect(await store.productFilterOptions(category)).toEqual([
        { id: `${base}_0`, value: 'apple' },
        { id: `${base}_2`, value: 'apple' },
        { id: `${base}_3`, value: 'banana' },
        { id: `${base}_1`, value: 'cherry' },
      ])

      const all = await store.productFilterOptions('all')
      expect(all.length).toBeGreaterThanOrEqual(4)
      expect(all.every((o) => o.id !== null && o.id !== 'All')).toBe(true)
      for (let i = 1; i < all.length; i++) {
        const [a, b] = [all[i - 1]!, all[i]!]
        const cmp = byteCmp(a.value, b.value) || byteCmp(a.id!, b.id!)
        expect(cmp, `${JSON.stringify(a)} before ${JSON.stringify(b)}`).toBeLessThan(0)
      }
      expect(all.filter((o) => o.id!.startsWith(`${base}_`)).map((o) => o.id)).toEqual(
        ['0', '2', '3', '1'].map((s) => `${base}_${s}`),
      )
    })

    it('is empty for an unknown category', async () => {
      expect(await store.productFilterOptions(uid('nothing'))).toEqual([])
    })
  })

  // ---- per-id loaders ------------------------------------------------------------------------------

  describe('per-id reads', () => {
    it('stock, recentSales and productsByIds answer one entry per id, in key order', async () => {
      const [a, b] = await seed([
        { product: makeProduct({ price: 1 }), amounts: [10], sales: 2 },
        { product: makeProduct({ price: 2 }), amounts: [3, 4] },
      ])
      const unknown = uid('unknown')
      const keys = [b!.id, unknown, a!.id, b!.id, a!.id, uid('unknown')]
      expect(await store.stock(keys)).toEqual([
        { product: b!.id, available: 7 },
        { product: unknown, available: 0 },
        { product: a!.id, available: 8 },
        { product: b!.id, available: 7 },
        { product: a!.id, available: 8 },
        { product: keys[5], available: 0 },
      ])
      expect(await store.recentSales(keys)).toEqual([0, 0, 2, 0, 2, 0])
      const products = await store.productsByIds(keys)
      expect(products.map((p) => p?.id ?? null)).toEqual([b!.id, null, a!.id, b!.id, a!.id, null])
      expect(await store.stock([])).toEqual([])
      expect(await store.recentSales([])).toEqual([])
      expect(await store.productsByIds([])).toEqual([])
    })
  })

  // ---- trends --------------------------------------------------------------------------------------

  describe('ecommTrend', () => {
    const trend = (q: Partial<TrendQuery> & { from: Date; to: Date }) =>
      store.ecommTrend({ product: undefined, category: 'all', granularity: 'HOUR', timezone: 'UTC', ...q })

    async function ingestTimed(timed: readonly TimedEvent[]): Promise<void> {
      expectClean(await store.ingestEcommEvents(timed.map((e) => ({ product: e.product, event: e.event, timestamp: e.at }))))
    }

    it('HOUR: every bucket present, zeros included; counts and revenue by product and by category', async () => {
      const t0 = new Date(Math.floor(Date.now() / HOUR) * HOUR - 72 * HOUR)
      const plus = (minutes: number) => new Date(t0.getTime() + minutes * 60_000)
      const [cat, otherCat] = [uid('trendcat'), uid('trendcat')]
      const p = makeProduct({ category: cat, price: 12.5 })
      const q = makeProduct({ category: cat, price: 4 })
      const r = makeProduct({ category: otherCat, price: 100 })
      expectClean(await store.upsertProducts([p, q, r]))
      const timed: TimedEvent[] = [
        ...Array.from({ length: 2 }, () => ({ product: p.id, event: 'view' as const, at: plus(10) })),
        { product: p.id, event: 'cart', at: plus(10) },
        ...Array.from({ length: 3 }, () => ({ product: p.id, event: 'sale' as const, at: plus(65) })),
        { product: p.id, event: 'view', at: plus(239) },
        { product: p.id, event: 'sale', at: plus(239) },
        { product: p.id, event: 'sale', at: plus(361) }, // after the range
        { product: p.id, event: 'view', at: plus(-1) }, // before the range
        { product: q.id, event: 'sale', at: plus(90) },
        { product: q.id, event: 'sale', at: plus(90) },
        { product: q.id, event: 'cart', at: plus(359) },
        ...Array.from({ length: 4 }, () => ({ product: r.id, event: 'sale' as const, at: plus(60) })),
      ]
      await ingestTimed(timed)
      const prices = new Map([
        [p.id, 12.5],
        [q.id, 4],
        [r.id, 100],
      ])
      const bounds = Array.from({ length: 7 }, (_, k) => new Date(t0.getTime() + k * HOUR))
      const range = { from: bounds[0]!, to: bounds[6]! }

      const byProduct = await trend({ ...range, product: p.id })
      expect(byProduct).toEqual(expectedTrend(timed, prices, bounds, (id) => id === p.id))
      // Spelled out once, so the oracle itself is checked.
      expect(byProduct.map((b) => [b.views, b.carts, b.sales, b.revenue])).toEqual([
        [2, 1, 0, 0],
        [0, 0, 3, 37.5],
        [0, 0, 0, 0],
        [1, 0, 1, 12.5],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
      ])
      expect(byProduct.map((b) => b.start)).toEqual(bounds.slice(0, 6))

      const byCategory = await trend({ ...range, category: cat })
      expect(byCategory).toEqual(expectedTrend(timed, prices, bounds, (id) => id === p.id || id === q.id))
      expect(byCategory[1]).toMatchObject({ sales: 5, revenue: 3 * 12.5 + 2 * 4 })
      expect(byCategory[5]).toMatchObject({ carts: 1, sales: 0 })

      expect(await trend({ ...range, category: otherCat })).toEqual(expectedTrend(timed, prices, bounds, (id) => id === r.id))
      // A product outside the asked category contributes nothing.
      expect(await trend({ ...range, product: r.id, category: cat })).toEqual(expectedTrend([], prices, bounds, () => true))
      // An empty category still has every bucket.
      const empty = await trend({ ...range, category: uid('void') })
      expect(empty).toHaveLength(6)
      expect(empty.every((b) => b.views + b.carts + b.sales + b.revenue === 0)).toBe(true)

      // Revenue uses the current price (documented): a price change re-prices history.
      expectClean(await store.upsertProducts([{ ...p, price: 20 }]))
      const repriced = await trend({ ...range, product: p.id })
      expect(repriced.map((b) => b.revenue)).toEqual([0, 60, 0, 20, 0, 0])
    })

    it('DAY in UTC, America/New_York and Asia/Kolkata buckets by the zone’s midnights', async () => {
      const product = makeProduct({ category: uid('daycat'), price: 3 })
      expectClean(await store.upsertProducts([product]))
      const utcDay0 = Math.floor(Date.now() / DAY) * DAY - 5 * DAY
      const midnights = (zone: string) => {
        const first = DateTime.fromMillis(utcDay0 + DAY, { zone }).startOf('day')
        return Array.from({ length: 4 }, (_, k) => first.plus({ days: k }).toJSDate())
      }
      const zones = { utc: midnights('UTC'), ny: midnights('America/New_York'), kolkata: midnights('Asia/Kolkata') }
      // Events just either side of every zone's midnights, where the zones disagree about the day.
      const timed: TimedEvent[] = []
      const kinds: EcommEventType[] = ['view', 'cart', 'sale', 'sale']
      let n = 0
      for (const bounds of Object.values(zones)) {
        for (const midnight of [...bounds, new Date(bounds[0]!.getTime() - DAY)]) {
          for (const offsetMin of [-31, -1, 0, 1, 29, 301]) {
            timed.push({ product: product.id, event: kinds[n++ % kinds.length]!, at: new Date(midnight.getTime() + offsetMin * 60_000) })
          }
        }
      }
      await ingestTimed(timed)
      const prices = new Map([[product.id, 3]])

      for (const [zone, bounds] of [
        ['UTC', zones.utc],
        ['America/New_York', zones.ny],
        ['Asia/Kolkata', zones.kolkata],
      ] as const) {
        const actual = await trend({ product: product.id, from: bounds[0]!, to: bounds[3]!, granularity: 'DAY', timezone: zone })
        const expected = expectedTrend(timed, prices, bounds, () => true)
        expect(actual, zone).toEqual(expected)
        expect(expected.reduce((s, b) => s + b.views + b.carts + b.sales, 0), zone).toBeGreaterThan(10)
      }
    })

    it('MINUTE buckets over a short range', async () => {
      const product = makeProduct({ price: 2 })
      expectClean(await store.upsertProducts([product]))
      const m0 = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000
      const timed: TimedEvent[] = [
        { product: product.id, event: 'sale', at: new Date(m0 + 61_000) },
        { product: product.id, event: 'sale', at: new Date(m0 + 119_000) },
        { product: product.id, event: 'view', at: new Date(m0 + 240_000) },
      ]
      await ingestTimed(timed)
      const bounds = Array.from({ length: 6 }, (_, k) => new Date(m0 + k * 60_000))
      const actual = await trend({ product: product.id, from: bounds[0]!, to: bounds[5]!, granularity: 'MINUTE' })
      expect(actual).toEqual(expectedTrend(timed, new Map([[product.id, 2]]), bounds, () => true))
      expect(actual.map((b) => b.sales)).toEqual([0, 2, 0, 0, 0])
    })

    it('counts whole buckets when from and to fall inside buckets, the same in every zone', async () => {
      const product = makeProduct({ price: 5 })
      expectClean(await store.upsertProducts([product]))
      const day = Math.floor(Date.now() / DAY) * DAY - 3 * DAY
      const timed: TimedEvent[] = [0.5, 3.5, 8.25, 10.2, 10.8, 13.1, 16.7, 20, 23.9, 30].map((h, i) => ({
        product: product.id,
        event: i % 2 === 0 ? 'sale' : 'view',
        at: new Date(day + h * HOUR),
      }))
      await ingestTimed(timed)
      const prices = new Map([[product.id, 5]])
      const from = new Date(day + 8.5 * HOUR)
      const to = new Date(day + 10.5 * HOUR)
      for (const [granularity, timezone] of [
        ['HOUR', 'UTC'],
        ['HOUR', 'America/New_York'],
        ['HOUR', 'Asia/Kolkata'],
        ['DAY', 'UTC'],
        ['DAY', 'America/New_York'],
        ['DAY', 'Asia/Kolkata'],
      ] as const) {
        const unit = granularity === 'HOUR' ? 'hour' : 'day'
        const bounds = [DateTime.fromJSDate(from, { zone: timezone }).startOf(unit)]
        while (bounds[bounds.length - 1]! < DateTime.fromJSDate(to, { zone: timezone })) {
          bounds.push(bounds[bounds.length - 1]!.plus({ [unit]: 1 }))
        }
        const actual = await trend({ product: product.id, from, to, granularity, timezone })
        const expected = expectedTrend(timed, prices, bounds.map((b) => b.toJSDate()), () => true)
        expect(actual, `${granularity} ${timezone}`).toEqual(expected)
      }
    })

    it('DAY buckets stay right when the zone shifts by half an hour inside the range (Lord Howe)', async () => {
      // Lord Howe is +11 in the southern summer and +10:30 in winter: whole hours at both ends of
      // the range, but its winter midnights fall at hh:30 UTC.
      const product = makeProduct({ price: 1 })
      expectClean(await store.upsertProducts([product]))
      const winterMidnight = DateTime.fromISO('2024-06-15T00:00', { zone: 'Australia/Lord_Howe' }).toJSDate()
      expect(winterMidnight.toISOString()).toBe('2024-06-14T13:30:00.000Z')
      await ingestTimed([
        { product: product.id, event: 'sale', at: new Date(winterMidnight.getTime() - 20 * 60_000) },
        { product: product.id, event: 'sale', at: new Date(winterMidnight.getTime() + 20 * 60_000) },
      ])
      const buckets = await trend({
        product: product.id,
        from: new Date('2024-01-10T00:00:00Z'),
        to: new Date('2024-12-20T00:00:00Z'),
        granularity: 'DAY',
        timezone: 'Australia/Lord_Howe',
      })
      expect(buckets.filter((b) => b.sales > 0).map((b) => [b.start.toISOString(), b.sales])).toEqual([
        [new Date(winterMidnight.getTime() - DAY).toISOString(), 1],
        [winterMidnight.toISOString(), 1],
      ])
    })

    it('rejects a reversed or empty range, an unknown timezone and too many buckets with StoreInputError', async () => {
      const now = new Date()
      const earlier = new Date(now.getTime() - DAY)
      await expect(trend({ from: now, to: earlier })).rejects.toBeInstanceOf(StoreInputError)
      await expect(trend({ from: now, to: now })).rejects.toBeInstanceOf(StoreInputError)
      await expect(trend({ from: earlier, to: now, timezone: 'Mars/Olympus_Mons' })).rejects.toBeInstanceOf(StoreInputError)
      await expect(trend({ from: new Date(now.getTime() - 30 * DAY), to: now, granularity: 'MINUTE' })).rejects.toBeInstanceOf(
        StoreInputError,
      )
    })
  })

  // ---- ingest --------------------------------------------------------------------------------------

  describe('ingest validation', () => {
    /** Unique per call, so a quarantined row can be told apart by its JSON. */
    const uniqueRecent = () => new Date(Date.now() - 1000 - Math.floor(Math.random() * 3_600_000))
    const in1990 = new Date('1990-06-01T00:00:00Z')
    const in2999 = new Date('2999-01-01T00:00:00Z')

    async function expectQuarantined(
      table: 'ecomm_events' | 'warehouse_stock' | 'products',
      bad: ReadonlyArray<{ index: number; row: object; message: RegExp }>,
    ): Promise<void> {
      const stored = await store.quarantine(table, 10_000)
      for (const b of bad) {
        const found = stored.filter((q) => q.row === JSON.stringify(b.row))
        expect(found, JSON.stringify(b.row)).toHaveLength(1)
        expect(found[0]!.table).toBe(table)
        expect(found[0]!.reason).toMatch(new RegExp(`^row ${b.index}: `))
        expect(found[0]!.reason).toMatch(b.message)
        expect(Math.abs(found[0]!.at.getTime() - Date.now())).toBeLessThan(HOUR)
      }
    }

    it('ecomm events: bad rows are reported and quarantined, good rows stored', async () => {
      const product = uid('p')
      const good = [
        makeEcommEvent({ product, event: 'sale', timestamp: minutesAgo(2) }),
        makeEcommEvent({ product, event: 'view', timestamp: minutesAgo(2) }),
      ]
      const bad = [
        { index: 1, row: makeEcommEvent({ product: '', timestamp: uniqueRecent() }), message: /product is empty/ },
        { index: 2, row: makeEcommEvent({ product: uid('old'), timestamp: in1990 }), message: /before 2000/ },
        { index: 4, row: makeEcommEvent({ product: uid('future'), timestamp: in2999 }), message: /more than a day ahead/ },
        {
          index: 5,
          row: makeEcommEvent({ product: uid('refund'), event: 'refund' as EcommEventType }),
          message: /unknown event "refund"/,
        },
        { index: 6, row: makeEcommEvent({ product: '   ', timestamp: uniqueRecent() }), message: /product is empty/ },
      ]
      const batch = [good[0]!, bad[0]!.row, bad[1]!.row, good[1]!, bad[2]!.row, bad[3]!.row, bad[4]!.row]
      const outcome = await store.ingestEcommEvents(batch)
      expect(outcome).toMatchObject({ accepted: 2, quarantined: 5, deduplicated: false })
      expect(outcome.errors.map((e) => e.index)).toEqual([1, 2, 4, 5, 6])
      outcome.errors.forEach((e, i) => expect(e.message).toMatch(bad[i]!.message))
      expect(outcome.stockChanges).toEqual([{ product, delta: -1 }])
      await expectQuarantined('ecomm_events', bad)

      expect(await store.recentSales([product, bad[1]!.row.product, bad[2]!.row.product])).toEqual([1, 0, 0])
      expect(await store.stock([product])).toEqual([{ product, available: -1 }])
      const hour = Math.floor(Date.now() / HOUR) * HOUR
      const views = await store.ecommTrend({
        product,
        category: 'all',
        from: new Date(hour - HOUR),
        to: new Date(hour + HOUR),
        granularity: 'DAY',
        timezone: 'UTC',
      })
      expect(views.reduce((s, b) => s + b.views, 0)).toBe(1)
    })

    it('warehouse stock: bad rows are reported and quarantined, good rows stored', async () => {
      const product = uid('p')
      const bad = [
        { index: 1, row: makeStock({ product: '', timestamp: uniqueRecent() }), message: /product is empty/ },
        { index: 2, row: makeStock({ product: uid('nostore'), store: '' }), message: /store is empty/ },
        { index: 3, row: makeStock({ product: uid('frac'), amount: 1.5 }), message: /amount/ },
        { index: 4, row: makeStock({ product: uid('nan'), amount: Number.NaN }), message: /amount/ },
        { index: 5, row: makeStock({ product: uid('big'), amount: 2 ** 40 }), message: /amount/ },
        { index: 6, row: makeStock({ product: uid('old'), timestamp: in1990 }), message: /before 2000/ },
        { index: 7, row: makeStock({ product: uid('future'), timestamp: in2999 }), message: /more than a day ahead/ },
      ]
      const batch = [
        makeStock({ product, amount: 30 }),
        ...bad.map((b) => b.row),
        makeStock({ product, amount: -5, store: 'south', timestamp: new Date(Date.now() + HOUR) }),
      ]
      const outcome = await store.ingestWarehouseStock(batch)
      expect(outcome).toMatchObject({ accepted: 2, quarantined: 7, deduplicated: false })
      expect(outcome.errors.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7])
      expect(outcome.stockChanges).toEqual([{ product, delta: 25 }])
      await expectQuarantined('warehouse_stock', bad)
      expect(await store.stock([product, bad[5]!.row.product, bad[6]!.row.product])).toEqual([
        { product, available: 25 },
        { product: bad[5]!.row.product, available: 0 },
        { product: bad[6]!.row.product, available: 0 },
      ])
    })

    it('products: bad rows are reported and quarantined, good rows stored', async () => {
      const category = uid('ingest')
      const goodA = makeProduct({ category, price: 0 })
      const goodB = makeProduct({ category, price: 19.99, photo: undefined })
      const bad = [
        { index: 1, row: makeProduct({ id: '', category, name: uid('noid') }), message: /id is empty/ },
        { index: 2, row: makeProduct({ category, price: -1 }), message: /price is negative/ },
        { index: 3, row: makeProduct({ category, price: Number.NaN }), message: /price is not a finite number/ },
        { index: 4, row: makeProduct({ category, price: Number.POSITIVE_INFINITY }), message: /price is not a finite number/ },
        { index: 5, row: makeProduct({ category: '', name: uid('nocat') }), message: /category is empty/ },
        { index: 6, row: makeProduct({ category, name: '' }), message: /name is empty/ },
      ]
      const outcome = await store.upsertProducts([goodA, ...bad.map((b) => b.row), goodB])
      expect(outcome).toMatchObject({ accepted: 2, quarantined: 6, deduplicated: false })
      expect(outcome.errors.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6])
      await expectQuarantined('products', bad)
      expect((await store.products(category, 100, 0)).map((p) => p.id).sort()).toEqual([goodA.id, goodB.id].sort())
      expect(await store.productsByIds([goodB.id, bad[1]!.row.id, bad[2]!.row.id])).toEqual([
        { id: goodB.id, category, name: goodB.name, photo: '', price: 19.99 },
        null,
        null,
      ])
      expect(await store.quarantine('products', 1)).toHaveLength(1)
    })

    it('idempotencyKey: the same batch twice is stored once, the retry says deduplicated', async () => {
      const product = uid('p')
      const key = uid('key')
      const wh = [makeStock({ product, amount: 40 }), makeStock({ product: '', timestamp: uniqueRecent() })]
      const first = await store.ingestWarehouseStock(wh, { idempotencyKey: key })
      expect(first).toMatchObject({ accepted: 1, quarantined: 1, deduplicated: false })
      const retry = await store.ingestWarehouseStock(wh, { idempotencyKey: key })
      expect(retry).toMatchObject({ accepted: 1, quarantined: 1, deduplicated: true, errors: first.errors })
      expect(retry.stockChanges).toEqual([])
      expect(await store.stock([product])).toEqual([{ product, available: 40 }])
      const quarantined = (await store.quarantine('warehouse_stock', 10_000)).filter((q) => q.row === JSON.stringify(wh[1]))
      expect(quarantined).toHaveLength(1)

      const sales = events(product, 'sale', 3, minutesAgo(3))
      expect(await store.ingestEcommEvents(sales, { idempotencyKey: key })).toMatchObject({ accepted: 3, deduplicated: false })
      expect(await store.ingestEcommEvents(sales, { idempotencyKey: key })).toMatchObject({ accepted: 3, deduplicated: true })
      expect(await store.recentSales([product])).toEqual([3])
      expect(await store.stock([product])).toEqual([{ product, available: 37 }])

      // A new key is a new batch, even with the same rows.
      expect(await store.ingestWarehouseStock(wh, { idempotencyKey: uid('key') })).toMatchObject({ deduplicated: false })
      expect(await store.stock([product])).toEqual([{ product, available: 77 }])

      const p = makeProduct({ name: 'keyed' })
      expect(await store.upsertProducts([p], { idempotencyKey: key })).toMatchObject({ accepted: 1, deduplicated: false })
      expect(await store.upsertProducts([{ ...p, name: 'retried' }], { idempotencyKey: key })).toMatchObject({
        deduplicated: true,
      })
      expect((await store.productsByIds([p.id]))[0]?.name).toBe('keyed')
    })

    it('idempotencyKey: a retry after the batch record was lost is still stored once', async () => {
      // Simulates a crash between the data insert and the batch record: the batch id carried in the
      // rows (and markers in the aggregating views) must keep the retry from counting twice, in the
      // table and in the views it feeds.
      const config = testStoreConfig()
      const own = ClickHouseStore.open(config)
      const raw = createConnection(config)
      try {
        await own.migrate()
        const product = uid('p')
        const key = uid('key')
        const wh = [makeStock({ product, amount: 9 }), makeStock({ product: '' })]
        const sales = events(product, 'sale', 2, minutesAgo(5))
        for (let attempt = 0; attempt < 2; attempt++) {
          await own.ingestWarehouseStock(wh, { idempotencyKey: key })
          await own.ingestEcommEvents(sales, { idempotencyKey: key })
          await raw.command({ query: `TRUNCATE TABLE ${config.database}.ingest_batches` })
        }
        expect(await own.stock([product])).toEqual([{ product, available: 7 }])
        expect(await own.recentSales([product])).toEqual([2])
        expect(await own.quarantine('warehouse_stock', 100)).toHaveLength(1)
        const rs = await raw.query({
          query: `SELECT toInt64(sum(sales)) AS sales FROM ${config.database}.ecomm_rollup_minute WHERE product = {product:String}`,
          query_params: { product },
          format: 'JSONEachRow',
        })
        expect((await rs.json<{ sales: number | string }>()).map((r) => Number(r.sales))).toEqual([2])
      } finally {
        await raw.close()
        await own.close()
      }
    })

    it('without a key, two identical batches are both stored', async () => {
      const product = uid('p')
      const at = minutesAgo(4)
      const wh = [makeStock({ product, amount: 11, timestamp: at })]
      expectClean(await store.ingestWarehouseStock(wh))
      expectClean(await store.ingestWarehouseStock(wh))
      const sale = [makeEcommEvent({ product, event: 'sale', timestamp: at })]
      expectClean(await store.ingestEcommEvents(sale))
      expectClean(await store.ingestEcommEvents(sale))
      expect(await store.stock([product])).toEqual([{ product, available: 20 }])
      expect(await store.recentSales([product])).toEqual([2])

      // The same goes for identical bad rows: each failed batch is kept.
      const badRow = makeStock({ product: '', timestamp: uniqueRecent() })
      expect(await store.ingestWarehouseStock([badRow])).toMatchObject({ accepted: 0, quarantined: 1 })
      expect(await store.ingestWarehouseStock([badRow])).toMatchObject({ accepted: 0, quarantined: 1 })
      const stored = (await store.quarantine('warehouse_stock', 10_000)).filter((q) => q.row === JSON.stringify(badRow))
      expect(stored).toHaveLength(2)
    })
  })
})
