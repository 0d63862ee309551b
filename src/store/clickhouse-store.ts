import type { ClickHouseClient } from '@clickhouse/client'
import type { StoreConfig } from '../config.js'
import {
  APP_TABLE,
  BUCKET_SQL,
  DIMENSION_SQL,
  emptyMetrics,
  filterSql,
  metricsSql,
  toMetrics,
  type AnalyticsQuery,
  type AppMetricsRow,
  type BreakdownQuery,
  type MetricsRecord,
  type TimeseriesQuery,
} from './analytics.js'
import { bucketEnd, bucketStarts, zeroFill } from './buckets.js'
import { insertRows, selectRows, toChDateTime, toChDateTime64, type QueryParams } from './clickhouse.js'
import { createConnection } from './connection.js'
import { isMigrated, migrate } from './migrate.js'
import { QueryFiles, type RenderOptions } from './sql.js'
import type { IngestOutcome, Store } from './store.js'
import type {
  AppEventRow,
  EcommEventRow,
  GridItem,
  GridQuery,
  IngestOptions,
  IngestTable,
  Product,
  ProductRow,
  QuarantinedRow,
  RowError,
  StockChange,
  StockLevel,
  StockStatus,
  TokenRecord,
  TrendPoint,
  TrendQuery,
  UiFilterOption,
  WarehouseStockRow,
} from './types.js'
import {
  checkAppEvent,
  checkEcommEvent,
  checkProduct,
  checkWarehouseStock,
  type Checked,
  type ValidAppEvent,
  type ValidEcommEvent,
  type ValidProduct,
  type ValidWarehouseStock,
} from './validate.js'

const STATUS: readonly StockStatus[] = ['IN_STOCK', 'LOW_STOCK', 'OUT_OF_STOCK']
const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

interface ProductRecord {
  id: string
  category: string
  name: string
  photo: string
  price: number
}

/** The Store on ClickHouse: embedded chDB or a server, through the same `@clickhouse/client`. */
export class ClickHouseStore implements Store {
  private readonly sql: QueryFiles
  private readonly render: RenderOptions
  private lastVersion = 0n

  constructor(
    private readonly client: ClickHouseClient,
    private readonly config: Pick<StoreConfig, 'database' | 'cluster'>,
  ) {
    this.render = { database: config.database, cluster: config.cluster }
    this.sql = new QueryFiles(this.render)
  }

  static open(config: StoreConfig): ClickHouseStore {
    return new ClickHouseStore(createConnection(config), config)
  }

  private table(name: string): string {
    return `${this.config.database}.${name}`
  }

  private rows<T>(name: string, params: QueryParams = {}, slots: Record<string, string> = {}): Promise<T[]> {
    let text = this.sql.get(name)
    for (const [slot, value] of Object.entries(slots)) text = text.replaceAll(`{{${slot}}}`, value)
    return selectRows<T>(this.client, text, params)
  }

  async migrate(): Promise<{ applied: string[] }> {
    return migrate(this.client, this.render)
  }

  async ping(): Promise<void> {
    await selectRows(this.client, 'SELECT 1')
  }

  async isReady(): Promise<boolean> {
    try {
      return await isMigrated(this.client, this.render)
    } catch {
      return false
    }
  }

  async close(): Promise<void> {
    await this.client.close()
  }

  // ---- tokens ------------------------------------------------------------------------------

  async insertToken(t: TokenRecord): Promise<void> {
    await insertRows(this.client, this.table('tokens'), [
      {
        name: t.name,
        hash: t.hash,
        scopes: t.scopes,
        workspace_id: t.workspaceId ?? '',
        created_at: toChDateTime64(t.createdAt),
        expires_at: t.expiresAt ? toChDateTime64(t.expiresAt) : null,
        revoked: 0,
        version: this.nextVersion().toString(),
      },
    ])
  }

  async findTokenByHash(hash: string): Promise<TokenRecord | null> {
    const rows = await selectRows<{
      name: string
      scopes: string[]
      workspace_id: string
      created_ms: number
      expires_ms: number | null
    }>(
      this.client,
      `SELECT name, scopes, workspace_id, toUnixTimestamp64Milli(created_at) AS created_ms,
              toUnixTimestamp64Milli(expires_at) AS expires_ms
       FROM ${this.table('tokens')} FINAL
       WHERE hash = {hash:String} AND revoked = 0
       LIMIT 1`,
      { hash },
    )
    const r = rows[0]
    if (!r) return null
    return {
      name: r.name,
      hash,
      scopes: r.scopes,
      workspaceId: r.workspace_id || null,
      createdAt: new Date(Number(r.created_ms)),
      expiresAt: r.expires_ms === null ? null : new Date(Number(r.expires_ms)),
    }
  }

  async tokenNameExists(name: string): Promise<boolean> {
    const rows = await selectRows(
      this.client,
      `SELECT 1 FROM ${this.table('tokens')} FINAL WHERE name = {name:String} AND revoked = 0 LIMIT 1`,
      { name },
    )
    return rows.length > 0
  }

  async revokeToken(name: string): Promise<boolean> {
    const rows = await selectRows<Record<string, unknown>>(
      this.client,
      `SELECT name, hash, scopes, workspace_id, created_at, expires_at
       FROM ${this.table('tokens')} FINAL WHERE name = {name:String} AND revoked = 0 LIMIT 1`,
      { name },
    )
    const live = rows[0]
    if (!live) return false
    await insertRows(this.client, this.table('tokens'), [{ ...live, revoked: 1, version: this.nextVersion().toString() }])
    return true
  }

  /** Strictly increasing versions for ReplacingMergeTree rows: microseconds, bumped on ties. */
  private nextVersion(): bigint {
    const now = BigInt(Date.now()) * 1000n
    this.lastVersion = now > this.lastVersion ? now : this.lastVersion + 1n
    return this.lastVersion
  }

  // ---- ecommerce reads -----------------------------------------------------------------------

  async products(category: string | undefined, limit: number, offset: number): Promise<Product[]> {
    const rows = await this.rows<ProductRecord>('products', { category: category ?? null, limit, offset })
    return rows.map(toProduct)
  }

  async productsByIds(ids: readonly string[]): Promise<Array<Product | null>> {
    if (ids.length === 0) return []
    const rows = await this.rows<ProductRecord>('products_by_id', { ids })
    const byId = new Map(rows.map((r) => [r.id, toProduct(r)]))
    return ids.map((id) => byId.get(id) ?? null)
  }

  async stock(ids: readonly string[]): Promise<StockLevel[]> {
    if (ids.length === 0) return []
    const rows = await this.rows<{ product: string; available: number }>('stock', { ids })
    const byId = new Map(rows.map((r) => [r.product, Number(r.available)]))
    return ids.map((product) => ({ product, available: byId.get(product) ?? 0 }))
  }

  async recentSales(ids: readonly string[]): Promise<number[]> {
    if (ids.length === 0) return []
    const rows = await this.rows<{ product: string; hits: number }>('recent_sales', { ids })
    const byId = new Map(rows.map((r) => [r.product, Number(r.hits)]))
    return ids.map((id) => byId.get(id) ?? 0)
  }

  async productGrid(q: GridQuery, lowStockThreshold: number): Promise<GridItem[]> {
    const rows = await this.rows<ProductRecord & { stock: number; status_rank: number; hits: number; trending: number | boolean }>(
      'api_product_grid',
      {
        category: q.category,
        showOutOfStock: q.showOutOfStock,
        trendingOrder: q.ranking === 'TRENDING',
        lowStock: lowStockThreshold,
      },
    )
    return rows.map((r) => ({
      ...toProduct(r),
      stock: Number(r.stock),
      stockStatus: STATUS[Number(r.status_rank)] ?? 'OUT_OF_STOCK',
      hits: Number(r.hits),
      trending: r.trending === true || Number(r.trending) === 1,
    }))
  }

  async productFilterOptions(category: string): Promise<UiFilterOption[]> {
    const rows = await this.rows<{ id: string; name: string }>('api_ui_filters', { category })
    return rows.map((r) => ({ id: r.id, value: r.name }))
  }

  async ecommTrend(q: TrendQuery): Promise<TrendPoint[]> {
    const starts = bucketStarts(q.from, q.to, q.granularity, q.timezone)
    const first = starts[0]
    if (!first) return []
    // Whole buckets at both ends, like the first one: a partial last bucket would be cut at the
    // rollup's resolution, so the same range would count differently from one zone to another.
    const end = bucketEnd(starts[starts.length - 1] ?? first, q.granularity, q.timezone)
    // The coarsest rollup whose buckets nest inside the requested ones: every boundary on its grid.
    // (Checking the zone's offset only at the ends misses mid-range shifts, e.g. Lord Howe's 30 min.)
    const bounds = [...starts, end]
    const onGrid = (ms: number) => bounds.every((d) => d.getTime() % ms === 0)
    const rollup = q.granularity === 'MINUTE' ? 'minute' : onGrid(DAY_MS) ? 'day' : onGrid(HOUR_MS) ? 'hour' : 'minute'
    const rows = await this.rows<{ start: number; views: number; carts: number; sales: number; revenue: number }>(
      'ecomm_trend',
      {
        from: toChDateTime(first),
        to: toChDateTime(end),
        product: q.product ?? null,
        category: q.category,
        tz: q.timezone,
      },
      { rollup, bucket: BUCKET_SQL[q.granularity]('r.bucket') },
    )
    const byStart = new Map(
      rows.map((r) => [
        Number(r.start) * 1000,
        { views: Number(r.views), carts: Number(r.carts), sales: Number(r.sales), revenue: Number(r.revenue) },
      ]),
    )
    return zeroFill(starts, byStart, { views: 0, carts: 0, sales: 0, revenue: 0 }).map(({ start, value }) => ({
      start,
      ...value,
    }))
  }

  // ---- app analytics -------------------------------------------------------------------------

  private analyticsParams(q: AnalyticsQuery): { params: QueryParams; slots: Record<string, string> } {
    const params: QueryParams = {
      workspace: q.workspaceId,
      from: toChDateTime64(q.from),
      to: toChDateTime64(q.to),
    }
    const slots = { table: APP_TABLE[q.app], metrics: metricsSql(q.app), filters: filterSql(q.filter, params) }
    return { params, slots }
  }

  async analyticsTotals(q: AnalyticsQuery): Promise<AppMetricsRow> {
    const { params, slots } = this.analyticsParams(q)
    const [row] = await this.rows<MetricsRecord>('analytics_totals', params, slots)
    return row ? toMetrics(q.app, row) : emptyMetrics(q.app)
  }

  async analyticsBreakdown(q: BreakdownQuery): Promise<Array<{ value: string; metrics: AppMetricsRow }>> {
    const { params, slots } = this.analyticsParams(q)
    params.limit = q.limit
    const rows = await this.rows<MetricsRecord & { value: string }>('analytics_breakdown', params, {
      ...slots,
      dimension: DIMENSION_SQL[q.by],
    })
    return rows.map((r) => ({ value: r.value, metrics: toMetrics(q.app, r) }))
  }

  async analyticsTimeseries(q: TimeseriesQuery): Promise<Array<{ start: Date; metrics: AppMetricsRow }>> {
    const starts = bucketStarts(q.from, q.to, q.granularity, q.timezone)
    const { params, slots } = this.analyticsParams(q)
    params.tz = q.timezone
    const rows = await this.rows<MetricsRecord & { start: number }>('analytics_timeseries', params, {
      ...slots,
      bucket: BUCKET_SQL[q.granularity]('timestamp'),
    })
    const byStart = new Map(rows.map((r) => [Number(r.start) * 1000, toMetrics(q.app, r)]))
    return zeroFill(starts, byStart, emptyMetrics(q.app)).map(({ start, value }) => ({ start, metrics: value }))
  }

  // ---- ingest --------------------------------------------------------------------------------

  async ingestEcommEvents(rows: readonly EcommEventRow[], options: IngestOptions = {}): Promise<IngestOutcome> {
    const now = new Date()
    return this.ingest('ecomm_events', rows, (r) => checkEcommEvent(r, now), options, (good: ValidEcommEvent[]) => ({
      rows: good.map((r) => ({ timestamp: toChDateTime(r.timestamp), event: r.event, product: r.product })),
      changes: sumChanges(good.filter((r) => r.event === 'sale').map((r) => [r.product, -1])),
    }))
  }

  async ingestWarehouseStock(rows: readonly WarehouseStockRow[], options: IngestOptions = {}): Promise<IngestOutcome> {
    const now = new Date()
    return this.ingest('warehouse_stock', rows, (r) => checkWarehouseStock(r, now), options, (good: ValidWarehouseStock[]) => ({
      rows: good.map((r) => ({ timestamp: toChDateTime(r.timestamp), product: r.product, store: r.store, amount: r.amount })),
      changes: sumChanges(good.map((r) => [r.product, r.amount])),
    }))
  }

  async upsertProducts(rows: readonly ProductRow[], options: IngestOptions = {}): Promise<IngestOutcome> {
    return this.ingest('products', rows, checkProduct, options, (good: ValidProduct[]) => ({
      // Later rows of a batch win over earlier ones: each gets a higher version.
      rows: good.map((r) => ({ ...r, version: this.nextVersion().toString() })),
      changes: [],
    }))
  }

  async ingestAppEvents(rows: readonly AppEventRow[], options: IngestOptions = {}): Promise<IngestOutcome> {
    const now = new Date()
    return this.ingest('app_events', rows, (r) => checkAppEvent(r, now, options.workspaceId), options, (good: ValidAppEvent[]) => ({
      rows: good.map(toAppEventRecord),
      changes: [],
    }))
  }

  /**
   * The one write path: validate every row, quarantine the bad ones with their reason, store the
   * good ones, and answer only after both are written. With an idempotency key, the inserts carry
   * it as their deduplication token and the result is recorded, so a retry stores nothing twice.
   */
  private async ingest<In, Valid>(
    table: IngestTable,
    input: readonly In[],
    check: (row: In) => Checked<Valid>,
    options: IngestOptions,
    encode: (good: Valid[]) => { rows: object[]; changes: StockChange[] },
  ): Promise<IngestOutcome> {
    const key = options.idempotencyKey
    if (key !== undefined) {
      const previous = await this.previousBatch(table, key)
      if (previous) return { ...previous, deduplicated: true, stockChanges: [] }
    }
    const good: Valid[] = []
    const errors: RowError[] = []
    const bad: object[] = []
    const at = toChDateTime64(new Date())
    input.forEach((row, index) => {
      const checked = check(row)
      if (checked.ok) {
        good.push(checked.row)
      } else {
        errors.push({ index, message: checked.reason })
        bad.push({ row: JSON.stringify(row), reason: `row ${index}: ${checked.reason}`, at })
      }
    })
    const { rows, changes } = encode(good)
    const token = key === undefined ? undefined : `${table}:${key}`
    await insertRows(this.client, this.table(`${table}_quarantine`), bad, token && `${token}:quarantine`)
    await insertRows(this.client, this.table(table), rows, token)
    if (key !== undefined) {
      await insertRows(this.client, this.table('ingest_batches'), [
        { table, key, accepted: good.length, quarantined: bad.length, errors: JSON.stringify(errors), at },
      ])
    }
    return { accepted: good.length, quarantined: bad.length, errors, deduplicated: false, stockChanges: changes }
  }

  private async previousBatch(
    table: IngestTable,
    key: string,
  ): Promise<{ accepted: number; quarantined: number; errors: RowError[] } | null> {
    const [row] = await selectRows<{ accepted: number; quarantined: number; errors: string }>(
      this.client,
      `SELECT accepted, quarantined, errors FROM ${this.table('ingest_batches')} FINAL
       WHERE table = {table:String} AND key = {key:String} LIMIT 1`,
      { table, key },
    )
    if (!row) return null
    return { accepted: Number(row.accepted), quarantined: Number(row.quarantined), errors: JSON.parse(row.errors) as RowError[] }
  }

  async quarantine(table: IngestTable, limit: number): Promise<QuarantinedRow[]> {
    const rows = await this.rows<{ row: string; reason: string; at_ms: number }>('quarantine', { limit }, { table })
    return rows.map((r) => ({ table, row: r.row, reason: r.reason, at: new Date(Number(r.at_ms)) }))
  }

  // ---- live stock ------------------------------------------------------------------------------

  async stockChangesSince(since: Date): Promise<Array<StockChange & { id: string; at: Date }>> {
    const rows = await this.rows<{ id: string; product: string; delta: number; at_us: number }>('stock_changes_since', {
      since: toChDateTime64(since),
    })
    return rows.map((r) => ({ id: r.id, product: r.product, delta: Number(r.delta), at: new Date(Number(r.at_us) / 1000) }))
  }
}

function toProduct(r: ProductRecord): Product {
  return { id: r.id, category: r.category, name: r.name, photo: r.photo, price: Number(r.price) }
}

function sumChanges(pairs: Array<[string, number]>): StockChange[] {
  const byProduct = new Map<string, number>()
  for (const [product, delta] of pairs) byProduct.set(product, (byProduct.get(product) ?? 0) + delta)
  return [...byProduct].filter(([, delta]) => delta !== 0).map(([product, delta]) => ({ product, delta }))
}

function toAppEventRecord(r: ValidAppEvent): object {
  return {
    timestamp: toChDateTime64(r.timestamp),
    event_type: r.app,
    action: r.action,
    workspace_id: r.workspaceId,
    session_id: r.sessionId,
    visitor_id: r.visitorId,
    asset_id: r.assetId,
    browser: r.browser,
    os: r.os,
    device: r.device,
    country: r.country,
    region: r.region,
    city: r.city,
    referer: r.referer,
    platform: r.platform,
    email_broadcast_id: r.emailBroadcastId,
    email_template_id: r.emailTemplateId,
    flow_action_id: r.flowActionId,
    landing_page_id: r.landingPageId,
    meta_ad_id: r.metaAdId,
    meta_ad_set_id: r.metaAdSetId,
    meta_campaign_id: r.metaCampaignId,
    meta_placement_id: r.metaPlacementId,
    revenue: r.revenue,
  }
}
