/**
 * The Store on ClickHouse: one facade over the areas in `area/` (tokens, ecommerce, analytics, ingest,
 * service log, stock change log), all on one Executor. It owns the connection and the admin calls
 * (migrate, ping, reset, close) and classifies every method as a kind of work.
 */
import type { ClickHouseClient } from '@clickhouse/client'
import { join } from 'node:path'
import type { StoreConfig, WorkloadConfig } from '../config.js'
import { AnalyticsRepository } from './area/analytics.js'
import { appEventCodec, ecommEventCodec, productCodec, warehouseStockCodec } from './area/codecs.js'
import { EcommerceRepository } from './area/ecommerce.js'
import { IngestRepository } from './area/ingest.js'
import { StoreQueries, Versions } from './area/queries.js'
import { ServiceLogRepository } from './area/service-log.js'
import { StockChangeLog } from './area/stock-changes.js'
import { TokenRepository } from './area/tokens.js'
import { createConnection } from './connection.js'
import { DatasourceRepository } from './datasources.js'
import { executorOf, type Executor, type QueryScope } from './executor.js'
import { SharedExclusiveGate } from './gate.js'
import { IngestJournal } from './journal.js'
import { applyDurability, migrate } from './migrate.js'
import { ProjectRepository } from './project.js'
import type { QueryListener } from './query-stats.js'
import { SqlRepository } from './sql-query.js'
import type { Store } from './store.js'
import { StockBalance, stockProducts } from './validate.js'
import { asWork, DEFAULT_WORKLOAD, Workload, type WorkKind } from './workload.js'
import { tableStates } from './table-state.js'

export class ClickHouseStore implements Store {
  readonly datasources: DatasourceRepository
  readonly sqlApi: SqlRepository
  /** The scheduler and limits every query of this store goes through. */
  readonly workload: Workload
  /** Every statement of this store runs through it (query ids, cancellation, statistics). */
  readonly executor: Executor

  private readonly q: StoreQueries
  private readonly versions = new Versions()
  private readonly tokens: TokenRepository
  private readonly ecommerce: EcommerceRepository
  private readonly analytics: AnalyticsRepository
  private readonly ingestion: IngestRepository
  private readonly serviceLog: ServiceLogRepository
  private readonly changes: StockChangeLog
  /** Keyed batches in flight (embedded store only; read by the crash tests). */
  private readonly journal: IngestJournal | undefined

  constructor(
    private readonly client: ClickHouseClient,
    private readonly config: Pick<StoreConfig, 'database' | 'cluster' | 'durability' | 'clusterMode'> & Partial<Pick<StoreConfig, 'url' | 'dataDir'>>,
    workload: WorkloadConfig = DEFAULT_WORKLOAD,
    /**
     * More connections to the same embedded store: `lane` for priority inserts and health checks, `readers`
     * for the main queue's slots beyond the first (statements with inlined values run side by side).
     */
    private readonly sessions: { readonly lane?: ClickHouseClient; readonly readers?: readonly ClickHouseClient[] } = {},
    onQuery?: QueryListener,
  ) {
    this.workload = new Workload(workload, config.url ? undefined : { main: client, ...sessions })
    this.executor = executorOf(client)
    this.executor.workload = this.workload
    this.executor.onQuery = onQuery
    this.executor.cancelsRunning = Boolean(config.url)
    this.executor.inlinesValues = !config.url
    this.q = new StoreQueries(this.executor, { database: config.database, cluster: config.cluster, clusterMode: config.clusterMode })
    this.datasources = new DatasourceRepository(client, config.database, config.cluster, config.clusterMode === 'sharded')
    this.sqlApi = new SqlRepository(client, config.database)
    // The journal lives next to the embedded store's data; a remote store has no local disk to trust.
    this.journal =
      !config.url && config.dataDir
        ? new IngestJournal(join(config.dataDir, 'sightline-journal', config.database), config.durability !== 'none')
        : undefined
    const writes = new SharedExclusiveGate()
    this.tokens = new TokenRepository(this.q, this.versions)
    this.ecommerce = new EcommerceRepository(this.q)
    this.analytics = new AnalyticsRepository(this.q)
    this.ingestion = new IngestRepository(this.q, writes, this.journal)
    this.serviceLog = new ServiceLogRepository(this.q)
    this.changes = new StockChangeLog(this.q, writes)
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
    if (config.url) return new ClickHouseStore(client, config, workload, {}, onQuery)
    // Embedded chDB: a session of its own runs ingest's inserts beside a running read, and one more
    // session per slot of the main queue beyond the first lets reads run side by side.
    const slots = (workload ?? DEFAULT_WORKLOAD).concurrency
    const readers = Array.from({ length: Math.max(0, slots - 1) }, () => createConnection(config))
    return new ClickHouseStore(client, config, workload, { lane: createConnection(config), readers }, onQuery)
  }

  /** perf: each table's parts fingerprint (table-state.ts), for the read cache's poll. */
  tableStates(databases: readonly string[]): Promise<Map<string, string>> {
    return tableStates(this.client, databases)
  }

  /** A loaded Tinybird project's database on this store's connection (`SIGHTLINE_PROJECT`), as durable as the store's. */
  project(database: string): ProjectRepository {
    return new ProjectRepository(this.client, database, this.config.durability)
  }

  forRequest<T>(scope: QueryScope, fn: () => T): T {
    return this.executor.within(scope, fn)
  }

  /**
   * Applies pending migrations, then the configured durability to every data table, then completes the
   * keyed batches an unclean stop left in the ingest journal.
   */
  async migrate(): Promise<{ applied: string[]; recovered: number }> {
    const report = await migrate(this.client, this.q.render)
    await applyDurability(this.client, this.q.render, this.config.durability)
    return { ...report, recovered: await this.ingestion.recover() }
  }

  /** Completes what the ingest journal holds (also part of `migrate`). */
  recover(): Promise<number> {
    return this.ingestion.recover()
  }

  async ping(): Promise<void> {
    await this.executor.select('SELECT 1')
  }

  async engineMemory(): Promise<ReadonlyMap<string, number>> {
    const rows = await this.executor.select<{ metric: string; value: string | number }>(
      "SELECT metric, value FROM system.metrics WHERE metric = 'MemoryTracking' OR metric LIKE '%CacheBytes' AND value > 0",
    )
    // MarkCacheBytes -> mark_cache; MemoryTracking -> tracked.
    const kind = (metric: string) =>
      metric === 'MemoryTracking' ? 'tracked' : metric.replace(/Bytes$/, '').replace(/(?<=[a-z])(?=[A-Z])/g, '_').toLowerCase()
    return new Map(rows.map((r) => [kind(r.metric), Number(r.value)]))
  }

  async close(): Promise<void> {
    await this.sessions.lane?.close()
    for (const reader of this.sessions.readers ?? []) await reader.close()
    await this.client.close()
  }

  async resetData(): Promise<string[]> {
    const rows = await this.q.rows<{ name: string }>('data_tables', { db: this.config.database })
    for (const { name } of rows) await this.executor.client.command({ query: `TRUNCATE TABLE IF EXISTS ${this.q.table(name)}${this.q.onCluster}` })
    return rows.map((r) => r.name)
  }

  // ---- tokens
  insertToken: Store['insertToken'] = (t) => this.tokens.insert(t)
  findTokenByHash: Store['findTokenByHash'] = (hash) => this.tokens.findByHash(hash)
  tokenNameExists: Store['tokenNameExists'] = (name) => this.tokens.nameExists(name)
  listTokens: Store['listTokens'] = () => this.tokens.list()
  revokeToken: Store['revokeToken'] = (name) => this.tokens.revoke(name)

  // ---- ecommerce reads
  products: Store['products'] = (category, limit, offset) => this.ecommerce.products(category, limit, offset)
  productsByIds: Store['productsByIds'] = (ids) => this.ecommerce.productsByIds(ids)
  stock: Store['stock'] = (ids) => this.ecommerce.stock(ids)
  recentSales: Store['recentSales'] = (ids) => this.ecommerce.recentSales(ids)
  productGrid: Store['productGrid'] = (q, lowStockThreshold) => this.ecommerce.productGrid(q, lowStockThreshold)
  productGridJson: Store['productGridJson'] = (q, lowStockThreshold, quote) => this.ecommerce.productGridJson(q, lowStockThreshold, quote)
  productGridRows: Store['productGridRows'] = (q, lowStockThreshold, fields) => this.ecommerce.productGridRows(q, lowStockThreshold, fields)
  productFilterOptions: Store['productFilterOptions'] = (category) => this.ecommerce.productFilterOptions(category)
  ecommTrend: Store['ecommTrend'] = (q) => this.ecommerce.ecommTrend(q)

  // ---- app analytics
  analyticsTotals: Store['analyticsTotals'] = (q) => this.analytics.totals(q)
  analyticsBreakdown: Store['analyticsBreakdown'] = (q) => this.analytics.breakdown(q)
  analyticsBreakdownCount: Store['analyticsBreakdownCount'] = (q) => this.analytics.breakdownCount(q)
  analyticsTimeseries: Store['analyticsTimeseries'] = (q) => this.analytics.timeseries(q)

  // ---- ingest
  ingestEcommEvents: Store['ingestEcommEvents'] = (rows, options = {}) =>
    this.ingestion.ingest('ecomm_events', rows, options, ecommEventCodec(new Date()))

  ingestWarehouseStock: Store['ingestWarehouseStock'] = async (rows, options = {}) => {
    const now = new Date()
    // Today's stock of the products touched, so an update that would overflow Int is quarantined.
    const balance = new StockBalance((await this.stock(stockProducts(rows))).map((s) => [s.product, s.available]))
    return this.ingestion.ingest('warehouse_stock', rows, options, warehouseStockCodec(now, balance))
  }

  upsertProducts: Store['upsertProducts'] = (rows, options = {}) =>
    this.ingestion.ingest('products', rows, options, productCodec(() => this.versions.next()))

  ingestAppEvents: Store['ingestAppEvents'] = (rows, options = {}) =>
    this.ingestion.ingest('app_events', rows, options, appEventCodec(new Date(), options.workspaceId))

  ingestRecords: Store['ingestRecords'] = (table, source, options = {}) =>
    this.ingestion.ingestRecords(table, source, options, {
      version: () => this.versions.next(),
      stock: async (products) => (await this.stock(products)).map((s) => [s.product, s.available] as const),
    })

  quarantine: Store['quarantine'] = (table, limit) => this.ingestion.quarantine(table, limit)

  // ---- service data
  writeServiceLog: Store['writeServiceLog'] = (batch) => this.serviceLog.write(batch)
  setServiceLogTtl: Store['setServiceLogTtl'] = (days) => this.serviceLog.setTtl(days)
  operationStats: Store['operationStats'] = (from, to) => this.serviceLog.operationStats(from, to)
  ingestLog: Store['ingestLog'] = (limit) => this.serviceLog.ingestLog(limit)
  errorLog: Store['errorLog'] = (limit) => this.serviceLog.errorLog(limit)

  // ---- live stock
  stockChangesSince: Store['stockChangesSince'] = (since) => this.changes.since(since)
  betweenWrites: Store['betweenWrites'] = (read) => this.changes.betweenWrites(read)
}

/**
 * The kind of work each Store method is: its queries' limits and queue priority. Typed over the whole
 * interface, so a new method must be classified.
 */
const WORK: Readonly<Record<Exclude<keyof Store, 'datasources' | 'sqlApi' | 'forRequest'>, WorkKind>> = {
  migrate: 'service',
  ping: 'health',
  engineMemory: 'health',
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
  productGridJson: 'read',
  productGridRows: 'read',
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
  ingestRecords: 'ingest',
  quarantine: 'service',
  writeServiceLog: 'service',
  setServiceLogTtl: 'service',
  operationStats: 'service',
  ingestLog: 'service',
  errorLog: 'service',
  stockChangesSince: 'live',
  betweenWrites: 'live',
}
