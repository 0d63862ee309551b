import { stockStatusOfRank } from '../../catalog/index.js'
import { BUCKET_SQL } from '../analytics.js'
import { bucketEnd, bucketStarts, zeroFill } from '../buckets.js'
import { finite, toChDateTime } from '../clickhouse.js'
import type { GridItem, GridQuery, Product, StockLevel, TrendPoint, TrendQuery, UiFilterOption } from '../types.js'
import type { StoreQueries } from './queries.js'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

interface ProductRecord {
  id: string
  category: string
  name: string
  photo: string
  price: number
}

/** The ecommerce reads: the catalog, stock levels, recent sales, the product grid and the sales trend. */
export class EcommerceRepository {
  constructor(private readonly q: StoreQueries) {}

  async products(category: string | undefined, limit: number, offset: number): Promise<Product[]> {
    const rows = await this.q.rows<ProductRecord>('products', { category: category ?? null, limit, offset })
    return rows.map(toProduct)
  }

  async productsByIds(ids: readonly string[]): Promise<Array<Product | null>> {
    if (ids.length === 0) return []
    const rows = await this.q.rows<ProductRecord>('products_by_id', { ids })
    const byId = new Map(rows.map((r) => [r.id, toProduct(r)]))
    return ids.map((id) => byId.get(id) ?? null)
  }

  async stock(ids: readonly string[]): Promise<StockLevel[]> {
    if (ids.length === 0) return []
    const rows = await this.q.rows<{ product: string; available: number }>('stock', { ids })
    const byId = new Map(rows.map((r) => [r.product, Number(r.available)]))
    return ids.map((product) => ({ product, available: byId.get(product) ?? 0 }))
  }

  async recentSales(ids: readonly string[]): Promise<number[]> {
    if (ids.length === 0) return []
    const rows = await this.q.rows<{ product: string; hits: number }>('recent_sales', { ids })
    const byId = new Map(rows.map((r) => [r.product, Number(r.hits)]))
    return ids.map((id) => byId.get(id) ?? 0)
  }

  async productGrid(query: GridQuery, lowStockThreshold: number): Promise<GridItem[]> {
    const rows = await this.q.rows<ProductRecord & { stock: number; status_rank: number; hits: number; trending: number | boolean }>(
      'api_product_grid',
      {
        category: query.category,
        showOutOfStock: query.showOutOfStock,
        trendingOrder: query.ranking === 'TRENDING',
        lowStock: lowStockThreshold,
      },
    )
    // One object literal per row (no spread): a page is thousands of rows, and this is its hot loop.
    return rows.map((r) => {
      const trending = r.trending === true || Number(r.trending) === 1
      return {
        id: r.id,
        category: r.category,
        name: r.name,
        photo: r.photo,
        price: finite(r.price, 'price'),
        stock: Number(r.stock),
        stockExact: String(r.stock),
        stockStatus: stockStatusOfRank(Number(r.status_rank)),
        hits: Number(r.hits),
        trending,
        rankStatus: trending ? 'Trending 🔥' : null, // the seed pipe's rank_status
      }
    })
  }

  /**
   * The grid as the seed's `api_product_grid` endpoint answers it (REST): ClickHouse's `FORMAT JSON` text
   * with the endpoint's columns and types (`stock_status` the status's rank, `rank_status` 'Trending 🔥' for
   * trending rows), in the grid's order, 64-bit integers quoted or not.
   */
  productGridJson(query: GridQuery, lowStockThreshold: number, quote64BitIntegers: boolean): Promise<string> {
    const params = { category: query.category, showOutOfStock: query.showOutOfStock, trendingOrder: query.ranking === 'TRENDING', lowStock: lowStockThreshold }
    return this.q.jsonText('api_product_grid', params, (grid) =>
      [
        'SELECT id, name, toInt64(stock) AS stock, toUInt8(status_rank) AS stock_status, toUInt64(hits) AS hits,',
        "  if(trending, 'Trending 🔥', NULL) AS rank_status, photo, price",
        `FROM (\n${grid}\n)`,
        `SETTINGS output_format_json_quote_64bit_integers = ${quote64BitIntegers ? 1 : 0}, output_format_json_escape_forward_slashes = 0, output_format_json_quote_denormals = 0`,
      ].join('\n'),
    )
  }

  async productFilterOptions(category: string): Promise<UiFilterOption[]> {
    const rows = await this.q.rows<{ id: string; name: string }>('api_ui_filters', { category })
    return rows.map((r) => ({ id: r.id, value: r.name }))
  }

  async ecommTrend(query: TrendQuery): Promise<TrendPoint[]> {
    const starts = bucketStarts(query.from, query.to, query.granularity, query.timezone)
    const first = starts[0]
    if (!first) return []
    // Whole buckets at both ends, like the first one: a partial last bucket would be cut at the
    // rollup's resolution, so the same range would count differently from one zone to another.
    const end = bucketEnd(starts[starts.length - 1] ?? first, query.granularity, query.timezone)
    // The coarsest rollup whose buckets nest inside the requested ones: every boundary on its grid.
    // (Checking the zone's offset only at the ends misses mid-range shifts, e.g. Lord Howe's 30 min.)
    const bounds = [...starts, end]
    const onGrid = (ms: number) => bounds.every((d) => d.getTime() % ms === 0)
    const rollup = query.granularity === 'MINUTE' ? 'minute' : onGrid(DAY_MS) ? 'day' : onGrid(HOUR_MS) ? 'hour' : 'minute'
    const rows = await this.q.rows<{ start: number; views: number; carts: number; sales: number; revenue: number }>(
      'ecomm_trend',
      {
        from: toChDateTime(first),
        to: toChDateTime(end),
        product: query.product ?? null,
        category: query.category,
        tz: query.timezone,
      },
      { rollup, bucket: BUCKET_SQL[query.granularity]('r.bucket') },
    )
    const byStart = new Map(
      rows.map((r) => [
        Number(r.start) * 1000,
        { views: Number(r.views), carts: Number(r.carts), sales: Number(r.sales), revenue: finite(r.revenue, 'revenue') },
      ]),
    )
    return zeroFill(starts, byStart, { views: 0, carts: 0, sales: 0, revenue: 0 }).map(({ start, value }) => ({ start, ...value }))
  }
}

function toProduct(r: ProductRecord): Product {
  return { id: r.id, category: r.category, name: r.name, photo: r.photo, price: finite(r.price, 'price') }
}
