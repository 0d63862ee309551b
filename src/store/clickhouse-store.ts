import type { ClickHouseClient } from '@clickhouse/client'
import { stockStatusOfRank } from '../catalog/index.js'
import type { StoreConfig, WorkloadConfig } from '../config.js'
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
  type BreakdownCountQuery,
  type BreakdownQuery,
  type MetricsRecord,
  type TimeseriesQuery,
} from './analytics.js'
import { join } from 'node:path'
import { batchId, BatchLedger, keyedInsert, QUARANTINE_COLUMNS, quarantineId, slices, type Slice } from './batches.js'
import { bucketEnd, bucketStarts, zeroFill } from './buckets.js'
import { finite, insertRows, runCommand, selectRows, toChDateTime, toChDateTime64, type QueryParams } from './clickhouse.js'
import { createConnection } from './connection.js'
import { DatasourceRepository } from './datasources.js'
import { SharedExclusiveGate } from './gate.js'
import { SqlRepository } from './sql-query.js'
import { ProjectRepository } from './project.js'
import { applyDurability, isMigrated, migrate } from './migrate.js'
import { IngestJournal } from './journal.js'
import { observeQueries, type QueryListener } from './query-stats.js'
import { asWork, attachWorkload, DEFAULT_WORKLOAD, Workload, type WorkKind } from './workload.js'
import { QueryFiles, type RenderOptions } from './sql.js'
import type { IngestOutcome, Store } from './store.js'
import type {
  AppEventRow,
  EcommEventRow,
  ErrorLogEntry,
  IngestLogEntry,
  OperationStat,
  ServiceLogBatch,
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
  insertColumns,
  StockBalance,
  stockProducts,
  type Checked,
  type ValidAppEvent,
  type ValidEcommEvent,
  type ValidProduct,
  type ValidWarehouseStock,
} from './validate.js'

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
  readonly datasources: DatasourceRepository
  /** Ingest holds it shared, `betweenWrites` exclusively (see SharedExclusiveGate). */
  private readonly writes = new SharedExclusiveGate()
  readonly sqlApi: SqlRepository
  private readonly ledger: BatchLedger
  private readonly running = new Map<string, Promise<void>>()
  private readonly journal: IngestJournal | undefined

  /** The scheduler and limits every query of this store goes through. */
  readonly workload: Workload

  constructor(
    private readonly client: ClickHouseClient,
    private readonly config: Pick<StoreConfig, 'database' | 'cluster' | 'durability' | 'clusterMode'> & Partial<Pick<StoreConfig, 'url' | 'dataDir'>>,
    workload: WorkloadConfig = DEFAULT_WORKLOAD,
    /** A second connection to the same embedded store for priority inserts and health checks. */
    private readonly lane?: ClickHouseClient,
  ) {
    this.render = { database: config.database, cluster: config.cluster, clusterMode: config.clusterMode }
    this.sql = new QueryFiles(this.render)
    this.datasources = new DatasourceRepository(client, config.database, config.cluster, config.clusterMode === 'sharded')
    this.sqlApi = new SqlRepository(client, config.database)
    this.ledger = new BatchLedger(client, config.database)
    // The journal lives next to the embedded store's data; a remote store has no local disk to trust.
    if (!config.url && config.dataDir) {
      this.journal = new IngestJournal(join(config.dataDir, 'sightline-journal', config.database), config.durability !== 'none')
    }
    this.workload = new Workload(workload, lane)
    attachWorkload(client, this.workload)
    // Each method runs as its kind of work (limits, queue priority), its bodies unchanged.
    const self = this as unknown as Record<string, (...args: unknown[]) => unknown>
    for (const [method, kind] of Object.entries(WORK) as Array<[string, WorkKind]>) {
      const fn = self[method]!.bind(this)
      self[method] = (...args: unknown[]) => asWork(kind, () => fn(...args))
    }
  }

  /** Opens the configured backend; `onQuery` hears of every store call (for latency metrics). */
  static open(config: StoreConfig, onQuery?: QueryListener, workload?: WorkloadConfig): ClickHouseStore {
    const client = createConnection(config)
    if (onQuery) observeQueries(client, onQuery)
    // Embedded chDB: a second session on the same data runs ingest's inserts beside a running read.
    const lane = config.url ? undefined : createConnection(config)
    return new ClickHouseStore(client, config, workload, lane)
  }

  private table(name: string): string {
    return `${this.config.database}.${name}`
  }

  /** A loaded Tinybird project's database on this store's connection (`SIGHTLINE_PROJECT`). */
  project(database: string): ProjectRepository {
    return new ProjectRepository(this.client, database)
  }

  private rows<T>(name: string, params: QueryParams = {}, slots: Record<string, string> = {}): Promise<T[]> {
    let text = this.sql.get(name)
    for (const [slot, value] of Object.entries(slots)) text = text.replaceAll(`{{${slot}}}`, value)
    return selectRows<T>(this.client, text, params)
  }

  /**
   * Applies pending migrations, then the configured durability to every data table, then completes the
   * keyed batches an unclean stop left in the ingest journal.
   */
  async migrate(): Promise<{ applied: string[]; recovered: number }> {
    const report = await migrate(this.client, this.render)
    await applyDurability(this.client, this.render, this.config.durability)
    return { ...report, recovered: await this.recover() }
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
    await this.lane?.close()
    await this.client.close()
  }

  async resetData(): Promise<string[]> {
    const rows = await selectRows<{ name: string }>(
      this.client,
      `SELECT name FROM system.tables
       WHERE database = {db:String} AND engine NOT IN ('MaterializedView', 'View', 'Distributed')
         AND name NOT IN ('tokens', 'schema_migrations', 'operation_log', 'ingest_log', 'error_log')
       ORDER BY name`,
      { db: this.config.database },
    )
    const onCluster = this.config.cluster ? ` ON CLUSTER ${this.config.cluster}` : ''
    for (const { name } of rows) await this.client.command({ query: `TRUNCATE TABLE IF EXISTS ${this.table(name)}${onCluster}` })
    return rows.map((r) => r.name)
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

  async listTokens(): Promise<Array<Omit<TokenRecord, 'hash'>>> {
    const rows = await selectRows<{ name: string; scopes: string[]; workspace_id: string; created_ms: number; expires_ms: number | null }>(
      this.client,
      `SELECT name, scopes, workspace_id, toUnixTimestamp64Milli(created_at) AS created_ms,
              toUnixTimestamp64Milli(expires_at) AS expires_ms
       FROM ${this.table('tokens')} FINAL
       WHERE revoked = 0
       ORDER BY name`,
    )
    return rows.map((r) => ({
      name: r.name,
      scopes: r.scopes,
      workspaceId: r.workspace_id || null,
      createdAt: new Date(Number(r.created_ms)),
      expiresAt: r.expires_ms === null ? null : new Date(Number(r.expires_ms)),
    }))
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
        { views: Number(r.views), carts: Number(r.carts), sales: Number(r.sales), revenue: finite(r.revenue, 'revenue') },
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

  async analyticsBreakdownCount(q: BreakdownCountQuery): Promise<number> {
    const { params, slots } = this.analyticsParams(q)
    const [row] = await this.rows<{ total: number }>('analytics_breakdown_count', params, { ...slots, dimension: DIMENSION_SQL[q.by] })
    return Number(row?.total ?? 0)
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
    return this.ingest('ecomm_events', rows, options, {
      check: (r) => checkEcommEvent(r, now),
      encode: (r: ValidEcommEvent) => [toChDateTime(r.timestamp), r.event, r.product],
      move: (r, stock) => {
        if (r.event === 'sale') stock.set(r.product, (stock.get(r.product) ?? 0) - 1)
      },
    })
  }

  async ingestWarehouseStock(rows: readonly WarehouseStockRow[], options: IngestOptions = {}): Promise<IngestOutcome> {
    const now = new Date()
    // Today's stock of the products touched, so an update that would overflow Int is quarantined.
    const balance = new StockBalance((await this.stock(stockProducts(rows))).map((s) => [s.product, s.available]))
    return this.ingest('warehouse_stock', rows, options, {
      check: (r) => checkWarehouseStock(r, now, balance),
      encode: (r: ValidWarehouseStock) => [toChDateTime(r.timestamp), r.product, r.store, r.amount],
      move: (r, stock) => stock.set(r.product, (stock.get(r.product) ?? 0) + r.amount),
    })
  }

  async upsertProducts(rows: readonly ProductRow[], options: IngestOptions = {}): Promise<IngestOutcome> {
    return this.ingest('products', rows, options, {
      check: checkProduct,
      // Later rows of a batch win over earlier ones: each gets a higher version.
      encode: (r: ValidProduct) => [r.id, r.category, r.name, r.photo, r.price, this.nextVersion().toString()],
    })
  }

  async ingestAppEvents(rows: readonly AppEventRow[], options: IngestOptions = {}): Promise<IngestOutcome> {
    const now = new Date()
    return this.ingest('app_events', rows, options, {
      check: (r) => checkAppEvent(r, now, options.workspaceId),
      encode: encodeAppEvent,
    })
  }

  /**
   * The one write path: validate every row, quarantine the bad ones with their reason, store the
   * good ones, and answer only after both are written.
   *
   * With an idempotency key the batch is exactly once under crashes (issue 17): its rows carry the
   * batch's id in the hidden `_batch` column (views keep it, or a marker row), and the batch's result
   * is recorded last. A retry whose record is missing counts what the first attempt left in the table,
   * the quarantine and every view, and fills in only what is missing (`BatchLedger`); it answers
   * `deduplicated` exactly when nothing was. ClickHouse's deduplication log is not relied upon: on a
   * local MergeTree it records a block before the part is renamed into place. One key is handled by
   * one call at a time in this process.
   *
   * One pass over the batch: each good row becomes the array of values ClickHouse reads (in
   * `COLUMNS` order) as soon as it is checked, with no intermediate list of checked rows.
   */
  private ingest<In, Valid>(table: IngestTable, input: readonly In[], options: IngestOptions, codec: RowCodec<In, Valid>): Promise<IngestOutcome> {
    return this.writes.runShared(() => this.ingestNow(table, input, options, codec))
  }

  async betweenWrites<T>(read: () => Promise<T>): Promise<T> {
    return this.writes.runExclusive(read)
  }

  private async ingestNow<In, Valid>(
    table: IngestTable,
    input: readonly In[],
    options: IngestOptions,
    codec: RowCodec<In, Valid>,
  ): Promise<IngestOutcome> {
    // A key names a batch of one caller (token): two callers that happen to choose the same key send
    // two batches, and neither is dropped as the other's retry nor answered with the other's result.
    const key = options.idempotencyKey === undefined ? undefined : JSON.stringify([options.tokenName ?? '', options.idempotencyKey])
    if (key === undefined) return this.write(table, input, options, codec, undefined)
    return this.oneAtATime(`${table}\n${key}`, async () => {
      const previous = await this.previousBatch(table, key)
      if (!previous) return this.write(table, input, options, codec, key)
      const { recovered, ...result } = previous
      // Completed at start-up, not by the first attempt: this retry is the first to hear of it.
      if (recovered) await this.recordBatch(table, key, result, false)
      return { ...result, deduplicated: !recovered, stockChanges: [] }
    })
  }

  private async write<In, Valid>(
    table: IngestTable,
    input: readonly In[],
    options: IngestOptions,
    codec: RowCodec<In, Valid>,
    key: string | undefined,
  ): Promise<IngestOutcome> {
    const rows: unknown[][] = []
    const stock = new Map<string, number>()
    const errors: RowError[] = []
    const bad: Array<Record<string, unknown>> = []
    const at = toChDateTime64(new Date())
    for (let index = 0; index < input.length; index++) {
      const row = input[index] as In
      const checked = codec.check(row)
      if (checked.ok) {
        rows.push(codec.encode(checked.row))
        codec.move?.(checked.row, stock)
      } else {
        errors.push({ index, message: checked.reason })
        const source = options.sources?.[index]
        bad.push({ row: source?.row ?? JSON.stringify(row), reason: `${source?.label ?? `row ${index}`}: ${checked.reason}`, at })
      }
    }
    options.rejected?.forEach((record, i) => {
      const index = input.length + i
      errors.push({ index, message: record.reason })
      bad.push({ row: record.row, reason: `${options.sources?.[index]?.label ?? `row ${index}`}: ${record.reason}`, at })
    })
    const stockChanges: StockChange[] = []
    for (const [product, delta] of stock) if (delta !== 0) stockChanges.push({ product, delta })
    const outcome = { accepted: rows.length, quarantined: bad.length, errors, deduplicated: false, stockChanges }
    if (key === undefined) {
      await insertRows(this.client, this.table(`${table}_quarantine`), bad)
      await insertRows(this.client, this.table(table), rows, undefined, COLUMNS[table])
      return outcome
    }
    const id = batchId(table, key)
    const batch: PreparedBatch = {
      table,
      key,
      id,
      parts: slices(id, rows, PARTITIONED[table] ? monthOf : undefined),
      quarantine: { id: quarantineId(id), rows: bad.map((b) => [b.row, b.reason, b.at, quarantineId(id)]) },
      result: { accepted: rows.length, quarantined: bad.length, errors },
    }
    await this.journal?.begin(id, batch)
    const repaired = await this.commit(batch, false)
    return repaired ? outcome : { ...outcome, deduplicated: true, stockChanges: [] }
  }

  /**
   * Stores a keyed batch: afresh when nothing of it is stored yet, else only its missing parts; then its
   * record, then ends its journal entry. Returns true when anything was written (the batch had not fully
   * landed before). `recovering`: start-up is completing it from the journal.
   */
  private async commit(batch: PreparedBatch, recovering: boolean): Promise<boolean> {
    const { table, parts, quarantine } = batch
    const columns: readonly [string, ...string[]] = [...COLUMNS[table], '_batch']
    let repaired = true
    if ((await this.ledger.traces(table, [...parts.map((p) => p.id), quarantine.id])) === 0) {
      await insertRows(this.client, this.table(`${table}_quarantine`), quarantine.rows, undefined, QUARANTINE_COLUMNS, keyedInsert(quarantine.rows.length))
      for (const part of parts) await insertRows(this.client, this.table(table), part.rows, undefined, columns, keyedInsert(part.rows.length))
    } else {
      // A previous attempt died part-way (or just before its record): complete it, one repair at a time.
      repaired = await this.oneAtATime(`repair\n${table}`, () => this.ledger.repair(table, columns, parts, quarantine))
    }
    await this.recordBatch(table, batch.key, batch.result, recovering && repaired)
    await this.journal?.end(batch.id)
    return repaired
  }

  private async recordBatch(table: IngestTable, key: string, result: BatchResult, recovered: boolean): Promise<void> {
    await insertRows(this.client, this.table('ingest_batches'), [
      {
        table,
        key,
        accepted: result.accepted,
        quarantined: result.quarantined,
        errors: JSON.stringify(result.errors),
        at: toChDateTime64(new Date()),
        recovered: recovered ? 1 : 0,
      },
    ])
  }

  /**
   * Completes the keyed batches an unclean stop left in the journal (embedded store), as their retry
   * would: afresh, in part, or not at all when their record is there. Returns how many were pending; a
   * batch that fails stays in the journal for the next start (and its client's retry still completes it).
   */
  async recover(): Promise<number> {
    if (!this.journal) return 0
    const pending = await this.journal.pending()
    for (const { id, entry } of pending) {
      const batch = entry as PreparedBatch
      try {
        await this.oneAtATime(`${batch.table}\n${batch.key}`, async () => {
          if (await this.previousBatch(batch.table, batch.key)) await this.journal?.end(id)
          else await this.commit(batch, true)
        })
      } catch {
        // Left for the next start or the client's retry.
      }
    }
    return pending.length
  }

  /** Runs `fn` after every earlier call with the same name has settled. */
  private async oneAtATime<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const before = this.running.get(name) ?? Promise.resolve()
    const mine = before.then(fn, fn)
    const settled = mine.then(
      () => undefined,
      () => undefined,
    )
    this.running.set(name, settled)
    try {
      return await mine
    } finally {
      if (this.running.get(name) === settled) this.running.delete(name)
    }
  }

  private async previousBatch(table: IngestTable, key: string): Promise<(BatchResult & { recovered: boolean }) | null> {
    const [row] = await selectRows<{ accepted: number; quarantined: number; errors: string; recovered: number }>(
      this.client,
      `SELECT accepted, quarantined, errors, recovered FROM ${this.table('ingest_batches')} FINAL
       WHERE table = {table:String} AND key = {key:String} LIMIT 1`,
      { table, key },
    )
    if (!row) return null
    return {
      accepted: Number(row.accepted),
      quarantined: Number(row.quarantined),
      errors: JSON.parse(row.errors) as RowError[],
      recovered: Number(row.recovered) === 1,
    }
  }

  async quarantine(table: IngestTable, limit: number): Promise<QuarantinedRow[]> {
    const rows = await this.rows<{ row: string; reason: string; at_ms: number }>('quarantine', { limit }, { table })
    return rows.map((r) => ({ table, row: r.row, reason: r.reason, at: new Date(Number(r.at_ms)) }))
  }

  // ---- service data ----------------------------------------------------------------------------

  async writeServiceLog({ operations, ingests, errors }: ServiceLogBatch): Promise<void> {
    await Promise.all([
      insertRows(
        this.client,
        this.table('operation_log'),
        operations.map((o) => ({
          at: toChDateTime64(o.at),
          request_id: o.requestId,
          operation: o.operation,
          token: o.token,
          duration_ms: o.durationMs,
          rows_read: o.rowsRead,
          bytes_read: o.bytesRead,
          error_code: o.errorCode,
        })),
      ),
      insertRows(
        this.client,
        this.table('ingest_log'),
        ingests.map((i) => ({
          at: toChDateTime64(i.at),
          table: i.table,
          rows: i.rows,
          quarantined: i.quarantined,
          duration_ms: i.durationMs,
          token: i.token,
          deduplicated: i.deduplicated ? 1 : 0,
        })),
      ),
      insertRows(
        this.client,
        this.table('error_log'),
        errors.map((e) => ({ at: toChDateTime64(e.at), request_id: e.requestId, operation: e.operation, code: e.code, message: e.message })),
      ),
    ])
  }

  async setServiceLogTtl(days: number): Promise<string[]> {
    const ttl = `toDateTime(at) + toIntervalDay(${Math.trunc(days)})`
    const tables = await this.rows<{ name: string; engine_full: string }>('service_log_tables', { db: this.config.database })
    const onCluster = this.config.cluster ? ` ON CLUSTER ${this.config.cluster}` : ''
    const changed = tables.filter((t) => !t.engine_full.includes(`TTL ${ttl}`)).map((t) => t.name)
    for (const name of changed) await runCommand(this.client, `ALTER TABLE ${this.table(name)}${onCluster} MODIFY TTL ${ttl}`)
    return changed.sort()
  }

  async operationStats(from: Date, to: Date): Promise<OperationStat[]> {
    const rows = await this.rows<{ operation: string; calls: string; errors: string; p50_ms: number; p95_ms: number; rows_read: string }>(
      'operation_stats',
      { from: toChDateTime64(from), to: toChDateTime64(to) },
    )
    return rows.map((r) => ({
      operation: r.operation,
      calls: Number(r.calls),
      errors: Number(r.errors),
      p50Ms: Number(r.p50_ms),
      p95Ms: Number(r.p95_ms),
      rowsRead: Number(r.rows_read),
    }))
  }

  async ingestLog(limit: number): Promise<IngestLogEntry[]> {
    const rows = await this.rows<{
      table: IngestTable
      rows: number
      quarantined: number
      duration_ms: number
      token: string
      deduplicated: number
      at_ms: string
    }>('ingest_log', { limit })
    return rows.map((r) => ({
      at: new Date(Number(r.at_ms)),
      table: r.table,
      rows: Number(r.rows),
      quarantined: Number(r.quarantined),
      durationMs: Number(r.duration_ms),
      token: r.token,
      deduplicated: Number(r.deduplicated) === 1,
    }))
  }

  async errorLog(limit: number): Promise<ErrorLogEntry[]> {
    const rows = await this.rows<{ request_id: string; operation: string; code: string; message: string; at_ms: string }>('error_log', {
      limit,
    })
    return rows.map((r) => ({ at: new Date(Number(r.at_ms)), requestId: r.request_id, operation: r.operation, code: r.code, message: r.message }))
  }

  // ---- live stock ------------------------------------------------------------------------------

  async stockChangesSince(since: Date): Promise<Array<StockChange & { id: string; at: Date }>> {
    const rows = await this.rows<{ id: string; product: string; delta: number; at_us: number }>('stock_changes_since', {
      since: toChDateTime64(since),
    })
    return rows.map((r) => ({ id: r.id, product: r.product, delta: Number(r.delta), at: new Date(Number(r.at_us) / 1000) }))
  }
}

/**
 * The kind of work each Store method is: its queries' limits and queue priority. Typed over the whole
 * interface, so a new method must be classified.
 */
const WORK: Readonly<Record<Exclude<keyof Store, 'datasources' | 'sqlApi'>, WorkKind>> = {
  migrate: 'service',
  ping: 'health',
  isReady: 'health',
  close: 'service',
  insertToken: 'auth',
  findTokenByHash: 'auth',
  revokeToken: 'auth',
  tokenNameExists: 'auth',
  listTokens: 'auth',
  resetData: 'service',
  products: 'read',
  productsByIds: 'read',
  stock: 'read',
  recentSales: 'read',
  productGrid: 'read',
  productFilterOptions: 'read',
  ecommTrend: 'read',
  analyticsTotals: 'dashboard',
  analyticsBreakdown: 'dashboard',
  analyticsBreakdownCount: 'dashboard',
  analyticsTimeseries: 'dashboard',
  ingestEcommEvents: 'ingest',
  ingestWarehouseStock: 'ingest',
  upsertProducts: 'ingest',
  ingestAppEvents: 'ingest',
  quarantine: 'service',
  writeServiceLog: 'service',
  setServiceLogTtl: 'service',
  operationStats: 'service',
  ingestLog: 'service',
  errorLog: 'service',
  stockChangesSince: 'live',
  betweenWrites: 'live',
}

function toProduct(r: ProductRecord): Product {
  return { id: r.id, category: r.category, name: r.name, photo: r.photo, price: finite(r.price, 'price') }
}

/** How one datasource's rows are checked, encoded as values in `COLUMNS` order, and move stock. */
interface RowCodec<In, Valid> {
  check(row: In): Checked<Valid>
  encode(row: Valid): unknown[]
  /** Adds the row's stock change to `stock` (product → summed delta). */
  move?(row: Valid, stock: Map<string, number>): void
}

/** What a keyed batch's answer reports, recorded in `ingest_batches`. */
interface BatchResult {
  readonly accepted: number
  readonly quarantined: number
  readonly errors: readonly RowError[]
}

/** A keyed batch ready to store, as the journal keeps it: every value already encoded. */
interface PreparedBatch {
  readonly table: IngestTable
  readonly key: string
  readonly id: string
  readonly parts: readonly Slice[]
  readonly quarantine: { readonly id: string; readonly rows: readonly unknown[][] }
  readonly result: BatchResult
}

/** Datasources partitioned by time: their first encoded value is the timestamp text (`YYYY-MM-…`). */
const PARTITIONED: Readonly<Record<IngestTable, boolean>> = { ecomm_events: true, warehouse_stock: true, products: false, app_events: true }

const monthOf = (row: unknown[]): string => String(row[0]).slice(0, 7)

/** The app-event columns and fields, from the catalog (the 16 dimensions among them). */
const APP_EVENT_INSERT = insertColumns('app_events')

/** The columns of each datasource, in the order its codec encodes a row. */
const COLUMNS: Readonly<Record<IngestTable, readonly [string, ...string[]]>> = {
  ecomm_events: ['timestamp', 'event', 'product'],
  warehouse_stock: ['timestamp', 'product', 'store', 'amount'],
  products: ['id', 'category', 'name', 'photo', 'price', 'version'],
  app_events: APP_EVENT_INSERT.columns,
}

function encodeAppEvent(r: ValidAppEvent): unknown[] {
  const row = r as unknown as Record<string, unknown>
  return APP_EVENT_INSERT.fields.map((f) => (f === 'timestamp' ? toChDateTime64(r.timestamp) : row[f]))
}
