import { STOCK_STATUSES, stockStatusOfRank } from '../../catalog/index.js'
import { BUCKET_SQL } from '../analytics.js'
import { bucketEnd, bucketStarts, zeroFill } from '../buckets.js'
import { finite, toChDateTime } from '../clickhouse.js'
import { StoreInputError, StoreUnavailableError } from '../errors.js'
import type { GridItem, GridQuery, Product, StockLevel, TrendPoint, TrendQuery, UiFilterOption } from '../types.js'
import { columnsOf } from '../executor.js'
import { jsonObjectRow, TEMPLATE_TRAILER, type StoreQueries } from './queries.js'

const HOUR_MS = 3_600_000
/** The columns api_product_grid answers, in the order the grid reads them. */
const GRID_COLUMNS = ['id', 'category', 'name', 'photo', 'price', 'stock', 'status_rank', 'hits', 'trending'] as const
const DAY_MS = 24 * HOUR_MS

/**
 * Each GridItem field as a JSON value of `productGridRows`, from the grid's columns renamed `#column`
 * (so that a requested key never shadows a column): the same value `productGrid` builds for it. A value
 * the item cannot carry as `productGrid` would answer it (a non-finite price; stock or hits outside 32
 * bits, which GraphQL's Int refuses) fails the statement instead, and the caller takes `productGrid`'s path.
 */
const GRID_JSON: Readonly<Record<keyof GridItem, string>> = {
  id: '`#id`',
  category: '`#category`',
  name: '`#name`',
  photo: '`#photo`',
  price: "`#price` + throwIf(NOT isFinite(`#price`), 'the stored price is not a finite number')",
  stock: "`#stock` + throwIf(`#stock` NOT BETWEEN -2147483648 AND 2147483647, 'the stock does not fit 32 bits')",
  stockExact: 'toString(`#stock`)',
  stockStatus: "if(`#status_rank` < length({statuses:Array(String)}), {statuses:Array(String)}[`#status_rank` + 1], 'OUT_OF_STOCK')",
  hits: "`#hits` + throwIf(`#hits` NOT BETWEEN -2147483648 AND 2147483647, 'the hits do not fit 32 bits')",
  trending: 'toBool(`#trending`)',
  rankStatus: "if(`#trending`, 'Trending 🔥', NULL)",
}
/** REST `api_product_grid`'s columns: name, ClickHouse type (its `meta`), value from the grid's columns. */
const REST_GRID_COLUMNS = [
  ['id', 'String', 'id'],
  ['name', 'String', 'name'],
  ['stock', 'Int64', 'stock'],
  ['stock_status', 'UInt8', 'status_rank'],
  ['hits', 'UInt64', 'hits'],
  ['rank_status', 'Nullable(String)', "if(trending, 'Trending 🔥', NULL)"],
  ['photo', 'String', 'photo'],
  ['price', 'Float64', 'price'],
] as const
/**
 * FORMAT JSON's envelope, unindented: `meta` written here, the rest by the Template format (the counts and
 * time as plain numbers, as FORMAT JSON writes them whether or not 64-bit integers are quoted).
 */
const REST_GRID_ENVELOPE =
  `{"meta":${JSON.stringify(REST_GRID_COLUMNS.map(([name, type]) => ({ name, type })))},` +
  '"data":[${data}],"rows":${rows:Raw},"statistics":{"elapsed":${time:Raw},"rows_read":${rows_read:Raw},"bytes_read":${bytes_read:Raw}}}'
/** A key `productGridRows` may write (a GraphQL name: safe as a quoted identifier). */
const KEY = /^[_A-Za-z][_0-9A-Za-z]*$/

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
    const doc = await this.q.compact('api_product_grid', {
      category: query.category,
      showOutOfStock: query.showOutOfStock,
      trendingOrder: query.ranking === 'TRENDING',
      lowStock: lowStockThreshold,
    })
    const [id, category, name, photo, price, stock, rank, hits, trending] = columnsOf(doc, GRID_COLUMNS)
    // The page's hot loop (thousands of rows): one object literal per row, built from the row's array.
    const rows = doc.data
    const items = new Array<GridItem>(rows.length)
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!
      const isTrending = r[trending] === true || Number(r[trending]) === 1
      const available = r[stock]
      items[i] = {
        id: r[id] as string,
        category: r[category] as string,
        name: r[name] as string,
        photo: r[photo] as string,
        price: finite(r[price], 'price'),
        stock: Number(available),
        stockExact: String(available),
        stockStatus: stockStatusOfRank(Number(r[rank])),
        hits: Number(r[hits]),
        trending: isTrending,
        rankStatus: isTrending ? 'Trending 🔥' : null, // the seed pipe's rank_status
      }
    }
    return items
  }

  /**
   * The grid's items as one JSON array of objects, written by ClickHouse (`FORMAT Template`) and passed on
   * as its bytes: each object has `fields` (key, then the GridItem field it holds) in that order, with the
   * values `productGrid` gives them (numbers, strings, booleans, null; `stockStatus` by name). For a GraphQL
   * answer of plain fields, whose keys are its response keys. Fails (the caller then takes `productGrid`) when a value does
   * not fit (see GRID_JSON) or the answer is not one whole array.
   */
  async productGridRows(query: GridQuery, lowStockThreshold: number, fields: ReadonlyArray<readonly [key: string, field: keyof GridItem]>): Promise<Buffer> {
    if (fields.length === 0) throw new StoreInputError('the grid rows need at least one field')
    const select = fields.map(([key, field]) => {
      const expression = GRID_JSON[field]
      if (!KEY.test(key) || expression === undefined) throw new StoreInputError(`cannot write the grid field ${field} as ${key}`)
      return `${expression} AS \`${key}\``
    })
    const params = {
      category: query.category,
      showOutOfStock: query.showOutOfStock,
      trendingOrder: query.ranking === 'TRENDING',
      lowStock: lowStockThreshold,
      statuses: [...STOCK_STATUSES],
    }
    // Each row an object of the requested keys, in order (keys are GraphQL names: no quote, dollar or
    // backslash to escape), values in JSON; then what the statement read, which templateBytes cuts off.
    const row = jsonObjectRow(fields.map(([key]) => key))
    const bytes = await this.q.templateBytes('api_product_grid', params, (grid) =>
      [
        `SELECT ${select.join(', ')}`,
        `FROM (SELECT ${GRID_COLUMNS.map((c) => `${c} AS \`#${c}\``).join(', ')} FROM (\n${grid}\n))`,
        'FORMAT Template',
        // 64-bit integers (the Int fields, checked to fit 32 bits) as numbers; UTF-8 that is not valid becomes
        // U+FFFD, as decoding the text in JavaScript would.
        `SETTINGS format_template_resultset_format = '[\${data}]${TEMPLATE_TRAILER}', format_template_row_format = '${row}',`,
        "  format_template_rows_between_delimiter = ',', output_format_json_quote_64bit_integers = 0, output_format_json_quote_denormals = 0,",
        '  output_format_json_escape_forward_slashes = 0, output_format_json_validate_utf8 = 1',
      ].join('\n'),
    )
    if (!wholeArray(bytes)) throw new StoreUnavailableError('the grid rows are not one whole JSON array')
    return bytes
  }

  /**
   * The grid as the seed's `api_product_grid` endpoint answers it (REST): the envelope of ClickHouse's
   * `FORMAT JSON` (meta, data, rows, statistics; Tinybird's) without its indentation, written by ClickHouse
   * (`FORMAT Template`: a quarter fewer bytes to write and send at the same values) and passed on as its
   * bytes, with the endpoint's columns and types (`stock_status` the status's rank, `rank_status`
   * 'Trending 🔥' for trending rows), in the grid's order, 64-bit integers quoted or not.
   */
  productGridJson(query: GridQuery, lowStockThreshold: number, quote64BitIntegers: boolean): Promise<Buffer> {
    const params = { category: query.category, showOutOfStock: query.showOutOfStock, trendingOrder: query.ranking === 'TRENDING', lowStock: lowStockThreshold }
    return this.q.templateBytes('api_product_grid', params, (grid) =>
      [
        // Each column cast to the type REST_GRID_COLUMNS gives it (its `meta`), so the two cannot drift apart.
        `SELECT ${REST_GRID_COLUMNS.map(([name, type, expression]) => `CAST(${expression} AS ${type}) AS ${name}`).join(', ')}`,
        `FROM (\n${grid}\n)`,
        'FORMAT Template',
        `SETTINGS format_template_resultset_format = '${REST_GRID_ENVELOPE}${TEMPLATE_TRAILER}',`,
        `  format_template_row_format = '${jsonObjectRow(REST_GRID_COLUMNS.map(([name]) => name))}', format_template_rows_between_delimiter = ',',`,
        `  output_format_json_quote_64bit_integers = ${quote64BitIntegers ? 1 : 0}, output_format_json_escape_forward_slashes = 0, output_format_json_quote_denormals = 0`,
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

/** Whether `bytes` start with `[` and end with `]` (ClickHouse's array of rows, trailing newline aside). */
function wholeArray(bytes: Buffer): boolean {
  let end = bytes.length - 1
  while (end >= 0 && (bytes[end] === 0x0a || bytes[end] === 0x20)) end--
  return bytes[0] === 0x5b && end > 0 && bytes[end] === 0x5d
}
